"""What Motion2Language reads of the motion beside its tokens: a summary and the frames.

Motion to be described comes as parameters, and its tokens are a lossy view of them (see
:mod:`tdmm_lm.lm.summary`). Two inputs carry the parameters themselves into the model, each
standardised with statistics of the training clips, clipped, and projected to the width of
the stream:

* the **summary** (``GPTConfig.summary_dim``): statistics over the clip's frames, added at
  the ``<sep>`` that ends the motion;
* the **frames** (``GPTConfig.frame_dim``): each motion token's own parameters, added at
  its position. A caption names the emotion of each segment in order, and the tokens round
  a faint expression to a neutral code (measured on release 5: "subtle" segments were read
  as neutral and the segments after them shifted by one), where its parameters still hold it;
* optionally the **frame velocities** (``GPTConfig.frame_velocity``): each frame's change
  from the one before, in units of the training clips' own frame-to-frame spread, through a
  projection of their own. A head bob (4 degrees every 0.45 s) is a fraction of a standard
  deviation in the angles but several in their change; captions missed it most of all
  (release 7, 320 test clips: 12 of the 54 head-motion misses were bobs read as a still
  head or a nod).

:class:`DescribedMotionMixin` adds the modules and their use to
:class:`~tdmm_lm.lm.model.TdmmGPT`; the summary modules keep the model's attribute names, so
stored weights load unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

__all__ = ["LIMIT_Z", "DescribedMotionMixin"]

#: Largest standardised summary or frame value the model reads (larger ones are clipped): a
#: tracked video can hold values many training stds out (a saturated gaze, a channel the
#: corpus barely moves), and clipped, one such channel cannot swamp the stream.
LIMIT_Z = 6.0


class DescribedMotionMixin:
    """Summary and frame inputs of :class:`~tdmm_lm.lm.model.TdmmGPT`."""

    config: Any
    summary_mean: torch.Tensor
    summary_std: torch.Tensor
    summary_proj: nn.Linear
    frame_mean: torch.Tensor
    frame_std: torch.Tensor
    frame_proj: nn.Linear
    frame_velocity_std: torch.Tensor
    frame_velocity_proj: nn.Linear

    def _build_described_inputs(self, c: Any, init_std: float) -> None:
        """Create the modules for a :class:`~tdmm_lm.lm.config.GPTConfig` ``c``.

        A standardised input of width W enters through a projection of std
        ``init_std / sqrt(W)``, so that it starts at the token embeddings' own size.
        """
        register = self.register_buffer  # type: ignore[attr-defined]
        for name, width in (("summary", c.summary_dim), ("frame", c.frame_dim)):
            if not width:
                continue
            register(f"{name}_mean", torch.zeros(width))
            register(f"{name}_std", torch.ones(width))
            proj = nn.Linear(width, c.d_model, bias=False)
            nn.init.normal_(proj.weight, std=init_std / math.sqrt(width))
            setattr(self, f"{name}_proj", proj)
        if c.frame_velocity:
            register("frame_velocity_std", torch.ones(c.frame_dim))
            self.frame_velocity_proj = nn.Linear(c.frame_dim, c.d_model, bias=False)
            nn.init.normal_(self.frame_velocity_proj.weight, std=init_std / math.sqrt(c.frame_dim))

    def set_summary_stats(self, summaries: torch.Tensor) -> None:
        """Standardise motion summaries with the mean and std of these (N, S) ones."""
        self._set_stats("summary", summaries)

    def set_frame_stats(self, frames: torch.Tensor) -> None:
        """Standardise frame inputs with the mean and std of these (M, F) frames."""
        self._set_stats("frame", frames)

    def set_frame_velocity_stats(self, changes: torch.Tensor) -> None:
        """Scale frame velocities by the root mean square of these (M, F) frame changes.

        The changes are consecutive frames' differences within clips; their mean is about 0.
        """
        rms = changes.float().pow(2).mean(0).sqrt()
        self.frame_velocity_std.copy_(rms.clamp_min(1e-4))

    def _set_stats(self, name: str, values: torch.Tensor) -> None:
        values = values.float()
        getattr(self, f"{name}_mean").copy_(values.mean(0))
        getattr(self, f"{name}_std").copy_(values.std(0).clamp_min(1e-4))

    def _standardised(self, name: str, values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        z = (values.to(dtype) - getattr(self, f"{name}_mean")) / getattr(self, f"{name}_std")
        return z.clamp(-LIMIT_Z, LIMIT_Z)

    def add_described_inputs(
        self,
        x: torch.Tensor,
        idx: torch.Tensor,
        summary: torch.Tensor | None,
        frames: torch.Tensor | None,
    ) -> torch.Tensor:
        """Add the summary and frame inputs to the (B, T, C) input embeddings ``x``.

        Args:
            x: (B, T, C) input embeddings.
            idx: (B, T) token ids (the summary goes where ``summary_token_id`` is).
            summary: (B, S) each row's motion summary, or None.
            frames: (B, T, F) each position's frame parameters, NaN at positions without
                one, or None.
        """
        c = self.config
        if c.summary_dim and summary is not None:
            at = (idx == c.summary_token_id)[..., None]  # (B, T, 1)
            z = self._standardised("summary", summary, x.dtype)  # (B, S)
            x = x + self.summary_proj(z)[:, None] * at
        if c.frame_dim and frames is not None:
            at = torch.isfinite(frames).all(dim=-1, keepdim=True)  # (B, T, 1)
            z = self._standardised("frame", torch.nan_to_num(frames), x.dtype)  # (B, T, F)
            x = x + self.frame_proj(z) * at
            if c.frame_velocity:
                x = x + self._frame_velocity_input(frames, at, x.dtype)
        return x

    def _frame_velocity_input(
        self, frames: torch.Tensor, at: torch.Tensor, dtype: torch.dtype
    ) -> torch.Tensor:
        """(B, T, C) projected change of each frame from the one before (0 at a first frame)."""
        change = torch.zeros_like(frames, dtype=dtype)
        change[:, 1:] = (frames[:, 1:] - frames[:, :-1]).to(dtype) / self.frame_velocity_std
        both = at.clone()
        both[:, 0] = False
        both[:, 1:] &= at[:, :-1]  # a frame after a non-frame position has no change
        change = torch.nan_to_num(change).clamp(-LIMIT_Z, LIMIT_Z)
        return self.frame_velocity_proj(change) * both
