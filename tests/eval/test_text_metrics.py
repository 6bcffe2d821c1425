"""Captioning metrics: identities, hand-computed values, and one tokenisation for all."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tdmm_lm.eval import text_metrics as tx


def test_tokenisation_is_documented_and_shared():
    assert tx.caption_tokens("She GRINS, broadly -- self-satisfied!") == [
        "she", "grins", "broadly", "self-satisfied",
    ]  # fmt: skip
    # punctuation and case never change a score
    refs = [["A person smiles broadly, then nods."]]
    assert tx.bleu(["a person smiles broadly then nods"], refs) == tx.bleu(refs[0], refs)


def test_bleu_of_identical_strings_is_one_and_disjoint_is_zero():
    refs = [["a person smiles broadly and nods twice"]]
    assert tx.bleu(["a person smiles broadly and nods twice"], refs) == (1.0, 1.0)
    assert tx.bleu(["completely unrelated words here ok"], refs) == (0.0, 0.0)


def test_bleu_by_hand():
    # hyp: 6 words, ref: 7 words; clipped 1..4-gram matches: 6/6, 4/5, 3/4, 2/3
    hyp, ref = "the face smiles broadly and nods", "the face smiles broadly and then nods"
    b1, b4 = tx.bleu([hyp], [[ref]])
    brevity = math.exp(1 - 7 / 6)
    assert b1 == pytest.approx(brevity)
    assert b4 == pytest.approx(brevity * (1 * 4 / 5 * 3 / 4 * 2 / 3) ** 0.25)
    # clipping: a repeated word counts at most as often as in the reference
    assert tx.bleu(["nods nods nods"], [["she nods"]])[0] == pytest.approx(1 / 3)


def test_bleu_is_corpus_level_and_stats_add_up():
    hyps = ["a b c d", "e f"]
    refs = [["a b c d"], ["e g"]]
    stats = np.stack([tx.bleu_stats(h, r) for h, r in zip(hyps, refs, strict=True)])
    assert tx.bleu_from_stats(stats) == tx.bleu_from_stats(stats.sum(0)) == tx.bleu(hyps, refs)
    assert tx.bleu_from_stats(stats)[0] == pytest.approx(5 / 6)


def test_rouge_l_by_hand():
    assert tx.rouge_l(["a b c"], [["a b c"]]).tolist() == [1.0]
    # LCS("a b c d", "a c e") = 2: P = 2/4, R = 2/3, beta 1.2
    p, r, b2 = 0.5, 2 / 3, 1.2**2
    assert tx.rouge_l(["a b c d"], [["x", "a c e"]])[0] == pytest.approx(
        (1 + b2) * p * r / (r + b2 * p)
    )
    assert tx.rouge_l(["q"], [["a b"]])[0] == 0.0


def test_cider_d_rewards_the_right_caption():
    refs = [["she smiles broadly", "a broad smile"], ["he frowns deeply", "a deep frown"],
            ["they nod twice", "nodding twice"]]  # fmt: skip
    right = tx.cider_d(["she smiles broadly", "he frowns deeply", "they nod twice"], refs)
    wrong = tx.cider_d(["he frowns deeply", "they nod twice", "she smiles broadly"], refs)
    assert (right > wrong).all() and (wrong == 0).all()
    assert tx.cider_d(["she smiles broadly"] * 3, refs)[0] == pytest.approx(right[0])


def test_bertscore_identity_and_order():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 16))
    b = rng.normal(size=(6, 16))
    assert tx.bertscore([a], [[a]])[0] == pytest.approx([1.0, 1.0, 1.0])
    both = tx.bertscore([a], [[b, a]])[0]
    assert both[2] == pytest.approx(1.0)  # the best reference counts
    assert tx.bertscore([a], [[b]])[0, 2] < 0.9
