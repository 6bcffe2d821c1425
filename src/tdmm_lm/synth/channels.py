"""Channel bookkeeping for the ``arkit`` space shared by the generators and their checks.

Column indices, the left/right pairing of blendshapes, the channels that move at eyelid or
saccade speed, and the mapping between eye rotations and the ``eyeLook*`` blendshapes.
"""

from __future__ import annotations

import math

import numpy as np

from tdmm_lm.face.spaces import ARKIT, ARKIT_BLENDSHAPES

__all__ = [
    "BLENDSHAPES",
    "EYE_LEFT",
    "EYE_LOOK_FULL_RAD",
    "EYE_RIGHT",
    "FAST_BLENDSHAPES",
    "GAZE_BLENDSHAPES",
    "HEAD",
    "IDX",
    "LATERAL_PAIRS",
    "LEFT",
    "MIRROR_GROUP",
    "N_BLENDSHAPES",
    "N_CHANNELS",
    "N_MIRROR_GROUPS",
    "RIGHT",
    "SYMMETRIC_PAIRS",
    "eye_look_from_rotations",
    "rotations_from_eye_look",
]

#: Number of channels of the ``arkit`` space.
N_CHANNELS = ARKIT.dim
#: Number of blendshape channels (the first columns).
N_BLENDSHAPES = len(ARKIT_BLENDSHAPES)
#: Column index of every channel.
IDX: dict[str, int] = {name: i for i, name in enumerate(ARKIT.channels)}

BLENDSHAPES = slice(0, N_BLENDSHAPES)
HEAD = slice(IDX["headYaw"], IDX["headRoll"] + 1)  # yaw, pitch, roll
EYE_LEFT = slice(IDX["leftEyeYaw"], IDX["leftEyeRoll"] + 1)  # yaw, pitch, roll
EYE_RIGHT = slice(IDX["rightEyeYaw"], IDX["rightEyeRoll"] + 1)

# Gaze blendshapes are not mirror images of each other: looking to the subject's left drives
# eyeLookOutLeft together with eyeLookInRight. They are derived from the eye rotations.
_GAZE_STEMS = ("eyeLookIn", "eyeLookOut", "eyeLookUp", "eyeLookDown")
#: ``(left, right)`` columns that a symmetric face moves together.
SYMMETRIC_PAIRS: tuple[tuple[int, int], ...] = tuple(
    (IDX[name], IDX[name[: -len("Left")] + "Right"])
    for name in ARKIT_BLENDSHAPES
    if name.endswith("Left")
    and not name.startswith(("eyeLookIn", "eyeLookOut"))
    and name not in ("jawLeft", "mouthLeft")  # sideways shifts, see LATERAL_PAIRS
)
#: ``(left, right)`` columns of sideways shifts; a symmetric face leaves both at rest.
LATERAL_PAIRS: tuple[tuple[int, int], ...] = (
    (IDX["jawLeft"], IDX["jawRight"]),
    (IDX["mouthLeft"], IDX["mouthRight"]),
)
#: Blendshape columns on the subject's left / right (mirror order), for per-side gains.
LEFT = np.array([left for left, _ in SYMMETRIC_PAIRS], dtype=np.int64)
RIGHT = np.array([right for _, right in SYMMETRIC_PAIRS], dtype=np.int64)

#: Blendshapes that move at eyelid or saccade speed: blinks and gaze.
FAST_BLENDSHAPES: tuple[int, ...] = tuple(
    IDX[name] for name in ARKIT_BLENDSHAPES if name.startswith(("eyeBlink", *_GAZE_STEMS))
)


def _mirror_groups() -> np.ndarray:
    """Group id per blendshape, equal for the two sides of a symmetric pair."""
    group = np.full(N_BLENDSHAPES, -1, dtype=np.int64)
    partner = {left: right for left, right in SYMMETRIC_PAIRS}
    next_id = 0
    for i in range(N_BLENDSHAPES):
        if group[i] >= 0:
            continue
        group[i] = next_id
        if i in partner:
            group[partner[i]] = next_id
        next_id += 1
    return group


#: Blendshape -> mirror group; noise drawn per group keeps the two sides in step.
MIRROR_GROUP: np.ndarray = _mirror_groups()
N_MIRROR_GROUPS = int(MIRROR_GROUP.max()) + 1

