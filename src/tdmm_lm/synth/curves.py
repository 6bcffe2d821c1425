"""Vectorised curve building blocks: easing, pulses, smooth noise and head-motion shapes.

Every function works on a whole time grid at once (``t``: ``(T,)`` seconds) and on many
events at once (``(K,)`` parameters), returning ``(T, K)`` matrices that a generator turns
into channel curves with one matrix product. No function loops over frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "OSCILLATION_SHAPES",
    "Oscillation",
    "bump_matrix",
    "min_ease_duration",
    "plan_oscillation",
    "pulse_matrix",
    "smooth_noise",
    "smooth_soft_clip",
    "smoothstep",
    "step_matrix",
]

#: Oscillation shapes: "nod" = a sine whose second lobe is :data:`NOD_RECOIL` as large (the
#: head dips, then comes back up a little past its rest); "swing" = a sine faded in and out
#: (both sides alike); "step_nod" / "step_swing" = the same excursions as eased moves with
#: holds between them (targets for a spring to follow).
OSCILLATION_SHAPES: tuple[str, ...] = ("nod", "swing", "step_nod", "step_swing")
#: Size of a nod's return swing past the rest pose, as a share of its dip. A nod that only
#: dips and returns reads as a bob; an affirmative nod swings through (video of people nodding
#: shows the head rising past rest by roughly half the dip).
NOD_RECOIL = 0.6
#: Peak speed of one unit-amplitude cycle of each shape, times the period.
_SHAPE_PEAK_SPEED = {
    "nod": 2.0 * math.pi,
    "swing": 2.0 * math.pi * 1.05,
    "step_nod": 1.5 / (0.4 * 0.5),
    "step_swing": 1.5 / (0.4 * 0.5),
}
#: Fraction of a swing cycle over which it fades in and out, so it starts and ends at rest.
_SWING_TAPER = 0.25


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Cubic ease 0 -> 1 on [0, 1] with zero slope at both ends (clamped outside).

    Peak slope is 1.5 and peak curvature 6, which :func:`min_ease_duration` relies on.
    """
    x = np.minimum(np.maximum(x, 0.0), 1.0)  # np.clip costs more per call on small arrays
    return x * x * (3.0 - 2.0 * x)


def min_ease_duration(amplitude: float, max_speed: float, max_accel: float | None) -> float:
    """Shortest :func:`smoothstep` transition of ``amplitude`` within speed/accel limits.

    Args:
        amplitude: Size of the change (absolute units of the channel).
        max_speed: Allowed peak speed (units/s).
        max_accel: Allowed peak acceleration (units/s²), or None for no bound.

    Returns:
        The minimal duration in seconds (0 for a zero amplitude).
    """
    amplitude = abs(amplitude)
    duration = 1.5 * amplitude / max_speed
    if max_accel is not None:
        duration = max(duration, math.sqrt(6.0 * amplitude / max_accel))
    return duration


def step_matrix(t: np.ndarray, starts: np.ndarray, durations: np.ndarray) -> np.ndarray:
    """Eased steps: column k rises from 0 to 1 over ``[starts[k], starts[k] + durations[k]]``.

    Args:
        t: ``(T,)`` times in seconds.
        starts: ``(K,)`` step start times.
        durations: ``(K,)`` step durations, > 0.

    Returns:
        ``(T, K)`` float64.
    """
    # A zero duration is a (planned) jump; the floor only keeps the division finite.
    return smoothstep((t[:, None] - starts[None, :]) / np.maximum(durations, 1e-6)[None, :])


def pulse_matrix(
    t: np.ndarray, starts: np.ndarray, rises: np.ndarray, holds: np.ndarray, falls: np.ndarray
) -> np.ndarray:
    """Eased pulses: rise over ``rises``, stay at 1 for ``holds``, fall over ``falls``.

    Args:
        t: ``(T,)`` times in seconds.
        starts: ``(K,)`` pulse start times.
        rises: ``(K,)`` rise durations.
        holds: ``(K,)`` durations at 1.
        falls: ``(K,)`` fall durations.

    Returns:
        ``(T, K)`` values in [0, 1].
    """
    up = step_matrix(t, starts, rises)
    down = step_matrix(t, starts + rises + holds, falls)
    return up - down


