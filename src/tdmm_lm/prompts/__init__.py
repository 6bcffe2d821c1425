"""The prompt suite: the vocabulary of facial behaviour, balanced sampling and captions."""

from tdmm_lm.prompts.lexicon import (
    ACTIONS,
    CATEGORIES,
    EXPRESSIONS,
    HEAD_MOTION_RECIPES,
    get_action,
    get_expression,
    get_head_motion,
)
from tdmm_lm.prompts.sampler import sample_prompts
from tdmm_lm.prompts.schema import (
    HEAD_MOTIONS,
    INTENSITY_LEVELS,
    INTENSITY_SCALES,
    Labels,
    PromptSpec,
    Segment,
)
from tdmm_lm.prompts.vocabulary import HELD_OUT_FRAMES, HELD_OUT_WORDS, caption_attribute_lexicon

__all__ = [
    "ACTIONS",
    "CATEGORIES",
    "EXPRESSIONS",
    "HEAD_MOTIONS",
    "HEAD_MOTION_RECIPES",
    "HELD_OUT_FRAMES",
    "HELD_OUT_WORDS",
    "INTENSITY_LEVELS",
    "INTENSITY_SCALES",
    "Labels",
    "PromptSpec",
    "Segment",
    "caption_attribute_lexicon",
    "get_action",
    "get_expression",
    "get_head_motion",
    "sample_prompts",
]
