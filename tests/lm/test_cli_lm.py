"""tdmm train / animate / describe on the command line."""

import json
import sys

import numpy as np
import pytest

from tdmm_lm.cli import main
from tdmm_lm.lm import api as lm_api


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["tdmm", *args])
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_animate_then_describe(monkeypatch, capsys, tiny_model_dir, tmp_path):
    out = tmp_path / "a.npz"
    code, stdout, err = run(
        monkeypatch,
        capsys,
        "animate",
        "a person smiles",
        "-o",
        str(out),
        "--seconds",
        "2",
        "--seed",
        "1",
        "--model",
        str(tiny_model_dir),
    )
    assert code == 0, err
    z = np.load(out)
    assert z["params"].shape == (50, 61) and "mouthSmileLeft" in list(z["channels"])
    code, stdout, err = run(
        monkeypatch, capsys, "describe", str(out), "--model", str(tiny_model_dir), "--json"
    )
    assert code == 0, err
    record = json.loads(stdout)
    assert record["frames"] == 50 and isinstance(record["description"], str)
    assert record["novelty"] >= 0.0
    csv = tmp_path / "a.csv"
    code, _, err = run(
        monkeypatch,
        capsys,
        "animate",
        "a nod",
        "-o",
        str(csv),
        "--seconds",
        "1",
        "--change-temperature",
        "0.5",
        "--model",
        str(tiny_model_dir),
    )
    assert code == 0, err
    code, stdout, err = run(
        monkeypatch, capsys, "describe", str(csv), "--model", str(tiny_model_dir)
    )
    assert code == 0 and stdout.strip(), err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["animate", "", "-o", "{tmp}/x.npz"], "prompt is empty"),
        (["animate", "smile", "-o", "{tmp}/x.txt"], "write .npz"),
        (["animate", "smile", "-o", "{tmp}/x.npz", "--seconds", "-1"], "--seconds"),
        (["animate", "smile", "-o", "{tmp}/x.npz", "--change-temperature", "0"], "change_temp"),
        (["animate", "smile", "-o", "{tmp}/x.npz", "--model", "{tmp}/none"], "does not exist"),
        (["describe", "{tmp}/missing.npz"], "no such file"),
        (["describe", "{tmp}/notes.txt"], "describe reads"),
        (
            ["train", "--corpus", "{tmp}/none", "--tokenizer", "{tmp}", "-o", "{tmp}/m"],
            "no such folder",
        ),
    ],
)
def test_user_errors_are_one_line(monkeypatch, capsys, tiny_model_dir, tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("hi")
    args = [a.format(tmp=tmp_path) for a in args]
    if args[0] == "animate" and "--model" not in args:
        args += ["--model", str(tiny_model_dir)]
    code, _, err = run(monkeypatch, capsys, *args)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err


def test_describe_warns_on_motion_unlike_the_training_motion(
    monkeypatch, capsys, tiny_model_dir, tmp_path
):
    from tdmm_lm.face import FaceSequence

    path = tmp_path / "odd.npz"
    params = np.zeros((50, 61), np.float32)
    params[:, :52] = 1.0  # every blendshape at once
    FaceSequence(params, fps=25.0).save(path)
    args = ("describe", str(path), "--model", str(tiny_model_dir))
    code, stdout, err = run(monkeypatch, capsys, *args)
    assert code == 0, err
    assert stdout.strip() and "unlike the model's training motion" in err
    assert len(err.strip().splitlines()) == 1


def test_describe_nan_sequence_is_a_user_error(monkeypatch, capsys, tiny_model_dir, tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(
        bad,
        params=np.full((10, 61), np.nan, np.float32),
        space="arkit",
        fps=25.0,
        channels=np.array(["x"] * 61),
        meta="{}",
    )
    code, _, err = run(monkeypatch, capsys, "describe", str(bad), "--model", str(tiny_model_dir))
    assert code == 2 and err.count("\n") == 1, err


def test_no_release_model(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(lm_api, "RELEASE_DIR", tmp_path / "release")
    code, _, err = run(monkeypatch, capsys, "animate", "smile", "-o", str(tmp_path / "a.npz"))
    assert code == 2 and "tdmm train --recipe release" in err


def test_train_command_tiny(monkeypatch, capsys, tiny_corpus, tiny_tokenizer, tmp_path):
    out = tmp_path / "m"
    code, _stdout, err = run(
        monkeypatch,
        capsys,
        "train",
        "--corpus",
        str(tiny_corpus),
        "--tokenizer",
        str(tiny_tokenizer),
        "-o",
        str(out),
        "--recipe",
        "tiny",
        "--steps",
        "3",
        "--seed",
        "5",
    )
    assert code == 0, err
    config = json.loads((out / "train_config.json").read_text())
    assert config["steps"] == 3 and config["seed"] == 5 and config["recipe"] == "tiny"
    assert (out / "model.safetensors").exists()


def test_train_needs_a_corpus_and_tokenizer_unless_it_builds_the_release(
    monkeypatch, capsys, tiny_corpus, tmp_path
):
    code, _, err = run(monkeypatch, capsys, "train", "--corpus", str(tiny_corpus), "-o",
                       str(tmp_path / "m"), "--recipe", "tiny")  # fmt: skip
    assert code == 2 and "--tokenizer is needed" in err and err.count("\n") == 1
    done = tmp_path / "r"
    done.mkdir()
    (done / "release.json").write_text("{}")
    code, _, err = run(monkeypatch, capsys, "train", "--recipe", "release", "-o", str(done))
    assert code == 2 and "--resume" in err and err.count("\n") == 1
