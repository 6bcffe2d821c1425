"""The release pipeline: ``tdmm train --recipe release`` from nothing to a shipped model.

One command builds everything the shipped model needs, in stages that each resume after a
kill and are skipped once done. Stages that do not depend on each other run side by side,
so the two cores of the target machine both work: the tokenizer trains alone on every core,
then the language model trains on one thread while the baseline and then the evaluators
train on the other::

    OUT/build/corpus/       1. the procedural corpus (``tdmm data build``)
    OUT/build/tokenizer/    2. the motion tokenizer (``tdmm tokenizer train``)
    OUT/                    3. the language model (``tdmm train``): OUT is the model folder
    OUT/evaluators/         4. the evaluators (``tdmm eval train-evaluators``)
    OUT/baselines/t2m_gpt/  5. the T2M-GPT-style baseline, on the same text-to-motion budget
    OUT/release.json        what was built, with the figures and the time of each stage

:func:`ship` then copies the model (without its checkpoints, caches and build folder) into
the package, where ``load_model()`` finds it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tdmm_lm.files import write_json_atomic

__all__ = ["SHIPPED_FILES", "ReleaseConfig", "build_release", "ship"]

log = logging.getLogger(__name__)

RELEASE_FILE = "release.json"
#: Release options added after the first releases were begun; at their default they are left
#: out of ``release.json``, so those runs still resume.
LATER_OPTIONS = ("mark_longest", "intensity_scale")
#: What a shipped model folder holds (the rest of the run folder stays behind).
SHIPPED_FILES = (
    "config.json",
    "model.safetensors",
    "vocab.json",
    "train_config.json",
    "train_log.jsonl",
    RELEASE_FILE,
    "tokenizer",
    "evaluators",
    "baselines",
)


@dataclass
class ReleaseConfig:
    """What the release is built from; every stage's own recipe is named here.

    Attributes:
        hours: Hours of procedural motion in the corpus.
        corpus_seed: Seed of the corpus build.
        workers: Processes of the corpus build.
        mark_longest: The corpus's prompts of several expressions say which lasts longest
            (``BuildConfig.mark_longest``).
        intensity_scale: How the corpus's expressions scale with intensity
            (``BuildConfig.intensity_scale``).
        tokenizer_recipe: Recipe of the motion tokenizer.
        lm_recipe: Recipe of the language model; the T2M-GPT-style baseline gets the same
            recipe with as many text-to-motion examples (its steps scaled by the recipe's
            Language2Motion share), since that is all it learns.
        evaluator_recipe: Recipe of the evaluators.
        seed: Seed of the tokenizer and language-model training.
        stages: The stages to run (a subset, for experiments); they run in the order of
            :data:`WAVES`.
    """

    hours: float = 20.0
    corpus_seed: int = 0
    workers: int = 2
    mark_longest: bool = False
    intensity_scale: str = "linear"
    tokenizer_recipe: str = "residual"
    lm_recipe: str = "release"
    evaluator_recipe: str = "release"
    seed: int = 0
    stages: tuple[str, ...] = ("corpus", "tokenizer", "evaluators", "lm", "baseline")
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.stages = tuple(self.stages)
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown:
            raise ValueError(f"unknown release stage(s) {unknown}; valid: {', '.join(STAGES)}")
        if self.hours <= 0 or self.workers < 1:
            raise ValueError(f"need hours > 0 and workers >= 1, got {self.hours}, {self.workers}")


def corpus_dir(out: Path) -> Path:
    """Where the release's corpus is built."""
    return out / "build" / "corpus"


def tokenizer_dir(out: Path) -> Path:
    """Where the release's motion tokenizer is trained."""
    return out / "build" / "tokenizer"


def _stage_corpus(out: Path, cfg: ReleaseConfig, progress: Callable | None) -> dict[str, Any]:
    from tdmm_lm.data import BuildConfig, build_corpus

    build = BuildConfig(
        hours=cfg.hours,
        seed=cfg.corpus_seed,
        workers=cfg.workers,
        mark_longest=cfg.mark_longest,
        intensity_scale=cfg.intensity_scale,
    )
    manifest = build_corpus(corpus_dir(out), build, progress)
    return {"hours": cfg.hours, "samples": dataclasses.asdict(manifest).get("counts")}


def _stage_tokenizer(out: Path, cfg: ReleaseConfig, progress: Callable | None) -> dict[str, Any]:
    from tdmm_lm.tokenizer import TokenizerTrainConfig, train_tokenizer

    tok_cfg = TokenizerTrainConfig.from_recipe(
        cfg.tokenizer_recipe,
        corpus=str(corpus_dir(out)),
        output=str(tokenizer_dir(out)),
        seed=cfg.seed,
    )
    report = train_tokenizer(tok_cfg, resume=True, progress=progress)
    keep = (
        "vertex_error_mm",
        "posed_vertex_error_mm",
        "codebook_usage",
        "repeat_rate",
        "pair_repeat_rate",
        "peak_retention",
    )
    return {k: report[k] for k in keep if k in report}


