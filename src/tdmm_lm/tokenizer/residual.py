"""A two-level residual codebook: a frame's token is a pair (coarse code, residual code).

One code of 1024 per frame cannot hold a 22-way emotion on top of head pose, gaze and
speech. Measured on the release corpus with the shipped emotion classifier, which names the
emotion of 95 % of 300 test clips: after an encode-decode round trip through one codebook
it names 55 %, and the unquantized encoder output keeps 93 %, so the codebook is what loses
it. More codes in one level help little (2048: 64 %, 4096: 66 %, with a third of the codes
left unused on test). A second codebook that quantizes what the first one leaves (residual
vector quantization, as in SoundStream and MoMask) keeps 84 % with 1024 + 1024 codes (the
``residual`` recipe, trained on the release corpus), for the same sequence length: both
codes belong to one frame.

Further levels (``levels`` above 1) each quantize what all the levels before them leave; a
frame's token then holds 1 + ``levels`` codes. The language model reads pairs only: the
further levels measure what finer quantization would keep of the evaluators' figures.

:class:`ResidualQuantizer` has the interface of :class:`~tdmm_lm.tokenizer.quantizer.EMAQuantizer`
with indices that carry a trailing level axis of 1 + ``levels`` (2 by default). The first
level alone is the coarse motion: ``novelty``, ``codebook`` and ``nearest_distances`` are
the first level's, and :meth:`ResidualQuantizer.embed` of level-1 indices alone gives the
coarse code.
"""

from __future__ import annotations

import torch
from torch import nn

from tdmm_lm.tokenizer.quantizer import EMAQuantizer, QuantizerOutput

__all__ = ["ResidualQuantizer"]


