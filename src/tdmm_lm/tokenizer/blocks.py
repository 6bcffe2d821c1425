"""Building blocks of the motion tokenizer: residual temporal convolutions, encoder, decoder.

Shapes use B for batch, T for frames, N = T / r for token positions (r frames per token),
W for the convolution width and D for the code dimension. Convolutions run over time on
(B, C, T) tensors.

Every convolution is symmetric (non-causal) with a small receptive field, so a frame's token
depends on a few frames either side and a frame decodes from a few tokens either side: a
streaming player needs only a short look-ahead. Padding is handled by masking: after every
layer the positions beyond a sequence's end are zeroed, which is exactly what a
convolution's zero padding sees at the end of an unpadded sequence, so a sequence encodes to
the same tokens alone or in a padded batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tdmm_lm.face import ARKIT

__all__ = ["Decoder", "Encoder", "ResBlock"]

N_CHANNELS = ARKIT.dim  # 61


class ResBlock(nn.Module):
    """Pre-activation residual block: x + conv1x1(act(conv_k(act(x)))), masked.

    Args:
        width: Channels W.
        kernel: Temporal kernel size (odd, so the block stays centred).
        dilation: Temporal dilation; the block sees ``dilation * (kernel - 1) / 2`` frames
            either side.
    """

    def __init__(self, width: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(
            width, width, kernel, padding=dilation * (kernel // 2), dilation=dilation
        )
        self.proj = nn.Conv1d(width, width, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, W, T), mask (B, 1, T) -> (B, W, T)."""
        h = self.proj(F.gelu(self.conv(F.gelu(x))))
        return (x + h) * mask


def _dilations(depth: int, growth: int) -> list[int]:
    """Dilations 1, g, g², … cycling every three blocks."""
    return [growth ** (i % 3) for i in range(depth)]


class Encoder(nn.Module):
    """Normalised parameters (B, 61, T) -> encoder outputs (B, D, T / r).

    Args:
        width: Convolution width W.
        depth: Residual blocks after each resolution change.
        kernel: Temporal kernel size.
        dilation_growth: Dilation factor between successive blocks.
        downsample: log2 of frames per token (strided convolutions).
        code_dim: D.
    """

    def __init__(
        self,
        width: int,
        depth: int,
        kernel: int,
        dilation_growth: int,
        downsample: int,
        code_dim: int,
    ) -> None:
        super().__init__()
        self.stem = nn.Conv1d(N_CHANNELS, width, kernel, padding=kernel // 2)
        self.down = nn.ModuleList(
            nn.Conv1d(width, width, 4, stride=2, padding=1) for _ in range(downsample)
        )
        self.blocks = nn.ModuleList(
            ResBlock(width, kernel, d) for d in _dilations(depth, dilation_growth)
        )
        self.out = nn.Conv1d(width, code_dim, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode.

        Args:
            x: (B, 61, T) normalised parameters, zero beyond each sequence's end.
            mask: (B, 1, T) float, 1 at valid frames; T a multiple of the rate.

        Returns:
            ((B, D, N) encoder outputs, (B, 1, N) token mask).
        """
        h = self.stem(x) * mask  # (B, W, T)
        for down in self.down:
            mask = mask[:, :, ::2]  # a token is valid when its first frame is
            h = down(F.gelu(h)) * mask  # (B, W, T / 2)
        for block in self.blocks:
            h = block(h, mask)
        return self.out(F.gelu(h)) * mask, mask  # (B, D, N)


class Decoder(nn.Module):
    """Codes (B, D, N) -> normalised parameters (B, 61, N * r).

    Upsampling repeats each position twice then smooths with a convolution, which avoids
    the checkerboard artefacts of transposed convolutions.

    Args:
        width: Convolution width W.
        depth: Residual blocks before upsampling.
        kernel: Temporal kernel size.
        dilation_growth: Dilation factor between successive blocks.
        upsample: log2 of frames per token.
        code_dim: D.
    """

    def __init__(
        self,
        width: int,
        depth: int,
        kernel: int,
        dilation_growth: int,
        upsample: int,
        code_dim: int,
    ) -> None:
        super().__init__()
        self.stem = nn.Conv1d(code_dim, width, kernel, padding=kernel // 2)
        self.blocks = nn.ModuleList(
            ResBlock(width, kernel, d) for d in _dilations(depth, dilation_growth)
        )
        self.up = nn.ModuleList(
            nn.Conv1d(width, width, kernel, padding=kernel // 2) for _ in range(upsample)
        )
        self.out = nn.Conv1d(width, N_CHANNELS, kernel, padding=kernel // 2)

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Decode.

        Args:
            z: (B, D, N) codes.
            mask: (B, 1, N) float token mask.

        Returns:
            (B, 61, N * r) normalised parameters (zero beyond each sequence's end).
        """
        h = self.stem(z) * mask  # (B, W, N)
        for block in self.blocks:
            h = block(h, mask)
        for up in self.up:
            mask = mask.repeat_interleave(2, dim=2)
            h = up(F.gelu(h.repeat_interleave(2, dim=2))) * mask  # (B, W, 2N)
        return self.out(F.gelu(h)) * mask  # (B, 61, T)
