"""Speed figures of SPEC §8 (``tdmm bench``).

Each figure runs in a fresh child process, so that its ``peak_rss_mb`` is its own and not
the high-water mark of whatever ran before it. Each is the median of repeated runs.
Later pipeline stages add their figures to :data:`BENCHMARKS`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tdmm_lm.errors import InvalidInputError

__all__ = ["BENCHMARKS", "BenchConfig", "run_benchmarks"]


@dataclass(frozen=True)
class BenchConfig:
    """How hard to measure.

    Attributes:
        repeats: Timed runs per figure; the median is reported.
        render_size: Frame size of the render benchmark, px.
        render_frames: Frames per timed render run.
        facemodel_frames: Frames per timed face-model evaluation.
    """

    repeats: int = 5
    render_size: int = 512
    render_frames: int = 50
    facemodel_frames: int = 20_000
    synth_hours: float = 3.0  # long enough that pool start-up is not what gets measured
    synth_workers: int = 2
    synth_repeats: int = 3  # each repeat builds a whole corpus

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {self.repeats}")


def _median_rate(work: Callable[[], float], repeats: int) -> float:
    """Median of ``items / seconds`` over ``repeats`` runs, after one warm-up run."""
    work()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        items = work()
        rates.append(items / (time.perf_counter() - start))
    return statistics.median(rates)


def bench_facemodel(cfg: BenchConfig) -> float:
    """Frames per second of :meth:`FaceModel.vertices` on random parameters (NumPy)."""
    from tdmm_lm.face import FaceModel

    model = FaceModel()
    rng = np.random.default_rng(0)
    params = np.zeros((cfg.facemodel_frames, 61), np.float32)
    params[:, :52] = rng.random((cfg.facemodel_frames, 52))
    params[:, 52:] = rng.uniform(-0.3, 0.3, (cfg.facemodel_frames, 9))

    def work() -> int:
        model.vertices(params)
        return cfg.facemodel_frames

    return _median_rate(work, cfg.repeats)


def bench_render(cfg: BenchConfig) -> float:
    """Frames per second of the mesh-style renderer at ``render_size`` px (no encoding)."""
    from tdmm_lm.face import FaceModel
    from tdmm_lm.face.demo import demo_sequence
    from tdmm_lm.render import MeshRenderer

    seq = demo_sequence(seconds=cfg.render_frames / 25.0, fps=25.0)
    renderer = MeshRenderer(FaceModel(), size=cfg.render_size)

    def work() -> int:
        for frame in renderer.frames(seq.params):
            assert frame.shape[0] == cfg.render_size
        return len(seq.params)

    return _median_rate(work, cfg.repeats)


def bench_synth(cfg: BenchConfig) -> float:
    """Hours of motion per wall-clock minute of ``tdmm data build``.

    Procedural generators, Parquet writing included, with ``synth_workers`` processes.
    """
    import tempfile

    from tdmm_lm.data import BuildConfig, build_corpus

    build = BuildConfig(hours=cfg.synth_hours, workers=cfg.synth_workers, seed=0)

    def work() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            manifest = build_corpus(Path(tmp) / "corpus", build)
        return manifest.hours["total"] * 60.0  # hours per minute = (hours / s) * 60

    return _median_rate(work, min(cfg.repeats, cfg.synth_repeats))


#: The tracker figures run on the demo performance rendered in the photo style at this size.
FIT_VIDEO_SIZE = 512
FIT_VIDEO_SECONDS = 6.0
#: Frames per timed run of ``fit_only_fps`` (the demo's landmarks, repeated end to end).
FIT_ONLY_FRAMES = 3000


def _fit_video(tmp: Path) -> Path:
    """Render the demo performance to a photo-style mp4 (the tracker benchmarks' input)."""
    from tdmm_lm.face.demo import demo_sequence
    from tdmm_lm.render import render_sequence

    path = tmp / "face.mp4"
    seq = demo_sequence(seconds=FIT_VIDEO_SECONDS, fps=25.0)
    return render_sequence(seq, path, style="photo", size=FIT_VIDEO_SIZE)


def bench_fit(cfg: BenchConfig) -> float:
    """Frames per second of ``tdmm fit`` end to end: decode, landmarks, fit, smoothing."""
    import tempfile

    from tdmm_lm.track import fit_video

    with tempfile.TemporaryDirectory() as tmp:
        video = _fit_video(Path(tmp))

        def work() -> int:
            _, report = fit_video(video)
            return report.frames

        return _median_rate(work, cfg.repeats)


def bench_fit_only(cfg: BenchConfig) -> float:
    """Frames per second from landmarks to parameters (the fit, smoothing and QA alone)."""
    import tempfile

    from tdmm_lm.track import fit_track, track_landmarks

    with tempfile.TemporaryDirectory() as tmp:
        track = track_landmarks(_fit_video(Path(tmp)))
    reps = -(-FIT_ONLY_FRAMES // track.n_frames)  # ceil
    track.points = np.concatenate([track.points] * reps)
    track.found = np.concatenate([track.found] * reps)
    track.n_faces = np.concatenate([track.n_faces] * reps)
    track.timestamps = np.arange(len(track.found)) / track.fps

    def work() -> int:
        fit_track(track)
        return track.n_frames

    return _median_rate(work, cfg.repeats)


#: The language-model figures animate and describe this prompt's clip, 4 s long (SPEC §8).
LM_PROMPT = "a person smiles broadly and nods twice"
LM_SECONDS = 4.0
#: Timed training steps of ``train_tokens_per_s`` (after as many untimed ones).
LM_TRAIN_STEPS = 10


def _median_ms(work: Callable[[int], object], repeats: int) -> float:
    """Median wall time of ``work(i)``, in milliseconds, after one warm-up call."""
    work(0)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        work(i)
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def bench_animate(cfg: BenchConfig) -> float:
    """Milliseconds to animate a 4 s clip with the shipped model (``load_model()``)."""
    from tdmm_lm.lm import load_model

    model = load_model()
    return _median_ms(lambda i: model.animate(LM_PROMPT, LM_SECONDS, seed=i), cfg.repeats)


def bench_describe(cfg: BenchConfig) -> float:
    """Milliseconds to describe a 4 s clip with the shipped model."""
    from tdmm_lm.lm import load_model

    model = load_model()
    clip = model.animate(LM_PROMPT, LM_SECONDS, seed=0)
    return _median_ms(lambda i: model.describe(clip), cfg.repeats)


def bench_train_lm(cfg: BenchConfig) -> float:
    """Tokens per second of the release recipe's training loop (timed steps only).

    The corpus is small and the motion tokenizer untrained: neither changes what a step costs.
    """
    import json
    import tempfile

    from tdmm_lm.data import BuildConfig, build_corpus
    from tdmm_lm.lm import get_recipe, train_lm
    from tdmm_lm.tokenizer import MotionTokenizer, TokenizerConfig

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_corpus(root / "corpus", BuildConfig(hours=0.1, workers=1, seed=0))
        MotionTokenizer(TokenizerConfig(codebook_size=512)).save_pretrained(root / "tok")
        steps = 2 * LM_TRAIN_STEPS
        run = get_recipe(
            "release", corpus=str(root / "corpus"), tokenizer=str(root / "tok"),
            output=str(root / "lm"), steps=steps, log_every=LM_TRAIN_STEPS, eval_every=steps,
            eval_clips=1, checkpoint_every=steps,
        )  # fmt: skip
        train_lm(run)
        log = [json.loads(line) for line in open(root / "lm" / "train_log.jsonl")]
    return [r["tokens_per_s"] for r in log if r["event"] == "train"][-1]


#: Figure name -> function measuring it. Later stages register theirs here.
BENCHMARKS: dict[str, Callable[[BenchConfig], float]] = {
    "facemodel_frames_per_s": bench_facemodel,
    "render_fps": bench_render,
    "synth_hours_per_min": bench_synth,
    "fit_fps": bench_fit,
    "fit_only_fps": bench_fit_only,
    "animate_ms": bench_animate,
    "describe_ms": bench_describe,
    "train_tokens_per_s": bench_train_lm,
}


def _child(name: str, cfg: BenchConfig, queue: mp.Queue) -> None:
    try:
        value = BENCHMARKS[name](cfg)
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        queue.put((name, value, peak_kb / 1024.0, None))
    except Exception as e:  # reported back to the parent as a failed figure
        queue.put((name, float("nan"), float("nan"), f"{type(e).__name__}: {e}"))


def run_benchmarks(
    cfg: BenchConfig, names: list[str] | None = None, progress: Callable[[str], None] | None = None
) -> dict[str, object]:
    """Measure the figures ``names`` (all by default), each in its own process.

    Returns:
        ``{figure: value, ..., "peak_rss_mb": {figure: MB}, "cores": n, "errors": {...}}``.
    """
    names = names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise InvalidInputError(
            f"unknown benchmark(s) {', '.join(unknown)}; valid: {', '.join(BENCHMARKS)}"
        )
    ctx = mp.get_context("spawn")
    result: dict[str, object] = {}
    peaks: dict[str, float] = {}
    errors: dict[str, str] = {}
    for name in names:
        if progress:
            progress(name)
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(name, cfg, queue))
        proc.start()
        _, value, peak, error = queue.get()
        proc.join()
        result[name] = round(value, 3)
        peaks[name] = round(peak, 1)
        if error:
            errors[name] = error
    result["peak_rss_mb"] = peaks
    result["cores"] = os.cpu_count()
    result["repeats"] = cfg.repeats
    result["python"] = sys.version.split()[0]
    if errors:
        result["errors"] = errors
    return result
