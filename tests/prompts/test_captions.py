from __future__ import annotations

import random
import re
from functools import cache, lru_cache

import pytest

from tdmm_lm.prompts import phrasing as ph
from tdmm_lm.prompts.captions import write_captions
from tdmm_lm.prompts.grammar import conjugate, tokens
from tdmm_lm.prompts.lexicon import CATEGORIES, EXPRESSIONS, VERB_FORMS
from tdmm_lm.prompts.sampler import sample_prompts
from tdmm_lm.prompts.schema import HEAD_MOTIONS, INTENSITY_LEVELS
from tdmm_lm.prompts.vocabulary import HELD_OUT_FRAMES, HELD_OUT_WORDS, caption_attribute_lexicon

POSSESSIVES = re.compile(r"\b(his|her|their|its)\b")


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "mark_longest"])
def specs(request):
    return sample_prompts(1500, seed=21, mark_longest=request.param)


def texts(spec):
    return [spec.prompt, *spec.captions]


@lru_cache(maxsize=1)
def lexicon():
    return caption_attribute_lexicon()


@cache
def matcher(attribute: str) -> tuple[re.Pattern, dict[str, str]]:
    """One alternation over the attribute's phrases, longest first, and phrase -> value."""
    owner = {p: v for v, ps in lexicon()[attribute].items() for p in ps}
    alternation = "|".join(re.escape(p) for p in sorted(owner, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternation})\b"), owner


def found(text: str, attribute: str) -> set[str]:
    """Values of ``attribute`` whose phrases occur in ``text`` (longer phrases win)."""
    pattern, owner = matcher(attribute)
    return {owner[m[0]] for m in pattern.finditer(POSSESSIVES.sub("the", text.lower()))}


def test_every_spec_has_a_prompt_and_four_distinct_paraphrases(specs):
    for spec in specs:
        assert spec.prompt and len(spec.captions) >= 4
        assert len(set(texts(spec))) == len(texts(spec))
        assert all(t[0].isupper() and t.endswith(".") for t in texts(spec))
        assert all("{" not in t and "<" not in t and "  " not in t for t in texts(spec))


def test_captions_vary_frames_and_subjects(specs):
    openings = {t.split(",")[0].split()[0].lower() for s in specs[:200] for t in texts(s)}
    assert {"a", "she", "he", "they", "someone", "the", "here", "close-up"} <= openings


def test_captions_are_truthful_to_the_labels(specs):
    for spec in specs:
        segs = spec.labels.segments
        emotional = [s for s in segs if s.emotion_category != "neutral"] or segs
        for text in texts(spec):
            # Intensity, category: every expression segment is said, nothing else is.
            assert found(text, "intensity") == {s.intensity for s in emotional}, text
            cats = found(text, "emotion_category") - {"neutral"}
            assert cats == {s.emotion_category for s in emotional} - {"neutral"}, text
            moving = {s.head_motion for s in emotional} - {"still"}
            assert found(text, "head_motion") - {"still"} == moving, text
            counts = {str(s.head_count) for s in emotional if s.head_motion in moving}
            assert found(text, "head_count") <= counts, text
            assert found(text, "action") == set(spec.labels.actions), text
            speaking = found(text, "speaking")
            assert speaking <= {spec.labels.speaking}, text
            if spec.labels.speaking != "silent":
                assert speaking == {spec.labels.speaking}, text


def test_temporal_order_is_kept(specs):
    for spec in specs:
        segs = spec.labels.segments
        if len(segs) == 2 and segs[0].emotion_category == "neutral":
            for text in texts(spec):
                lowered = text.lower()
                neutral_at = min(lowered.find(w) for w in ("neutral", "resting") if w in lowered)
                words = [w for w in lexicon()["emotion_category"][segs[1].emotion_category]]
                positions = [m.start() for w in words for m in re.finditer(rf"\b{w}\b", lowered)]
                assert neutral_at < min(positions), text


def test_dynamics_words_appear(specs):
    joined = " ".join(t for s in specs for t in texts(s)).lower()
    for word in ("gradually", "suddenly", "briefly", "throughout", "then", "finally", "while"):
        assert word in joined
    assert "starts neutral" in joined or "start neutral" in joined


def test_non_held_out_specs_never_use_held_out_wording(specs):
    held = set(HELD_OUT_WORDS)
    literals = [f.split("{")[0].strip() for f in HELD_OUT_FRAMES if not f.startswith("{")]
    assert literals
    for spec in specs:
        if spec.held_out_phrasing:
            continue
        for text in texts(spec):
            assert not held & set(tokens(text)), (held & set(tokens(text)), text)
            assert not any(text.startswith(lit) for lit in literals), text


