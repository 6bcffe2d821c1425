"""Motion generators: turn prompts into facial motion for the corpus.

Generators are selected by name from :data:`GENERATORS` (see :func:`get_generator`) and
mixed within a corpus build, so that the corpus carries no single generator's fingerprint.
The built-in procedural performers are ``keyframe`` (eased keyframes) and ``dynamics``
(damped second-order dynamics with noise); both pass :func:`check_plausibility`. The
video-based ``puppet`` (photo-style rendering, filmed and tracked back) and ``t2v`` (an
external text-to-video command, tracked) route motion through video and the tracker.
"""

from __future__ import annotations

from tdmm_lm.synth.base import GENERATORS, MotionGenerator, get_generator, register_generator
from tdmm_lm.synth.dynamics import DynamicsConfig, DynamicsGenerator
from tdmm_lm.synth.keyframe import KeyframeConfig, KeyframeGenerator
from tdmm_lm.synth.plausibility import check_plausibility, enforce_plausibility
from tdmm_lm.synth.recipes import Vocabulary
from tdmm_lm.synth.stats import style_statistics
from tdmm_lm.synth.video import (
    CommandVideoGenerator,
    GenerationError,
    PuppetConfig,
    PuppetGenerator,
    T2VConfig,
    T2VGenerator,
    VideoGenerator,
)

__all__ = [
    "GENERATORS",
    "CommandVideoGenerator",
    "DynamicsConfig",
    "DynamicsGenerator",
    "GenerationError",
    "KeyframeConfig",
    "KeyframeGenerator",
    "MotionGenerator",
    "PuppetConfig",
    "PuppetGenerator",
    "T2VConfig",
    "T2VGenerator",
    "VideoGenerator",
    "Vocabulary",
    "check_plausibility",
    "enforce_plausibility",
    "get_generator",
    "register_generator",
    "style_statistics",
]

register_generator(KeyframeGenerator)
register_generator(DynamicsGenerator)
register_generator(PuppetGenerator)
register_generator(T2VGenerator)
