"""Session fixtures: a tiny corpus, tokenizer and model, with tiny evaluators and baseline.

The model folder is laid out as a shipped model is: ``M/evaluators`` and
``M/baselines/t2m_gpt`` sit inside it, where ``tdmm eval`` looks for them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tdmm_lm.lm.recipes import get_recipe


@pytest.fixture(scope="session")
def eval_pipeline(tiny_pipeline) -> tuple[Path, Path]:
    # 0.15 h: every test split holds a few clips (FD and Diversity need two).
    return tiny_pipeline("eval", hours=0.15, tokenizer_steps=20, eval_sequences=4)


@pytest.fixture(scope="session")
def eval_corpus(eval_pipeline) -> Path:
    return eval_pipeline[0]


@pytest.fixture(scope="session")
def eval_tokenizer(eval_pipeline) -> Path:
    return eval_pipeline[1]


@pytest.fixture(scope="session")
def bare_model_dir(eval_corpus, eval_tokenizer, tmp_path_factory) -> Path:
    """A tiny model folder with neither evaluators nor baseline."""
    from tdmm_lm.lm.train import train_lm

    out = tmp_path_factory.mktemp("eval_model") / "M"
    cfg = get_recipe(
        "tiny", corpus=str(eval_corpus), tokenizer=str(eval_tokenizer), output=str(out), steps=16
    )
    return train_lm(cfg)


@pytest.fixture(scope="session")
def evaluator_dir(eval_corpus, tmp_path_factory) -> Path:
    from tdmm_lm.eval import EvaluatorTrainConfig, train_evaluators

    out = tmp_path_factory.mktemp("eval_evaluators") / "E"
    train_evaluators(
        EvaluatorTrainConfig.from_recipe("tiny", corpus=str(eval_corpus), output=str(out))
    )
    return out


@pytest.fixture(scope="session")
def model_dir(bare_model_dir, evaluator_dir, eval_corpus, tmp_path_factory) -> Path:
    """A tiny model folder laid out like the shipped one: evaluators and baseline inside."""
    import shutil

    from tdmm_lm.eval import BASELINE_SUBDIR, EVALUATOR_SUBDIR, train_t2m_baseline

    out = tmp_path_factory.mktemp("eval_full_model") / "M"
    shutil.copytree(bare_model_dir, out, ignore=shutil.ignore_patterns("checkpoints", "cache"))
    shutil.copytree(evaluator_dir, out / EVALUATOR_SUBDIR)
    train_t2m_baseline(eval_corpus, out / "tokenizer", out / BASELINE_SUBDIR, "tiny", steps=16)
    return out
