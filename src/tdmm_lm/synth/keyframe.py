"""Generator (a), ``keyframe``: a performer that animates by eased keyframes.

Every layer is a sum of eased steps or pulses evaluated on the whole time grid at once:

* expressions: each segment's recipe (scaled by its intensity) eases in, holds with a slow
  drift, and cross-fades into the next segment's;
* micro-actions: one pulse (or keyframe path) placed inside their segment;
* speech: a syllable bump every ~0.2 s with random visemes; laughter as rhythmic bursts;
* blinks from a gamma renewal process (10–25 per minute), gaze saccades between fixations;
* head: held poses eased in, oscillations with exactly the asked number of cycles, and a
  small idle drift;
* a per-identity left/right gain difference of a few percent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from tdmm_lm.face.sequence import DEFAULT_FPS, FaceSequence
from tdmm_lm.prompts.schema import PromptSpec, Segment
from tdmm_lm.synth import eyes, speech
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
    HEAD,
    IDX,
    LEFT,
    MIRROR_GROUP,
    N_BLENDSHAPES,
    N_CHANNELS,
    N_MIRROR_GROUPS,
    RIGHT,
    eye_look_from_rotations,
)
from tdmm_lm.synth.curves import plan_oscillation, smooth_noise, smooth_soft_clip, step_matrix
from tdmm_lm.synth.plausibility import (
    MAX_EYE_SPEED,
    MAX_HEAD_SPEED,
    enforce_plausibility,
    min_transition_s,
)
from tdmm_lm.synth.recipes import (
    check_intensity_scale,
    intensity_gain,
    spec_allows_asymmetry,
)

__all__ = ["KeyframeConfig", "KeyframeGenerator"]

#: Mixed into the spec seed so this generator's randomness differs from the others'.
KEYFRAME_SALT = 0x6B_6579  # "key"
#: Fraction of each physical limit one planned transition may use (layers add up).
PLAN_MARGIN = 0.45
#: Blink phases in seconds (close, closed, open) before per-blink jitter: an eased,
#: nearly symmetric keyframe blink (the dynamics performer's blinks are skewed instead).
BLINK_PHASES_S = (0.09, 0.03, 0.11)
#: Gamma shape of inter-blink intervals: > 1 makes blinking more regular than Poisson.
BLINK_REGULARITY = 3.0
#: Shortest gap between spontaneous blinks.
MIN_BLINK_GAP_S = 0.6
#: Fractions of an action's duration spent rising to and falling from its apex.
ACTION_RISE, ACTION_FALL = 0.3, 0.35
#: Spontaneous blinks keep this far from an action that closes the eyes (a wink).
BLINK_CLEARANCE_S = 0.4
#: How far the head tips back (pitch -) at the height of a laugh burst.
LAUGH_HEAD_BACK_RAD = math.radians(3.0)
#: The eyes counter-roll by this fraction of the head roll (ocular counter-roll reflex).
OCULAR_COUNTER_ROLL = 0.1
#: Half the angle between the two eyes' yaw (they converge slightly on a near target).
VERGENCE_RAD = math.radians(0.6)
#: Time a head pose takes to return to rest when the next segment drops it.
POSE_RELEASE_S = 0.7
#: Frequency range of the apex drift and of the idle head drift (Hz).
DRIFT_HZ = (0.15, 0.6)
IDLE_HEAD_HZ = (0.05, 0.35)
_YAW, _PITCH, _ROLL = HEAD.start, HEAD.start + 1, HEAD.start + 2
_EYE_YAWS = [EYE_LEFT.start, EYE_RIGHT.start]
_EYE_PITCHES = [EYE_LEFT.start + 1, EYE_RIGHT.start + 1]
_EYE_ROLLS = [EYE_LEFT.start + 2, EYE_RIGHT.start + 2]
_LIDS = [IDX["eyeBlinkLeft"], IDX["eyeBlinkRight"]]
_AXIS = {"yaw": _YAW, "pitch": _PITCH, "roll": _ROLL}


@dataclass(frozen=True)
class KeyframeConfig:
    """Options of the keyframe performer; per-identity values are drawn from the ranges.

    Attributes:
        blink_rate_per_min: Range of spontaneous blink rates.
        fixation_s: Range of gaze fixation durations between saccades.
        saccade_deg: Standard deviation of gaze targets (yaw; pitch uses 60 %).
        syllable_rate_hz: Range of speaking rates.
        apex_drift: Relative size of the slow wandering of a held expression.
        idle_head_deg: Standard deviation of the idle head drift.
        asymmetry: Largest left/right gain difference of an identity (0.03 = ±3 %).
        segment_blend_s: Shortest cross-fade between two segments' expressions.
        reaction_s: Range of delays between a segment boundary and the face's response.
        intensity_scale: How intensity levels scale an expression (a key of
            :data:`~tdmm_lm.prompts.schema.INTENSITY_SCALES`).
    """

    blink_rate_per_min: tuple[float, float] = (12.0, 22.0)
    fixation_s: tuple[float, float] = (0.5, 2.0)
    saccade_deg: float = 5.0
    syllable_rate_hz: tuple[float, float] = (4.0, 5.0)
    apex_drift: float = 0.06
    idle_head_deg: float = 1.0
    asymmetry: float = 0.03
    segment_blend_s: float = 0.4
    reaction_s: tuple[float, float] = (0.05, 0.25)
    intensity_scale: str = "linear"

    def __post_init__(self) -> None:
        check_intensity_scale(self.intensity_scale)
        check_interval("blink_rate_per_min", self.blink_rate_per_min, 1.0, 60.0)
        check_interval("fixation_s", self.fixation_s, 0.1, 10.0)
        check_fraction("saccade_deg", self.saccade_deg, 0.0, 12.0)
        check_interval("syllable_rate_hz", self.syllable_rate_hz, 1.0, 8.0)
        check_fraction("apex_drift", self.apex_drift, 0.0, 0.3)
        check_fraction("idle_head_deg", self.idle_head_deg, 0.0, 5.0)
        check_fraction("asymmetry", self.asymmetry, 0.0, 0.06)
        check_fraction("segment_blend_s", self.segment_blend_s, 0.05, 2.0)
        check_interval("reaction_s", self.reaction_s, 0.0, 1.0)


@dataclass(frozen=True)
class _Identity:
    """The per-seed traits of one performer."""

    asymmetry: float  # left gain 1 + a, right gain 1 - a
    blink_rate: float  # per minute
    syllable_rate: float  # Hz
    reaction: float  # seconds
    tempo: float  # head-motion period factor
    gaze_centre: np.ndarray  # (2,) yaw, pitch offset of the resting gaze
    aside: float  # +1 / -1: the side this performer looks to when looking aside

    @classmethod
    def draw(cls, rng: np.random.Generator, config: KeyframeConfig) -> _Identity:
        return cls(
            asymmetry=rng.uniform(-config.asymmetry, config.asymmetry),
            blink_rate=rng.uniform(*config.blink_rate_per_min),
            syllable_rate=rng.uniform(*config.syllable_rate_hz),
            reaction=rng.uniform(*config.reaction_s),
            tempo=rng.uniform(0.9, 1.1),
            gaze_centre=rng.normal(0.0, math.radians(1.5), size=2),
            aside=1.0 if rng.random() < 0.5 else -1.0,
        )


class KeyframeGenerator(ProceduralGenerator):
    """The keyframe performer (generator ``keyframe``).

    Args:
        config: Options; defaults when None.
        vocabulary: Recipes to perform; the lexicon's when None.
    """

    name = "keyframe"
    config_class = KeyframeConfig
    config: KeyframeConfig

    def generate(self, spec: PromptSpec, fps: float = DEFAULT_FPS) -> FaceSequence:
        """Perform ``spec`` (see :meth:`MotionGenerator.generate`).

        Returns:
            ``arkit`` sequence, ``(round(duration_s * fps), 61)`` float32 params.
        """
        t = frame_times(spec.duration_s, fps)
        segments = spec_segments(spec)
        rng = spec_rng(spec, KEYFRAME_SALT)
        me = _Identity.draw(rng, self.config)
        params = self._expressions(rng, t, segments, me)  # (T, D)
        closing = self._actions(rng, t, segments, params)
        self._speech(rng, t, segments, me, params)
        blendshapes = params[:, :N_BLENDSHAPES]
        blendshapes[:, LEFT] *= 1.0 + me.asymmetry
        blendshapes[:, RIGHT] *= 1.0 - me.asymmetry
        blendshapes[:] = smooth_soft_clip(blendshapes)
        self._blinks(rng, t, spec.duration_s, me, closing, params)
        self._gaze(rng, t, me, params)
        self._head(rng, t, segments, me, params)
        enforce_plausibility(params, fps)
        eye_look_from_rotations(params)  # after the eyes are final, so the two always agree
        meta = sequence_meta(self.name, spec, spec_allows_asymmetry(spec, self.vocabulary))
        return FaceSequence(params.astype(np.float32), "arkit", fps, meta)

    # -- layers ------------------------------------------------------------------------------

    def _expressions(
        self, rng: np.random.Generator, t: np.ndarray, segments: list[Segment], me: _Identity
    ) -> np.ndarray:
        """Expression keyframes: ease in, drift at the apex, cross-fade between segments."""
        runs: list[tuple[float, float, np.ndarray, float, float, tuple[str, str]]] = []
        for seg in segments:
            recipe = self.vocabulary.expression(seg.emotion)
            key = (seg.emotion, seg.intensity)
            if runs and runs[-1][5] == key:  # the same expression goes on: no cross-fade
                runs[-1] = (runs[-1][0], seg.end_s, *runs[-1][2:])
                continue
            vector = recipe.vector * intensity_gain(seg.intensity, self.config.intensity_scale)
            if recipe.gaze_aside:
                vector[_EYE_YAWS] *= me.aside
            runs.append((seg.start_s, seg.end_s, vector, recipe.onset_s, recipe.offset_s, key))
        n = len(runs)
        vectors = np.stack([r[2] for r in runs])  # (S, D)
        rise_at, rise_s = np.empty(n), np.empty(n)
        fall_at, fall_s = np.full(n, 1e9), np.ones(n)  # the last expression holds to the end
        jitter = rng.uniform(0.85, 1.15, size=n)
        first_start = runs[0][0] + me.reaction
        rise_at[0] = first_start
        rise_s[0] = max(runs[0][3] * jitter[0], min_transition_s(vectors[0], PLAN_MARGIN))
        for i in range(n - 1):
            boundary = runs[i][1]
            shortest = min(runs[i][1] - runs[i][0], runs[i + 1][1] - runs[i + 1][0])
            wanted = max(self.config.segment_blend_s, 0.5 * (runs[i][4] + runs[i + 1][3]))
            duration = max(
                min(wanted * jitter[i + 1], 0.8 * shortest),
                min_transition_s(vectors[i + 1] - vectors[i], PLAN_MARGIN),
            )
            start = max(boundary - 0.5 * duration + me.reaction, rise_at[i] + 0.05)
            fall_at[i], fall_s[i] = start, duration
            rise_at[i + 1], rise_s[i + 1] = start, duration
            # A rise that would still run when the fall begins is shortened (not below the
            # physical minimum), so an expression never fades before it has arrived.
            rise_s[i] = max(min(rise_s[i], start - rise_at[i]), min_transition_s(vectors[i], 1.0))
        envelope = step_matrix(t, rise_at, rise_s) - step_matrix(t, fall_at, fall_s)  # (T, S)
        params = np.maximum(envelope, 0.0) @ vectors  # (T, D)
        drift = smooth_noise(rng, t, N_MIRROR_GROUPS, DRIFT_HZ)[:, MIRROR_GROUP]  # (T, 52)
        params[:, :N_BLENDSHAPES] *= 1.0 + self.config.apex_drift * drift
        return params

    def _actions(
        self, rng: np.random.Generator, t: np.ndarray, segments: list[Segment], params: np.ndarray
    ) -> list[tuple[float, float]]:
        """Add micro-actions, each in its own slot of its segment; return eye-closing spans."""
        starts: list[float] = []
        durations: list[float] = []
        deltas: list[np.ndarray] = []
        closing: list[tuple[float, float]] = []
        for seg in segments:
            if not seg.actions:
                continue
            slot = (seg.end_s - seg.start_s) / len(seg.actions)
            for k, name in enumerate(seg.actions):
                action = self.vocabulary.action(name)
                keys = action.keys(ACTION_RISE, ACTION_FALL)  # [(fraction, (D,) value)]
                legs = [
                    min_transition_s(v1 - v0, PLAN_MARGIN) / max(f1 - f0, 1e-3)
                    for (f0, v0), (f1, v1) in pairwise(keys)
                ]
                length = max(action.duration_s * rng.uniform(0.9, 1.1), *legs)
                free = max(slot - length - 0.15, 0.0)
                begin = seg.start_s + k * slot + 0.1 + rng.uniform(0.0, free)
                for (f0, v0), (f1, v1) in pairwise(keys):
                    starts.append(begin + f0 * length)
                    durations.append((f1 - f0) * length)
                    deltas.append(v1 - v0)
                if action.closes_eyes:
                    closing.append((begin - BLINK_CLEARANCE_S, begin + length + BLINK_CLEARANCE_S))
        if starts:
            steps = step_matrix(t, np.asarray(starts), np.asarray(durations))  # (T, K)
            params += steps @ np.stack(deltas)
        return closing

    def _speech(
        self,
        rng: np.random.Generator,
        t: np.ndarray,
        segments: list[Segment],
        me: _Identity,
        params: np.ndarray,
    ) -> None:
        """Add speech-like mouth activity, or laughter, in the segments that speak."""
        for seg in segments:
            style = speech.speech_style(seg.speaking)  # checks the name
            span = (seg.start_s + 0.1, seg.end_s - 0.05)
            if seg.speaking == "silent" or span[1] - span[0] < 0.3:
                continue
            if style is None:  # laughing
                mouth, bursts = speech.laughter(rng, t, span)
                params[:, _PITCH] -= LAUGH_HEAD_BACK_RAD * bursts
            else:
                mouth = speech.syllable_mouth(rng, t, span, style, me.syllable_rate)
            params[:, :N_BLENDSHAPES] += mouth

    def _blinks(
        self,
        rng: np.random.Generator,
        t: np.ndarray,
        duration_s: float,
        me: _Identity,
        closing: list[tuple[float, float]],
        params: np.ndarray,
    ) -> None:
        """Spontaneous blinks of both eyes on top of the lids' expression closure."""
        times = eyes.gamma_renewal_times(
            rng, duration_s, 60.0 / me.blink_rate, BLINK_REGULARITY, MIN_BLINK_GAP_S
        )
        times = eyes.drop_events_in(times, closing)
        k = times.size
        close_s, hold_s, open_s = BLINK_PHASES_S
        blink = eyes.blink_curve(
            t,
            times,
            close_s * rng.uniform(1.0, 1.2, k),
            np.full(k, hold_s),
            open_s * rng.uniform(1.0, 1.25, k),
            rng.uniform(0.9, 1.0, k),
        )
        base = params[:, _LIDS]
        params[:, _LIDS] = base + (1.0 - base) * blink[:, None]

    def _gaze(
        self, rng: np.random.Generator, t: np.ndarray, me: _Identity, params: np.ndarray
    ) -> None:
        """Saccades between fixations, around the identity's resting gaze."""
        sigma = math.radians(self.config.saccade_deg)
        gaze = eyes.saccade_gaze(
            rng, t, self.config.fixation_s, (sigma, 0.6 * sigma), PLAN_MARGIN * MAX_EYE_SPEED
        )
        gaze += me.gaze_centre
        params[:, _EYE_YAWS] += gaze[:, :1]
        params[:, _EYE_PITCHES] += gaze[:, 1:]
        params[:, EYE_LEFT.start] -= VERGENCE_RAD  # left eye turns toward the nose (-yaw)
        params[:, EYE_RIGHT.start] += VERGENCE_RAD

    def _head(
        self,
        rng: np.random.Generator,
        t: np.ndarray,
        segments: list[Segment],
        me: _Identity,
        params: np.ndarray,
    ) -> None:
        """Held poses, counted oscillations and idle drift of the head."""
        starts: list[float] = []
        durations: list[float] = []
        deltas: list[np.ndarray] = []
        pose = np.zeros(3)
        safe_speed = PLAN_MARGIN * MAX_HEAD_SPEED
        for seg in segments:
            recipe = self.vocabulary.head_motion(seg.head_motion)
            factor = self.vocabulary.head_speed(seg.head_speed) * me.tempo
            target = np.zeros(3)
            if recipe is not None and not recipe.oscillating:
                target[_AXIS[recipe.axis] - HEAD.start] = math.radians(recipe.amplitude_deg)
            if not np.array_equal(target, pose):
                move_s = recipe.period_s * factor if recipe is not None else POSE_RELEASE_S
                delta = np.zeros(N_CHANNELS)
                delta[HEAD] = target - pose
                starts.append(seg.start_s + me.reaction)
                durations.append(max(move_s, min_transition_s(delta, PLAN_MARGIN)))
                deltas.append(target - pose)
                pose = target
            if recipe is not None and recipe.oscillating:
                shape = "nod" if recipe.axis == "pitch" else "swing"
                plan = plan_oscillation(
                    (seg.start_s + me.reaction, seg.end_s - 0.1),
                    seg.head_count,
                    recipe.period_s * factor,
                    math.radians(recipe.amplitude_deg),
                    shape,
                    safe_speed,
                )
                wave = math.copysign(1.0, recipe.amplitude_deg) * plan.curve(t)
                params[:, _AXIS[recipe.axis]] += wave
                if seg.head_motion == "sway":  # a sway rolls and turns a little together
                    params[:, _YAW] += 0.35 * wave
        if starts:
            steps = step_matrix(t, np.asarray(starts), np.asarray(durations))
            params[:, HEAD] += steps @ np.stack(deltas)
        idle = smooth_noise(rng, t, 3, IDLE_HEAD_HZ)
        params[:, HEAD] += math.radians(self.config.idle_head_deg) * idle
        params[:, _EYE_ROLLS] = -OCULAR_COUNTER_ROLL * params[:, _ROLL : _ROLL + 1]
