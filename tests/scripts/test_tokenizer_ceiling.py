"""scripts/tokenizer_ceiling.py: the shipped round trip, read by the shipped evaluators."""

from __future__ import annotations

import numpy as np
import pytest

from tdmm_lm.eval import MotionEvaluator
from tdmm_lm.lm.api import RELEASE_DIR
from tdmm_lm.prompts import sample_prompts
from tdmm_lm.synth import DynamicsGenerator
from tdmm_lm.tokenizer import MotionTokenizer

FPS = 25.0


@pytest.mark.skipif(not (RELEASE_DIR / "evaluators").exists(), reason="no shipped release")
def test_round_trip_keeps_the_motion_and_the_figures_compare_it_to_the_truth(load_script):
    ceiling = load_script("tokenizer_ceiling")
    tokenizer = MotionTokenizer.from_pretrained(RELEASE_DIR / "tokenizer")
    evaluator = MotionEvaluator.from_pretrained(RELEASE_DIR / "evaluators")
    specs = sample_prompts(6, seed=3)
    truth = [DynamicsGenerator().generate(s, fps=FPS).params for s in specs]
    back = ceiling.round_trip(tokenizer, truth)
    assert [b.shape for b in back] == [t.shape for t in truth]
    # The round trip is the same motion, a little rounded.
    error = np.mean([np.abs(b - t)[:, :52].mean() for b, t in zip(back, truth, strict=True)])
    assert error < 0.03
    text = evaluator.embed_texts([s.prompt for s in specs])
    labels = [s.labels.to_dict() for s in specs]
    truth_read = evaluator.read(truth, fps=FPS)
    own = ceiling.figures(evaluator, truth, truth_read, text, labels, FPS, repeats=2)
    assert own["FD"] == pytest.approx(0.0, abs=1e-6)
    assert set(own) == {"emotion_category", "head_motion", "intensity", "R@1", "FD"}
    rounded = ceiling.figures(evaluator, back, truth_read, text, labels, FPS, repeats=2)
    assert rounded["FD"] > 0.0 and 0.0 <= rounded["R@1"] <= 1.0
