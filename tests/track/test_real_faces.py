"""Acceptance on real people's faces (skipped when ../shared/real-faces is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from tdmm_lm.track import fit_video

MIN_TRACKED = 0.99


@pytest.fixture(scope="module")
def fits(real_faces):
    return {name: fit_video(real_faces / f"{name}.mp4") for name in ("d0", "d18", "d19")}


def times(seq) -> np.ndarray:
    return np.arange(seq.n_frames) / seq.fps


def smile(seq) -> np.ndarray:
    return (seq.channel("mouthSmileLeft") + seq.channel("mouthSmileRight")) / 2


@pytest.mark.parametrize("name", ["d0", "d18", "d19"])
def test_face_tracked_in_nearly_every_frame(fits, name):
    _, report = fits[name]
    assert report.tracked_fraction >= MIN_TRACKED
    assert report.to_dict()["reprojection_error"]["p95"] < 3.0


@pytest.mark.parametrize("peak_s", [2.6, 4.5])
def test_d18_jaw_opens_twice(fits, peak_s):
    seq, _ = fits["d18"]
    jaw, t = seq.channel("jawOpen"), times(seq)
    assert jaw[np.abs(t - peak_s) < 0.4].max() > np.median(jaw) + 0.3


def test_d0_grin(fits):
    seq, _ = fits["d0"]
    s, t = smile(seq), times(seq)
    assert s[(t > 1.1) & (t < 2.5)].mean() > s[t < 0.3].mean() + 0.2


def test_d19_smile_at_the_end(fits):
    seq, _ = fits["d19"]
    s, t = smile(seq), times(seq)
    assert s[t > t[-1] - 1.0].mean() > s[t < 1.0].mean() + 0.2


def test_d0_eyes_move(fits):
    seq, _ = fits["d0"]
    yaw = np.rad2deg(seq.channel("leftEyeYaw"))
    assert np.ptp(yaw) > 10.0  # the eyes dart left and right
    looks = seq.params[:, [seq.channels.index(n) for n in ("eyeLookOutLeft", "eyeLookInLeft")]]
    assert looks.max() > 0.3


def test_d0_head_still(fits):
    seq, report = fits["d0"]
    assert np.ptp(np.rad2deg(seq.params[:, 52:55]), axis=0).max() < 10.0
    assert report.jitter_head_deg < 0.5


def test_d0_neutral_mouth_reads_as_rest(fits):
    # The grin fills half the clip; the actor's resting mouth must not read as its opposite
    # (a pucker) or as a frown before and after it.
    seq, _ = fits["d0"]
    t = times(seq)
    rest = (t < 0.5) | (t > t[-1] - 0.3)
    for name in ("mouthPucker", "mouthFunnel", "mouthFrownLeft", "mouthFrownRight"):
        assert seq.channel(name)[rest].mean() < 0.2, name
