"""Recipes from the prompt suite, compiled once into channel vectors for the generators.

A :class:`Vocabulary` holds the three recipe tables of the lexicon. The generators ask it
for compiled forms (:class:`CompiledExpression`, :class:`CompiledAction`), which are cached,
so a recipe's channel names are resolved and checked once per process, not once per clip.
Tests build a small vocabulary by hand; the default one is the lexicon's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.prompts.schema import (
    INTENSITY_SCALES,
    ActionRecipe,
    ExpressionRecipe,
    HeadMotionRecipe,
    PromptSpec,
)
from tdmm_lm.synth.channels import (
    EYE_LEFT,
    EYE_RIGHT,
    GAZE_BLENDSHAPES,
    IDX,
    LATERAL_PAIRS,
    N_BLENDSHAPES,
    N_CHANNELS,
    SYMMETRIC_PAIRS,
    rotations_from_eye_look,
)

__all__ = [
    "NEUTRAL",
    "CompiledAction",
    "CompiledExpression",
    "Vocabulary",
    "check_intensity_scale",
    "default_vocabulary",
    "intensity_gain",
    "spec_allows_asymmetry",
]

#: The emotion word of a resting face; it needs no recipe.
NEUTRAL = "neutral"
#: A recipe whose left and right weights differ by more than this is asymmetric on purpose.
RECIPE_ASYMMETRY_TOL = 0.05
#: Eye rotation (radians) of a habitual gaze direction of a recipe ("down", "up", "aside").
HABITUAL_GAZE_RAD = math.radians(12.0)
#: Period multiplier per head speed when a vocabulary does not bring its own.
DEFAULT_HEAD_SPEED_PERIOD: dict[str, float] = {"slow": 1.5, "normal": 1.0, "fast": 0.65}
_GAZE_DIRECTIONS: dict[str, tuple[float, float]] = {
    # (yaw, pitch) in units of HABITUAL_GAZE_RAD; "aside" picks its side per clip.
    "": (0.0, 0.0),
    "down": (0.0, 1.0),
    "up": (0.0, -1.0),
    "aside": (1.0, 0.0),
}


@dataclass(frozen=True)
class CompiledExpression:
    """An expression recipe as one arkit vector, at full (``extreme``) intensity.

    Attributes:
        vector: ``(D,)`` apex values: blendshape weights (gaze blendshapes are zero, their
            meaning moved into the eye rotations), head posture and eye rotations (radians).
        onset_s: Time to reach the apex.
        offset_s: Time to relax.
        gaze_aside: True when the recipe looks aside; the generator picks the side.
        asymmetric: True when the recipe differs between left and right on purpose.
    """

    vector: np.ndarray
    onset_s: float
    offset_s: float
    gaze_aside: bool
    asymmetric: bool


@dataclass(frozen=True)
class CompiledAction:
    """A micro-action recipe as arkit vectors.

    Attributes:
        name: Action id.
        vector: ``(D,)`` apex values, laid out like :attr:`CompiledExpression.vector`.
        path: Keyframes ``((fraction of duration, (D,) values), ...)`` from 0 to 1 for an
            action that is not a single pulse (an eye roll), else None.
        duration_s: Length of one occurrence.
        closes_eyes: True when it drives an eyelid (blink, wink): spontaneous blinks keep
            out of its way.
        asymmetric: True when it is one-sided (a wink).
    """

    name: str
    vector: np.ndarray
    path: tuple[tuple[float, np.ndarray], ...] | None
    duration_s: float
    closes_eyes: bool
    asymmetric: bool

    def keys(self, rise: float, fall: float) -> list[tuple[float, np.ndarray]]:
        """Keyframes ``[(fraction of duration, (D,) values), ...]`` from rest to rest.

        The recipe's path when it has one, else a pulse: rest, apex after ``rise``, apex
        until ``1 - fall``, rest (``rise`` and ``fall`` are fractions of the duration).
        """
        if self.path is not None:
            return list(self.path)
        rest = np.zeros(N_CHANNELS)
        return [(0.0, rest), (rise, self.vector), (1.0 - fall, self.vector), (1.0, rest)]


def _channel_vector(owner: str, channels: Mapping[str, float]) -> np.ndarray:
    """``(D,)`` vector of a recipe's channel weights; unknown names raise."""
    vector = np.zeros(N_CHANNELS)
    for name, weight in channels.items():
        if name not in IDX:
            raise InvalidInputError(
                f"recipe {owner!r} drives unknown channel {name!r}; use arkit channel names "
                "such as 'mouthSmileLeft' or 'headPitch'"
            )
        if not math.isfinite(weight):
            raise InvalidInputError(f"recipe {owner!r}: channel {name!r} has weight {weight!r}")
        vector[IDX[name]] = float(weight)
    return vector


