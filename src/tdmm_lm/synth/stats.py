"""Style statistics of generated motion: numbers that tell generators apart.

The corpus mixes generators so that no single generator's fingerprint dominates; the dataset
card shows how their styles differ with :func:`style_statistics`, computed per generator
over the same prompts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tdmm_lm.face.sequence import FaceSequence
from tdmm_lm.synth.channels import (
    FAST_BLENDSHAPES,
    HEAD,
    IDX,
    N_BLENDSHAPES,
    SYMMETRIC_PAIRS,
)

__all__ = ["STYLE_STATISTICS", "style_statistics"]

#: Names of the statistics, with what they measure.
STYLE_STATISTICS: dict[str, str] = {
    "mean_abs_velocity": "mean speed of the ordinary blendshapes (weight/s)",
    "spectral_centroid_hz": "power-weighted mean frequency of blendshape motion (Hz)",
    "onset_sharpness": "p95 acceleration / p95 speed of blendshapes (1/s): abruptness",
    "micro_motion": "mean speed while the target is steady: frames below the median speed",
    "blink_rate_per_min": "blinks per minute (both lids past half closed)",
    "blink_duration_s": "mean time a blink keeps the lids past half closed (s)",
    "blink_close_open_ratio": "time to close / time to reopen (20-80 % of the blink's height)",
    "head_speed_deg_s": "root-mean-square head angular speed (deg/s)",
    "lr_asymmetry": "mean |left - right| / mean activation over paired channels",
}

_ORDINARY = np.array(
    [i for i in range(N_BLENDSHAPES) if i not in set(FAST_BLENDSHAPES)], dtype=np.int64
)
_LIDS = [IDX["eyeBlinkLeft"], IDX["eyeBlinkRight"]]
_PAIRS = np.array(SYMMETRIC_PAIRS, dtype=np.int64)
_BLINK_LEVEL = 0.5
_BLINK_MAX_S = 1.0


def _crossing(lid: np.ndarray, peak: int, level: float, direction: int) -> float | None:
    """Fractional frame where ``lid`` falls below ``level`` walking from ``peak``."""
    j = peak
    while 0 <= j + direction < len(lid) and lid[j + direction] >= level:
        j += direction
    k = j + direction
    if not 0 <= k < len(lid):
        return None
    return j + direction * (lid[j] - level) / (lid[j] - lid[k])


def _blinks(lid: np.ndarray, fps: float) -> tuple[int, list[float], list[float]]:
    """Find blinks in a lid curve ``(T,)``.

    A blink is a run above :data:`_BLINK_LEVEL` shorter than :data:`_BLINK_MAX_S` (longer
    runs are closed eyes, not blinks). Its duration is the time above the level; its
    close/open ratio compares the 20-80 % rise with the 80-20 % fall of its height, with
    crossings interpolated between frames.

    Returns:
        The number of blinks, the durations and the close/open ratios of those complete
        within the clip.
    """
    closed = np.concatenate([[False], lid > _BLINK_LEVEL, [False]])
    edges = np.diff(closed.astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # ends exclusive
    count, durations, ratios = 0, [], []
    for start, end in zip(starts, ends, strict=True):
        if (end - start) / fps > _BLINK_MAX_S:
            continue
        count += 1
        peak = start + int(np.argmax(lid[start:end]))
        height = lid[peak]
        up, down = _crossing(lid, peak, _BLINK_LEVEL, -1), _crossing(lid, peak, _BLINK_LEVEL, 1)
        low_up, high_up = (
            _crossing(lid, peak, 0.2 * height, -1),
            _crossing(lid, peak, 0.8 * height, -1),
        )
        high_down, low_down = (
            _crossing(lid, peak, 0.8 * height, 1),
            _crossing(lid, peak, 0.2 * height, 1),
        )
        if None in (up, down, low_up, high_up, high_down, low_down):
            continue  # cut by the clip's edge: counted, not timed
        durations.append((down - up) / fps)
        ratios.append((high_up - low_up) / max(low_down - high_down, 1e-6))
    return count, durations, ratios


def style_statistics(seqs: Sequence[FaceSequence]) -> dict[str, float]:
    """Summarise the motion style of a set of ``arkit`` sequences (see :data:`STYLE_STATISTICS`).

    Args:
        seqs: Sequences, typically one generator's performances of a prompt set.

    Returns:
        Statistic name -> value (NaN when the sequences hold nothing to measure, e.g. no
        blinks).

    Raises:
        ValueError: No sequences, or one not in the ``arkit`` space.
    """
    if not seqs:
        raise ValueError("style_statistics needs at least one sequence")
    speeds, accels, micro, centroids, weights = [], [], [], [], []
    head_sq, head_frames, seconds, n_blinks = 0.0, 0, 0.0, 0
    durations: list[float] = []
    ratios: list[float] = []
    asym_num, asym_den = 0.0, 0.0
    for seq in seqs:
        if seq.space != "arkit":
            raise ValueError(f"style statistics need arkit sequences, got {seq.space!r}")
        p = seq.params.astype(np.float64)
        fps = seq.fps
        seconds += seq.seconds
        x = p[:, _ORDINARY]  # (T, C)
        if len(p) >= 3:
            speed = np.abs(np.diff(x, axis=0)) * fps
            speeds.append(speed.ravel())
            accels.append((np.abs(np.diff(x, n=2, axis=0)) * fps * fps).ravel())
            frame_speed = speed.mean(axis=1)
            micro.append(frame_speed[frame_speed <= np.median(frame_speed)])
            power = np.abs(np.fft.rfft(x - x.mean(axis=0), axis=0)) ** 2  # (F, C)
            freqs = np.fft.rfftfreq(len(x), 1.0 / fps)
            total = power[1:].sum()
            if total > 0:
                centroids.append(float((freqs[1:, None] * power[1:]).sum() / total))
                weights.append(len(x))
            head = np.diff(p[:, HEAD], axis=0) * fps
            head_sq += float((head**2).sum(axis=1).sum())
            head_frames += len(head)
        count, blink_durations, blink_ratios = _blinks(p[:, _LIDS].min(axis=1), fps)
        n_blinks += count
        durations += blink_durations
        ratios += blink_ratios
        if not seq.meta.get("allow_asymmetry", False):
            left, right = p[:, _PAIRS[:, 0]], p[:, _PAIRS[:, 1]]
            asym_num += float(np.abs(left - right).sum())
            asym_den += float((0.5 * (left + right)).sum())
    nan = float("nan")
    all_speed = np.concatenate(speeds) if speeds else np.zeros(0)
    all_accel = np.concatenate(accels) if accels else np.zeros(0)
    p95_speed = float(np.percentile(all_speed, 95)) if all_speed.size else nan
    return {
        "mean_abs_velocity": float(all_speed.mean()) if all_speed.size else nan,
        "spectral_centroid_hz": float(np.average(centroids, weights=weights)) if weights else nan,
        "onset_sharpness": (
            float(np.percentile(all_accel, 95)) / p95_speed if p95_speed > 0 else nan
        ),
        "micro_motion": float(np.concatenate(micro).mean()) if micro else nan,
        "blink_rate_per_min": 60.0 * n_blinks / seconds if seconds > 0 else nan,
        "blink_duration_s": float(np.mean(durations)) if durations else nan,
        "blink_close_open_ratio": float(np.mean(ratios)) if ratios else nan,
        "head_speed_deg_s": (
            math.degrees(math.sqrt(head_sq / head_frames)) if head_frames else nan
        ),
        "lr_asymmetry": asym_num / asym_den if asym_den > 0 else nan,
    }
