"""Speech-like mouth activity and laughter.

Two speech models share one viseme table: :func:`syllable_mouth` lays one raised-cosine
bump per syllable (the keyframe performer); :func:`oscillator_mouth` runs a syllable
oscillator whose rate drifts, gated into phrases (targets for the dynamics performer).
Syllables are capped by :func:`cap_syllables` so that loud, short ones stay smooth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.synth.channels import IDX, N_BLENDSHAPES
from tdmm_lm.synth.curves import bump_matrix, pulse_matrix, smooth_noise
from tdmm_lm.synth.plausibility import MAX_BLENDSHAPE_ACCEL, MAX_BLENDSHAPE_SPEED

__all__ = [
    "SPEECH_STYLES",
    "VISEMES",
    "SpeechStyle",
    "cap_syllables",
    "laughter",
    "oscillator_mouth",
    "phrase_gate",
    "speech_style",
    "syllable_mouth",
    "viseme_weights",
]

#: Share of the blendshape speed and acceleration limits one syllable may use: the
#: expression underneath moves too.
SYLLABLE_LIMIT_SHARE = 0.5


def _weights(channels: dict[str, float]) -> np.ndarray:
    """``(52,)`` blendshape vector from names; ``Left``/``Right`` expand from a bare stem."""
    vector = np.zeros(N_BLENDSHAPES)
    for name, weight in channels.items():
        names = [name] if name in IDX else [name + "Left", name + "Right"]
        for full in names:
            vector[IDX[full]] = weight
    return vector


#: Mouth shapes of one syllable at ordinary speaking loudness, by rough phoneme class.
VISEME_NAMES: tuple[str, ...] = ("open", "round", "closed", "labiodental", "spread")
VISEMES: np.ndarray = np.stack(
    [
        _weights({"jawOpen": 0.32, "mouthLowerDown": 0.12, "mouthUpperUp": 0.04}),  # a
        _weights({"jawOpen": 0.18, "mouthFunnel": 0.35, "mouthPucker": 0.3}),  # o, u, w
        _weights({"jawOpen": 0.06, "mouthClose": 0.25, "mouthPress": 0.2}),  # m, b, p
        _weights({"jawOpen": 0.1, "mouthRollLower": 0.4, "mouthUpperUp": 0.08}),  # f, v
        _weights({"jawOpen": 0.2, "mouthStretch": 0.18, "mouthDimple": 0.08}),  # e, i
    ]
)  # (5, 52)


@dataclass(frozen=True)
class SpeechStyle:
    """How a speaking style changes the syllables.

    Attributes:
        scale: ``(52,)`` multiplier on the viseme weights (louder = larger jaw).
        rate_scale: Multiplier on the syllable rate.
        viseme_probs: Probability of each of :data:`VISEME_NAMES` per syllable.
        held: ``(52,)`` weights held over the whole utterance (raised brows when shouting).
    """

    scale: np.ndarray
    rate_scale: float
    viseme_probs: tuple[float, ...]
    held: np.ndarray


def _scale(overall: float, channels: dict[str, float]) -> np.ndarray:
    vector = np.full(N_BLENDSHAPES, overall)
    for name, weight in channels.items():
        vector[_weights({name: 1.0}) > 0] = weight
    return vector


#: Speaking styles (laughing has its own model, :func:`laughter`).
SPEECH_STYLES: dict[str, SpeechStyle] = {
    "speaking": SpeechStyle(
        scale=_scale(1.0, {}),
        rate_scale=1.0,
        viseme_probs=(0.35, 0.2, 0.15, 0.1, 0.2),
        held=np.zeros(N_BLENDSHAPES),
    ),
    # Whispered speech barely opens the jaw and leans on the lips.
    "whispering": SpeechStyle(
        scale=_scale(0.45, {"mouthFunnel": 1.1, "mouthPucker": 1.3, "mouthRollLower": 0.9}),
        rate_scale=0.9,
        viseme_probs=(0.2, 0.4, 0.15, 0.1, 0.15),
        held=_weights({"mouthPucker": 0.08}),
    ),
    # Shouting opens wide, stretches the lips and lifts the brows, at a slower rate.
    "shouting": SpeechStyle(
        scale=_scale(1.75, {"mouthStretch": 2.2, "mouthUpperUp": 2.5, "mouthPucker": 1.0}),
        rate_scale=0.85,
        viseme_probs=(0.5, 0.15, 0.1, 0.05, 0.2),
        held=_weights({"browInnerUp": 0.25, "browOuterUp": 0.2, "eyeWide": 0.12}),
    ),
}

#: Chance that a syllable is followed by a phrase pause, and the pause length range (s).
_PAUSE_PROB = 0.1
_PAUSE_S = (0.15, 0.45)


def viseme_weights(
    rng: np.random.Generator, n: int, style: SpeechStyle, emphasis: tuple[float, float]
) -> np.ndarray:
    """Random syllable mouth shapes: ``(n, 52)`` weights for ``n`` syllables.

    Args:
        rng: Random generator.
        n: Number of syllables.
        style: The speaking style.
        emphasis: ``(low, high)`` range of the per-syllable loudness factor.
    """
    classes = rng.choice(len(VISEMES), size=n, p=np.asarray(style.viseme_probs))
    loudness = rng.uniform(emphasis[0], emphasis[1], size=n)
    return VISEMES[classes] * style.scale[None, :] * loudness[:, None]


def cap_syllables(
    weights: np.ndarray, widths: np.ndarray, share: float = SYLLABLE_LIMIT_SHARE
) -> np.ndarray:
    """Scale down syllables too large for their length to stay smooth.

    A raised-cosine bump of height ``A`` and width ``w`` peaks at speed ``π A / w`` and
    acceleration ``2 π² A / w²``; both must stay within ``share`` of the limits. Short,
    loud (shouted) syllables are the ones this touches.

    Args:
        weights: ``(K, 52)`` syllable weights.
        widths: ``(K,)`` syllable durations in seconds.
        share: Fraction of the limits a syllable may use.

    Returns:
        ``(K, 52)`` weights, rows scaled by at most 1.
    """
    height = np.maximum(weights.max(axis=1), 1e-9)
    speed_cap = share * MAX_BLENDSHAPE_SPEED * widths / np.pi
    accel_cap = share * MAX_BLENDSHAPE_ACCEL * widths**2 / (2.0 * np.pi**2)
    scale = np.minimum(1.0, np.minimum(speed_cap, accel_cap) / height)
    return weights * scale[:, None]


def syllable_mouth(
    rng: np.random.Generator,
    t: np.ndarray,
    span: tuple[float, float],
    style: SpeechStyle,
    rate_hz: float,
) -> np.ndarray:
    """Speech-like mouth activity: one raised-cosine bump per syllable.

    Syllables follow each other at ``rate_hz`` (±25 % jitter) with occasional phrase
    pauses; each takes a random viseme and loudness.

    Args:
        rng: Random generator.
        t: ``(T,)`` times in seconds.
        span: ``(start, end)`` of the utterance; no syllable leaves it.
        style: The speaking style.
        rate_hz: Mean syllable rate before the style's scaling.

    Returns:
        ``(T, 52)`` blendshape weights to add.
    """
    start, end = span
    rate = rate_hz * style.rate_scale
    n_max = int((end - start) * rate * 1.4) + 2
    intervals = rng.uniform(0.75, 1.25, size=n_max) / rate
    pauses = np.where(rng.random(n_max) < _PAUSE_PROB, rng.uniform(*_PAUSE_S, size=n_max), 0.0)
    starts = start + np.concatenate([[0.0], np.cumsum(intervals + pauses)[:-1]])
    widths = intervals * rng.uniform(1.0, 1.15, size=n_max)  # neighbours overlap a little
    keep = starts + widths <= end
    bumps = bump_matrix(t, starts[keep], widths[keep])  # (T, K)
    weights = viseme_weights(rng, n_max, style, (0.6, 1.0))[keep]  # (K, 52)
    weights = cap_syllables(weights, widths[keep])
    held_env = pulse_matrix(
        t, np.array([start]), np.array([0.3]), np.array([max(end - start - 0.6, 0.0)]),
        np.array([0.3]),
    )[:, 0]  # fmt: skip
    return bumps @ weights + held_env[:, None] * style.held[None, :]


#: Weights of one "ha" of a laugh and the smile held through a laugh.
_LAUGH_PULSE = _weights({"jawOpen": 0.3, "mouthLowerDown": 0.1, "eyeSquint": 0.08})
_LAUGH_HELD = _weights({"mouthSmile": 0.55, "cheekSquint": 0.45, "eyeSquint": 0.3})
_LAUGH_RATE_HZ = (4.5, 5.5)
_LAUGH_PULSES = (3, 7)  # "ha"s per burst
_LAUGH_GAP_S = (0.25, 0.7)


def laughter(
    rng: np.random.Generator, t: np.ndarray, span: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Laughing: bursts of rhythmic jaw pulses over a held smile with squinting eyes.

    Args:
        rng: Random generator.
        t: ``(T,)`` times in seconds.
        span: ``(start, end)`` of the laugh.

    Returns:
        ``(T, 52)`` blendshape weights to add, and ``(T,)`` burst envelope in [0, 1]
        (callers tip the head back with it).
    """
    start, end = span
    n_max = int((end - start) / 0.6) + 2  # enough bursts of >= 3 "ha"s and a gap
    rates = rng.uniform(*_LAUGH_RATE_HZ, size=n_max)
    counts = rng.integers(_LAUGH_PULSES[0], _LAUGH_PULSES[1] + 1, size=n_max)
    lengths = counts / rates
    gaps = rng.uniform(*_LAUGH_GAP_S, size=n_max)
    burst_starts = start + 0.1 + np.concatenate([[0.0], np.cumsum(lengths + gaps)[:-1]])
    keep = burst_starts + lengths <= end - 0.05
    burst_starts, rates, counts, lengths = (
        burst_starts[keep], rates[keep], counts[keep], lengths[keep],
    )  # fmt: skip
    index = np.repeat(np.arange(len(counts)), counts)  # burst of each pulse
    within = np.arange(index.size) - np.repeat(np.cumsum(counts) - counts, counts)
    pulse_starts = burst_starts[index] + within / rates[index]
    pulses = bump_matrix(t, pulse_starts, 1.0 / rates[index])  # (T, P)
    loudness = rng.uniform(0.7, 1.1, size=index.size)
    bursts = pulse_matrix(t, burst_starts, lengths * 0.3, lengths * 0.4, lengths * 0.3).sum(1)
    held = pulse_matrix(
        t, np.array([start]), np.array([0.35]), np.array([max(end - start - 0.7, 0.0)]),
        np.array([0.35]),
    )[:, 0]  # fmt: skip
    widths = 1.0 / rates[index]
    heights = cap_syllables(loudness[:, None] * _LAUGH_PULSE[None, :], widths)  # (P, 52)
    mouth = pulses @ heights
    mouth += (held * (0.75 + 0.25 * bursts))[:, None] * _LAUGH_HELD[None, :]
    return mouth, bursts


