"""The expression reader and the perceptual loss it gives the tokenizer's training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tdmm_lm.data import read_split
from tdmm_lm.errors import InvalidInputError
from tdmm_lm.prompts import CATEGORIES
from tdmm_lm.tokenizer import (
    MotionTokenizer,
    TokenizerConfig,
    TokenizerTrainConfig,
    train_tokenizer,
)
from tdmm_lm.tokenizer.data import channel_stats, load_split
from tdmm_lm.tokenizer.expression import (
    IGNORE,
    ExpressionReader,
    ExpressionReaderConfig,
    frame_labels,
    perceptual_loss,
    reader_accuracy,
    train_expression_reader,
)

SMALL_READER = {"width": 32, "steps": 150, "batch_size": 16, "dilations": (1, 2)}


class Killed(Exception):
    """Stands in for a kill in the middle of a run."""


@pytest.fixture(scope="module")
def train_split(tiny_corpus):
    return load_split(tiny_corpus, "train")


@pytest.fixture(scope="module")
def normaliser(train_split) -> MotionTokenizer:
    tok = MotionTokenizer(TokenizerConfig())
    mean, std = channel_stats(train_split)
    tok.set_stats(mean, std, train_split.frames.min(0), train_split.frames.max(0))
    return tok


@pytest.fixture(scope="module")
def reader(tiny_corpus, train_split, normaliser) -> ExpressionReader:
    labels = frame_labels(tiny_corpus, "train", train_split, margin_s=0.25)
    config = ExpressionReaderConfig(**SMALL_READER)
    return train_expression_reader(train_split, labels, normaliser.normalise, config, 32, seed=0)


def test_frames_take_their_segments_labels_and_boundaries_none(tiny_corpus, train_split):
    labels = frame_labels(tiny_corpus, "train", train_split, margin_s=0.25)
    rows = read_split(tiny_corpus, "train", columns=["labels"]).column("labels").to_pylist()
    margin = int(np.ceil(0.25 * train_split.fps))
    for i, row in enumerate(rows[:20]):
        at = slice(train_split.starts[i], train_split.starts[i] + train_split.lengths[i])
        emotion = labels.emotion[at]
        for segment in row["segments"]:
            first = int(np.ceil(segment["start_s"] * train_split.fps))
            last = int(np.ceil(segment["end_s"] * train_split.fps))  # exclusive
            middle = (first + last) // 2
            if last - first > 2 * margin + 1:
                assert CATEGORIES[emotion[middle]] == segment["emotion_category"]
            if segment["start_s"] > 0:
                assert emotion[first] == IGNORE, "a change of segment carries no label"
    assert (labels.emotion != IGNORE).mean() > 0.5


def test_the_reader_learns_emotion_and_is_frozen(tiny_corpus, train_split, normaliser, reader):
    labels = frame_labels(tiny_corpus, "train", train_split, margin_s=0.25)
    accuracy = reader_accuracy(reader, train_split, labels, normaliser.normalise)
    labelled = labels.emotion[labels.emotion != IGNORE]
    majority = np.bincount(labelled).max() / len(labelled)
    assert accuracy["emotion_accuracy"] > majority + 0.15, (accuracy, majority)
    assert not any(p.requires_grad for p in reader.parameters())
    assert not reader.training


def test_the_perceptual_loss_is_zero_on_the_truth_and_grows_with_mouth_error(
    train_split, normaliser, reader
):
    raw, mask = train_split.windows(np.array([[0, 0], [1, 0]]), 32)
    x = normaliser.normalise(torch.from_numpy(raw)) * torch.from_numpy(mask)[..., None]
    mask = torch.from_numpy(mask)
    assert float(perceptual_loss(reader, x, x, mask)) == pytest.approx(0.0, abs=1e-6)
    losses = []
    for size in (0.5, 2.0):
        recon = x.clone()
        recon[..., 23:45] += size  # the mouth blendshapes, in standard deviations
        recon.requires_grad_(True)
        loss = perceptual_loss(reader, recon, x, mask)
        loss.backward()
        losses.append(float(loss.detach()))
        assert recon.grad is not None and recon.grad[..., 23:45].abs().sum() > 0
        assert recon.grad[..., 52:].abs().sum() == 0, "the reader reads blendshapes only"
    assert 0 < losses[0] < losses[1]


def test_a_perceptual_run_logs_its_reader_and_resumes_to_the_same_weights(
    tiny_corpus, tmp_path, tiny_config
):
    def config(out):
        return tiny_config(tiny_corpus, out, perceptual_weight=1.0, reader=dict(SMALL_READER))

    train_tokenizer(config(tmp_path / "whole"))
    lines = [
        json.loads(x) for x in (tmp_path / "whole" / "train_log.jsonl").read_text().splitlines()
    ]
    reader_lines = [x for x in lines if x["kind"] == "reader"]
    assert len(reader_lines) == 1 and 0 < reader_lines[0]["emotion_accuracy"] <= 1
    assert all("perceptual" in x for x in lines if x["kind"] == "train")
    saved = json.loads((tmp_path / "whole" / "train_config.json").read_text())
    assert saved["perceptual_weight"] == 1.0 and saved["reader"]["width"] == 32

    def kill_at_25(step: int, total: int) -> None:
        if step == 25:
            raise Killed

    with pytest.raises(Killed):
        train_tokenizer(config(tmp_path / "killed"), progress=kill_at_25)
    train_tokenizer(config(tmp_path / "killed"), resume=True)
    whole = load_file(str(tmp_path / "whole" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "killed" / "model.safetensors"))
    for key, value in whole.items():
        assert torch.equal(value, resumed[key]), key


def test_the_perceptual_recipe_and_its_config_round_trip_through_json():
    cfg = TokenizerTrainConfig.from_recipe("perceptual", corpus="C")
    assert cfg.perceptual_weight == 1.0 and cfg.model.residual_codebook_size == 1024
    assert TokenizerTrainConfig(**json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert TokenizerTrainConfig.from_recipe("residual", corpus="C").perceptual_weight == 0.0
    with pytest.raises(InvalidInputError, match="perceptual_weight"):
        TokenizerTrainConfig.from_recipe("tiny", perceptual_weight=-1.0)
