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
from tdmm_lm.lm.inference import (
    check_prompt,
    inference_threads,
    left_pad,
    left_pad_frames,
    left_pad_residual,
    prompt_states,
    resolve_sampling,
)
from tdmm_lm.lm.storage import ModelConfig
from tdmm_lm.lm.summary import token_frames
from tdmm_lm.lm.tasks import TaskBuilder

if TYPE_CHECKING:
    from tdmm_lm.face import FaceSequence

__all__ = ["NOVELTY_WARNING", "RELEASE_DIR", "ModelConfig", "TdmmModel", "load_model"]

#: Where the shipped release model lives inside the package.
RELEASE_DIR = Path(__file__).resolve().parent.parent / "assets" / "release"
#: Longest caption ``describe`` writes, in tokens.
MAX_CAPTION_TOKENS = 96
#: A caption is never empty: the end may not come before this many tokens (release 7 put it
#: first for 2 of 320 test clips).
MIN_CAPTION_TOKENS = 1
#: ``describe`` never repeats an 8-gram of its own caption (greedy decoding can loop).
NO_REPEAT_NGRAM = 8
#: Joins the captions of consecutive windows of a sequence longer than the model's clips.
WINDOW_JOIN = " Then: "
#: Above this :meth:`TdmmModel.novelty` ``tdmm describe`` warns, and ``describe`` reads the
#: motion as its tokens reconstruct it. On the release tokenizer (two codebooks), 99 % of
#: test and validation clips score at most 2.5 and the three tracked real test videos 5.5-8.3.
NOVELTY_WARNING = 3.5


