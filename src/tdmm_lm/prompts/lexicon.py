"""The vocabulary of facial behaviour: expressions, micro-actions and head motions.

This is the contract between the prompt suite and the motion generators. A generator looks
up the names found in :class:`~tdmm_lm.prompts.schema.Labels` here and turns the recipes
into curves; how it shapes them is its own business.

Conventions every recipe follows (ARKit space, ``tdmm_lm.face.spaces.ARKIT``):

* Blendshape channels carry apex weights in [0, 1]. An expression's weights are for the
  ``extreme`` level; multiply by ``INTENSITY_GAIN[level]`` for the others.
* Rotation channels (``headYaw``, ``headRoll``, ``leftEyeYaw``, ``leftEyePitch``, …) are
  radians and are offsets added to the current pose: expressions use at most
  :data:`~tdmm_lm.prompts.expressions.MAX_POSTURE_RAD` of head roll/yaw, actions at most
  :data:`MAX_EYE_RAD` of eye rotation (and a small head pitch for the yawn).
* "Left" is the subject's own left. Yaw + turns toward the subject's left, pitch + looks
  down, roll + tilts toward the subject's left shoulder.
* An action is one pulse: channels rise to their apex, hold, and fall back within
  ``duration_s``. Actions whose path is not a single pulse (the eye roll sweeps the eyes
  side, up, other side) also have keyframes in :data:`ACTION_PATHS`; a generator that does
  not read them may play the recipe's channels as a plain pulse.
* Head motions: ``amplitude_deg`` is signed and follows the sign conventions above (a
  nod's first swing goes down; ``turn_left`` is +yaw). For oscillating motions
  ``period_s`` is one full cycle; for held poses it is the time to move into the pose.
  Multiply ``period_s`` by ``HEAD_SPEED_PERIOD[speed]`` for the ``slow``/``fast`` speeds.
"""

from __future__ import annotations

import difflib
import math

from tdmm_lm.prompts.expressions import EXPRESSIONS, MAX_POSTURE_RAD, VERB_FORMS
from tdmm_lm.prompts.schema import (
    HEAD_MOTIONS,
    HEAD_SPEEDS,
    ActionRecipe,
    ExpressionRecipe,
    HeadMotionRecipe,
)

__all__ = [
    "ACTIONS",
    "ACTION_PATHS",
    "CATEGORIES",
    "EXPRESSIONS",
    "HEAD_MOTION_RECIPES",
    "HEAD_SPEED_PERIOD",
    "MAX_EYE_RAD",
    "MAX_POSTURE_RAD",
    "NEUTRAL",
    "VERB_FORMS",
    "get_action",
    "get_expression",
    "get_head_motion",
    "words_in",
]

#: The neutral word and category: lead-in and return segments use it; its recipe is empty.
NEUTRAL = "neutral"

#: Emotion categories in table order (the sampler balances over these).
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(r.category for r in EXPRESSIONS.values()))

#: Largest eye rotation an action uses, in radians (about 23°; the space allows ±45°).
MAX_EYE_RAD = 0.4
_GAZE_YAW = 0.35  # a glance sideways: well inside the eye's range, clearly visible
_GAZE_PITCH = 0.3
_YAWN_HEAD_PITCH = -0.12  # the head tips back during a yawn (pitch + looks down)


def _both(name: str, weight: float) -> dict[str, float]:
    """The Left and Right channel of ``name`` at the same weight."""
    return {name + "Left": weight, name + "Right": weight}


def _eyes(yaw: float = 0.0, pitch: float = 0.0) -> dict[str, float]:
    """Both eyes rotated together (radians); zero axes are left out."""
    out: dict[str, float] = {}
    for eye in ("left", "right"):
        if yaw:
            out[f"{eye}EyeYaw"] = yaw
        if pitch:
            out[f"{eye}EyePitch"] = pitch
    return out


