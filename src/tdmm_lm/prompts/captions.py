"""Captions: a prompt and its paraphrases, written from a sample's labels.

Every caption says the same things as the labels, in a different way: each timed segment's
expression with its intensity, its head motion with count and speed, its micro-actions, the
speaking style, and the order of the segments ("starts neutral, then …, and finally …").
Dynamics words come from the labels and recipes too: "suddenly" for an expression whose
onset is fast, "gradually" for a slow one, "briefly" for a short middle segment, "throughout"
for a single expression held over the whole clip.

With ``mark_longest``, the prompt of a clip of several expressions also says which one lasts
longest ("for most of the clip"). That one is the *primary* segment the labels describe, and
without the cue a prompt such as "looks skeptical, then smirks" does not fix it: measured on
release 5's test split, a third of the prompts name several expressions, and a generator that
follows every prompt perfectly but has to guess the longer one scores 0.84 on the emotion of
the primary (``scripts/l2m_ceiling.py``). Paraphrases state the cue like any other dynamics.

Wording comes from :mod:`tdmm_lm.prompts.phrasing`. Samples flagged ``held_out_phrasing``
use the held-out phrases wherever a slot has one; the others never use a held-out word or
frame (:mod:`tdmm_lm.prompts.vocabulary` lists them).
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from functools import lru_cache
from typing import TypeVar

from tdmm_lm.prompts import phrasing as ph
from tdmm_lm.prompts.grammar import article, inflect
from tdmm_lm.prompts.lexicon import EXPRESSIONS, HEAD_MOTION_RECIPES, NEUTRAL, VERB_FORMS
from tdmm_lm.prompts.schema import Labels, Segment

__all__ = ["BRIEF_S", "FAST_ONSET_S", "N_CAPTIONS", "SLOW_ONSET_S", "write_captions"]

#: Paraphrases written per sample, besides the prompt (the corpus needs at least 4).
N_CAPTIONS = 5
#: Attempts at drawing a caption that differs from those already written.
_MAX_DRAWS = 40
#: Share of captions written as noun-phrase chains ("Close-up of a … face, then …").
_NP_SHARE = 0.4
#: Onsets at or below this are "sudden", at or above the next "gradual" (seconds).
FAST_ONSET_S = 0.25
SLOW_ONSET_S = 0.7
#: A middle segment shorter than this is "brief" (seconds).
BRIEF_S = 1.5

T = TypeVar("T")


@lru_cache(maxsize=256)
def _fields(template: str) -> tuple[str, ...]:
    """The ``{names}`` a format template uses."""
    return tuple(dict.fromkeys(f for _, f, _, _ in string.Formatter().parse(template) if f))


class _Writer:
    """Draws the wording of one caption; ``held`` selects held-out phrases where they exist."""

    def __init__(self, rng: random.Random, held: bool) -> None:
        self.rng = rng
        self.held = held

    def choice(self, seq: Sequence[T]) -> T:
        """A uniform element of ``seq`` (one ``random()`` draw: faster than ``Random.choice``)."""
        return seq[int(self.rng.random() * len(seq))]

    def pick(self, pair: tuple[Sequence[str], Sequence[str]]) -> str:
        """One phrase of a (normal, held-out) pair."""
        normal, held = pair
        return self.choice(held if self.held and held else normal)

    def pick_for(self, pair: tuple[Sequence[str], Sequence[str]], poss: str | None) -> str:
        """Like :meth:`pick`, avoiding ``{poss}`` phrases when the subject has no possessive."""
        normal, held = pair
        if poss is None:
            normal = [p for p in normal if "{poss}" not in p] or normal
            held = [p for p in held if "{poss}" not in p] or held
        return self.pick((normal, held)).replace("{poss}", poss or "the")

    def adverb(self, pool: ph.Pool, level: str, *, after_article: bool = False) -> str:
        """A degree adverb; after an article, skip "a little"-style phrases ("a a little")."""
        normal, held = pool[level]
        if after_article:
            normal = [a for a in normal if not a.startswith("a ")]
        return self.pick((normal, held))

    # -- pieces --------------------------------------------------------------------------

    def emotion(self, seg: Segment, dyn: str, *, np: bool) -> str:
        """The expression of an emotion segment as a verb phrase or noun phrase."""
        neutral = seg.emotion_category == NEUTRAL
        noun_share = 0.5 if self.held else 0.25
        if neutral:
            kind = "adj"
        elif self.rng.random() < noun_share:
            kind = "noun"
        else:
            kind = "verb" if seg.emotion in VERB_FORMS else "adj"
        adverbs = ph.NEUTRAL_ADVERBS if neutral else ph.INTENSITY_ADVERBS
        level, category = seg.intensity, seg.emotion_category
        if np:
            template = self.choice(ph.EMOTION_NP[kind]) + (ph.DYNAMICS_NP[dyn] if dyn else "")
        else:
            template = self.choice(ph.EMOTION_VP[(kind, dyn)])
        # Draw only the slots this template uses: wording draws dominate sampling time.
        makers = {
            "w": lambda: seg.emotion,
            "v": lambda: VERB_FORMS[seg.emotion],
            "adv": lambda: self.adverb(adverbs, level),
            "a_adv": lambda: article(self.adverb(adverbs, level, after_article=True)),
            "padv": lambda: self.adverb(ph.VERB_ADVERBS, level),
            "iadj": lambda: self.adverb(ph.INTENSITY_ADJECTIVES, level),
            "noun": lambda: self.pick(ph.CATEGORY_NOUNS[category]),
            "dyn": lambda: self.pick(ph.DYNAMICS_WORDS[dyn]),
        }
        return template.format(**{name: makers[name]() for name in _fields(template)})

    def head(self, seg: Segment, poss: str | None, form: str) -> str:
        """The segment's head motion with its speed and count, inflected to ``form``."""
        recipe = HEAD_MOTION_RECIPES[seg.head_motion]
        text = self.pick_for(ph.HEAD_PHRASES[seg.head_motion], poss)
        if recipe.oscillating and seg.head_speed in ph.SPEED_WORDS:
            text = self.pick(ph.SPEED_WORDS[seg.head_speed]) + " " + text
        if recipe.oscillating and seg.head_count > 0:
            text += " " + self.pick(ph.COUNT_WORDS[str(seg.head_count)])
        elif recipe.oscillating:
            if form != "ger" and self.rng.random() < 0.3:
                return inflect("<keep> " + inflect(text, "ger"), form)
            text += " " + self.pick(ph.REPEAT_WORDS)
        return inflect(text, form)

    def actions(self, names: Sequence[str], poss: str | None, form: str) -> str:
        """The segment's micro-actions, joined with "and"."""
        return " and ".join(inflect(self.pick_for(ph.ACTION_PHRASES[a], poss), form) for a in names)

    def segment(self, seg: Segment, role: str, dyn: str, poss: str | None, form: str) -> str:
        """One segment as a clause (``form`` "3sg"/"pl") or a noun phrase (``form`` "np")."""
        np = form == "np"
        if role in ("start", "return"):
            text = self.pick(ph.NEUTRAL_PHRASES[f"{role}_{'np' if np else 'vp'}"])
            text = text if np else inflect(text, form)
        else:
            text = self.emotion(seg, dyn, np=np)
            text = text if np else inflect(text, form)
            text += self._head_clause(seg, poss, form)
        if seg.actions:
            if np or self.rng.random() < 0.5:
                text += ", " + self.actions(seg.actions, poss, "ger")
            else:
                text += " and " + self.actions(seg.actions, poss, form)
        return text

    def _head_clause(self, seg: Segment, poss: str | None, form: str) -> str:
        """The head motion attached to an expression: " while nodding twice", " and nods"."""
        if seg.head_motion == "still" and self.rng.random() < 0.6:
            return ""  # "still" is the default; saying it every time would be noise
        how = self.rng.random()
        if form == "np" or how < 0.45:
            return " while " + self.head(seg, poss, "ger")
        if how < 0.75:
            return " and " + self.head(seg, poss, form)
        return ", " + self.head(seg, poss, "ger")

    def speaking(self, style: str) -> str:
        """The speaking style as a closing phrase ("" when a silent clip does not say so)."""
        if style == "silent":
            return "" if self.rng.random() < 0.4 else ", " + self.pick(ph.SPEAKING_PHRASES[style])
        return ", " + self.pick(ph.SPEAKING_SUFFIXES).format(
            spk=self.pick(ph.SPEAKING_PHRASES[style])
        )

    # -- whole captions ------------------------------------------------------------------

    def caption(
        self,
        labels: Labels,
        *,
        np: bool,
        dynamics: float,
        longest: int | None = None,
        insist: bool = False,
    ) -> str:
        """One caption; ``dynamics`` is the chance of saying each segment's dynamics.

        ``longest``, when given, is the segment that may be called the longest, and with
        ``insist`` always is.
        """
        segs = labels.segments
        frame = self.choice((ph.NP_FRAMES if np else ph.VP_FRAMES)[self.held])
        subject = frame.subject or self.choice(ph.SUBJECTS[self.held])
        form = "np" if np else ("pl" if subject.plural else "3sg")
        poss = None if np else subject.poss
        parts = []
        for i, seg in enumerate(segs):
            role = _role(segs, i)
            options = _dynamics(segs, i, longest)
            if i == longest and insist:
                dyn = "longest"
            else:
                dyn = self.choice(options) if options and self.rng.random() < dynamics else ""
            clause = self.segment(seg, role, dyn, poss, form)
            if i:
                key = "finally" if i == len(segs) - 1 and len(segs) > 2 else "then"
                clause = self.pick(ph.CONNECTIVES[key]) + " " + clause
            parts.append(clause)
        body = "".join(parts) + self.speaking(labels.speaking)
        text = frame.template.format(s=subject.text, vp=body, np=body)
        return text[0].upper() + text[1:]


