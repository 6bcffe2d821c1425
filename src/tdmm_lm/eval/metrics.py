"""Motion and retrieval metrics of SPEC §7, and the confidence interval every figure carries.

Pure NumPy; embeddings are the evaluator's unit-length vectors
(:class:`~tdmm_lm.eval.evaluators.MotionEvaluator`), distances Euclidean, as in Guo et al.
(CVPR 2022), whose protocol these functions follow:

* R-precision: the evaluated pairs are shuffled into groups of 32; each query is ranked
  against the 32 candidates of its group (1 true, 31 mismatched).
* Diversity: the mean distance over 300 random pairs of motions.
* MultiModality: per prompt, the mean distance over 10 random pairs of its generations.

The captioning metrics are in :mod:`tdmm_lm.eval.text_metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "CI_Z",
    "R_PRECISION_GROUP",
    "accuracy",
    "confusion_matrix",
    "diversity",
    "frechet_distance",
    "l2_per_frame",
    "matching_distance",
    "mean_ci",
    "multimodality",
    "prompt_ci",
    "r_precision",
]

#: Candidates per R-precision group (1 true + 31 mismatched).
R_PRECISION_GROUP = 32
#: z of a two-sided 95% normal interval.
CI_Z = 1.96


def mean_ci(values: Sequence[float]) -> dict[str, float | int | None]:
    """Mean and 95% confidence half-width over repeats: ``1.96 * std / sqrt(n)``.

    This is the interval of Guo et al. (the normal approximation over repeated runs).

    Args:
        values: One value per repeat; NaN values (a repeat where the metric was undefined)
            are dropped.

    Returns:
        ``{"mean", "ci95", "n"}``; mean and ci95 are None when no value is finite, ci95 is
        0 for a single repeat.
    """
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return {"mean": None, "ci95": None, "n": 0}
    half = CI_Z * arr.std(ddof=1) / math.sqrt(arr.size) if arr.size > 1 else 0.0
    return {"mean": float(arr.mean()), "ci95": float(half), "n": int(arr.size)}


def prompt_ci(correct: np.ndarray) -> float:
    """95% half-width of an accuracy over the prompts drawn, not over the repeats.

    :func:`mean_ci` over repeats that generate the same prompts anew says how far another
    set of generations could move a figure, not another draw of prompts. Here each prompt's
    share of right generations is one sample, and the interval is ``1.96 * std / sqrt(P)``
    over the P prompts (with replacement, so slightly wide for a subset of a finite split).

    Args:
        correct: (repeats, prompts) booleans or 0/1: generation ``r`` of prompt ``p`` right.

    Returns:
        The half-width; 0 for a single prompt.
    """
    per_prompt = np.asarray(correct, dtype=np.float64).mean(0)
    if per_prompt.size < 2:
        return 0.0
    return float(CI_Z * per_prompt.std(ddof=1) / math.sqrt(per_prompt.size))


def l2_per_frame(generated: np.ndarray, reference: np.ndarray) -> float:
    """Mean over frames of the L2 distance between two parameter sequences.

    Args:
        generated: (T1, D) parameters.
        reference: (T2, D) parameters; both are cut to the shorter length.

    Returns:
        The mean per-frame Euclidean distance over all D channels.
    """
    n = min(len(generated), len(reference))
    if n == 0:
        raise ValueError("l2_per_frame needs sequences with at least one frame")
    diff = np.asarray(generated[:n], np.float64) - np.asarray(reference[:n], np.float64)
    return float(np.linalg.norm(diff, axis=1).mean())


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of embeddings.

    ``|mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))``, as FID. The last trace is
    computed as the sum of the square roots of the eigenvalues of the symmetric matrix
    ``S_a^(1/2) S_b S_a^(1/2)`` (the same eigenvalues as ``S_a S_b``), which is exact for
    covariance matrices, stable when they are singular, and much faster than ``sqrtm``.

    Args:
        a: (N, D) embeddings.
        b: (M, D) embeddings (N, M >= 2).

    Returns:
        The distance (>= 0; 0 for identical sets).
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"frechet_distance needs >= 2 embeddings per set, got {len(a)}, {len(b)}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T  # S_a^(1/2)
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sqrt(np.clip(cross, 0.0, None)).sum()
    value = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root
    return float(max(value, 0.0))


def _distances(queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(N, M) Euclidean distances."""
    sq = (queries**2).sum(1)[:, None] + (candidates**2).sum(1)[None] - 2 * queries @ candidates.T
    return np.sqrt(np.maximum(sq, 0.0))


