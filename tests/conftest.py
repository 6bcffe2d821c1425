"""Shared fixtures: small synthetic face sequences."""

from __future__ import annotations

from collections.abc import Callable

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
