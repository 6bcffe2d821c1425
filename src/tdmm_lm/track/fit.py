"""Landmarks to ``arkit`` parameters, frame by frame, in batches.

The face model is used as MediaPipe perceives it (its neutral, gains and jaw response from
:mod:`tdmm_lm.track.calibrate`) unless ``detector_calibration`` is off. The fit then runs,
for all frames of a chunk at once:

1. **Pose** on the landmarks that no blendshape moves (nose, eye corners' surroundings,
   temples; never the face outline, which slides): a robust weak-perspective similarity
   (:mod:`tdmm_lm.track.pose`). The image scale (the face's distance) is then smoothed
   over the whole video and held, and the rotation refitted.
2. **Identity** (once per video): the actor's face is not the model's. The median deviation
   of the video's landmarks from the neutral gives a first per-video offset; the
   expression is fitted with signed weights against it, and each channel's low percentile
   over the video (``neutral_percentile``: the actor's resting level of that channel) is
   added to the offset. The median is biased toward whatever the actor does most (a
   grin held for half the video makes the resting mouth read as a pucker), so the offset
   is then re-estimated from the frames that read as the most neutral against it (the
   ``neutral_share`` with the least total expression), ``identity_rounds`` times. The
   actor's own neutral then reads as all-zero weights, not as a smile or a pucker.
3. **Expression**: the blendshape weights in [0, 1] (:mod:`tdmm_lm.track.expression`).
4. **Pose again** on the landmarks that blendshapes move little, against the template
   deformed by that expression; then the **eyes** (:mod:`tdmm_lm.track.eyes`) and the
   **expression** again, with the eyeLook* lid motion accounted for.

Frames are processed in chunks, so memory is bounded by the chunk size, not the video.
The result is the raw per-frame fit; temporal smoothing and quality come afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tdmm_lm.face import FaceModel
from tdmm_lm.face import topology as tp
from tdmm_lm.face.spaces import ARKIT, ARKIT_BLENDSHAPES
from tdmm_lm.track.calibrate import load_calibration
from tdmm_lm.track.expression import (
    EYE_LOOK_CHANNELS,
    FIXED_CHANNELS,
    ExpressionRig,
    ExpressionWeights,
)
from tdmm_lm.track.eyes import EyeLookPolicy, GazeFitter
from tdmm_lm.track.pose import Pose, euler_from_matrices, fit_pose, rotate, unrotate
from tdmm_lm.track.smoothing import cutoff_to_strength, whittaker

__all__ = ["FitConfig", "RawFit", "fit_landmark_arrays"]

log = logging.getLogger(__name__)

#: Camera axes from MediaPipe's image axes: x stays right, y flips to up, z flips to point
#: toward the camera (MediaPipe's z is negative toward it). Two flips: a proper rotation.
IMAGE_TO_CAMERA = np.array([1.0, -1.0, -1.0], dtype=np.float32)
#: Solver iterations of the second expression fit, which starts from the first one.
WARM_ITERATIONS = 10
#: Frames used to estimate the identity offset, at most (evenly spread over the video).
MAX_IDENTITY_FRAMES = 500
_BLINK = {s: ARKIT_BLENDSHAPES.index(f"eyeBlink{s}") for s in ("Left", "Right")}
_EYE_LOOK = np.array([FIXED_CHANNELS.index(n) for n in EYE_LOOK_CHANNELS])
_HEAD = slice(52, 55)
_LEFT_EYE = slice(55, 57)  # yaw, pitch (roll stays 0)
_RIGHT_EYE = slice(58, 60)


@dataclass(frozen=True)
class FitConfig:
    """Settings of the per-frame parameter fit.

    Attributes:
        z_weight: Trust in MediaPipe's depth relative to the image plane (0..1]; its depth
            is regressed, not measured, and lags on turned heads.
        landmark_weights: Relative landmark weights of the expression fit.
        ridge: Ridge on all blendshape weights, weighted mm² (see ``track.expression``).
        sparsity: L1 pull toward 0 on the blendshape weights, weighted mm².
        scale_hz: The face's image scale (its distance to the camera) is smoothed over
            time below this frequency before the expression is fitted: a per-frame scale
            wobbles with the expression and would leak into it.
        calibrate_identity: Estimate the per-video neutral offset (step 3 above).
        neutral_percentile: Percentile of each channel over the video taken as the
            actor's resting level of it (step 2 above).
        neutral_share: Share of the identity frames, those with the least expression, whose
            median shape re-estimates the neutral offset (step 2 above).
        identity_rounds: Times that re-estimate is repeated (0 = the median and percentile
            estimate alone).
        eye_look_policy: How eyeLook* follow the eye rotations (see ``track.eyes``).
        chunk_frames: Frames fitted at once (memory grows linearly with it).
        detector_calibration: Fit against the rig as MediaPipe perceives it (its neutral
            and per-blendshape amplitudes, see ``track.calibrate``) rather than the raw rig.
    """

    z_weight: float = 0.2
    landmark_weights: ExpressionWeights = field(default_factory=ExpressionWeights)
    ridge: float = 50.0
    sparsity: float = 20.0
    scale_hz: float = 0.5
    calibrate_identity: bool = True
    neutral_percentile: float = 10.0
    neutral_share: float = 0.2
    identity_rounds: int = 2
    eye_look_policy: EyeLookPolicy = EyeLookPolicy.LIVELINK
    chunk_frames: int = 1024
    detector_calibration: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.z_weight <= 1.0:
            raise ValueError(f"z_weight must be in (0, 1], got {self.z_weight}")
        if not self.scale_hz > 0:
            raise ValueError(f"scale_hz must be > 0, got {self.scale_hz}")
        if self.ridge < 0 or self.sparsity < 0:
            raise ValueError(f"ridge and sparsity must be >= 0, got {self.ridge}, {self.sparsity}")
        if not 0.0 <= self.neutral_percentile <= 100.0:
            raise ValueError(
                f"neutral_percentile must be in [0, 100], got {self.neutral_percentile}"
            )
        if not 0.0 < self.neutral_share <= 1.0 or self.identity_rounds < 0:
            raise ValueError(
                f"need neutral_share in (0, 1] and identity_rounds >= 0, got "
                f"{self.neutral_share}, {self.identity_rounds}"
            )
        if self.chunk_frames < 1:
            raise ValueError(f"chunk_frames must be >= 1, got {self.chunk_frames}")
        object.__setattr__(self, "eye_look_policy", EyeLookPolicy(self.eye_look_policy))


@dataclass
class RawFit:
    """Per-frame fit of T frames, before smoothing.

    Attributes:
        params: (T, 61) float64 ``arkit`` parameters (zeros where not fitted).
        error_mm: (T,) RMS image-plane reprojection error of the face mesh, model mm
            (NaN where not fitted).
        openness: (T, 2) how open the left and right eye are (for weighting the gaze).
        identity: (478, 3) per-video neutral offset added to the model's neutral, mm.
    """

    params: np.ndarray
    error_mm: np.ndarray
    openness: np.ndarray
    identity: np.ndarray


class _Fitter:
    """The face model prepared for one configuration (precomputed blocks, landmark sets)."""

    def __init__(self, model: FaceModel, config: FitConfig) -> None:
        self.config = config
        calibration = load_calibration(model) if config.detector_calibration else None
        neutral = None if calibration is None else calibration.neutral
        self.rig = ExpressionRig(
            model,
            config.landmark_weights,
            config.z_weight,
            config.ridge,
            config.sparsity,
            neutral=neutral,
            shapes=None if calibration is None else calibration.shapes(model.blendshapes),
        )
        self.gaze = GazeFitter(model, neutral)
        self.mesh = slice(0, tp.N_MESH_VERTICES)  # a view, not a copy

    def stable_pose(self, observed: np.ndarray, init: Pose | None = None) -> Pose:
        """Pose from the landmarks no blendshape moves (scale held when ``init`` is given).

        Args:
            observed: (T, len(rig.stable), 3) camera points of the stable landmarks only.
            init: Start pose (with the scale to hold).
        """
        stable = self.rig.stable
        pose, _ = fit_pose(
            self.rig.neutral[stable],
            observed,
            np.ones(len(stable)),
            self.config.z_weight,
            init=init,
            fixed_scale=init is not None,
        )
        return pose

    def back_project(self, observed: np.ndarray, pose: Pose) -> np.ndarray:
        """(T, V, 3) landmarks in model axes and mm (depth as MediaPipe has it)."""
        moved = observed - pose.translation[:, None]
        return unrotate(moved, pose.rotation) / pose.scale[:, None, None]

    def signed_weights(self, observed: np.ndarray, pose: Pose, offset: np.ndarray) -> np.ndarray:
        """(T, K) expression weights in [-1, 1] relative to the template ``n + offset``."""
        template = (self.rig.neutral + offset)[self.mesh]
        return self.rig.solve(pose, observed[:, self.mesh] - pose.apply(template), signed=True)

    def second_pass(
        self, observed: np.ndarray, pose: Pose, identity: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Expression, pose on the landmarks that move little, gaze, expression again.

        Returns:
            ((T, 61) params, (T,) reprojection error in mm, (T, 2) eye openness).
        """
        rig, cfg = self.rig, self.config
        n_frames = len(observed)
        template = rig.neutral + identity
        fixed = np.zeros((n_frames, len(FIXED_CHANNELS)))
        weights = rig.solve(pose, observed[:, self.mesh] - pose.apply(template[self.mesh]))
        pts = rig.pose_points
        shaped = template[pts] + rig.pose_displacement(rig.expand(weights, fixed))
        pose, _ = fit_pose(
            shaped,
            observed[:, pts],
            rig.pose_weights,
            cfg.z_weight,
            init=pose,
            fixed_scale=True,
        )
        openness = _openness(rig.expand(weights, fixed))
        shift = self.gaze.socket_shift(identity)
        gaze = self.gaze.fit(pose, observed, shift, openness, cfg.z_weight)
        if cfg.eye_look_policy is EyeLookPolicy.LIVELINK:
            fixed[:, _EYE_LOOK] = self.gaze.eye_look(gaze)
        residual = observed[:, self.mesh] - pose.apply(template[self.mesh])
        weights = rig.solve(pose, residual, start=weights, iterations=WARM_ITERATIONS, held=fixed)
        full = rig.expand(weights, fixed)
        residual -= (
            rotate(rig.displacement(full)[:, self.mesh], pose.rotation) * pose.scale[:, None, None]
        )
        plane = np.hypot(residual[..., 0], residual[..., 1])
        error = np.sqrt(np.mean(plane**2, axis=1)) / pose.scale
        params = np.zeros((n_frames, ARKIT.dim))
        params[:, :52] = full
        params[:, _HEAD] = euler_from_matrices(pose.rotation)
        params[:, _LEFT_EYE] = gaze
        params[:, _RIGHT_EYE] = gaze
        return params, error, _openness(full)


