"""Per-frame tracking quality and the QA report (``tdmm fit --report``).

Every frame gets a confidence in [0, 1] built from what can go wrong:

* no face found (confidence 0);
* the face partly outside the picture (MediaPipe then extrapolates the missing landmarks);
* a large reprojection error: the fitted face does not explain the landmarks (an extreme
  expression, occlusion, or a landmark failure).

Frames are flagged ``no_face``, ``large_reprojection_error`` or ``low_confidence`` (in that
order of precedence); flagged frames are interpolated by the smoother and stay flagged.
The reprojection error is the RMS image-plane distance between the fitted and detected
face-mesh landmarks, in millimetres of the face model (the face is 140 mm wide), so it does
not depend on the video's resolution.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tdmm_lm.files import atomic_write

__all__ = ["FLAG_REASONS", "QAReport", "QualityConfig", "flag_frames", "frame_confidence", "spans"]

#: Flag reasons, by precedence.
FLAG_REASONS = ("no_face", "large_reprojection_error", "low_confidence")
#: Decimals kept in the JSON report.
REPORT_DECIMALS = 4


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the per-frame quality.

    Attributes:
        error_scale_mm: Reprojection error (mm) at which the fit part of the confidence
            falls to one half.
        max_error_mm: Frames with a larger reprojection error are flagged.
        min_in_frame: Fraction of landmarks inside the picture below which the confidence
            is 0; it rises linearly to 1 when the whole face is inside.
        min_confidence: Frames below this confidence are flagged ``low_confidence``.
    """

    error_scale_mm: float = 3.0
    max_error_mm: float = 6.0
    min_in_frame: float = 0.7
    min_confidence: float = 0.3

    def __post_init__(self) -> None:
        if self.error_scale_mm <= 0 or self.max_error_mm <= 0:
            raise ValueError(
                f"error thresholds must be > 0 mm, got {self.error_scale_mm}, {self.max_error_mm}"
            )
        if not 0.0 <= self.min_in_frame < 1.0:
            raise ValueError(f"min_in_frame must be in [0, 1), got {self.min_in_frame}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence}")


def frame_confidence(
    found: np.ndarray, error_mm: np.ndarray, in_frame: np.ndarray, config: QualityConfig
) -> np.ndarray:
    """(T,) confidence in [0, 1] from (T,) found flags, errors (mm) and in-frame fractions."""
    fit = 1.0 / (1.0 + (np.nan_to_num(error_mm, nan=np.inf) / config.error_scale_mm) ** 2)
    inside = np.clip((in_frame - config.min_in_frame) / (1.0 - config.min_in_frame), 0.0, 1.0)
    return np.where(found, fit * inside, 0.0)


def flag_frames(
    found: np.ndarray, error_mm: np.ndarray, confidence: np.ndarray, config: QualityConfig
) -> np.ndarray:
    """(T,) int8 flag per frame: -1 for none, else an index into :data:`FLAG_REASONS`."""
    flags = np.full(len(found), -1, dtype=np.int8)
    flags[confidence < config.min_confidence] = FLAG_REASONS.index("low_confidence")
    flags[found & (np.nan_to_num(error_mm, nan=np.inf) > config.max_error_mm)] = FLAG_REASONS.index(
        "large_reprojection_error"
    )
    flags[~found] = FLAG_REASONS.index("no_face")
    return flags


def spans(flags: np.ndarray, fps: float) -> list[list[Any]]:
    """Runs of equally flagged frames as ``[start_s, end_s, reason]`` (end exclusive)."""
    out: list[list[Any]] = []
    start = 0
    for i in range(1, len(flags) + 1):
        if i == len(flags) or flags[i] != flags[start]:
            if flags[start] >= 0:
                reason = FLAG_REASONS[flags[start]]
                out.append([round(start / fps, 3), round(i / fps, 3), reason])
            start = i
    return out


@dataclass
class QAReport:
    """Tracking quality of one video.

    Attributes:
        source: The video file.
        frames: Frames decoded.
        fps: The video's frame rate.
        tracked_fraction: Fraction of frames in which the face was found and fitted.
        flagged_fraction: Fraction of frames flagged for any reason.
        reprojection_error: ``{"mean", "p95"}`` over tracked frames, mm (face-model scale).
        jitter: RMS frame-to-frame second difference of the output blendshape weights
            (mean over channels) at the video's frame rate: the noise floor of a still face.
        jitter_raw: The same before temporal smoothing.
        jitter_head_deg: RMS second difference of the head angles, degrees.
        confidence: ``{"mean", "min", "p05"}`` of the per-frame confidence.
        flagged_spans: ``[start_s, end_s, reason]`` runs of flagged frames.
        frame_confidence: Per-frame confidence at the output frame rate.
        output_fps: Frame rate of the output sequence.
        tracker_version: Version of the tracker that made the report.
    """

    source: str
    frames: int
    fps: float
    tracked_fraction: float
    flagged_fraction: float
    reprojection_error: dict[str, float]
    jitter: float
    jitter_raw: float
    jitter_head_deg: float
    confidence: dict[str, float]
    flagged_spans: list[list[Any]]
    frame_confidence: list[float] = field(repr=False)
    output_fps: float
    tracker_version: str

    def summary(self) -> dict[str, Any]:
        """The scalar fields (no per-frame list), for ``FaceSequence.meta``."""
        data = self.to_dict()
        data.pop("frame_confidence")
        return data

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-ready values (floats rounded)."""

        def tidy(value: Any) -> Any:
            if isinstance(value, float):
                return round(value, REPORT_DECIMALS)
            if isinstance(value, dict):
                return {k: tidy(v) for k, v in value.items()}
            if isinstance(value, list):
                return [tidy(v) for v in value]
            return value

        return tidy(asdict(self))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the report as JSON, atomically."""
        with atomic_write(path) as handle:
            handle.write(json.dumps(self.to_dict(), indent=1).encode())


def second_difference_rms(values: np.ndarray) -> float:
    """RMS over frames and channels of the second difference of (T, C) curves."""
    if len(values) < 3:
        return 0.0
    return float(np.sqrt(np.mean(np.diff(values, n=2, axis=0) ** 2)))


def summary(values: np.ndarray, percentiles: dict[str, float]) -> dict[str, float]:
    """``{"mean": ..., name: percentile, ...}`` of the finite values (NaN when there are none).

    Args:
        values: Any array of per-frame values.
        percentiles: Output name -> percentile in [0, 100].
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"mean": float("nan"), **{k: float("nan") for k in percentiles}}
    return {
        "mean": float(finite.mean()),
        **{k: float(np.percentile(finite, q)) for k, q in percentiles.items()},
    }