def _stage_lm(out: Path, cfg: ReleaseConfig, progress: Callable | None) -> dict[str, Any]:
    from tdmm_lm.lm.recipes import get_recipe
    from tdmm_lm.lm.train import train_lm

    lm_cfg = get_recipe(
        cfg.lm_recipe,
        corpus=str(corpus_dir(out)),
        tokenizer=str(tokenizer_dir(out)),
        output=str(out),
        seed=cfg.seed,
    )
    train_lm(lm_cfg, resume=True, progress=progress)
    return {"recipe": cfg.lm_recipe}


def _stage_evaluators(out: Path, cfg: ReleaseConfig, progress: Callable | None) -> dict[str, Any]:
    from tdmm_lm.eval import EVALUATOR_SUBDIR, EvaluatorTrainConfig, train_evaluators

    eval_cfg = EvaluatorTrainConfig.from_recipe(
        cfg.evaluator_recipe,
        corpus=str(corpus_dir(out)),
        output=str(out / EVALUATOR_SUBDIR),
        seed=cfg.seed,
    )
    return {"report": train_evaluators(eval_cfg, progress)}


def _stage_baseline(out: Path, cfg: ReleaseConfig, progress: Callable | None) -> dict[str, Any]:
    from tdmm_lm.eval import BASELINE_SUBDIR, train_t2m_baseline
    from tdmm_lm.lm.recipes import get_recipe

    recipe = get_recipe(cfg.lm_recipe)
    steps = max(1, round(recipe.steps * recipe.l2m_fraction))
    train_t2m_baseline(
        corpus_dir(out),
        tokenizer_dir(out),
        out / BASELINE_SUBDIR,
        recipe=cfg.lm_recipe,
        progress=progress,
        resume=True,
        seed=cfg.seed,
        steps=steps,
    )
    return {"recipe": cfg.lm_recipe, "steps": steps}


def _run_stage(name: str, out: Path, cfg: ReleaseConfig, progress: Callable | None) -> dict:
    """Run one stage and return its figures with its wall time."""
    start = time.time()
    figures = STAGES[name](out, cfg, progress)
    return {**figures, "seconds": round(time.time() - start, 1)}


def _side_stage_file(out: Path, name: str) -> Path:
    return out / "build" / f"stage-{name}.json"


def _side_lane_main(names: list[str], out: Path, cfg: ReleaseConfig) -> None:
    """Entry point of a side lane's process: its stages one after the other.

    Each stage runs in a fresh process of its own, so that what one stage loaded (its
    corpus arrays, caches of loaded models) is returned before the next one loads its own
    (SPEC's memory bound for the release is 8 GB). Each stage's figures go to its own file,
    so a kill keeps the stages already done.
    """
    ctx = multiprocessing.get_context("spawn")
    for name in names:
        worker = ctx.Process(target=_side_stage_main, args=(name, out, cfg))
        worker.start()
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit(f"release stage {name} failed (exit code {worker.exitcode})")


def _side_stage_main(name: str, out: Path, cfg: ReleaseConfig) -> None:
    """Entry point of one side stage's process (one thread): its figures go to a file."""
    import torch

    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO)
    write_json_atomic(_side_stage_file(out, name), _run_stage(name, out, cfg, None))


#: Stage name -> function(out, cfg, progress) -> figures for ``release.json``.
STAGES: dict[str, Callable[[Path, ReleaseConfig, Callable | None], dict[str, Any]]] = {
    "corpus": _stage_corpus,
    "tokenizer": _stage_tokenizer,
    "lm": _stage_lm,
    "evaluators": _stage_evaluators,
    "baseline": _stage_baseline,
}
#: The order stages run in. A wave needs only earlier waves and is a tuple of lanes; a
#: lane's stages run one after the other. The first lane runs in this process (with
#: progress), on every core when it runs alone and on one thread when other lanes run beside
#: it, each in its own process on one thread.
#:
#: The tokenizer runs alone because two threads train it 1.4x faster (measured: 250 steps of
#: the residual recipe), and the language model, the longest stage, is on the critical path
#: behind it. The evaluators (about 6 min) follow the baseline (about 40 min) beside it.
#: Thread counts are fixed per stage, never switched when a neighbour finishes, because the
#: thread count changes floating-point reduction order and a switch at a wall-clock moment
#: would make a run irreproducible.
WAVES: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("corpus",),),
    (("tokenizer",),),
    (("lm",), ("baseline", "evaluators")),
)