#: Micro-actions: one pulse each (see the module docstring for units).
ACTIONS: dict[str, ActionRecipe] = {
    a.name: a
    for a in (
        ActionRecipe("blink", _both("eyeBlink", 1.0), 0.25, "blinks"),
        ActionRecipe(
            "wink_left",
            {
                "eyeBlinkLeft": 1.0,
                "eyeSquintLeft": 0.3,
                "cheekSquintLeft": 0.3,
                "mouthSmileLeft": 0.2,
            },
            0.45,
            "winks the left eye",
        ),
        ActionRecipe(
            "wink_right",
            {
                "eyeBlinkRight": 1.0,
                "eyeSquintRight": 0.3,
                "cheekSquintRight": 0.3,
                "mouthSmileRight": 0.2,
            },
            0.45,
            "winks the right eye",
        ),
        ActionRecipe(
            "eye_roll",
            {**_both("eyeLookUp", 0.9), **_both("browOuterUp", 0.2), **_eyes(pitch=-MAX_EYE_RAD)},
            1.0,
            "rolls the eyes",
        ),
        ActionRecipe(
            "squint",
            {**_both("eyeSquint", 0.8), **_both("cheekSquint", 0.3), **_both("browDown", 0.2)},
            0.8,
            "squints",
        ),
        ActionRecipe(
            "pout",
            {"mouthPucker": 0.6, "mouthShrugLower": 0.5, **_both("mouthFrown", 0.2)},
            1.0,
            "pouts",
        ),
        ActionRecipe(
            "lip_bite",
            {"mouthRollLower": 0.8, "jawOpen": 0.1, **_both("mouthUpperUp", 0.1)},
            1.0,
            "bites the lower lip",
        ),
        ActionRecipe(
            "lip_press",
            {**_both("mouthPress", 0.8), "mouthRollLower": 0.2, "mouthRollUpper": 0.2},
            0.8,
            "presses the lips together",
        ),
        ActionRecipe(
            "cheek_puff",
            {"cheekPuff": 0.9, **_both("mouthPress", 0.2)},
            1.0,
            "puffs out the cheeks",
        ),
        ActionRecipe(
            "tongue_out",
            {"tongueOut": 0.9, "jawOpen": 0.3, **_both("mouthLowerDown", 0.2)},
            1.0,
            "sticks the tongue out",
        ),
        ActionRecipe(
            "brow_raise",
            {"browInnerUp": 0.8, **_both("browOuterUp", 0.8), **_both("eyeWide", 0.2)},
            0.7,
            "raises the eyebrows",
        ),
        ActionRecipe(
            "brow_furrow",
            {**_both("browDown", 0.8), "browInnerUp": 0.2},
            0.8,
            "furrows the brow",
        ),
        ActionRecipe(
            "nose_wrinkle",
            {**_both("noseSneer", 0.8), **_both("mouthUpperUp", 0.3), **_both("cheekSquint", 0.2)},
            0.6,
            "wrinkles the nose",
        ),
        ActionRecipe(
            "yawn",
            {
                "jawOpen": 0.95,
                "mouthFunnel": 0.2,
                **_both("eyeBlink", 0.6),
                **_both("eyeSquint", 0.3),
                "browInnerUp": 0.3,
                **_both("mouthStretch", 0.3),
                "headPitch": _YAWN_HEAD_PITCH,
            },
            2.5,
            "yawns",
        ),
        ActionRecipe(
            "gaze_left",
            {"eyeLookOutLeft": 0.6, "eyeLookInRight": 0.6, **_eyes(yaw=_GAZE_YAW)},
            0.9,
            "glances to the left",
        ),
        ActionRecipe(
            "gaze_right",
            {"eyeLookInLeft": 0.6, "eyeLookOutRight": 0.6, **_eyes(yaw=-_GAZE_YAW)},
            0.9,
            "glances to the right",
        ),
        ActionRecipe(
            "gaze_up",
            {**_both("eyeLookUp", 0.6), **_eyes(pitch=-_GAZE_PITCH)},
            0.9,
            "glances up",
        ),
        ActionRecipe(
            "gaze_down",
            {**_both("eyeLookDown", 0.6), **_both("eyeBlink", 0.15), **_eyes(pitch=_GAZE_PITCH)},
            0.9,
            "glances down",
        ),
    )
}

_ROLL_SIDE = {"eyeLookOutLeft": 0.5, "eyeLookInRight": 0.5, **_eyes(yaw=0.3)}
_ROLL_OTHER = {"eyeLookInLeft": 0.5, "eyeLookOutRight": 0.5, **_eyes(yaw=-0.3)}
#: Keyframes (fraction of ``duration_s``, channel -> value) for actions that are not one pulse.
#: Between keyframes a generator interpolates; channels absent from a keyframe are at rest.
ACTION_PATHS: dict[str, tuple[tuple[float, dict[str, float]], ...]] = {
    "eye_roll": (
        (0.0, {}),
        (0.25, _ROLL_SIDE),
        (0.5, ACTIONS["eye_roll"].channels),
        (0.75, _ROLL_OTHER),
        (1.0, {}),
    ),
}

#: Head motions; ``still`` has zero amplitude so generators can treat every name alike.
HEAD_MOTION_RECIPES: dict[str, HeadMotionRecipe] = {
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

#: Multiplier on a head motion's ``period_s`` per speed (slow motions take longer per cycle).
HEAD_SPEED_PERIOD: dict[str, float] = {"slow": 1.5, "normal": 1.0, "fast": 0.65}

assert set(HEAD_MOTION_RECIPES) == set(HEAD_MOTIONS), "every head motion needs a recipe"
assert set(HEAD_SPEED_PERIOD) == set(HEAD_SPEEDS), "every head speed needs a period factor"
assert max(abs(h.amplitude_deg) for h in HEAD_MOTION_RECIPES.values()) < math.degrees(
    math.pi / 2
), "head amplitudes stay within the neck's range"

_WORDS_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    c: tuple(w for w, r in EXPRESSIONS.items() if r.category == c) for c in CATEGORIES
}


def words_in(category: str) -> tuple[str, ...]:
    """The expression words of ``category``, in table order.

    Raises:
        KeyError: ``category`` is unknown; the message lists close valid names.
    """
    return _WORDS_BY_CATEGORY[_check(category, _WORDS_BY_CATEGORY, "emotion category")]


def _check(name: str, table: dict, kind: str) -> str:
    """Return ``name`` if ``table`` has it, else raise ``KeyError`` naming close valid keys."""
    if name in table:
        return name
    close = difflib.get_close_matches(name, list(table), n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"valid: {', '.join(sorted(table))}"
    raise KeyError(f"unknown {kind} {name!r}; {hint}")


def get_expression(word: str) -> ExpressionRecipe:
    """The recipe of an emotion/expression word ("delighted").

    Raises:
        KeyError: ``word`` is not in the vocabulary; the message lists close valid words.
    """
    return EXPRESSIONS[_check(word, EXPRESSIONS, "expression word")]


def get_action(name: str) -> ActionRecipe:
    """The recipe of a micro-action id ("wink_left").

    Raises:
        KeyError: ``name`` is unknown; the message lists close valid ids.
    """
    return ACTIONS[_check(name, ACTIONS, "action")]


def get_head_motion(name: str) -> HeadMotionRecipe:
    """The recipe of a head motion ("nod").

    Raises:
        KeyError: ``name`` is unknown; the message lists close valid names.
    """
    return HEAD_MOTION_RECIPES[_check(name, HEAD_MOTION_RECIPES, "head motion")]
