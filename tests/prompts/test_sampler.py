from __future__ import annotations

import itertools
import time
from collections import Counter

import pytest

from tdmm_lm.prompts.lexicon import CATEGORIES, EXPRESSIONS, HEAD_MOTION_RECIPES, words_in
from tdmm_lm.prompts.sampler import (
    HELD_OUT_BLOCK,
    HELD_OUT_PER_BLOCK,
    MAX_DURATION_S,
    MIN_DURATION_S,
    sample_prompts,
)
from tdmm_lm.prompts.schema import HEAD_MOTIONS, INTENSITY_LEVELS, SPEAKING_STYLES

K = len(CATEGORIES)
FULL_CYCLE = K * len(INTENSITY_LEVELS) * len(HEAD_MOTIONS)


@pytest.fixture(scope="module")
def cycle():
    return sample_prompts(FULL_CYCLE, seed=7)


def test_full_cycle_covers_every_cell_exactly_once(cycle):
    cells = Counter(
        (s.labels.emotion_category, s.labels.intensity, s.labels.head_motion) for s in cycle
    )
    assert len(cells) == FULL_CYCLE and set(cells.values()) == {1}


@pytest.mark.parametrize("n", [1, 10, K - 1, K + 5, 100, 361, 999])
def test_category_counts_differ_by_at_most_one_for_any_n(cycle, n):
    counts = Counter(s.labels.emotion_category for s in cycle[:n])
    full = [counts.get(c, 0) for c in CATEGORIES]
    assert max(full) - min(full) <= 1


def test_intensity_and_head_motion_are_balanced_per_category(cycle):
    for n in (K * 7, K * 20, K * 33):
        by_cat = {c: [s for s in cycle[:n] if s.labels.emotion_category == c] for c in CATEGORIES}
        for specs in by_cat.values():
            for field, values in (("intensity", INTENSITY_LEVELS), ("head_motion", HEAD_MOTIONS)):
                counts = Counter(getattr(s.labels, field) for s in specs)
                full = [counts.get(v, 0) for v in values]
                assert max(full) - min(full) <= 1, (field, counts)
    # And overall, over a full cycle: exactly uniform.
    assert len(set(Counter(s.labels.intensity for s in cycle).values())) == 1
    assert len(set(Counter(s.labels.head_motion for s in cycle).values())) == 1


def test_every_word_is_used_once_n_reaches_the_vocabulary_size():
    specs = sample_prompts(len(EXPRESSIONS), seed=3)
    assert {s.labels.emotion for s in specs} == set(EXPRESSIONS)
    # Within a category no word repeats before all were used.
    for category in CATEGORIES:
        words = [s.labels.emotion for s in specs if s.labels.emotion_category == category]
        assert len(set(words)) == len(words) == len(words_in(category))


def test_same_seed_same_specs_and_other_seed_differs():
    a = [s.to_dict() for s in sample_prompts(60, seed=11)]
    b = [s.to_dict() for s in sample_prompts(60, seed=11)]
    c = [s.to_dict() for s in sample_prompts(60, seed=12)]
    assert a == b
    assert a != c
    assert {s["id"] for s in a}.isdisjoint({s["id"] for s in c})


def test_chunks_equal_the_whole():
    whole = [s.to_dict() for s in sample_prompts(80, seed=5)]
    parts = [s.to_dict() for k in range(0, 80, 30) for s in sample_prompts(min(30, 80 - k), 5, k)]
    assert whole == parts


def test_ids_and_seeds_are_unique(cycle):
    assert len({s.id for s in cycle}) == len(cycle)
    assert len({s.seed for s in cycle}) == len(cycle)
    assert cycle[12].id.startswith("p000012-")


def test_durations_and_segments(cycle):
    n_segments = Counter()
    for spec in cycle:
        segs = spec.labels.segments
        n_segments[len(segs)] += 1
        assert 1 <= len(segs) <= 3
        assert MIN_DURATION_S <= spec.duration_s <= MAX_DURATION_S
        assert segs[0].start_s == 0.0 and segs[-1].end_s == spec.duration_s
        for a, b in itertools.pairwise(segs):
            assert a.end_s == b.start_s  # contiguous
        assert all(s.end_s > s.start_s for s in segs)
        # The top-level labels are the longest non-neutral segment (or the only one).
        emotional = [s for s in segs if s.emotion_category != "neutral"] or segs
        primary = max(emotional, key=lambda s: s.end_s - s.start_s)
        lengths = sorted((s.end_s - s.start_s for s in emotional), reverse=True)
        assert len(lengths) == 1 or lengths[0] > lengths[1]
        assert (primary.emotion, primary.intensity, primary.head_motion) == (
            spec.labels.emotion,
            spec.labels.intensity,
            spec.labels.head_motion,
        )
        assert spec.labels.speaking == primary.speaking
        assert spec.labels.actions == [a for s in segs for a in s.actions]
        assert EXPRESSIONS[primary.emotion].category == primary.emotion_category
    assert set(n_segments) == {1, 2, 3}


def test_head_counts_fit_their_segments(cycle):
    for spec in cycle:
        for seg in spec.labels.segments:
            recipe = HEAD_MOTION_RECIPES[seg.head_motion]
            if not recipe.oscillating:
                assert seg.head_count == 0 and seg.head_speed == "normal"
                continue
            assert 0 <= seg.head_count <= 3
            assert seg.head_speed in ("slow", "normal", "fast")


def test_speaking_and_actions_vary(cycle):
    assert set(Counter(s.labels.speaking for s in cycle)) == set(SPEAKING_STYLES)
    with_actions = sum(bool(s.labels.actions) for s in cycle)
    assert 0.4 < with_actions / len(cycle) < 0.7
    for spec in cycle:
        if spec.labels.speaking != "silent":
            assert "yawn" not in spec.labels.actions and "tongue_out" not in spec.labels.actions


def test_held_out_phrasing_is_eight_percent_per_block(cycle):
    n = HELD_OUT_BLOCK * (len(cycle) // HELD_OUT_BLOCK)
    flags = [s.held_out_phrasing for s in cycle[:n]]
    for b in range(0, n, HELD_OUT_BLOCK):
        assert sum(flags[b : b + HELD_OUT_BLOCK]) == HELD_OUT_PER_BLOCK


def test_negative_n_is_rejected():
    with pytest.raises(ValueError, match="n=-1"):
        sample_prompts(-1, seed=0)
    assert sample_prompts(0, seed=0) == []


@pytest.mark.slow
def test_twenty_thousand_specs_are_fast():
    start = time.perf_counter()
    specs = sample_prompts(20_000, seed=1)
    assert len(specs) == 20_000
    assert time.perf_counter() - start < 30  # a generous bound; timings belong in benchmarks
