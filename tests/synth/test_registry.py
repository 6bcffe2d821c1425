from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face.sequence import FaceSequence
from tdmm_lm.synth import (
    GENERATORS,
    DynamicsConfig,
    KeyframeConfig,
    MotionGenerator,
    get_generator,
    register_generator,
)


def test_builtin_generators_are_registered():
    assert {"keyframe", "dynamics"} <= set(GENERATORS)
    for name, cls in GENERATORS.items():
        assert cls.name == name


def test_unknown_generator_lists_valid_names():
    with pytest.raises(InvalidInputError) as error:
        get_generator("sora")
    for name in GENERATORS:
        assert name in str(error.value)


def test_unknown_option_lists_valid_options():
    with pytest.raises(InvalidInputError, match="blink_rate_per_min"):
        get_generator("keyframe", blink_rate=3)


@pytest.mark.parametrize(
    ("name", "option"),
    [("keyframe", {"asymmetry": 0.5}), ("dynamics", {"damping": (0.9, 0.5)})],
)
def test_invalid_option_value_is_an_input_error(name, option):
    with pytest.raises(InvalidInputError, match=next(iter(option))):
        get_generator(name, **option)


def test_configs_validate_themselves():
    with pytest.raises(ValueError, match="blink_rate_per_min"):
        KeyframeConfig(blink_rate_per_min=(30.0, 10.0))
    with pytest.raises(ValueError, match="noise"):
        DynamicsConfig(noise=-1.0)


def test_get_generator_passes_options():
    generator = get_generator("keyframe", asymmetry=0.0)
    assert generator.config == KeyframeConfig(asymmetry=0.0)
    with pytest.raises(TypeError):
        type(generator)(DynamicsConfig())


# t2v has no usable default: it needs a command template.
REQUIRED_OPTIONS = {"t2v": {"command": "gen --prompt {prompt} --out {out}"}}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_config_dict_is_json(name):
    record = get_generator(name, **REQUIRED_OPTIONS.get(name, {})).config_dict()
    assert record["generator"] == name
    json.dumps(record)


@dataclass(frozen=True)
class _EchoConfig:
    quality: float = 0.5


class _EchoGenerator(MotionGenerator):
    """Stands in for a video-based generator: same interface, a quality in meta."""

    name = "echo-test"
    config_class = _EchoConfig

    def generate(self, spec, fps=25.0):
        frames = max(1, round(spec.duration_s * fps))
        meta = {"generator": self.name, "spec_id": spec.id, "seed": spec.seed}
        meta["quality"] = self.config.quality
        return FaceSequence(np.zeros((frames, 61), np.float32), "arkit", fps, meta)


def test_external_generators_can_register(make_spec):
    register_generator(_EchoGenerator)
    try:
        register_generator(_EchoGenerator)  # registering twice is harmless
        seq = get_generator("echo-test", quality=0.9).generate(make_spec(dict(dur=2.0)))
        assert seq.meta["quality"] == 0.9 and seq.n_frames == 50
    finally:
        GENERATORS.pop("echo-test", None)


def test_registry_rejects_clashes_and_non_generators():
    class Impostor(_EchoGenerator):
        name = "keyframe"

    with pytest.raises(ValueError, match="taken"):
        register_generator(Impostor)
    with pytest.raises(TypeError):
        register_generator(dict)  # type: ignore[arg-type]
