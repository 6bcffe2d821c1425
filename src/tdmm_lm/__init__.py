"""tdmm-lm: 3D facial motion as a language.

The top-level names are imported lazily so that ``import tdmm_lm`` (and ``tdmm --help``)
stays fast and never pulls in torch or MediaPipe by itself.
"""

from __future__ import annotations

from typing import Any

from tdmm_lm.errors import InvalidInputError, TdmmError

__version__ = "0.1.0"

__all__ = [
    "FaceModel",
    "FaceSequence",
    "InvalidInputError",
    "TdmmError",
    "__version__",
    "load_model",
]

_LAZY = {"FaceSequence": "tdmm_lm.face", "FaceModel": "tdmm_lm.face", "load_model": "tdmm_lm.lm"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tdmm_lm' has no attribute {name!r}")