def bump_matrix(t: np.ndarray, starts: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Raised-cosine bumps: column k is ``(1 - cos 2πu) / 2`` for ``u`` in [0, 1], else 0.

    Args:
        t: ``(T,)`` times in seconds.
        starts: ``(K,)`` bump start times.
        widths: ``(K,)`` bump widths, > 0.

    Returns:
        ``(T, K)`` values in [0, 1].
    """
    u = np.minimum(np.maximum((t[:, None] - starts[None, :]) / widths[None, :], 0.0), 1.0)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * u)


def smooth_noise(
    rng: np.random.Generator,
    t: np.ndarray,
    n_series: int,
    freq_range: tuple[float, float],
    n_terms: int = 3,
) -> np.ndarray:
    """Slow band-limited noise: a few random sinusoids mixed per series.

    The frequencies are shared and each series mixes them with its own Gaussian weights,
    which costs one small matrix product instead of a filter per channel.

    Args:
        rng: Random generator.
        t: ``(T,)`` times in seconds.
        n_series: Number of independent series.
        freq_range: ``(low, high)`` frequency range in Hz.
        n_terms: Sinusoids per series.

    Returns:
        ``(T, n_series)`` with zero mean and unit standard deviation in expectation.
    """
    freqs = rng.uniform(freq_range[0], freq_range[1], size=n_terms)
    phases = rng.uniform(0.0, 2.0 * np.pi, size=n_terms)
    basis = np.sin(2.0 * np.pi * t[:, None] * freqs[None, :] + phases[None, :])  # (T, K)
    weights = rng.standard_normal((n_terms, n_series)) * math.sqrt(2.0 / n_terms)
    return basis @ weights


def smooth_soft_clip(x: np.ndarray, knee: float = 0.15) -> np.ndarray:
    """Map values into [0, 1]: a smooth knee below 1, a plain floor at 0.

    Hard clipping a fast-rising curve at 1 leaves a corner (an acceleration spike) where
    it hits the bound, so the top bends over with a tanh knee instead (identity below
    ``1 - knee``, continuous slope). The floor stays hard: values that dip below 0 come
    from small undershoots and noise that cross 0 slowly, and a soft floor would lift
    every resting channel off 0.

    Args:
        x: Any array.
        knee: Width of the soft zone below 1.

    Returns:
        Array of the same shape, in [0, 1].
    """
    high = 1.0 - knee
    y = np.maximum(x, 0.0)
    over = y > high
    if over.any():  # rare: only strong expressions stacked with speech reach the knee
        y[over] = high + knee * np.tanh((y[over] - high) / knee)
    return y


@dataclass(frozen=True)
class Oscillation:
    """A planned head oscillation inside a segment.

    Attributes:
        start_s: Time the first cycle starts.
        count: Number of full cycles.
        period_s: Duration of one cycle.
        amplitude: Peak angle in radians (already capped for speed).
        shape: One of :data:`OSCILLATION_SHAPES`.
    """

    start_s: float
    count: int
    period_s: float
    amplitude: float
    shape: str

    def curve(self, t: np.ndarray) -> np.ndarray:
        """Unit-free curve times amplitude, ``(T,)``; zero outside the cycles."""
        u = (t - self.start_s) / self.period_s  # cycles elapsed
        inside = (u >= 0.0) & (u <= self.count)
        if self.shape == "nod":
            wave = np.sin(2.0 * np.pi * u)
            wave = np.where(wave < 0.0, NOD_RECOIL * wave, wave)
        elif self.shape == "swing":
            taper = smoothstep(u / _SWING_TAPER) * smoothstep((self.count - u) / _SWING_TAPER)
            wave = np.sin(2.0 * np.pi * u) * taper
        else:  # step_nod / step_swing: one eased lobe to each side per cycle
            h = 2.0 * (u - np.floor(u))
            back = NOD_RECOIL if self.shape == "step_nod" else 1.0
            side = np.where(h < 1.0, 1.0, -back)
            h = h - np.floor(h)
            wave = side * (smoothstep(h / 0.4) - smoothstep((h - 0.6) / 0.4))
        return np.where(inside, self.amplitude * wave, 0.0)


def plan_oscillation(
    span: tuple[float, float],
    count: int,
    period_s: float,
    amplitude: float,
    shape: str,
    max_speed: float,
) -> Oscillation:
    """Fit ``count`` cycles into ``span``, shortening the period and then the amplitude.

    Args:
        span: ``(start, end)`` seconds available for the cycles.
        count: Cycles asked for; 0 means as many as fit at ``period_s`` (at least 1).
        period_s: Preferred period.
        amplitude: Preferred peak angle (radians).
        shape: One of :data:`OSCILLATION_SHAPES`.
        max_speed: Peak angular speed allowed (rad/s).

    Returns:
        The plan; its cycles never leave ``span`` and its peak speed is within limits.
    """
    start, end = span
    available = max(end - start, 1e-3)
    if count <= 0:
        count = max(1, int(available / period_s + 1e-9))  # // rounds 4.0 / 0.8 down to 4
    period = min(period_s, available / count)
    peak_speed_per_unit = _SHAPE_PEAK_SPEED[shape] / period
    amplitude = min(abs(amplitude), max_speed / peak_speed_per_unit)
    return Oscillation(start, count, period, amplitude, shape)