def _role(segs: Sequence[Segment], i: int) -> str:
    """The role of segment ``i``: "start"/"return" (neutral lead-in/return) or "emotion"."""
    if len(segs) == 1 or segs[i].emotion_category != NEUTRAL:
        return "emotion"
    return "start" if i == 0 else "return"


def longest_expression(segs: Sequence[Segment]) -> int | None:
    """Index of the longest expression segment of a clip with several, else None."""
    emotional = [i for i, s in enumerate(segs) if s.emotion_category != NEUTRAL]
    if len(emotional) < 2:
        return None
    return max(emotional, key=lambda i: segs[i].end_s - segs[i].start_s)


def _dynamics(segs: Sequence[Segment], i: int, longest: int | None = None) -> list[str]:
    """The dynamics words that are true of segment ``i`` (``longest``: the longest one)."""
    if _role(segs, i) != "emotion":
        return []
    onset = EXPRESSIONS[segs[i].emotion].onset_s
    options = ["sustained"] if len(segs) == 1 else []
    if onset <= FAST_ONSET_S:
        options.append("fast")
    elif onset >= SLOW_ONSET_S and segs[i].emotion_category != NEUTRAL:
        options.append("slow")
    if i < len(segs) - 1 and segs[i].end_s - segs[i].start_s < BRIEF_S:
        options.append("brief")
    if i == longest:
        options.append("longest")
    return options


