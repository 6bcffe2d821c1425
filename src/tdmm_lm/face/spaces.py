"""Parameter spaces: the named channel layouts a :class:`FaceSequence` can live in.

A space fixes the number, order, names, valid ranges and meaning of a sequence's channels.
Two spaces ship (SPEC §3):

* ``arkit`` (61 channels, the default): the 52 ARKit blendshapes in Apple / Live Link order,
  each a weight in [0, 1], then head yaw/pitch/roll and per-eye yaw/pitch/roll in radians.
* ``flame`` (58 channels): FLAME expression (50), jaw pose (3, axis-angle), eyelids (2) and
  head pose (3, axis-angle), the layout of the SMIRK tracker used by the TDMM-LM release.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tdmm_lm.errors import InvalidInputError

__all__ = [
    "ARKIT",
    "ARKIT_BLENDSHAPES",
    "FLAME",
    "SPACES",
    "Space",
    "UnknownSpaceError",
    "get_space",
]


class UnknownSpaceError(InvalidInputError):
    """Raised when a space id is not one of :data:`SPACES`."""


@dataclass(frozen=True)
class Space:
    """A parameter space.

    Attributes:
        id: Short identifier stored in files (``"arkit"``, ``"flame"``).
        channels: Channel names, in storage order.
        low: Lowest valid value per channel, shape ``(D,)``.
        high: Highest valid value per channel, shape ``(D,)``.
        descriptions: One line per channel saying what it does.
        rotation_slices: ``(start, stop, kind)`` triples marking channel groups that are
            rotations, ``kind`` being ``"euler"`` (independent angles in radians) or
            ``"axis_angle"`` (a 3-vector). Resampling treats these groups as rotations.
    """

    id: str
    channels: tuple[str, ...]
    low: np.ndarray = field(repr=False)
    high: np.ndarray = field(repr=False)
    descriptions: tuple[str, ...] = field(repr=False)
    rotation_slices: tuple[tuple[int, int, str], ...] = ()

    def __post_init__(self) -> None:
        n = len(self.channels)
        if not (len(self.low) == len(self.high) == len(self.descriptions) == n):
            raise ValueError(f"space {self.id!r}: ranges/descriptions do not match {n} channels")
        if len(set(self.channels)) != n:
            raise ValueError(f"space {self.id!r}: duplicate channel names")

    @property
    def dim(self) -> int:
        """Number of channels ``D``."""
        return len(self.channels)

    def index(self, name: str) -> int:
        """Return the position of channel ``name``; raise ``KeyError`` listing close names."""
        try:
            return self.channels.index(name)
        except ValueError:
            close = [c for c in self.channels if name.lower()[:5] in c.lower()][:5]
            raise KeyError(f"space {self.id!r} has no channel {name!r}; similar: {close}") from None

    def describe(self, name: str) -> str:
        """Return the one-line description of channel ``name``."""
        return self.descriptions[self.index(name)]


# ---------------------------------------------------------------------------------------------
# arkit

_ARKIT_BLENDSHAPES: tuple[tuple[str, str], ...] = (
    ("eyeBlinkLeft", "closes the left eyelids"),
    ("eyeLookDownLeft", "left eye looks down; lids follow"),
    ("eyeLookInLeft", "left eye looks toward the nose"),
    ("eyeLookOutLeft", "left eye looks toward the ear"),
    ("eyeLookUpLeft", "left eye looks up; lids follow"),
    ("eyeSquintLeft", "narrows the left eye from below"),
    ("eyeWideLeft", "widens the left eye, lifting the upper lid"),
    ("eyeBlinkRight", "closes the right eyelids"),
    ("eyeLookDownRight", "right eye looks down; lids follow"),
    ("eyeLookInRight", "right eye looks toward the nose"),
    ("eyeLookOutRight", "right eye looks toward the ear"),
    ("eyeLookUpRight", "right eye looks up; lids follow"),
    ("eyeSquintRight", "narrows the right eye from below"),
    ("eyeWideRight", "widens the right eye, lifting the upper lid"),
    ("jawForward", "pushes the jaw forward"),
    ("jawRight", "moves the jaw to the face's right"),
    ("jawLeft", "moves the jaw to the face's left"),
    ("jawOpen", "opens the jaw, dropping chin and lower lip"),
    ("mouthClose", "closes the lips while the jaw is open"),
    ("mouthFunnel", "flares the lips into a funnel ('oo')"),
    ("mouthPucker", "purses the lips forward ('kiss')"),
    ("mouthRight", "shifts both lips to the face's right"),
    ("mouthLeft", "shifts both lips to the face's left"),
    ("mouthSmileLeft", "pulls the left mouth corner up and out"),
    ("mouthSmileRight", "pulls the right mouth corner up and out"),
    ("mouthFrownLeft", "pulls the left mouth corner down"),
    ("mouthFrownRight", "pulls the right mouth corner down"),
    ("mouthDimpleLeft", "pulls the left mouth corner back"),
    ("mouthDimpleRight", "pulls the right mouth corner back"),
    ("mouthStretchLeft", "stretches the left mouth corner sideways and down"),
    ("mouthStretchRight", "stretches the right mouth corner sideways and down"),
    ("mouthRollLower", "rolls the lower lip inward"),
    ("mouthRollUpper", "rolls the upper lip inward"),
    ("mouthShrugLower", "pushes the lower lip up"),
    ("mouthShrugUpper", "pushes the upper lip up"),
    ("mouthPressLeft", "presses the left half of the lips together"),
    ("mouthPressRight", "presses the right half of the lips together"),
    ("mouthLowerDownLeft", "pulls the left lower lip down"),
    ("mouthLowerDownRight", "pulls the right lower lip down"),
    ("mouthUpperUpLeft", "raises the left upper lip"),
    ("mouthUpperUpRight", "raises the right upper lip"),
    ("browDownLeft", "lowers the left brow"),
    ("browDownRight", "lowers the right brow"),
    ("browInnerUp", "raises the inner ends of both brows"),
    ("browOuterUpLeft", "raises the outer end of the left brow"),
    ("browOuterUpRight", "raises the outer end of the right brow"),
    ("cheekPuff", "puffs both cheeks out"),
    ("cheekSquintLeft", "raises the left cheek toward the eye"),
    ("cheekSquintRight", "raises the right cheek toward the eye"),
    ("noseSneerLeft", "wrinkles the left side of the nose"),
    ("noseSneerRight", "wrinkles the right side of the nose"),
    ("tongueOut", "sticks the tongue out"),
)

#: The 52 ARKit blendshape names, in Apple / Live Link order.
ARKIT_BLENDSHAPES: tuple[str, ...] = tuple(n for n, _ in _ARKIT_BLENDSHAPES)

_HEAD_LIMIT = math.pi / 2  # beyond ±90° the face is no longer visible; no human neck goes there
_EYE_LIMIT = math.pi / 4  # the eye's rotation range is about ±45°
_ARKIT_ROTATIONS: tuple[tuple[str, float, str], ...] = (
    ("headYaw", _HEAD_LIMIT, "head turn, + toward the face's left (radians)"),
    ("headPitch", _HEAD_LIMIT, "head nod, + looking down (radians)"),
    ("headRoll", _HEAD_LIMIT, "head tilt, + toward the face's left shoulder (radians)"),
    ("leftEyeYaw", _EYE_LIMIT, "left eye turn, + toward the face's left (radians)"),
    ("leftEyePitch", _EYE_LIMIT, "left eye pitch, + looking down (radians)"),
    ("leftEyeRoll", _EYE_LIMIT, "left eye roll about the gaze axis (radians)"),
    ("rightEyeYaw", _EYE_LIMIT, "right eye turn, + toward the face's left (radians)"),
    ("rightEyePitch", _EYE_LIMIT, "right eye pitch, + looking down (radians)"),
    ("rightEyeRoll", _EYE_LIMIT, "right eye roll about the gaze axis (radians)"),
)

ARKIT = Space(
    id="arkit",
    channels=ARKIT_BLENDSHAPES + tuple(n for n, _, _ in _ARKIT_ROTATIONS),
    low=np.array([0.0] * 52 + [-lim for _, lim, _ in _ARKIT_ROTATIONS], dtype=np.float32),
    high=np.array([1.0] * 52 + [lim for _, lim, _ in _ARKIT_ROTATIONS], dtype=np.float32),
    descriptions=tuple(d for _, d in _ARKIT_BLENDSHAPES) + tuple(d for _, _, d in _ARKIT_ROTATIONS),
    rotation_slices=((52, 55, "euler"), (55, 58, "euler"), (58, 61, "euler")),
)

# ---------------------------------------------------------------------------------------------
# flame

_FLAME_EXPRESSION_LIMIT = 10.0  # expression PCA coefficients, in standard deviations
FLAME = Space(
    id="flame",
    channels=(
        *tuple(f"exp{i:02d}" for i in range(50)),
        "jawX",
        "jawY",
        "jawZ",
        "eyelidLeft",
        "eyelidRight",
        "headX",
        "headY",
        "headZ",
    ),
    low=np.array(
        [-_FLAME_EXPRESSION_LIMIT] * 50 + [-math.pi] * 3 + [-0.5] * 2 + [-math.pi] * 3,
        dtype=np.float32,
    ),
    high=np.array(
        [_FLAME_EXPRESSION_LIMIT] * 50 + [math.pi] * 3 + [1.5] * 2 + [math.pi] * 3,
        dtype=np.float32,
    ),
    descriptions=tuple(f"FLAME expression PCA coefficient {i}" for i in range(50))
    + tuple(f"jaw rotation, axis-angle {a} (radians)" for a in "xyz")
    + ("left eyelid closure blendshape (SMIRK)", "right eyelid closure blendshape (SMIRK)")
    + tuple(f"global head rotation, axis-angle {a} (radians)" for a in "xyz"),
    rotation_slices=((50, 53, "axis_angle"), (55, 58, "axis_angle")),
)

#: All known spaces by id.
SPACES: dict[str, Space] = {s.id: s for s in (ARKIT, FLAME)}


def get_space(space_id: str) -> Space:
    """Return the space called ``space_id``; an unknown id raises :class:`UnknownSpaceError`."""
    try:
        return SPACES[space_id]
    except KeyError:
        raise UnknownSpaceError(
            f"unknown parameter space {space_id!r}; valid spaces: {', '.join(SPACES)}"
        ) from None
