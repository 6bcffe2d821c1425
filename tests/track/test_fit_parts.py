"""Unit tests of the tracker's parts: pose, solver, smoothing, quality, calibration, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.optimize import lsq_linear

from tdmm_lm.face import FaceModel, rig
from tdmm_lm.track import FitConfig, QualityConfig, SmoothingConfig
from tdmm_lm.track.calibrate import load_calibration, model_fingerprint
from tdmm_lm.track.fit import fit_landmark_arrays
from tdmm_lm.track.pose import Pose, euler_from_matrices, fit_pose
from tdmm_lm.track.quality import flag_frames, frame_confidence, spans
from tdmm_lm.track.smoothing import cutoff_to_strength, whittaker
from tdmm_lm.track.solve import BoxQP


def test_euler_round_trip():
    angles = np.random.default_rng(0).uniform(-0.6, 0.6, (50, 3))
    matrices = rig.euler_matrices(*angles.T)
    np.testing.assert_allclose(euler_from_matrices(matrices), angles, atol=1e-9)


def test_pose_recovers_a_similarity_despite_outliers():
    rng = np.random.default_rng(1)
    points = rng.normal(scale=40.0, size=(60, 3))
    truth = Pose(
        rig.euler_matrices(*rng.uniform(-0.4, 0.4, (3, 8))),
        rng.uniform(1.0, 3.0, 8),
        rng.uniform(-100.0, 100.0, (8, 3)),
    )
    observed = truth.apply(points) + rng.normal(scale=0.05, size=(8, 60, 3))
    observed[:, :5] += 30.0  # a few wild landmarks
    pose, weights = fit_pose(points, observed, np.ones(60), z_weight=0.2)
    np.testing.assert_allclose(pose.rotation, truth.rotation, atol=2e-3)
    np.testing.assert_allclose(pose.scale, truth.scale, rtol=2e-3)
    assert (weights[:, :5] == 0).all()  # rejected


def test_box_qp_matches_a_reference_solver():
    rng = np.random.default_rng(2)
    design = rng.normal(size=(40, 12)) * rng.uniform(0.1, 10.0, 12)  # uneven scales
    targets = rng.normal(size=(5, 40)) * 3.0
    qp = BoxQP(design.T @ design + 1e-3 * np.eye(12), np.zeros(12), np.ones(12))
    solved = qp.solve(targets @ design, iterations=400)
    for frame, target in enumerate(targets):
        reference = lsq_linear(design, target, bounds=(0.0, 1.0), tol=1e-12).x
        np.testing.assert_allclose(solved[frame], reference, atol=2e-3)


def test_smoothing_keeps_blinks_and_removes_jitter():
    fps = 30.0
    t = np.arange(300) / fps
    blink = np.exp(-0.5 * ((t - 5.0) / 0.05) ** 2)  # ~120 ms wide
    noise = np.random.default_rng(3).normal(scale=0.05, size=t.shape)
    smoothed = whittaker((blink + noise)[:, None], np.ones_like(t), cutoff_to_strength(8.0, fps))
    assert smoothed[:, 0].max() > 0.8  # the blink survives
    jitter = np.std(np.diff(smoothed[:100, 0], 2))  # frame-to-frame shake
    assert jitter < 0.4 * np.std(np.diff(noise[:100], 2))  # the jitter does not


def test_smoothing_interpolates_low_confidence_frames():
    values = np.linspace(0.0, 1.0, 50)[:, None].copy()
    values[20:30] = 5.0  # a failed stretch
    confidence = np.ones(50)
    confidence[20:30] = 1e-4
    out = whittaker(values, confidence, cutoff_to_strength(4.0, 25.0))
    np.testing.assert_allclose(out[20:30, 0], np.linspace(0, 1, 50)[20:30], atol=0.05)


def test_nyquist_cutoff_means_no_smoothing():
    assert cutoff_to_strength(12.5, 25.0) == 0.0
    assert cutoff_to_strength(4.0, 25.0) > cutoff_to_strength(8.0, 25.0) > 0


def test_flags_and_spans():
    cfg = QualityConfig()
    found = np.array([True] * 4 + [False] * 3 + [True] * 3)
    error = np.array([1.0, 1.0, 9.0, 1.0, np.nan, np.nan, np.nan, 1.0, 1.0, 1.0])
    in_frame = np.array([1.0] * 7 + [0.75, 1.0, 1.0])
    confidence = frame_confidence(found, error, in_frame, cfg)
    flags = flag_frames(found, error, confidence, cfg)
    assert spans(flags, 10.0) == [
        [0.2, 0.3, "large_reprojection_error"],
        [0.4, 0.7, "no_face"],
        [0.7, 0.8, "low_confidence"],
    ]
    assert confidence[4:7].max() == 0.0 and confidence[0] > 0.8


def test_configs_validate():
    with pytest.raises(ValueError, match="z_weight"):
        FitConfig(z_weight=0.0)
    with pytest.raises(ValueError, match="lids_hz"):
        SmoothingConfig(lids_hz=-1.0)
    with pytest.raises(ValueError, match="min_confidence"):
        QualityConfig(min_confidence=2.0)


def test_calibration_matches_the_shipped_model():
    model = FaceModel()
    calibration = load_calibration(model)
    assert calibration is not None, "rebuild with tdmm_lm.track.calibrate.main()"
    assert calibration.fingerprint == model_fingerprint(model)
    assert calibration.neutral.shape == (478, 3) and calibration.gains.shape == (52,)
    # MediaPipe's neutral is close to the model's, and its amplitudes are plausible.
    assert np.sqrt(((calibration.neutral - model.neutral) ** 2).sum(1).mean()) < 5.0
    assert (calibration.gains > 0.2).all() and (calibration.gains < 2.0).all()


@pytest.fixture(scope="module")
def long_landmarks():
    """Ten minutes at 25 fps of a neutral face's model landmarks, seen by a still camera."""
    model = FaceModel()
    n = 10 * 60 * 25
    rng = np.random.default_rng(4)
    points = model.neutral[None] * np.array([1.5, -1.5, -1.5]) + np.array([256.0, 256.0, 0.0])
    points = np.broadcast_to(points, (n, 478, 3)) + rng.normal(scale=0.3, size=(n, 478, 3))
    return points.astype(np.float32)


def test_long_input_is_fitted_in_chunks_fast(long_landmarks):
    found = np.ones(len(long_landmarks), bool)
    start = time.perf_counter()
    raw = fit_landmark_arrays(long_landmarks, found, 25.0)
    rate = len(found) / (time.perf_counter() - start)
    assert raw.params.shape == (len(found), 61)
    assert np.isfinite(raw.params).all() and np.nanmax(raw.error_mm) < 2.0
    assert rate > 1000.0  # frames per second; the benchmark measures it properly
    small = fit_landmark_arrays(
        long_landmarks[:3000], found[:3000], 25.0, FitConfig(chunk_frames=256)
    )
    np.testing.assert_allclose(small.params[:, 52:55], raw.params[:3000, 52:55], atol=2e-3)


def test_variable_frame_rate_is_retimed():
    from tdmm_lm.track.api import _uniform_timing

    stamps = np.array([0.0, 0.04, 0.08, 0.2, 0.24])  # a 120 ms gap at nominal 25 fps
    values = (stamps * 10.0)[:, None]
    out = _uniform_timing(values, stamps, 25.0)
    np.testing.assert_allclose(out[:, 0], np.arange(7) * 0.4, atol=1e-9)
    regular = values[:3]
    assert _uniform_timing(regular, stamps[:3], 25.0) is regular