def _openness(weights: np.ndarray) -> np.ndarray:
    """(T, 2) how open the left and right eye are, from (T, 52) weights (0 shut … 1 open)."""
    return np.clip(1.0 - weights[:, [_BLINK["Left"], _BLINK["Right"]]], 0.0, 1.0) ** 2


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def _spread(n: int, most: int) -> np.ndarray:
    """At most ``most`` indices evenly spread over ``range(n)``."""
    return np.unique(np.linspace(0, n - 1, min(n, most)).round().astype(int))


def fit_landmark_arrays(
    points: np.ndarray,
    found: np.ndarray,
    fps: float,
    config: FitConfig | None = None,
    model: FaceModel | None = None,
) -> RawFit:
    """Fit ``arkit`` parameters to every frame's landmarks.

    Args:
        points: (T, 478, 3) landmarks in image pixels (x right, y down, z scaled like x and
            negative toward the camera), as :class:`~tdmm_lm.track.landmarks.LandmarkTrack`.
        found: (T,) bool, frames holding a face; the others are skipped.
        fps: Frame rate of the landmarks (for the temporal smoothing of the scale).
        config: Fit settings; defaults when ``None``.
        model: The face model; the built-in one when ``None``.

    Returns:
        The raw per-frame fit.
    """
    from threadpoolctl import threadpool_limits

    config = config or FitConfig()
    # Every product here is small (K ≈ 50, 3 × 3 blocks): BLAS threads cost more in
    # start-up and contention than they save, most of all next to MediaPipe's own threads.
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit(points, found, fps, config, _fitter(model, config))


