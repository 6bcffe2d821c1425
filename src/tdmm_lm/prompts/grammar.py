"""Just enough English for the captions: verb inflection, articles and word tokens."""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["article", "conjugate", "inflect", "tokens"]

_VERB = re.compile(r"<([a-z]+)>")
_TOKEN = re.compile(r"[a-z]+(?:-[a-z]+)*")
_DOUBLED = frozenset({"nod", "bob", "grin", "drop", "tip", "bat", "wag", "begin", "knit", "let"})
_IRREGULAR = {
    ("be", "3sg"): "is",
    ("be", "pl"): "are",
    ("be", "ger"): "being",
    ("have", "3sg"): "has",
}


@lru_cache(maxsize=1024)
def conjugate(verb: str, form: str) -> str:
    """Inflect an English verb: ``form`` is "3sg" (nods), "pl" (nod) or "ger" (nodding)."""
    if (verb, form) in _IRREGULAR:
        return _IRREGULAR[(verb, form)]
    if form == "3sg":
        if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
            return verb + "es"
        if verb.endswith("y") and verb[-2] not in "aeiou":
            return verb[:-1] + "ies"
        return verb + "s"
    if form == "ger":
        if verb in _DOUBLED:
            return verb + verb[-1] + "ing"
        if verb.endswith("e") and not verb.endswith("ee"):
            return verb[:-1] + "ing"
        return verb + "ing"
    return verb


def inflect(text: str, form: str) -> str:
    """Conjugate every ``<verb>`` slot of ``text``."""
    return _VERB.sub(lambda m: conjugate(m[1], form), text)


def article(phrase: str) -> str:
    """``phrase`` with "a" or "an" in front."""
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def tokens(text: str) -> list[str]:
    """Lower-case word tokens of ``text`` (hyphenated words stay whole)."""
    return _TOKEN.findall(text.lower())