def build_release(
    out: str | Path,
    cfg: ReleaseConfig | None = None,
    on_stage: Callable[[str], Callable[[int, int], None] | None] | None = None,
) -> dict[str, Any]:
    """Run (or resume) every stage of the release into ``out``.

    Args:
        out: The release folder; it becomes the model folder.
        cfg: What to build (the defaults are the shipped release).
        on_stage: Called with a stage's name as it starts; returns that stage's progress
            callback ``(done, total)`` or None.

    Returns:
        The contents of ``OUT/release.json``: the config and, per stage, its figures and
        wall time.
    """
    cfg = cfg or ReleaseConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record_path = out / RELEASE_FILE
    settings = json.loads(json.dumps(dataclasses.asdict(cfg)))  # as release.json holds it
    defaults = ReleaseConfig()
    for name in LATER_OPTIONS:  # at their default they go unrecorded: older releases resume
        if settings[name] == getattr(defaults, name):
            settings.pop(name)
    record: dict[str, Any] = {"config": settings, "stages": {}}
    if record_path.is_file():
        previous = json.loads(record_path.read_text())
        if previous.get("config") != record["config"]:
            raise ValueError(f"{out} holds a release built with other settings; use another folder")
        record = previous
    todo = [name for name in cfg.stages if name not in record["stages"]]
    for wave in WAVES:
        lanes = [names for names in ([n for n in lane if n in todo] for lane in wave) if names]
        if not lanes:
            continue
        main, side = lanes[0], lanes[1:]
        # The side lanes start first, in fresh processes ("spawn": no forked torch state).
        ctx = multiprocessing.get_context("spawn")
        workers = [ctx.Process(target=_side_lane_main, args=(lane, out, cfg)) for lane in side]
        for worker in workers:
            worker.start()
        threads = torch_threads(1 if side else None)
        try:
            for name in main:
                record["stages"][name] = _run_stage(name, out, cfg, _progress(on_stage, name))
                write_json_atomic(record_path, record)
        finally:
            torch_threads(threads)
            for worker in workers:
                worker.join()
        for lane, worker in zip(side, workers, strict=True):
            for name in lane:  # what a lane finished is kept even if a later stage failed
                figures = _side_stage_file(out, name)
                if figures.is_file():
                    record["stages"][name] = json.loads(figures.read_text())
            write_json_atomic(record_path, record)
            if worker.exitcode != 0:
                raise RuntimeError(f"release lane {', '.join(lane)} failed "
                                   f"(exit code {worker.exitcode})")  # fmt: skip
    return record


def _progress(on_stage: Callable | None, name: str) -> Callable | None:
    return on_stage(name) if on_stage is not None else None


def torch_threads(n: int | None) -> int:
    """Set torch's CPU threads to ``n`` (None leaves them); returns the previous count."""
    import torch

    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    return previous


def ship(run: str | Path, target: str | Path) -> Path:
    """Copy a release run's model files into ``target`` (replaced atomically).

    Args:
        run: A folder written by :func:`build_release`.
        target: The shipped model folder (``tdmm_lm/assets/release`` in the repository).

    Returns:
        ``target``.
    """
    run, target = Path(run), Path(target)
    if not (run / "config.json").is_file():
        raise ValueError(f"{run} holds no trained model (no config.json)")
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    staging.mkdir(parents=True)
    try:
        for name in SHIPPED_FILES:
            source = run / name
            if source.is_dir():
                shutil.copytree(source, staging / name, ignore=_not_shipped)
            elif source.is_file():
                shutil.copy2(source, staging / name)
        for weights in (
            staging / "model.safetensors",
            *staging.glob("baselines/*/model.safetensors"),
        ):
            if weights.is_file():
                _to_half(weights)
        for baseline in staging.glob("baselines/*"):
            _share_tokenizer(baseline, staging / "tokenizer")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _share_tokenizer(model_dir: Path, tokenizer: Path) -> None:
    """Point a shipped model folder at ``tokenizer`` when its own copy is byte-identical.

    The baseline is trained on the release model's tokenizer; shipping it twice would
    spend 2 MB of the 30 MB budget on a duplicate.
    """
    own = model_dir / "tokenizer"
    if not (own.is_dir() and tokenizer.is_dir()):
        return
    names = sorted(p.name for p in own.iterdir())
    if names != sorted(p.name for p in tokenizer.iterdir()) or any(
        (own / n).read_bytes() != (tokenizer / n).read_bytes() for n in names
    ):
        return
    header_path = model_dir / "config.json"
    header = json.loads(header_path.read_text())
    header["config"]["tokenizer_dir"] = os.path.relpath(tokenizer, model_dir)
    write_json_atomic(header_path, header)
    shutil.rmtree(own)


def _to_half(weights: Path) -> None:
    """Store a language model's float32 weights as float16, in place.

    The language model and its baseline are most of the release's bytes (20 MB each in
    float32, over the 30 MB budget together); loading casts them back to float32, and
    16-bit rounding (3 significant digits) is far below what training resolves. The small
    tokenizer and evaluators stay float32.
    """
    import torch
    from safetensors import safe_open
    from safetensors.torch import save

    from tdmm_lm.files import atomic_write

    with safe_open(str(weights), framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    half = {k: v.half() if v.dtype == torch.float32 else v for k, v in tensors.items()}
    with atomic_write(weights) as out:
        out.write(save(half, metadata=metadata))


def _not_shipped(folder: str, names: list[str]) -> set[str]:
    """Run-only files inside shipped folders: checkpoints, caches, logs of TensorBoard."""
    return {n for n in names if n in ("checkpoints", "checkpoint", "cache", "tensorboard")}
