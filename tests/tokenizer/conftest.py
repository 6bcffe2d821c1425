"""Fixtures: a tiny corpus and a tokenizer trained on it with the ``tiny`` recipe."""

from __future__ import annotations

from pathlib import Path

import pytest

from tdmm_lm.data import BuildConfig, build_corpus
from tdmm_lm.tokenizer import MotionTokenizer, TokenizerTrainConfig, train_tokenizer

TINY_STEPS = 30


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tok_corpus") / "C"
    build_corpus(out, BuildConfig(hours=0.05, block_size=16, workers=1, seed=0))
    return out


def make_tiny_config(corpus: Path, output: Path, **overrides) -> TokenizerTrainConfig:
    """The ``tiny`` recipe for TINY_STEPS steps, checkpointing every 10 steps."""
    values = {"steps": TINY_STEPS, "checkpoint_interval": 10, "eval_interval": 15}
    values.update(overrides)
    return TokenizerTrainConfig.from_recipe(
        "tiny", corpus=str(corpus), output=str(output), **values
    )


@pytest.fixture
def tiny_config():
    """Factory: ``tiny_config(corpus, output, **overrides)``."""
    return make_tiny_config


@pytest.fixture(scope="session")
def trained(tiny_corpus, tmp_path_factory) -> tuple[Path, dict]:
    """(tokenizer folder, its report) after a short ``tiny`` run."""
    out = tmp_path_factory.mktemp("tok_run") / "tok"
    report = train_tokenizer(make_tiny_config(tiny_corpus, out))
    return out, report


@pytest.fixture(scope="session")
def tokenizer(trained) -> MotionTokenizer:
    return MotionTokenizer.from_pretrained(trained[0])