def _resolve_gaze(vector: np.ndarray) -> np.ndarray:
    """Move gaze blendshapes into the eye rotations; an explicit rotation wins."""
    out = vector.copy()
    out[:N_BLENDSHAPES] = np.clip(out[:N_BLENDSHAPES], 0.0, 1.0)
    rotations = np.concatenate([vector[EYE_LEFT], vector[EYE_RIGHT]])
    implied = rotations_from_eye_look(vector[:N_BLENDSHAPES])
    eyes = np.where(rotations != 0.0, rotations, implied)
    out[EYE_LEFT], out[EYE_RIGHT] = eyes[:3], eyes[3:]
    out[list(GAZE_BLENDSHAPES)] = 0.0
    return out


def _is_asymmetric(vector: np.ndarray) -> bool:
    pairs = SYMMETRIC_PAIRS + LATERAL_PAIRS
    return any(abs(vector[a] - vector[b]) > RECIPE_ASYMMETRY_TOL for a, b in pairs)


def compile_expression(recipe: ExpressionRecipe) -> CompiledExpression:
    """Resolve an expression recipe into arrays (see :class:`CompiledExpression`).

    Raises:
        InvalidInputError: The recipe names an unknown channel or gaze direction.
    """
    vector = _resolve_gaze(_channel_vector(recipe.word, recipe.channels))
    if recipe.gaze not in _GAZE_DIRECTIONS:
        raise InvalidInputError(
            f"recipe {recipe.word!r} has gaze {recipe.gaze!r}; use one of "
            f"{sorted(_GAZE_DIRECTIONS)}"
        )
    # The habitual gaze only fills an axis the channels left at rest: "eyeLookDown .5" with
    # gaze=down means one downward look, not two stacked.
    yaw, pitch = _GAZE_DIRECTIONS[recipe.gaze]
    for column, amount in ((0, yaw), (1, pitch)):
        left, right = EYE_LEFT.start + column, EYE_RIGHT.start + column
        if vector[left] == 0.0 and vector[right] == 0.0:
            vector[[left, right]] = amount * HABITUAL_GAZE_RAD
    vector[IDX["headPitch"]] += math.radians(recipe.head_pitch_deg)
    return CompiledExpression(
        vector=vector,
        onset_s=max(float(recipe.onset_s), 0.05),
        offset_s=max(float(recipe.offset_s), 0.05),
        gaze_aside=recipe.gaze == "aside",
        asymmetric=_is_asymmetric(vector),
    )


def compile_action(
    recipe: ActionRecipe, path: Sequence[tuple[float, Mapping[str, float]]] | None = None
) -> CompiledAction:
    """Resolve an action recipe (and its keyframe path, if any) into arrays.

    Raises:
        InvalidInputError: A channel is unknown, or the path does not run from 0 to 1.
    """
    vector = _resolve_gaze(_channel_vector(recipe.name, recipe.channels))
    keys = None
    if path is not None:
        fractions = [float(f) for f, _ in path]
        if fractions[0] != 0.0 or fractions[-1] != 1.0 or np.any(np.diff(fractions) <= 0):
            raise InvalidInputError(
                f"action path of {recipe.name!r} must rise from 0 to 1, got {fractions}"
            )
        keys = tuple(
            (f, _resolve_gaze(_channel_vector(recipe.name, channels)))
            for f, channels in zip(fractions, (c for _, c in path), strict=True)
        )
    lids = vector[[IDX["eyeBlinkLeft"], IDX["eyeBlinkRight"]]]
    return CompiledAction(
        name=recipe.name,
        vector=vector,
        path=keys,
        duration_s=max(float(recipe.duration_s), 0.1),
        closes_eyes=bool(lids.max() > 0.3),
        asymmetric=_is_asymmetric(vector),
    )


_NEUTRAL_EXPRESSION = CompiledExpression(
    vector=np.zeros(N_CHANNELS), onset_s=0.4, offset_s=0.5, gaze_aside=False, asymmetric=False
)


