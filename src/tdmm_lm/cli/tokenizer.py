"""Tokenizer commands: ``tdmm tokenizer train`` and ``tdmm tokenizer eval``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tdmm_lm.cli.app import app, progress_bar

tokenizer_app = typer.Typer(help="Train and measure the motion tokenizer.", no_args_is_help=True)


@tokenizer_app.command()
def train(
    corpus: Annotated[Path, typer.Option(help="The corpus folder (`tdmm data build`).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The tokenizer folder to write.")],
    recipe: Annotated[
        str,
        typer.Option(
            help="Named recipe: tiny, default, release, residual (two codebooks) or residual3 "
            "(three)."
        ),
    ] = ("default"),
    steps: Annotated[int | None, typer.Option(help="Training steps (default: the recipe's).")] = (
        None
    ),
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same tokenizer.")] = 0,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in OUTPUT from its checkpoint.")
    ] = False,
) -> None:
    """Train the geometry VQ-VAE on a corpus; writes the tokenizer and its test report."""
    from tdmm_lm.tokenizer import TokenizerTrainConfig, format_report, train_tokenizer

    cfg = TokenizerTrainConfig.from_recipe(
        recipe, corpus=str(corpus), output=str(output), steps=steps, seed=seed
    )
    bar, _ = progress_bar(f"training {output.name}", cfg.steps)

    def on_progress(step: int, total: int) -> None:
        bar.update(bar.task_ids[0], completed=step, total=total)

    with bar:
        report = train_tokenizer(cfg, resume=resume, progress=on_progress)
    typer.echo(format_report(report))
    typer.echo(f"wrote {output}")


@tokenizer_app.command("eval")
def evaluate(
    tokenizer: Annotated[Path, typer.Option(help="The tokenizer folder.")],
    corpus: Annotated[Path, typer.Option(help="The corpus folder.")],
    split: Annotated[str, typer.Option(help="The split to measure.")] = "test",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Measure a tokenizer's reconstruction and codebook use on a corpus split."""
    from tdmm_lm.tokenizer import MotionTokenizer, format_report, tokenizer_report

    report = tokenizer_report(MotionTokenizer.from_pretrained(tokenizer), corpus, split)
    if as_json:
        import json

        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo(format_report(report))


app.add_typer(tokenizer_app, name="tokenizer")
