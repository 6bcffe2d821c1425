from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest

from tdmm_lm.face.spaces import ARKIT, ARKIT_BLENDSHAPES
from tdmm_lm.prompts.expressions import MAX_POSTURE_RAD
from tdmm_lm.prompts.lexicon import (
    ACTION_PATHS,
    ACTIONS,
    CATEGORIES,
    EXPRESSIONS,
    HEAD_MOTION_RECIPES,
    HEAD_SPEED_PERIOD,
    MAX_EYE_RAD,
    get_action,
    get_expression,
    get_head_motion,
    words_in,
)
from tdmm_lm.prompts.schema import (
    HEAD_MOTIONS,
    INTENSITY_GAIN,
    INTENSITY_LEVELS,
    INTENSITY_SCALES,
)

BLENDSHAPES = set(ARKIT_BLENDSHAPES)
ROTATIONS = set(ARKIT.channels) - BLENDSHAPES
REQUIRED_CATEGORIES = {
    "neutral", "happiness", "sadness", "anger", "fear", "surprise", "disgust", "contempt",
    "embarrassment", "pride", "boredom", "confusion", "skepticism", "relief", "awe", "pain",
    "fatigue", "concentration", "amusement",
}  # fmt: skip
REQUIRED_ACTIONS = {
    "blink", "wink_left", "wink_right", "eye_roll", "squint", "pout", "lip_bite", "lip_press",
    "cheek_puff", "tongue_out", "brow_raise", "brow_furrow", "nose_wrinkle", "yawn",
    "gaze_left", "gaze_right", "gaze_up", "gaze_down",
}  # fmt: skip


def test_vocabulary_size_and_categories():
    assert len(EXPRESSIONS) >= 180
    assert len(CATEGORIES) >= 18
    assert REQUIRED_CATEGORIES <= set(CATEGORIES)
    counts = Counter(r.category for r in EXPRESSIONS.values())
    assert min(counts.values()) >= 8
    assert all(word == recipe.word for word, recipe in EXPRESSIONS.items())


def test_neutral_is_an_empty_expression():
    assert get_expression("neutral").category == "neutral"
    assert get_expression("neutral").channels == {}


@pytest.mark.parametrize("word", sorted(EXPRESSIONS))
def test_expression_channels_are_valid(word):
    recipe = EXPRESSIONS[word]
    for channel, weight in recipe.channels.items():
        if channel in BLENDSHAPES:
            assert 0.0 < weight <= 1.0, (word, channel, weight)
        else:
            assert channel in {"headRoll", "headYaw"}, (word, channel)
            assert abs(weight) <= MAX_POSTURE_RAD
    assert 0.0 < recipe.onset_s <= 2.0 and 0.0 < recipe.offset_s <= 2.0
    assert abs(recipe.head_pitch_deg) <= 20
    assert recipe.gaze in ("", "down", "up", "aside")
    if recipe.category != "neutral":
        assert any(c in BLENDSHAPES for c in recipe.channels), word


def test_words_within_a_category_differ_in_their_recipes():
    for category in CATEGORIES:
        recipes = [EXPRESSIONS[w] for w in words_in(category)]
        keys = {
            (tuple(sorted(r.channels.items())), r.head_pitch_deg, r.gaze, r.onset_s)
            for r in recipes
        }
        assert len(keys) == len(recipes), category


def test_facs_signatures_of_basic_emotions():
    def has(word, *channels):
        return all(c in get_expression(word).channels for c in channels)

    assert has("happy", "mouthSmileLeft", "mouthSmileRight", "cheekSquintLeft")
    assert has("sad", "browInnerUp", "mouthFrownLeft", "mouthFrownRight")
    assert has("angry", "browDownLeft", "browDownRight", "mouthPressLeft")
    assert has("afraid", "browInnerUp", "eyeWideLeft", "mouthStretchLeft")
    assert has("surprised", "browOuterUpLeft", "eyeWideRight", "jawOpen")
    assert has("disgusted", "noseSneerLeft", "mouthUpperUpRight")
    smirk = get_expression("smirking").channels
    assert "mouthSmileLeft" in smirk and "mouthSmileRight" not in smirk  # one-sided
    assert get_expression("proud").head_pitch_deg < 0  # chin up
    assert get_expression("sad").head_pitch_deg > 0  # looks down


