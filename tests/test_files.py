"""Atomic writes: a file appears complete or not at all."""

import json

import pytest

from tdmm_lm.files import atomic_write, write_json_atomic, write_text_atomic


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "a.json"
    write_json_atomic(path, {"v": 1})
    with pytest.raises(RuntimeError), atomic_write(path) as f:
        f.write(b'{"v": 2, "half')
        raise RuntimeError("killed mid-write")
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]


def test_json_and_text_writes(tmp_path):
    write_json_atomic(tmp_path / "r.json", {"é": [1, 2]}, ensure_ascii=False)
    assert "é" in (tmp_path / "r.json").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8")) == {"é": [1, 2]}
    write_text_atomic(tmp_path / "r.md", "# report\n")
    write_text_atomic(tmp_path / "r.md", "# report 2\n")  # replaces
    assert (tmp_path / "r.md").read_text() == "# report 2\n"
