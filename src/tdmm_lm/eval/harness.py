"""``tdmm eval``: every system, every metric, every test split, in one run.

:func:`run_eval` loads the model, its evaluators and its T2M-GPT-style baseline (by default
from ``MODELDIR/evaluators`` and ``MODELDIR/baselines/t2m_gpt``), builds the retrieval and
floor baselines from the corpus's training split, measures both directions on each split
(:mod:`~tdmm_lm.eval.protocol`) and writes the report folder (:mod:`~tdmm_lm.eval.report`).
Its settings are an :class:`~tdmm_lm.eval.config.EvalConfig`.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, TypeVar

import torch

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.eval.baselines import FloorBaseline, ModelSystem, RetrievalBaseline
from tdmm_lm.eval.config import (
    BASELINE_SUBDIR,
    COR_NAMES,
    EVALUATOR_SUBDIR,
    L2M_METRICS,
    L2M_SYSTEMS,
    M2L_METRICS,
    M2L_SYSTEMS,
    QUICK,
    EvalConfig,
    resolve_artifacts,
)
from tdmm_lm.eval.data import ATTRIBUTES, ClipSet, load_clips
from tdmm_lm.eval.evaluators import MotionEvaluator
from tdmm_lm.eval.protocol import (
    GENERATED_SYSTEMS,
    EvalContext,
    Generations,
    TextCache,
    evaluate_split,
    generate_split,
    split_work,
)

# The configuration names are re-exported: they lived here before config.py was split off.
__all__ = [
    "BASELINE_SUBDIR",
    "EVALUATOR_SUBDIR",
    "L2M_METRICS",
    "M2L_METRICS",
    "QUICK",
    "EvalConfig",
    "resolve_artifacts",
    "run_eval",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
#: The video route's key in the report's ``meta.job_seconds``.
VIDEO_ROUTE_JOB = "video route"


def run_eval(cfg: EvalConfig, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Measure a model and its baselines on a corpus; write the report folder.

    Args:
        cfg: The run's settings.
        progress: Called as ``progress(done, total)`` with counts of generated clips and
            captions.

    Returns:
        The report (as written to ``cfg.output/report.json``).

    Raises:
        TdmmError: A missing model, evaluator or baseline folder (the message says how to
            make it), a missing corpus, or an unknown or empty split.
    """
    from tdmm_lm.data import read_manifest
    from tdmm_lm.eval.report import write_report

    start = time.perf_counter()
    _check_outputs(cfg)
    read_manifest(Path(cfg.corpus))
    model_dir, evaluator_dir, baseline_dir = resolve_artifacts(cfg)
    splits = {s: load_clips(cfg.corpus, s) for s in cfg.splits}  # fails fast on empty splits
    dirs = (model_dir, evaluator_dir, baseline_dir)
    done = [0]
    total = sum(split_work(cfg, name, len(c)) for name, c in splits.items())

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], total)

    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        results: dict[str, Any] = {}
        extras: dict[str, Any] = {}
        job_seconds: dict[str, float] = {}
        if min(cfg.workers, len(splits)) > 1:
            results, extras, route = _evaluate_in_pool(cfg, dirs, splits, tick, job_seconds)
        else:
            ctx = _context(cfg, dirs, tick)
            for k, (name, clips) in enumerate(splits.items()):
                (results[name], extras[name]), job_seconds[name] = _timed(
                    evaluate_split, ctx, clips, k
                )
            route = None
            if "test" in splits and cfg.video_clips:
                route, job_seconds[VIDEO_ROUTE_JOB] = _timed(
                    _video_route, cfg, dirs, splits["test"]
                )
        report = {
            "meta": {
                **_meta(cfg, model_dir, evaluator_dir, baseline_dir, splits, start),
                "job_seconds": job_seconds,
            },
            "evaluators": _evaluator_reading(evaluator_dir, results),
            "splits": results,
        }
        if route is not None:
            report["video_route"] = route
        write_report(report, extras, Path(cfg.output))
        return report
    finally:
        torch.set_num_threads(threads)


