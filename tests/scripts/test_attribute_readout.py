"""scripts/attribute_readout.py: the shipped model's captions and motion, read back."""

from __future__ import annotations

import numpy as np
import pytest

from tdmm_lm.eval import MotionEvaluator
from tdmm_lm.eval.captions import caption_attributes
from tdmm_lm.eval.metrics import r_precision
from tdmm_lm.lm import load_model
from tdmm_lm.lm.api import RELEASE_DIR
from tdmm_lm.prompts import INTENSITY_LEVELS, sample_prompts
from tdmm_lm.synth import DynamicsGenerator

FPS = 25.0


@pytest.mark.skipif(not (RELEASE_DIR / "evaluators").exists(), reason="no shipped release")
def test_captions_and_motion_are_scored_against_the_labels(load_script):
    readout = load_script("attribute_readout")
    model = load_model()
    specs = sample_prompts(6, seed=5)
    clips = [DynamicsGenerator().generate(s, fps=FPS) for s in specs]
    params = [c.params for c in clips]
    labels = [s.labels.to_dict() for s in specs]
    # Motion2Language: the share of greedy captions whose parsed attribute is the label's.
    captions = model.describe_batch(params)
    parsed = [caption_attributes(c, lab) for c, lab in zip(captions, labels, strict=True)]
    got = readout.caption_readout(model, params, labels)
    for a in ("emotion_category", "head_motion", "intensity"):
        want = np.mean([p[a] == lab[a] for p, lab in zip(parsed, labels, strict=True)])
        assert got[a] == pytest.approx(want)
    wrong = [{**lab, "emotion_category": "not an emotion"} for lab in labels]
    assert readout.caption_readout(model, params, wrong)["emotion_category"] == 0.0
    # Language2Motion: the classifiers' reading of each seed's generations, averaged.
    evaluator = MotionEvaluator.from_pretrained(RELEASE_DIR / "evaluators")
    prompts, seconds = [s.prompt for s in specs], [c.seconds for c in clips]
    motion = readout.motion_readout(model, evaluator, prompts, seconds, labels, seeds=[0, 1])
    reads = [evaluator.read(model.animate_batch(prompts, seconds, seed=k)) for k in (0, 1)]
    heads = [r.predictions["head_motion"] for r in reads]
    want = np.mean([[p == lab["head_motion"] for p, lab in zip(h, labels, strict=True)]
                    for h in heads])  # fmt: skip
    assert motion["head_motion"] == pytest.approx(want)
    levels = [INTENSITY_LEVELS.index(lab["intensity"]) for lab in labels]
    bias = np.mean([[INTENSITY_LEVELS.index(p) - k
                     for p, k in zip(r.predictions["intensity"], levels, strict=True)]
                    for r in reads])  # fmt: skip
    assert motion["intensity_bias"] == pytest.approx(bias)
    assert 0.0 <= motion["R@1"] <= 1.0
    # Decoding overrides reach the generation: unguided motion is another motion.
    plain = readout.motion_readout(model, evaluator, prompts, seconds, labels, [0],
                                   {"guidance": 1.0})  # fmt: skip
    unguided = evaluator.read(model.animate_batch(prompts, seconds, seed=0, guidance=1.0))
    text, rng = evaluator.embed_texts(prompts), np.random.default_rng(0)
    r1 = [r_precision(unguided.embeddings, text, rng)[0] for _ in range(10)]
    assert plain["R@1"] == pytest.approx(np.mean(r1))
    swings = [lab["head_motion"] in readout.OSCILLATIONS for lab in labels]
    assert ("head_oscillation" in motion) == any(swings)
    assert ("head_held" in motion) == (not all(swings))
