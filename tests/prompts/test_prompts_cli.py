from __future__ import annotations

import json
import sys

import pytest

from tdmm_lm.cli import main
from tdmm_lm.prompts.io import read_prompts
from tdmm_lm.prompts.sampler import sample_prompts
from tdmm_lm.prompts.schema import PromptSpec


def run(monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["tdmm", *args])
    try:
        main()
    except SystemExit as e:
        if e.code not in (0, None):
            raise


def test_prompts_round_trip(monkeypatch, tmp_path, capsys):
    out = tmp_path / "prompts.jsonl"
    run(monkeypatch, "data", "prompts", "--n", "40", "-o", str(out), "--seed", "9")
    assert str(out) in capsys.readouterr().out
    lines = out.read_text().splitlines()
    assert len(lines) == 40
    specs = [PromptSpec.from_dict(json.loads(line)) for line in lines]
    assert [s.to_dict() for s in specs] == [s.to_dict() for s in sample_prompts(40, seed=9)]
    assert [s.to_dict() for s in read_prompts(out)] == [s.to_dict() for s in specs]
    assert not [p for p in tmp_path.iterdir() if p.name != "prompts.jsonl"]  # no temp left


def test_prompts_overwrites_atomically(monkeypatch, tmp_path):
    out = tmp_path / "prompts.jsonl"
    out.write_text("old\n")
    run(monkeypatch, "data", "prompts", "--n", "3", "-o", str(out))
    assert len(out.read_text().splitlines()) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "0"], "--n must be a positive"),
        (["--n", "-5"], "--n must be a positive"),
    ],
)
def test_bad_n_is_a_one_line_error(monkeypatch, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as e:
        run(monkeypatch, "data", "prompts", *args, "-o", str(tmp_path / "p.jsonl"))
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "p.jsonl").exists()


@pytest.mark.parametrize("where", ["missing/p.jsonl", "."])
def test_unwritable_output_is_a_one_line_error(monkeypatch, tmp_path, capsys, where):
    with pytest.raises(SystemExit) as e:
        run(monkeypatch, "data", "prompts", "--n", "2", "-o", str(tmp_path / where))
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot write") or "is a directory" in err
    assert "\n" not in err
