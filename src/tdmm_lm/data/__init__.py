"""The corpus: building it, its on-disk format, and its dataset card."""

from __future__ import annotations

from tdmm_lm.data.build import BuildConfig, build_corpus
from tdmm_lm.data.card import write_card
from tdmm_lm.data.format import (
    CORPUS_FORMAT_VERSION,
    SPLITS,
    Manifest,
    iter_samples,
    read_manifest,
    read_split,
)

__all__ = [
    "CORPUS_FORMAT_VERSION",
    "SPLITS",
    "BuildConfig",
    "Manifest",
    "build_corpus",
    "iter_samples",
    "read_manifest",
    "read_split",
    "write_card",
]
