"""Physical plausibility of synthetic facial motion: limits, a checker and an enforcer.

A face cannot move its parts arbitrarily fast, its neck turns only so far, and it is
roughly symmetric unless it means not to be. :func:`check_plausibility` lists every way a
sequence breaks these limits; :func:`enforce_plausibility` is the last step of every
procedural generator and repairs what slipped through (ranges by clipping, speeds by slew
limiting, acceleration by local smoothing). The generators are built to stay inside the
limits by construction, so the enforcer rarely has anything to do.

All limits are module constants, in units per second (blendshapes) or radians.
"""

from __future__ import annotations

import math

import numpy as np

from tdmm_lm.face.sequence import FaceSequence
from tdmm_lm.synth.channels import (
    EYE_LEFT,
    EYE_LOOK_FULL_RAD,
    EYE_RIGHT,
    FAST_BLENDSHAPES,
    HEAD,
    IDX,
    LATERAL_PAIRS,
    N_BLENDSHAPES,
    N_CHANNELS,
    SYMMETRIC_PAIRS,
)
from tdmm_lm.synth.curves import min_ease_duration

__all__ = [
    "EYE_RANGE_RAD",
    "HEAD_RANGE_RAD",
    "MAX_BLENDSHAPE_ACCEL",
    "MAX_BLENDSHAPE_SPEED",
    "MAX_EYE_SPEED",
    "MAX_FAST_BLENDSHAPE_SPEED",
    "MAX_HEAD_SPEED",
    "SYMMETRY_ABS_TOL",
    "SYMMETRY_REL_TOL",
    "check_plausibility",
    "enforce_plausibility",
    "min_transition_s",
]

#: Fastest change of an ordinary blendshape weight (full range in ~80 ms).
MAX_BLENDSHAPE_SPEED = 12.0
#: Eyelids (blinks close in ~50-100 ms) and gaze blendshapes (saccades) move faster.
MAX_FAST_BLENDSHAPE_SPEED = 25.0
#: Fastest change of an ordinary blendshape's speed (1/s²): a step onset (speed from 0 to
#: 12/s within one 25 fps frame) reads as a pop, an eased onset does not.
MAX_BLENDSHAPE_ACCEL = 300.0
#: Peak head angular speed of quick head shakes.
MAX_HEAD_SPEED = math.radians(300.0)
#: Peak eye angular speed (large saccades).
MAX_EYE_SPEED = math.radians(600.0)
#: Human head range about each axis: yaw, pitch, roll.
HEAD_RANGE_RAD = np.radians([70.0, 45.0, 40.0])
#: Human eye range about each axis (yaw, pitch, roll).
EYE_RANGE_RAD = np.radians([40.0, 35.0, 20.0])
#: A symmetric face keeps ``|left - right| <= SYMMETRY_ABS_TOL + SYMMETRY_REL_TOL * max``
#: on every paired channel at every frame. The tolerance leaves room for an identity's
#: slight left/right gain difference of a few percent.
SYMMETRY_ABS_TOL = 0.08
SYMMETRY_REL_TOL = 0.15

# Speed limit per channel, (D,).
_SPEED_LIMIT = np.full(N_CHANNELS, MAX_BLENDSHAPE_SPEED)
_SPEED_LIMIT[list(FAST_BLENDSHAPES)] = MAX_FAST_BLENDSHAPE_SPEED
_SPEED_LIMIT[HEAD] = MAX_HEAD_SPEED
_SPEED_LIMIT[EYE_LEFT] = MAX_EYE_SPEED
_SPEED_LIMIT[EYE_RIGHT] = MAX_EYE_SPEED
# Acceleration is checked on ordinary blendshapes only: blinks and saccades are ballistic.
_ACCEL_CHANNELS = np.array(
    [i for i in range(N_BLENDSHAPES) if i not in set(FAST_BLENDSHAPES)], dtype=np.int64
)
_LOW = np.concatenate([np.zeros(N_BLENDSHAPES), -HEAD_RANGE_RAD, -EYE_RANGE_RAD, -EYE_RANGE_RAD])
_HIGH = np.concatenate([np.ones(N_BLENDSHAPES), HEAD_RANGE_RAD, EYE_RANGE_RAD, EYE_RANGE_RAD])
_CHANNEL_NAMES = tuple(IDX)
_ALL = np.arange(N_CHANNELS)
_PAIRS = np.array(SYMMETRIC_PAIRS + LATERAL_PAIRS, dtype=np.int64)  # (P, 2)
#: Numerical slack on every limit, so float32 storage never flips a verdict.
_SLACK = 1.0 + 1e-3
#: Passes of [1, 2, 1] smoothing the enforcer may spend on the blendshapes' acceleration
#: (enough to round a slew-limited step at 60 fps).
_MAX_SMOOTHING_PASSES = 40


