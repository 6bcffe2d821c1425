"""The two tasks as instruction templates over the one vocabulary.

Every training example is a source (what the model is given) and a target (what it must
produce); the loss is taken on the target only. Each direction has several instruction
phrasings, drawn at random in training, so the model does not hinge on one wording::

    Language2Motion  <bos> INSTRUCTION(prompt) <l2m> <len_S> | <m_..> × N <eos>
    Motion2Language  <bos> INSTRUCTION <m2l> <m_..> × N <sep> | caption <eos>

In Language2Motion the prompt is written either as BPE subwords or, with a sentence
encoder, as one ``<txt>`` slot per encoder token (the model fills the slots with projected
encoder states). The countdown of every motion position (how many motion tokens are still to
come after it) is stored with the example; the position just before the first motion token
carries the full count N.

With a two-level tokenizer a frame's codes are a pair: the coarse code is the ``<m_..>`` id
and the residual code is stored beside it (``Example.codes2``), one position per frame.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from tdmm_lm.lm.model import COUNTDOWN_NONE
from tdmm_lm.lm.vocab import Vocab

__all__ = [
    "L2M_TEMPLATES",
    "M2L_TEMPLATES",
    "Example",
    "TaskBuilder",
    "countdown_for",
    "split_codes",
]

#: Longest prompt, in tokens (BPE subwords or encoder tokens); longer prompts are cut.
MAX_PROMPT_TOKENS = 96
#: Language2Motion instructions; ``{text}`` is where the prompt goes.
L2M_TEMPLATES: tuple[str, ...] = (
    "Animate a face: {text}",
    "Generate facial motion for this description: {text}",
    "Make the face do this: {text}",
    "{text} Show it as facial motion.",
    "Produce a facial performance where {text}",
    "Turn this into face animation. {text}",
)
#: Motion2Language instructions (the motion follows them).
M2L_TEMPLATES: tuple[str, ...] = (
    "Describe this facial motion:",
    "What does the face do?",
    "Caption the expression and head movement:",
    "Explain in words what happens on this face:",
    "Write a description of the performance:",
    "Summarise the facial motion, its intensity and timing:",
)


@dataclass(frozen=True)
class Example:
    """One training or inference sequence.

    Attributes:
        tokens: (L,) int64 ids, source then target.
        n_source: Ids in the source (the loss starts at the first target id).
        countdown: (L,) int64 motion tokens still to come after each position (-1 = none).
        text_ids: Sentence-encoder token ids of the prompt, one per ``<txt>`` slot; empty
            without an encoder.
        task: ``"l2m"`` or ``"m2l"``.
        drop_text: The prompt is hidden (classifier-free guidance's unconditional case): its
            BPE ids are ``<pad>``, or its encoder states are to be zeroed.
        inputs: (L,) int64 ids the model reads instead of ``tokens`` (a corrupted copy, see
            :meth:`with_motion_noise`); None reads ``tokens``.
        summary: (S,) float32 motion summary for Motion2Language's ``<sep>``
            (:mod:`tdmm_lm.lm.summary`); None = none.
        frame_labels: (N, H) int64 segment labels of the N motion tokens, for the auxiliary
            heads (:mod:`tdmm_lm.lm.frame_labels`); None = none.
        codes2: (L,) int64 residual code of each position, -1 where none; None for a
            one-code tokenizer.
        inputs2: (L,) int64 residual codes the model reads instead of ``codes2`` (the
            corrupted copy of :meth:`with_motion_noise`); None reads ``codes2``.
        frames: (L, F) float32 parameters of each motion position to be described, NaN
            elsewhere (:mod:`tdmm_lm.lm.described`); None = none.
    """

    tokens: np.ndarray
    n_source: int
    countdown: np.ndarray
    text_ids: tuple[int, ...]
    task: str
    drop_text: bool = False
    inputs: np.ndarray | None = None
    summary: np.ndarray | None = None
    frame_labels: np.ndarray | None = None
    codes2: np.ndarray | None = None
    inputs2: np.ndarray | None = None
    frames: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    def with_motion_noise(
        self,
        rate: float,
        motion_ids: tuple[int, int],
        rng: np.random.Generator,
        residual_codes: int = 0,
    ) -> Example:
        """A copy whose *input* motion tokens are replaced by random ones at ``rate``.

        The targets stay clean. A model that reads a partly wrong past cannot just copy the
        last token (four in five motion tokens repeat the one before): it has to lean on the
        text and the longer context, and it learns to recover from its own sampling errors
        (the corrupted-input training of T2M-GPT).

        Args:
            rate: Share of motion input tokens replaced.
            motion_ids: ``[first, last)`` ids of the motion tokens.
            rng: Random generator.
            residual_codes: K2 of a two-level tokenizer; a replaced frame then gets a
                random residual code too.
        """
        lo, hi = motion_ids
        inputs = self.tokens.copy()
        is_motion = (inputs >= lo) & (inputs < hi)
        hit = is_motion & (rng.random(len(inputs)) < rate)
        inputs[hit] = rng.integers(lo, hi, int(hit.sum()))
        inputs2 = None
        if self.codes2 is not None and residual_codes:
            inputs2 = self.codes2.copy()
            inputs2[hit] = rng.integers(0, residual_codes, int(hit.sum()))
        return dataclasses.replace(self, inputs=inputs, inputs2=inputs2)


def countdown_for(length: int, motion_start: int, n_motion: int) -> np.ndarray:
    """Countdown of a sequence whose motion run is ``[motion_start, motion_start + n_motion)``.

    Returns:
        (length,) int64: N at ``motion_start - 1``, then N-1 … 0 over the run, -1 elsewhere.
    """
    cd = np.full(length, COUNTDOWN_NONE, dtype=np.int64)
    cd[motion_start - 1 : motion_start + n_motion] = np.arange(n_motion, -1, -1)
    return cd


def split_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """A clip's codes, (N,) or (N, 2) pairs, as (coarse (N,), residual (N,) or None)."""
    codes = np.asarray(codes, dtype=np.int64)
    if codes.ndim == 2 and codes.shape[1] == 2:
        return codes[:, 0], codes[:, 1]
    if codes.ndim != 1:
        raise ValueError(f"motion codes must be (N,) or (N, 2), got {codes.shape}")
    return codes, None


def _frames_around(before: int, frames: np.ndarray | None, after: int) -> np.ndarray | None:
    """Frame inputs of a sequence: NaN rows on ``before`` and ``after`` positions."""
    if frames is None:
        return None
    frames = np.asarray(frames, dtype=np.float32)
    nan = np.full((before + after, frames.shape[1]), np.nan, dtype=np.float32)
    return np.concatenate([nan[:before], frames, nan[before:]])


def _codes2_around(before: int, residual: np.ndarray | None, after: int) -> np.ndarray | None:
    """The residual codes of a sequence: -1 on ``before`` and ``after`` positions."""
    if residual is None:
        return None
    return np.concatenate([np.full(before, -1), residual, np.full(after, -1)]).astype(np.int64)


class TaskBuilder:
    """Builds :class:`Example` sequences for both directions with one vocabulary.

    The instruction pieces are encoded once. ``text_tokenizer``, when given, maps a prompt
    to sentence-encoder token ids (the prompt then becomes ``<txt>`` slots); otherwise the
    prompt is written as BPE subwords.

    Args:
        vocab: The vocabulary.
        text_tokenizer: Prompt -> encoder token ids, or None for BPE prompts.
        slots_per_prompt: ``<txt>`` slots a prompt takes; 0 means one per encoder token
            (a pooled sentence encoder fills a single slot).
        residual_codes: K2 of a two-level motion tokenizer (0 = one code a frame).
        frame_inputs: Motion2Language examples carry each motion token's parameters
            (for a model with ``frame_dim``; :mod:`tdmm_lm.lm.described`).
    """

    def __init__(
        self,
        vocab: Vocab,
        text_tokenizer=None,  # Callable[[str], list[int]]
        slots_per_prompt: int = 0,
        residual_codes: int = 0,
        frame_inputs: bool = False,
    ) -> None:
        self.vocab = vocab
        self.residual_codes = residual_codes
        self.frame_inputs = frame_inputs
        self.text_tokenizer = text_tokenizer
        self.slots_per_prompt = slots_per_prompt
        self._l2m = [self._pieces(t) for t in L2M_TEMPLATES]
        self._m2l = [vocab.encode_text(t) for t in M2L_TEMPLATES]

    @classmethod
    def for_encoder(
        cls, vocab: Vocab, encoder=None, residual_codes: int = 0, frame_inputs: bool = False
    ) -> TaskBuilder:
        """The builder for a model that reads prompts with ``encoder`` (None: BPE)."""
        if encoder is None:
            return cls(vocab, residual_codes=residual_codes, frame_inputs=frame_inputs)
        return cls(vocab, encoder.token_ids, encoder.slots_per_prompt, residual_codes,
                   frame_inputs)  # fmt: skip

    def _pieces(self, template: str) -> tuple[np.ndarray, np.ndarray]:
        """The ids before and after ``{text}``; words after the prompt keep their space."""
        before, after = (p.strip() for p in template.split("{text}"))
        return self.vocab.encode_text(before), self.vocab.encode_text(f" {after}" if after else "")

    def prompt_part(self, text: str, drop: bool = False) -> tuple[np.ndarray, tuple[int, ...]]:
        """The prompt as ids in the sequence, and the encoder ids that fill its slots.

        With ``drop``, BPE prompts become as many ``<pad>`` ids, so a prompt and its hidden
        version have the same length (encoder slots stay; their states are zeroed later).
        """
        if self.text_tokenizer is None:
            ids = self.vocab.encode_text(" " + text.strip())[:MAX_PROMPT_TOKENS]
            return (np.full_like(ids, self.vocab.pad) if drop else ids), ()
        enc = tuple(self.text_tokenizer(text))[:MAX_PROMPT_TOKENS]
        slots = self.slots_per_prompt or len(enc)
        return np.full(slots, self.vocab.txt, dtype=np.int64), enc

    def l2m_source(
        self, text: str, n_motion: int, seconds: float, template: int = 0, drop: bool = False
    ) -> Example:
        """The Language2Motion source for generating ``n_motion`` motion tokens."""
        before, after = self._l2m[template % len(self._l2m)]
        prompt, enc = self.prompt_part(text, drop)
        v = self.vocab
        tokens = np.concatenate(
            [[v.bos], before, prompt, after, [v.l2m, v.len_id(seconds)]]
        ).astype(np.int64)
        cd = np.full(len(tokens), COUNTDOWN_NONE, dtype=np.int64)
        cd[-1] = n_motion
        return Example(tokens, len(tokens), cd, enc, "l2m", drop)

    def l2m(
        self, text: str, codes: np.ndarray, seconds: float, template: int = 0, drop: bool = False
    ) -> Example:
        """A Language2Motion training example: prompt -> motion codes (N,) or (N, 2) + ``<eos>``."""
        coarse, residual = split_codes(codes)
        src = self.l2m_source(text, len(coarse), seconds, template, drop)
        tokens = np.concatenate([src.tokens, self.vocab.motion_ids(coarse), [self.vocab.eos]])
        cd = countdown_for(len(tokens), src.n_source, len(coarse))
        codes2 = _codes2_around(src.n_source, residual, 1)
        return Example(tokens.astype(np.int64), src.n_source, cd, src.text_ids, "l2m", drop,
                       codes2=codes2)  # fmt: skip

    def m2l_source(
        self,
        codes: np.ndarray,
        template: int = 0,
        summary: np.ndarray | None = None,
        frames: np.ndarray | None = None,
    ) -> Example:
        """The Motion2Language source: instruction, then the motion codes (N,) or (N, 2).

        ``frames`` (N, F), when given, are the parameters of each motion token.
        """
        v = self.vocab
        coarse, residual = split_codes(codes)
        instruction = self._m2l[template % len(self._m2l)]
        tokens = np.concatenate(
            [[v.bos], instruction, [v.m2l], v.motion_ids(coarse), [v.sep]]
        ).astype(np.int64)
        cd = countdown_for(len(tokens), len(instruction) + 2, len(coarse))
        codes2 = _codes2_around(len(instruction) + 2, residual, 1)
        if frames is not None and len(frames) != len(coarse):
            raise ValueError(f"{len(coarse)} motion tokens but {len(frames)} frame inputs")
        frames = _frames_around(len(instruction) + 2, frames, 1)
        return Example(tokens, len(tokens), cd, (), "m2l", summary=summary, codes2=codes2,
                       frames=frames)  # fmt: skip

    def m2l(
        self,
        codes: np.ndarray,
        caption: str,
        template: int = 0,
        summary: np.ndarray | None = None,
        frames: np.ndarray | None = None,
    ) -> Example:
        """A Motion2Language example: motion codes (N,) or (N, 2) -> caption + ``<eos>``."""
        src = self.m2l_source(codes, template, summary, frames)
        target = np.concatenate([self.vocab.encode_text(caption.strip()), [self.vocab.eos]])
        tokens = np.concatenate([src.tokens, target]).astype(np.int64)
        cd = np.concatenate([src.countdown, np.full(len(target), COUNTDOWN_NONE)])
        codes2 = _codes2_around(0, src.codes2, len(target))
        frames = _frames_around(0, src.frames, len(target))
        return Example(tokens, src.n_source, cd.astype(np.int64), (), "m2l", summary=summary,
                       codes2=codes2, frames=frames)  # fmt: skip
