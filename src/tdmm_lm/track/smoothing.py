"""Temporal smoothing: a confidence-weighted smoothness prior solved over the whole clip.

For each channel the smoothed curve ``z`` minimises

    Σ_t c_t (z_t − y_t)² + μ Σ_t (z_{t+1} − 2 z_t + z_{t−1})²

(a Whittaker–Henderson smoother): ``y`` are the per-frame fits, ``c_t`` the frame confidences
(near 0 for failed frames, which are thereby interpolated from their neighbours) and ``μ``
the strength of the prior on curvature. The solution is one banded (pentadiagonal) linear
solve per channel group, exact and zero-phase: nothing lags, unlike a causal filter.

With ``c = 1`` the smoother is a low-pass filter with gain ``1 / (1 + μ (2 − 2 cos ω)²)``;
each channel group is given its half-gain frequency in hertz, so the result does not depend
on the video's frame rate. Eyelids get the highest cut-off so that blinks (about 0.1–0.3 s)
keep their depth; brows and head, which move slowly, get the lowest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solveh_banded

__all__ = ["SmoothingConfig", "cutoff_to_strength", "whittaker"]

#: Second differences need three frames.
MIN_FRAMES = 3


@dataclass(frozen=True)
class SmoothingConfig:
    """Half-gain frequencies (Hz) of the smoothness prior, per channel group.

    A value at or above the Nyquist frequency leaves that group unsmoothed.

    Attributes:
        enabled: Smooth at all.
        lids_hz: eyeBlink*, eyeSquint*, eyeWide*.
        mouth_hz: jaw* and mouth* channels.
        upper_face_hz: Brows, cheeks and nose.
        head_hz: Head yaw, pitch and roll.
        gaze_hz: Eye rotations (and the eyeLook* weights derived from them).
    """

    enabled: bool = True
    lids_hz: float = 8.0
    mouth_hz: float = 6.0
    upper_face_hz: float = 4.0
    head_hz: float = 4.0
    gaze_hz: float = 6.0

    def __post_init__(self) -> None:
        for name in ("lids_hz", "mouth_hz", "upper_face_hz", "head_hz", "gaze_hz"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive frequency in Hz, got {value}")


def cutoff_to_strength(cutoff_hz: float, fps: float) -> float:
    """The prior strength μ whose smoother halves the gain at ``cutoff_hz``.

    Returns 0 (no smoothing) when the cut-off is at or above the Nyquist frequency.
    """
    omega = 2.0 * math.pi * cutoff_hz / fps
    if omega >= math.pi:
        return 0.0
    return 1.0 / (2.0 - 2.0 * math.cos(omega)) ** 2


def _banded_system(confidence: np.ndarray, strength: float) -> np.ndarray:
    """Upper banded form of ``diag(c) + μ D₂ᵀ D₂`` for :func:`scipy.linalg.solveh_banded`."""
    n = len(confidence)
    bands = np.zeros((3, n))  # rows: 2nd super-diagonal, 1st super-diagonal, diagonal
    coef = (1.0, -2.0, 1.0)
    for a in range(3):  # each second difference touches frames r, r + 1, r + 2
        bands[2, a : n - 2 + a] += strength * coef[a] ** 2
    for a in range(2):
        bands[1, a + 1 : n - 1 + a] += strength * coef[a] * coef[a + 1]
    bands[0, 2:] += strength * coef[0] * coef[2]
    bands[2] += confidence
    return bands


def whittaker(values: np.ndarray, confidence: np.ndarray, strength: float) -> np.ndarray:
    """Smooth curves with the confidence-weighted second-difference prior.

    Args:
        values: (T, C) curves sampled at one frame rate.
        confidence: (T,) positive data weights (a frame's trust, in (0, 1]).
        strength: μ, e.g. from :func:`cutoff_to_strength`; 0 returns ``values``.

    Returns:
        (T, C) float64 smoothed curves.
    """
    values = np.asarray(values, dtype=np.float64)
    if strength <= 0.0 or len(values) < MIN_FRAMES:
        return values.copy()
    if np.any(confidence <= 0):
        raise ValueError("confidence must be positive (floor failed frames, do not zero them)")
    bands = _banded_system(np.asarray(confidence, dtype=np.float64), strength)
    return solveh_banded(bands, confidence[:, None] * values, check_finite=False)