class TdmmModel:
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

    # -- Motion2Language ----------------------------------------------------------------------

    def describe(
        self, sequence: FaceSequence | np.ndarray, temperature: float = 0.0, seed: int = 0
    ) -> str:
        """Describe a motion's content, intensity and dynamics in words.

        Args:
            sequence: A ``FaceSequence`` in the ``arkit`` space (any frame rate), or a
                (T, 61) float array at the model's frame rate.
            temperature: 0 (default) is greedy and deterministic; above 0 samples.
            seed: Seed of the sampling when ``temperature > 0``.

        Returns:
            The description. Sequences longer than the model's clips are described window
            by window, joined by "Then:". Each channel is first held to the range it spans
            in the training motion (values beyond it, e.g. a tracked gaze swinging further
            than any training clip's, are clipped to it). Motion far from the training
            motion (:meth:`novelty` above :data:`NOVELTY_WARNING`) is read as its tokens
            reconstruct it.
        """
        return self.describe_batch([sequence], temperature, seed)[0]

    def describe_batch(
        self,
        sequences: list[FaceSequence | np.ndarray],
        temperature: float = 0.0,
        seed: int = 0,
    ) -> list[str]:
        """Describe many motions in one decoding pass (see :meth:`describe`).

        Greedy captions (the default) are the ones :meth:`describe` writes, up to float
        rounding in the padded batch.

        Returns:
            One description per sequence, in order.
        """
        from tdmm_lm.face import FaceSequence

        windows: list[tuple[np.ndarray, np.ndarray]] = []  # (codes, params) of every window
        owners: list[int] = []
        for k, sequence in enumerate(sequences):
            if not isinstance(sequence, FaceSequence):
                sequence = FaceSequence(np.asarray(sequence, dtype=np.float32), fps=self.fps)
            if sequence.space != "arkit":
                raise InvalidInputError(f"describe reads arkit sequences, got {sequence.space!r}")
            if sequence.n_frames == 0:
                raise InvalidInputError("the sequence has no frames")
            if sequence.fps != self.fps:
                sequence = sequence.resample(self.fps)
            # What the model reads is held to the range of its training motion (see
            # MotionTokenizer.within_seen_range); novelty() still measures the raw input.
            params = self.tokenizer.within_seen_range(sequence.params)
            with inference_threads():
                codes = np.asarray(self.tokenizer.encode(params), dtype=np.int64)
                if self.tokenizer.novelty(sequence.params) > NOVELTY_WARNING:
                    params = self._as_tokens_hold_it(codes, len(params))
            r = self.tokenizer.frames_per_token
            chunks = [(codes[a:b], params[a * r : b * r]) for a, b in self._windows(len(codes))]
            windows.extend(chunks)
            owners.extend([k] * len(chunks))
        if not windows:
            return []
        generator = torch.Generator().manual_seed(int(seed))
        with inference_threads():
            if self.config.backend == "gpt":
                texts = self._captions(windows, temperature, generator)
            else:  # base models: one at a time (no padded batches)
                texts = [self._captions([w], temperature, generator)[0] for w in windows]
        joined: list[list[str]] = [[] for _ in sequences]
        for k, text in zip(owners, texts, strict=True):
            joined[k].append(text)
        return [WINDOW_JOIN.join(parts) for parts in joined]

    def _as_tokens_hold_it(self, codes: np.ndarray, n_frames: int) -> np.ndarray:
        """The (n_frames, 61) motion the tokenizer reconstructs from ``codes``.

        Besides the tokens, the model reads each frame's parameters and a summary of them,
        and it learned both on procedural motion. Far from that motion (a tracked real face)
        they mislead it: on the test video d0, a grin whose fit has a wide upper lip and no
        cheek raise was described as "elated, then horrified" from its parameters, and as
        "intense joy" from their reconstruction, which the motion classifiers agree with.
        On corpus clips the reconstruction costs accuracy (emotion 0.91 -> 0.74), so it is
        read only above :data:`NOVELTY_WARNING`, which 3245 of the 3254 clips of the release
        corpus's held-out splits (validation, test and its two unseen variants) stay under.
        """
        return self.tokenizer.within_seen_range(self.tokenizer.decode(codes)[:n_frames])

    def novelty(self, sequence: FaceSequence | np.ndarray) -> float:
        """How unlike the training motion ``sequence`` is, as the motion tokenizer sees it.

        About 1 for motion like the corpus; above :data:`NOVELTY_WARNING` the tokens may not
        hold the motion's expressions, and a description of it is less to be trusted (see
        ``MotionTokenizer.novelty``).
        """
        from tdmm_lm.face import FaceSequence

        if not isinstance(sequence, FaceSequence):
            sequence = FaceSequence(np.asarray(sequence, dtype=np.float32), fps=self.fps)
        if sequence.space != "arkit":
            raise InvalidInputError(f"novelty reads arkit sequences, got {sequence.space!r}")
        if sequence.fps != self.fps:
            sequence = sequence.resample(self.fps)
        with inference_threads():
            return float(self.tokenizer.novelty(sequence.params))

    def _windows(self, n_tokens: int) -> list[tuple[int, int]]:
        """Token ranges cutting a long sequence into windows the model was trained on."""
        window = self.config.max_motion_tokens
        ranges = [(i, min(i + window, n_tokens)) for i in range(0, n_tokens, window)]
        if len(ranges) > 1 and ranges[-1][1] - ranges[-1][0] < window // 4:
            ranges.pop()  # a short tail is folded into the last full window
            ranges[-1] = (n_tokens - window, n_tokens)
        return ranges

    def _captions(
        self,
        windows: list[tuple[np.ndarray, np.ndarray]],
        temperature: float,
        generator: torch.Generator,
    ) -> list[str]:
        """One caption per window (its motion codes and parameters), decoded together."""
        r = self.tokenizer.frames_per_token
        sources = [
            self.builder.m2l_source(
                codes,
                frames=token_frames(params, r, len(codes)) if self.builder.frame_inputs else None,
            )
            for codes, params in windows
        ]
        idx, countdown, valid = left_pad(sources, self.vocab.pad)
        room = self.lm_block_size() - idx.shape[1]
        extra: dict[str, torch.Tensor] = {}
        residual = left_pad_residual(sources)
        if residual is not None:  # code pairs: each frame's residual code
            extra["idx2"] = residual
        if self.builder.frame_inputs:  # each motion token's own parameters
            extra["frames"] = left_pad_frames(sources)
        gpt = getattr(self.lm, "config", None)
        if getattr(gpt, "summary_dim", 0):  # what <sep> reads
            from tdmm_lm.lm.summary import motion_summaries

            codes, params = zip(*windows, strict=True)
            stats = motion_summaries(gpt.summary_source, self.tokenizer, codes, params)
            extra["summary"] = torch.from_numpy(stats)
        out = self.lm.generate(
            idx,
            min(MAX_CAPTION_TOKENS, room),
            countdown=countdown,
            allowed=self._text_allowed,
            eos_id=self.vocab.eos,
            min_new_tokens=MIN_CAPTION_TOKENS,
            temperature=temperature,
            generator=generator,
            no_repeat_ngram=NO_REPEAT_NGRAM if self.config.backend == "gpt" else 0,
            valid=valid,
            **extra,
        )
        if out.ndim == 3:  # code pairs: the captions are the ids
            out = out[..., 0]
        texts = []
        for row in out[:, idx.shape[1] :].tolist():
            if self.vocab.eos in row:
                row = row[: row.index(self.vocab.eos) + 1]
            texts.append(self.vocab.decode_text(row).strip())
        return texts

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
