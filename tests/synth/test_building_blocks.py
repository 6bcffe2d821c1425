"""Curves, springs, noise, eyes and speech: the pieces the generators are built from."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import find_peaks

from tdmm_lm.synth import eyes, speech
from tdmm_lm.synth.channels import IDX, MIRROR_GROUP, SYMMETRIC_PAIRS
from tdmm_lm.synth.curves import (
    OSCILLATION_SHAPES,
    plan_oscillation,
    pulse_matrix,
    smooth_soft_clip,
    smoothstep,
)
from tdmm_lm.synth.plausibility import MAX_BLENDSHAPE_ACCEL, MAX_BLENDSHAPE_SPEED
from tdmm_lm.synth.springs import (
    apply_response,
    fft_length,
    ou_noise_spectrum,
    spring_gain,
    spring_response,
)


def test_smoothstep_eases_from_zero_to_one():
    x = np.linspace(-0.5, 1.5, 2001)
    y = smoothstep(x)
    assert y[0] == 0 and y[-1] == 1 and np.all(np.diff(y) >= 0)
    slope = np.diff(y) / np.diff(x)
    assert slope.max() == pytest.approx(1.5, abs=1e-3) and abs(slope[0]) < 1e-9


def test_pulses_rise_hold_and_fall():
    t = np.arange(0, 2, 0.01)
    pulse = pulse_matrix(t, np.array([0.5]), np.array([0.2]), np.array([0.3]), np.array([0.4]))[
        :, 0
    ]
    assert pulse[t < 0.5].max() == 0 and np.all(pulse[(t >= 0.7) & (t <= 1.0)] == 1)
    assert pulse[t >= 1.4].max() == 0


def test_soft_clip_keeps_values_inside_and_small_values_exact():
    x = np.linspace(-1, 3, 4001)
    y = smooth_soft_clip(x)
    assert y.min() == 0 and y.max() < 1 and np.all(np.diff(y) >= 0)
    inside = (x >= 0) & (x <= 0.85)
    np.testing.assert_array_equal(y[inside], x[inside])


@pytest.mark.parametrize("shape", OSCILLATION_SHAPES)
@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_oscillations_have_exactly_count_cycles(shape, count):
    plan = plan_oscillation((0.3, 4.7), count, 0.8, 0.2, shape, max_speed=5.0)
    t = np.arange(0, 5, 0.001)
    curve = plan.curve(t)
    assert len(find_peaks(curve, prominence=0.05)[0]) == count
    assert curve[t < 0.3].max() == 0 and abs(curve[t > 4.7]).max() == 0
    speed = np.abs(np.diff(curve)).max() / 0.001
    assert speed <= 5.0 * 1.01


def test_oscillation_fills_the_span_when_count_is_zero_and_caps_speed():
    plan = plan_oscillation((0.0, 4.0), 0, 0.8, 0.5, "swing", max_speed=1.0)
    assert plan.count == 5 and plan.amplitude < 0.5
    assert plan_oscillation((0.0, 1.0), 4, 0.8, 0.1, "nod", 9.0).period_s == pytest.approx(0.25)


@pytest.mark.parametrize("fps", [25.0, 60.0])
def test_spring_response_matches_the_continuous_step_response(fps):
    omega, zeta = np.array([2 * math.pi * 2.0, 2 * math.pi * 6.0]), np.array([0.6, 0.95])
    n = int(3 * fps)
    response = spring_response(omega, zeta, 1.0 / fps, fft_length(n))
    step = apply_response(np.ones((n, 2)), response, fft_length(n))
    t = (np.arange(n) + 1) / fps  # a target held over frame k is felt from frame k's end
    root = np.sqrt(1 - zeta**2)
    exact = 1 - np.exp(-zeta * omega * t[:, None]) * (
        np.cos(omega * root * t[:, None]) + zeta / root * np.sin(omega * root * t[:, None])
    )
    np.testing.assert_allclose(step, exact, atol=1e-9)
    assert step[-1] == pytest.approx([1.0, 1.0], abs=1e-4)  # unit DC gain


def test_spring_gain_is_one_at_dc_and_falls_above_resonance():
    omega = 2 * math.pi * 3.0
    assert spring_gain(omega, 0.7, 0.0) == pytest.approx(1.0)
    assert spring_gain(omega, 0.7, 12.0) < 0.1


def test_ou_noise_has_unit_variance_and_the_asked_correlation():
    rng = np.random.default_rng(0)
    tau, dt, n_fft = 0.3, 0.04, 512
    spectrum = ou_noise_spectrum(rng, np.full(400, tau), dt, n_fft)
    noise = np.fft.irfft(spectrum, n_fft)  # (400, n_fft)
    assert noise.var() == pytest.approx(1.0, rel=0.05)
    lag1 = np.mean(noise[:, 1:] * noise[:, :-1]) / noise.var()
    assert lag1 == pytest.approx(math.exp(-dt / tau), abs=0.02)


def test_gamma_renewal_blinks_keep_their_rate_and_gaps():
    rng = np.random.default_rng(1)
    times = eyes.gamma_renewal_times(rng, 600.0, 4.0, 3.0, 0.6)
    assert len(times) / 10 == pytest.approx(15, rel=0.15)
    assert np.diff(times).min() >= 0.6 - 1e-9 and times.min() >= 0 and times.max() < 600


def test_poisson_blinks_respect_the_refractory_period():
    rng = np.random.default_rng(2)
    times = eyes.poisson_refractory_times(rng, 600.0, 18 / 60.0, 0.7)
    assert len(times) / 10 == pytest.approx(18, rel=0.15)
    assert np.diff(times).min() >= 0.7 - 1e-9


def test_events_in_windows_are_dropped():
    kept = eyes.drop_events_in(np.array([0.5, 1.5, 2.5]), [(1.0, 2.0)])
    np.testing.assert_array_equal(kept, [0.5, 2.5])


def test_skewed_blinks_close_faster_than_they_open():
    t = np.arange(0, 1, 0.001)
    lid = eyes.skewed_blink_curve(t, np.array([0.2]), np.array([0.09]), np.array([1.0]))
    peak = t[np.argmax(lid)]
    above = t[lid > 0.5]
    assert lid.max() == pytest.approx(1.0, abs=1e-3)
    assert (above[-1] - peak) > 1.5 * (peak - above[0])
    assert np.abs(np.diff(lid)).max() / 0.001 <= 25.0


def test_saccades_jump_between_fixations_within_the_eye_speed():
    rng = np.random.default_rng(3)
    t = np.arange(0, 30, 0.001)
    gaze = eyes.saccade_gaze(rng, t, (0.5, 2.0), (0.1, 0.06), max_speed=6.0)
    speed = np.hypot(*np.diff(gaze, axis=0).T) / 0.001
    assert speed.max() <= 6.0 * 1.2  # the main sequence may be slower, never much faster
    moving = speed > 0.05
    saccades = np.sum(np.diff(moving.astype(int)) == 1)
    assert 30 / 2.0 <= saccades <= 30 / 0.5 + 1


def test_syllables_are_capped_to_stay_smooth():
    weights = np.zeros((3, 52))
    weights[:, IDX["jawOpen"]] = [0.1, 0.9, 0.9]
    capped = speech.cap_syllables(weights, np.array([0.2, 0.2, 1.0]))
    assert capped[0, IDX["jawOpen"]] == pytest.approx(0.1)  # small: untouched
    assert capped[1, IDX["jawOpen"]] < 0.9  # loud and short: capped
    width = 0.2
    height = capped[1, IDX["jawOpen"]]
    assert math.pi * height / width <= 0.5 * MAX_BLENDSHAPE_SPEED + 1e-9
    assert 2 * math.pi**2 * height / width**2 <= 0.5 * MAX_BLENDSHAPE_ACCEL + 1e-9
    assert capped[2, IDX["jawOpen"]] == pytest.approx(0.9)  # loud but long: untouched


@pytest.mark.parametrize("style", sorted(speech.SPEECH_STYLES))
def test_visemes_are_symmetric(style):
    weights = speech.viseme_weights(
        np.random.default_rng(0), 50, speech.SPEECH_STYLES[style], (1, 1)
    )
    for left, right in SYMMETRIC_PAIRS:
        np.testing.assert_allclose(weights[:, left], weights[:, right])


def test_mirror_groups_pair_left_and_right():
    for left, right in SYMMETRIC_PAIRS:
        assert MIRROR_GROUP[left] == MIRROR_GROUP[right]
    assert MIRROR_GROUP[IDX["jawLeft"]] != MIRROR_GROUP[IDX["jawRight"]]
