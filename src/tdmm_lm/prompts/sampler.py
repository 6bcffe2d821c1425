"""Balanced, reproducible sampling of prompt specs.

The primary segment of sample ``i`` (its longest non-neutral segment, which the top-level
labels describe) takes a cell of emotion category × intensity × head motion from a
stratified schedule:

* categories go round-robin, in a fresh shuffled order each round of ``K`` samples, so after
  any number of samples the category counts differ by at most one;
* category ``c``'s ``k``-th sample takes intensity ``I_c[k mod 5]`` and head motion
  ``H_c[k mod 11]`` for per-category shuffled orders ``I_c``, ``H_c``; as 5 and 11 are
  coprime, every 55 rounds each category meets every (intensity, head motion) pair exactly
  once, and both marginals stay within one of uniform per category at all times;
* within a category the words go in a shuffled cycle, so every word is used before any
  repeats.

Everything else (layout of 1–3 segments, durations, secondary expressions, counts, speeds,
speaking, actions and the wording) is drawn from a per-sample generator seeded from
``(seed, i)``. Every draw is keyed by the sample index, so ``sample_prompts(n, seed)`` is a
prefix of ``sample_prompts(m, seed)`` for ``m > n``.
"""

from __future__ import annotations

import math
import random
from functools import lru_cache

from tdmm_lm.prompts.captions import write_captions
from tdmm_lm.prompts.lexicon import (
    ACTIONS,
    CATEGORIES,
    EXPRESSIONS,
    HEAD_MOTION_RECIPES,
    HEAD_SPEED_PERIOD,
    NEUTRAL,
    words_in,
)
from tdmm_lm.prompts.schema import (
    HEAD_MOTIONS,
    INTENSITY_LEVELS,
    Labels,
    PromptSpec,
    Segment,
)

__all__ = [
    "HELD_OUT_BLOCK",
    "HELD_OUT_PER_BLOCK",
    "MAX_DURATION_S",
    "MIN_DURATION_S",
    "sample_prompts",
]

MIN_DURATION_S = 2.0
MAX_DURATION_S = 8.0
#: Held-out phrasing: exactly this many samples of every block of consecutive indices (8 %).
HELD_OUT_PER_BLOCK = 2
HELD_OUT_BLOCK = 25
#: Lead-in and return segments: neutral has an empty recipe, so the level only fills the field.
NEUTRAL_SEGMENT_INTENSITY = "subtle"
#: Time kept free around oscillations so a counted motion ends inside its segment (seconds).
_HEAD_MARGIN_S = 0.2
_MAX_COUNT = 3

# Segment layouts: "P" primary, "S" secondary expression, "N" neutral; with their weights.
_LAYOUTS: tuple[tuple[str, float], ...] = (
    ("P", 0.35), ("NP", 0.18), ("PN", 0.07), ("PS", 0.08), ("SP", 0.07),
    ("NPS", 0.06), ("NSP", 0.05), ("PSS", 0.04), ("SPS", 0.05), ("NPN", 0.05),
)  # fmt: skip
# Total duration range by number of segments: more segments need more time.
_TOTAL_S = {1: (2.0, 6.0), 2: (3.0, 7.5), 3: (4.5, 8.0)}
# Share of the clip for each non-primary segment; the primary keeps the rest, which is
# always larger (2 segments: >= 0.58; 3 segments: >= 0.4 against <= 0.3).
_SHARE = {2: (0.25, 0.42), 3: (0.18, 0.3)}
_SPEAKING_WEIGHTS = {
    "silent": 0.4,
    "speaking": 0.25,
    "whispering": 0.12,
    "shouting": 0.1,
    "laughing": 0.13,
}
# Speaking styles that only make sense with some expressions; others fall back to "speaking".
_STYLE_CATEGORIES = {
    "laughing": frozenset(
        {"happiness", "amusement", "embarrassment", "relief", "affection", "pride", "contempt"}
    ),
    "shouting": frozenset(
        {"anger", "fear", "surprise", "pain", "determination", "happiness", "pride", "disgust"}
    ),
}
# Actions the mouth cannot do while talking.
_MOUTH_ACTIONS = frozenset({"yawn", "tongue_out", "cheek_puff", "lip_bite", "lip_press", "pout"})
_N_ACTIONS_WEIGHTS = (0.45, 0.4, 0.15)  # 0, 1 or 2 micro-actions per sample
_SPEED_WEIGHTS = {"slow": 0.25, "normal": 0.5, "fast": 0.25}
_SECONDARY_STILL = 0.6  # a secondary segment keeps the head still this often

