"""Configuration of ``tdmm eval``: what a run measures, and where it finds its artefacts.

:class:`EvalConfig` holds every setting of a run; its defaults are the full protocol.
``quick=True`` (``--quick``) cuts the run to a smoke test of the whole protocol: :data:`QUICK`
lists what it changes. :data:`L2M_SYSTEMS`, :data:`M2L_SYSTEMS`, :data:`L2M_METRICS` and
:data:`M2L_METRICS` name the report's systems and metrics in table order.
:func:`resolve_artifacts` finds the model and, by default in its folder, its evaluators
(``MODELDIR/evaluators``) and its T2M-GPT-style baseline (``MODELDIR/baselines/t2m_gpt``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tdmm_lm.errors import TdmmError
from tdmm_lm.eval import metrics as mx
from tdmm_lm.eval.data import TEST_SPLITS

__all__ = [
    "BASELINE_SUBDIR",
    "COR_NAMES",
    "EVALUATOR_SUBDIR",
    "L2M_METRICS",
    "L2M_SYSTEMS",
    "M2L_METRICS",
    "M2L_SYSTEMS",
    "QUICK",
    "EvalConfig",
    "resolve_artifacts",
]

#: Where a model folder keeps its evaluators and its T2M-GPT-style baseline.
EVALUATOR_SUBDIR = "evaluators"
BASELINE_SUBDIR = "baselines/t2m_gpt"
#: System names, in table order.
L2M_SYSTEMS = ("tdmm-lm", "t2m-gpt", "retrieval", "floor", "ground-truth")
M2L_SYSTEMS = ("tdmm-lm", "retrieval", "floor", "ground-truth")
#: Metric names, in table order (report keys).
L2M_METRICS = (
    "L2", "FD", "Tok", "R@1", "R@2", "R@3", "MM-Dist", "Diversity", "MultiModality",
    "CorE", "CorM", "CorI", "CorE-1",
)  # fmt: skip
M2L_METRICS = (
    "BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr", "BERTScore-F1", "BERTScore-P", "BERTScore-R",
    "R@1", "R@3", "CorE", "CorM", "CorI",
)  # fmt: skip
#: The report's name of each attribute's correctness.
COR_NAMES = {"emotion_category": "CorE", "head_motion": "CorM", "intensity": "CorI"}
#: What ``--quick`` changes: few repeats, small subsets, a small retrieval index.
QUICK: dict[str, Any] = {
    "repeats": 3,
    "l2m_clips": 32,
    "m2l_clips": 32,
    "m2l_full_splits": (),
    "mm_prompts": 8,
    "mm_generations": 6,
    "retrieval_pool": 300,
    "video_clips": 4,
}


@dataclass
class EvalConfig:
    """Everything a ``tdmm eval`` run depends on. Defaults are the full protocol.

    Attributes:
        corpus: The corpus folder.
        output: The report folder to write.
        model: The model folder (None: the shipped release model).
        evaluators: The evaluator folder (None: ``MODEL/evaluators``).
        baseline: The T2M-GPT-style baseline's model folder (None:
            ``MODEL/baselines/t2m_gpt``).
        splits: The splits measured.
        repeats: Repeats behind each 95% interval.
        seed: Seed of subsets, generation and every random draw.
        l2m_clips: Clips per split for Language2Motion, each generated ``repeats`` times
            (100: three R-precision groups of 32 per repeat).
        m2l_clips: Clips of each other split for Motion2Language (a seeded subset).
        m2l_full_splits: Splits whose every clip Motion2Language captions. The issue's
            targets are on ``test``, so it is measured whole: release 7's captions of a fixed
            256 of its 654 clips read CorE 0.887 and CorM 0.807, against 0.917 and 0.838 on
            every clip, a gap the interval (the spread of the repeats' mean) cannot show.
            Captioning every clip of all three splits took the full run to 19.5 min against
            18.0 for ``test`` alone (the captions, and the MiniLM states of their five
            references each, for BERTScore).
        mm_prompts: Prompts of MultiModality per split.
        mm_generations: Generations per MultiModality prompt.
        mm_pairs: Pairs per prompt of MultiModality.
        diversity_pairs: Pairs of Diversity.
        group_size: R-precision group (1 true + ``group_size - 1`` mismatched).
        retrieval_pool: Training clips searched by the retrieval baselines (and averaged by
            the floor).
        batch_size: Prompts per generation pass.
        sheet_prompts: Prompts on the contact sheet.
        video_clips: Test clips rendered, tracked and described to measure the video route
            (:mod:`~tdmm_lm.eval.video_route`; about 2.5 s each); 0 skips it.
        threads: Torch CPU threads of each process.
        workers: Processes the work of two or more splits is spread over, in jobs of one
            generating system on one split (1 = this process only).
        quick: Whether :data:`QUICK` was applied (recorded in the report).
    """

    corpus: str = ""
    output: str = ""
    model: str | None = None
    evaluators: str | None = None
    baseline: str | None = None
    splits: tuple[str, ...] = TEST_SPLITS
    repeats: int = 20
    seed: int = 0
    l2m_clips: int = 100
    m2l_clips: int = 256
    m2l_full_splits: tuple[str, ...] = ("test",)
    mm_prompts: int = 100
    mm_generations: int = 30
    mm_pairs: int = 10
    diversity_pairs: int = 300
    group_size: int = mx.R_PRECISION_GROUP
    retrieval_pool: int = 4000
    batch_size: int = 64
    sheet_prompts: int = 8
    video_clips: int = 32
    threads: int = 1
    workers: int = 2
    quick: bool = False

    def __post_init__(self) -> None:
        from tdmm_lm.data import SPLITS

        self.splits = tuple(self.splits)
        self.m2l_full_splits = tuple(self.m2l_full_splits)
        unknown = [s for s in self.splits if s not in SPLITS]
        if unknown or not self.splits:
            raise ValueError(f"unknown split(s) {unknown or '(none)'}; valid: {', '.join(SPLITS)}")
        unknown = [s for s in self.m2l_full_splits if s not in SPLITS]
        if unknown:
            raise ValueError(f"unknown m2l_full_splits {unknown}; valid: {', '.join(SPLITS)}")
        positive = (
            "repeats", "l2m_clips", "m2l_clips", "mm_prompts", "mm_pairs", "diversity_pairs",
            "retrieval_pool", "batch_size", "threads", "workers",
        )  # fmt: skip
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if (
            self.mm_generations < 2
            or self.group_size < 2
            or min(self.sheet_prompts, self.video_clips) < 0
        ):
            raise ValueError(
                f"need mm_generations >= 2, group_size >= 2, sheet_prompts >= 0 and "
                f"video_clips >= 0, got {self.mm_generations}, {self.group_size}, "
                f"{self.sheet_prompts}, {self.video_clips}"
            )

    def m2l_count(self, split: str, n_split: int) -> int:
        """Clips of ``split`` (of ``n_split`` clips) that Motion2Language captions."""
        return n_split if split in self.m2l_full_splits else min(self.m2l_clips, n_split)

    @classmethod
    def quick_config(cls, **fields: Any) -> EvalConfig:
        """The ``--quick`` protocol (:data:`QUICK`), with ``fields`` on top."""
        return cls(**{**QUICK, "quick": True, **fields})


def resolve_artifacts(cfg: EvalConfig) -> tuple[Path, Path, Path]:
    """The model, evaluator and baseline folders a run uses.

    Raises:
        TdmmError: One of them is missing; the message says how to make it.
    """
    from tdmm_lm.lm.api import RELEASE_DIR

    model = Path(cfg.model) if cfg.model else RELEASE_DIR
    if not (model / "config.json").is_file():
        hint = (
            "train one with `tdmm train --recipe release --corpus C --tokenizer TOKDIR "
            "-o MODELDIR` and pass --model MODELDIR"
        )
        where = f"--model {model}" if cfg.model else f"no release model is shipped in {model}"
        raise TdmmError(f"{where}: not a model folder; {hint}")
    evaluators = Path(cfg.evaluators) if cfg.evaluators else model / EVALUATOR_SUBDIR
    if not (evaluators / "config.json").is_file():
        raise TdmmError(
            f"no evaluators in {evaluators}; train them with `tdmm eval train-evaluators "
            f"--corpus CORPUS -o {evaluators}` (or pass --evaluators DIR)"
        )
    baseline = Path(cfg.baseline) if cfg.baseline else model / BASELINE_SUBDIR
    if not (baseline / "config.json").is_file():
        raise TdmmError(
            f"no T2M-GPT-style baseline in {baseline}; train it with `tdmm eval train-baseline "
            f"--model {model} --corpus CORPUS` (or pass --baseline DIR)"
        )
    return model, evaluators, baseline
