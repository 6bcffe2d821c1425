"""Fixtures for the generator tests: a small hand-made vocabulary and spec factories."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from tdmm_lm.prompts.schema import (
    HEAD_SPEEDS,
    INTENSITY_LEVELS,
    SPEAKING_STYLES,
    ActionRecipe,
    ExpressionRecipe,
    HeadMotionRecipe,
    Labels,
    PromptSpec,
    Segment,
)
from tdmm_lm.synth.recipes import Vocabulary


def _both(stem: str, weight: float) -> dict[str, float]:
    return {stem + "Left": weight, stem + "Right": weight}


def tiny_vocabulary() -> Vocabulary:
    """A few recipes with known weights, independent of the lexicon."""
    expressions = {
        e.word: e
        for e in (
            ExpressionRecipe(
                "happy", "happiness", {**_both("mouthSmile", 0.9), **_both("cheekSquint", 0.5)}
            ),
            ExpressionRecipe(
                "angry",
                "anger",
                {**_both("browDown", 0.9), **_both("mouthPress", 0.5)},
                onset_s=0.3,
            ),
            ExpressionRecipe(
                "surprised",
                "surprise",
                {"jawOpen": 0.6, "browInnerUp": 0.9, **_both("eyeWide", 0.8)},
                onset_s=0.1,
            ),
            ExpressionRecipe("smirk", "contempt", {"mouthSmileLeft": 0.7, "mouthDimpleLeft": 0.4}),
            ExpressionRecipe(
                "downcast",
                "sadness",
                {"browInnerUp": 0.5, **_both("eyeLookDown", 0.4)},
                head_pitch_deg=10.0,
                gaze="down",
            ),
            ExpressionRecipe("bored", "boredom", {**_both("eyeBlink", 0.3)}, gaze="aside"),
        )
    }
    actions = {
        a.name: a
        for a in (
            ActionRecipe("blink", _both("eyeBlink", 1.0), 0.25, "blinks"),
            ActionRecipe("wink_left", {"eyeBlinkLeft": 1.0, "cheekSquintLeft": 0.3}, 0.45, "winks"),
            ActionRecipe(
                "gaze_left", {"leftEyeYaw": 0.35, "rightEyeYaw": 0.35}, 0.9, "glances left"
            ),
            ActionRecipe(
                "brow_raise", {"browInnerUp": 0.8, **_both("browOuterUp", 0.8)}, 0.7, "raises brows"
            ),
            ActionRecipe(
                "yawn",
                {"jawOpen": 0.95, **_both("eyeBlink", 0.6), "headPitch": -0.12},
                2.5,
                "yawns",
            ),
        )
    }
    heads = {
        h.name: h
        for h in (
            HeadMotionRecipe("still", "pitch", 0.0, 1.0, False),
            HeadMotionRecipe("nod", "pitch", 10.0, 0.8, True),
            HeadMotionRecipe("shake", "yaw", 14.0, 0.9, True),
            HeadMotionRecipe("tilt_left", "roll", 15.0, 0.6, False),
            HeadMotionRecipe("tilt_right", "roll", -15.0, 0.6, False),
            HeadMotionRecipe("turn_left", "yaw", 30.0, 0.7, False),
            HeadMotionRecipe("turn_right", "yaw", -30.0, 0.7, False),
            HeadMotionRecipe("look_up", "pitch", -20.0, 0.7, False),
            HeadMotionRecipe("look_down", "pitch", 20.0, 0.7, False),
            HeadMotionRecipe("sway", "roll", 7.0, 2.0, True),
            HeadMotionRecipe("bob", "pitch", 4.0, 0.45, True),
        )
    }
    paths = {"gaze_left": ((0.0, {}), (0.3, actions["gaze_left"].channels), (1.0, {}))}
    return Vocabulary(expressions, actions, heads, action_paths=paths)


@pytest.fixture(scope="session")
def vocab() -> Vocabulary:
    return tiny_vocabulary()


def build_spec(*segments: dict[str, Any], seed: int = 0, spec_id: str = "t") -> PromptSpec:
    """A spec from consecutive segments, each ``dict(dur=seconds, **Segment fields)``."""
    built, start = [], 0.0
    for fields in segments:
        fields = dict(fields)
        end = start + fields.pop("dur")
        fields.setdefault("emotion", "neutral")
        fields.setdefault("emotion_category", "neutral")
        fields.setdefault("intensity", "moderate")
        built.append(Segment(start_s=start, end_s=end, **fields))
        start = end
    first = built[0]
    labels = Labels(
        first.emotion, first.emotion_category, first.intensity, first.head_motion,
        first.speaking, [a for s in built for a in s.actions], built,
    )  # fmt: skip
    return PromptSpec(spec_id, "a test prompt", ["a", "b", "c", "d"], labels, start, seed=seed)


@pytest.fixture
def make_spec() -> Callable[..., PromptSpec]:
    """Factory: ``make_spec(dict(dur=2), dict(dur=3, emotion="happy"), seed=1)``."""
    return build_spec


def varied_specs(n: int, seed: int, vocabulary: Vocabulary) -> list[PromptSpec]:
    """Random specs over everything a vocabulary offers, extremes included."""
    rng = random.Random(seed)
    words = ["neutral", *vocabulary.expressions]
    specs = []
    for i in range(n):
        segments = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            segments.append(
                dict(
                    dur=rng.uniform(0.7, 4.0),
                    emotion=rng.choice(words),
                    intensity=rng.choice(INTENSITY_LEVELS),
                    head_motion=rng.choice(list(vocabulary.head_motions)),
                    head_count=rng.choice([0, 1, 2, 3, 5]),
                    head_speed=rng.choice(HEAD_SPEEDS),
                    speaking=rng.choice(SPEAKING_STYLES),
                    actions=rng.sample(list(vocabulary.actions), rng.choice([0, 0, 1, 2])),
                )
            )
        specs.append(build_spec(*segments, seed=rng.randrange(2**31), spec_id=f"v{i}"))
    return specs


@pytest.fixture
def make_varied_specs() -> Callable[[int, int, Vocabulary], list[PromptSpec]]:
    """Factory: ``make_varied_specs(n, seed, vocabulary)``."""
    return varied_specs
