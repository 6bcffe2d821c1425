"""The motion-generator interface and the registry that selects generators by name.

A generator turns a :class:`~tdmm_lm.prompts.schema.PromptSpec` into a
:class:`~tdmm_lm.face.sequence.FaceSequence` in the ``arkit`` space. Procedural performers
(``keyframe``, ``dynamics``) compute the motion directly; video-based generators (a puppet
route, external text-to-video adapters) render or fetch a video and track it, and may put a
tracker confidence in ``meta["quality"]``. All of them register in :data:`GENERATORS`, so a
corpus build can mix them by name.

Each generator class names a typed, self-validating config dataclass (``config_class``);
:func:`get_generator` builds one from keyword options and rejects unknown options.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face.sequence import DEFAULT_FPS, FaceSequence
from tdmm_lm.prompts.schema import PromptSpec, Segment
from tdmm_lm.synth.recipes import Vocabulary, default_vocabulary

__all__ = [
    "GENERATORS",
    "MotionGenerator",
    "ProceduralGenerator",
    "frame_times",
    "get_generator",
    "register_generator",
    "sequence_meta",
    "spec_rng",
    "spec_segments",
]


class MotionGenerator(ABC):
    """Turns prompts into facial motion.

    Subclasses set :attr:`name` and :attr:`config_class` and implement :meth:`generate`.
    The output must depend only on the spec (including ``spec.seed``), the frame rate and
    the config, so that a corpus build is reproducible sample by sample.

    Args:
        config: An instance of :attr:`config_class`; its defaults when None.
    """

    #: Registry name, e.g. "keyframe".
    name: ClassVar[str]
    #: The config dataclass of this generator.
    config_class: ClassVar[type[Any]]

    def __init__(self, config: Any | None = None) -> None:
        if config is None:
            config = self.config_class()
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} needs a {self.config_class.__name__}, "
                f"got {type(config).__name__}"
            )
        self.config = config

    @abstractmethod
    def generate(self, spec: PromptSpec, fps: float = DEFAULT_FPS) -> FaceSequence:
        """Perform ``spec``.

        Args:
            spec: The prompt and its labels; ``spec.duration_s`` sets the length and
                ``spec.seed`` the randomness.
            fps: Frame rate of the result.

        Returns:
            An ``arkit`` sequence of ``round(spec.duration_s * fps)`` frames whose ``meta``
            holds at least ``generator``, ``spec_id`` and ``seed``.
        """

    def config_dict(self) -> dict[str, Any]:
        """The resolved config as a JSON-ready dict (for corpus manifests)."""
        return {"generator": self.name, **dataclasses.asdict(self.config)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"


class ProceduralGenerator(MotionGenerator):
    """A generator that performs the lexicon's recipes itself (no video involved).

    Args:
        config: An instance of :attr:`config_class`; its defaults when None.
        vocabulary: The recipes to perform; the lexicon's (loaded on first use) when None.
    """

    def __init__(self, config: Any | None = None, vocabulary: Vocabulary | None = None) -> None:
        super().__init__(config)
        self._vocabulary = vocabulary

    @property
    def vocabulary(self) -> Vocabulary:
        """The recipes in use."""
        if self._vocabulary is None:
            self._vocabulary = default_vocabulary()
        return self._vocabulary


#: Generator name -> class. Filled by :func:`register_generator`; ``tdmm_lm.synth`` registers
#: the built-in performers when it is imported.
GENERATORS: dict[str, type[MotionGenerator]] = {}


def register_generator(cls: type[MotionGenerator]) -> type[MotionGenerator]:
    """Add a generator class to :data:`GENERATORS` under ``cls.name``.

    Usable as a class decorator. Registering the same class twice is harmless.

    Raises:
        TypeError: ``cls`` is not a :class:`MotionGenerator` with a name and config class.
        ValueError: Another class already holds the name.
    """
    if not (isinstance(cls, type) and issubclass(cls, MotionGenerator)):
        raise TypeError(f"{cls!r} is not a MotionGenerator subclass")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__name__} needs a non-empty class attribute 'name'")
    if not dataclasses.is_dataclass(getattr(cls, "config_class", None)):
        raise TypeError(f"{cls.__name__}.config_class must be a dataclass")
    existing = GENERATORS.get(name)
    if existing is not None and existing is not cls:
        raise ValueError(f"generator name {name!r} is taken by {existing.__name__}")
    GENERATORS[name] = cls
    return cls


def get_generator(name: str, **config: Any) -> MotionGenerator:
    """Build the generator called ``name`` with config options.

    Args:
        name: A key of :data:`GENERATORS`.
        **config: Fields of that generator's config dataclass; the rest keep defaults.

    Raises:
        InvalidInputError: Unknown name (the message lists the valid ones), unknown option
            (the message lists the valid options) or an invalid option value.
    """
    cls = GENERATORS.get(name)
    if cls is None:
        raise InvalidInputError(
            f"unknown generator {name!r}; valid generators: {', '.join(sorted(GENERATORS))}"
        )
    fields = {f.name for f in dataclasses.fields(cls.config_class) if f.init}
    unknown = sorted(set(config) - fields)
    if unknown:
        raise InvalidInputError(
            f"generator {name!r} has no option(s) {', '.join(unknown)}; valid options: "
            f"{', '.join(sorted(fields))}"
        )
    try:
        return cls(cls.config_class(**config))
    except ValueError as error:
        raise InvalidInputError(f"generator {name!r}: {error}") from error


def frame_times(duration_s: float, fps: float) -> np.ndarray:
    """Frame times ``i / fps`` of a clip of ``duration_s`` seconds.

    Returns:
        ``(T,)`` float64 with ``T = max(1, round(duration_s * fps))``.

    Raises:
        InvalidInputError: ``duration_s`` or ``fps`` is not a positive number.
    """
    if not (duration_s > 0 and np.isfinite(duration_s)):
        raise InvalidInputError(f"duration_s must be a positive number, got {duration_s!r}")
    if not (fps > 0 and np.isfinite(fps)):
        raise InvalidInputError(f"fps must be a positive number, got {fps!r}")
    return np.arange(max(1, round(duration_s * fps))) / fps


def spec_rng(spec: PromptSpec, salt: int) -> np.random.Generator:
    """The random generator of one (spec, generator) pair.

    ``salt`` is a constant per generator, so two generators given the same spec draw
    different performances while each stays reproducible.
    """
    return np.random.default_rng([int(spec.seed) % 2**63, salt])


def spec_segments(spec: PromptSpec) -> list[Segment]:
    """The spec's segments clipped to ``[0, duration_s]``, in time order, empty ones dropped.

    A spec without segments is read as one segment of its top-level labels.

    Raises:
        InvalidInputError: No segment overlaps the clip.
    """
    duration = float(spec.duration_s)
    labels = spec.labels
    segments = labels.segments or [
        Segment(
            0.0, duration, labels.emotion, labels.emotion_category, labels.intensity,
            labels.head_motion, speaking=labels.speaking, actions=list(labels.actions),
        )
    ]  # fmt: skip
    clipped = []
    for seg in sorted(segments, key=lambda s: s.start_s):
        start, end = max(0.0, float(seg.start_s)), min(duration, float(seg.end_s))
        if end - start > 1e-6:
            clipped.append(dataclasses.replace(seg, start_s=start, end_s=end))
    if not clipped:
        raise InvalidInputError(
            f"spec {spec.id!r}: no segment overlaps the clip [0, {duration:g}] s"
        )
    return clipped


def sequence_meta(generator: str, spec: PromptSpec, allow_asymmetry: bool) -> dict[str, Any]:
    """The ``meta`` every procedural generator writes on its sequences.

    Args:
        generator: Generator name.
        spec: The prompt performed.
        allow_asymmetry: Whether the prompt asked for a one-sided face (read by
            :func:`~tdmm_lm.synth.plausibility.check_plausibility`).
    """
    return {
        "generator": generator,
        "spec_id": spec.id,
        "seed": int(spec.seed),
        "prompt": spec.prompt,
        "allow_asymmetry": bool(allow_asymmetry),
    }


def check_interval(name: str, value: tuple[float, float], low: float, high: float) -> None:
    """Raise ``ValueError`` unless ``value`` is a pair ``a <= b`` inside ``[low, high]``."""
    if len(value) != 2 or not (low <= value[0] <= value[1] <= high):
        raise ValueError(
            f"{name} must be (low, high) with {low} <= low <= high <= {high}, got {value}"
        )


def check_fraction(name: str, value: float, low: float, high: float) -> None:
    """Raise ``ValueError`` unless ``low <= value <= high``."""
    if not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value}")