def _report(
    kind: str, values: np.ndarray, limit: np.ndarray, columns: np.ndarray, unit: str, fps: float
) -> str:
    """One message naming the worst channel of ``values`` ``(T', C)`` against ``limit`` ``(C,)``.

    ``columns`` ``(C,)`` gives the arkit column of each of the ``C`` channels.
    """
    ratio = np.abs(values) / limit[None, :]
    frame, k = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    n_bad = int((ratio > _SLACK).any(axis=0).sum())
    return (
        f"{kind}: {n_bad} channel(s) exceed the limit; worst {_CHANNEL_NAMES[columns[k]]} = "
        f"{abs(values[frame, k]):.3g} {unit} at {frame / fps:.2f} s (limit {limit[k]:.3g})"
    )


def check_plausibility(seq: FaceSequence, allow_asymmetry: bool | None = None) -> list[str]:
    """List the ways an ``arkit`` sequence breaks the physical limits of a face.

    Checks: value ranges (blendshapes in [0, 1], head within :data:`HEAD_RANGE_RAD`, eyes
    within :data:`EYE_RANGE_RAD`); frame-to-frame speed per channel; acceleration of the
    ordinary blendshapes (smooth onsets and offsets); left/right symmetry of paired channels
    unless asymmetry is allowed.

    Args:
        seq: The sequence, in the ``arkit`` space.
        allow_asymmetry: Whether the prompt asked for a one-sided face (wink, smirk, …).
            ``None`` reads ``seq.meta["allow_asymmetry"]`` (False when absent).

    Returns:
        One message per broken rule, naming the worst channel and time; empty when
        the sequence is plausible.

    Raises:
        ValueError: The sequence is not in the ``arkit`` space.
    """
    if seq.space != "arkit":
        raise ValueError(f"plausibility is defined for the arkit space, got {seq.space!r}")
    if allow_asymmetry is None:
        allow_asymmetry = bool(seq.meta.get("allow_asymmetry", False))
    p = seq.params.astype(np.float64)
    fps = seq.fps
    problems: list[str] = []

    below, above = p < _LOW - 1e-6, p > _HIGH + 1e-6
    if below.any() or above.any():
        bad = below | above
        frame, channel = np.argwhere(bad)[0]
        problems.append(
            f"range: {int(bad.any(axis=0).sum())} channel(s) leave the human range; first "
            f"{_CHANNEL_NAMES[channel]} = {p[frame, channel]:.3g} at {frame / fps:.2f} s "
            f"(range [{_LOW[channel]:.3g}, {_HIGH[channel]:.3g}])"
        )
    if len(p) >= 2:
        speed = np.diff(p, axis=0) * fps  # (T-1, D)
        if (np.abs(speed) > _SPEED_LIMIT * _SLACK).any():
            problems.append(_report("speed", speed, _SPEED_LIMIT, _ALL, "/s", fps))
    if len(p) >= 3:
        accel = np.diff(p[:, _ACCEL_CHANNELS], n=2, axis=0) * fps * fps  # (T-2, C)
        limit = np.full(_ACCEL_CHANNELS.size, MAX_BLENDSHAPE_ACCEL)
        if (np.abs(accel) > limit * _SLACK).any():
            kind = "acceleration (not a smooth onset/offset)"
            problems.append(_report(kind, accel, limit, _ACCEL_CHANNELS, "/s²", fps))
    if not allow_asymmetry:
        left, right = p[:, _PAIRS[:, 0]], p[:, _PAIRS[:, 1]]
        excess = np.abs(left - right) - (
            SYMMETRY_ABS_TOL + SYMMETRY_REL_TOL * np.maximum(left, right)
        )
        if (excess > 0).any():
            frame, pair = np.unravel_index(int(np.argmax(excess)), excess.shape)
            a, b = _PAIRS[pair]
            problems.append(
                f"symmetry: {_CHANNEL_NAMES[a]} = {p[frame, a]:.3g} but {_CHANNEL_NAMES[b]} = "
                f"{p[frame, b]:.3g} at {frame / fps:.2f} s, and the prompt asks for no "
                "one-sided expression"
            )
    return problems


