"""Acceptance: known parameters rendered in the photo style are recovered by the tracker."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from tdmm_lm.face import rig

ACTIVE = (
    "jawOpen",
    "mouthSmileLeft",
    "mouthSmileRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "browInnerUp",
    "browDownLeft",
    "browDownRight",
)
MAX_MAE = 0.08
MIN_PEARSON = 0.9
MAX_MEDIAN_ROTATION_DEG = 2.0

log = logging.getLogger(__name__)


def axis_errors_deg(truth: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """(T, 2) absolute yaw and pitch errors, degrees."""
    return np.rad2deg(np.abs(fitted[:, 52:54] - truth[:, 52:54]))


def rotation_error_deg(truth: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """(T,) angle of the rotation between true and fitted head poses, degrees."""
    a = rig.euler_matrices(*(truth[:, 52 + k].astype(np.float64) for k in range(3)))
    b = rig.euler_matrices(*(fitted[:, 52 + k].astype(np.float64) for k in range(3)))
    cos = (np.einsum("tij,tij->t", a, b) - 1.0) / 2.0  # trace(aᵀ b) = 1 + 2 cos θ
    return np.rad2deg(np.arccos(np.clip(cos, -1.0, 1.0)))


def test_same_frames_and_rate(expression_clip):
    assert expression_clip.fitted.n_frames == expression_clip.truth.n_frames
    assert expression_clip.fitted.fps == expression_clip.truth.fps
    assert expression_clip.report.tracked_fraction == 1.0


@pytest.mark.parametrize("channel", ACTIVE)
def test_active_channels_are_recovered(expression_clip, channel):
    truth = expression_clip.truth.channel(channel)
    fitted = expression_clip.fitted.channel(channel)
    mae = float(np.abs(truth - fitted).mean())
    pearson = float(np.corrcoef(truth, fitted)[0, 1])
    log.info("%s: MAE %.3f, Pearson %.3f", channel, mae, pearson)
    print(f"{channel}: MAE {mae:.3f} Pearson {pearson:.3f}")
    assert mae <= MAX_MAE, f"{channel}: MAE {mae:.3f}"
    assert pearson >= MIN_PEARSON, f"{channel}: Pearson {pearson:.3f}"


@pytest.mark.parametrize("clip_name", ["head_clip", "expression_clip"])
def test_head_rotation_is_recovered(request, clip_name):
    clip = request.getfixturevalue(clip_name)
    yaw, pitch = np.median(axis_errors_deg(clip.truth.params, clip.fitted.params), axis=0)
    # The angle of the whole rotation error is reported too. MediaPipe sees the photo
    # renderer's turned heads about 20 % less turned than they are (the warped photograph
    # keeps its frontal shading and surroundings), which this angle accumulates.
    total = np.median(rotation_error_deg(clip.truth.params, clip.fitted.params))
    print(f"{clip_name}: median error yaw {yaw:.2f}, pitch {pitch:.2f}, angle {total:.2f} deg")
    assert yaw <= MAX_MEDIAN_ROTATION_DEG
    assert pitch <= MAX_MEDIAN_ROTATION_DEG


def test_inactive_channels_stay_low(expression_clip):
    names = expression_clip.truth.channels[:52]
    idle = [i for i, n in enumerate(names) if n not in ACTIVE and not n.startswith("eyeLook")]
    # Cross-talk exists (a wide-open jaw also moves the corners), but stays a fraction.
    assert np.percentile(expression_clip.fitted.params[:, idle], 95) < 0.2
