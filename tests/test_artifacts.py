from dataclasses import dataclass

import numpy as np
import pytest
import torch

from tdmm_lm.artifacts import PretrainedMixin, load_artifact, save_artifact
from tdmm_lm.errors import InvalidInputError


@dataclass
class TinyConfig:
    width: int = 4
    seed: int = 0


class Tiny(torch.nn.Module, PretrainedMixin):
    type_tag = "tiny"
    config_class = TinyConfig

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.config = config
        self.linear = torch.nn.Linear(config.width, 2)
        self.mean = np.zeros(config.width, np.float32)

    def artifact_stats(self):
        return {"mean": self.mean}

    def load_artifact_stats(self, stats):
        self.mean = stats["mean"]


def test_round_trip_is_exact_and_in_eval_mode(tmp_path):
    torch.manual_seed(0)
    model = Tiny(TinyConfig(width=3))
    model.mean = np.arange(3, dtype=np.float32)
    model.save_pretrained(tmp_path / "m")
    loaded = Tiny.from_pretrained(tmp_path / "m")
    assert not loaded.training and loaded.config == model.config
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    np.testing.assert_array_equal(loaded.mean, model.mean)
    assert not list(tmp_path.glob(".*")), "no staging directories left behind"


def test_overwrite_and_type_check(tmp_path):
    save_artifact(tmp_path / "a", type_tag="x", config={"a": 1}, weights={"w": torch.ones(2)})
    save_artifact(tmp_path / "a", type_tag="x", config={"a": 2}, weights={"w": torch.zeros(2)})
    cfg, weights, stats = load_artifact(tmp_path / "a", "x")
    assert cfg == {"a": 2} and torch.equal(weights["w"], torch.zeros(2)) and stats == {}
    with pytest.raises(InvalidInputError, match="not a 'y'"):
        load_artifact(tmp_path / "a", "y")
    with pytest.raises(InvalidInputError, match="not a tdmm-lm artefact"):
        load_artifact(tmp_path / "missing", "x")


def test_corrupt_weights_are_a_clear_error(tmp_path):
    save_artifact(tmp_path / "a", type_tag="x", config={}, weights={"w": torch.ones(2)})
    (tmp_path / "a" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(InvalidInputError, match="cannot read the weights"):
        load_artifact(tmp_path / "a", "x")
