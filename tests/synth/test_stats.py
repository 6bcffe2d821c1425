from __future__ import annotations

import math

import numpy as np
import pytest

from tdmm_lm.face.sequence import FaceSequence
from tdmm_lm.prompts.sampler import sample_prompts
from tdmm_lm.synth import get_generator, style_statistics
from tdmm_lm.synth.channels import IDX
from tdmm_lm.synth.stats import STYLE_STATISTICS


def test_statistics_of_a_known_sequence():
    fps, n = 25.0, 1500  # one minute
    p = np.zeros((n, 61), np.float32)
    t = np.arange(n) / fps
    for start in (5.0, 20.0, 40.0):  # three blinks: 0.1 s closing, 0.2 s opening
        lid = np.interp(t, [start, start + 0.1, start + 0.3], [0.0, 1.0, 0.0], left=0, right=0)
        p[:, IDX["eyeBlinkLeft"]] = np.maximum(p[:, IDX["eyeBlinkLeft"]], lid)
        p[:, IDX["eyeBlinkRight"]] = np.maximum(p[:, IDX["eyeBlinkRight"]], lid)
    p[:, IDX["headYaw"]] = math.radians(10) * np.sin(2 * np.pi * 0.5 * t)
    p[:, IDX["mouthSmileLeft"]] = 0.5
    p[:, IDX["mouthSmileRight"]] = 0.4
    stats = style_statistics([FaceSequence(p, fps=fps)])
    assert set(stats) == set(STYLE_STATISTICS)
    assert stats["blink_rate_per_min"] == pytest.approx(3.0)
    assert stats["blink_duration_s"] == pytest.approx(0.15, abs=0.01)
    assert stats["blink_close_open_ratio"] == pytest.approx(0.5, abs=0.15)
    # RMS speed of a 10° sine at 0.5 Hz: 10 * 2π * 0.5 / sqrt(2) deg/s.
    assert stats["head_speed_deg_s"] == pytest.approx(10 * np.pi / np.sqrt(2), rel=0.01)
    # |0.5 - 0.4| over a mean activation of 0.45 (the symmetric blinks dilute it a little).
    assert stats["lr_asymmetry"] == pytest.approx(0.1 / 0.45, rel=0.03)


def test_statistics_need_sequences():
    with pytest.raises(ValueError):
        style_statistics([])


def test_the_two_performers_have_measurably_different_styles():
    specs = sample_prompts(60, 99)
    stats = {
        name: style_statistics([get_generator(name).generate(s) for s in specs])
        for name in ("keyframe", "dynamics")
    }
    ratio = {k: stats["dynamics"][k] / stats["keyframe"][k] for k in STYLE_STATISTICS}
    clearly_different = [k for k, r in ratio.items() if r > 1.3 or r < 1 / 1.3]
    assert len(clearly_different) >= 2, ratio
    # The springs never hold still; the keyframes do. Their blinks are shaped differently.
    assert ratio["micro_motion"] > 1.5
    assert ratio["blink_close_open_ratio"] < 0.85
    # Both blink at natural rates.
    for name in stats:
        assert 10 <= stats[name]["blink_rate_per_min"] <= 25