#: Eye rotation (radians) at which an ``eyeLook*`` blendshape reaches 1. The face model's
#: iris travels 4 mm at full weight on a ~12 mm eyeball, i.e. about 20°; ARKit captures
#: saturate later, so 30° is a compromise that keeps ordinary gaze below 0.5.
EYE_LOOK_FULL_RAD = math.radians(30.0)

_LOOK_OUT_LEFT, _LOOK_IN_LEFT = IDX["eyeLookOutLeft"], IDX["eyeLookInLeft"]
_LOOK_DOWN_LEFT, _LOOK_UP_LEFT = IDX["eyeLookDownLeft"], IDX["eyeLookUpLeft"]
_LOOK_IN_RIGHT, _LOOK_OUT_RIGHT = IDX["eyeLookInRight"], IDX["eyeLookOutRight"]
_LOOK_DOWN_RIGHT, _LOOK_UP_RIGHT = IDX["eyeLookDownRight"], IDX["eyeLookUpRight"]


def eye_look_from_rotations(params: np.ndarray) -> None:
    """Set the eight ``eyeLook*`` columns of ``params`` from its eye rotation columns.

    Yaw + turns an eye toward the subject's left: the left eye looks out (toward its ear),
    the right eye looks in (toward the nose). Pitch + looks down.

    Args:
        params: ``(T, D)`` arkit parameters, modified in place.
    """
    scale = 1.0 / EYE_LOOK_FULL_RAD
    yaw_l = params[:, IDX["leftEyeYaw"]] * scale
    pitch_l = params[:, IDX["leftEyePitch"]] * scale
    yaw_r = params[:, IDX["rightEyeYaw"]] * scale
    pitch_r = params[:, IDX["rightEyePitch"]] * scale
    params[:, _LOOK_OUT_LEFT] = np.clip(yaw_l, 0.0, 1.0)
    params[:, _LOOK_IN_LEFT] = np.clip(-yaw_l, 0.0, 1.0)
    params[:, _LOOK_IN_RIGHT] = np.clip(yaw_r, 0.0, 1.0)
    params[:, _LOOK_OUT_RIGHT] = np.clip(-yaw_r, 0.0, 1.0)
    params[:, _LOOK_DOWN_LEFT] = np.clip(pitch_l, 0.0, 1.0)
    params[:, _LOOK_UP_LEFT] = np.clip(-pitch_l, 0.0, 1.0)
    params[:, _LOOK_DOWN_RIGHT] = np.clip(pitch_r, 0.0, 1.0)
    params[:, _LOOK_UP_RIGHT] = np.clip(-pitch_r, 0.0, 1.0)


def rotations_from_eye_look(weights: np.ndarray) -> np.ndarray:
    """Eye rotations implied by ``eyeLook*`` blendshape weights (inverse of the above).

    Args:
        weights: ``(..., N_BLENDSHAPES)`` blendshape weights.

    Returns:
        ``(..., 6)``: left yaw, pitch, roll, right yaw, pitch, roll in radians (roll 0).
    """
    w = np.asarray(weights, dtype=np.float64)
    out = np.zeros((*w.shape[:-1], 6))
    out[..., 0] = (w[..., _LOOK_OUT_LEFT] - w[..., _LOOK_IN_LEFT]) * EYE_LOOK_FULL_RAD
    out[..., 1] = (w[..., _LOOK_DOWN_LEFT] - w[..., _LOOK_UP_LEFT]) * EYE_LOOK_FULL_RAD
    out[..., 3] = (w[..., _LOOK_IN_RIGHT] - w[..., _LOOK_OUT_RIGHT]) * EYE_LOOK_FULL_RAD
    out[..., 4] = (w[..., _LOOK_DOWN_RIGHT] - w[..., _LOOK_UP_RIGHT]) * EYE_LOOK_FULL_RAD
    return out


#: Columns of all eight gaze blendshapes.
GAZE_BLENDSHAPES: tuple[int, ...] = tuple(
    IDX[name] for name in ARKIT_BLENDSHAPES if name.startswith(_GAZE_STEMS)
)
