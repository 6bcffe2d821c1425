from __future__ import annotations

import math

import numpy as np
import pytest

from tdmm_lm.face.sequence import FaceSequence
from tdmm_lm.synth import check_plausibility, enforce_plausibility
from tdmm_lm.synth.channels import IDX
from tdmm_lm.synth.curves import smoothstep
from tdmm_lm.synth.plausibility import (
    HEAD_RANGE_RAD,
    MAX_BLENDSHAPE_ACCEL,
    MAX_BLENDSHAPE_SPEED,
    MAX_EYE_SPEED,
    MAX_FAST_BLENDSHAPE_SPEED,
    MAX_HEAD_SPEED,
    min_transition_s,
)

FPS = 25.0


def rest(seconds=2.0, fps=FPS):
    return np.zeros((round(seconds * fps), 61))


def check(params, fps=FPS, meta=None, **kwargs):
    return check_plausibility(
        FaceSequence(params.astype(np.float32), fps=fps, meta=meta or {}), **kwargs
    )


def eased(params, channel, start, duration, height, fps=FPS):
    t = np.arange(len(params)) / fps
    params[:, IDX[channel]] += height * smoothstep((t - start) / duration)


def test_a_resting_face_is_plausible():
    assert check(rest()) == []


def test_an_eased_expression_is_plausible():
    p = rest(3.0)
    for side in ("Left", "Right"):
        eased(p, "mouthSmile" + side, 0.5, 0.4, 0.8)
    eased(p, "headYaw", 0.5, 0.6, math.radians(30))
    assert check(p) == []


def test_head_beyond_human_range_is_flagged():
    p = rest()
    p[:, IDX["headYaw"]] = math.radians(75)  # inside the arkit space, beyond a neck
    (problem,) = check(p)
    assert problem.startswith("range") and "headYaw" in problem


def test_a_one_frame_jump_is_flagged_with_its_channel():
    p = rest()
    p[25:, IDX["jawOpen"]] = 0.9
    problems = check(p)
    assert any(m.startswith("speed") and "jawOpen" in m for m in problems)


def test_blinks_may_be_faster_than_other_blendshapes():
    p = rest()
    step = 0.8 * MAX_FAST_BLENDSHAPE_SPEED / FPS  # 20/s: too fast for a smile, fine for a lid
    for name in ("eyeBlinkLeft", "eyeBlinkRight"):
        p[10:20, IDX[name]] = np.minimum(np.arange(1, 11) * step, 1.0)
    assert check(p) == []
    p[10:20, IDX["browInnerUp"]] = np.minimum(np.arange(1, 11) * step, 1.0)
    assert any("browInnerUp" in m for m in check(p))


def test_a_step_below_the_speed_limit_is_still_not_a_smooth_onset():
    # At 60 fps a 0.15 step moves at 9/s for one frame: within speed, a pop nonetheless.
    # (At 25 fps one frame is long enough for a genuinely fast onset to look like a step.)
    p = rest(fps=60.0)
    p[60:, IDX["browInnerUp"]] = 0.15
    (problem,) = check(p, fps=60.0)
    assert problem.startswith("acceleration") and "browInnerUp" in problem


@pytest.mark.parametrize(
    ("channel", "limit"), [("headPitch", MAX_HEAD_SPEED), ("leftEyeYaw", MAX_EYE_SPEED)]
)
def test_rotation_speed_limits(channel, limit):
    p = rest()
    p[25:, IDX[channel]] = 1.2 * limit / FPS
    assert any(m.startswith("speed") and channel in m for m in check(p))


def test_one_sided_face_is_flagged_unless_allowed():
    p = rest()
    eased(p, "mouthSmileLeft", 0.2, 0.5, 0.8)
    eased(p, "mouthSmileRight", 0.2, 0.5, 0.2)
    (problem,) = check(p)
    assert problem.startswith("symmetry") and "mouthSmileLeft" in problem
    assert check(p, allow_asymmetry=True) == []
    assert check(p, meta={"allow_asymmetry": True}) == []


def test_sideways_jaw_counts_as_asymmetry():
    p = rest()
    eased(p, "jawLeft", 0.2, 0.5, 0.3)
    assert any(m.startswith("symmetry") for m in check(p))


def test_small_identity_asymmetry_is_fine():
    p = rest()
    eased(p, "mouthSmileLeft", 0.2, 0.5, 0.8 * 1.04)
    eased(p, "mouthSmileRight", 0.2, 0.5, 0.8 * 0.96)
    assert check(p) == []


def test_only_arkit_is_checked():
    with pytest.raises(ValueError, match="arkit"):
        check_plausibility(FaceSequence(np.zeros((3, 58), np.float32), space="flame"))


@pytest.mark.parametrize("fps", [25.0, 60.0, 120.0])
def test_enforce_repairs_ranges_speeds_and_accelerations(fps):
    rng = np.random.default_rng(0)
    p = rng.uniform(0.0, 1.0, (int(3 * fps), 61))
    p[:, 52:] = rng.uniform(-1.5, 1.5, (len(p), 9))  # wild rotations
    p[:, [IDX["eyeBlinkRight"]]] = p[:, [IDX["eyeBlinkLeft"]]]
    fixed = enforce_plausibility(p.copy(), fps)
    problems = check(fixed, fps, allow_asymmetry=True)  # symmetry depends on the prompt
    assert problems == []
    assert np.abs(HEAD_RANGE_RAD - np.abs(fixed[:, 52:55]).max(axis=0)).min() >= 0


def test_enforce_leaves_plausible_motion_alone():
    p = rest(3.0)
    eased(p, "jawOpen", 0.5, 0.4, 0.6)
    eased(p, "headRoll", 0.5, 0.8, 0.2)
    assert np.array_equal(enforce_plausibility(p.copy(), FPS), p)


@pytest.mark.parametrize(
    ("channel", "height"),
    [("mouthSmileLeft", 1.0), ("eyeBlinkLeft", 1.0), ("headYaw", 1.2), ("leftEyeYaw", 0.6)],
)
def test_min_transition_respects_the_limits(channel, height):
    delta = np.zeros(61)
    delta[IDX[channel]] = height
    duration = min_transition_s(delta, 1.0)
    fps = 1000.0  # fine sampling: measure the continuous curve
    p = np.zeros((round((duration + 0.2) * fps), 61))
    eased(p, channel, 0.1, duration, height, fps)
    if channel == "leftEyeYaw":  # gaze blendshapes follow the eye; checked separately
        assert height / duration * 1.5 <= MAX_EYE_SPEED * 1.001
        return
    speed = np.abs(np.diff(p[:, IDX[channel]])).max() * fps
    limits = {"mouthSmileLeft": MAX_BLENDSHAPE_SPEED, "eyeBlinkLeft": MAX_FAST_BLENDSHAPE_SPEED}
    assert speed <= limits.get(channel, MAX_HEAD_SPEED) * 1.001
    if channel == "mouthSmileLeft":
        accel = np.abs(np.diff(p[:, IDX[channel]], n=2)).max() * fps * fps
        assert accel <= MAX_BLENDSHAPE_ACCEL * 1.01