def r_precision(
    queries: np.ndarray,
    candidates: np.ndarray,
    rng: np.random.Generator,
    group_size: int = R_PRECISION_GROUP,
    top_k: int = 3,
) -> np.ndarray:
    """R-precision in shuffled groups: how often the true candidate ranks in the top k.

    Query ``i`` belongs with candidate ``i``. The pairs are shuffled and cut into groups of
    ``group_size`` (the remainder is dropped; a set smaller than one group is one group);
    each query is ranked by distance against the candidates of its group.

    Args:
        queries: (N, D) embeddings (e.g. motions).
        candidates: (N, D) embeddings (e.g. their texts).
        rng: Source of the shuffle.
        group_size: Candidates per group.
        top_k: The largest k reported.

    Returns:
        (top_k,) float64: R@1 … R@top_k.
    """
    n = len(queries)
    if n != len(candidates) or n == 0:
        raise ValueError(
            f"r_precision needs as many queries as candidates, got {n}, {len(candidates)}"
        )
    size = min(group_size, n)
    order = rng.permutation(n)[: n - n % size]
    hits = np.zeros(top_k)
    for g in range(0, len(order), size):
        idx = order[g : g + size]
        dist = _distances(queries[idx], candidates[idx])  # (size, size)
        # rank of the true candidate: how many candidates are strictly closer
        rank = (dist < np.diag(dist)[:, None]).sum(1)  # (size,)
        hits += [(rank < k).sum() for k in range(1, top_k + 1)]
    return hits / len(order)


def matching_distance(motions: np.ndarray, texts: np.ndarray) -> float:
    """MM-Dist: the mean distance between each motion and its own text, (N, D) each."""
    return float(np.linalg.norm(np.asarray(motions) - np.asarray(texts), axis=1).mean())


def diversity(embeddings: np.ndarray, rng: np.random.Generator, n_pairs: int = 300) -> float:
    """Mean distance between ``n_pairs`` random pairs of distinct motions, (N, D), N >= 2.

    With at least ``2 * n_pairs`` motions the pairs are disjoint (Guo et al.: two random
    subsets of size 300); with fewer, pairs are drawn with replacement.
    """
    n = len(embeddings)
    if n < 2:
        raise ValueError(f"diversity needs >= 2 motions, got {n}")
    if n >= 2 * n_pairs:
        idx = rng.choice(n, size=2 * n_pairs, replace=False)
        first, second = idx[:n_pairs], idx[n_pairs:]
    else:
        first = rng.integers(0, n, size=n_pairs)
        second = (first + rng.integers(1, n, size=n_pairs)) % n  # never the same motion
    return float(np.linalg.norm(embeddings[first] - embeddings[second], axis=1).mean())


def multimodality(embeddings: np.ndarray, rng: np.random.Generator, n_pairs: int = 10) -> float:
    """Mean distance between random pairs of generations of the same prompt.

    Args:
        embeddings: (P, G, D): G >= 2 generations of each of P prompts.
        rng: Source of the pairs.
        n_pairs: Pairs per prompt (disjoint when ``G >= 2 * n_pairs``).

    Returns:
        The mean over prompts and pairs.
    """
    p, g, _ = embeddings.shape
    if g < 2:
        raise ValueError(f"multimodality needs >= 2 generations per prompt, got {g}")
    total = 0.0
    for row in embeddings:
        total += diversity(row, rng, n_pairs)
    return total / p


def accuracy(predicted: Sequence[str], truth: Sequence[str]) -> float:
    """Share of predictions equal to the truth."""
    if len(predicted) != len(truth) or not truth:
        raise ValueError(
            f"accuracy needs equal, non-empty lists, got {len(predicted)}, {len(truth)}"
        )
    return float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)]))


def confusion_matrix(
    predicted: Sequence[str], truth: Sequence[str], classes: Sequence[str]
) -> np.ndarray:
    """(C, C) int64 counts: row = true class, column = predicted class.

    Predictions outside ``classes`` (e.g. a caption the parser found no emotion in) are
    counted in no column, so such a row sums to less than its class's sample count.
    """
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(classes), len(classes) + 1), np.int64)
    for p, t in zip(predicted, truth, strict=True):
        out[index[t], index.get(p, len(classes))] += 1
    return out[:, :-1]
