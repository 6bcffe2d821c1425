"""Muscle properties of the dynamics performer: spring frequency per channel, co-activation.

Each arkit channel follows its target through a damped spring. How quickly depends on the
muscle group: lids and the speech articulators are fast, brows are slow. Action units also
pull on each other (a smile lifts the cheeks); :data:`COUPLING_MATRIX` holds those pulls.
"""

from __future__ import annotations

import math

import numpy as np

from tdmm_lm.face.spaces import ARKIT_BLENDSHAPES
from tdmm_lm.synth.channels import EYE_LEFT, EYE_RIGHT, HEAD, IDX, N_BLENDSHAPES, N_CHANNELS

__all__ = [
    "CHANNEL_HZ",
    "COUPLING",
    "COUPLING_MATRIX",
    "EYE_DAMPING",
    "EYE_HZ",
    "HEAD_HZ",
    "spring_parameters",
]

#: Spring frequencies (Hz) by muscle group (first matching name prefix wins), before the
#: actor's stiffness scale.
_GROUP_HZ = (
    ("eyeBlink", 6.0), ("eyeSquint", 2.6), ("eyeWide", 2.6), ("brow", 1.7), ("cheek", 2.2),
    ("nose", 2.2), ("jawOpen", 5.5), ("mouthClose", 5.5), ("mouthFunnel", 5.5),
    ("mouthPucker", 5.5), ("mouthRoll", 5.5), ("mouthLowerDown", 5.5), ("mouthUpperUp", 5.0),
    ("mouthStretch", 5.0), ("mouthPress", 5.0), ("tongue", 4.0), ("mouth", 3.0), ("jaw", 3.0),
    ("eyeLook", 3.0),  # unused: gaze blendshapes are derived from the eye rotations
)  # fmt: skip
#: The head is a heavier, slower spring.
HEAD_HZ = 3.0
#: Eyes: stiff and nearly critically damped, so a target jump becomes a saccade that lands
#: without overshoot; they do not scale with the actor's stiffness.
EYE_HZ = 7.0
EYE_DAMPING = 0.97
#: Co-activation: a source channel drags its partner to this fraction of its own target
#: (same side; names without a side expand to Left and Right).
COUPLING: dict[tuple[str, str], float] = {
    ("mouthSmile", "cheekSquint"): 0.35,
    ("mouthSmile", "eyeSquint"): 0.15,
    ("browDown", "eyeSquint"): 0.2,
    ("noseSneer", "mouthUpperUp"): 0.3,
    ("eyeWide", "browOuterUp"): 0.2,
    ("mouthFrown", "mouthShrugLower"): 0.2,
    ("jawOpen", "mouthLowerDown"): 0.15,
    ("mouthPucker", "mouthFunnel"): 0.15,
}


def _channel_hz() -> np.ndarray:
    hz = np.full(N_CHANNELS, EYE_HZ)
    for name in ARKIT_BLENDSHAPES:
        hz[IDX[name]] = next(f for prefix, f in _GROUP_HZ if name.startswith(prefix))
    hz[HEAD] = HEAD_HZ
    return hz


def _coupling_matrix() -> np.ndarray:
    """``(52, 52)``: row = source channel, column = channel it co-activates."""
    matrix = np.zeros((N_BLENDSHAPES, N_BLENDSHAPES))
    for (source, target), weight in COUPLING.items():
        for side in ("Left", "Right"):
            matrix[
                IDX.get(source + side, IDX.get(source)), IDX.get(target + side, IDX.get(target))
            ] = weight
    return matrix


#: ``(D,)`` spring frequency of every channel in Hz.
CHANNEL_HZ = _channel_hz()
#: ``(52, 52)`` co-activation; targets become ``targets @ (I + c * COUPLING_MATRIX)``.
COUPLING_MATRIX = _coupling_matrix()


def spring_parameters(
    stiffness: float, damping: float, head_damping: float
) -> tuple[np.ndarray, np.ndarray]:
    """Natural angular frequency and damping ratio of every channel for one actor.

    Args:
        stiffness: The actor's stiffness scale (multiplies every face and head frequency).
        damping: Damping ratio of the face channels, in (0, 1).
        head_damping: Damping ratio of the head, in (0, 1).

    Returns:
        ``omega`` ``(D,)`` in rad/s and ``zeta`` ``(D,)``.
    """
    omega = 2.0 * math.pi * CHANNEL_HZ * stiffness
    omega[EYE_LEFT] = omega[EYE_RIGHT] = 2.0 * math.pi * EYE_HZ
    zeta = np.full(N_CHANNELS, damping)
    zeta[HEAD] = head_damping
    zeta[EYE_LEFT] = zeta[EYE_RIGHT] = EYE_DAMPING
    return omega, zeta
