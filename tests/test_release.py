"""The release pipeline: every stage from nothing, skipped once done, then shipped."""

from __future__ import annotations

import json
import shutil

import pytest

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.release import SHIPPED_FILES, WAVES, ReleaseConfig, build_release, ship


@pytest.fixture(scope="module")
def tiny_release(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("release") / "R"
    cfg = ReleaseConfig(
        hours=0.05, workers=1, tokenizer_recipe="tiny", lm_recipe="tiny", evaluator_recipe="tiny"
    )
    return out, cfg, build_release(out, cfg)


def test_every_stage_runs_and_is_recorded(tiny_release):
    out, cfg, record = tiny_release
    # Recorded in the order they ran: wave by wave, each wave's own lane before its side lanes.
    assert list(record["stages"]) == [name for wave in WAVES for lane in wave for name in lane]
    assert set(record["stages"]) == set(cfg.stages)
    assert all(stage["seconds"] >= 0 for stage in record["stages"].values())
    assert json.loads((out / "release.json").read_text()) == record
    assert (out / "build" / "corpus" / "manifest.json").is_file()
    assert (out / "build" / "tokenizer" / "model.safetensors").is_file()
    assert (out / "config.json").is_file()
    assert (out / "evaluators" / "config.json").is_file()
    assert (out / "baselines" / "t2m_gpt" / "config.json").is_file()
    assert record["stages"]["baseline"]["steps"] < 40  # the LM's text-to-motion share only


def test_a_finished_release_is_not_redone(tiny_release):
    out, cfg, record = tiny_release
    before = (out / "model.safetensors").stat().st_mtime_ns
    assert build_release(out, cfg) == record
    assert (out / "model.safetensors").stat().st_mtime_ns == before


def test_other_settings_are_refused(tiny_release):
    out, _, _ = tiny_release
    with pytest.raises(ValueError, match="other settings"):
        build_release(out, ReleaseConfig(hours=0.1, workers=1, tokenizer_recipe="tiny",
                                         lm_recipe="tiny"))  # fmt: skip


def test_ship_keeps_the_model_and_drops_the_run(tiny_release, tmp_path):
    from tdmm_lm.lm import load_model

    out, _, _ = tiny_release
    shipped = ship(out, tmp_path / "release")
    names = {p.name for p in shipped.iterdir()}
    assert names <= set(SHIPPED_FILES) and {"config.json", "tokenizer"} <= names
    assert not (shipped / "checkpoints").exists() and not (shipped / "build").exists()
    assert not (shipped / "tokenizer" / "checkpoint").exists()
    assert not (shipped / "baselines" / "t2m_gpt" / "checkpoints").exists()
    assert not (shipped / "baselines" / "t2m_gpt" / "cache").exists()
    from safetensors import safe_open

    with safe_open(str(shipped / "model.safetensors"), framework="pt") as f:
        assert {str(f.get_tensor(k).dtype) for k in f.keys()} == {"torch.float16"}
    model = load_model(shipped)
    assert next(model.lm.parameters()).dtype.is_floating_point
    assert str(next(model.lm.parameters()).dtype) == "torch.float32"  # cast back on load
    assert model.animate("a person smiles", seconds=1.0).n_frames == round(model.fps)
    # The baseline shares the model's tokenizer instead of shipping a copy of it.
    baseline = shipped / "baselines" / "t2m_gpt"
    assert not (baseline / "tokenizer").exists()
    assert load_model(baseline).tokenizer.config == model.tokenizer.config
    shutil.rmtree(shipped / "tokenizer")
    with pytest.raises(InvalidInputError, match=r"motion tokenizer .* is missing"):
        load_model(baseline)


def test_unknown_stages_are_refused():
    with pytest.raises(ValueError, match="unknown release stage"):
        ReleaseConfig(stages=("corpus", "bake"))
