"""The NumPy face of the motion tokenizer: arrays in, arrays out.

The language model, the evaluators and the commands call these; training does not.
:class:`TokenizerArrays` is a mixin of :class:`~tdmm_lm.tokenizer.model.MotionTokenizer`, kept
apart so that the model module reads as the network and its losses. It uses the model's
``normalise``, ``encode_latents``, ``quantizer``, ``decode_codes`` and ``denormalise``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face import ARKIT

__all__ = ["N_BLENDSHAPES", "N_CHANNELS", "TokenizerArrays"]

N_CHANNELS = ARKIT.dim  # 61
N_BLENDSHAPES = 52
#: Frames times tokens per forward pass of :meth:`MotionTokenizer.encode_batch`: the code
#: assignment holds a (frames, K) distance table, so K bounds the frames of one pass.
ENCODE_CHUNK_CELLS = 1 << 25
#: Tokens either side of the middle of the constant run that :meth:`code_features` decodes
#: (beyond the decoder's reach of 9 frames, so the middle frame sees token k alone).
HELD_RUN_TOKENS = 12


class TokenizerArrays:
    """Encode, decode, novelty and code features of a tokenizer, on NumPy arrays."""

    quantizer: Any
    mean: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor
    seen_low: torch.Tensor
    seen_high: torch.Tensor

    def within_seen_range(self, params: np.ndarray) -> np.ndarray:
        """``params`` (T, 61) with each channel clipped to the range it spans in training.

        The encoder has never seen a value beyond that range and extrapolates on it. Tracked
        real video goes beyond it (the gaze of ``d0`` swings 0.55 rad; the training range
        ends at 0.4), and on one fit of ``d0`` the release model read its grin as "doubt"
        unclipped and as "joy" clipped (on the current fit it reads neither way: the
        description changes with small changes of the fit). Motion like the corpus is all
        but unchanged: the range leaves out only its rarest 0.1 % of frames at each end.
        """
        arr = _check_params(params, 0)
        low, high = self.seen_low.cpu().numpy(), self.seen_high.cpu().numpy()
        return np.clip(arr, low, high).astype(np.float32)

    @torch.inference_mode()
    def encode(self, params: np.ndarray) -> np.ndarray:
        """Tokenize one sequence.

        Args:
            params: (T, 61) float32 ``arkit`` parameters at :attr:`fps`.

        Returns:
            (ceil(T / frames_per_token),) int64 tokens in [0, codebook_size); with a
            residual codebook (ceil(T / frames_per_token), 2), the second column in
            [0, residual_codebook_size).
        """
        return self.encode_batch([params])[0]

    @torch.inference_mode()
    def encode_batch(
        self, sequences: list[np.ndarray], max_frames: int | None = None
    ) -> list[np.ndarray]:
        """Tokenize many sequences, batching those of similar length.

        Each sequence gives exactly the tokens :meth:`encode` gives it alone.

        Args:
            sequences: (T_i, 61) float32 arrays.
            max_frames: Frames (including padding) per forward pass; bounds the memory
                (default: :data:`ENCODE_CHUNK_CELLS` over the codebook size).

        Returns:
            One token array per sequence (shaped as :meth:`encode` gives), in input order.
        """
        r = self.frames_per_token
        if max_frames is None:
            max_frames = max(ENCODE_CHUNK_CELLS // self.codebook_size, 1)
        arrays = [_check_params(p, i) for i, p in enumerate(sequences)]
        empty = np.zeros((0,) if self.codebooks == 1 else (0, self.codebooks), np.int64)
        out: list[np.ndarray] = [empty] * len(arrays)
        batch: list[int] = []

        def flush() -> None:
            chunk = self._encode_padded([arrays[j] for j in batch])
            for j, tokens in zip(batch, chunk, strict=True):
                out[j] = tokens
            batch.clear()

        # Shortest first, so the sequence being added is always the batch's longest.
        # An empty sequence has no tokens; it never reaches the network (its convolutions
        # need at least a kernel's width of frames).
        for i in sorted(
            (i for i in range(len(arrays)) if len(arrays[i])), key=lambda i: len(arrays[i])
        ):
            if batch and _round_up(len(arrays[i]), r) * (len(batch) + 1) > max_frames:
                flush()
            batch.append(i)
        if batch:
            flush()
        return out

    def _encode_padded(self, chunk: list[np.ndarray]) -> list[np.ndarray]:
        """Tokenize a few sequences in one zero-padded, masked batch."""
        z, token_mask, lengths = self._padded_latents(chunk)
        # Encoding costs in either mode: a tokenizer's tokens never depend on train/eval.
        latents = z.transpose(1, 2).float()
        indices = self.quantizer.assign(latents, token_mask, encoding=True)  # (B, N[, 2])
        indices = indices.cpu().numpy().astype(np.int64)
        return [indices[i, : k // self.frames_per_token].copy() for i, k in enumerate(lengths)]

    def _padded_latents(
        self, chunk: list[np.ndarray]
    ) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """Encoder outputs of a few sequences in one zero-padded, masked batch.

        Returns:
            ((B, D, N) encoder outputs, (B, N) bool token mask, each sequence's padded length).
        """
        r = self.frames_per_token
        lengths = [_round_up(len(p), r) for p in chunk]
        x = np.zeros((len(chunk), max(lengths), N_CHANNELS), np.float32)  # (B, T, 61)
        mask = np.zeros((len(chunk), max(lengths)), bool)
        for b, (p, n) in enumerate(zip(chunk, lengths, strict=True)):
            if len(p):
                # A partial last token repeats the last frame, so the rate always divides T.
                x[b, :n] = np.concatenate([p, np.repeat(p[-1:], n - len(p), 0)])
            mask[b, :n] = True
        device = self.mean.device
        xt = self.normalise(torch.from_numpy(x).to(device))
        z, token_mask = self.encode_latents(xt, torch.from_numpy(mask).to(device))
        return z, token_mask, lengths

    @torch.inference_mode()
    def novelty(self, params: np.ndarray) -> float:
        """How unlike the training motion a sequence is, as the encoder sees it.

        The squared distance of each encoder output to its nearest code, over the mean of
        that distance in training (the quantizer's ``distance_scale``), averaged over the
        sequence's tokens. Motion like the corpus scores about 1; far above it, the encoder
        is extrapolating and its codes may not hold the motion's expressions (see
        ``tdmm eval real``). Measured on the release tokenizer (two codebooks; the first
        level's distances): 0.87 median and 2.5 at the 99th percentile over 1275 test and
        validation clips; 5.5, 8.3 and 6.9 on the three tracked real videos of the test data.

        Args:
            params: (T, 61) float32 ``arkit`` parameters at :attr:`fps`, T >= 1.

        Returns:
            The mean distance ratio (>= 0).
        """
        x = _check_params(params, 0)
        if not len(x):
            raise InvalidInputError("novelty needs at least one frame")
        z, _, _ = self._padded_latents([x])
        nearest = self.quantizer.nearest_distances(z[0].transpose(0, 1).float())  # (N,)
        return float(nearest.mean() / self.quantizer.distance_scale.clamp_min(1e-12))

    @torch.inference_mode()
    def code_features(self) -> np.ndarray:
        """What every token stands for: its code vector and the face it decodes to, held.

        Returns:
            (K, D + 61) float32: row k is code k's vector, then the ``arkit`` parameters of
            the middle frame of a long run of token k (long enough that the decoder's
            context sees nothing else).
        """
        k, r = self.codebook_size, self.frames_per_token
        run = 2 * HELD_RUN_TOKENS + 1
        idx = torch.arange(k, device=self.mean.device)[:, None].expand(k, run)  # (K, run)
        codes = self.quantizer.embed(idx)  # (K, D, run)
        held = self.decode_codes(codes, torch.ones_like(idx, dtype=torch.bool))  # (K, run*r, 61)
        face = self.denormalise(held[:, HELD_RUN_TOKENS * r + r // 2])  # (K, 61)
        face = face.clamp(self.low, self.high)
        vectors = self.quantizer.codebook  # (K, D)
        return torch.cat([vectors, face], dim=1).cpu().numpy().astype(np.float32)

    @torch.inference_mode()
    def decode(self, tokens: np.ndarray) -> np.ndarray:
        """Turn tokens back into parameters.

        Args:
            tokens: (N,) integer tokens in [0, codebook_size), or with a residual codebook
                (N, 2) pairs as :meth:`encode` gives them.

        Returns:
            (N * frames_per_token, 61) float32 parameters within the ``arkit`` ranges
            (blendshapes clipped to [0, 1]).
        """
        tokens = np.asarray(tokens)
        tail = () if self.codebooks == 1 else (self.codebooks,)
        if tokens.ndim != 1 + len(tail) or tokens.shape[1:] != tail:
            raise InvalidInputError(f"tokens must be an (N, *{tail}) array, got {tokens.shape}")
        if not np.issubdtype(tokens.dtype, np.integer):
            raise InvalidInputError(f"tokens must be integers, got {tokens.dtype}")
        sizes = [self.codebook_size] + [self.residual_codebook_size] * (self.codebooks - 1)
        for level, size in enumerate(sizes):
            column = tokens.reshape(len(tokens), -1)[:, level]
            if len(column) and (column.min() < 0 or column.max() >= size):
                raise InvalidInputError(
                    f"tokens of codebook {level + 1} must lie in [0, {size}), got "
                    f"{column.min()}..{column.max()}"
                )
        if not len(tokens):
            return np.zeros((0, N_CHANNELS), np.float32)
        device = self.mean.device
        idx = torch.from_numpy(tokens.astype(np.int64))[None].to(device)  # (1, N[, 2])
        mask = torch.ones(idx.shape[:2], dtype=torch.bool, device=device)
        recon = self.decode_codes(self.quantizer.embed(idx), mask)
        params = self.denormalise(recon[0]).clamp(self.low, self.high)  # (T, 61)
        return params.cpu().numpy().astype(np.float32)


def _round_up(n: int, r: int) -> int:
    return -(-n // r) * r


def _check_params(params: np.ndarray, index: int) -> np.ndarray:
    """Check one (T, 61) parameter array; return it as float32."""
    arr = np.asarray(params)
    if arr.ndim != 2 or arr.shape[1] != N_CHANNELS:
        raise InvalidInputError(
            f"sequence {index}: expected (T, {N_CHANNELS}) arkit parameters, got {arr.shape}"
        )
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"sequence {index}: parameters hold NaN or inf")
    return arr
