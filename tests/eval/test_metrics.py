"""Motion and retrieval metrics on hand-computable cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tdmm_lm.eval import metrics as mx


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_mean_ci_is_the_normal_interval_over_repeats():
    out = mx.mean_ci([1.0, 2.0, 3.0, 4.0])
    assert out["mean"] == 2.5 and out["n"] == 4
    assert out["ci95"] == pytest.approx(1.96 * np.std([1, 2, 3, 4], ddof=1) / 2)
    assert mx.mean_ci([0.7]) == {"mean": 0.7, "ci95": 0.0, "n": 1}
    assert mx.mean_ci([float("nan"), None]) == {"mean": None, "ci95": None, "n": 0}


def test_prompt_ci_is_over_the_prompts_not_the_repeats():
    # Two repeats of four prompts: each prompt's share of right generations is a sample.
    correct = np.array([[1, 0, 1, 1], [1, 0, 0, 1]], dtype=bool)
    shares = np.array([1.0, 0.0, 0.5, 1.0])
    assert mx.prompt_ci(correct) == pytest.approx(1.96 * shares.std(ddof=1) / 2)
    # Repeats that agree give mean_ci a zero width; other prompts could still move the figure.
    assert mx.mean_ci(correct[:, :2].mean(1))["ci95"] == 0.0
    assert mx.prompt_ci(correct[:, :2]) > 0.0
    assert mx.prompt_ci(np.ones((3, 5), bool)) == 0.0
    assert mx.prompt_ci(np.ones((3, 1), bool)) == 0.0


def test_l2_per_frame():
    a = np.zeros((4, 61), np.float32)
    b = np.zeros((5, 61), np.float32)
    b[:, 0], b[:, 1] = 3.0, 4.0  # every frame 5 away; the fifth frame is cut
    assert mx.l2_per_frame(a, b) == pytest.approx(5.0)
    assert mx.l2_per_frame(b, b) == 0.0


def test_frechet_distance_of_identical_and_shifted_sets():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 8))
    assert mx.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # shifting every point by d moves only the means: FD = |d|^2
    assert mx.frechet_distance(a, a + 2.0) == pytest.approx(8 * 4.0, rel=1e-6)
    # fewer points than dimensions: a singular covariance still gives a finite value
    assert math.isfinite(mx.frechet_distance(a[:5], a[5:10]))


def test_r_precision_perfect_random_and_reversed():
    rng = np.random.default_rng(0)
    emb = unit(rng.normal(size=(64, 16)))
    assert mx.r_precision(emb, emb, rng).tolist() == [1.0, 1.0, 1.0]
    # the true candidate is always the farthest one: never in the top 3 of 32
    assert mx.r_precision(emb, -emb, rng).tolist() == [0.0, 0.0, 0.0]
    hits = mx.r_precision(emb, unit(rng.normal(size=(64, 16))), rng)
    assert hits[0] <= hits[1] <= hits[2] < 0.5


def test_r_precision_groups_of_32_drop_the_remainder():
    # 40 pairs: one group of 32; pairs 32..39 are wrong but only dropped ones are wrong
    q = np.eye(40)
    c = np.eye(40)
    order = np.random.default_rng(1).permutation(40)
    kept = set(order[:32].tolist())
    c[[i for i in range(40) if i not in kept]] *= -1
    hits = mx.r_precision(q, c, np.random.default_rng(1))
    assert hits[0] == 1.0


def test_matching_diversity_and_multimodality():
    motions = np.array([[0.0, 0.0], [3.0, 4.0]])
    texts = np.array([[0.0, 1.0], [3.0, 4.0]])
    assert mx.matching_distance(motions, texts) == pytest.approx(0.5)
    # two motions 5 apart: every pair is that pair
    assert mx.diversity(motions, np.random.default_rng(0), 300) == pytest.approx(5.0)
    same = np.zeros((3, 30, 4))
    assert mx.multimodality(same, np.random.default_rng(0)) == 0.0
    spread = np.zeros((2, 30, 1))
    spread[:, ::2] = 1.0
    value = mx.multimodality(spread, np.random.default_rng(0), n_pairs=10)
    assert 0.0 < value < 1.0


def test_accuracy_and_confusion():
    truth = ["joy", "joy", "fear", "fear"]
    pred = ["joy", "fear", "fear", None]
    assert mx.accuracy(pred, truth) == 0.5
    cm = mx.confusion_matrix(pred, truth, ["joy", "fear"])
    assert cm.tolist() == [[1, 1], [0, 1]]  # the missing prediction is in no column
