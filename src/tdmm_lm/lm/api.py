"""The trained model behind ``animate`` and ``describe``, and ``load_model``.

A model folder is one artefact (:mod:`tdmm_lm.artifacts`) plus what it needs to run::

    MODELDIR/config.json          {"type": "tdmm_lm", "config": ModelConfig}
    MODELDIR/model.safetensors    the language model's weights
    MODELDIR/vocab.json           the vocabulary (own GPT) — or hf_tokenizer/ (base model)
    MODELDIR/tokenizer/           the motion tokenizer (its own artefact)
    MODELDIR/train_config.json    the training run's resolved config (run folders only)
    MODELDIR/train_log.jsonl      its log; MODELDIR/checkpoints/ its last checkpoint

>>> from tdmm_lm import load_model
>>> m = load_model("runs/lm")                                         # doctest: +SKIP
>>> seq = m.animate("a person smiles broadly and nods twice", seconds=4, seed=0)
>>> m.describe(seq)                                                   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tdmm_lm.errors import InvalidInputError, TdmmError
from tdmm_lm.lm.tasks import TaskBuilder

if TYPE_CHECKING:
    from tdmm_lm.face import FaceSequence

__all__ = ["RELEASE_DIR", "ModelConfig", "TdmmModel", "load_model"]

TYPE_TAG = "tdmm_lm"
#: Where the shipped release model lives inside the package.
RELEASE_DIR = Path(__file__).resolve().parent.parent / "assets" / "release"
#: Longest caption ``describe`` writes, in tokens.
MAX_CAPTION_TOKENS = 96
#: ``describe`` never repeats an 8-gram of its own caption (greedy decoding can loop).
NO_REPEAT_NGRAM = 8
#: Joins the captions of consecutive windows of a sequence longer than the model's clips.
WINDOW_JOIN = " Then: "
#: Longest prompt ``animate`` accepts, in characters.
MAX_PROMPT_CHARS = 1000
#: Threads of inference. Token-by-token decoding is a chain of tiny ops: on a busy 2-core
#: machine a second thread costs more in synchronisation than it gains (measured: 4 s
#: instead of 0.1 s for a 4 s clip), and one thread is as fast even on an idle one.
INFERENCE_THREADS = 1


@contextmanager
def _inference_threads() -> Iterator[None]:
    """Run torch on :data:`INFERENCE_THREADS` threads, restoring the setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(INFERENCE_THREADS)
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.set_num_threads(before)


