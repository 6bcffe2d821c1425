"""One language model over text and motion tokens, for both directions.

* Motion2Language: ``TdmmModel.describe(sequence) -> str``.
* Language2Motion: ``TdmmModel.animate(prompt, seconds, seed) -> FaceSequence``.

>>> from tdmm_lm.lm import load_model
>>> m = load_model("MODELDIR")                                        # doctest: +SKIP

Train with :func:`train_lm` (``tdmm train``); the model is in :mod:`tdmm_lm.lm.model`, the
vocabulary in :mod:`tdmm_lm.lm.vocab`, the instruction templates in :mod:`tdmm_lm.lm.tasks`.
"""

from __future__ import annotations

from tdmm_lm.lm.api import TdmmModel, load_model
from tdmm_lm.lm.model import GPTConfig, TdmmGPT
from tdmm_lm.lm.recipes import RECIPES, TrainConfig, get_recipe
from tdmm_lm.lm.train import train_lm
from tdmm_lm.lm.vocab import Vocab

__all__ = [
    "RECIPES",
    "GPTConfig",
    "TdmmGPT",
    "TdmmModel",
    "TrainConfig",
    "Vocab",
    "get_recipe",
    "load_model",
    "train_lm",
]
