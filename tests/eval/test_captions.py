"""The caption attribute parser reads the corpus's own captions back to their labels."""

from __future__ import annotations

from tdmm_lm.data import read_split
from tdmm_lm.eval import caption_attributes, parse_caption
from tdmm_lm.eval.captions import primary_rank
from tdmm_lm.eval.data import ATTRIBUTES, TEST_SPLITS

LABELS = {
    "emotion": "grinning",
    "emotion_category": "happiness",
    "intensity": "strong",
    "head_motion": "nod",
    "segments": [
        {"emotion": "neutral", "emotion_category": "neutral", "head_motion": "still"},
        {"emotion": "sad", "emotion_category": "sadness", "head_motion": "still"},
        {"emotion": "grinning", "emotion_category": "happiness", "head_motion": "nod"},
    ],
}


def test_segments_and_attributes():
    text = (
        "He starts neutral, then looks slightly sad, and finally grins broadly and "
        "strongly while nodding his head twice."
    )
    segments = parse_caption(text)
    assert [s.emotion_category for s in segments] == ["neutral", "sadness", "happiness"]
    assert [s.head_motion for s in segments] == ["still", "still", "nod"]
    assert primary_rank(LABELS) == 1
    assert caption_attributes(text, LABELS) == {
        "emotion_category": "happiness", "head_motion": "nod", "intensity": "strong",
    }  # fmt: skip


def test_held_out_synonyms_and_longest_match():
    labels = {**LABELS, "segments": LABELS["segments"][2:]}
    held = "On camera, the performer shows marked mirth while inclining the head a single time."
    assert caption_attributes(held, {**labels, "emotion_category": "amusement"}) == {
        "emotion_category": "amusement", "head_motion": "nod", "intensity": "strong",
    }  # fmt: skip
    # "raises her gaze" is the gaze action, not the head's "raises her head"
    gaze = "She looks very happy and raises her gaze."
    assert caption_attributes(gaze, labels)["head_motion"] == "still"
    assert (
        caption_attributes("She looks very happy and raises her head.", labels)["head_motion"]
        == "look_up"
    )


def test_missing_primary_is_none():
    # the labels' primary is the second emotion; a caption naming one emotion misses it
    assert caption_attributes("She looks very sad.", LABELS) == {
        "emotion_category": None, "head_motion": None, "intensity": None,
    }  # fmt: skip


def test_reads_every_corpus_caption_back(eval_corpus):
    """The parser against the labels on the corpus's prompts and captions (held-out wording
    included): it must be exact or nearly so, or CorE/CorM/CorI of M2L would mean little."""
    for split in ("train", *TEST_SPLITS):
        rows = read_split(eval_corpus, split, columns=["prompt", "captions", "labels"]).to_pylist()
        texts = [(t, r["labels"]) for r in rows for t in [r["prompt"], *r["captions"]]]
        for attribute in ATTRIBUTES:
            hits = sum(caption_attributes(t, lab)[attribute] == lab[attribute] for t, lab in texts)
            assert hits / len(texts) >= 0.99, (split, attribute, hits, len(texts))