class ResidualQuantizer(nn.Module):
    """A coarse EMA codebook and a second one over what the first leaves.

    Both levels update by EMA and reset dead codes on their own (see ``EMAQuantizer``), and
    both are sticky with the same relative ``switch_cost``: each level's tokens change only
    when its own input has moved far enough, in units of that level's distances.

    When encoding (eval mode), ``hold_factor`` multiplies the residual level's switch cost at
    frames where the coarse code holds. Above 1 the residual code tends to change together
    with the coarse one, so that a frame's pair either repeats whole or changes: a language
    model then has one event to predict instead of two at different frames. Training fits
    the codebooks without it: fitted with it at 6 (and a switch cost of 3), the round trip
    kept the emotion of 78 % of 300 test clips, against 85 % for codebooks fitted at the
    plain cost of 2 and encoded with these two.

    Args:
        codebook_size: K1, codes of the first level.
        residual_size: K2, codes of the second level.
        code_dim: D.
        decay: EMA decay of both codebooks.
        dead_after: Steps without use after which a code of either level is reset.
        switch_cost: Relative cost of a code change, per level.
        encode_switch_cost: The relative cost when encoding (None: ``switch_cost``).
        hold_factor: Multiplier of the residual level's switch cost, when encoding, where
            the coarse code holds (1: the levels switch independently). Further levels
            switch independently.
        levels: Residual codebooks after the first, each of ``residual_size`` codes.
    """

    def __init__(
        self,
        codebook_size: int,
        residual_size: int,
        code_dim: int,
        decay: float,
        dead_after: int,
        switch_cost: float = 0.0,
        encode_switch_cost: float | None = None,
        hold_factor: float = 1.0,
        levels: int = 1,
    ) -> None:
        super().__init__()
        costs = (switch_cost, encode_switch_cost)
        self.first = EMAQuantizer(codebook_size, code_dim, decay, dead_after, *costs)
        self.residual = EMAQuantizer(residual_size, code_dim, decay, dead_after, *costs)
        # Levels 3 and on; empty by default, so a pair tokenizer's weights keep their names.
        self.finer = nn.ModuleList(
            EMAQuantizer(residual_size, code_dim, decay, dead_after, *costs)
            for _ in range(levels - 1)
        )
        self.codebook_size = codebook_size
        self.residual_size = residual_size
        self.hold_factor = hold_factor

    def _residual_cost_factor(self, first: torch.Tensor, encoding: bool) -> torch.Tensor | None:
        """(B, N) coarse indices -> per-frame multipliers of the residual switch cost."""
        if not encoding or self.hold_factor == 1.0:
            return None
        factor = torch.full(first.shape, self.hold_factor)
        factor[:, 1:][first[:, 1:] != first[:, :-1]] = 1.0
        return factor

    @property
    def residual_levels(self) -> list[EMAQuantizer]:
        """The codebooks after the first, in order."""
        return [self.residual, *self.finer]

    @property
    def initialised(self) -> torch.Tensor:
        """() bool: every codebook has been initialised."""
        done = self.first.initialised
        for level in self.residual_levels:
            done = done & level.initialised
        return done

    @property
    def codebook(self) -> torch.Tensor:
        """(K1, D) the first level's codes."""
        return self.first.codebook

    @property
    def distance_scale(self) -> torch.Tensor:
        """The first level's running mean nearest-code distance."""
        return self.first.distance_scale

    def nearest_distances(self, z: torch.Tensor) -> torch.Tensor:
        """(M, D) vectors -> (M,) squared distance of each to its nearest first-level code."""
        return self.first.nearest_distances(z)

    @torch.no_grad()
    def initialise(self, z: torch.Tensor, generator: torch.Generator) -> None:
        """k-means++ on encoder outputs, then on what each level leaves of them.

        Args:
            z: (M, D) encoder outputs, M >= max(K1, K2).
            generator: Source of randomness.
        """
        left = z.float()
        for level in (self.first, *self.residual_levels):
            level.initialise(left, generator)
            left = left - level.codebook[level.lookup(left)]

    def assign(
        self,
        z: torch.Tensor,
        mask: torch.Tensor,
        update_scale: bool = False,
        encoding: bool | None = None,
    ) -> torch.Tensor:
        """(B, N, D) vectors, (B, N) mask -> (B, N, L) code indices of every level.

        ``encoding`` applies the encoding costs and the hold factor (None: in eval mode).
        """
        encoding = not self.training if encoding is None else encoding
        first = self.first.assign(z, mask, update_scale, encoding=encoding)
        left = z - self.first.codebook[first]
        factor = self._residual_cost_factor(first, encoding)
        indices = [first, self.residual.assign(left, mask, update_scale, factor, encoding)]
        previous = self.residual
        for level in self.finer:
            left = left - previous.codebook[indices[-1]]
            indices.append(level.assign(left, mask, update_scale, None, encoding))
            previous = level
        return torch.stack(indices, dim=-1)

    def embed(self, indices: torch.Tensor) -> torch.Tensor:
        """Codes for indices, as (B, D, N).

        (B, N, L) indices give the sum of every level's codes; (B, N) first-level indices
        alone give their coarse codes.
        """
        if indices.dim() == 2:
            return self.first.embed(indices)
        levels = (self.first, *self.residual_levels)
        return sum(level.embed(indices[..., k]) for k, level in enumerate(levels))

    def forward(
        self, z: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None
    ) -> QuantizerOutput:
        """Quantize (B, D, N) encoder outputs level by level; in training, update each.

        Returns:
            A :class:`QuantizerOutput` whose ``indices`` are (B, N, L), whose ``quantized``
            is the sum of every level's codes (straight-through to ``z``), whose
            ``commit_loss`` is the sum of the levels' and whose ``counts`` are the first
            level's.
        """
        first = self.first(z, mask, generator)
        coarse = first.quantized.detach()  # the first level's code vectors
        left = z - coarse  # gradients reach the encoder through the second commitment too
        factor = self._residual_cost_factor(first.indices, not self.training)
        second = self.residual(left, mask, generator, factor)
        total = coarse + second.quantized.detach()
        indices, commit = [first.indices, second.indices], first.commit_loss + second.commit_loss
        for level in self.finer:
            out = level(z - total, mask, generator)
            total = total + out.quantized.detach()
            indices.append(out.indices)
            commit = commit + out.commit_loss
        quantized = z + (total - z).detach()  # straight-through estimator
        return QuantizerOutput(quantized, torch.stack(indices, dim=-1), commit, first.counts)
