"""The ``tdmm eval`` subcommands: train-evaluators, train-baseline and real."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tdmm_lm.cli import EXIT_USER_ERROR, main

#: Real face videos (never copied into the repository); the test skips without them.
REAL_FACES = Path(__file__).resolve().parents[3] / "shared" / "real-faces"


def run_main(monkeypatch, *args) -> int:
    monkeypatch.setattr(sys, "argv", ["tdmm", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code or 0


def test_train_evaluators_command(monkeypatch, capsys, eval_corpus, tmp_path):
    out = tmp_path / "E"
    code = run_main(
        monkeypatch,
        "eval",
        "train-evaluators",
        "--corpus",
        eval_corpus,
        "-o",
        out,
        "--recipe",
        "tiny",
        "--steps",
        "3",
    )
    assert code == 0
    assert "emotion_category" in capsys.readouterr().out
    stored = json.loads((out / "train_config.json").read_text())
    assert stored["steps"] == 3 and stored["recipe"] == "tiny"
    assert json.loads((out / "config.json").read_text())["type"] == "tdmm_evaluator"


def test_train_evaluators_bad_input(monkeypatch, capsys, eval_corpus, tmp_path):
    code = run_main(
        monkeypatch, "eval", "train-evaluators", "--corpus", tmp_path / "none", "-o", tmp_path / "E"
    )
    assert code == EXIT_USER_ERROR and "no such folder" in capsys.readouterr().err
    code = run_main(
        monkeypatch,
        "eval",
        "train-evaluators",
        "--corpus",
        eval_corpus,
        "-o",
        tmp_path / "E",
        "--recipe",
        "huge",
    )
    err = capsys.readouterr().err.strip()
    assert code == EXIT_USER_ERROR and "valid: tiny, release" in err and "\n" not in err


def test_train_baseline_command(monkeypatch, capsys, bare_model_dir, eval_corpus, tmp_path):
    out = tmp_path / "B"
    code = run_main(
        monkeypatch,
        "eval",
        "train-baseline",
        "--model",
        bare_model_dir,
        "--corpus",
        eval_corpus,
        "-o",
        out,
        "--steps",
        "2",
    )
    assert code == 0, capsys.readouterr().err
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["text_encoder"] == "minilm_sentence"
    train = json.loads((out / "train_config.json").read_text())
    assert train["recipe"] == "tiny" and train["l2m_fraction"] == 1.0  # the model's own recipe
    code = run_main(
        monkeypatch, "eval", "train-baseline", "--model", tmp_path, "--corpus", eval_corpus
    )
    assert code == EXIT_USER_ERROR and "no motion tokenizer" in capsys.readouterr().err


def test_real_needs_videos(monkeypatch, capsys, model_dir, tmp_path):
    (tmp_path / "empty").mkdir()
    code = run_main(
        monkeypatch,
        "eval",
        "real",
        "--videos",
        tmp_path / "empty",
        "-o",
        tmp_path / "R",
        "--model",
        model_dir,
    )
    err = capsys.readouterr().err.strip()
    assert code == EXIT_USER_ERROR and "no video" in err and "\n" not in err


@pytest.mark.skipif(not REAL_FACES.is_dir(), reason=f"real test videos not found in {REAL_FACES}")
def test_real_videos_are_tracked_and_described(monkeypatch, capsys, model_dir, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "d0.mp4").symlink_to(REAL_FACES / "d0.mp4")  # a link: never a copy of the data
    out = tmp_path / "R"
    code = run_main(
        monkeypatch, "eval", "real", "--videos", videos, "-o", out, "--model", model_dir
    )
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    [entry] = report["videos"]
    assert entry["video"] == "d0.mp4" and entry["caption"].strip()
    assert entry["qa"]["tracked_fraction"] > 0.9
    assert set(entry["qa"]["reprojection_error"]) >= {"mean", "p95"}
    assert set(entry["classifiers"]) == {"emotion_category", "head_motion", "intensity"}
    assert set(entry["classifiers_on_tokens"]) == set(entry["classifiers"])
    assert entry["tokenizer"]["vertex_error_mm"] > 0 and 0 <= entry["tokenizer"]["param_mae"] < 1
    assert entry["seconds"] == pytest.approx(3.1, abs=0.1)
    assert "d0.mp4" in (out / "report.md").read_text()
    assert (out / "confidence.png").stat().st_size > 1000
    assert (out / "sequences" / "d0.npz").is_file()
