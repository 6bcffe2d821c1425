"""Session fixtures: a tiny corpus, a tiny motion tokenizer and a tiny trained model."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from tdmm_lm.lm.recipes import TrainConfig, get_recipe


@pytest.fixture(scope="session")
def tiny_pipeline_lm(tiny_pipeline) -> tuple[Path, Path]:
    return tiny_pipeline("lm", hours=0.05, tokenizer_steps=30, eval_sequences=8)


@pytest.fixture(scope="session")
def tiny_corpus(tiny_pipeline_lm) -> Path:
    return tiny_pipeline_lm[0]


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_pipeline_lm) -> Path:
    return tiny_pipeline_lm[1]


@pytest.fixture(scope="session")
def tiny_config(tiny_corpus, tiny_tokenizer) -> Callable[..., TrainConfig]:
    """Factory: the tiny recipe on the test corpus and tokenizer, writing to ``output``."""

    def make(output: Path, **overrides) -> TrainConfig:
        base = get_recipe(
            "tiny", corpus=str(tiny_corpus), tokenizer=str(tiny_tokenizer), output=str(output)
        )
        return dataclasses.replace(base, **overrides)

    return make


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_config, tmp_path_factory) -> Path:
    from tdmm_lm.lm.train import train_lm

    return train_lm(tiny_config(tmp_path_factory.mktemp("lm_model") / "M"))


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from tdmm_lm.lm import load_model

    return load_model(tiny_model_dir)
