"""Evaluation: the shipped evaluators, the SPEC §7 metrics, baselines and ``tdmm eval``.

>>> from tdmm_lm.eval import EvalConfig, run_eval
>>> report = run_eval(EvalConfig(corpus="C", output="R", model="MODELDIR"))  # doctest: +SKIP

* :mod:`~tdmm_lm.eval.evaluators`: :class:`MotionEvaluator`, the TMR-style text-motion
  embedding and the attribute classifiers, trained by :func:`train_evaluators`
  (:mod:`~tdmm_lm.eval.train_evaluators`; recipes in :mod:`~tdmm_lm.eval.evaluator_recipes`).
* :mod:`~tdmm_lm.eval.captions`: the caption attribute parser (:func:`caption_attributes`).
* :mod:`~tdmm_lm.eval.metrics` and :mod:`~tdmm_lm.eval.text_metrics`: the metrics.
* :mod:`~tdmm_lm.eval.baselines`: the compared systems and :func:`train_t2m_baseline`.
* :mod:`~tdmm_lm.eval.harness`: :func:`run_eval`, configured by :class:`EvalConfig`
  (:mod:`~tdmm_lm.eval.config`), measuring each split with :mod:`~tdmm_lm.eval.protocol`;
  :mod:`~tdmm_lm.eval.report` writes it out.
* :mod:`~tdmm_lm.eval.real`: :func:`describe_videos` for real face videos.

A model folder keeps its evaluators in ``MODELDIR/evaluators`` and its T2M-GPT-style
baseline in ``MODELDIR/baselines/t2m_gpt``, where :func:`run_eval` looks by default.
"""

from __future__ import annotations

from tdmm_lm.eval.baselines import train_t2m_baseline
from tdmm_lm.eval.captions import caption_attributes, parse_caption
from tdmm_lm.eval.config import BASELINE_SUBDIR, EVALUATOR_SUBDIR, EvalConfig
from tdmm_lm.eval.evaluator_recipes import EvaluatorTrainConfig
from tdmm_lm.eval.evaluators import EvaluatorConfig, MotionEvaluator
from tdmm_lm.eval.harness import run_eval
from tdmm_lm.eval.real import describe_videos
from tdmm_lm.eval.train_evaluators import train_evaluators

__all__ = [
    "BASELINE_SUBDIR",
    "EVALUATOR_SUBDIR",
    "EvalConfig",
    "EvaluatorConfig",
    "EvaluatorTrainConfig",
    "MotionEvaluator",
    "caption_attributes",
    "describe_videos",
    "parse_caption",
    "run_eval",
    "train_evaluators",
    "train_t2m_baseline",
]
