"""Evaluation commands: ``tdmm eval`` and its ``train-evaluators``, ``train-baseline``, ``real``.

``tdmm eval --corpus C -o R`` measures the model (``--model``, default the shipped one)
against its baselines. It reads the evaluators from ``MODEL/evaluators`` and the
T2M-GPT-style baseline from ``MODEL/baselines/t2m_gpt`` (the shipped model has both), or from
``--evaluators`` / ``--baseline``; when one is missing it stops with a one-line error naming
the command that makes it (``tdmm eval train-evaluators`` / ``tdmm eval train-baseline``),
rather than training for minutes unasked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tdmm_lm.cli.app import app, progress_bar
from tdmm_lm.errors import InvalidInputError

eval_app = typer.Typer(
    help="Measure a model against its baselines (SPEC §7); train the evaluators and baseline.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _bar(description: str, total: int | None):  # -> (Progress, callback(done, total))
    progress, _ = progress_bar(description, total)

    def update(done: int, total: int) -> None:
        progress.update(progress.task_ids[0], completed=done, total=total)

    return progress, update


@eval_app.callback()
def evaluate(
    ctx: typer.Context,
    corpus: Annotated[
        Path | None, typer.Option(help="The corpus folder (`tdmm data build`).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="The report folder to write.")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="A model folder (default: the shipped one).")
    ] = None,
    split: Annotated[
        list[str] | None,
        typer.Option(
            help="A split to measure; repeat for several (default: the three test splits)."
        ),
    ] = None,
    repeats: Annotated[
        int | None,
        typer.Option(help="Repeats behind each 95% interval (default 20; 3 with --quick)."),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="A 2-minute smoke test of the whole protocol (fewer repeats and clips)."
        ),
    ] = False,
    seed: Annotated[
        int, typer.Option(help="Seed of subsets, generation and every random draw.")
    ] = 0,
    video_clips: Annotated[
        int | None,
        typer.Option(
            help="Test clips rendered, tracked and described to measure the video route "
            "(default 32; 4 with --quick; 0 skips it)."
        ),
    ] = None,
    evaluators: Annotated[
        Path | None, typer.Option(help="Evaluator folder (default: MODEL/evaluators).")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="T2M-GPT-style baseline folder (default: MODEL/baselines/t2m_gpt)."),
    ] = None,
) -> None:
    """Measure Language2Motion and Motion2Language of a model and its baselines on a corpus."""
    if ctx.invoked_subcommand is not None:
        return
    from tdmm_lm.eval import EvalConfig, run_eval

    if corpus is None or output is None:
        raise InvalidInputError("tdmm eval needs --corpus CORPUS and -o REPORTDIR (see --help)")
    fields = {
        "corpus": str(corpus),
        "output": str(output),
        "model": str(model) if model else None,
        "evaluators": str(evaluators) if evaluators else None,
        "baseline": str(baseline) if baseline else None,
        "seed": seed,
    }
    if split:
        fields["splits"] = tuple(split)
    if repeats is not None:
        fields["repeats"] = repeats
    if video_clips is not None:
        fields["video_clips"] = video_clips
    if output.exists() and not output.is_dir():
        raise InvalidInputError(f"-o {output}: is a file; give a folder for the report")
    try:
        cfg = EvalConfig.quick_config(**fields) if quick else EvalConfig(**fields)
    except ValueError as e:
        raise InvalidInputError(str(e)) from e
    progress, update = _bar("evaluating", None)
    with progress:
        report = run_eval(cfg, progress=update)
    typer.echo(_summary(report))
    typer.echo(f"wrote {output / 'report.json'}, {output / 'report.md'} and plots")


def _summary(report: dict) -> str:
    """A few headline figures per split, one line each."""
    lines = []
    for split, section in report["splits"].items():
        l2m, m2l = section["l2m"]["tdmm-lm"], section["m2l"]["tdmm-lm"]
        cells = [
            f"L2M R@1 {l2m['R@1']['mean']:.3f}",
            f"FD {l2m['FD']['mean']:.3f}",
            f"CorE {l2m['CorE']['mean']:.3f}",
            f"M2L BLEU-4 {m2l['BLEU-4']['mean']:.3f}",
            f"CorE {m2l['CorE']['mean']:.3f}",
        ]
        lines.append(f"{split}: " + ", ".join(cells))
    route = report.get("video_route")
    if route:
        motion, tracked = route["captions"]["motion"], route["captions"]["tracked"]
        lines.append(
            f"video route ({route['n_clips']} {route['split']} clips): M2L CorE "
            f"{motion['CorE']:.3f} from the motion, {tracked['CorE']:.3f} from its video"
        )
    return "\n".join(lines)


@eval_app.command("train-evaluators")
def train_evaluators_command(
    corpus: Annotated[Path, typer.Option(help="The corpus folder (its ground truth).")],
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="The evaluator folder to write (e.g. MODEL/evaluators)."
        ),
    ],
    recipe: Annotated[str, typer.Option(help="Named recipe: tiny or release.")] = "release",
    steps: Annotated[
        int | None, typer.Option(help="Training steps (default: the recipe's).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same evaluators.")] = 0,
) -> None:
    """Train the text-motion embedding and the attribute classifiers on ground truth."""
    from tdmm_lm.eval import EvaluatorTrainConfig, train_evaluators

    if not corpus.is_dir():
        raise InvalidInputError(f"--corpus {corpus}: no such folder")
    try:
        cfg = EvaluatorTrainConfig.from_recipe(
            recipe, corpus=str(corpus), output=str(output), steps=steps, seed=seed
        )
    except ValueError as e:
        raise InvalidInputError(str(e)) from e
    progress, update = _bar(f"training {output.name}", cfg.steps)
    with progress:
        report = train_evaluators(cfg, progress=update)
    for split, r in report["splits"].items():
        acc = ", ".join(f"{a} {v:.3f}" for a, v in r["accuracy"].items())
        typer.echo(f"{split}: {acc}; R@1 {r['retrieval']['R@1']:.3f}")
    typer.echo(f"wrote {output} in {report['seconds']['total']:.0f} s")


@eval_app.command("train-baseline")
def train_baseline_command(
    model: Annotated[
        Path, typer.Option(help="The model folder whose tokenizer the baseline shares.")
    ],
    corpus: Annotated[Path, typer.Option(help="The corpus folder the model was trained on.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Where to write it (default: MODEL/baselines/t2m_gpt)."
        ),
    ] = None,
    recipe: Annotated[
        str | None, typer.Option(help="Language-model recipe (default: the model's own).")
    ] = None,
    steps: Annotated[
        int | None, typer.Option(help="Optimisation steps (default: the recipe's).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
) -> None:
    """Train the T2M-GPT-style baseline: same tokenizer, GPT on a frozen sentence embedding."""
    from tdmm_lm.eval import BASELINE_SUBDIR, train_t2m_baseline

    tokenizer = model / "tokenizer"
    if not (tokenizer / "config.json").is_file():
        raise InvalidInputError(f"--model {model}: no motion tokenizer in {tokenizer}")
    if not corpus.is_dir():
        raise InvalidInputError(f"--corpus {corpus}: no such folder")
    if recipe is None:
        stored = model / "train_config.json"
        recipe = (
            json.loads(stored.read_text()).get("recipe", "release")
            if stored.is_file()
            else "release"
        )
    output = output or model / BASELINE_SUBDIR
    overrides = {"seed": seed, **({"steps": steps} if steps else {})}
    progress, update = _bar(f"training {output.name}", None)
    try:
        with progress:
            out = train_t2m_baseline(
                corpus, tokenizer, output, recipe, progress=update, **overrides
            )
    except ValueError as e:
        raise InvalidInputError(str(e)) from e
    typer.echo(f"wrote {out}")


@eval_app.command("real")
def real_command(
    videos: Annotated[Path, typer.Option(help="A folder of face videos (.mp4, .mov, …).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The report folder to write.")],
    model: Annotated[
        Path | None, typer.Option(help="A model folder (default: the shipped one).")
    ] = None,
) -> None:
    """Track each video, describe it, and report the captions with the tracker's QA figures."""
    from tdmm_lm.eval import describe_videos

    progress, update = _bar("tracking and describing", None)
    with progress:
        report = describe_videos(videos, output, model, progress=update)
    for entry in report["videos"]:
        typer.echo(f"{entry['video']}: {entry['caption']}")
    typer.echo(f"wrote {output / 'report.json'} and {output / 'report.md'}")


app.add_typer(eval_app, name="eval")
