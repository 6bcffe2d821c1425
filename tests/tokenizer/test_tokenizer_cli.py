"""``tdmm tokenizer train`` / ``eval`` through the console entry point."""

from __future__ import annotations

import json
import sys

import pytest

from tdmm_lm.cli import EXIT_USER_ERROR, main


def run_main(monkeypatch, *args) -> int:
    monkeypatch.setattr(sys, "argv", ["tdmm", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


def test_train_then_eval(monkeypatch, capsys, tiny_corpus, tmp_path):
    out = tmp_path / "tok"
    args = ("tokenizer", "train", "--corpus", tiny_corpus, "-o", out, "--recipe", "tiny")
    assert run_main(monkeypatch, *args, "--steps", 12, "--seed", 3) == 0
    assert "vertex error" in capsys.readouterr().out
    assert json.loads((out / "train_config.json").read_text())["seed"] == 3
    evaluate = ("tokenizer", "eval", "--tokenizer", out, "--corpus", tiny_corpus)
    assert run_main(monkeypatch, *evaluate, "--split", "val", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == "val" and "codebook_usage" in report


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--corpus", "{tmp}/missing"), "not a corpus"),
        (("--corpus", "{corpus}", "--recipe", "huge"), "unknown recipe 'huge'"),
        (("--corpus", "{corpus}", "--steps", "0"), "steps must be positive"),
    ],
)
def test_bad_input_is_a_one_line_error(monkeypatch, capsys, tiny_corpus, tmp_path, args, message):
    args = [a.format(tmp=tmp_path, corpus=tiny_corpus) for a in args]
    code = run_main(monkeypatch, "tokenizer", "train", "-o", tmp_path / "tok", *args)
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR
    assert message in err and err.count("\n") == 1


def test_eval_of_a_missing_tokenizer_is_a_one_line_error(
    monkeypatch, capsys, tiny_corpus, tmp_path
):
    code = run_main(
        monkeypatch, "tokenizer", "eval", "--tokenizer", tmp_path, "--corpus", tiny_corpus
    )
    assert code == EXIT_USER_ERROR and "not a tdmm-lm artefact" in capsys.readouterr().err
