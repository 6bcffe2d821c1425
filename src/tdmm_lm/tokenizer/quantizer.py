"""The codebook: vector quantization with EMA updates, k-means++ init and dead-code reset.

Shapes use B for batch, N for token positions, D for the code dimension and K for the
codebook size. Codes are looked up by Euclidean distance in float32.

The codebook is not trained by gradients. Each training step moves every used code toward
the mean of the encoder outputs assigned to it, by an exponential moving average (EMA) of
the per-code counts and sums (van den Oord et al. 2017, appendix). A code that no vector
chose for ``dead_after`` steps is *dead*: it is moved onto a random encoder output of the
current batch, so that the whole codebook stays in use.

**Sticky assignment.** With ``switch_cost > 0`` a sequence is not quantized frame by frame
but as a whole: :func:`sticky_assign` picks the code path that minimises the summed squared
distance plus ``switch_cost`` times the number of code changes (a Viterbi pass over the
sequence). A token then changes only when the motion has moved far enough to pay for it, so
the stream holds still while the face does and does not flicker between two neighbouring
codes. That flicker carries no motion but is unpredictable, and it is what kept a language
model's next-token accuracy at the stream's repeat rate. The cost is relative: it is
``switch_cost`` times a running mean of the nearest-code distance (``distance_scale``, tracked
in training like a batch-norm statistic and frozen in eval mode), so it keeps its meaning
while the encoder's scale drifts and a sequence's tokens never depend on its batch.
Encoding may use a higher cost than training (``encode_switch_cost``): the codebook is fitted
with one cost, and the stream a language model reads holds still longer with the other.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["EMAQuantizer", "QuantizerOutput", "kmeans_plus_plus", "sticky_assign"]

#: Floor of the EMA counts, so that a code whose count decayed away never divides by zero.
EMA_EPSILON = 1e-5
#: Lloyd iterations after the k-means++ seeding of the codebook.
KMEANS_ITERATIONS = 10


class QuantizerOutput(NamedTuple):
    """What :meth:`EMAQuantizer.forward` returns.

    Attributes:
        quantized: (B, D, N) the chosen codes, with straight-through gradients to the input.
        indices: (B, N) int64 code indices.
        commit_loss: () mean squared distance between the inputs and their codes (valid
            positions only); the gradient reaches the encoder only.
        counts: (K,) float32 how many valid positions chose each code.
    """

    quantized: torch.Tensor
    indices: torch.Tensor
    commit_loss: torch.Tensor
    counts: torch.Tensor


def _squared_distances(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """(M, K) squared Euclidean distances between (M, D) vectors and (K, D) codes."""
    return z.pow(2).sum(1, keepdim=True) - 2.0 * z @ codebook.t() + codebook.pow(2).sum(1)[None, :]


def sticky_assign(
    distances: torch.Tensor, mask: torch.Tensor, switch_cost: float | torch.Tensor
) -> torch.Tensor:
    """Code paths that minimise distance plus a cost per code change (Viterbi).

    The path of a row minimises ``sum_t distances[t, k_t] + switch_cost * #{t: k_t != k_t-1}``
    over its valid positions. Staying on a code is free and switching may land on any code,
    so each step needs only the best cost of the step before: O(N K) per row.

    Args:
        distances: (B, N, K) float32 squared distances of each position to each code.
        mask: (B, N) bool, True at valid positions; padding must come after them (it neither
            costs nor switches, so a row's path is the same alone or in a padded batch).
        switch_cost: Cost of one change of code, in the units of ``distances`` (0 gives
            the nearest code at every position); a (B, N) tensor gives the cost of a change
            into each position (its first column is unused).

    Returns:
        (B, N) int64 code indices (padding repeats the last valid code).
    """
    b, n, k = distances.shape
    if not torch.is_tensor(switch_cost):
        if switch_cost <= 0:
            return distances.argmin(-1)
        switch_cost = torch.full((b, n), float(switch_cost))
    if n < 2:
        return distances.argmin(-1)
    cost = distances[:, 0].clone()  # (B, K): best path cost ending on each code
    stayed = torch.ones(b, n, k, dtype=torch.bool)  # the best path into (t, k) stayed on k
    best_before = torch.zeros(b, n, dtype=torch.long)  # argmin of the costs at t - 1
    for t in range(1, n):
        lowest, best_before[:, t - 1] = cost.min(-1)  # (B,), (B,)
        switch = lowest[:, None] + switch_cost[:, t, None]  # (B, 1)
        stay = cost <= switch  # (B, K)
        valid = mask[:, t, None]  # (B, 1)
        stayed[:, t] = stay | ~valid
        cost = torch.where(valid, torch.where(stay, cost, switch) + distances[:, t], cost)
    path = torch.empty(b, n, dtype=torch.long)
    current = cost.argmin(-1)  # (B,)
    for t in range(n - 1, -1, -1):
        path[:, t] = current
        if t:
            kept = stayed[:, t].gather(1, current[:, None])[:, 0]  # (B,)
            current = torch.where(kept, current, best_before[:, t - 1])
    return path


def kmeans_plus_plus(
    z: torch.Tensor, k: int, generator: torch.Generator, iterations: int = KMEANS_ITERATIONS
) -> torch.Tensor:
    """Cluster vectors with k-means++ seeding followed by Lloyd iterations.

    Args:
        z: (M, D) float32 vectors, M >= k.
        k: Number of clusters.
        generator: Source of randomness (the result is deterministic given its state).
        iterations: Lloyd iterations after seeding.

    Returns:
        (k, D) float32 centroids. An empty cluster keeps its seed.
    """
    m = z.shape[0]
    if m < k:
        raise ValueError(f"k-means needs at least k={k} vectors, got {m}")
    first = torch.randint(m, (1,), generator=generator)
    centres = [z[first]]
    closest = _squared_distances(z, centres[0]).squeeze(1).clamp_min(0)  # (M,)
    for _ in range(1, k):
        # D² sampling: far-away vectors are likely seeds, so seeds spread over the data.
        weights = closest if closest.sum() > 0 else torch.ones_like(closest)
        pick = torch.multinomial(weights, 1, generator=generator)
        centres.append(z[pick])
        closest = torch.minimum(closest, _squared_distances(z, z[pick]).squeeze(1).clamp_min(0))
    codebook = torch.cat(centres)  # (k, D)
    for _ in range(iterations):
        assign = _squared_distances(z, codebook).argmin(1)  # (M,)
        sums = torch.zeros_like(codebook).index_add_(0, assign, z)
        counts = torch.bincount(assign, minlength=k).to(z.dtype)
        filled = counts > 0
        codebook[filled] = sums[filled] / counts[filled, None]
    return codebook


class EMAQuantizer(nn.Module):
    """A codebook of K codes of dimension D, updated by EMA, with dead-code reset.

    All state is in buffers, so a checkpoint of the module's ``state_dict`` restores the
    codebook, its EMA statistics and the dead-code counters exactly.

    Args:
        codebook_size: K.
        code_dim: D.
        decay: EMA decay of the counts and sums (0.99: a code follows its cluster's mean
            over about a hundred steps).
        dead_after: A code unused for this many consecutive training steps is reset.
        switch_cost: Cost of a change of code, in units of ``distance_scale`` (0 = assign
            each position its nearest code; see :func:`sticky_assign`).
        encode_switch_cost: The cost in eval mode, when encoding (None: ``switch_cost``).
            The codebook is fitted with ``switch_cost``; a higher cost at encoding gives a
            stream that holds still longer from the same codes.
    """

    def __init__(
        self,
        codebook_size: int,
        code_dim: int,
        decay: float,
        dead_after: int,
        switch_cost: float = 0.0,
        encode_switch_cost: float | None = None,
    ) -> None:
        super().__init__()
        self.codebook_size = codebook_size
        self.code_dim = code_dim
        self.decay = decay
        self.dead_after = dead_after
        self.switch_cost = switch_cost
        self.encode_switch_cost = encode_switch_cost
        self.register_buffer("codebook", torch.randn(codebook_size, code_dim) * 0.1)
        self.register_buffer("ema_count", torch.ones(codebook_size))
        self.register_buffer("ema_sum", self.codebook.clone())
        self.register_buffer("unused_steps", torch.zeros(codebook_size, dtype=torch.int64))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))
        self.register_buffer("resets", torch.zeros((), dtype=torch.int64))
        # Running mean of the squared distance to the nearest code: the unit of switch_cost.
        self.register_buffer("distance_scale", torch.ones(()))

    def lookup(self, z: torch.Tensor) -> torch.Tensor:
        """Nearest code indices.

        Args:
            z: (M, D) float32 vectors.

        Returns:
            (M,) int64 indices into the codebook.
        """
        return _squared_distances(z, self.codebook).argmin(1)

    def nearest_distances(self, z: torch.Tensor) -> torch.Tensor:
        """(M, D) vectors -> (M,) squared distance of each to its nearest code."""
        return _squared_distances(z, self.codebook).min(1).values.clamp_min(0.0)

    def assign(
        self,
        z: torch.Tensor,
        mask: torch.Tensor,
        update_scale: bool = False,
        cost_factor: torch.Tensor | None = None,
        encoding: bool | None = None,
    ) -> torch.Tensor:
        """Code indices of whole sequences, sticky when the switch cost is above 0.

        Args:
            z: (B, N, D) float32 vectors.
            mask: (B, N) bool, True at valid positions (padding after them).
            update_scale: Move ``distance_scale`` toward this batch's mean nearest distance
                (training only).
            cost_factor: (B, N) multipliers of the switch cost of a change into each
                position (None: 1 everywhere).
            encoding: Use ``encode_switch_cost`` (when set) instead of ``switch_cost``; None
                means in eval mode.

        Returns:
            (B, N) int64 indices into the codebook.
        """
        b, n, d = z.shape
        distances = _squared_distances(z.reshape(b * n, d), self.codebook).reshape(b, n, -1)
        if update_scale and bool(mask.any()):
            nearest = distances.min(-1).values[mask].mean()
            self.distance_scale.mul_(self.decay).add_(nearest, alpha=1 - self.decay)
        encoding = not self.training if encoding is None else encoding
        relative = self.switch_cost
        if encoding and self.encode_switch_cost is not None:
            relative = self.encode_switch_cost
        cost = relative * float(self.distance_scale)
        if cost_factor is not None and cost > 0:
            return sticky_assign(distances, mask, cost * cost_factor.float())
        return sticky_assign(distances, mask, cost)

    def embed(self, indices: torch.Tensor) -> torch.Tensor:
        """Codes for indices.

        Args:
            indices: (B, N) int64.

        Returns:
            (B, D, N) float32 codes.
        """
        return F.embedding(indices, self.codebook).transpose(1, 2)  # (B, D, N)

    @torch.no_grad()
    def initialise(self, z: torch.Tensor, generator: torch.Generator) -> None:
        """Set the codebook to k-means++ centroids of encoder outputs.

        Args:
            z: (M, D) encoder outputs, M >= K.
            generator: Source of randomness.
        """
        codebook = kmeans_plus_plus(z.float(), self.codebook_size, generator)
        self.codebook.copy_(codebook)
        self.ema_sum.copy_(codebook)
        self.ema_count.fill_(1.0)
        self.unused_steps.zero_()
        self.distance_scale.copy_(_squared_distances(z.float(), codebook).min(1).values.mean())
        self.initialised.fill_(True)

    def forward(
        self,
        z: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
        cost_factor: torch.Tensor | None = None,
    ) -> QuantizerOutput:
        """Quantize encoder outputs; in training mode, also update the codebook.

        Args:
            z: (B, D, N) encoder outputs.
            mask: (B, N) bool, True at valid positions (padding is neither counted nor
                used to update the codebook).
            generator: Randomness for dead-code reset (training only).
            cost_factor: (B, N) per-position multipliers of the switch cost (see ``assign``).

        Returns:
            A :class:`QuantizerOutput`.
        """
        b, d, n = z.shape
        flat = z.transpose(1, 2).reshape(b * n, d)  # (B*N, D)
        valid = mask.reshape(b * n)  # (B*N,)
        with torch.no_grad():
            latents = flat.detach().float().reshape(b, n, d)
            indices = self.assign(latents, mask, self.training, cost_factor).reshape(b * n)
        counts = torch.bincount(indices[valid], minlength=self.codebook_size).float()  # (K,)
        if self.training:
            self._ema_update(flat.detach()[valid].float(), indices[valid], counts, generator)
        codes = F.embedding(indices, self.codebook)  # (B*N, D)
        weight = valid.float()[:, None]
        commit = ((flat - codes.detach()).pow(2) * weight).sum() / (weight.sum() * d).clamp_min(1)
        quantized = flat + (codes - flat).detach()  # straight-through estimator
        quantized = quantized.reshape(b, n, d).transpose(1, 2)  # (B, D, N)
        return QuantizerOutput(quantized, indices.reshape(b, n), commit, counts)

    @torch.no_grad()
    def _ema_update(
        self,
        z: torch.Tensor,
        indices: torch.Tensor,
        counts: torch.Tensor,
        generator: torch.Generator | None,
    ) -> None:
        """EMA step of counts and sums, then reset of the dead codes.

        Args:
            z: (M, D) valid encoder outputs.
            indices: (M,) their code indices.
            counts: (K,) how many of them chose each code.
            generator: Randomness for choosing the replacement vectors.
        """
        sums = torch.zeros_like(self.ema_sum).index_add_(0, indices, z)  # (K, D)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        # Counts and sums decay together, so an unused code keeps its place.
        self.codebook.copy_(self.ema_sum / self.ema_count.clamp_min(EMA_EPSILON)[:, None])
        self.unused_steps.add_(1).masked_fill_(counts > 0, 0)
        dead = torch.nonzero(self.unused_steps >= self.dead_after).squeeze(1)  # (R,)
        if len(dead) and len(z):
            self.reset_codes(dead, z, generator)

    @torch.no_grad()
    def reset_codes(
        self, codes: torch.Tensor, z: torch.Tensor, generator: torch.Generator | None
    ) -> None:
        """Move codes onto random encoder outputs (with their EMA statistics).

        Args:
            codes: (R,) int64 indices of the codes to reset.
            z: (M, D) encoder outputs to draw from (without replacement when M >= R).
            generator: Source of randomness.
        """
        r = len(codes)
        if len(z) >= r:
            pick = torch.randperm(len(z), generator=generator)[:r]
        else:
            pick = torch.randint(len(z), (r,), generator=generator)
        self.codebook[codes] = z[pick]
        self.ema_sum[codes] = z[pick]
        self.ema_count[codes] = 1.0
        self.unused_steps[codes] = 0
        self.resets.add_(r)
