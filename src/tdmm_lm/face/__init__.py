"""Faces: parameter spaces, motion sequences, their file formats, and the face models.

``load_flame`` / ``FlameModel`` pull in torch, so they are imported on first use.
"""

from __future__ import annotations

from typing import Any

from tdmm_lm.face.demo import demo_sequence
from tdmm_lm.face.io import load_sequence, save_sequence
from tdmm_lm.face.model import FaceModel
from tdmm_lm.face.sequence import FaceSequence
from tdmm_lm.face.spaces import (
    ARKIT,
    ARKIT_BLENDSHAPES,
    FLAME,
    SPACES,
    Space,
    UnknownSpaceError,
    get_space,
)

__all__ = [
    "ARKIT",
    "ARKIT_BLENDSHAPES",
    "FLAME",
    "SPACES",
    "FaceModel",
    "FaceSequence",
    "FlameModel",
    "Space",
    "UnknownSpaceError",
    "demo_sequence",
    "get_space",
    "load_flame",
    "load_sequence",
    "save_sequence",
]


def __getattr__(name: str) -> Any:
    if name in ("FlameModel", "load_flame"):
        from tdmm_lm.face import flame

        return getattr(flame, name)
    raise AttributeError(f"module 'tdmm_lm.face' has no attribute {name!r}")
