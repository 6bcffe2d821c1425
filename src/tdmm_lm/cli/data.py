"""Corpus commands: ``tdmm data prompts``, ``tdmm data build`` and ``tdmm data card``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tdmm_lm.cli.app import progress_bar
from tdmm_lm.errors import InvalidInputError

data_app = typer.Typer(help="Build and inspect the corpus.", no_args_is_help=True)


@data_app.command()
def prompts(
    n: Annotated[int, typer.Option("--n", help="Number of prompt specs to sample.")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="The JSONL file to write (one spec a line).")
    ],
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same specs.")] = 0,
) -> None:
    """Sample balanced prompt specs (labels, prompt, captions) and write them as JSONL."""
    from tdmm_lm.prompts.io import write_prompts
    from tdmm_lm.prompts.sampler import sample_prompts

    if n <= 0:
        raise InvalidInputError(f"--n must be a positive number of prompts, got {n}")
    specs = sample_prompts(n, seed)
    write_prompts(specs, output)
    typer.echo(f"wrote {output} ({len(specs)} prompt specs, seed {seed})")


@data_app.command()
def build(
    output: Annotated[Path, typer.Option("-o", "--output", help="The corpus folder to write.")],
    hours: Annotated[float, typer.Option(help="Hours of motion to generate.")] = 1.0,
    generator: Annotated[
        list[str] | None,
        typer.Option(help="Generator to use (repeatable); default: keyframe and dynamics."),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same corpus.")] = 0,
    t2v_cmd: Annotated[
        str,
        typer.Option(
            help="Command template of the t2v generator, e.g. "
            "'python gen.py --prompt {prompt} --out {out} --seconds {seconds}'."
        ),
    ] = "",
    mark_longest: Annotated[
        bool,
        typer.Option(
            "--mark-longest",
            help="A prompt naming several expressions says which one lasts longest.",
        ),
    ] = False,
    intensity_scale: Annotated[
        str,
        typer.Option(help="How intensity levels scale an expression: linear or geometric."),
    ] = "linear",
) -> None:
    """Generate a text-paired motion corpus (resumes if OUTPUT holds an unfinished build)."""
    from tdmm_lm.data import BuildConfig, build_corpus
    from tdmm_lm.synth import GENERATORS

    names = tuple(generator) if generator else BuildConfig().generators
    unknown = [g for g in names if g not in GENERATORS]
    if unknown:
        raise InvalidInputError(
            f"unknown generator(s) {', '.join(unknown)}; valid: {', '.join(GENERATORS)}"
        )
    cfg = BuildConfig(
        hours=hours, generators=names, seed=seed, workers=workers, t2v_command=t2v_cmd,
        mark_longest=mark_longest, intensity_scale=intensity_scale,
    )  # fmt: skip
    bar, _ = progress_bar(f"building {output.name}", None)

    def on_progress(done: int, total: int) -> None:
        bar.update(bar.task_ids[0], completed=done, total=total)

    with bar:
        manifest = build_corpus(output, cfg, progress=on_progress)
    counts = ", ".join(f"{k} {v}" for k, v in manifest.counts.items() if v)
    typer.echo(f"wrote {output}: {manifest.hours['total']:.2f} h of motion ({counts})")
    if manifest.failures:
        typer.echo(f"{manifest.failures} prompts could not be performed (see {output}/.blocks)")


@data_app.command()
def card(
    corpus: Annotated[Path, typer.Argument(help="The corpus folder.")],
) -> None:
    """Write the dataset card: statistics, balance plots (PNG) and a Markdown card."""
    from tdmm_lm.data import write_card

    path = write_card(corpus)
    typer.echo(f"wrote {path} and its plots in {path.parent}")