def _timed(job: Callable[..., T], *args: Any) -> tuple[T, float]:
    """``job(*args)`` and its wall time in seconds (where it runs: a worker's own time)."""
    start = time.perf_counter()
    return job(*args), round(time.perf_counter() - start, 1)


def _evaluate_in_pool(
    cfg: EvalConfig,
    dirs: tuple[Path, Path, Path],
    splits: dict[str, ClipSet],
    tick: Callable,
    job_seconds: dict[str, float],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """Every split and the video route on ``cfg.workers`` processes: (results, extras, route).

    Each job's own time goes into ``job_seconds`` (keyed "split system", "split metrics" and
    :data:`VIDEO_ROUTE_JOB`), to show where a run's time goes.

    Splits are independent (every draw is seeded by the split's index). Whole splits would
    not share out evenly (three splits on two workers leave one idle for a third of the
    run), so the jobs are finer: each generating system of each split (most of the time,
    :func:`~tdmm_lm.eval.protocol.generate_split`), then, once both of a split's are in,
    the rest of that split, which receives them; and the video route.
    """
    spawn = multiprocessing.get_context("spawn")
    n_workers = min(cfg.workers, len(splits) * len(GENERATED_SYSTEMS))
    results: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    generated: dict[str, dict[str, Generations]] = {name: {} for name in splits}
    index = {name: k for k, name in enumerate(splits)}
    with ProcessPoolExecutor(n_workers, mp_context=spawn) as pool:
        jobs: dict[Future, tuple[str, str]] = {
            pool.submit(_timed, _generation_job, cfg, dirs, name, index[name], system): (
                name,
                system,
            )
            for name in splits
            for system in GENERATED_SYSTEMS
        }
        routed = None
        if "test" in splits and cfg.video_clips:
            routed = pool.submit(_timed, _video_route_job, cfg, dirs)
        try:
            while jobs:
                done, _ = wait(jobs, return_when=FIRST_COMPLETED)
                for future in done:
                    name, system = jobs.pop(future)
                    value, job_seconds[f"{name} {system or 'metrics'}"] = future.result()
                    if system:  # a system's generations: the split may be ready to finish
                        generated[name][system] = value
                        if len(generated[name]) == len(GENERATED_SYSTEMS):
                            job = pool.submit(_timed, _split_job, cfg, dirs, name, index[name],
                                              generated.pop(name))  # fmt: skip
                            jobs[job] = (name, "")
                    else:
                        results[name], extras[name] = value
                        tick(split_work(cfg, name, len(splits[name])))
            route = None
            if routed is not None:
                route, job_seconds[VIDEO_ROUTE_JOB] = routed.result()
        except BaseException:
            pool.shutdown(cancel_futures=True)  # fail now, not after the queued jobs
            raise
    results = {name: results[name] for name in splits}  # the splits' order
    return results, extras, route


def _context(cfg: EvalConfig, dirs: tuple[Path, Path, Path], tick: Callable) -> EvalContext:
    """The evaluator, the systems and the caches every split's evaluation shares."""
    from tdmm_lm.lm import load_model

    model_dir, evaluator_dir, baseline_dir = dirs
    evaluator = MotionEvaluator.from_pretrained(evaluator_dir)
    train = load_clips(cfg.corpus, "train", cfg.retrieval_pool, cfg.seed)
    texts = TextCache()
    train_text = evaluator.embed_sentences(texts.vectors(train.prompts))
    return EvalContext(
        cfg=cfg,
        evaluator=evaluator,
        model=ModelSystem(load_model(model_dir), cfg.batch_size, tick),
        baseline=ModelSystem(load_model(baseline_dir), cfg.batch_size, tick),
        retrieval=RetrievalBaseline(train, evaluator, train_text),
        floor=FloorBaseline(train, train_text),
        texts=texts,
    )


#: A worker process's context, kept for its next job: loading the systems and embedding the
#: retrieval pool's prompts takes about a minute. Keyed by the run's settings.
_worker_context: tuple[str, EvalContext] | None = None


def _worker_ctx(cfg: EvalConfig, dirs: tuple[Path, Path, Path]) -> EvalContext:
    """This worker process's context, built on its first job."""
    global _worker_context
    torch.set_num_threads(cfg.threads)
    key = repr((cfg, dirs))
    if _worker_context is None or _worker_context[0] != key:
        _worker_context = (key, _context(cfg, dirs, lambda n: None))
    return _worker_context[1]


def _generation_job(
    cfg: EvalConfig, dirs: tuple[Path, Path, Path], split: str, index: int, system: str
) -> Generations:
    """One generating system on one split, in a worker process."""
    return generate_split(_worker_ctx(cfg, dirs), load_clips(cfg.corpus, split), index, system)


def _split_job(
    cfg: EvalConfig,
    dirs: tuple[Path, Path, Path],
    split: str,
    index: int,
    generated: dict[str, Generations],
) -> tuple[dict, dict]:
    """The rest of one split in a worker process: (report section, data for the plots)."""
    ctx = _worker_ctx(cfg, dirs)
    return evaluate_split(ctx, load_clips(cfg.corpus, split), index, generated)


def _video_route_job(cfg: EvalConfig, dirs: tuple[Path, Path, Path]) -> dict[str, Any] | None:
    """The video route in a worker process (see :func:`_video_route`)."""
    torch.set_num_threads(cfg.threads)
    return _video_route(cfg, dirs, load_clips(cfg.corpus, "test"))


def _video_route(
    cfg: EvalConfig, dirs: tuple[Path, Path, Path], clips: ClipSet
) -> dict[str, Any] | None:
    """The video → text route on a subset of the test clips (None when it is switched off)."""
    from tdmm_lm.eval.video_route import video_route
    from tdmm_lm.lm import load_model

    if not cfg.video_clips:
        return None
    model_dir, evaluator_dir, _ = dirs
    evaluator = MotionEvaluator.from_pretrained(evaluator_dir)
    return video_route(clips, load_model(model_dir), evaluator, cfg.video_clips, cfg.seed)


def _evaluator_reading(evaluator_dir: Path, results: dict[str, Any]) -> dict[str, Any]:
    """The evaluators' own accuracy on ground truth: as trained, and on this corpus.

    On this corpus, the L2M ground-truth row's CorE/CorM/CorI are the classifiers' accuracy
    and the M2L ground-truth row's are the caption parser's (on the prompts).
    """
    import json

    stored_path = evaluator_dir / "report.json"
    stored = json.loads(stored_path.read_text()) if stored_path.is_file() else None
    here = {
        split: {
            "classifiers": {
                a: section["l2m"]["ground-truth"][COR_NAMES[a]]["mean"] for a in ATTRIBUTES
            },
            "caption_parser": {
                a: section["m2l"]["ground-truth"][COR_NAMES[a]]["mean"] for a in ATTRIBUTES
            },
        }
        for split, section in results.items()
    }
    return {"path": str(evaluator_dir), "on_this_corpus": here, "as_trained": stored}


def _meta(
    cfg: EvalConfig,
    model_dir: Path,
    evaluator_dir: Path,
    baseline_dir: Path,
    splits: dict[str, ClipSet],
    start: float,
) -> dict[str, Any]:
    from tdmm_lm import __version__

    return {
        "tdmm_lm_version": __version__,
        "model": str(model_dir),
        "evaluators": str(evaluator_dir),
        "baseline_t2m_gpt": str(baseline_dir),
        "corpus": str(cfg.corpus),
        "config": {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()
        },
        "systems": {"l2m": list(L2M_SYSTEMS), "m2l": list(M2L_SYSTEMS)},
        "metrics": {"l2m": list(L2M_METRICS), "m2l": list(M2L_METRICS)},
        "interval": "mean ± 1.96 · std / sqrt(repeats) over the repeats",
        "seconds": round(time.perf_counter() - start, 1),
        "split_sizes": {name: len(c) for name, c in splits.items()},
    }


def _check_outputs(cfg: EvalConfig) -> None:
    """Refuse to run without a report folder, or to write the report into a file."""
    if not cfg.output or not cfg.corpus:
        raise InvalidInputError("an evaluation needs a corpus and an output folder")
    out = Path(cfg.output)
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"-o {out}: is a file; give a folder for the report")
