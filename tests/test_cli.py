from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from tdmm_lm.cli import EXIT_USER_ERROR, app, main
from tdmm_lm.face import ARKIT, load_sequence

runner = CliRunner()


def run_main(monkeypatch, *args: str) -> int:
    """Run the console-script entry point in-process; return its exit status."""
    monkeypatch.setattr(sys, "argv", ["tdmm", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "info" in result.output and "convert" in result.output


def test_info_json_prints_the_fields(tmp_path, make_sequence):
    make_sequence(n_frames=50, fps=25.0).save(tmp_path / "seq.npz")
    result = runner.invoke(app, ["info", str(tmp_path / "seq.npz"), "--json"])
    assert result.exit_code == 0, result.output
    fields = json.loads(result.stdout)
    assert {key: fields[key] for key in ("frames", "fps", "space", "seconds")} == {
        "frames": 50,
        "fps": 25.0,
        "space": "arkit",
        "seconds": 2.0,
    }
    assert fields["channels"] == list(ARKIT.channels)


def test_info_prints_a_table(tmp_path, make_sequence):
    make_sequence(n_frames=10).save(tmp_path / "seq.npz")
    result = runner.invoke(app, ["info", str(tmp_path / "seq.npz")])
    assert result.exit_code == 0, result.output
    assert "frames" in result.output and "arkit" in result.output


def test_convert_npz_to_csv_and_back(tmp_path, make_sequence):
    # Longer than a second: a shorter CSV take cannot tell its frame rate (it reads as 60).
    seq = make_sequence(n_frames=45, fps=30.0)
    seq.save(tmp_path / "a.npz")
    for source, target in [("a.npz", "b.csv"), ("b.csv", "c.npz")]:
        result = runner.invoke(app, ["convert", str(tmp_path / source), str(tmp_path / target)])
        assert result.exit_code == 0, result.output
    back = load_sequence(tmp_path / "c.npz")
    assert (back.n_frames, back.fps) == (45, 30.0)
    np.testing.assert_allclose(back.params, seq.params, atol=1e-5)


def test_bad_file_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    assert run_main(monkeypatch, "info", tmp_path / "broken.npz") == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "broken.npz" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_reading_glb_is_a_clear_error(tmp_path, monkeypatch, capsys, make_sequence):
    make_sequence().save(tmp_path / "a.npz")
    assert run_main(monkeypatch, "convert", tmp_path / "a.npz", tmp_path / "a.glb") == 0
    assert (tmp_path / "a.glb").read_bytes()[:4] == b"glTF"
    assert run_main(monkeypatch, "convert", tmp_path / "a.glb", tmp_path / "b.npz") == 2
    assert "glTF" in capsys.readouterr().err


def test_cli_module_does_not_import_torch():
    code = "import sys, tdmm_lm.cli; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
