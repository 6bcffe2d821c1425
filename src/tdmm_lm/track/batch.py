"""Track every video in a folder, one process per core.

Each video gives ``OUT/<name>.npz`` (the sequence) and ``OUT/<name>.qa.json`` (its QA
report). A video that fails (unreadable, no face, ...) is reported and skipped; the others
go on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from tdmm_lm.errors import InvalidInputError, TdmmError

__all__ = ["VIDEO_SUFFIXES", "BatchItem", "find_videos", "fit_folder", "output_names"]

log = logging.getLogger(__name__)

#: File suffixes taken for videos in a folder (case-insensitive).
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".avi", ".mkv", ".m4v", ".mpg", ".mpeg")
#: Libraries that start one thread per core in every worker unless told otherwise.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class BatchItem:
    """The outcome of one video.

    Attributes:
        video: The input file.
        sequence: The ``.npz`` written, or ``None`` on failure.
        report: The QA ``.json`` written, or ``None`` on failure.
        error: The one-line reason of a failure, else ``None``.
        tracked_fraction: Fraction of frames with the face (NaN on failure).
    """

    video: Path
    sequence: Path | None
    report: Path | None
    error: str | None
    tracked_fraction: float


def find_videos(folder: Path) -> list[Path]:
    """The videos directly inside ``folder``, sorted by name."""
    if not folder.is_dir():
        raise InvalidInputError(f"{folder}: not a folder")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def output_names(videos: list[Path]) -> dict[Path, str]:
    """Output base name of each video: its stem, plus its suffix when stems collide."""
    stems: dict[str, int] = {}
    for video in videos:
        stems[video.stem] = stems.get(video.stem, 0) + 1
    return {v: v.stem if stems[v.stem] == 1 else f"{v.stem}_{v.suffix[1:]}" for v in videos}


def _fit_one(video: Path, base: Path, config) -> BatchItem:  # config: TrackConfig
    """Worker: track one video and write its outputs; user errors become a result."""
    from tdmm_lm.track.api import fit_video

    try:
        sequence, report = fit_video(video, config)
    except TdmmError as error:
        return BatchItem(video, None, None, " ".join(str(error).split()), float("nan"))
    npz, qa = base.with_suffix(".npz"), base.with_suffix(".qa.json")
    sequence.save(npz)
    report.save(qa)
    return BatchItem(video, npz, qa, None, report.tracked_fraction)


@contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Let spawned workers inherit one-thread settings for the numeric libraries."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARIABLES}
    os.environ.update({k: "1" for k in _THREAD_VARIABLES})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def fit_folder(
    folder: Path,
    output: Path,
    config=None,  # TrackConfig | None
    workers: int | None = None,
    on_done: Callable[[BatchItem], None] | None = None,
) -> list[BatchItem]:
    """Track all videos of ``folder`` into ``output``, in parallel.

    Args:
        folder: Folder holding the videos (not searched recursively).
        output: Folder for the results; created if missing.
        config: Tracker settings (a :class:`~tdmm_lm.track.api.TrackConfig`).
        workers: Processes; one per core by default.
        on_done: Called with each video's outcome as it finishes.

    Returns:
        One item per video, in name order.

    Raises:
        InvalidInputError: ``folder`` is not a folder or holds no videos.
    """
    videos = find_videos(folder)
    if not videos:
        raise InvalidInputError(
            f"{folder}: no videos found (looked for {', '.join(VIDEO_SUFFIXES)})"
        )
    output.mkdir(parents=True, exist_ok=True)
    names = output_names(videos)
    workers = max(1, min(workers or os.cpu_count() or 1, len(videos)))
    results: dict[Path, BatchItem] = {}
    # Spawned, not forked: MediaPipe's graph threads do not survive a fork.
    with (
        _single_threaded_children(),
        ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool,
    ):
        futures = {pool.submit(_fit_one, v, output / names[v], config): v for v in videos}
        for future in as_completed(futures):
            item = future.result()
            results[item.video] = item
            if item.error:
                log.warning("%s: %s", item.video, item.error)
            if on_done is not None:
                on_done(item)
    return [results[v] for v in videos]
