"""Motion2Language, the ``describe`` half of :class:`~tdmm_lm.lm.api.TdmmModel`.

:class:`CaptioningMixin` cuts a sequence into windows of the length the model was trained
on, encodes each with the motion tokenizer, and decodes the captions of all windows of a
batch together (greedy by default). It reads the model's parts from the class it is mixed
into (``lm``, ``vocab``, ``tokenizer``, ``builder``, ``config`` and ``lm_block_size``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.lm.inference import inference_threads, left_pad, left_pad_frames, left_pad_residual
from tdmm_lm.lm.summary import token_frames

if TYPE_CHECKING:
    from tdmm_lm.face import FaceSequence

__all__ = ["MAX_CAPTION_TOKENS", "NOVELTY_WARNING", "WINDOW_JOIN", "CaptioningMixin"]

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


class CaptioningMixin:
    """``describe``, ``describe_batch`` and ``novelty`` of :class:`~tdmm_lm.lm.api.TdmmModel`."""

    lm: Any
    vocab: Any
    tokenizer: Any
    builder: Any
    config: Any
    fps: float
    _text_allowed: torch.Tensor
    lm_block_size: Any  # a method of the model class

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
