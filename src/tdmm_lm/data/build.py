"""``tdmm data build``: prompts -> generators -> Parquet shards, in parallel, resumable.

The corpus is planned as a sequence of blocks before anything is generated. Block ``k``
holds ``sizes[k]`` prompt specs, the window of the seed's prompt stream that starts at
``k * block_size``, so any block can be regenerated alone, identically, by any worker.
A worker writes one shard per split for its block, then a marker file; a resumed build skips
the blocks with markers and redoes the rest (rewriting a half-written block gives the same
bytes, so nothing is lost or duplicated). Memory stays bounded: only one block per worker is
ever in memory.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tdmm_lm.data.format import (
    SPLITS,
    VIDEO_DIR,
    Manifest,
    read_manifest,
    read_split,
    remove_partial_shards,
    shard_path,
    write_manifest,
    write_shard,
)
from tdmm_lm.data.splits import assign_split, held_out_combos
from tdmm_lm.errors import InvalidInputError
from tdmm_lm.files import atomic_write
from tdmm_lm.prompts import INTENSITY_SCALES

__all__ = ["BuildConfig", "build_corpus", "plan_blocks"]

#: Build options added after the first corpora were built; see :meth:`BuildConfig.settings`.
LATER_OPTIONS = ("mark_longest", "intensity_scale")

log = logging.getLogger(__name__)

MARKER_DIR = ".blocks"
DEFAULT_GENERATORS = ("keyframe", "dynamics")
MAX_HOURS = 10_000.0  # a sanity bound on typos, not a capacity limit


@dataclass(frozen=True)
class BuildConfig:
    """Settings of one corpus build; all of them are recorded in the manifest.

    Attributes:
        hours: Hours of motion to generate (the last block is trimmed to reach it).
        generators: Generator names; samples are spread over them evenly.
        seed: Build seed; the same seed and settings give the same corpus.
        fps: Frame rate of the generated sequences.
        block_size: Prompt specs per block (one shard per split per block).
        t2v_command: Command template of the ``t2v`` generator (see
            :class:`tdmm_lm.synth.CommandVideoGenerator`); only used by ``t2v``.
        mark_longest: Prompts that name several expressions say which one lasts longest
            (see :func:`~tdmm_lm.prompts.sample_prompts`); the motion is the same.
        intensity_scale: How the procedural generators scale an expression by its
            intensity level (a key of :data:`~tdmm_lm.prompts.schema.INTENSITY_SCALES`).
        workers: Processes generating blocks in parallel (not recorded: it does not change
            the result).
    """

    hours: float = 1.0
    generators: tuple[str, ...] = DEFAULT_GENERATORS
    seed: int = 0
    fps: float = 25.0
    block_size: int = 256
    t2v_command: str = ""
    mark_longest: bool = False
    intensity_scale: str = "linear"
    workers: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.hours <= MAX_HOURS:
            raise InvalidInputError(f"--hours must be in (0, {MAX_HOURS:g}], got {self.hours}")
        if not self.generators:
            raise InvalidInputError("at least one --generator is needed")
        if self.intensity_scale not in INTENSITY_SCALES:
            raise InvalidInputError(
                f"unknown --intensity-scale {self.intensity_scale!r}; valid: "
                f"{', '.join(INTENSITY_SCALES)}"
            )
        if "t2v" in self.generators and not self.t2v_command:
            raise InvalidInputError("the t2v generator needs --t2v-cmd (a command template)")
        if self.block_size < 1 or self.workers < 1 or self.fps <= 0:
            raise InvalidInputError(
                f"block_size, workers and fps must be positive, got {self.block_size}, "
                f"{self.workers}, {self.fps}"
            )

    def settings(self) -> dict[str, Any]:
        """What the manifest records (everything that changes the content)."""
        d = asdict(self)
        d.pop("workers")
        defaults = BuildConfig()
        for name in LATER_OPTIONS:  # at their default they go unrecorded: older corpora resume
            if d[name] == getattr(defaults, name):
                d.pop(name)
        d["generators"] = list(self.generators)
        return d


def _block_specs(cfg: BuildConfig, block: int, size: int) -> list:
    """The first ``size`` specs of block ``block``.

    Blocks are windows of one seed-wide prompt stream, so the whole corpus stays exactly
    stratified however it is cut into blocks.
    """
    from tdmm_lm.prompts import sample_prompts

    return sample_prompts(
        size, seed=cfg.seed, start=block * cfg.block_size, mark_longest=cfg.mark_longest
    )


def plan_blocks(cfg: BuildConfig) -> list[int]:
    """Number of specs in each block so that the total duration first reaches ``hours``."""
    target = cfg.hours * 3600.0
    sizes: list[int] = []
    total = 0.0
    while total < target:
        durations = np.cumsum([s.duration_s for s in _block_specs(cfg, len(sizes), cfg.block_size)])
        if total + durations[-1] >= target:
            sizes.append(int(np.searchsorted(durations, target - total) + 1))
            break
        sizes.append(cfg.block_size)
        total += float(durations[-1])
    return sizes


def _generator_options(cfg: BuildConfig, corpus: Path) -> dict[str, dict[str, Any]]:
    """Per-generator options that come from the build (videos, t2v command, intensity)."""
    from tdmm_lm.synth import GENERATORS

    options: dict[str, dict[str, Any]] = {}
    for name in cfg.generators:
        fields = {f.name for f in dataclasses.fields(GENERATORS[name].config_class)}
        opts: dict[str, Any] = {}
        if "video_dir" in fields:
            opts["video_dir"] = str(corpus / VIDEO_DIR)
        if "intensity_scale" in fields:
            opts["intensity_scale"] = cfg.intensity_scale
        if name == "t2v":
            opts["command"] = cfg.t2v_command
        options[name] = opts
    return options


def _row(spec: Any, split: str, seq: Any, generator: str) -> dict[str, Any]:
    return {
        "id": spec.id,
        "split": split,
        "prompt": spec.prompt,
        "captions": list(spec.captions),
        "labels": spec.labels.to_dict(),
        "generator": generator,
        "fps": float(seq.fps),
        "n_frames": int(seq.n_frames),
        "space": seq.space,
        "params": seq.params.reshape(-1),
        "video": f"{VIDEO_DIR}/{seq.meta['video']}" if seq.meta.get("video") else None,
        "quality": seq.meta.get("quality"),
        "seed": int(spec.seed),
        "held_out_phrasing": bool(spec.held_out_phrasing),
    }


def _build_block(corpus: str, cfg: BuildConfig, block: int, size: int, n_blocks: int) -> int:
    """Generate block ``block`` and write its shards and marker; return its spec count.

    A spec a video-based generator cannot perform (:class:`GenerationError`) is left out and
    recorded in the marker, which the manifest sums up.
    """
    from tdmm_lm.prompts import CATEGORIES
    from tdmm_lm.synth import GenerationError, get_generator

    combos = held_out_combos(CATEGORIES)
    options = _generator_options(cfg, Path(corpus))
    generators = [get_generator(name, **options[name]) for name in cfg.generators]
    by_split: dict[str, list[dict[str, Any]]] = defaultdict(list)
    failures: list[dict[str, str]] = []
    for spec in _block_specs(cfg, block, size):
        generator = generators[spec.seed % len(generators)]
        try:
            seq = generator.generate(spec, fps=cfg.fps)
        except GenerationError as e:
            log.warning("skipping %s: %s", spec.id, e)
            failures.append({"id": spec.id, "generator": generator.name, "error": str(e)})
            continue
        split = assign_split(spec, combos)
        by_split[split].append(_row(spec, split, seq, generator.name))
    for split, rows in by_split.items():
        write_shard(shard_path(Path(corpus), split, block, n_blocks), rows)
    marker = Path(corpus) / MARKER_DIR / f"{block:05d}.done"
    with atomic_write(marker) as f:
        f.write(json.dumps({"failures": failures}).encode())
    return size


def _worker_init() -> None:
    # One BLAS thread per process: the pool already uses every core, and OpenBLAS threads
    # oversubscribing them halve the generators' speed.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _open_or_create(corpus: Path, cfg: BuildConfig) -> Manifest:
    """The manifest of a resumed build (settings must match) or a freshly planned one."""
    from tdmm_lm import __version__

    if (corpus / "manifest.json").exists():
        manifest = read_manifest(corpus)
        # block_sizes is derived from the settings, so it is left out of the comparison
        recorded = {k: v for k, v in manifest.settings.items() if k != "block_sizes"}
        if recorded != cfg.settings():
            raise InvalidInputError(
                f"{corpus} holds a corpus built with other settings ({manifest.settings}); "
                "choose a new -o folder, or repeat the original settings to resume"
            )
        return manifest
    if corpus.exists() and any(corpus.iterdir()):
        raise InvalidInputError(f"{corpus} exists and is not a corpus; choose an empty -o folder")
    settings = cfg.settings()
    settings["block_sizes"] = plan_blocks(cfg)
    manifest = Manifest(
        settings=settings, n_blocks=len(settings["block_sizes"]), tdmm_lm_version=__version__
    )
    corpus.mkdir(parents=True, exist_ok=True)
    write_manifest(corpus, manifest)
    return manifest


def build_corpus(
    output: str | Path,
    cfg: BuildConfig,
    progress: Callable[[int, int], None] | None = None,
) -> Manifest:
    """Build (or resume) the corpus at ``output``.

    Args:
        output: Corpus folder.
        cfg: Build settings.
        progress: Called as ``progress(done_samples, total_samples)`` after each block.

    Returns:
        The completed manifest, with counts and hours per split.
    """
    corpus = Path(output)
    manifest = _open_or_create(corpus, cfg)
    if remove_partial_shards(corpus):
        log.info("%s: removed the partial shards of an interrupted build", corpus)
    sizes: list[int] = manifest.settings["block_sizes"]
    n_blocks = manifest.n_blocks
    done = {int(p.stem.split(".")[0]) for p in (corpus / MARKER_DIR).glob("*.done")}
    pending = [k for k in range(n_blocks) if k not in done]
    total = sum(sizes)
    finished = sum(sizes[k] for k in done)
    if progress:
        progress(finished, total)
    log.info("building %s: %d blocks pending of %d", corpus, len(pending), n_blocks)
    if cfg.workers == 1:
        for k in pending:
            finished += _build_block(str(corpus), cfg, k, sizes[k], n_blocks)
            if progress:
                progress(finished, total)
    else:
        with ProcessPoolExecutor(cfg.workers, initializer=_worker_init) as pool:
            futures = [
                pool.submit(_build_block, str(corpus), cfg, k, sizes[k], n_blocks) for k in pending
            ]
            for future in as_completed(futures):
                finished += future.result()
                if progress:
                    progress(finished, total)
    return _finalise(corpus, manifest)


def _finalise(corpus: Path, manifest: Manifest) -> Manifest:
    """Fill in counts and hours from the shards and mark the manifest complete."""
    counts, seconds = {}, {}
    for split in SPLITS:
        table = read_split(corpus, split, columns=["n_frames", "fps"])
        counts[split] = table.num_rows
        frames = np.asarray(table["n_frames"]).astype(np.float64)
        fps = np.asarray(table["fps"]).astype(np.float64)
        seconds[split] = float((frames / fps).sum())  # 0.0 for an empty split
    # The total sums the exact durations: a sum of rounded split hours read 19.9997 for a
    # corpus built to 20 hours.
    seconds["total"] = sum(seconds.values())
    hours = {split: round(s / 3600.0, 4) for split, s in seconds.items()}
    failures = []
    for marker in sorted((corpus / MARKER_DIR).glob("*.done")):
        failures += json.loads(marker.read_text() or "{}").get("failures", [])
    manifest.counts, manifest.hours = counts, hours
    manifest.failures = len(failures)
    manifest.splits = [s for s in SPLITS if counts[s]]
    manifest.complete = True
    write_manifest(corpus, manifest)
    return manifest
