"""Views of the caption vocabulary: held-out wording and the surface forms of each attribute.

:data:`HELD_OUT_WORDS` and :data:`HELD_OUT_FRAMES` are derived from the phrasing tables, so
they stay right when a phrase is added: a held-out word is a token that some held-out phrase
produces and no normal phrase, frame, template or expression word does.
:func:`caption_attribute_lexicon` lists, for each attribute value, every phrase a caption can
use for it; the caption-attribute parser of the evaluation is built on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from tdmm_lm.prompts import phrasing as ph
from tdmm_lm.prompts.grammar import conjugate, inflect, tokens
from tdmm_lm.prompts.lexicon import CATEGORIES, EXPRESSIONS, VERB_FORMS
from tdmm_lm.prompts.schema import INTENSITY_LEVELS

__all__ = ["HELD_OUT_FRAMES", "HELD_OUT_WORDS", "caption_attribute_lexicon"]


def _pools() -> list[tuple[Sequence[str], Sequence[str]]]:
    """Every (normal, held-out) pair of phrases, frames and subjects."""
    pairs: list[tuple[Sequence[str], Sequence[str]]] = []
    for pool in (
        ph.INTENSITY_ADVERBS, ph.VERB_ADVERBS, ph.INTENSITY_ADJECTIVES, ph.NEUTRAL_ADVERBS,
        ph.CATEGORY_NOUNS, ph.DYNAMICS_WORDS, ph.CONNECTIVES, ph.NEUTRAL_PHRASES,
        ph.HEAD_PHRASES, ph.COUNT_WORDS, ph.SPEED_WORDS, ph.SPEAKING_PHRASES, ph.ACTION_PHRASES,
    ):  # fmt: skip
        pairs.extend(pool.values())
    pairs += [ph.REPEAT_WORDS, ph.SPEAKING_SUFFIXES]
    for frames in (ph.VP_FRAMES, ph.NP_FRAMES):
        pairs.append(tuple(tuple(f.template for f in side) for side in frames))
    pairs.append(tuple(tuple(s.text for s in side) for side in ph.SUBJECTS))
    return pairs


def _surface(phrase: str) -> set[str]:
    """All tokens ``phrase`` can produce, over every inflection of its verbs."""
    out: set[str] = set()
    for form in ("3sg", "pl", "ger"):
        out.update(tokens(inflect(phrase, form).replace("{poss}", "")))
    return out


@lru_cache(maxsize=1)
def _held_out_vocabulary() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(held-out words, held-out frames), derived from the phrasing tables."""
    normal: set[str] = set()
    held: set[str] = set()
    literals = [*ph.EMOTION_VP.values(), *ph.EMOTION_NP.values(), tuple(ph.DYNAMICS_NP.values())]
    for pair in [*_pools(), *((t, ()) for t in literals)]:
        for phrase in pair[0]:
            normal |= _surface(phrase)
        for phrase in pair[1]:
            held |= _surface(phrase)
    for word, verb in VERB_FORMS.items():
        normal |= _surface(f"{word} <{verb}>")
    for word in EXPRESSIONS:
        normal |= set(tokens(word))
    normal_frames = {f.template for side in (ph.VP_FRAMES, ph.NP_FRAMES) for f in side[0]}
    frames = tuple(
        f.template
        for side in (ph.VP_FRAMES, ph.NP_FRAMES)
        for f in side[1]
        if f.template not in normal_frames  # "{s} {vp}." is held out only by its subjects
    )
    return tuple(sorted(held - normal)), frames


#: Tokens that only held-out phrasings produce (a normal caption never contains one).
HELD_OUT_WORDS: tuple[str, ...] = _held_out_vocabulary()[0]
#: Sentence frames used only for held-out samples.
HELD_OUT_FRAMES: tuple[str, ...] = _held_out_vocabulary()[1]


def caption_attribute_lexicon() -> dict[str, dict[str, tuple[str, ...]]]:
    """Every surface form that can express each attribute value, held-out wording included.

    Returns:
        ``{attribute: {value: phrases}}`` for the attributes ``emotion_category`` (expression
        words, their verbs, category nouns), ``intensity`` (degree adverbs and adjectives),
        ``head_motion``, ``head_count`` ("0" = repeated with no count), ``head_speed``,
        ``speaking``, ``action`` and ``dynamics``. Verb phrases are listed in the third
        person, the plural and as participles ("nods", "nod", "nodding"), with possessives
        written "the"
        ("shakes the head"): normalise his/her/their/its to "the" before matching, and
        match longer phrases first ("extremely" before "a little" is not an issue, but
        "shakes the head" must win over "shakes").
    """

    def both(pair: tuple[Sequence[str], Sequence[str]], verbs: bool = False) -> tuple[str, ...]:
        phrases = [p.replace("{poss}", "the") for p in (*pair[0], *pair[1])]
        if verbs:
            phrases = [inflect(p, f) for p in phrases for f in ("3sg", "pl", "ger")]
        return tuple(dict.fromkeys(phrases))

    categories: dict[str, tuple[str, ...]] = {}
    for category in CATEGORIES:
        words = [w for w, r in EXPRESSIONS.items() if r.category == category]
        verbs = [
            conjugate(VERB_FORMS[w], f) for w in words if w in VERB_FORMS for f in ("3sg", "pl")
        ]
        nouns = both(ph.CATEGORY_NOUNS[category]) if category in ph.CATEGORY_NOUNS else ()
        categories[category] = tuple(dict.fromkeys([*words, *verbs, *nouns]))
    intensity = {
        level: tuple(
            dict.fromkeys(
                p
                for pool in (
                    ph.INTENSITY_ADVERBS,
                    ph.VERB_ADVERBS,
                    ph.INTENSITY_ADJECTIVES,
                    ph.NEUTRAL_ADVERBS,
                )
                for p in both(pool[level])
            )
        )
        for level in INTENSITY_LEVELS
    }
    return {
        "emotion_category": categories,
        "intensity": intensity,
        "head_motion": {m: both(p, verbs=True) for m, p in ph.HEAD_PHRASES.items()},
        "head_count": {
            "0": both(ph.REPEAT_WORDS),
            **{k: both(p) for k, p in ph.COUNT_WORDS.items()},
        },
        "head_speed": {k: both(p) for k, p in ph.SPEED_WORDS.items()},
        "speaking": {k: both(p) for k, p in ph.SPEAKING_PHRASES.items()},
        "action": {k: both(p, verbs=True) for k, p in ph.ACTION_PHRASES.items()},
        "dynamics": {k: both(p) for k, p in ph.DYNAMICS_WORDS.items()},
    }