def write_captions(
    labels: Labels,
    *,
    held_out: bool,
    rng: random.Random,
    n_captions: int = N_CAPTIONS,
    mark_longest: bool = False,
) -> tuple[str, list[str]]:
    """Write the prompt and ``n_captions`` distinct paraphrases of ``labels``.

    Args:
        labels: The sample's labels; ``labels.speaking`` is taken to hold for every segment.
        held_out: Use held-out wording (the ``test_unseen_phrasing`` split).
        rng: Source of all wording choices (seeded per sample for reproducibility).
        n_captions: Number of paraphrases besides the prompt.
        mark_longest: The prompt of a clip of several expressions says which one lasts
            longest, and the paraphrases may (off: the wording of corpora built before it).

    Returns:
        ``(prompt, captions)``; the prompt is a verb-phrase sentence that states dynamics.
    """
    writer = _Writer(rng, held_out)
    longest = longest_expression(labels.segments) if mark_longest else None
    prompt = writer.caption(labels, np=False, dynamics=0.8, longest=longest, insist=True)
    seen = {prompt}
    captions: list[str] = []
    for _ in range(_MAX_DRAWS):
        if len(captions) == n_captions:
            break
        np = rng.random() < _NP_SHARE
        text = writer.caption(labels, np=np, dynamics=0.5, longest=longest)
        if text not in seen:
            seen.add(text)
            captions.append(text)
    return prompt, captions