def test_held_out_specs_use_held_out_wording(specs):
    held_specs = [s for s in specs if s.held_out_phrasing]
    assert 0.06 < len(held_specs) / len(specs) < 0.10
    held = set(HELD_OUT_WORDS)
    for spec in held_specs:
        for text in texts(spec):
            assert held & set(tokens(text)), text


def test_held_out_vocabulary_is_disjoint_from_the_normal_vocabulary():
    normal_words = {t for w in EXPRESSIONS for t in tokens(w)}
    assert not normal_words & set(HELD_OUT_WORDS)
    assert {"thrice", "progressively", "performer", "footage"} <= set(HELD_OUT_WORDS)
    assert len(HELD_OUT_FRAMES) >= 3
    # Every held-out phrase is recognisable by at least one word of its own.
    for pool in (ph.HEAD_PHRASES, ph.ACTION_PHRASES, ph.CATEGORY_NOUNS, ph.INTENSITY_ADVERBS):
        for _, held_phrases in pool.values():
            for phrase in held_phrases:
                forms = {
                    t
                    for f in ("3sg", "ger")
                    for t in tokens(re.sub(r"<(\w+)>", lambda m, f=f: conjugate(m[1], f), phrase))
                }
                assert forms & set(HELD_OUT_WORDS), phrase


def test_attribute_lexicon_maps_each_phrase_to_one_value():
    lex = caption_attribute_lexicon()
    assert set(lex["emotion_category"]) == set(CATEGORIES)
    assert set(lex["intensity"]) == set(INTENSITY_LEVELS)
    assert set(lex["head_motion"]) == set(HEAD_MOTIONS)
    for attribute, values in lex.items():
        owner: dict[str, str] = {}
        for value, phrases in values.items():
            assert phrases, (attribute, value)
            for phrase in phrases:
                assert owner.setdefault(phrase, value) == value, (attribute, phrase)
    for word, recipe in EXPRESSIONS.items():
        assert word in lex["emotion_category"][recipe.category]
    assert "grins" in lex["emotion_category"]["happiness"]
    assert "gladness" in lex["emotion_category"]["happiness"]  # held-out synonyms included
    assert "nods twice" not in lex["head_motion"]["nod"] and "nods" in lex["head_motion"]["nod"]


@pytest.mark.parametrize(
    ("verb", "third", "gerund"),
    [("nod", "nods", "nodding"), ("shake", "shakes", "shaking"), ("cry", "cries", "crying"),
     ("press", "presses", "pressing"), ("be", "is", "being"), ("glance", "glances", "glancing")],
)  # fmt: skip
def test_conjugate(verb, third, gerund):
    assert conjugate(verb, "3sg") == third
    assert conjugate(verb, "ger") == gerund
    assert conjugate(verb, "pl") == ("are" if verb == "be" else verb)


def test_verb_forms_are_participles():
    for word, verb in VERB_FORMS.items():
        assert conjugate(verb, "ger") == word


def test_write_captions_is_deterministic(specs):
    labels = specs[3].labels
    a = write_captions(labels, held_out=False, rng=random.Random(4))
    b = write_captions(labels, held_out=False, rng=random.Random(4))
    assert a == b and len(a[1]) == 5


LONGEST = re.compile("|".join(p for pool in ph.DYNAMICS_WORDS["longest"] for p in pool))


def test_marked_prompts_say_which_expression_lasts_longest():
    from tdmm_lm.eval.captions import parse_caption, primary_rank

    plains = sample_prompts(1000, seed=21)
    marked = sample_prompts(1000, seed=21, mark_longest=True)
    several = 0
    for plain, spec in zip(plains, marked, strict=True):
        # Only the wording changes: the motion the generators make is the same.
        assert spec.labels == plain.labels and spec.seed == plain.seed
        assert spec.duration_s == plain.duration_s and spec.id == plain.id
        assert not any(LONGEST.search(t.lower()) for t in texts(plain))
        rank = primary_rank(spec.labels.to_dict())
        emotional = [s for s in spec.labels.segments if s.emotion_category != "neutral"]
        if len(emotional) < 2:
            assert not any(LONGEST.search(t.lower()) for t in texts(spec)), spec.prompt
            continue
        several += 1
        # The prompt says it once, in the clause of the primary (longest) expression.
        assert len(LONGEST.findall(spec.prompt.lower())) == 1, spec.prompt
        clauses = [c for c in parse_caption(spec.prompt) if c.emotion_category != "neutral"]
        assert clauses[rank].text == next(c.text for c in clauses if LONGEST.search(c.text)), (
            spec.prompt
        )
    assert several > 200
    paraphrased = sum(bool(LONGEST.search(c.lower())) for s in marked for c in s.captions)
    assert paraphrased > 200  # the paraphrases say it sometimes, like any dynamics
