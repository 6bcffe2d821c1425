"""Generator (b), ``dynamics``: a performer whose face follows targets through springs.

Where ``keyframe`` draws the curves themselves, this performer only sets *targets* and lets
physics shape the motion:

* every channel is a damped spring (natural frequency per muscle group times the actor's
  stiffness, actor-specific damping, slightly under-damped) pulled toward piecewise
  targets, which the actor reaches after a reaction latency;
* targets carry Ornstein–Uhlenbeck noise, scaled by activation, so the face never holds
  perfectly still;
* action units co-activate (a smile lifts the cheeks, lowered brows narrow the eyes), and
  each actor has its own gains per muscle group;
* speech is a frequency-modulated syllable oscillator gated into phrases;
* blinks are a Poisson process with a refractory period, closing fast and opening slowly;
* the head follows eased pose and oscillation targets through its own spring, with OU drift.

All springs run as one batched FFT filter (:mod:`tdmm_lm.synth.springs`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from tdmm_lm.face.sequence import DEFAULT_FPS, FaceSequence
from tdmm_lm.prompts.schema import PromptSpec, Segment
from tdmm_lm.synth import eyes, muscles, speech
from tdmm_lm.synth.base import (
    ProceduralGenerator,
    check_fraction,
    check_interval,
    frame_times,
    sequence_meta,
    spec_rng,
    spec_segments,
)
from tdmm_lm.synth.channels import (
    EYE_LEFT,
    EYE_RIGHT,
    GAZE_BLENDSHAPES,
    HEAD,
    IDX,
    LATERAL_PAIRS,
    LEFT,
    MIRROR_GROUP,
    N_BLENDSHAPES,
    N_CHANNELS,
    N_MIRROR_GROUPS,
    RIGHT,
    eye_look_from_rotations,
)
from tdmm_lm.synth.curves import plan_oscillation, smooth_soft_clip, step_matrix
from tdmm_lm.synth.plausibility import MAX_HEAD_SPEED, enforce_plausibility, min_transition_s
from tdmm_lm.synth.recipes import check_intensity_scale, intensity_gain
from tdmm_lm.synth.recipes import spec_allows_asymmetry as _allows_asymmetry
from tdmm_lm.synth.springs import (
    apply_response,
    fft_length,
    ou_noise_spectrum,
    spring_gain,
    spring_response,
)

__all__ = ["DynamicsConfig", "DynamicsGenerator"]

#: Mixed into the spec seed so this generator's randomness differs from the others'.
DYNAMICS_SALT = 0x64_796E  # "dyn"
#: Fraction of each physical limit one planned target change may use.
PLAN_MARGIN = 0.4
#: Range of times to full closure of the skewed blinks (:func:`eyes.skewed_blink_curve`).
BLINK_PEAK_S = (0.085, 0.1)
#: Fractions of an action's duration spent ramping its target up and down.
ACTION_RISE, ACTION_FALL = 0.2, 0.35
#: Fixations last at least this long (s); then the next saccade is a Poisson event.
MIN_FIXATION_S = 0.25
#: Gaze targets stay within this many radians (yaw, pitch) of the centre, so one jump
#: through the eye spring never outruns the eye.
GAZE_LIMIT_RAD = (0.16, 0.1)
#: A new fixation target is switched in over this time; the eye spring shapes the saccade.
SACCADE_RAMP_S = 0.02
#: Speech targets are raised to make up for what the articulator springs smooth away.
SPEECH_GAIN = 1.25
#: Share of the limits a syllable *target* may use (the springs take the edge off).
SPRING_SYLLABLE_SHARE = 0.6
LAUGH_HEAD_BACK_RAD = math.radians(4.0)
#: Independent noise series: one per mirror group of blendshapes, then head yaw/pitch/roll.
_N_NOISE = N_MIRROR_GROUPS + 3
#: Noise series feeding each channel (eye channels get none: their sigma is 0).
_NOISE_SOURCE = np.concatenate(
    [MIRROR_GROUP, N_MIRROR_GROUPS + np.arange(3), np.zeros(6, dtype=np.int64)]
)
_NOISELESS = list(GAZE_BLENDSHAPES) + [i for pair in LATERAL_PAIRS for i in pair]
_YAW, _PITCH, _ROLL = HEAD.start, HEAD.start + 1, HEAD.start + 2
_EYE_YAWS = [EYE_LEFT.start, EYE_RIGHT.start]
_EYE_PITCHES = [EYE_LEFT.start + 1, EYE_RIGHT.start + 1]
_LIDS = [IDX["eyeBlinkLeft"], IDX["eyeBlinkRight"]]
_AXIS = {"yaw": _YAW, "pitch": _PITCH, "roll": _ROLL}


@dataclass(frozen=True)
class DynamicsConfig:
    """Options of the dynamics performer; per-actor values are drawn from the ranges.

    Attributes:
        stiffness_spread: Log-normal spread of the actor's spring stiffness.
        damping: Range of damping ratios of face and head springs (< 1: under-damped).
        latency_s: Range of reaction latencies to a segment boundary.
        gain_spread: Log-normal spread of the actor's gain per muscle group.
        coupling: Scale of co-activation between action units (0 = none).
        noise: Std of the OU noise on a resting blendshape's target; it grows with the
            channel's mean activation over the clip (three times at full activation).
        noise_tau_s: Correlation time of the OU noise.
        head_noise_deg: Std of the OU drift of the head.
        head_noise_tau_s: Correlation time of the head drift (slower than the face's).
        blink_rate_per_min: Range of blink rates.
        blink_refractory_s: No blink follows another sooner than this.
        fixation_mean_s: Mean gaze fixation duration.
        gaze_deg: Std of gaze targets (yaw; pitch uses 60 %).
        syllable_rate_hz: Range of speaking rates.
        asymmetry: Largest left/right gain difference of an actor.
        intensity_scale: How intensity levels scale an expression (a key of
            :data:`~tdmm_lm.prompts.schema.INTENSITY_SCALES`).
    """

    stiffness_spread: float = 0.2
    damping: tuple[float, float] = (0.6, 0.9)
    latency_s: tuple[float, float] = (0.1, 0.35)
    gain_spread: float = 0.12
    coupling: float = 1.0
    noise: float = 0.02
    noise_tau_s: float = 0.3
    head_noise_deg: float = 1.2
    head_noise_tau_s: float = 1.0
    blink_rate_per_min: tuple[float, float] = (11.0, 21.0)
    blink_refractory_s: float = 0.7
    fixation_mean_s: float = 0.9
    gaze_deg: float = 6.0
    syllable_rate_hz: tuple[float, float] = (3.8, 5.0)
    asymmetry: float = 0.04
    intensity_scale: str = "linear"

    def __post_init__(self) -> None:
        check_intensity_scale(self.intensity_scale)
        check_fraction("stiffness_spread", self.stiffness_spread, 0.0, 0.5)
        check_interval("damping", self.damping, 0.3, 0.99)
        check_interval("latency_s", self.latency_s, 0.0, 1.0)
        check_fraction("gain_spread", self.gain_spread, 0.0, 0.4)
        check_fraction("coupling", self.coupling, 0.0, 2.0)
        check_fraction("noise", self.noise, 0.0, 0.1)
        check_fraction("noise_tau_s", self.noise_tau_s, 0.05, 5.0)
        check_fraction("head_noise_deg", self.head_noise_deg, 0.0, 5.0)
        check_fraction("head_noise_tau_s", self.head_noise_tau_s, 0.1, 10.0)
        check_interval("blink_rate_per_min", self.blink_rate_per_min, 1.0, 60.0)
        check_fraction("blink_refractory_s", self.blink_refractory_s, 0.2, 3.0)
        check_fraction("fixation_mean_s", self.fixation_mean_s, 0.3, 10.0)
        check_fraction("gaze_deg", self.gaze_deg, 0.0, 10.0)
        check_interval("syllable_rate_hz", self.syllable_rate_hz, 1.0, 8.0)
        check_fraction("asymmetry", self.asymmetry, 0.0, 0.06)


@dataclass(frozen=True)
class _Actor:
    """The per-seed traits of one performer."""

    stiffness: float
    damping: float
    head_damping: float
    latency: float
    gains: np.ndarray  # (52,) per muscle group, equal on both sides
    asymmetry: float
    blink_rate: float
    syllable_rate: float
    noise_scale: float

    @classmethod
    def draw(cls, rng: np.random.Generator, config: DynamicsConfig) -> _Actor:
        gains = np.clip(np.exp(rng.normal(0.0, config.gain_spread, N_MIRROR_GROUPS)), 0.75, 1.3)
        gains = gains[MIRROR_GROUP]
        gains[_LIDS] = 1.0  # a wink or a deliberate blink closes the lid whatever the actor
        return cls(
            stiffness=float(np.clip(np.exp(rng.normal(0.0, config.stiffness_spread)), 0.7, 1.4)),
            damping=rng.uniform(*config.damping),
            head_damping=rng.uniform(max(config.damping[0], 0.65), max(config.damping[1], 0.7)),
            latency=rng.uniform(*config.latency_s),
            gains=gains,
            asymmetry=rng.uniform(-config.asymmetry, config.asymmetry),
            blink_rate=rng.uniform(*config.blink_rate_per_min),
            syllable_rate=rng.uniform(*config.syllable_rate_hz),
            noise_scale=rng.uniform(0.7, 1.3),
        )


class DynamicsGenerator(ProceduralGenerator):
    """The spring-dynamics performer (generator ``dynamics``).

    Args:
        config: Options; defaults when None.
        vocabulary: Recipes to perform; the lexicon's when None.
    """

    name = "dynamics"
    config_class = DynamicsConfig
    config: DynamicsConfig

    def generate(self, spec: PromptSpec, fps: float = DEFAULT_FPS) -> FaceSequence:
        """Perform ``spec`` (see :meth:`MotionGenerator.generate`).

        Returns:
            ``arkit`` sequence, ``(round(duration_s * fps), 61)`` float32 params.
        """
        t = frame_times(spec.duration_s, fps)
        segments = spec_segments(spec)
        rng = spec_rng(spec, DYNAMICS_SALT)
        actor = _Actor.draw(rng, self.config)
        steps: list[tuple[float, float, np.ndarray]] = []  # (start, ramp, (D,) change)
        targets = np.zeros((t.size, N_CHANNELS))
        self._expression_steps(rng, segments, actor, steps)
        closing, gazing = self._action_steps(rng, segments, actor, steps)
        self._head_targets(segments, actor, t, targets, steps)
        self._gaze_steps(rng, spec.duration_s, gazing, steps)
        self._speech_targets(rng, t, segments, actor, targets)
        if steps:
            starts, ramps, changes = zip(*steps, strict=True)
            targets += step_matrix(t, np.asarray(starts), np.asarray(ramps)) @ np.stack(changes)
        # Co-activation, the actor's gains and its left/right difference in one product.
        gains = actor.gains.copy()
        gains[LEFT] *= 1.0 + actor.asymmetry
        gains[RIGHT] *= 1.0 - actor.asymmetry
        mixing = (np.eye(N_BLENDSHAPES) + self.config.coupling * muscles.COUPLING_MATRIX) * gains
        targets[:, :N_BLENDSHAPES] = targets[:, :N_BLENDSHAPES] @ mixing
        params = self._follow(rng, t, fps, actor, targets)
        params[:, :N_BLENDSHAPES] = smooth_soft_clip(params[:, :N_BLENDSHAPES])
        self._blinks(rng, t, spec.duration_s, actor, closing, params)
        enforce_plausibility(params, fps)
        eye_look_from_rotations(params)  # after the eyes are final, so the two always agree
        meta = sequence_meta(self.name, spec, _allows_asymmetry(spec, self.vocabulary))
        return FaceSequence(params.astype(np.float32), "arkit", fps, meta)

    # -- targets -----------------------------------------------------------------------------

    def _expression_steps(
        self,
        rng: np.random.Generator,
        segments: list[Segment],
        actor: _Actor,
        steps: list[tuple[float, float, np.ndarray]],
    ) -> None:
        """Expression targets: a ramp to each segment's recipe after the actor's latency."""
        current = np.zeros(N_CHANNELS)
        aside = 1.0 if rng.random() < 0.5 else -1.0
        for seg in segments:
            recipe = self.vocabulary.expression(seg.emotion)
            vector = recipe.vector * intensity_gain(seg.intensity, self.config.intensity_scale)
            if recipe.gaze_aside:
                vector[_EYE_YAWS] *= aside
            change = vector - current
            if not change.any():
                continue
            ramp = 0.5 * recipe.onset_s * rng.uniform(0.8, 1.2)
            ramp = max(ramp, min_transition_s(change, PLAN_MARGIN))
            steps.append((seg.start_s + actor.latency * rng.uniform(0.7, 1.3), ramp, change))
            current = vector

    def _action_steps(
        self,
        rng: np.random.Generator,
        segments: list[Segment],
        actor: _Actor,
        steps: list[tuple[float, float, np.ndarray]],
    ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """Action targets at random times in their segment; return eye-closing and gaze spans."""
        closing: list[tuple[float, float]] = []
        gazing: list[tuple[float, float]] = []
        for seg in segments:
            if not seg.actions:
                continue
            slot = (seg.end_s - seg.start_s) / len(seg.actions)
            for k, name in enumerate(seg.actions):
                action = self.vocabulary.action(name)
                keys = action.keys(ACTION_RISE, ACTION_FALL)
                changes = [v1 - v0 for (_, v0), (_, v1) in pairwise(keys)]
                fractions = np.diff([f for f, _ in keys])
                need = max(
                    min_transition_s(c, PLAN_MARGIN) / f
                    for c, f in zip(changes, fractions, strict=True)
                )
                length = max(action.duration_s * rng.uniform(0.85, 1.2), need)
                begin = seg.start_s + k * slot + actor.latency
                begin += rng.uniform(0.0, max(slot - length - actor.latency - 0.1, 0.0))
                for (f0, _), f, change in zip(keys[:-1], fractions, changes, strict=True):
                    steps.append((begin + f0 * length, f * length, change))
                span = (begin - 0.4, begin + length + 0.4)
                if action.closes_eyes:
                    closing.append(span)
                if np.any(action.vector[EYE_LEFT]) or action.path is not None:
                    gazing.append(span)
        return closing, gazing

    def _head_targets(
        self,
        segments: list[Segment],
        actor: _Actor,
        t: np.ndarray,
        targets: np.ndarray,
        steps: list[tuple[float, float, np.ndarray]],
    ) -> None:
        """Pose steps and stepped oscillations, amplified for the head spring's lag."""
        pose = np.zeros(N_CHANNELS)
        omega = 2.0 * math.pi * muscles.HEAD_HZ * actor.stiffness
        for seg in segments:
            recipe = self.vocabulary.head_motion(seg.head_motion)
            factor = self.vocabulary.head_speed(seg.head_speed)
            target = np.zeros(N_CHANNELS)
            if recipe is not None and not recipe.oscillating:
                target[_AXIS[recipe.axis]] = math.radians(recipe.amplitude_deg)
            change = target - pose
            if change.any():
                ramp = 0.5 * (recipe.period_s * factor if recipe is not None else 0.7)
                ramp = max(ramp, min_transition_s(change, PLAN_MARGIN))
                steps.append((seg.start_s + actor.latency, ramp, change))
                pose = target
            if recipe is None or not recipe.oscillating:
                continue
            shape = "step_nod" if recipe.axis == "pitch" else "step_swing"
            plan = plan_oscillation(
                (seg.start_s + actor.latency, seg.end_s - 0.15),
                seg.head_count,
                recipe.period_s * factor,
                math.radians(recipe.amplitude_deg),
                shape,
                PLAN_MARGIN * MAX_HEAD_SPEED,
            )
            lag = min(1.0 / spring_gain(omega, actor.head_damping, 1.0 / plan.period_s), 1.4)
            wave = math.copysign(lag, recipe.amplitude_deg) * plan.curve(t)
            targets[:, _AXIS[recipe.axis]] += wave
            if seg.head_motion == "sway":
                targets[:, _YAW] += 0.35 * wave

    def _gaze_steps(
        self,
        rng: np.random.Generator,
        duration_s: float,
        gazing: list[tuple[float, float]],
        steps: list[tuple[float, float, np.ndarray]],
    ) -> None:
        """Fixation targets at Poisson times; the eye spring turns each jump into a saccade."""
        mean = self.config.fixation_mean_s
        n_max = int(duration_s / MIN_FIXATION_S) + 2
        times = np.cumsum(MIN_FIXATION_S + rng.exponential(mean - MIN_FIXATION_S, n_max))
        times -= rng.uniform(0.0, mean)
        sigma = math.radians(self.config.gaze_deg) * np.array([1.0, 0.6])
        limit = np.asarray(GAZE_LIMIT_RAD)
        gaze = np.clip(rng.standard_normal((n_max, 2)) * sigma, -limit, limit)
        keep = times < duration_s
        times = eyes.drop_events_in(times[keep], gazing)
        jumps = np.diff(gaze[: times.size], axis=0, prepend=np.zeros((1, 2)))
        changes = np.zeros((times.size, N_CHANNELS))
        changes[:, _EYE_YAWS] = jumps[:, :1]
        changes[:, _EYE_PITCHES] = jumps[:, 1:]
        steps.extend(zip(times.tolist(), [SACCADE_RAMP_S] * times.size, changes, strict=True))

    def _speech_targets(
        self,
        rng: np.random.Generator,
        t: np.ndarray,
        segments: list[Segment],
        actor: _Actor,
        targets: np.ndarray,
    ) -> None:
        """Speech (a drifting syllable oscillator) or laughter targets per speaking segment."""
        for seg in segments:
            style = speech.speech_style(seg.speaking)  # checks the name
            span = (seg.start_s + actor.latency, seg.end_s - 0.1)
            if seg.speaking == "silent" or span[1] - span[0] < 0.3:
                continue
            if style is None:  # laughing
                mouth, bursts = speech.laughter(rng, t, span)
                targets[:, _PITCH] -= LAUGH_HEAD_BACK_RAD * bursts
            else:
                mouth = speech.oscillator_mouth(
                    rng, t, span, style, actor.syllable_rate, SPEECH_GAIN, SPRING_SYLLABLE_SHARE
                )
            targets[:, :N_BLENDSHAPES] += mouth

    # -- dynamics ----------------------------------------------------------------------------

    def _follow(
        self, rng: np.random.Generator, t: np.ndarray, fps: float, actor: _Actor,
        targets: np.ndarray,
    ) -> np.ndarray:  # fmt: skip
        """Run every channel's spring toward its noisy target; ``(T, D)``.

        The OU noise joins the targets in the frequency domain. Its size per channel grows
        with the channel's mean activation over the clip (an active muscle trembles more).
        """
        n_fft = fft_length(t.size)
        dt = 1.0 / fps
        tau = np.full(_N_NOISE, self.config.noise_tau_s)
        tau[N_MIRROR_GROUPS:] = self.config.head_noise_tau_s
        noise = ou_noise_spectrum(rng, tau, dt, n_fft)
        level = np.abs(targets[:, :N_BLENDSHAPES]).mean(axis=0)
        sigma = np.zeros(N_CHANNELS)
        sigma[:N_BLENDSHAPES] = self.config.noise * actor.noise_scale * (1.0 + 2.0 * level)
        # Gaze blendshapes are derived from the eyes; a random sideways jaw or mouth shift
        # would read as a one-sided expression nobody asked for.
        sigma[_NOISELESS] = 0.0
        sigma[HEAD] = math.radians(self.config.head_noise_deg)
        omega, zeta = muscles.spring_parameters(actor.stiffness, actor.damping, actor.head_damping)
        response = spring_response(omega, zeta, dt, n_fft)
        rest = targets[0]
        added = noise[_NOISE_SOURCE] * sigma[:, None]
        return rest + apply_response(targets - rest, response, n_fft, added)

    def _blinks(
        self,
        rng: np.random.Generator,
        t: np.ndarray,
        duration_s: float,
        actor: _Actor,
        closing: list[tuple[float, float]],
        params: np.ndarray,
    ) -> None:
        """Poisson blinks with a refractory period: a fast close and a slow reopening."""
        times = eyes.poisson_refractory_times(
            rng, duration_s, actor.blink_rate / 60.0, self.config.blink_refractory_s
        )
        times = eyes.drop_events_in(times, closing)
        peak = rng.uniform(*BLINK_PEAK_S, size=times.size)
        blink = eyes.skewed_blink_curve(t, times, peak, rng.uniform(0.95, 1.0, size=times.size))
        base = params[:, _LIDS]
        params[:, _LIDS] = base + (1.0 - base) * blink[:, None]
