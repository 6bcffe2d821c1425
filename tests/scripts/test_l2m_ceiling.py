"""scripts/l2m_ceiling.py: the other reading of a prompt of two emotions."""

from __future__ import annotations

import numpy as np

from tdmm_lm.face import ARKIT


def _segment(start: float, end: float, word: str, category: str, head: str) -> dict:
    return {"start_s": start, "end_s": end, "emotion": word, "emotion_category": category,
            "intensity": "strong", "head_motion": head, "head_count": 0,
            "head_speed": "normal", "speaking": "silent", "actions": []}  # fmt: skip


def test_the_other_reading_makes_the_other_emotion_last_longer(load_script):
    ceiling = load_script("l2m_ceiling")
    labels = {"emotion": "happy", "emotion_category": "happiness", "intensity": "strong",
              "head_motion": "nod", "speaking": "silent", "actions": [],
              "segments": [_segment(0.0, 1.0, "calm", "neutral", "still"),
                           _segment(1.0, 4.0, "happy", "happiness", "nod"),
                           _segment(4.0, 5.5, "angry", "anger", "still")]}  # fmt: skip
    assert ceiling.emotional(labels) == [1, 2]
    other = ceiling.with_spans(labels, [1.0, 1.5, 3.0])
    spans = [s["end_s"] - s["start_s"] for s in other["segments"]]
    assert spans == [1.0, 1.5, 3.0] and other["segments"][-1]["end_s"] == 5.5
    assert labels["segments"][1]["end_s"] == 4.0  # the labels themselves are left alone
    fps = 25.0
    as_labelled = ceiling.regenerate("a happy nod, then anger", labels, seed=3, fps=fps)
    swapped = ceiling.regenerate("a happy nod, then anger", other, seed=3, fps=fps)
    assert as_labelled.shape == swapped.shape == (round(5.5 * fps), 61)
    # Same prompt, other timing: the anger now holds for most of the clip, the smile less.
    assert np.isfinite(swapped).all()
    brows, smile = ARKIT.index("browDownLeft"), ARKIT.index("mouthSmileLeft")
    assert swapped[:, brows].mean() > 1.5 * as_labelled[:, brows].mean()
    assert swapped[:, smile].mean() < 0.7 * as_labelled[:, smile].mean()
    assert ceiling.BRIEF.search("then briefly smiles") and not ceiling.BRIEF.search("a brief")
