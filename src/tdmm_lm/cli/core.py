"""Core commands: info, convert, render, demo, bench."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tdmm_lm.cli.app import app, progress_bar
from tdmm_lm.errors import TdmmError

#: Channel names shown by ``tdmm info`` before eliding the rest.
INFO_SHOWN_CHANNELS = 6


@app.command()
def info(
    input_path: Annotated[
        Path, typer.Argument(metavar="INPUT", help="A sequence: .npz or Live Link .csv.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the fields as JSON.")] = False,
) -> None:
    """Show a sequence's frames, frame rate, space, channels, duration and metadata."""
    from tdmm_lm.face.io import load_sequence

    fields = load_sequence(input_path).info()
    if as_json:
        import json

        typer.echo(json.dumps(fields))
        return
    _print_info_table(input_path, fields)


def _print_info_table(input_path: Path, fields: dict) -> None:
    """Print ``tdmm info`` fields as a two-column rich table."""
    from rich.console import Console
    from rich.table import Table

    channels = fields["channels"]
    shown = ", ".join(channels[:INFO_SHOWN_CHANNELS])
    if len(channels) > INFO_SHOWN_CHANNELS:
        shown += f", … ({len(channels) - INFO_SHOWN_CHANNELS} more)"
    table = Table(title=str(input_path), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("frames", str(fields["frames"]))
    table.add_row("fps", f"{fields['fps']:g}")
    table.add_row("seconds", f"{fields['seconds']:.3f}")
    table.add_row("space", fields["space"])
    table.add_row("channels", f"{len(channels)}: {shown}")
    for key, value in fields["meta"].items():
        table.add_row(f"meta.{key}", str(value))
    Console().print(table)


@app.command()
def convert(
    input_path: Annotated[
        Path, typer.Argument(metavar="IN", help="The sequence to read: .npz or Live Link .csv.")
    ],
    output_path: Annotated[
        Path,
        typer.Argument(
            metavar="OUT",
            help="The file to write: .npz, Live Link .csv, or glTF .glb (export only).",
        ),
    ],
) -> None:
    """Convert a sequence between formats, chosen by suffix: .npz <-> .csv (Live Link) -> .glb."""
    from tdmm_lm.face.io import convert_sequence

    sequence = convert_sequence(input_path, output_path)
    typer.echo(f"wrote {output_path} ({sequence.n_frames} frames at {sequence.fps:g} fps)")


@app.command()
def render(
    input_path: Annotated[
        Path, typer.Argument(metavar="INPUT", help="An arkit sequence: .npz or Live Link .csv.")
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="The video to write: .mp4 or .gif.")
    ],
    style: Annotated[
        str, typer.Option(help="mesh (shaded grey) or photo (warped portrait).")
    ] = "mesh",
    size: Annotated[int, typer.Option(help="Frame size in pixels (square).")] = 512,
) -> None:
    """Render a sequence to a video with the built-in face model."""
    from tdmm_lm.face.io import load_sequence
    from tdmm_lm.render import render_sequence

    sequence = load_sequence(input_path)
    progress, step = progress_bar(f"rendering {input_path.name}", sequence.n_frames)
    with progress:
        render_sequence(sequence, output, style=style, size=size, on_frame=step)
    typer.echo(f"wrote {output} ({sequence.n_frames} frames, {style} style, {size} px)")


@app.command()
def demo(
    output_dir: Annotated[
        Path, typer.Option("-o", "--output-dir", help="Folder for the demo outputs.")
    ] = Path("outputs/demo"),
    size: Annotated[int, typer.Option(help="Frame size in pixels (square).")] = 512,
) -> None:
    """Render the built-in demo performance: writes demo.npz and mesh and photo mp4 videos."""
    from tdmm_lm.face import demo_sequence
    from tdmm_lm.render import render_sequence

    sequence = demo_sequence()
    output_dir.mkdir(parents=True, exist_ok=True)
    sequence.save(output_dir / "demo.npz")
    for style in ("mesh", "photo"):
        path = output_dir / f"demo_{style}.mp4"
        progress, step = progress_bar(f"rendering {style} style", sequence.n_frames)
        with progress:
            render_sequence(sequence, path, style=style, size=size, on_frame=step)
        typer.echo(f"wrote {path.resolve()}")
    typer.echo(f"wrote {(output_dir / 'demo.npz').resolve()}")


@app.command()
def bench(
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    repeats: Annotated[int, typer.Option(help="Timed runs per figure (median reported).")] = 5,
    only: Annotated[
        list[str] | None, typer.Option(help="Measure only these figures (repeatable).")
    ] = None,
) -> None:
    """Measure the speed figures of SPEC section 8 (each in its own process)."""
    import json

    from tdmm_lm.bench import BenchConfig, run_benchmarks

    def note(name: str) -> None:
        if not as_json:
            typer.echo(f"measuring {name} …", err=True)

    try:
        cfg = BenchConfig(repeats=repeats)
    except ValueError as e:
        raise TdmmError(str(e)) from e
    figures = run_benchmarks(cfg, names=only, progress=note)
    if as_json:
        typer.echo(json.dumps(figures))
        return
    for key, value in figures.items():
        typer.echo(f"{key:28s} {value}")
