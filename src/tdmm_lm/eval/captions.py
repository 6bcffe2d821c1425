"""The caption attribute parser: emotion category, intensity and head motion, read from text.

Built on the prompt suite's lexicon (:func:`~tdmm_lm.prompts.caption_attribute_lexicon`),
so every surface form a caption can use is known, held-out synonyms ("mirth", "swivels")
included. Parsing is three steps:

1. **Normalise:** lower-case, possessives (his/her/their/its) become "the" as in the lexicon.
2. **Split into segments** at the connectives captions use between timed segments
   (", then", ", and finally", ", subsequently", …, and the "Then:" that joins windows).
3. **Match phrases** in each segment, longest first over every attribute of the lexicon
   (actions and gaze too, so "raises the gaze" is never read as the head's "raises the
   head"): the segment's emotion category is its first emotion phrase, its intensity its
   first degree word, its head motion its first head phrase or ``still`` when none is said
   (captions often leave a still head unsaid).

The corpus labels describe a clip's *primary* segment (its longest non-neutral one), whose
length a caption does not state, so :func:`caption_attributes` reads the primary by its
position: the k-th non-neutral segment of the caption, where k is the primary's rank among
the non-neutral segments of the labels. A neutral primary (single-segment clips) is read as
the first non-neutral segment if the caption has one, else as neutral.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tdmm_lm.prompts import phrasing as ph
from tdmm_lm.prompts.grammar import inflect, tokens
from tdmm_lm.prompts.lexicon import NEUTRAL
from tdmm_lm.prompts.vocabulary import caption_attribute_lexicon

__all__ = ["ParsedSegment", "caption_attributes", "parse_caption", "primary_rank"]

_POSSESSIVE = re.compile(r"\b(his|her|their|its)\b")
#: Splits a caption into segments: "Then:" joins windows of long clips (``describe``).
_WINDOW_JOIN = re.compile(r"\bthen:", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedSegment:
    """The attributes read from one segment of a caption (None: not stated).

    Attributes:
        text: The segment's text, normalised.
        emotion_category: One of the 22 categories (neutral included).
        intensity: One of the five levels.
        head_motion: One of the 11 head motions (``still`` when none is stated).
    """

    text: str
    emotion_category: str | None
    intensity: str | None
    head_motion: str


@lru_cache(maxsize=1)
def _phrase_table() -> tuple[dict[tuple[str, ...], tuple[str, str]], int]:
    """(token tuple -> (attribute, value), longest phrase length) over the whole lexicon."""
    lexicon = caption_attribute_lexicon()
    neutral_phrases = tuple(
        inflect(p, form)
        for normal, held in ph.NEUTRAL_PHRASES.values()
        for p in (*normal, *held)
        for form in ("3sg", "pl", "ger")
    )
    table: dict[tuple[str, ...], tuple[str, str]] = {}
    for attribute, values in lexicon.items():
        for value, phrases in values.items():
            extra = neutral_phrases if (attribute, value) == ("emotion_category", NEUTRAL) else ()
            for phrase in (*phrases, *extra):
                table.setdefault(tuple(tokens(phrase)), (attribute, value))
    return table, max(len(k) for k in table)


@lru_cache(maxsize=1)
def _connectives() -> re.Pattern[str]:
    """A pattern matching every connective between caption segments (", and then", …)."""
    words = sorted(
        {p.lstrip(", ").strip() for pair in ph.CONNECTIVES.values() for p in (*pair[0], *pair[1])},
        key=len,
        reverse=True,
    )
    return re.compile(r",\s*(?:" + "|".join(re.escape(w) for w in words) + r")\b")


def _segment(text: str) -> ParsedSegment:
    """Match the lexicon's phrases in one segment, longest first, left to right."""
    table, longest = _phrase_table()
    words = tokens(text)
    found: dict[str, str] = {}
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            hit = table.get(tuple(words[i : i + n]))
            if hit is not None:
                found.setdefault(hit[0], hit[1])
                i += n
                break
        else:
            i += 1
    return ParsedSegment(
        text=text,
        emotion_category=found.get("emotion_category"),
        intensity=found.get("intensity"),
        head_motion=found.get("head_motion", "still"),
    )


def parse_caption(text: str) -> list[ParsedSegment]:
    """Split a caption into its timed segments and read each one's attributes.

    Args:
        text: A caption, e.g. "She starts neutral, then grins broadly while nodding twice."

    Returns:
        One :class:`ParsedSegment` per segment, in order (at least one).
    """
    normal = _POSSESSIVE.sub("the", text.lower())
    pieces = [p for w in _WINDOW_JOIN.split(normal) for p in _connectives().split(w)]
    return [_segment(p) for p in pieces if p.strip()] or [_segment(normal)]


def primary_rank(labels: dict[str, Any]) -> int | None:
    """Rank of the primary segment among the labels' non-neutral segments (None: neutral).

    Args:
        labels: A corpus ``labels`` struct (with ``segments``).
    """
    if labels["emotion_category"] == NEUTRAL:
        return None
    emotional = [s for s in labels["segments"] if s["emotion_category"] != NEUTRAL]
    for rank, seg in enumerate(emotional):
        if (seg["emotion"], seg["head_motion"]) == (labels["emotion"], labels["head_motion"]):
            return rank
    return 0  # labels without a matching segment (hand-made): the first emotion


def caption_attributes(text: str, labels: dict[str, Any]) -> dict[str, str | None]:
    """The attributes a caption states for the primary segment that ``labels`` describe.

    Args:
        text: The caption (generated or reference).
        labels: The clip's ground-truth ``labels``; only the primary's position is used.

    Returns:
        ``{"emotion_category", "head_motion", "intensity"}``; a value is None when the
        caption does not state it (or has no segment at the primary's position).
    """
    segments = parse_caption(text)
    emotional = [s for s in segments if s.emotion_category not in (None, NEUTRAL)]
    rank = primary_rank(labels)
    if rank is None:
        if emotional:
            seg = emotional[0]
        else:
            seg = next((s for s in segments if s.emotion_category == NEUTRAL), segments[0])
    elif rank < len(emotional):
        seg = emotional[rank]
    else:
        return {"emotion_category": None, "head_motion": None, "intensity": None}
    return {
        "emotion_category": seg.emotion_category,
        "head_motion": seg.head_motion,
        "intensity": seg.intensity,
    }
