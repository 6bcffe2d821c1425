"""The evaluators: shapes, the artefact round trip, training, and their configs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tdmm_lm.eval import EvaluatorConfig, EvaluatorTrainConfig, MotionEvaluator
from tdmm_lm.eval.data import ATTRIBUTE_CLASSES, ATTRIBUTES, TEST_SPLITS, load_clips
from tdmm_lm.eval.train_evaluators import contrastive_loss, get_batch, lr_at, time_stretch
from tdmm_lm.face import FaceSequence


def small() -> MotionEvaluator:
    torch.manual_seed(0)
    return MotionEvaluator(EvaluatorConfig(width=8, head_width=4, embed_dim=16))


def test_read_gives_unit_embeddings_and_known_classes():
    model = small()
    rng = np.random.default_rng(0)
    clips = [rng.uniform(0, 0.5, size=(n, 61)).astype(np.float32) for n in (30, 75, 12)]
    out = model.read(clips)
    assert out.embeddings.shape == (3, 16)
    assert np.allclose(np.linalg.norm(out.embeddings, axis=1), 1.0, atol=1e-5)
    for a in ATTRIBUTES:
        assert len(out.predictions[a]) == 3 and set(out.predictions[a]) <= set(ATTRIBUTE_CLASSES[a])
    # the reading of a clip does not depend on its batch (padding is masked)
    alone = model.read(clips[2:])
    assert np.allclose(alone.embeddings[0], out.embeddings[2], atol=1e-5)
    # sequences at another frame rate are resampled to the evaluator's
    seq = FaceSequence(clips[1], fps=25.0)
    assert np.allclose(model.read([seq]).embeddings, out.embeddings[1:2], atol=1e-5)
    assert model.read([seq.resample(50.0)]).embeddings.shape == (1, 16)


def test_save_and_load_round_trip_exactly(tmp_path):
    model = small()
    model.set_stats([np.random.default_rng(1).normal(size=(20, 61)).astype(np.float32)])
    model.save_pretrained(tmp_path / "E")
    back = MotionEvaluator.from_pretrained(tmp_path / "E")
    assert not back.training
    assert back.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), back.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    for key in ("mean", "std", "vel_std"):
        assert torch.equal(getattr(model, key), getattr(back, key))
    clip = [np.full((40, 61), 0.2, np.float32)]
    assert np.array_equal(model.eval().read(clip).embeddings, back.read(clip).embeddings)


def test_configs_validate():
    with pytest.raises(ValueError, match="width"):
        EvaluatorConfig(width=0)
    with pytest.raises(ValueError, match="head_channels"):
        EvaluatorConfig(head_channels=[70])
    with pytest.raises(ValueError, match="valid: tiny, release"):
        EvaluatorTrainConfig.from_recipe("huge")
    with pytest.raises(ValueError, match="batch_size"):
        EvaluatorTrainConfig(batch_size=1)
    cfg = EvaluatorTrainConfig.from_recipe("tiny", steps=7)
    assert cfg.steps == 7 and cfg.recipe == "tiny"
    assert EvaluatorTrainConfig(**json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_lr_schedule_and_stretch():
    cfg = EvaluatorTrainConfig(steps=100, warmup_steps=10, lr=1e-3)
    assert lr_at(0, cfg) == pytest.approx(1e-4)
    assert lr_at(10, cfg) == pytest.approx(1e-3)
    assert lr_at(100, cfg) == pytest.approx(1e-4)
    ramp = np.linspace(0, 1, 11, dtype=np.float32)[:, None].repeat(61, 1)
    longer = time_stretch(ramp, 2.0)
    assert len(longer) == 22 and longer[0, 0] == 0 and longer[-1, 0] == 1
    assert np.all(np.diff(longer[:, 0]) > 0)


def test_contrastive_loss_drops_near_duplicate_negatives():
    cfg = EvaluatorTrainConfig()
    motion = torch.eye(3)
    text = torch.eye(3)
    distinct = torch.eye(3)
    twins = torch.tensor([[1.0, 0, 0], [1.0, 0, 0], [0, 0, 1.0]])  # texts 0 and 1 identical
    base = contrastive_loss(motion, text, distinct, cfg)
    assert contrastive_loss(motion, text, twins, cfg) < base
    keep = torch.tensor([True, True, False])
    assert contrastive_loss(motion, text, distinct, cfg, keep) < base


def test_head_swap_moves_the_head_label_with_the_angles(eval_corpus):
    clips = load_clips(eval_corpus, "train")
    vectors = np.zeros((len(clips), 1, 384), np.float32)
    index = np.arange(16)
    batch = get_batch(clips, vectors, index, np.random.default_rng(0), head_swap=0.9)
    swapped = batch["head_from"] != torch.arange(16)
    assert swapped.any()
    heads = torch.from_numpy(clips.targets("head_motion")[index])
    assert torch.equal(batch["head_motion"], heads[batch["head_from"]])
    assert torch.equal(
        batch["emotion_category"], torch.from_numpy(clips.targets("emotion_category")[index])
    )


def test_training_writes_the_artefact_and_its_report(evaluator_dir, eval_corpus):
    for name in ("config.json", "model.safetensors", "stats.safetensors", "train_config.json"):
        assert (evaluator_dir / name).is_file(), name
    report = json.loads((evaluator_dir / "report.json").read_text())
    assert set(report["splits"]) == set(TEST_SPLITS)
    for split in report["splits"].values():
        assert set(split["accuracy"]) == set(ATTRIBUTES)
        assert 0.0 <= split["retrieval"]["R@1"] <= split["retrieval"]["R@3"] <= 1.0
    # a few steps on a tiny corpus: head motion is the easiest attribute; on the training
    # clips the evaluator must beat always answering the commonest class
    model = MotionEvaluator.from_pretrained(evaluator_dir)
    train = load_clips(eval_corpus, "train")
    predicted = model.read(train.params).predictions["head_motion"]
    truth = [lab["head_motion"] for lab in train.labels]
    accuracy = np.mean([p == t for p, t in zip(predicted, truth, strict=True)])
    majority = max(truth.count(c) for c in set(truth)) / len(truth)
    assert accuracy > majority, (accuracy, majority)


def test_the_baseline_settings_fit_every_language_model_recipe():
    from tdmm_lm.eval.baselines import T2M_BASELINE_SETTINGS
    from tdmm_lm.lm.recipes import RECIPES, TrainConfig

    for name, recipe in RECIPES.items():
        # Also a recipe whose captions read frame velocities: the baseline reads no frames.
        with_velocity = {**recipe.to_dict(), "frame_inputs": True, "frame_velocity": True}
        cfg = TrainConfig.from_dict({**with_velocity, **T2M_BASELINE_SETTINGS})
        assert cfg.l2m_fraction == 1.0 and not cfg.frame_inputs and not cfg.frame_velocity, name
