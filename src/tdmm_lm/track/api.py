"""Video to ``arkit`` parameters: landmarks, fit, quality, smoothing, resampling.

``fit_video(path)`` is the whole tracker; ``fit_track(track)`` starts from landmarks
already extracted (the part ``tdmm bench`` calls ``fit_only``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face import ARKIT, FaceModel, FaceSequence
from tdmm_lm.face.sequence import DEFAULT_FPS
from tdmm_lm.face.spaces import ARKIT_BLENDSHAPES
from tdmm_lm.track.expression import EYE_LOOK_CHANNELS
from tdmm_lm.track.eyes import EyeLookPolicy, GazeFitter
from tdmm_lm.track.fit import FitConfig, fit_landmark_arrays
from tdmm_lm.track.landmarks import LandmarkConfig, LandmarkTrack, track_landmarks
from tdmm_lm.track.quality import (
    QAReport,
    QualityConfig,
    flag_frames,
    frame_confidence,
    second_difference_rms,
    spans,
    summary,
)
from tdmm_lm.track.smoothing import SmoothingConfig, cutoff_to_strength, whittaker

__all__ = [
    "SUPPORTED_SPACES",
    "TRACKER_VERSION",
    "TrackConfig",
    "check_space",
    "fit_track",
    "fit_video",
]

log = logging.getLogger(__name__)

#: Recorded in every output; bump when a change alters the fitted values.
TRACKER_VERSION = "1.0"
#: Spaces the tracker can fit.
SUPPORTED_SPACES = ("arkit",)
#: Why ``flame`` cannot be fitted (yet): said in one line to whoever asks for it.
FLAME_UNSUPPORTED = (
    "the tracker fits only the arkit space: fitting flame needs a FLAME model file and its "
    "MediaPipe landmark embedding, which FLAME's licence keeps out of this package, and the "
    "flame fitter is not built yet; fit arkit (the default) instead"
)
#: Smoother data weight of flagged frames: small enough that they are interpolated from
#: their neighbours, positive so that the smoothing system stays well posed.
FLAGGED_WEIGHT = 1e-4
#: Timestamps further than this many frame periods from a uniform grid mark a video as
#: variable-frame-rate; it is then re-timed onto a uniform grid before resampling.
VFR_TOLERANCE_FRAMES = 1.5
_PREFIXES = {
    "lids": ("eyeBlink", "eyeSquint", "eyeWide"),
    "mouth": ("jaw", "mouth", "cheek", "nose", "tongue"),
    "upper_face": ("brow",),
}
_GROUPS = {
    group: [i for i, n in enumerate(ARKIT_BLENDSHAPES) if n.startswith(prefixes)]
    for group, prefixes in _PREFIXES.items()
}
_HEAD = slice(52, 55)
_GAZE = [55, 56, 58, 59]  # eye yaw and pitch; the rolls stay 0
_LEFT_GAZE = [55, 56]  # both eyes share one gaze (see ``track.eyes``)
_EYE_LOOK = [ARKIT_BLENDSHAPES.index(n) for n in EYE_LOOK_CHANNELS]


@dataclass(frozen=True)
class TrackConfig:
    """Everything ``fit_video`` needs.

    Attributes:
        fps: Frame rate of the output sequence.
        space: Parameter space of the output; only ``arkit`` is supported.
        landmarks: Face detection and following.
        fit: The per-frame parameter fit.
        smoothing: Temporal smoothing.
        quality: Per-frame quality thresholds.
    """

    fps: float = DEFAULT_FPS
    space: str = "arkit"
    landmarks: LandmarkConfig = field(default_factory=LandmarkConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be > 0, got {self.fps}")
        check_space(self.space)


def check_space(space: str) -> None:
    """Raise a one-line :class:`InvalidInputError` unless the tracker can fit ``space``."""
    if space == "flame":
        raise InvalidInputError(FLAME_UNSUPPORTED)
    if space not in SUPPORTED_SPACES:
        raise InvalidInputError(
            f"unknown space {space!r} for the tracker; valid: {', '.join(SUPPORTED_SPACES)}"
        )


def _fill_gaps(values: np.ndarray, good: np.ndarray) -> np.ndarray:
    """Replace rows of (T, C) ``values`` where ``good`` is False by linear interpolation."""
    if good.all() or not good.any():
        return values
    frames = np.arange(len(values))
    filled = values.copy()
    for c in range(values.shape[1]):
        filled[~good, c] = np.interp(frames[~good], frames[good], values[good, c])
    return filled


def _smooth(
    params: np.ndarray,
    weight: np.ndarray,
    gaze_weight: np.ndarray,
    fps: float,
    cfg: SmoothingConfig,
) -> np.ndarray:
    """Smooth (T, 61) params channel group by channel group (see ``track.smoothing``)."""
    out = params.copy()
    if not cfg.enabled:
        return out
    groups = [
        (_GROUPS["lids"], cfg.lids_hz, weight),
        (_GROUPS["mouth"], cfg.mouth_hz, weight),
        (_GROUPS["upper_face"], cfg.upper_face_hz, weight),
        (list(range(_HEAD.start, _HEAD.stop)), cfg.head_hz, weight),
        (_GAZE, cfg.gaze_hz, gaze_weight),
    ]
    for channels, cutoff, data_weight in groups:
        out[:, channels] = whittaker(
            params[:, channels], data_weight, cutoff_to_strength(cutoff, fps)
        )
    return out


def _uniform_timing(params: np.ndarray, stamps: np.ndarray, fps: float) -> np.ndarray:
    """Re-time (T, D) params onto the uniform grid ``i / fps`` if the video is VFR."""
    if len(stamps) < 2 or np.any(np.diff(stamps) <= 0):
        return params  # no usable timestamps: trust the nominal rate
    times = stamps - stamps[0]
    grid = np.arange(len(stamps)) / fps
    if np.abs(times - grid).max() <= VFR_TOLERANCE_FRAMES / fps:
        return params
    log.info("variable frame rate: re-timing onto a uniform %g fps grid", fps)
    n = max(1, round(times[-1] * fps) + 1)
    grid = np.arange(n) / fps
    return np.stack([np.interp(grid, times, params[:, c]) for c in range(params.shape[1])], 1)


def fit_track(
    track: LandmarkTrack, config: TrackConfig | None = None, model: FaceModel | None = None
) -> tuple[FaceSequence, QAReport]:
    """Fit, qualify, smooth and resample a landmark track.

    Args:
        track: The face's landmarks through the video.
        config: Tracker settings; defaults when ``None``.
        model: The face model; the built-in one when ``None``.

    Returns:
        The ``arkit`` sequence at ``config.fps`` and its QA report.

    Raises:
        InvalidInputError: No frame holds a face.
    """
    config = config or TrackConfig()
    found = track.found
    if not found.any():
        raise InvalidInputError(f"no face found in {track.source}")
    raw = fit_landmark_arrays(track.points, found, track.fps, config.fit, model)
    confidence = frame_confidence(found, raw.error_mm, track.in_frame_fraction(), config.quality)
    flags = flag_frames(found, raw.error_mm, confidence, config.quality)
    good = flags < 0
    if not good.any():
        good = found  # every frame flagged: keep what was fitted rather than nothing
    params = _fill_gaps(raw.params, good)
    weight = np.where(good, np.maximum(confidence, FLAGGED_WEIGHT), FLAGGED_WEIGHT)
    gaze_weight = np.maximum(weight * raw.openness.mean(axis=1), FLAGGED_WEIGHT)
    smooth = _smooth(params, weight, gaze_weight, track.fps, config.smoothing)
    if config.fit.eye_look_policy is EyeLookPolicy.LIVELINK:
        gazer = GazeFitter(model or FaceModel())
        smooth[:, _EYE_LOOK] = gazer.eye_look(smooth[:, _LEFT_GAZE])
    smooth = np.clip(smooth, ARKIT.low, ARKIT.high)
    report = _report(track, raw.params, smooth, raw.error_mm, confidence, flags, config)
    uniform = _uniform_timing(smooth, track.timestamps, track.fps)
    meta = {
        "source": str(track.source),
        "tracker": "tdmm_lm.track",
        "tracker_version": TRACKER_VERSION,
        "source_fps": track.fps,
        "source_frames": track.n_frames,
        "eye_look_policy": config.fit.eye_look_policy.value,
        "quality": {
            k: report.summary()[k]
            for k in ("tracked_fraction", "flagged_fraction", "confidence", "reprojection_error")
        },
    }
    sequence = FaceSequence(uniform.astype(np.float32), "arkit", track.fps, meta)
    sequence = sequence.resample(config.fps)
    report.frame_confidence = _resample_curve(confidence, track.fps, config.fps, sequence.n_frames)
    return sequence, report


def _resample_curve(values: np.ndarray, fps: float, new_fps: float, n: int) -> list[float]:
    times = np.arange(n) / new_fps
    source = np.arange(len(values)) / fps
    return [round(float(v), 3) for v in np.interp(times, source, values)]


def _report(
    track: LandmarkTrack,
    raw: np.ndarray,
    smooth: np.ndarray,
    error_mm: np.ndarray,
    confidence: np.ndarray,
    flags: np.ndarray,
    config: TrackConfig,
) -> QAReport:
    found = track.found
    fitted = raw[found]
    return QAReport(
        source=str(track.source),
        frames=track.n_frames,
        fps=track.fps,
        tracked_fraction=float(found.mean()),
        flagged_fraction=float((flags >= 0).mean()),
        reprojection_error=summary(error_mm[found], {"p95": 95.0}),
        jitter=second_difference_rms(smooth[:, :52]),
        jitter_raw=second_difference_rms(fitted[:, :52]),
        jitter_head_deg=second_difference_rms(np.rad2deg(smooth[:, _HEAD])),
        confidence=summary(confidence, {"min": 0.0, "p05": 5.0}),
        flagged_spans=spans(flags, track.fps),
        frame_confidence=[],
        output_fps=config.fps,
        tracker_version=TRACKER_VERSION,
    )


def fit_video(
    path: str | os.PathLike[str],
    config: TrackConfig | None = None,
    model: FaceModel | None = None,
    on_frame: Callable[[], None] | None = None,
) -> tuple[FaceSequence, QAReport]:
    """Track a face video into an ``arkit`` sequence.

    Args:
        path: The video (mp4, mov, webm, avi, … anything FFmpeg decodes).
        config: Tracker settings; defaults when ``None``.
        model: The face model; the built-in one when ``None``.
        on_frame: Called after each decoded frame (for progress bars).

    Returns:
        The sequence (at ``config.fps``, with ``meta`` naming the source, the tracker version
        and a quality summary) and the QA report.

    Raises:
        InvalidInputError: The file is missing, unreadable, empty, or shows no face.
    """
    config = config or TrackConfig()
    path = Path(path)
    track = track_landmarks(path, config.landmarks, on_frame=on_frame)
    return fit_track(track, config, model)