def _fit(
    points: np.ndarray, found: np.ndarray, fps: float, config: FitConfig, fitter: _Fitter
) -> RawFit:
    """The body of :func:`fit_landmark_arrays`."""
    valid = np.flatnonzero(found)
    n_frames = len(found)
    params = np.zeros((n_frames, ARKIT.dim))
    error = np.full(n_frames, np.nan)
    openness = np.ones((n_frames, 2))
    identity = np.zeros_like(fitter.rig.neutral)
    if valid.size == 0:
        return RawFit(params, error, openness, identity)

    def camera(idx: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        taken = points[idx] if columns is None else points[np.ix_(idx, columns)]
        return taken.astype(np.float64) * IMAGE_TO_CAMERA

    stable = np.asarray(fitter.rig.stable)
    poses = fitter.stable_pose(camera(valid, stable))  # a few landmarks: all frames at once
    strength = cutoff_to_strength(config.scale_hz, fps)
    log_scale = whittaker(np.log(poses.scale)[:, None], np.ones(len(valid)), strength)[:, 0]
    poses.scale = np.exp(log_scale)
    poses = fitter.stable_pose(camera(valid, stable), init=poses)
    chunks = _chunks(len(valid), config.chunk_frames)
    if config.calibrate_identity:
        identity = _identity(fitter, camera, valid, poses, config)
    for part in chunks:
        idx = valid[part]
        params[idx], error[idx], openness[idx] = fitter.second_pass(
            camera(idx), _take(poses, part), identity
        )
    return RawFit(params, error, openness, identity)


def _identity(
    fitter: _Fitter,
    camera: Callable[[np.ndarray], np.ndarray],
    valid: np.ndarray,
    poses: Pose,
    config: FitConfig,
) -> np.ndarray:
    """(478, 3) per-video neutral offset (step 2 of the module docstring), model mm."""
    sample = _spread(len(valid), MAX_IDENTITY_FRAMES)
    pose = _take(poses, sample)
    observed = camera(valid[sample])
    deviation = fitter.back_project(observed, pose) - fitter.rig.neutral  # (S, V, 3)
    median = np.median(deviation, axis=0)
    median[tp.N_MESH_VERTICES :] = 0.0  # the irises move with the gaze, not the identity
    signed = fitter.signed_weights(observed, pose, median)  # (S, K)
    resting = np.percentile(signed, config.neutral_percentile, axis=0)  # (K,)
    fixed = np.zeros((1, len(FIXED_CHANNELS)))
    offset = median + fitter.rig.displacement(fitter.rig.expand(resting[None], fixed))[0]
    offset[tp.N_MESH_VERTICES :] = 0.0
    n_keep = max(1, round(config.neutral_share * len(sample)))
    for _ in range(config.identity_rounds):
        template = (fitter.rig.neutral + offset)[fitter.mesh]
        weights = fitter.rig.solve(pose, observed[:, fitter.mesh] - pose.apply(template))
        most_neutral = np.argsort(weights.sum(axis=1), kind="stable")[:n_keep]
        offset = np.median(deviation[most_neutral], axis=0)
        offset[tp.N_MESH_VERTICES :] = 0.0
    rms = float(np.sqrt(np.mean(offset[: tp.N_MESH_VERTICES] ** 2)))
    log.info("identity offset from %d frames: RMS %.2f mm", len(sample), rms)
    return offset


def _take(pose: Pose, index: slice | np.ndarray) -> Pose:
    return Pose(pose.rotation[index], pose.scale[index], pose.translation[index])


def _concat_poses(poses: list[Pose]) -> Pose:
    return Pose(
        np.concatenate([p.rotation for p in poses]),
        np.concatenate([p.scale for p in poses]),
        np.concatenate([p.translation for p in poses]),
    )


#: The fitter of the last (model, configuration) pair; holding the model keeps its id valid.
_CACHE: list[tuple[FaceModel | None, FitConfig, _Fitter]] = []


def _fitter(model: FaceModel | None, config: FitConfig) -> _Fitter:
    """A cached :class:`_Fitter` (its precomputation costs ~0.1 s)."""
    for cached_model, cached_config, fitter in _CACHE:
        if cached_model is model and cached_config == config:
            return fitter
    fitter = _Fitter(model or FaceModel(), config)
    _CACHE[:] = [(model, config, fitter)]  # one configuration at a time keeps memory flat
    return fitter
