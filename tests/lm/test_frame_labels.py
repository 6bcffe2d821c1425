"""Per-token segment labels and the auxiliary heads that learn them."""

import dataclasses

import numpy as np
import pytest
import torch

from tdmm_lm.lm.data import collate
from tdmm_lm.lm.frame_labels import FRAME_LABEL_CLASSES, IGNORE, frame_labels
from tdmm_lm.lm.model import GPTConfig, TdmmGPT
from tdmm_lm.lm.tasks import TaskBuilder
from tdmm_lm.lm.vocab import train_vocab
from tdmm_lm.prompts import CATEGORIES, HEAD_MOTIONS, INTENSITY_LEVELS

LABELS = {
    "segments": [
        {"start_s": 0.0, "end_s": 1.0, "emotion_category": "neutral", "intensity": "subtle",
         "head_motion": "still"},
        {"start_s": 1.0, "end_s": 3.0, "emotion_category": "anger", "intensity": "extreme",
         "head_motion": "nod"},
    ]
}  # fmt: skip


def test_tokens_take_the_labels_of_the_segment_they_fall_in():
    out = frame_labels(LABELS, n_tokens=6, seconds=3.0)  # token centres 0.25, 0.75, … 2.75 s
    neutral = [CATEGORIES.index("neutral"), INTENSITY_LEVELS.index("subtle"),
               HEAD_MOTIONS.index("still")]  # fmt: skip
    anger = [CATEGORIES.index("anger"), INTENSITY_LEVELS.index("extreme"),
             HEAD_MOTIONS.index("nod")]  # fmt: skip
    np.testing.assert_array_equal(out, [neutral] * 2 + [anger] * 4)
    assert out.dtype == np.int64


def test_unknown_values_and_missing_segments_are_ignored():
    odd = {"segments": [dict(LABELS["segments"][1], emotion_category="glee")]}
    out = frame_labels(odd, n_tokens=4, seconds=2.0)
    assert (out[:, 0] == IGNORE).all() and (out[:, 1:] >= 0).all()
    assert (frame_labels({"segments": []}, 5, 2.0) == IGNORE).all()
    assert frame_labels(LABELS, 0, 3.0).shape == (0, len(FRAME_LABEL_CLASSES))


def test_batches_carry_the_labels_on_the_motion_inputs_of_both_tasks():
    vocab = train_vocab(["a face smiles and nods twice"] * 4, codebook_size=8, bpe_size=300)
    builder = TaskBuilder(vocab)
    codes = np.array([1, 1, 2, 3, 3, 3])
    labels = frame_labels(LABELS, len(codes), 3.0)
    examples = [
        dataclasses.replace(builder.l2m("a face smiles", codes, 3.0), frame_labels=labels),
        dataclasses.replace(builder.m2l(codes, "it smiles"), frame_labels=labels),
        builder.m2l(codes, "no labels here"),
    ]
    batch = collate(examples, vocab.pad, block_size=256)
    assert batch.aux_targets.shape == (*batch.idx.shape, len(FRAME_LABEL_CLASSES))
    for row in range(2):
        is_motion = torch.from_numpy(vocab.motion_mask())[batch.idx[row]]
        assert is_motion.sum() == len(codes)
        np.testing.assert_array_equal(batch.aux_targets[row][is_motion].numpy(), labels)
        assert (batch.aux_targets[row][~is_motion] == IGNORE).all()
    assert (batch.aux_targets[2] == IGNORE).all()


def test_auxiliary_heads_learn_per_token_labels_and_do_not_touch_decoding():
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=40, block_size=32, n_layer=2, n_head=2, d_model=32,
                    aux_classes=(3, 2), aux_layer=1)  # fmt: skip
    model = TdmmGPT(cfg)
    idx = torch.randint(0, 40, (4, 16))
    aux = torch.stack([idx % 3, (idx >= 20).long()], -1)  # labels readable from each token
    aux[:, :4] = IGNORE
    logits, loss = model(idx, all_logits=True, aux_targets=aux)
    assert loss is not None and loss.item() > 0.5
    no_aux, none = model(idx, all_logits=True)
    assert none is None
    torch.testing.assert_close(logits, no_aux)  # the heads only add a loss
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        _, loss = model(idx, all_logits=True, aux_targets=aux)
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert loss.item() < 0.1
    with pytest.raises(ValueError, match="aux_layer"):
        GPTConfig(n_layer=2, aux_classes=(3,), aux_layer=3)
    with pytest.raises(ValueError, match="without auxiliary heads"):
        TdmmGPT(GPTConfig(vocab_size=40))(idx, all_logits=True, aux_targets=aux)


def test_the_trained_model_keeps_its_auxiliary_heads_through_save_and_load(tiny_model_dir):
    from tdmm_lm.lm import load_model

    model = load_model(tiny_model_dir)
    assert model.lm.config.aux_classes == tuple(len(c) for c in FRAME_LABEL_CLASSES)
    heads = [h.weight for h in model.lm.aux_heads]
    assert [w.shape[0] for w in heads] == list(model.lm.config.aux_classes)
    assert all(torch.isfinite(w).all() for w in heads)
