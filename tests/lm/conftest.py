"""Session fixtures: a tiny corpus, a tiny motion tokenizer and a tiny trained model."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from tdmm_lm.data import BuildConfig, build_corpus
from tdmm_lm.lm.recipes import TrainConfig, get_recipe


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """Tiny models on one thread: a second one only adds synchronisation on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lm_corpus") / "C"
    build_corpus(out, BuildConfig(hours=0.05, block_size=16, workers=1, seed=0))
    return out


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_corpus, tmp_path_factory) -> Path:
    from tdmm_lm.tokenizer import TokenizerTrainConfig, train_tokenizer

    out = tmp_path_factory.mktemp("lm_tok") / "TOK"
    cfg = TokenizerTrainConfig.from_recipe(
        "tiny", corpus=str(tiny_corpus), output=str(out), steps=30, eval_sequences=8
    )
    train_tokenizer(cfg)
    return out


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
