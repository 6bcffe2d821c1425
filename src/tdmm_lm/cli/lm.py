"""Language-model commands: ``tdmm train``, ``tdmm animate`` and ``tdmm describe``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tdmm_lm.cli.app import app, progress_bar
from tdmm_lm.errors import InvalidInputError

#: Inputs of ``describe`` read as sequences; anything else is treated as a video.
SEQUENCE_SUFFIXES = (".npz", ".csv")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v", ".gif")

ModelOption = Annotated[
    Path | None,
    typer.Option("--model", help="A model folder from `tdmm train` (default: the shipped one)."),
]


@app.command()
def train(
    output: Annotated[Path, typer.Option("-o", "--output", help="The model folder to write.")],
    corpus: Annotated[
        Path | None,
        typer.Option(help="The corpus folder (`tdmm data build`); the release recipe builds one."),
    ] = None,
    tokenizer: Annotated[
        Path | None,
        typer.Option(help="The motion tokenizer (`tdmm tokenizer train`); release trains one."),
    ] = None,
    recipe: Annotated[str, typer.Option(help="Named config: tiny, small or release.")] = "release",
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue OUTPUT's run from its last checkpoint.")
    ] = False,
    base_model: Annotated[
        Path | None,
        typer.Option(help="Start from a local Hugging Face causal or seq2seq checkpoint."),
    ] = None,
    lora_rank: Annotated[
        int, typer.Option(help="LoRA rank for --base-model (0 = train every weight).")
    ] = 0,
    text_encoder: Annotated[
        str | None,
        typer.Option(help="How prompts are read: minilm, minilm_sentence or none (recipe's)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (recipe default: 0).")] = None,
    steps: Annotated[int | None, typer.Option(help="Optimisation steps (recipe default).")] = None,
) -> None:
    """Train the language model on both tasks (Motion2Language and Language2Motion).

    `--recipe release` without --corpus and --tokenizer builds the whole release from
    nothing: the corpus, the motion tokenizer, the language model and what ships beside it.
    """
    if recipe == "release" and corpus is None and tokenizer is None:
        _train_release(output, resume)
        return
    from tdmm_lm.lm.recipes import get_recipe
    from tdmm_lm.lm.train import train_lm

    for name, path in (("--corpus", corpus), ("--tokenizer", tokenizer)):
        if path is None:
            raise InvalidInputError(
                f"{name} is needed (only --recipe release without --corpus and --tokenizer "
                "builds its own)"
            )
        if not path.is_dir():
            raise InvalidInputError(f"{name} {path}: no such folder")
    overrides = {
        "corpus": str(corpus),
        "tokenizer": str(tokenizer),
        "output": str(output),
        "base_model": str(base_model) if base_model else None,
        "lora_rank": lora_rank,
    }
    if base_model is not None:
        overrides["text_encoder"] = "none"  # a base model reads prompts with its own tokens
    for name, value in (("text_encoder", text_encoder), ("seed", seed), ("steps", steps)):
        if value is not None:
            overrides[name] = value
    try:
        cfg = get_recipe(recipe, **overrides)
    except ValueError as e:
        raise InvalidInputError(str(e)) from e
    progress, _ = progress_bar(f"training {output.name}", cfg.steps)

    def on_step(done: int, total: int) -> None:
        progress.update(progress.task_ids[0], completed=done, total=total)

    with progress:
        out = train_lm(cfg, resume=resume, progress=on_step)
    typer.echo(f"wrote {out} ({cfg.steps} steps; log in {out / 'train_log.jsonl'})")


def _train_release(output: Path, resume: bool) -> None:
    """Build the release from nothing into ``output`` (each stage resumes after a kill)."""
    from tdmm_lm.release import RELEASE_FILE, build_release

    if not resume and (output / RELEASE_FILE).exists():
        raise InvalidInputError(
            f"{output} already holds a release build; pass --resume to continue it, or choose "
            "another -o"
        )
    bars: list = []  # one live bar at a time: each stage's replaces the one before

    def on_stage(name: str):
        if bars:
            bars.pop().stop()
        progress, _ = progress_bar(f"release: {name}", None)
        progress.start()
        bars.append(progress)
        task = progress.task_ids[0]
        return lambda done, total: progress.update(task, completed=done, total=total)

    try:
        record = build_release(output, on_stage=on_stage)
    finally:
        for bar in bars:
            bar.stop()
    for name, figures in record["stages"].items():
        typer.echo(f"{name}: {json.dumps(figures)}")
    typer.echo(f"wrote the release model {output}")


@app.command()
def animate(
    prompt: Annotated[str, typer.Argument(help="What the face should do, in words.")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="The sequence to write: .npz, .csv or .glb.")
    ],
    seconds: Annotated[float, typer.Option(help="Duration of the clip.")] = 4.0,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same motion.")] = 0,
    video: Annotated[
        Path | None, typer.Option(help="Also render a video here (.mp4 or .gif, photo style).")
    ] = None,
    model: ModelOption = None,
    temperature: Annotated[
        float | None, typer.Option(help="Sampling temperature (0 = greedy; model default).")
    ] = None,
    top_k: Annotated[int | None, typer.Option(help="Sample among the k likeliest tokens.")] = None,
    top_p: Annotated[float | None, typer.Option(help="Nucleus sampling mass (1 = off).")] = None,
    change_temperature: Annotated[
        float | None,
        typer.Option(
            help="Temperature of the choice among motion changes, relative to --temperature "
            "(1 = plain sampling; model default)."
        ),
    ] = None,
) -> None:
    """Generate facial motion from a prompt (Language2Motion)."""
    from tdmm_lm.face.io import WRITE_SUFFIXES, save_sequence
    from tdmm_lm.lm.api import load_model

    if output.suffix.lower() not in WRITE_SUFFIXES:
        raise InvalidInputError(f"{output}: write .npz, .csv or .glb")
    if video is not None and video.suffix.lower() not in (".mp4", ".gif"):
        raise InvalidInputError(f"--video {video}: write .mp4 or .gif")
    lm = load_model(model)
    sequence = lm.animate(
        prompt,
        seconds=seconds,
        seed=seed,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        change_temperature=change_temperature,
    )
    save_sequence(sequence, output)
    typer.echo(f"wrote {output} ({sequence.n_frames} frames at {sequence.fps:g} fps)")
    if video is not None:
        from tdmm_lm.render import render_sequence

        progress, step = progress_bar(f"rendering {video.name}", sequence.n_frames)
        with progress:
            render_sequence(sequence, video, style="photo", on_frame=step)
        typer.echo(f"wrote {video}")


@app.command()
def describe(
    input_path: Annotated[
        Path,
        typer.Argument(metavar="INPUT", help="A sequence (.npz, Live Link .csv) or a video."),
    ],
    model: ModelOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Describe facial motion in words (Motion2Language); a video is tracked first."""
    from tdmm_lm.lm.api import load_model

    if not input_path.exists():
        raise InvalidInputError(f"{input_path}: no such file")
    suffix = input_path.suffix.lower()
    if suffix not in SEQUENCE_SUFFIXES + VIDEO_SUFFIXES:
        raise InvalidInputError(
            f"{input_path}: describe reads {', '.join(SEQUENCE_SUFFIXES)} sequences or "
            f"{', '.join(VIDEO_SUFFIXES)} videos"
        )
    lm = load_model(model)  # before tracking: a missing model fails fast
    if suffix in SEQUENCE_SUFFIXES:
        from tdmm_lm.face.io import load_sequence

        sequence = load_sequence(input_path)
    else:
        sequence = _track(input_path)
    from tdmm_lm.lm.api import NOVELTY_WARNING

    text = lm.describe(sequence)
    novelty = lm.novelty(sequence)
    if novelty > NOVELTY_WARNING:
        typer.echo(
            f"warning: this motion is unlike the model's training motion (novelty "
            f"{novelty:.1f}, corpus about 1); the description may miss its expressions",
            err=True,
        )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "input": str(input_path),
                    "description": text,
                    "frames": sequence.n_frames,
                    "fps": sequence.fps,
                    "seconds": round(sequence.seconds, 3),
                    "novelty": round(novelty, 3),
                }
            )
        )
    else:
        typer.echo(text)


def _track(video: Path):  # -> FaceSequence
    """Fit the face in a video with the tracker, showing progress on stderr."""
    from tdmm_lm.track import fit_video
    from tdmm_lm.track.video import probe_video

    info = probe_video(video)
    progress, step = progress_bar(f"tracking {video.name}", info.n_frames or None)
    with progress:
        sequence, _ = fit_video(video, on_frame=step)
    return sequence
