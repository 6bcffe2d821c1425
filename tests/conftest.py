"""Shared fixtures: small synthetic face sequences, and a tiny corpus with its tokenizer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tdmm_lm.face import FaceSequence, get_space


def random_params(space_id: str, n_frames: int, seed: int = 0) -> np.ndarray:
    """Uniform random parameters inside the space's ranges, float32 (T, D)."""
    space = get_space(space_id)
    rng = np.random.default_rng(seed)
    # Stay inside the ranges by a margin so no clipping alters the values.
    unit = rng.uniform(0.05, 0.95, size=(n_frames, space.dim))
    return (space.low + unit * (space.high - space.low)).astype(np.float32)


@pytest.fixture
def make_sequence() -> Callable[..., FaceSequence]:
    """Factory: ``make_sequence(n_frames=30, space="arkit", fps=30.0, seed=0, meta=None)``."""

    def make(
        n_frames: int = 30,
        space: str = "arkit",
        fps: float = 30.0,
        seed: int = 0,
        meta: dict | None = None,
    ) -> FaceSequence:
        params = random_params(space, n_frames, seed)
        return FaceSequence(params, space=space, fps=fps, meta=meta or {"prompt": "a test"})

    return make


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tests run tiny models, which gain nothing from threads; on a busy machine OpenMP
    threads that wait for each other make every small op many times slower."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory) -> Callable[..., tuple[Path, Path]]:
    """Factory: ``tiny_pipeline(name, hours, tokenizer_steps, eval_sequences)`` builds a
    procedural corpus and trains the ``tiny`` tokenizer on it: ``(corpus, tokenizer)``."""
    from tdmm_lm.data import BuildConfig, build_corpus
    from tdmm_lm.tokenizer import TokenizerTrainConfig, train_tokenizer

    def make(name: str, hours: float, tokenizer_steps: int, eval_sequences: int):
        corpus = tmp_path_factory.mktemp(f"{name}_corpus") / "C"
        build_corpus(corpus, BuildConfig(hours=hours, block_size=16, workers=1, seed=0))
        tokenizer = tmp_path_factory.mktemp(f"{name}_tok") / "TOK"
        cfg = TokenizerTrainConfig.from_recipe(
            "tiny", corpus=str(corpus), output=str(tokenizer), steps=tokenizer_steps,
            eval_sequences=eval_sequences,
        )  # fmt: skip
        train_tokenizer(cfg)
        return corpus, tokenizer

    return make
