"""The trained model behind ``animate`` and ``describe``, and ``load_model``.

A model folder (its layout is in :mod:`tdmm_lm.lm.storage`) is read into a
:class:`TdmmModel`, which animates prompts and describes motion, one at a time or in batches.

>>> from tdmm_lm import load_model
>>> m = load_model("runs/lm")                                         # doctest: +SKIP
>>> seq = m.animate("a person smiles broadly and nods twice", seconds=4, seed=0)
>>> m.describe(seq)                                                   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tdmm_lm.errors import InvalidInputError, TdmmError
from tdmm_lm.lm.captioning import NOVELTY_WARNING, WINDOW_JOIN, CaptioningMixin
from tdmm_lm.lm.inference import (
    check_prompt,
    inference_threads,
    left_pad,
    prompt_states,
    resolve_sampling,
)
from tdmm_lm.lm.storage import ModelConfig
from tdmm_lm.lm.tasks import TaskBuilder

if TYPE_CHECKING:
    from tdmm_lm.face import FaceSequence

__all__ = [
    "NOVELTY_WARNING",
    "RELEASE_DIR",
    "WINDOW_JOIN",
    "ModelConfig",
    "TdmmModel",
    "load_model",
]

#: Where the shipped release model lives inside the package.
RELEASE_DIR = Path(__file__).resolve().parent.parent / "assets" / "release"


class TdmmModel(CaptioningMixin):
    """One language model for Motion2Language and Language2Motion, with its tokenizers.

    Args:
        lm: A :class:`~tdmm_lm.lm.model.TdmmGPT` or :class:`~tdmm_lm.lm.hf_base.HFBaseLM`.
        vocab: Its vocabulary (``Vocab`` or ``HFVocab``).
        tokenizer: The motion tokenizer (``MotionTokenizer``).
        config: The model folder's config.
    """

    def __init__(self, lm: torch.nn.Module, vocab: Any, tokenizer: Any, config: ModelConfig):
        self.lm = lm.eval()
        self.vocab = vocab
        self.tokenizer = tokenizer.eval() if hasattr(tokenizer, "eval") else tokenizer
        self.config = config
        from tdmm_lm.lm.text import load_text_encoder

        self.text_encoder = load_text_encoder(config.text_encoder)
        residual_codes = int(getattr(tokenizer, "residual_codebook_size", 0))
        frame_inputs = getattr(getattr(lm, "config", None), "frame_dim", 0) > 0
        self.builder = TaskBuilder.for_encoder(
            vocab, self.text_encoder, residual_codes, frame_inputs=frame_inputs
        )
        self._motion_allowed = torch.from_numpy(vocab.motion_mask())
        text_allowed = vocab.text_mask()
        text_allowed[vocab.eos] = True
        self._text_allowed = torch.from_numpy(text_allowed)

    # -- properties ---------------------------------------------------------------------------

    @property
    def fps(self) -> float:
        """Frame rate of the motion the model reads and writes."""
        return float(self.tokenizer.fps)

    @property
    def max_seconds(self) -> float:
        """Longest clip ``animate`` makes (the longest the model was trained on)."""
        return self.config.max_motion_tokens * self.tokenizer.frames_per_token / self.fps

    # -- Language2Motion ----------------------------------------------------------------------

    def animate(
        self,
        prompt: str,
        seconds: float = 4.0,
        seed: int = 0,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        guidance: float | None = None,
        change_temperature: float | None = None,
    ) -> FaceSequence:
        """Generate facial motion for a prompt.

        Args:
            prompt: What the face should do, in words.
            seconds: Duration; the clip has exactly ``round(seconds * fps)`` frames.
            seed: Seed of the sampling; the same seed gives the same motion.
            temperature: Softmax temperature (0 = greedy); the model's default if None.
            top_k: Sample among the k most likely tokens (0 = all); default if None.
            top_p: Nucleus sampling mass (1 = off); default if None.
            guidance: Classifier-free guidance scale (1 = off): how much more the prompt
                weighs than in plain sampling; default if None.
            change_temperature: Temperature of the choice among the tokens that change the
                motion, relative to ``temperature`` (1 = plain sampling; below 1 a nod or a
                shake swings further instead of drifting); default if None.

        Returns:
            A ``FaceSequence`` in the ``arkit`` space at the tokenizer's frame rate.
        """
        return self.animate_batch(
            [prompt], seconds, seed, temperature, top_k, top_p, guidance, change_temperature
        )[0]

    def animate_batch(
        self,
        prompts: list[str],
        seconds: float | list[float] = 4.0,
        seed: int = 0,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        guidance: float | None = None,
        change_temperature: float | None = None,
    ) -> list[FaceSequence]:
        """Generate motion for many prompts in one decoding pass (see :meth:`animate`).

        A batch is decoded together, its prompts padded to one length, which is many times
        faster than one prompt at a time. The result is deterministic given ``seed`` and
        the batch; a prompt's motion in a batch differs from its :meth:`animate` with the
        same seed (the random draws are shared out differently), not in distribution.

        Args:
            prompts: What each face should do.
            seconds: One duration for all, or one per prompt.
            seed: Seed of the sampling.
            temperature: See :meth:`animate`.
            top_k: See :meth:`animate`.
            top_p: See :meth:`animate`.
            guidance: See :meth:`animate`.
            change_temperature: See :meth:`animate`.

        Returns:
            One ``FaceSequence`` per prompt, in order.
        """
        from tdmm_lm.face import ARKIT, FaceSequence

        durations = [seconds] * len(prompts) if isinstance(seconds, (int, float)) else seconds
        if len(durations) != len(prompts):
            raise InvalidInputError(f"{len(prompts)} prompts but {len(durations)} durations")
        for prompt in prompts:
            check_prompt(prompt)
        for value in durations:
            if not (isinstance(value, (int, float)) and 0 < value <= self.max_seconds):
                raise InvalidInputError(
                    f"--seconds must be in (0, {self.max_seconds:g}] for this model, got {value}"
                )
        sampling = resolve_sampling(
            self.config, temperature, top_k, top_p, guidance, change_temperature
        )
        if not prompts:
            return []
        if self.config.backend != "gpt" and len(prompts) > 1:  # base models: one at a time
            return [
                self.animate(p, d, seed, **sampling)
                for p, d in zip(prompts, durations, strict=True)
            ]
        guided = sampling["guidance"] != 1.0 and self.config.backend == "gpt"
        r = self.tokenizer.frames_per_token
        frames = [max(1, round(d * self.fps)) for d in durations]
        counts = [-(-f // r) for f in frames]  # motion tokens of each prompt
        drops = (False, True) if guided else (False,)
        jobs = list(zip(prompts, counts, durations, strict=True))
        sources = [
            self.builder.l2m_source(p, n, d, drop=drop) for drop in drops for p, n, d in jobs
        ]
        longest = max(counts)
        # Each row counts down from its own length; tokens past its end are dropped.
        new_countdown = torch.stack([torch.arange(n - 1, n - 1 - longest, -1) for n in counts])
        new_countdown = new_countdown.clamp_min(-1).repeat(len(drops), 1)  # (rows, longest)
        generator = torch.Generator().manual_seed(int(seed))
        with inference_threads():
            idx, countdown, valid = left_pad(sources, self.vocab.pad)
            states, mask = prompt_states(
                self.text_encoder, [src.text_ids for src in sources], drops
            )
            out = self.lm.generate(
                idx,
                longest,
                countdown=countdown,
                new_countdown=new_countdown,
                text_states=states,
                text_mask=mask,
                allowed=self._motion_allowed,
                temperature=sampling["temperature"],
                top_k=sampling["top_k"] or None,
                top_p=sampling["top_p"],
                generator=generator,
                guidance=sampling["guidance"] if guided else None,
                draft=self.config.draft,
                valid=valid,
                change_temperature=sampling["change_temperature"],
            )
            motion = out[:, idx.shape[1] :].numpy()  # (rows, longest) or (rows, longest, 2)
            result = []
            for i, (prompt, n, f) in enumerate(zip(prompts, counts, frames, strict=True)):
                params = self.tokenizer.decode(self._motion_codes(motion[i, :n]))[:f]
                params = np.clip(params, ARKIT.low, ARKIT.high).astype(np.float32)
                meta = {"prompt": prompt, "seed": int(seed), "source": "tdmm-lm animate"}
                result.append(FaceSequence(params, space="arkit", fps=self.fps, meta=meta))
        return result

    def _motion_codes(self, generated: np.ndarray) -> np.ndarray:
        """The tokenizer codes of generated motion: (N,) ids, or (N, 2) (id, residual code)."""
        if generated.ndim == 1:
            return self.vocab.motion_codes(generated)
        return np.stack([self.vocab.motion_codes(generated[:, 0]), generated[:, 1]], axis=1)

    def lm_block_size(self) -> int:
        """Longest sequence the language model takes."""
        if self.config.backend == "gpt":
            return int(self.lm.config.block_size)
        return int(getattr(self.lm.hf.config, "n_positions", 0) or 1024)

    # -- measuring ----------------------------------------------------------------------------

    def motion_token_accuracy(self, prompts: list[str], sequences: list[Any]) -> float:
        """Teacher-forced next-motion-token accuracy (``Tok``) of Language2Motion.

        Args:
            prompts: One prompt per sequence.
            sequences: ``FaceSequence`` objects or (T, 61) arrays at the model's frame rate.

        Returns:
            The share of motion tokens predicted right, given the prompt and the true past.
        """
        from tdmm_lm.lm.objective import evaluate

        params = [getattr(s, "params", s) for s in sequences]
        codes = self.tokenizer.encode_batch([np.asarray(p, np.float32) for p in params])
        examples = [
            self.builder.l2m(p, np.asarray(c), len(x) / self.fps)
            for p, c, x in zip(prompts, codes, params, strict=True)
        ]
        return evaluate(self.lm, examples, self.vocab, self.text_encoder)["tok_acc"]

    # -- files --------------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write the model folder (other files already in it, e.g. logs, are kept)."""
        from tdmm_lm.lm.storage import save_model

        return save_model(self, directory)

    @classmethod
    def load(cls, directory: str | Path) -> TdmmModel:
        """Read a model folder written by :meth:`save` (the model is in eval mode)."""
        from tdmm_lm.lm.storage import read_model

        return cls(*read_model(directory))


def load_model(path: str | Path | None = None) -> TdmmModel:
    """Load a trained model folder, or the release model shipped with the package.

    Args:
        path: A folder written by ``tdmm train``; None loads the shipped release model.

    Raises:
        TdmmError: No path was given and no release model is shipped in this installation.
        InvalidInputError: The folder is missing or not a tdmm-lm model.
    """
    if path is None:
        if not (RELEASE_DIR / "config.json").is_file():
            raise TdmmError(
                f"no release model is shipped in this installation (none in {RELEASE_DIR}); "
                "train one with `tdmm train --recipe release --corpus CORPUS --tokenizer TOKDIR "
                "-o MODELDIR` and pass --model MODELDIR (or load_model(MODELDIR))"
            )
        path = RELEASE_DIR
    return TdmmModel.load(path)