def speech_style(name: str) -> SpeechStyle | None:
    """The style called ``name``; None for "silent" and "laughing" (no syllables).

    Raises:
        InvalidInputError: Unknown style.
    """
    if name in ("silent", "laughing"):
        return None
    try:
        return SPEECH_STYLES[name]
    except KeyError:
        raise InvalidInputError(
            f"unknown speaking style {name!r}; valid: silent, laughing, {', '.join(SPEECH_STYLES)}"
        ) from None


def phrase_gate(rng: np.random.Generator, t: np.ndarray, span: tuple[float, float]) -> np.ndarray:
    """1 while a phrase is voiced, 0 in the pauses between phrases; eased, ``(T,)``.

    Phrases last 0.5 s plus an exponential 1.4 s on average; pauses 0.2–0.5 s.
    """
    start, end = span
    n_max = int((end - start) / 0.7) + 2
    lengths = 0.5 + rng.exponential(1.4, n_max)
    pauses = rng.uniform(0.2, 0.5, n_max)
    starts = start + np.concatenate([[0.0], np.cumsum(lengths + pauses)[:-1]])
    ends = np.minimum(starts + lengths, end)
    keep = starts < end - 0.2
    starts, ends = starts[keep], ends[keep]
    ramp = np.full(starts.size, 0.08)
    holds = np.maximum(ends - starts - 2 * ramp, 0.0)
    return pulse_matrix(t, starts, ramp, holds, ramp).sum(axis=1)


