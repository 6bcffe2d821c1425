"""The codebook: vector quantization with EMA updates, k-means++ init and dead-code reset.

Shapes use B for batch, N for token positions, D for the code dimension and K for the
codebook size. Codes are looked up by Euclidean distance in float32.

**Product codes.** With ``groups = G > 1`` the code vector is cut into G equal parts, each
quantized by its own sub-codebook of ``k = K ** (1 / G)`` codes, and a token names one code
of every part: its id is the parts' indices read as the digits of a base-``k`` number, so
there is still exactly one token per position and K of them in all. Facial motion is a
product of nearly independent factors (head pose, gaze, blinks, brows, mouth), and a single
codebook of K codes must spend a code on every combination it meets; a product codebook gets
K combinations out of G * k codes, so brief, local events such as blinks keep a place of
their own instead of being averaged away.

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


def sticky_assign(distances: torch.Tensor, mask: torch.Tensor, switch_cost: float) -> torch.Tensor:
    """Code paths that minimise distance plus a cost per code change (Viterbi).

    The path of a row minimises ``sum_t distances[t, k_t] + switch_cost * #{t: k_t != k_t-1}``
    over its valid positions. Staying on a code is free and switching may land on any code,
    so each step needs only the best cost of the step before: O(N K) per row.

    Args:
        distances: (B, N, K) float32 squared distances of each position to each code.
        mask: (B, N) bool, True at valid positions; padding must come after them (it neither
            costs nor switches, so a row's path is the same alone or in a padded batch).
        switch_cost: Cost of one change of code, in the units of ``distances`` (0 gives
            the nearest code at every position).

    Returns:
        (B, N) int64 code indices (padding repeats the last valid code).
    """
    b, n, k = distances.shape
    if switch_cost <= 0 or n < 2:
        return distances.argmin(-1)
    cost = distances[:, 0].clone()  # (B, K): best path cost ending on each code
    stayed = torch.ones(b, n, k, dtype=torch.bool)  # the best path into (t, k) stayed on k
    best_before = torch.zeros(b, n, dtype=torch.long)  # argmin of the costs at t - 1
    for t in range(1, n):
        lowest, best_before[:, t - 1] = cost.min(-1)  # (B,), (B,)
        switch = lowest[:, None] + switch_cost  # (B, 1)
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
    """K tokens over a code of dimension D, updated by EMA, with dead-code reset.

    All state is in buffers, so a checkpoint of the module's ``state_dict`` restores the
    codebook, its EMA statistics and the dead-code counters exactly. The sub-codebooks are
    stacked in one ``codebook`` buffer of shape (G * k, D / G): group g holds rows
    ``g * k … (g + 1) * k - 1``.

    Args:
        codebook_size: K, the number of tokens; with G groups it must be ``k ** G``.
        code_dim: D; with G groups it must be divisible by G.
        decay: EMA decay of the counts and sums (0.99: a code follows its cluster's mean
            over about a hundred steps).
        dead_after: A code unused for this many consecutive training steps is reset.
        switch_cost: Cost of a change of token, in units of ``distance_scale`` (0 = assign
            each position its nearest code; see :func:`sticky_assign`).
        groups: G, the number of parts of a product code (1 = one plain codebook).
    """

    def __init__(
        self,
        codebook_size: int,
        code_dim: int,
        decay: float,
        dead_after: int,
        switch_cost: float = 0.0,
        groups: int = 1,
    ) -> None:
        super().__init__()
        k = round(codebook_size ** (1.0 / groups))
        if k**groups != codebook_size or code_dim % groups:
            raise ValueError(
                f"{groups} groups need a codebook size that is a {groups}-th power and a code "
                f"dimension divisible by {groups}, got {codebook_size} and {code_dim}"
            )
        self.codebook_size = codebook_size
        self.code_dim = code_dim
        self.decay = decay
        self.dead_after = dead_after
        self.switch_cost = switch_cost
        self.groups = groups
        self.group_size = k  # sub-codes per group
        rows, width = groups * k, code_dim // groups
        self.register_buffer("codebook", torch.randn(rows, width) * 0.1)
        self.register_buffer("ema_count", torch.ones(rows))
        self.register_buffer("ema_sum", self.codebook.clone())
        self.register_buffer("unused_steps", torch.zeros(rows, dtype=torch.int64))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))
        self.register_buffer("resets", torch.zeros((), dtype=torch.int64))
        # Running mean of the squared distance to the nearest token: the unit of switch_cost.
        self.register_buffer("distance_scale", torch.ones(()))
        # Digit weights of a token id: k ** (G - 1), …, k, 1.
        self.register_buffer(
            "place", k ** torch.arange(groups - 1, -1, -1, dtype=torch.int64), persistent=False
        )

    # -- tokens <-> group indices

    def _split(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) vectors -> (..., G, D / G) parts."""
        return z.reshape(*z.shape[:-1], self.groups, self.code_dim // self.groups)

    def _digits(self, tokens: torch.Tensor) -> torch.Tensor:
        """(...) token ids -> (..., G) rows of the stacked codebook (group offsets added)."""
        digits = (tokens[..., None] // self.place) % self.group_size  # (..., G)
        return digits + self.group_size * torch.arange(self.groups, device=tokens.device)

    def distances(self, z: torch.Tensor) -> torch.Tensor:
        """(M, D) vectors -> (M, K) squared distances to every token's code."""
        parts = self._split(z.float())  # (M, G, d)
        books = self.codebook.reshape(self.groups, self.group_size, -1)  # (G, k, d)
        total = z.new_zeros(len(z), 1)
        for g in range(self.groups):
            part = _squared_distances(parts[:, g], books[g])  # (M, k)
            total = (total[:, :, None] + part[:, None, :]).reshape(len(z), -1)  # (M, k ** g)
        return total

    def lookup(self, z: torch.Tensor) -> torch.Tensor:
        """Nearest token ids of (M, D) float32 vectors: (M,) int64."""
        return self.distances(z).argmin(1)

    def assign(
        self, z: torch.Tensor, mask: torch.Tensor, update_scale: bool = False
    ) -> torch.Tensor:
        """Token ids of whole sequences, sticky when ``switch_cost > 0``.

        Args:
            z: (B, N, D) float32 vectors.
            mask: (B, N) bool, True at valid positions (padding after them).
            update_scale: Move ``distance_scale`` toward this batch's mean nearest distance
                (training only).

        Returns:
            (B, N) int64 token ids in [0, K).
        """
        b, n, d = z.shape
        distances = self.distances(z.reshape(b * n, d)).reshape(b, n, -1)  # (B, N, K)
        if update_scale and bool(mask.any()):
            nearest = distances.min(-1).values[mask].mean()
            self.distance_scale.mul_(self.decay).add_(nearest, alpha=1 - self.decay)
        cost = self.switch_cost * float(self.distance_scale)
        return sticky_assign(distances, mask, cost)

    def embed(self, indices: torch.Tensor) -> torch.Tensor:
        """Codes of token ids: (B, N) int64 -> (B, D, N) float32."""
        b, n = indices.shape
        codes = F.embedding(self._digits(indices), self.codebook)  # (B, N, G, d)
        return codes.reshape(b, n, self.code_dim).transpose(1, 2)

    @torch.no_grad()
    def initialise(self, z: torch.Tensor, generator: torch.Generator) -> None:
        """Set each sub-codebook to k-means++ centroids of its part of encoder outputs.

        Args:
            z: (M, D) encoder outputs, M >= k.
            generator: Source of randomness.
        """
        parts = self._split(z.float())  # (M, G, d)
        books = [
            kmeans_plus_plus(parts[:, g], self.group_size, generator) for g in range(self.groups)
        ]
        self.codebook.copy_(torch.cat(books))
        self.ema_sum.copy_(self.codebook)
        self.ema_count.fill_(1.0)
        self.unused_steps.zero_()
        self.distance_scale.copy_(self.distances(z).min(1).values.mean())
        self.initialised.fill_(True)

    def forward(
        self, z: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None
    ) -> QuantizerOutput:
        """Quantize encoder outputs; in training mode, also update the codebook.

        Args:
            z: (B, D, N) encoder outputs.
            mask: (B, N) bool, True at valid positions (padding is neither counted nor
                used to update the codebook).
            generator: Randomness for dead-code reset (training only).

        Returns:
            A :class:`QuantizerOutput`.
        """
        b, d, n = z.shape
        flat = z.transpose(1, 2).reshape(b * n, d)  # (B*N, D)
        valid = mask.reshape(b * n)  # (B*N,)
        with torch.no_grad():
            latents = flat.detach().float().reshape(b, n, d)
            indices = self.assign(latents, mask, update_scale=self.training).reshape(b * n)
        counts = torch.bincount(indices[valid], minlength=self.codebook_size).float()  # (K,)
        if self.training:
            self._ema_update(flat.detach()[valid].float(), indices[valid], generator)
        codes = self.embed(indices[None]).transpose(1, 2)[0]  # (B*N, D)
        weight = valid.float()[:, None]
        commit = ((flat - codes.detach()).pow(2) * weight).sum() / (weight.sum() * d).clamp_min(1)
        quantized = flat + (codes - flat).detach()  # straight-through estimator
        quantized = quantized.reshape(b, n, d).transpose(1, 2)  # (B, D, N)
        return QuantizerOutput(quantized, indices.reshape(b, n), commit, counts)

    @torch.no_grad()
    def _ema_update(
        self, z: torch.Tensor, indices: torch.Tensor, generator: torch.Generator | None
    ) -> None:
        """EMA step of every sub-code's count and sum, then reset of the dead sub-codes.

        Args:
            z: (M, D) valid encoder outputs.
            indices: (M,) their token ids.
            generator: Randomness for choosing the replacement vectors.
        """
        rows = self._digits(indices).reshape(-1)  # (M * G,) rows of the stacked codebook
        parts = self._split(z).reshape(-1, self.code_dim // self.groups)  # (M * G, d)
        counts = torch.bincount(rows, minlength=len(self.codebook)).to(z.dtype)
        sums = torch.zeros_like(self.ema_sum).index_add_(0, rows, parts)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        # Counts and sums decay together, so an unused code keeps its place.
        self.codebook.copy_(self.ema_sum / self.ema_count.clamp_min(EMA_EPSILON)[:, None])
        self.unused_steps.add_(1).masked_fill_(counts > 0, 0)
        dead = torch.nonzero(self.unused_steps >= self.dead_after).squeeze(1)  # (R,)
        if len(dead) and len(z):
            self.reset_codes(dead, self._split(z), generator)

    @torch.no_grad()
    def reset_codes(
        self, rows: torch.Tensor, parts: torch.Tensor, generator: torch.Generator | None
    ) -> None:
        """Move sub-codes onto random encoder outputs' parts (with their EMA statistics).

        Args:
            rows: (R,) int64 rows of the stacked codebook to reset.
            parts: (M, G, D / G) encoder outputs cut into parts, to draw from (without
                replacement when M >= R).
            generator: Source of randomness.
        """
        r, m = len(rows), len(parts)
        if m >= r:
            pick = torch.randperm(m, generator=generator)[:r]
        else:
            pick = torch.randint(m, (r,), generator=generator)
        new = parts[pick, rows // self.group_size]  # (R, d): each row from its own group
        self.codebook[rows] = new
        self.ema_sum[rows] = new
        self.ema_count[rows] = 1.0
        self.unused_steps[rows] = 0
        self.resets.add_(r)