@dataclass
class ModelConfig:
    """What a model folder holds, beside the weights.

    Attributes:
        backend: ``"gpt"`` (own model), ``"hf_causal"`` or ``"hf_seq2seq"`` (base model).
        text_encoder: ``"minilm"``, ``"minilm_sentence"`` or ``"none"``
            (:func:`~tdmm_lm.lm.text.load_text_encoder`).
        gpt: The :class:`~tdmm_lm.lm.model.GPTConfig` as a dict (own model).
        hf_config: The Hugging Face config as a dict (base model).
        aliases: Weight names stored once because they share memory (tied embeddings).
        max_motion_tokens: Longest motion run seen in training, in tokens.
        temperature: Default sampling temperature of ``animate``.
        top_k: Default top-k of ``animate`` (0 = off).
        top_p: Default nucleus mass of ``animate`` (1 = off).
        guidance: Default classifier-free guidance scale of ``animate`` (1 = off; the model
            must have been trained with prompt dropout).
        draft: Repeat drafts per pass when ``animate`` decodes (0 = one token a pass); the
            motion's distribution is the same, only faster (:mod:`tdmm_lm.lm.generate`).
    """

    backend: str = "gpt"
    text_encoder: str = "none"
    gpt: dict[str, Any] | None = None
    hf_config: dict[str, Any] | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    max_motion_tokens: int = 200
    # Plain sampling by default: motion repeats its last token with p ~ 0.9 at most steps,
    # so a nucleus (top_p < 1) or a cooler temperature cuts off the transitions that carry
    # the expression, and the face freezes (measured: smile and nod amplitudes fall 2-10x).
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    guidance: float = 1.0
    draft: int = 4


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
        self.builder = TaskBuilder.for_encoder(vocab, self.text_encoder)
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

        Returns:
            A ``FaceSequence`` in the ``arkit`` space at the tokenizer's frame rate.
        """
        from tdmm_lm.face import ARKIT, FaceSequence

        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidInputError("the prompt is empty; say what the face should do")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise InvalidInputError(
                f"the prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}"
            )
        if not (isinstance(seconds, (int, float)) and 0 < seconds <= self.max_seconds):
            raise InvalidInputError(
                f"--seconds must be in (0, {self.max_seconds:g}] for this model, got {seconds}"
            )
        cfg = self.config
        temperature = cfg.temperature if temperature is None else temperature
        top_k = cfg.top_k if top_k is None else top_k
        top_p = cfg.top_p if top_p is None else top_p
        guidance = cfg.guidance if guidance is None else guidance
        if temperature < 0 or top_k < 0 or not 0 < top_p <= 1 or guidance < 0:
            raise InvalidInputError(
                f"need temperature >= 0, top_k >= 0, top_p in (0, 1] and guidance >= 0, got "
                f"{temperature}, {top_k}, {top_p}, {guidance}"
            )
        guided = guidance != 1.0 and cfg.backend == "gpt"
        n_frames = max(1, round(seconds * self.fps))
        n_tokens = -(-n_frames // self.tokenizer.frames_per_token)  # ceil
        rows = [self.builder.l2m_source(prompt, n_tokens, seconds, drop=drop)
                for drop in ((False, True) if guided else (False,))]  # fmt: skip
        source = rows[0]
        generator = torch.Generator().manual_seed(int(seed))
        with _inference_threads():
            states, mask = self._text_states(source.text_ids, len(rows))
            out = self.lm.generate(
                torch.from_numpy(np.stack([r.tokens for r in rows])),
                n_tokens,
                countdown=torch.from_numpy(np.stack([r.countdown for r in rows])),
                new_countdown=torch.arange(n_tokens - 1, -1, -1),
                text_states=states,
                text_mask=mask,
                allowed=self._motion_allowed,
                temperature=temperature,
                top_k=top_k or None,
                top_p=top_p,
                generator=generator,
                guidance=guidance if guided else None,
                draft=cfg.draft,
            )
            codes = self.vocab.motion_codes(out[0, len(source.tokens) :].numpy())
            params = self.tokenizer.decode(codes)[:n_frames]
        params = np.clip(params, ARKIT.low, ARKIT.high).astype(np.float32)
        meta = {"prompt": prompt, "seed": int(seed), "source": "tdmm-lm animate"}
        return FaceSequence(params, space="arkit", fps=self.fps, meta=meta)

    def _text_states(
        self, text_ids: tuple[int, ...], rows: int = 1
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Encoder states of a prompt: (rows, P, dim), rows after the first zeroed (hidden)."""
        if self.text_encoder is None or not text_ids:
            return None, None
        ids = torch.tensor([text_ids], dtype=torch.long)
        states, mask = self.text_encoder.states_for(ids, torch.ones_like(ids, dtype=torch.bool))
        hidden = torch.zeros(rows - 1, *states.shape[1:])  # (rows - 1, P, dim)
        return torch.cat([states, hidden]), mask.expand(rows, -1)

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
            by window, joined by "Then:".
        """
        from tdmm_lm.face import FaceSequence

        if not isinstance(sequence, FaceSequence):
            sequence = FaceSequence(np.asarray(sequence, dtype=np.float32), fps=self.fps)
        if sequence.space != "arkit":
            raise InvalidInputError(f"describe reads arkit sequences, got {sequence.space!r}")
        if sequence.n_frames == 0:
            raise InvalidInputError("the sequence has no frames")
        if sequence.fps != self.fps:
            sequence = sequence.resample(self.fps)
        with _inference_threads():
            codes = np.asarray(self.tokenizer.encode(sequence.params), dtype=np.int64)
            window = self.config.max_motion_tokens
            chunks = [codes[i : i + window] for i in range(0, len(codes), window)]
            if len(chunks) > 1 and len(chunks[-1]) < window // 4:  # a short tail: fold it in
                chunks[-2] = np.concatenate(chunks[-2:])[-window:]
                chunks.pop()
            generator = torch.Generator().manual_seed(int(seed))
            texts = [self._caption(chunk, temperature, generator) for chunk in chunks]
        return WINDOW_JOIN.join(texts)

    def _caption(self, codes: np.ndarray, temperature: float, generator: torch.Generator) -> str:
        source = self.builder.m2l_source(codes)
        room = self.lm_block_size() - len(source.tokens)
        out = self.lm.generate(
            torch.from_numpy(source.tokens)[None],
            min(MAX_CAPTION_TOKENS, room),
            countdown=torch.from_numpy(source.countdown)[None],
            allowed=self._text_allowed,
            eos_id=self.vocab.eos,
            temperature=temperature,
            generator=generator,
            no_repeat_ngram=NO_REPEAT_NGRAM if self.config.backend == "gpt" else 0,
        )
        return self.vocab.decode_text(out[0, len(source.tokens) :].tolist()).strip()

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
        from tdmm_lm.lm.train import evaluate

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
        from tdmm_lm.artifacts import save_artifact
        from tdmm_lm.lm.checkpoint import split_shared

        target = Path(directory)
        staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        weights, aliases = split_shared(self.lm.state_dict())
        config = dataclasses.replace(self.config, aliases=aliases)
        if config.backend != "gpt":  # as it is now: merging LoRA may have untied embeddings
            config.hf_config = self.lm.hf.config.to_dict()
        extra = {"vocab.json": self.vocab.to_json()} if self.config.backend == "gpt" else {}
        save_artifact(staging, type_tag=TYPE_TAG, config=config, weights=weights, extra_files=extra)
        try:
            self.tokenizer.save_pretrained(staging / "tokenizer")
            if self.config.backend != "gpt":
                self.vocab.tokenizer.save_pretrained(str(staging / "hf_tokenizer"))
            target.mkdir(parents=True, exist_ok=True)
            # config.json last: a folder with a config.json is a complete model.
            entries = sorted(staging.iterdir(), key=lambda p: p.name == "config.json")
            for entry in entries:
                dest = target / entry.name
                if dest.is_dir():
                    shutil.rmtree(dest)
                os.replace(entry, dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    @classmethod
    def load(cls, directory: str | Path) -> TdmmModel:
        """Read a model folder written by :meth:`save` (the model is in eval mode)."""
        from tdmm_lm.artifacts import load_artifact
        from tdmm_lm.tokenizer import MotionTokenizer

        path = Path(directory)
        if not path.is_dir():
            raise InvalidInputError(f"model folder {path} does not exist")
        config_dict, weights, _ = load_artifact(path, TYPE_TAG)
        config = ModelConfig(**config_dict)
        for alias, name in config.aliases.items():
            weights[alias] = weights[name]
        tokenizer = MotionTokenizer.from_pretrained(path / "tokenizer")
        lm, vocab = _build_lm(path, config, tokenizer.codebook_size)
        lm.load_state_dict(weights)
        return cls(lm, vocab, tokenizer, config)


def _build_lm(path: Path, config: ModelConfig, codebook_size: int) -> tuple[Any, Any]:
    """An untrained language model and vocabulary shaped as ``config`` says."""
    if config.backend == "gpt":
        from tdmm_lm.lm.model import GPTConfig, TdmmGPT
        from tdmm_lm.lm.vocab import Vocab

        vocab = Vocab.from_json((path / "vocab.json").read_text())
        return TdmmGPT(GPTConfig(**(config.gpt or {}))), vocab
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    from tdmm_lm.lm.hf_base import HFBaseLM, HFVocab

    hf_dict = dict(config.hf_config or {})
    hf_config = AutoConfig.for_model(hf_dict.pop("model_type"), **hf_dict)
    seq2seq = config.backend == "hf_seq2seq"
    auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
    tokenizer = AutoTokenizer.from_pretrained(path / "hf_tokenizer", local_files_only=True)
    vocab = HFVocab(tokenizer, codebook_size)
    return HFBaseLM(auto.from_config(hf_config), seq2seq, vocab.pad), vocab


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