_MASK64 = (1 << 64) - 1


def _mix(*values: int) -> int:
    """A 64-bit hash of integers (splitmix64 steps), stable across runs and platforms."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (v & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        h = (h ^ (h >> 31)) * 0x94D049BB133111EB & _MASK64
        h ^= h >> 29
    return h


# Stream tags, so that the schedule's draws never share a seed with each other.
_ROUND, _ORDER, _WORDS, _HELD, _SAMPLE, _ID = range(6)


@lru_cache(maxsize=4096)
def _round_order(seed: int, r: int) -> tuple[str, ...]:
    """The categories of round ``r``, shuffled."""
    order = list(CATEGORIES)
    random.Random(_mix(seed, _ROUND, r)).shuffle(order)
    return tuple(order)


@lru_cache(maxsize=1024)
def _cell_orders(seed: int, category: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Per-category shuffled orders of intensities and head motions."""
    rng = random.Random(_mix(seed, _ORDER, CATEGORIES.index(category)))
    return tuple(rng.sample(INTENSITY_LEVELS, len(INTENSITY_LEVELS))), tuple(
        rng.sample(HEAD_MOTIONS, len(HEAD_MOTIONS))
    )


@lru_cache(maxsize=4096)
def _word_cycle(seed: int, category: str, cycle: int) -> tuple[str, ...]:
    """The words of ``category`` in the shuffled order of its ``cycle``-th pass."""
    words = list(words_in(category))
    random.Random(_mix(seed, _WORDS, CATEGORIES.index(category), cycle)).shuffle(words)
    return tuple(words)


@lru_cache(maxsize=4096)
def _held_out_slots(seed: int, block: int) -> frozenset[int]:
    """Offsets within index block ``block`` that get held-out phrasing."""
    rng = random.Random(_mix(seed, _HELD, block))
    return frozenset(rng.sample(range(HELD_OUT_BLOCK), HELD_OUT_PER_BLOCK))


def _primary_cell(seed: int, index: int) -> tuple[str, str, str, str]:
    """(word, category, intensity, head motion) of sample ``index``'s primary segment."""
    k, position = divmod(index, len(CATEGORIES))  # k: this category's occurrence number
    category = _round_order(seed, k)[position]
    intensities, heads = _cell_orders(seed, category)
    cycle, slot = divmod(k, len(words_in(category)))
    word = _word_cycle(seed, category, cycle)[slot]
    return word, category, intensities[k % len(intensities)], heads[k % len(heads)]


def _head_fields(rng: random.Random, motion: str, span_s: float) -> tuple[int, str]:
    """(count, speed) for a head motion over a segment of ``span_s`` seconds."""
    recipe = HEAD_MOTION_RECIPES[motion]
    if not recipe.oscillating:
        return 0, "normal"
    speed = rng.choices(list(_SPEED_WEIGHTS), weights=list(_SPEED_WEIGHTS.values()))[0]
    fit = math.floor((span_s - _HEAD_MARGIN_S) / (recipe.period_s * HEAD_SPEED_PERIOD[speed]))
    if fit < 1 and speed != "fast":
        speed = "fast"
        fit = math.floor((span_s - _HEAD_MARGIN_S) / (recipe.period_s * HEAD_SPEED_PERIOD[speed]))
    if fit < 1 or rng.random() < 0.25:
        return 0, speed  # as many cycles as fit
    return rng.randint(1, min(_MAX_COUNT, fit)), speed


def _layout_spans(rng: random.Random, layout: str) -> list[float]:
    """Segment boundaries ``[0, t1, …, T]`` (rounded to 10 ms) for ``layout``."""
    n = len(layout)
    total = rng.uniform(*_TOTAL_S[n])
    shares = [0.0 if c == "P" else rng.uniform(*_SHARE[n]) for c in layout] if n > 1 else [1.0]
    shares[layout.index("P")] = 1.0 - sum(shares) if n > 1 else 1.0
    bounds = [0.0]
    for share in shares:
        bounds.append(bounds[-1] + share * total)
    return [round(b, 2) for b in bounds]


