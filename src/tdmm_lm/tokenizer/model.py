"""The geometry VQ-VAE: motion (T, 61) -> tokens (ceil(T / r),) -> motion.

The blocks (encoder, decoder) are in :mod:`tdmm_lm.tokenizer.blocks`, the codebook in
:mod:`tdmm_lm.tokenizer.quantizer` and the config in :mod:`tdmm_lm.tokenizer.config`; this
module holds :class:`MotionTokenizer`: the model with its losses. The NumPy API the language
model uses (encode, decode, novelty, code features) is in :mod:`tdmm_lm.tokenizer.arrays`.

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
from tdmm_lm.face import ARKIT, FaceModel
from tdmm_lm.tokenizer.arrays import N_BLENDSHAPES, N_CHANNELS, TokenizerArrays
from tdmm_lm.tokenizer.blocks import Decoder, Encoder
from tdmm_lm.tokenizer.config import TokenizerConfig
from tdmm_lm.tokenizer.quantizer import EMAQuantizer
from tdmm_lm.tokenizer.residual import ResidualQuantizer

__all__ = ["MotionTokenizer", "TokenizerConfig"]

ANGLES = slice(N_BLENDSHAPES, N_CHANNELS)  # head yaw/pitch/roll, then both eyes' yaw/pitch/roll
#: Lower bound of a channel's standard deviation when normalising: some blendshapes never
#: move in a corpus, and dividing by ~0 would blow their noise up.
MIN_STD = 1e-2


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


class MotionTokenizer(TokenizerArrays, nn.Module, PretrainedMixin):
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
        shared = (
            config.code_dim,
            config.ema_decay,
            config.dead_after,
            config.switch_cost,
            config.encode_switch_cost,
        )
        if config.residual_codebook_size:
            second = config.residual_codebook_size
            self.quantizer = ResidualQuantizer(
                config.codebook_size,
                second,
                *shared,
                config.residual_hold_factor,
                config.residual_levels,
            )
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
        # The range each channel spans in training (see set_stats); the space's by default.
        self.register_buffer("seen_low", self.low.clone(), persistent=False)
        self.register_buffer("seen_high", self.high.clone(), persistent=False)
        self._face: FaceModel | None = None

    # -- properties of the public API

    @property
    def codebook_size(self) -> int:
        """K, the number of distinct motion tokens."""
        return self.config.codebook_size

    @property
    def codebooks(self) -> int:
        """Codes per token: 1, 2 (coarse, residual) with a residual codebook, or more."""
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

    def set_stats(
        self,
        mean: np.ndarray,
        std: np.ndarray,
        seen_low: np.ndarray | None = None,
        seen_high: np.ndarray | None = None,
    ) -> None:
        """Set the per-channel statistics of the training split, each (61,).

        Args:
            mean: Mean, for the normalisation.
            std: Standard deviation, for the normalisation.
            seen_low: The low end of the range each channel spans in training
                (:func:`~tdmm_lm.tokenizer.data.channel_range`); None keeps the current one.
            seen_high: Its high end.
        """
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(np.maximum(std, MIN_STD), dtype=torch.float32))
        if seen_low is not None and seen_high is not None:
            self.seen_low.copy_(torch.as_tensor(seen_low, dtype=torch.float32))
            self.seen_high.copy_(torch.as_tensor(seen_high, dtype=torch.float32))

    def artifact_stats(self) -> dict[str, np.ndarray]:
        """The training-split statistics, saved in ``stats.safetensors``."""
        names = ("mean", "std", "seen_low", "seen_high")
        return {name: getattr(self, name).cpu().numpy() for name in names}

    def load_artifact_stats(self, stats: dict[str, np.ndarray]) -> None:
        """Restore the statistics (tokenizers saved before the range keep the space's)."""
        self.set_stats(stats["mean"], stats["std"], stats.get("seen_low"), stats.get("seen_high"))

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
