"""The residual head of a model over code pairs (a two-level tokenizer's frames).

A frame's token is a pair: its coarse code is the vocabulary id at the position, and its
residual code rides along in a parallel input (``idx2``) whose embedding is added. The
output layer names the next coarse code; the head here names the next residual code from
the same final state and the coarse code it refines, plus a copy logit on the frame's own
residual code (see :mod:`tdmm_lm.lm.model` for why the copy pointer is there).
:class:`ResidualHeadMixin` adds the modules and the two methods to
:class:`~tdmm_lm.lm.model.TdmmGPT`; the modules keep the model's attribute names, so stored
weights load unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ResidualHeadMixin"]


class ResidualHeadMixin:
    """Residual-code input, head and copy pointer of :class:`~tdmm_lm.lm.model.TdmmGPT`."""

    config: Any
    residual_in: nn.Embedding
    residual_cond: nn.Embedding
    residual_head: nn.Sequential
    residual_copy: nn.Linear
    residual_same: nn.Parameter

    def _build_residual_head(self, c: Any) -> None:
        """Create the residual modules for a :class:`~tdmm_lm.lm.config.GPTConfig` ``c``."""
        self.residual_in = nn.Embedding(c.residual_codes, c.d_model)
        # The residual head reads the state plus the coarse code it refines.
        self.residual_cond = nn.Embedding(c.motion_codes, c.d_model)
        self.residual_head = nn.Sequential(
            nn.LayerNorm(c.d_model, bias=c.bias),
            nn.Linear(c.d_model, c.d_model, bias=c.bias),
            nn.GELU(),
            nn.Linear(c.d_model, c.residual_codes, bias=False),
        )
        # Copy logit of the frame's own residual code: from the state, plus a learned
        # bonus when the coarse code repeats too.
        self.residual_copy = nn.Linear(c.d_model, 1)
        self.residual_same = nn.Parameter(torch.zeros(()))

    def residual_logits(
        self,
        states: torch.Tensor,
        coarse: torch.Tensor,
        previous: torch.Tensor,
        current: torch.Tensor,
    ) -> torch.Tensor:
        """Residual-code logits of the next frame, (..., K2).

        Args:
            states: (..., C) final states of the positions that predict the frame.
            coarse: (...) the frame's coarse code (0 … K-1).
            previous: (...) the residual code input at those positions (-1 = none).
            current: (...) the token id input at those positions.
        """
        if not self.config.residual_codes:
            raise ValueError("this model reads one code a frame; it has no residual head")
        h = states + self.residual_cond(coarse)
        logits = self.residual_head(h)  # (..., K2)
        same = (coarse == current - self.config.motion_offset).to(h.dtype)
        copy = self.residual_copy(h)[..., 0] + self.residual_same * same  # (...)
        copy = (copy * (previous >= 0)).to(logits.dtype)  # autocast may leave them apart
        return logits.scatter_add(-1, previous.clamp(min=0)[..., None], copy[..., None])

    def residual_loss(
        self,
        states: torch.Tensor,
        coarse: torch.Tensor,
        residual: torch.Tensor,
        previous: torch.Tensor | None,
        current: torch.Tensor,
    ) -> torch.Tensor:
        """Mean cross-entropy of the residual codes where ``residual >= 0``.

        Args:
            states: (B, T, C) final states.
            coarse: (B, T) coarse code of each target frame.
            residual: (B, T) residual code of each target frame, -1 where no loss is taken.
            previous: (B, T) residual code input at each position (None = none).
            current: (B, T) token id input at each position.
        """
        at = residual >= 0  # (B, T)
        if not bool(at.any()):
            return states.sum() * 0.0  # keeps every rank's graph the same shape
        if previous is None:
            previous = torch.full_like(residual, -1)
        logits = self.residual_logits(states[at], coarse[at], previous[at], current[at])
        return F.cross_entropy(logits, residual[at])