@dataclass
class Vocabulary:
    """The recipe tables generators draw on, with compiled forms cached.

    Attributes:
        expressions: Expression word -> recipe. "neutral" may be missing (a resting face).
        actions: Action id -> recipe.
        head_motions: Head-motion name -> recipe. "still" may be missing.
        action_paths: Action id -> keyframes ``((fraction, channels), ...)`` for actions
            that are not one pulse.
        head_speed_period: Head speed ("slow", "normal", "fast") -> period multiplier.
    """

    expressions: Mapping[str, ExpressionRecipe]
    actions: Mapping[str, ActionRecipe]
    head_motions: Mapping[str, HeadMotionRecipe]
    action_paths: Mapping[str, Sequence[tuple[float, Mapping[str, float]]]] = field(
        default_factory=dict
    )
    head_speed_period: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_HEAD_SPEED_PERIOD)
    )
    _expression_cache: dict[str, CompiledExpression] = field(default_factory=dict, repr=False)
    _action_cache: dict[str, CompiledAction] = field(default_factory=dict, repr=False)

    def expression(self, word: str) -> CompiledExpression:
        """The compiled recipe of an expression word ("neutral" is a resting face).

        Raises:
            InvalidInputError: The word is not in the vocabulary.
        """
        cached = self._expression_cache.get(word)
        if cached is not None:
            return cached
        if word in self.expressions:
            compiled = compile_expression(self.expressions[word])
        elif word == NEUTRAL:
            compiled = _NEUTRAL_EXPRESSION
        else:
            raise InvalidInputError(
                f"no expression recipe for {word!r}; the vocabulary has {len(self.expressions)} "
                f"words, e.g. {sorted(self.expressions)[:8]}"
            )
        self._expression_cache[word] = compiled
        return compiled

    def action(self, name: str) -> CompiledAction:
        """The compiled recipe of a micro-action.

        Raises:
            InvalidInputError: The action is not in the vocabulary.
        """
        cached = self._action_cache.get(name)
        if cached is not None:
            return cached
        if name not in self.actions:
            raise InvalidInputError(
                f"no action recipe for {name!r}; valid actions: {', '.join(sorted(self.actions))}"
            )
        path = self.action_paths.get(name)
        compiled = self._action_cache[name] = compile_action(self.actions[name], path)
        return compiled

    def head_speed(self, speed: str) -> float:
        """The period multiplier of a head speed ("slow", "normal", "fast").

        Raises:
            InvalidInputError: Unknown speed.
        """
        try:
            return float(self.head_speed_period[speed])
        except KeyError:
            raise InvalidInputError(
                f"unknown head speed {speed!r}; valid: {', '.join(self.head_speed_period)}"
            ) from None

    def head_motion(self, name: str) -> HeadMotionRecipe | None:
        """The recipe of a head motion, or None for "still" (or a missing still recipe).

        Raises:
            InvalidInputError: The motion is unknown.
        """
        recipe = self.head_motions.get(name)
        if recipe is None and name != "still":
            raise InvalidInputError(
                f"no head-motion recipe for {name!r}; valid motions: "
                f"{', '.join(sorted(self.head_motions))}"
            )
        if recipe is not None and name == "still":
            return None
        return recipe


def check_intensity_scale(scale: str) -> dict[str, float]:
    """The gains of a named intensity scale (:data:`INTENSITY_SCALES`).

    Raises:
        InvalidInputError: Unknown scale (the message lists the valid ones).
    """
    gains = INTENSITY_SCALES.get(scale)
    if gains is None:
        raise InvalidInputError(
            f"unknown intensity scale {scale!r}; valid: {', '.join(INTENSITY_SCALES)}"
        )
    return gains


def intensity_gain(level: str, scale: str = "linear") -> float:
    """The expression gain of an intensity level on a named scale (:data:`INTENSITY_SCALES`).

    Raises:
        InvalidInputError: Unknown level or scale.
    """
    gains = check_intensity_scale(scale)
    try:
        return gains[level]
    except KeyError:
        raise InvalidInputError(f"unknown intensity {level!r}; valid: {', '.join(gains)}") from None


@lru_cache(maxsize=1)
def default_vocabulary() -> Vocabulary:
    """The lexicon's vocabulary (``tdmm_lm.prompts.lexicon``), built once per process."""
    from tdmm_lm.prompts import lexicon

    return Vocabulary(
        expressions=lexicon.EXPRESSIONS,
        actions=lexicon.ACTIONS,
        head_motions=lexicon.HEAD_MOTION_RECIPES,
        action_paths=lexicon.ACTION_PATHS,
        head_speed_period=lexicon.HEAD_SPEED_PERIOD,
    )


def spec_allows_asymmetry(spec: PromptSpec, vocabulary: Vocabulary) -> bool:
    """True when the prompt asks for a one-sided face (a smirk, a wink, contempt, …).

    Args:
        spec: The prompt.
        vocabulary: Where its recipes come from.
    """
    for segment in spec.labels.segments:
        if vocabulary.expression(segment.emotion).asymmetric:
            return True
        if any(vocabulary.action(name).asymmetric for name in segment.actions):
            return True
    return False
