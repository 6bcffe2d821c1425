"""``tdmm fit``: video to ``arkit`` parameters (one video, or a folder of them)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tdmm_lm.cli.app import app, progress_bar
from tdmm_lm.errors import InvalidInputError


@app.command()
def fit(
    video: Annotated[
        Path,
        typer.Argument(metavar="VIDEO", help="A video (mp4, mov, webm, avi, ...) or a folder."),
    ],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="The .npz to write (a folder when VIDEO is one)."),
    ],
    space: Annotated[str, typer.Option(help="Parameter space to fit (arkit).")] = "arkit",
    report: Annotated[
        Path | None,
        typer.Option(
            help="Write the QA report (JSON) here. For a folder: a summary (each video's "
            "report is written next to its .npz)."
        ),
    ] = None,
    fps: Annotated[float, typer.Option(help="Frame rate of the output sequence.")] = 25.0,
    face_index: Annotated[
        int | None,
        typer.Option(help="Follow this face, 0 = leftmost, when several are visible."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Processes for a folder (default: one per core).")
    ] = None,
) -> None:
    """Track a face video into an arkit parameter sequence, with a quality report."""
    from tdmm_lm.track.api import TrackConfig, check_space
    from tdmm_lm.track.landmarks import LandmarkConfig

    check_space(space)
    try:
        landmarks = LandmarkConfig(face_index=face_index)
        config = TrackConfig(fps=fps, space=space, landmarks=landmarks)
    except ValueError as error:  # a bad option value
        raise InvalidInputError(str(error)) from error
    if video.is_dir():
        _fit_folder(video, output, config, workers, report)
    else:
        _fit_file(video, output, config, report)


def _fit_file(video: Path, output: Path, config, report: Path | None) -> None:
    from tdmm_lm.track.api import fit_video
    from tdmm_lm.track.video import probe_video

    if output.suffix.lower() != ".npz":
        raise InvalidInputError(f"{output}: the output must be an .npz file")
    info = probe_video(video)
    progress, step = progress_bar(f"tracking {video.name}", info.n_frames or None)
    with progress:
        sequence, qa = fit_video(video, config, on_frame=step)
    sequence.save(output)
    if report is not None:
        qa.save(report)
    typer.echo(
        f"wrote {output} ({sequence.n_frames} frames at {sequence.fps:g} fps; face tracked in "
        f"{100 * qa.tracked_fraction:.1f}% of frames, {len(qa.flagged_spans)} flagged spans)"
    )


def _fit_folder(
    folder: Path, output: Path, config, workers: int | None, report: Path | None
) -> None:
    import json

    from tdmm_lm.files import atomic_write
    from tdmm_lm.track.batch import find_videos, fit_folder

    progress, step = progress_bar(f"tracking {folder.name}/", len(find_videos(folder)))
    with progress:
        items = fit_folder(folder, output, config, workers, on_done=lambda _: step())
    failed = [i for i in items if i.error]
    for item in failed:
        typer.echo(f"failed {item.video.name}: {item.error}", err=True)
    if report is not None:
        summary = [
            {
                "video": str(i.video),
                "sequence": str(i.sequence) if i.sequence else None,
                "report": str(i.report) if i.report else None,
                "error": i.error,
            }
            for i in items
        ]
        with atomic_write(report) as handle:
            handle.write(json.dumps(summary, indent=1).encode())
    typer.echo(f"wrote {len(items) - len(failed)} of {len(items)} sequences to {output}")
    if failed and len(failed) == len(items):
        raise InvalidInputError(f"no video in {folder} could be tracked")