def oscillator_mouth(
    rng: np.random.Generator,
    t: np.ndarray,
    span: tuple[float, float],
    style: SpeechStyle,
    rate_hz: float,
    gain: float,
    share: float,
) -> np.ndarray:
    """Speech as a syllable oscillator: rate drifting ±12 %, one viseme per cycle.

    The phase advances only inside ``span``; each full cycle is a syllable whose mouth
    shape rises and falls with ``(1 - cos φ) / 2`` and is gated into phrases.

    Args:
        rng: Random generator.
        t: ``(T,)`` times in seconds (evenly spaced).
        span: ``(start, end)`` of the utterance.
        style: The speaking style.
        rate_hz: Mean syllable rate before the style's scaling.
        gain: Factor on the viseme weights (a spring that follows them attenuates).
        share: Fraction of the speed/acceleration limits a syllable may use.

    Returns:
        ``(T, 52)`` blendshape targets to add.
    """
    dt = float(t[1] - t[0]) if t.size > 1 else 1.0
    inside = (t >= span[0]) & (t <= span[1])
    rate = rate_hz * style.rate_scale * (1.0 + 0.12 * smooth_noise(rng, t, 1, (0.2, 0.8))[:, 0])
    phase = 2.0 * math.pi * np.cumsum(rate * inside) * dt
    syllable = (phase // (2.0 * math.pi)).astype(np.int64)
    shapes = viseme_weights(rng, int(syllable[-1]) + 1, style, (0.55, 1.05))
    # Capped as if every syllable were the clip's shortest.
    shortest = np.full(len(shapes), 1.0 / float(rate.max()))
    shapes = cap_syllables(gain * shapes, shortest, share)
    gate = phrase_gate(rng, t, span)
    wave = (0.5 - 0.5 * np.cos(phase)) * gate * inside
    return wave[:, None] * shapes[syllable] + gate[:, None] * style.held[None, :]