def test_intensity_scales_share_their_ends_and_increase():
    for gains in INTENSITY_SCALES.values():
        values = [gains[level] for level in INTENSITY_LEVELS]
        assert all(a < b for a, b in itertools.pairwise(values))
        assert values[0] == INTENSITY_GAIN["subtle"] and values[-1] == 1.0
    assert INTENSITY_SCALES["linear"] is INTENSITY_GAIN  # the release corpus's


def test_intensity_gain_is_strictly_increasing():
    gains = [INTENSITY_GAIN[level] for level in INTENSITY_LEVELS]
    assert len(gains) >= 5
    assert all(a < b for a, b in itertools.pairwise(gains))
    assert 0 < gains[0] and gains[-1] <= 1.0
    # A stronger level means a larger expression for every word.
    for recipe in EXPRESSIONS.values():
        sizes = [g * sum(recipe.channels.values()) for g in gains]
        assert sizes == sorted(sizes)


def test_actions_cover_the_issue():
    assert REQUIRED_ACTIONS <= set(ACTIONS)
    for name, action in ACTIONS.items():
        assert action.name == name and action.phrase and 0 < action.duration_s <= 3
        for channel, value in action.channels.items():
            assert channel in ARKIT.channels, (name, channel)
            if channel in BLENDSHAPES:
                assert 0 < value <= 1
            elif channel == "headPitch":
                assert abs(value) <= MAX_POSTURE_RAD
            else:
                assert abs(value) <= MAX_EYE_RAD
    # Gaze follows the sign convention: + yaw toward the subject's left, + pitch looks down.
    assert get_action("gaze_left").channels["leftEyeYaw"] > 0
    assert get_action("gaze_right").channels["rightEyeYaw"] < 0
    assert get_action("gaze_up").channels["leftEyePitch"] < 0
    assert get_action("gaze_down").channels["rightEyePitch"] > 0
    assert set(get_action("wink_left").channels) & {"eyeBlinkLeft"}
    assert "eyeBlinkRight" not in get_action("wink_left").channels


def test_action_paths_are_keyframes_in_order():
    for name, path in ACTION_PATHS.items():
        assert name in ACTIONS
        times = [t for t, _ in path]
        assert times[0] == 0.0 and times[-1] == 1.0 and times == sorted(times)
        for _, pose in path:
            assert set(pose) <= set(ARKIT.channels)


def test_head_motions_all_have_recipes():
    assert set(HEAD_MOTION_RECIPES) == set(HEAD_MOTIONS)
    assert HEAD_MOTION_RECIPES["still"].amplitude_deg == 0
    oscillating = {m for m, r in HEAD_MOTION_RECIPES.items() if r.oscillating}
    assert oscillating == {"nod", "shake", "sway", "bob"}
    for recipe in HEAD_MOTION_RECIPES.values():
        assert recipe.axis in ("yaw", "pitch", "roll")
        assert abs(recipe.amplitude_deg) < 45 and recipe.period_s > 0
    assert get_head_motion("turn_left").amplitude_deg > 0  # + yaw: toward the subject's left
    assert get_head_motion("look_up").amplitude_deg < 0  # - pitch: up
    assert HEAD_SPEED_PERIOD["slow"] > HEAD_SPEED_PERIOD["normal"] > HEAD_SPEED_PERIOD["fast"]
    assert math.isclose(HEAD_SPEED_PERIOD["normal"], 1.0)


@pytest.mark.parametrize(
    ("getter", "typo", "suggestion"),
    [
        (get_expression, "delightd", "delighted"),
        (get_action, "wink_lft", "wink_left"),
        (get_head_motion, "nodd", "nod"),
        (words_in, "happyness", "happiness"),
    ],
)
def test_unknown_names_raise_with_close_matches(getter, typo, suggestion):
    with pytest.raises(KeyError, match=suggestion):
        getter(typo)
