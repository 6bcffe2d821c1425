"""Eyes: blink schedules and shapes, and gaze saccades between fixations.

The keyframe performer blinks from a gamma renewal process with an eased, nearly
symmetric lid pulse; the dynamics performer blinks from a Poisson process with a refractory
period and a skewed pulse that closes fast and reopens slowly.
"""

from __future__ import annotations

import numpy as np

from tdmm_lm.synth.curves import pulse_matrix, step_matrix

__all__ = [
    "SKEWED_BLINK_SHAPE",
    "blink_curve",
    "drop_events_in",
    "gamma_renewal_times",
    "poisson_refractory_times",
    "saccade_gaze",
    "skewed_blink_curve",
]

#: Exponent ``k`` of the skewed blink pulse ``x^k exp(k (1 - x))``, ``x = t / peak``: the lid
#: closes fast and reopens about twice as slowly, as real lids do. Its top speed is
#: 1.79 / peak (for k = 1.5), so peaks >= 0.085 s stay within 21/s.
SKEWED_BLINK_SHAPE = 1.5
_SKEWED_BLINK_END = 8.0  # in peaks; the pulse is below 0.1 % there


def gamma_renewal_times(
    rng: np.random.Generator, duration_s: float, mean_interval_s: float, shape: float,
    min_interval_s: float,
) -> np.ndarray:  # fmt: skip
    """Event times of a gamma renewal process (regular-ish when ``shape`` > 1).

    Args:
        rng: Random generator.
        duration_s: Length of the clip.
        mean_interval_s: Mean time between events.
        shape: Gamma shape; 1 is Poisson, larger is more regular.
        min_interval_s: Intervals are at least this long.

    Returns:
        ``(K,)`` sorted times inside ``[0, duration_s)``.
    """
    n_max = int(duration_s / max(min_interval_s, 0.1)) + 2
    intervals = np.maximum(rng.gamma(shape, mean_interval_s / shape, size=n_max), min_interval_s)
    # The clip starts in the middle of an interval: the first event comes after part of one.
    first = rng.uniform(0.15, max(mean_interval_s, 0.2))
    times = first + np.concatenate([[0.0], np.cumsum(intervals)[:-1]])
    return times[times < duration_s]


def drop_events_in(times: np.ndarray, windows: list[tuple[float, float]]) -> np.ndarray:
    """Remove the event times that fall inside any ``(start, end)`` window."""
    if not windows or times.size == 0:
        return times
    bounds = np.asarray(windows)  # (W, 2)
    inside = (times[:, None] >= bounds[None, :, 0]) & (times[:, None] <= bounds[None, :, 1])
    return times[~inside.any(axis=1)]


def blink_curve(
    t: np.ndarray,
    times: np.ndarray,
    close_s: np.ndarray,
    hold_s: np.ndarray,
    open_s: np.ndarray,
    amplitude: np.ndarray,
) -> np.ndarray:
    """Eyelid closure of non-overlapping blinks with eased close, hold and open.

    Args:
        t: ``(T,)`` times in seconds.
        times: ``(K,)`` blink start times.
        close_s: ``(K,)`` closing durations.
        hold_s: ``(K,)`` durations held closed.
        open_s: ``(K,)`` reopening durations.
        amplitude: ``(K,)`` peak closure in [0, 1].

    Returns:
        ``(T,)`` closure in [0, 1].
    """
    if times.size == 0:
        return np.zeros_like(t)
    return pulse_matrix(t, times, close_s, hold_s, open_s) @ amplitude


def saccade_gaze(
    rng: np.random.Generator,
    t: np.ndarray,
    fixation_s: tuple[float, float],
    sigma_rad: tuple[float, float],
    max_speed: float,
) -> np.ndarray:
    """Gaze of fixations separated by saccades (eased jumps on the main sequence).

    Args:
        rng: Random generator.
        t: ``(T,)`` times in seconds.
        fixation_s: ``(low, high)`` fixation durations (uniform).
        sigma_rad: Standard deviation of fixation targets, ``(yaw, pitch)`` radians.
        max_speed: Peak eye speed allowed (rad/s).

    Returns:
        ``(T, 2)`` eye yaw and pitch in radians, both eyes together.
    """
    duration = float(t[-1]) + 1e-9 if t.size else 0.0
    n_max = int(duration / fixation_s[0]) + 2
    times = np.cumsum(rng.uniform(*fixation_s, size=n_max)) - rng.uniform(0, fixation_s[0])
    sigma = np.asarray(sigma_rad)
    targets = np.clip(rng.standard_normal((n_max, 2)) * sigma, -2.2 * sigma, 2.2 * sigma)
    keep = times < duration
    times, targets = times[keep], targets[keep]
    if times.size == 0:
        return np.zeros((t.size, 2))
    jumps = np.diff(targets, axis=0, prepend=np.zeros((1, 2)))  # (K, 2)
    amplitude = np.hypot(jumps[:, 0], jumps[:, 1])
    # Main sequence: saccades take ~20 ms plus ~2.5 ms per degree, never outrunning the eye.
    durations = np.maximum(0.02 + 0.0025 * np.degrees(amplitude), 1.5 * amplitude / max_speed)
    return step_matrix(t, times, durations) @ jumps


def poisson_refractory_times(
    rng: np.random.Generator, duration_s: float, rate_per_s: float, refractory_s: float
) -> np.ndarray:
    """Event times of a Poisson process with a dead time after each event.

    Args:
        rng: Random generator.
        duration_s: Length of the clip.
        rate_per_s: Mean event rate including the dead time (events per second).
        refractory_s: Dead time after each event.

    Returns:
        ``(K,)`` sorted times inside ``[0, duration_s)``.
    """
    mean_gap = max(1.0 / rate_per_s - refractory_s, 0.05)
    n_max = int(duration_s / refractory_s) + 2
    times = np.cumsum(refractory_s + rng.exponential(mean_gap, n_max))
    times -= rng.uniform(0.0, 2.0 * mean_gap)  # the clip starts mid-interval
    return times[(times >= 0.0) & (times < duration_s)] if times.size else times


def skewed_blink_curve(
    t: np.ndarray, times: np.ndarray, peak_s: np.ndarray, amplitude: np.ndarray
) -> np.ndarray:
    """Eyelid closure of blinks shaped ``x^k exp(k (1 - x))`` (see :data:`SKEWED_BLINK_SHAPE`).

    Args:
        t: ``(T,)`` times in seconds.
        times: ``(K,)`` blink start times.
        peak_s: ``(K,)`` time from start to full closure.
        amplitude: ``(K,)`` peak closure.

    Returns:
        ``(T,)`` closure in [0, 1].
    """
    if times.size == 0:
        return np.zeros_like(t)
    x = (t[:, None] - times[None, :]) / peak_s[None, :]  # (T, K)
    x = np.minimum(np.maximum(x, 0.0), _SKEWED_BLINK_END)
    k = SKEWED_BLINK_SHAPE
    pulses = x**k * np.exp(k * (1.0 - x)) * (x < _SKEWED_BLINK_END)
    return np.minimum(pulses @ amplitude, 1.0)
