"""Training: the artefact and its files, the log, save/load, resume, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.tokenizer import MotionTokenizer, TokenizerTrainConfig, train_tokenizer
from tdmm_lm.tokenizer.data import load_split
from tdmm_lm.tokenizer.report import REPORT_KEYS
from tdmm_lm.tokenizer.train import lr_at

TINY_STEPS = 30  # as in conftest


class Killed(Exception):
    """Stands in for a kill in the middle of a run."""


def test_the_run_becomes_an_artefact_with_config_log_and_report(trained):
    out, report = trained
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "stats.safetensors"} <= names
    assert {"train_config.json", "train_log.jsonl", "report.json"} <= names
    assert "checkpoint" not in names
    header = json.loads((out / "config.json").read_text())
    assert header["type"] == "motion_tokenizer" and header["config"]["fps"] == 25.0
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["recipe"] == "tiny" and saved["steps"] == TINY_STEPS
    assert json.loads((out / "report.json").read_text()) == report


def test_the_log_has_losses_usage_and_speed(trained):
    lines = [json.loads(line) for line in (trained[0] / "train_log.jsonl").read_text().splitlines()]
    train_lines = [x for x in lines if x["kind"] == "train"]
    val_lines = [x for x in lines if x["kind"] == "val"]
    assert [x["step"] for x in train_lines] == list(range(10, TINY_STEPS + 1, 10))
    assert [x["step"] for x in val_lines] == [15, 30]
    for key in ("total", "vertex", "angle", "commit", "usage", "perplexity", "tokens_per_s",
                "wall_s", "lr"):  # fmt: skip
        assert key in train_lines[-1], key
    assert "vertex_error_mm" in val_lines[-1]


def test_report_has_the_required_keys(trained):
    report = trained[1]
    for key in (*REPORT_KEYS, "split", "codebook_size", "frames_per_token", "context"):
        assert key in report, key
    assert report["split"] == "test" and 0 < report["codebook_usage"] <= 1
    assert 1 <= report["perplexity"] <= report["codebook_size"]
    assert report["vertex_error_mm"] > 0 and report["head_angle_error_deg"] >= 0


def test_save_load_round_trip_is_exact(trained, tokenizer, tiny_corpus, tmp_path):
    assert not tokenizer.training
    sequences = load_split(tiny_corpus, "val").sequences()
    tokens = tokenizer.encode_batch(sequences)
    tokenizer.save_pretrained(tmp_path / "again")
    again = MotionTokenizer.from_pretrained(tmp_path / "again")
    for a, b in zip(tokens, again.encode_batch(sequences), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(tokenizer.decode(tokens[0]), again.decode(tokens[0]))
    for key, value in tokenizer.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
    np.testing.assert_array_equal(again.artifact_stats()["std"], tokenizer.artifact_stats()["std"])


def test_resume_after_a_kill_ends_with_the_same_weights(
    trained, tiny_corpus, tmp_path, tiny_config
):
    out = tmp_path / "tok"
    cfg = tiny_config(tiny_corpus, out)

    def kill_at_25(step: int, total: int) -> None:
        if step == 25:
            raise Killed

    with pytest.raises(Killed):
        train_tokenizer(cfg, progress=kill_at_25)
    state = json.loads((out / "checkpoint" / "config.json").read_text())["config"]
    assert state["step"] == 20  # the last checkpoint; steps 21-25 are lost and redone
    train_tokenizer(cfg, resume=True)
    uninterrupted = load_file(str(trained[0] / "model.safetensors"))
    resumed = load_file(str(out / "model.safetensors"))
    assert uninterrupted.keys() == resumed.keys()
    for key, value in uninterrupted.items():
        assert torch.equal(value, resumed[key]), key
    steps = [json.loads(x)["step"] for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert steps == sorted(steps), "no lines from the lost steps"
    # Resuming a finished run returns its report without training again.
    assert train_tokenizer(cfg, resume=True) == json.loads((out / "report.json").read_text())


def test_refuses_to_overwrite_or_to_resume_another_run(trained, tiny_corpus, tiny_config):
    out = trained[0]
    with pytest.raises(InvalidInputError, match="not empty"):
        train_tokenizer(tiny_config(tiny_corpus, out))


def test_resume_checks_the_config(tiny_corpus, tmp_path, tiny_config):
    out = tmp_path / "tok"

    def kill_at_12(step: int, total: int) -> None:
        if step == 12:
            raise Killed

    with pytest.raises(Killed):
        train_tokenizer(tiny_config(tiny_corpus, out), progress=kill_at_12)
    with pytest.raises(InvalidInputError, match="seed"):
        train_tokenizer(tiny_config(tiny_corpus, out, seed=1), resume=True)


def test_rate_two_trains_and_gives_half_the_tokens(tiny_corpus, tmp_path, tiny_config):
    cfg = tiny_config(tiny_corpus, tmp_path / "tok", steps=12, ae_warmup_steps=4)
    cfg.model.frames_per_token = 2
    report = train_tokenizer(cfg)
    tok = MotionTokenizer.from_pretrained(tmp_path / "tok")
    assert tok.frames_per_token == report["frames_per_token"] == 2
    assert len(tok.encode(np.zeros((101, 61), np.float32))) == 51


def test_recipes_and_config_checks(tiny_corpus):
    with pytest.raises(InvalidInputError, match="valid: tiny"):
        TokenizerTrainConfig.from_recipe("nope")
    with pytest.raises(InvalidInputError, match="window"):
        TokenizerTrainConfig.from_recipe("tiny", window=33, model={"frames_per_token": 2})
    release = TokenizerTrainConfig.from_recipe("release", corpus="C", steps=7)
    assert release.steps == 7 and release.model.frames_per_token == 1
    assert TokenizerTrainConfig(**release.to_dict()) == release  # JSON round trip


def test_lr_schedule_warms_up_then_decays():
    cfg = TokenizerTrainConfig(steps=100, warmup_steps=10, lr=1e-3, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(1e-4)
    assert lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(100, cfg) == pytest.approx(1e-4)
    assert all(lr_at(s, cfg) >= lr_at(s + 1, cfg) for s in range(10, 100))


def test_novelty_is_near_one_on_corpus_motion_and_far_above_it_off_the_corpus(
    tokenizer, tiny_corpus
):
    corpus_motion = load_split(tiny_corpus, "test").sequences(6)
    usual = float(np.mean([tokenizer.novelty(s) for s in corpus_motion]))
    assert 0.0 < usual < 3.0
    off = np.zeros((40, 61), np.float32)
    off[:, :52] = 1.0  # every blendshape at once: no generator makes this face
    assert tokenizer.novelty(off) > 3.0 * usual
    with pytest.raises(InvalidInputError):
        tokenizer.novelty(np.zeros((0, 61), np.float32))


def test_the_tokenizer_keeps_the_range_its_training_motion_spans(trained, tiny_corpus):
    from tdmm_lm.face import ARKIT

    tok = MotionTokenizer.from_pretrained(trained[0])
    low, high = tok.seen_low.numpy(), tok.seen_high.numpy()
    frames = load_split(tiny_corpus, "train").frames
    assert (low >= ARKIT.low).all() and (high <= ARKIT.high).all() and (low <= high).all()
    # Nearly every training frame lies inside it, and the range is not the space's.
    inside = ((frames >= low) & (frames <= high)).mean(0)
    assert inside.min() > 0.99 and (high - low < ARKIT.high - ARKIT.low).any()
    gaze = ARKIT.channels.index("leftEyeYaw")
    wild = frames[:40].copy()
    wild[:, gaze] = 3.0 * ARKIT.high[gaze]  # far beyond anything seen in training
    held = tok.within_seen_range(wild)
    assert np.allclose(held[:, gaze], high[gaze])
    tame = np.clip(frames[:40], low, high)
    np.testing.assert_array_equal(tok.within_seen_range(tame), tame)
    # A tokenizer saved before the range existed keeps the space's.
    old = MotionTokenizer(tok.config)
    stats = tok.artifact_stats()
    old.load_artifact_stats({"mean": stats["mean"], "std": stats["std"]})
    np.testing.assert_array_equal(old.seen_high.numpy(), np.asarray(ARKIT.high, np.float32))
