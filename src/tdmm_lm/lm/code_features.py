"""Motion tokens that know what they stand for: the code-feature input and output of the model.

When ``GPTConfig.motion_feature_dim > 0`` each motion token carries a fixed feature vector
(:meth:`~tdmm_lm.tokenizer.MotionTokenizer.code_features`: its code vector and the blendshapes
and angles it decodes to). :class:`CodeFeaturesMixin` projects those features into the stream
on the way in (added to the token embedding) and scores states against them on the way out
(added to the output layer's motion rows). The mixin also owns the output layer itself,
:meth:`CodeFeaturesMixin.head`, because decoding folds the feature keys into its weight.
The modules keep the model's attribute names, so stored weights load unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["CodeFeaturesMixin"]


class CodeFeaturesMixin:
    """Code-feature projections and the output head of :class:`~tdmm_lm.lm.model.TdmmGPT`."""

    config: Any
    lm_head: nn.Linear
    motion_in: nn.Linear
    motion_out: nn.Linear
    motion_features: torch.Tensor
    _head_cache: tuple[tuple, torch.Tensor] | None

    def _build_code_features(self, c: Any) -> None:
        """Create the (K, F) feature buffer and its two projections for a ``GPTConfig``."""
        # (K, F) code vectors of the motion tokens, set by set_motion_features.
        self.register_buffer("motion_features", torch.zeros(c.motion_codes, c.motion_feature_dim))
        self.motion_in = nn.Linear(c.motion_feature_dim, c.d_model, bias=False)
        self.motion_out = nn.Linear(c.motion_feature_dim, c.d_model, bias=False)

    def _init_code_features(self, c: Any, init_std: float) -> None:
        """Scale the projections' initialisation to the features' width.

        Standardised features through an ``init_std`` projection would outweigh the token
        embeddings sqrt(F)-fold (measured: slower Motion2Language); scaled down, they enter
        at the embeddings' own size.
        """
        std = init_std / math.sqrt(c.motion_feature_dim)
        nn.init.normal_(self.motion_in.weight, mean=0.0, std=std)
        nn.init.normal_(self.motion_out.weight, mean=0.0, std=std)

    def set_motion_features(self, features: torch.Tensor) -> None:
        """Set the (K, F) code features of the motion tokens (standardised per column)."""
        features = features.float()
        features = (features - features.mean(0)) / features.std(0).clamp_min(1e-6)
        self.motion_features.copy_(features)

    def code_feature_input(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> (B, T, C) projected features of the motion ids (zero elsewhere)."""
        c = self.config
        code = idx - c.motion_offset
        is_motion = (code >= 0) & (code < c.motion_codes)  # (B, T)
        feats = self.motion_features[code.clamp(0, c.motion_codes - 1)]  # (B, T, F)
        return self.motion_in(feats) * is_motion[..., None]

    def _motion_logits(self, x: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
        """(B, T, C) states -> (B, T, hi - lo) feature scores of the ids [lo, hi)."""
        c = self.config
        first, last = max(lo, c.motion_offset), min(hi, c.motion_offset + c.motion_codes)
        scores = x.new_zeros(*x.shape[:2], hi - lo)
        if first < last:
            keys = self.motion_out(
                self.motion_features[first - c.motion_offset : last - c.motion_offset]
            )
            scores[..., first - lo : last - lo] = x @ keys.t()  # (B, T, n)
        return scores

    def head(self, x: torch.Tensor, lo: int = 0, hi: int | None = None) -> torch.Tensor:
        """Output logits of the ids ``[lo, hi)`` (all by default) for (B, T, C) states."""
        hi = self.config.vocab_size if hi is None else hi
        if not torch.is_grad_enabled():  # decoding: one product with the folded weight
            return F.linear(x, self._inference_head_weight()[lo:hi])
        logits = F.linear(x, self.lm_head.weight[lo:hi])  # (B, T, hi - lo)
        if self.config.motion_feature_dim:
            logits = logits + self._motion_logits(x, lo, hi)
        return logits

    def _inference_head_weight(self) -> torch.Tensor:
        """(V, C) output weight with the motion rows' feature keys folded in, cached.

        The keys project all K code features (K x F x C multiply-adds), which cost a decoding
        pass as much as the transformer itself; they change only when the weights do, so
        they are recomputed only when a weight's in-place version or storage changes.
        Inference tensors (made under ``torch.inference_mode``) have no version; they can be
        changed in place only in that mode, which loading and decoding never do. A change
        through ``.data`` bypasses versions: ``train()`` or ``eval()`` after it empties the
        cache.
        """
        parts = [self.lm_head.weight]
        if self.config.motion_feature_dim:
            parts += [self.motion_out.weight, self.motion_features]
        stamp = tuple(
            (t.data_ptr(), -1 if t.is_inference() else t._version, t.dtype) for t in parts
        )
        if self._head_cache is not None and self._head_cache[0] == stamp:
            return self._head_cache[1]
        weight = self.lm_head.weight.detach().clone()
        if self.config.motion_feature_dim:
            c = self.config
            keys = self.motion_out(self.motion_features)  # (K, C)
            weight[c.motion_offset : c.motion_offset + c.motion_codes] += keys
        self._head_cache = (stamp, weight)
        return weight
