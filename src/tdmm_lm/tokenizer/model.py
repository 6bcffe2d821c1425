"""The geometry VQ-VAE: motion (T, 61) -> tokens (ceil(T / r),) -> motion.

The blocks (encoder, decoder) are in :mod:`tdmm_lm.tokenizer.blocks`, the codebook in
:mod:`tdmm_lm.tokenizer.quantizer` and the config in :mod:`tdmm_lm.tokenizer.config`; this
module holds :class:`MotionTokenizer`: the model with its losses and the NumPy API the
language model uses.

Shapes use B for batch, T for frames, N = T / r for token positions (r frames per token),
D for the code dimension, K for the codebook size and V for the face model's vertices.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tdmm_lm.artifacts import PretrainedMixin
from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face import ARKIT, FaceModel
from tdmm_lm.tokenizer.blocks import Decoder, Encoder
from tdmm_lm.tokenizer.config import TokenizerConfig
from tdmm_lm.tokenizer.quantizer import EMAQuantizer
from tdmm_lm.tokenizer.residual import ResidualQuantizer

__all__ = ["MotionTokenizer", "TokenizerConfig"]

N_CHANNELS = ARKIT.dim  # 61
N_BLENDSHAPES = 52
ANGLES = slice(N_BLENDSHAPES, N_CHANNELS)  # head yaw/pitch/roll, then both eyes' yaw/pitch/roll
#: Lower bound of a channel's standard deviation when normalising: some blendshapes never
#: move in a corpus, and dividing by ~0 would blow their noise up.
MIN_STD = 1e-2
#: Frames times tokens per forward pass of :meth:`MotionTokenizer.encode_batch`: the code
#: assignment holds a (frames, K) distance table, so K bounds the frames of one pass.
ENCODE_CHUNK_CELLS = 1 << 25
#: Tokens either side of the middle of the constant run that :meth:`code_features` decodes
#: (beyond the decoder's reach of 9 frames, so the middle frame sees token k alone).
HELD_RUN_TOKENS = 12


# ----------------------------------------------------------------------------- model


@dataclass
class Losses:
    """The training loss and its terms (each a scalar tensor, already weighted in ``total``)."""

    total: torch.Tensor
    vertex: torch.Tensor
    angle: torch.Tensor
    param: torch.Tensor
    z_l1: torch.Tensor
    z_mse: torch.Tensor
    velocity: torch.Tensor
    commit: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        """The terms as Python floats, for logging."""
        return {f.name: float(getattr(self, f.name).detach()) for f in dataclasses.fields(self)}


class Reconstruction(NamedTuple):
    """What :meth:`MotionTokenizer.forward` reconstructs.

    Attributes:
        params: (B, T, 61) reconstructed normalised parameters.
        tokens: (B, N) int64 tokens, or None when the codebook was bypassed.
        counts: (K,) float32 how many valid positions chose each code.
    """

    params: torch.Tensor
    tokens: torch.Tensor | None
    counts: torch.Tensor


class MotionTokenizer(nn.Module, PretrainedMixin):
    """Geometry VQ-VAE over ``arkit`` parameter sequences.

    Args:
        config: The architecture.

    Example:
        >>> tok = MotionTokenizer.from_pretrained("TOKDIR")
        >>> tokens = tok.encode(params)  # (T, 61) float32 -> (ceil(T / r),) int64
        >>> params_back = tok.decode(tokens)  # (len(tokens) * r, 61) float32

    With a residual codebook (``config.residual_codebook_size``) each token is a pair of
    codes and ``encode`` gives (ceil(T / r), 2) int64 arrays, which ``decode`` takes back.
    """

    type_tag: ClassVar[str] = "motion_tokenizer"
    config_class: ClassVar[type] = TokenizerConfig

    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        self.config = config
        levels = config.levels
        args = (config.width, config.depth, config.kernel, config.dilation_growth, levels)
        self.encoder = Encoder(*args, config.code_dim)
        self.quantizer: EMAQuantizer | ResidualQuantizer
        shared = (config.code_dim, config.ema_decay, config.dead_after, config.switch_cost)
        if config.residual_codebook_size:
            second = config.residual_codebook_size
            self.quantizer = ResidualQuantizer(config.codebook_size, second, *shared)
        else:
            self.quantizer = EMAQuantizer(config.codebook_size, *shared)
        self.decoder = Decoder(*args, config.code_dim)
        # Normalisation statistics: saved as artefact stats, not weights.
        self.register_buffer("mean", torch.zeros(N_CHANNELS), persistent=False)
        self.register_buffer("std", torch.ones(N_CHANNELS), persistent=False)
        self.register_buffer("low", torch.tensor(ARKIT.low, dtype=torch.float32), persistent=False)
        self.register_buffer(
            "high", torch.tensor(ARKIT.high, dtype=torch.float32), persistent=False
        )
        self._face: FaceModel | None = None

    # -- properties of the public API

    @property
    def codebook_size(self) -> int:
        """K, the number of distinct motion tokens."""
        return self.config.codebook_size

    @property
    def codebooks(self) -> int:
        """Codes per token: 1, or 2 (coarse, residual) with a residual codebook."""
        return self.config.codebooks

    @property
    def residual_codebook_size(self) -> int:
        """K2, codes of the residual codebook (0 without one)."""
        return self.config.residual_codebook_size

    @property
    def frames_per_token(self) -> int:
        """Frames each token stands for (1, 2 or 4)."""
        return self.config.frames_per_token

    @property
    def fps(self) -> float:
        """Frame rate of the training corpus."""
        return self.config.fps

    @property
    def face(self) -> FaceModel:
        """The built-in face model used by the geometry loss (loaded on first use)."""
        if self._face is None:
            self._face = FaceModel()
        return self._face

    # -- normalisation stats (the artefact protocol)

    def set_stats(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Set the per-channel normalisation from (61,) train-split mean and std."""
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(np.maximum(std, MIN_STD), dtype=torch.float32))

    def artifact_stats(self) -> dict[str, np.ndarray]:
        """The normalisation statistics, saved in ``stats.safetensors``."""
        return {"mean": self.mean.cpu().numpy(), "std": self.std.cpu().numpy()}

    def load_artifact_stats(self, stats: dict[str, np.ndarray]) -> None:
        """Restore the normalisation statistics."""
        self.set_stats(stats["mean"], stats["std"])

    def normalise(self, params: torch.Tensor) -> torch.Tensor:
        """(..., 61) parameters -> (..., 61) normalised."""
        return (params - self.mean) / self.std

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        """(..., 61) normalised -> (..., 61) parameters."""
        return x * self.std + self.mean

    # -- the network

    def encode_latents(
        self, x: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder outputs before quantization.

        Args:
            x: (B, T, 61) normalised parameters; T a multiple of ``frames_per_token``.
            mask: (B, T) bool, True at valid frames.

        Returns:
            ((B, D, N) encoder outputs, (B, N) bool token mask).
        """
        m = mask[:, None, :].float()  # (B, 1, T)
        z, m = self.encoder(x.transpose(1, 2) * m, m)  # (B, D, N)
        return z, m[:, 0] > 0

    def decode_codes(self, codes: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        """(B, D, N) codes, (B, N) bool mask -> (B, N * r, 61) normalised parameters."""
        return self.decoder(codes, token_mask[:, None, :].float()).transpose(1, 2)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
        quantize: bool = True,
    ) -> tuple[Reconstruction, Losses]:
        """Reconstruct normalised parameters and compute the training loss.

        Args:
            x: (B, T, 61) normalised parameters; T a multiple of ``frames_per_token``.
            mask: (B, T) bool, True at valid frames.
            generator: Randomness for the codebook's dead-code reset.
            quantize: False bypasses the codebook (autoencoder warm-up before the
                codebook is initialised from encoder outputs).

        Returns:
            (the reconstruction with its tokens and code counts, the losses).
        """
        z, token_mask = self.encode_latents(x, mask)  # (B, D, N)
        if quantize:
            q = self.quantizer(z, token_mask, generator)
            codes, indices, commit, counts = q.quantized, q.indices, q.commit_loss, q.counts
        else:
            codes, indices, commit = z, None, z.new_zeros(())
            counts = z.new_zeros(self.codebook_size)
        recon = self.decode_codes(codes, token_mask)  # (B, T, 61)
        return Reconstruction(recon, indices, counts), self.losses(recon, x, mask, commit)

    def losses(
        self, recon: torch.Tensor, x: torch.Tensor, mask: torch.Tensor, commit: torch.Tensor
    ) -> Losses:
        """Geometry, angle, parameter, velocity and commitment losses over valid frames.

        The geometry is the posed face (head rotation included): a loss in the head's own
        frame, with the head left to the angle term, flattened head shakes to a sixth of
        their swing (measured), because 1 degree of head turn moves the face by about 2 mm
        while the angle term weighs it like any expression detail.

        Args:
            recon: (B, T, 61) reconstructed normalised parameters.
            x: (B, T, 61) target normalised parameters.
            mask: (B, T) bool valid frames.
            commit: () commitment loss from the quantizer.

        Returns:
            The weighted total and each term.
        """
        cfg = self.config
        b, t, c = x.shape
        pred = self.denormalise(recon)  # (B, T, 61)
        true = self.denormalise(x)
        pred_v = self.face.vertices(pred.reshape(b * t, c)).reshape(b, t, -1)  # (B, T, V*3) mm
        with torch.no_grad():
            true_v = self.face.vertices(true.reshape(b * t, c)).reshape(b, t, -1)
        frames = mask.float()  # (B, T)
        n = frames.sum().clamp_min(1)
        n_coords = pred_v.shape[-1]
        error_v = pred_v - true_v  # (B, T, V*3)
        vertex = (error_v.abs().sum(-1) * frames).sum() / (n * n_coords)
        # Velocity error = change of the vertex error between consecutive valid frames.
        pairs = frames[:, 1:] * frames[:, :-1]  # (B, T - 1)
        velocity_error = error_v.diff(dim=1).abs().sum(-1)  # (B, T - 1)
        velocity = (velocity_error * pairs).sum() / (pairs.sum().clamp_min(1) * n_coords)
        angle_error = torch.rad2deg(pred[..., ANGLES] - true[..., ANGLES]).abs().sum(-1)
        angle = (angle_error * frames).sum() / (n * 9)
        shapes = pred[..., :N_BLENDSHAPES]
        error = (shapes - true[..., :N_BLENDSHAPES]).abs() + F.relu(-shapes) + F.relu(shapes - 1)
        param = (error.sum(-1) * frames).sum() / (n * N_BLENDSHAPES)
        z_error = (recon - x)[..., :N_BLENDSHAPES]  # (B, T, 52) in standard deviations
        z_l1 = (z_error.abs().sum(-1) * frames).sum() / (n * N_BLENDSHAPES)
        z_mse = (z_error.pow(2).sum(-1) * frames).sum() / (n * N_BLENDSHAPES)
        total = (
            cfg.vertex_weight * vertex
            + cfg.angle_weight * angle
            + cfg.param_weight * param
            + cfg.z_l1_weight * z_l1
            + cfg.z_mse_weight * z_mse
            + cfg.velocity_weight * velocity
            + cfg.commit_weight * commit
        )
        return Losses(total, vertex, angle, param, z_l1, z_mse, velocity, commit)

    # -- the NumPy API used by the language model

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
        indices = self.quantizer.assign(z.transpose(1, 2).float(), token_mask)  # (B, N[, 2])
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
        ``tdmm eval real``). Measured on the release tokenizer: 0.85 median and 3.0 at the
        99th percentile over 1275 test and validation clips; 4.1, 8.9 and 7.3 on the three
        tracked real videos of the test data.

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
        sizes = [self.codebook_size, self.residual_codebook_size][: self.codebooks]
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
