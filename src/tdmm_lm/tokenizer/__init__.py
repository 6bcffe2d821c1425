"""The geometry motion tokenizer: a VQ-VAE from ``arkit`` parameter sequences to tokens.

>>> tok = MotionTokenizer.from_pretrained("TOKDIR")
>>> tokens = tok.encode(params)        # (T, 61) float32 -> (ceil(T / r),) int64
>>> params = tok.decode(tokens)        # -> (len(tokens) * r, 61) float32, in arkit ranges

Train one with :func:`train_tokenizer` (``tdmm tokenizer train``) and measure it with
:func:`tokenizer_report` (``tdmm tokenizer eval``).
"""

from __future__ import annotations

from tdmm_lm.tokenizer.config import RECIPES, TokenizerConfig, TokenizerTrainConfig
from tdmm_lm.tokenizer.model import MotionTokenizer
from tdmm_lm.tokenizer.report import format_report, reconstruction_metrics, tokenizer_report
from tdmm_lm.tokenizer.train import train_tokenizer

__all__ = [
    "RECIPES",
    "MotionTokenizer",
    "TokenizerConfig",
    "TokenizerTrainConfig",
    "format_report",
    "reconstruction_metrics",
    "tokenizer_report",
    "train_tokenizer",
]