def _speaking(rng: random.Random, category: str) -> str:
    """A speaking style that fits the primary expression."""
    style = rng.choices(list(_SPEAKING_WEIGHTS), weights=list(_SPEAKING_WEIGHTS.values()))[0]
    allowed = _STYLE_CATEGORIES.get(style)
    return "speaking" if allowed is not None and category not in allowed else style


def _assign_actions(rng: random.Random, segments: list[Segment], speaking: str) -> None:
    """Put 0–2 distinct micro-actions into segments long enough to hold them."""
    n = rng.choices(range(len(_N_ACTIONS_WEIGHTS)), weights=_N_ACTIONS_WEIGHTS)[0]
    pool = [a for a in ACTIONS if speaking == "silent" or a not in _MOUTH_ACTIONS]
    for name in rng.sample(pool, n):
        fits = [s for s in segments if s.end_s - s.start_s >= ACTIONS[name].duration_s + 0.2]
        if fits:
            rng.choice(fits).actions.append(name)


def _sample(seed: int, index: int, mark_longest: bool) -> PromptSpec:
    """Sample ``index`` of the suite for ``seed`` (``mark_longest``: see write_captions)."""
    word, category, intensity, head = _primary_cell(seed, index)
    spec_seed = _mix(seed, _SAMPLE, index) & 0x7FFFFFFF  # fits int32 columns and numpy seeds
    rng = random.Random(spec_seed)
    layout = "P" if category == NEUTRAL else rng.choices(*zip(*_LAYOUTS, strict=True))[0]
    bounds = _layout_spans(rng, layout)
    speaking = _speaking(rng, category)
    others = [c for c in CATEGORIES if c not in (NEUTRAL, category)]
    segments: list[Segment] = []
    for i, role in enumerate(layout):
        start, end = bounds[i], bounds[i + 1]
        if role == "N":
            seg = Segment(start, end, NEUTRAL, NEUTRAL, NEUTRAL_SEGMENT_INTENSITY)
        elif role == "P":
            seg = Segment(start, end, word, category, intensity, head)
        else:
            other = rng.choice(others)
            motion = "still" if rng.random() < _SECONDARY_STILL else rng.choice(HEAD_MOTIONS)
            level = rng.choice(INTENSITY_LEVELS)
            seg = Segment(start, end, rng.choice(words_in(other)), other, level, motion)
        seg.head_count, seg.head_speed = _head_fields(rng, seg.head_motion, end - start)
        seg.speaking = speaking
        segments.append(seg)
    _assign_actions(rng, segments, speaking)
    actions = [a for s in segments for a in s.actions]
    primary = segments[layout.index("P")]
    labels = Labels(word, category, intensity, head, speaking, actions, segments)
    assert primary.emotion == word and primary.head_motion == head  # schedule reached the labels
    held = index % HELD_OUT_BLOCK in _held_out_slots(seed, index // HELD_OUT_BLOCK)
    prompt, captions = write_captions(labels, held_out=held, rng=rng, mark_longest=mark_longest)
    return PromptSpec(
        id=f"p{index:06d}-{_mix(seed, _ID) & 0xFFFFFFFF:08x}",
        prompt=prompt,
        captions=captions,
        labels=labels,
        duration_s=bounds[-1],
        held_out_phrasing=held,
        seed=spec_seed,
    )


def sample_prompts(
    n: int, seed: int, start: int = 0, mark_longest: bool = False
) -> list[PromptSpec]:
    """Sample ``n`` prompt specs, balanced over category × intensity × head motion.

    Args:
        n: Number of specs (>= 0).
        seed: Seed; the same seed gives identical specs.
        start: Index of the first spec, so a corpus can be sampled in chunks:
            ``sample_prompts(n, s, start=k)`` equals ``sample_prompts(k + n, s)[k:]``.
        mark_longest: A prompt naming several expressions says which lasts longest (see
            :func:`~tdmm_lm.prompts.captions.write_captions`). Only the wording changes:
            labels, durations and generator seeds are the same either way.

    Returns:
        Specs with ids ``p{index:06d}-{seed tag}``, each with its own generator ``seed``.

    Raises:
        ValueError: ``n`` or ``start`` is negative.
    """
    if n < 0 or start < 0:
        raise ValueError(f"n and start must be >= 0, got n={n}, start={start}")
    return [_sample(seed, i, mark_longest) for i in range(start, start + n)]


# Every expression word must be reachable, or balance would silently drop it.
assert {w for c in CATEGORIES for w in words_in(c)} == set(EXPRESSIONS)