def min_transition_s(delta: np.ndarray, margin: float) -> float:
    """Shortest eased (:func:`~tdmm_lm.synth.curves.smoothstep`) change of ``delta`` within limits.

    Generators plan their transitions with it, using only ``margin`` of each limit because
    layers (expression, speech, actions) add up.

    Args:
        delta: ``(D,)`` change of every channel (eye rotations also move the gaze
            blendshapes, which are derived from them).
        margin: Fraction of the limits to use, in (0, 1].

    Returns:
        Duration in seconds (0 for no change).
    """
    change = np.abs(delta)
    ordinary = float(change[_ACCEL_CHANNELS].max(initial=0.0))
    fast = float(change[list(FAST_BLENDSHAPES)].max(initial=0.0))
    eyes = float(max(change[EYE_LEFT].max(), change[EYE_RIGHT].max()))
    head = float(change[HEAD].max())
    return max(
        min_ease_duration(ordinary, margin * MAX_BLENDSHAPE_SPEED, margin * MAX_BLENDSHAPE_ACCEL),
        min_ease_duration(fast, margin * MAX_FAST_BLENDSHAPE_SPEED, None),
        min_ease_duration(eyes, margin * MAX_EYE_SPEED, None),
        min_ease_duration(eyes / EYE_LOOK_FULL_RAD, margin * MAX_FAST_BLENDSHAPE_SPEED, None),
        min_ease_duration(head, margin * MAX_HEAD_SPEED, None),
    )


def enforce_plausibility(params: np.ndarray, fps: float) -> np.ndarray:
    """Bring ``arkit`` parameters inside the limits that do not depend on the prompt.

    Clips every channel to its human range, slows channels that move too fast with a slew
    limiter, then smooths ordinary blendshapes whose acceleration is too high. Symmetry is
    the generators' business (it depends on the prompt). Work is done only on offending
    channels, so a clean sequence costs a few vectorised comparisons.

    Args:
        params: ``(T, D)`` float64 parameters; modified in place and returned.
        fps: Frame rate.

    Returns:
        ``params``.
    """
    np.clip(params, _LOW, _HIGH, out=params)
    if len(params) < 2:
        return params
    step_limit = _SPEED_LIMIT / fps  # per frame
    bad = (np.abs(np.diff(params, axis=0)) > step_limit).any(axis=0)
    if bad.any():
        columns = np.flatnonzero(bad)
        limit = step_limit[columns]
        x = params[:, columns]
        # A slew limiter is recursive in time; it runs only on the offending channels.
        for i in range(1, len(x)):
            x[i] = x[i - 1] + np.clip(x[i] - x[i - 1], -limit, limit)
        params[:, columns] = x
    # Smoothing last: it also rounds the corners the slew limiter leaves, and never speeds
    # anything up.
    accel_limit = MAX_BLENDSHAPE_ACCEL * fps**-2  # per frame²
    for _ in range(_MAX_SMOOTHING_PASSES):
        if len(params) < 3:
            break
        block = params[:, _ACCEL_CHANNELS]
        bad = (np.abs(np.diff(block, n=2, axis=0)) > accel_limit).any(axis=0)
        if not bad.any():
            break
        columns = _ACCEL_CHANNELS[bad]
        x = params[:, columns]
        x[1:-1] = 0.25 * x[:-2] + 0.5 * x[1:-1] + 0.25 * x[2:]
        params[:, columns] = x
    return params
    accel_limit = MAX_BLENDSHAPE_ACCEL * fps**-2  # per frame²
    for _ in range(_MAX_SMOOTHING_PASSES):
        if len(params) < 3:
            break
        block = params[:, _ACCEL_CHANNELS]
        bad = (np.abs(np.diff(block, n=2, axis=0)) > accel_limit).any(axis=0)
        if not bad.any():
            break
        columns = _ACCEL_CHANNELS[bad]
        x = params[:, columns]
        smoothed = x.copy()
        smoothed[1:-1] = 0.25 * x[:-2] + 0.5 * x[1:-1] + 0.25 * x[2:]
        params[:, columns] = smoothed
    step_limit = _SPEED_LIMIT / fps  # per frame
    bad = (np.abs(np.diff(params, axis=0)) > step_limit).any(axis=0)
    if bad.any():
        columns = np.flatnonzero(bad)
        limit = step_limit[columns]
        x = params[:, columns]
        # A slew limiter is recursive in time; it runs only on the offending channels.
        for i in range(1, len(x)):
            x[i] = x[i - 1] + np.clip(x[i] - x[i - 1], -limit, limit)
        params[:, columns] = x
    return params
