"""The corpus builder: format, splits, determinism, kill-and-resume, card."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tdmm_lm.data import SPLITS, BuildConfig, build_corpus, iter_samples, read_manifest, read_split
from tdmm_lm.data.format import SHARD_DIR
from tdmm_lm.errors import InvalidInputError

SMALL = BuildConfig(hours=0.12, seed=3, block_size=24, workers=1)


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "C"
    build_corpus(out, SMALL)
    return out


def all_rows(corpus: Path) -> dict[str, dict]:
    rows = {}
    for split in SPLITS:
        for row in iter_samples(corpus, split):
            assert row["id"] not in rows, f"duplicate id {row['id']}"
            rows[row["id"]] = row
    return rows


def test_manifest_counts_and_hours(small_corpus):
    m = read_manifest(small_corpus)
    assert m.complete
    assert m.hours["total"] >= SMALL.hours
    assert m.hours["total"] < SMALL.hours + 8 / 3600  # overshoot at most one clip
    rows = all_rows(small_corpus)
    assert sum(m.counts.values()) == len(rows)
    # The total is the exact duration, not a sum of the splits' rounded hours.
    exact = sum(r["n_frames"] / r["fps"] for r in rows.values()) / 3600.0
    assert m.hours["total"] == round(exact, 4)


def test_rows_are_complete_samples(small_corpus):
    rows = all_rows(small_corpus)
    assert len(rows) > 50
    for row in rows.values():
        assert len(row["captions"]) >= 4
        assert row["params"].shape == (row["n_frames"], 61)
        assert np.isfinite(row["params"]).all()
        assert 2.0 <= row["n_frames"] / row["fps"] <= 8.0 + 1e-6
        assert row["split"] in SPLITS
        assert row["labels"]["segments"], "labels carry their timed segments"
    generators = Counter(r["generator"] for r in rows.values())
    assert set(generators) == set(SMALL.generators)


def test_loads_with_huggingface_datasets(small_corpus):
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("parquet", data_dir=str(small_corpus / "data"))
    present = {s for s in SPLITS if read_manifest(small_corpus).counts[s] > 0}
    assert set(ds.keys()) == present
    assert {"train", "test_unseen_combo"} <= present
    row = ds["train"][0]
    assert len(row["captions"]) >= 4 and "emotion_category" in row["labels"]


def test_held_out_combos_never_reach_training(small_corpus):
    from tdmm_lm.data.splits import held_out_combos
    from tdmm_lm.prompts import CATEGORIES

    combos = held_out_combos(CATEGORIES)
    train = read_split(small_corpus, "train", columns=["labels", "held_out_phrasing"]).to_pylist()
    for row in train:
        assert not row["held_out_phrasing"]
        for seg in row["labels"]["segments"]:
            assert (seg["emotion_category"], seg["head_motion"]) not in combos


def test_same_seed_same_corpus_whatever_the_workers(small_corpus, tmp_path):
    other = tmp_path / "C2"
    build_corpus(other, BuildConfig(**{**SMALL.__dict__, "workers": 2}))
    a, b = all_rows(small_corpus), all_rows(other)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k]["params"], b[k]["params"])
        assert a[k]["prompt"] == b[k]["prompt"]


def test_marked_prompts_change_only_the_wording(small_corpus, tmp_path):
    marked = tmp_path / "marked"
    build_corpus(marked, BuildConfig(**{**SMALL.__dict__, "mark_longest": True}))
    assert read_manifest(marked).settings["mark_longest"] is True
    assert "mark_longest" not in read_manifest(small_corpus).settings  # older corpora resume
    a, b = all_rows(small_corpus), all_rows(marked)
    assert a.keys() == b.keys()
    changed = 0
    for k in a:
        np.testing.assert_array_equal(a[k]["params"], b[k]["params"])
        assert a[k]["split"] == b[k]["split"] and a[k]["labels"] == b[k]["labels"]
        changed += a[k]["prompt"] != b[k]["prompt"]
    assert changed  # the prompts of clips of several expressions
    with pytest.raises(InvalidInputError, match="other settings"):
        build_corpus(small_corpus, BuildConfig(**{**SMALL.__dict__, "mark_longest": True}))


def test_geometric_intensity_changes_only_the_motion(small_corpus, tmp_path):
    scaled = tmp_path / "geometric"
    build_corpus(scaled, BuildConfig(**{**SMALL.__dict__, "intensity_scale": "geometric"}))
    assert read_manifest(scaled).settings["intensity_scale"] == "geometric"
    assert "intensity_scale" not in read_manifest(small_corpus).settings  # older corpora resume
    a, b = all_rows(small_corpus), all_rows(scaled)
    assert a.keys() == b.keys()
    changed = 0
    for k in a:
        assert (a[k]["prompt"], a[k]["split"], a[k]["labels"]) == (
            b[k]["prompt"], b[k]["split"], b[k]["labels"])  # fmt: skip
        changed += not np.array_equal(a[k]["params"], b[k]["params"])
    assert changed  # every clip with a mild, moderate or strong segment
    with pytest.raises(InvalidInputError, match="intensity-scale 'loud'"):
        BuildConfig(intensity_scale="loud")


def test_resume_refuses_other_settings(small_corpus):
    with pytest.raises(InvalidInputError, match="other settings"):
        build_corpus(small_corpus, BuildConfig(**{**SMALL.__dict__, "seed": 99}))


def test_bad_settings_are_clear_errors():
    with pytest.raises(InvalidInputError, match="--hours"):
        BuildConfig(hours=0)
    with pytest.raises(InvalidInputError, match="generator"):
        BuildConfig(generators=())


KILL_SCRIPT = """
import sys
from tdmm_lm.data import BuildConfig, build_corpus
cfg = BuildConfig(hours=0.25, seed=5, block_size=8, workers=1)
build_corpus(sys.argv[1], cfg)
"""


def test_killed_build_resumes_without_loss_or_duplicates(tmp_path, small_corpus):
    """Kill a real build process mid-way (SIGKILL), resume it, compare with a clean build."""
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(killed)])
    markers = killed / ".blocks"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(markers.glob("*.done"))) < 2:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    manifest = json.loads((killed / "manifest.json").read_text())
    done_before = len(list(markers.glob("*.done")))
    assert 2 <= done_before < manifest["n_blocks"], "the kill must land mid-build"
    assert not manifest["complete"]

    cfg = BuildConfig(hours=0.25, seed=5, block_size=8, workers=2)
    build_corpus(killed, cfg)
    clean = tmp_path / "clean"
    build_corpus(clean, cfg)
    resumed_rows, clean_rows = all_rows(killed), all_rows(clean)  # all_rows checks duplicates
    assert resumed_rows.keys() == clean_rows.keys()
    for k in clean_rows:
        np.testing.assert_array_equal(resumed_rows[k]["params"], clean_rows[k]["params"])
    assert not list((killed / SHARD_DIR).glob(".*tmp")), "no temporary files left behind"


def test_card_writes_plots_and_markdown(small_corpus):
    from tdmm_lm.data import write_card

    card = write_card(small_corpus)
    text = card.read_text()
    assert "## Splits" in text and "Known biases" in text
    pngs = list(card.parent.glob("*.png"))
    assert len(pngs) >= 7
    assert all(p.stat().st_size > 1000 for p in pngs)


def test_a_partial_shard_of_a_killed_writer_is_cleaned_up_on_resume(tmp_path):
    from tdmm_lm.data.format import SHARD_DIR

    cfg = BuildConfig(hours=0.02, seed=1, block_size=8, workers=1)
    build_corpus(tmp_path / "C", cfg)
    partial = tmp_path / "C" / SHARD_DIR / ".train-00000-of-00001.parquet.12345.tmp"
    partial.write_bytes(b"half a shard")  # what a SIGKILL during write_shard leaves
    build_corpus(tmp_path / "C", cfg)
    assert not partial.exists()
