"""tdmm-lm: 3D facial motion as a language."""

from __future__ import annotations

from tdmm_lm.errors import InvalidInputError, TdmmError
from tdmm_lm.face import FaceSequence

__version__ = "0.1.0"

__all__ = ["FaceSequence", "InvalidInputError", "TdmmError", "__version__"]
