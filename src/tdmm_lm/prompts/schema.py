"""The structured form of a prompt: what the prompt suite produces and generators consume.

A :class:`PromptSpec` is one corpus sample before generation: its text, its paraphrases and
its labels. :class:`Labels` is exactly the ``labels`` struct column of the corpus (SPEC §6).
The recipe classes say how a word of the suite drives the ARKit channels; the prompt suite
owns the vocabulary of recipes, the generators own how a recipe becomes motion.

All names of levels, head motions, speaking styles and actions are plain strings from the
tuples below, so that they go into Parquet, JSON and captions unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "HEAD_MOTIONS",
    "INTENSITY_GAIN",
    "INTENSITY_LEVELS",
    "INTENSITY_SCALES",
    "SPEAKING_STYLES",
    "ActionRecipe",
    "ExpressionRecipe",
    "HeadMotionRecipe",
    "Labels",
    "PromptSpec",
    "Segment",
]

#: Intensity levels, weakest first. A higher level always means a larger expression.
INTENSITY_LEVELS: tuple[str, ...] = ("subtle", "mild", "moderate", "strong", "extreme")
#: Gain applied to an expression recipe's apex weights at each level (strictly increasing).
INTENSITY_GAIN: dict[str, float] = {
    "subtle": 0.25,
    "mild": 0.45,
    "moderate": 0.65,
    "strong": 0.85,
    "extreme": 1.0,
}
#: Named gain scales a corpus can be built with (``BuildConfig.intensity_scale``).
#: ``linear`` (:data:`INTENSITY_GAIN`, the release corpus's) steps by 0.2, so its top levels
#: differ by a sixth (0.85 against 1.0) while an actor's own gain varies by about an eighth:
#: strong and extreme overlap. ``geometric`` spans the same range in equal ratios (√2 per
#: level), the spacing that a multiplicative spread of actors leaves equally separable.
INTENSITY_SCALES: dict[str, dict[str, float]] = {
    "linear": INTENSITY_GAIN,
    "geometric": {
        level: round(0.25 * 2.0 ** (k / 2), 3) for k, level in enumerate(INTENSITY_LEVELS)
    },
}
HEAD_MOTIONS: tuple[str, ...] = (
    "still", "nod", "shake", "tilt_left", "tilt_right", "turn_left", "turn_right",
    "look_up", "look_down", "sway", "bob",
)  # fmt: skip
SPEAKING_STYLES: tuple[str, ...] = ("silent", "speaking", "whispering", "shouting", "laughing")
HEAD_SPEEDS: tuple[str, ...] = ("slow", "normal", "fast")


@dataclass(frozen=True)
class ExpressionRecipe:
    """How one emotion or expression word drives the face.

    Attributes:
        word: The word as it appears in prompts ("delighted").
        category: Its emotion category ("happiness"); categories are balanced in sampling.
        channels: ARKit channel -> apex value at full (``extreme``) intensity: blendshape
            weights in [0, 1]; a few expressions also carry a head posture (``headRoll``,
            ``headYaw``, ``headPitch``) in radians, at most 0.2. Left/right pairs are listed
            separately; asymmetric expressions (a smirk) list one side only or with a lower
            weight.
        onset_s: Typical time to reach the apex.
        offset_s: Typical time to relax.
        head_pitch_deg: A posture the expression brings (sadness looks down: +), optional.
        gaze: Optional habitual gaze ("down", "up", "aside") or "" for none.
    """

    word: str
    category: str
    channels: dict[str, float]
    onset_s: float = 0.4
    offset_s: float = 0.5
    head_pitch_deg: float = 0.0
    gaze: str = ""


@dataclass(frozen=True)
class ActionRecipe:
    """A micro-action (blink, wink, lip bite, …): a short channel pulse or gaze move.

    Attributes:
        name: Action id used in labels ("wink_left").
        channels: ARKit channel -> apex weight (may include eye rotation channels, radians).
        duration_s: Length of one occurrence.
        phrase: How captions say it ("winks with the left eye").
    """

    name: str
    channels: dict[str, float]
    duration_s: float
    phrase: str


@dataclass(frozen=True)
class HeadMotionRecipe:
    """A head movement: oscillating (nod, shake, sway, bob) or a held pose (turn, tilt, look).

    Attributes:
        name: One of :data:`HEAD_MOTIONS`.
        axis: "yaw", "pitch" or "roll" (bob moves pitch in small fast cycles).
        amplitude_deg: Peak angle.
        period_s: Duration of one cycle (oscillating) or of the move into the pose (held).
        oscillating: True for nod/shake/sway/bob, False for turn/tilt/look.
    """

    name: str
    axis: str
    amplitude_deg: float
    period_s: float
    oscillating: bool


@dataclass
class Segment:
    """One timed sub-event of a prompt ("starts neutral" / "then smiles strongly").

    Attributes:
        start_s, end_s: Time span within the clip.
        emotion: Expression word, or "neutral".
        emotion_category: Category of that word.
        intensity: One of :data:`INTENSITY_LEVELS`.
        head_motion: One of :data:`HEAD_MOTIONS`.
        head_count: Number of cycles for oscillating motions (0 = as many as fit).
        head_speed: One of :data:`HEAD_SPEEDS`.
        speaking: One of :data:`SPEAKING_STYLES`.
        actions: Micro-action ids within the segment.
    """

    start_s: float
    end_s: float
    emotion: str
    emotion_category: str
    intensity: str
    head_motion: str = "still"
    head_count: int = 0
    head_speed: str = "normal"
    speaking: str = "silent"
    actions: list[str] = field(default_factory=list)


@dataclass
class Labels:
    """The ``labels`` column of the corpus.

    Top-level fields describe the primary segment (the longest non-neutral one), or the
    merged content where that is clearer (``actions`` lists every action of the clip).
    """

    emotion: str
    emotion_category: str
    intensity: str
    head_motion: str
    speaking: str
    actions: list[str]
    segments: list[Segment]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (segments included) for Parquet and JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Labels:
        """Inverse of :meth:`to_dict`."""
        segments = [Segment(**s) for s in d["segments"]]
        return cls(**{**d, "segments": segments})


@dataclass
class PromptSpec:
    """One sample to generate.

    Attributes:
        id: Stable id ("p000123").
        prompt: The text that drives generation.
        captions: At least four paraphrases of the same content (not including ``prompt``).
        labels: Structured content.
        duration_s: Clip length, 2–8 s (the sum of the segment spans).
        held_out_phrasing: True when prompt and captions use wordings reserved for the
            ``test_unseen_phrasing`` split.
        seed: Seed for the generator, so each sample is reproducible on its own.
    """

    id: str
    prompt: str
    captions: list[str]
    labels: Labels
    duration_s: float
    held_out_phrasing: bool = False
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, the JSONL line of ``tdmm data prompts``."""
        return {**asdict(self), "labels": self.labels.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PromptSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**d, "labels": Labels.from_dict(d["labels"])})
