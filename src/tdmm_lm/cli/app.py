"""The typer application that every command module registers on."""

from __future__ import annotations

import typer

from tdmm_lm.errors import TdmmError

__all__ = ["EXIT_USER_ERROR", "USER_ERRORS", "app", "progress_bar"]

#: Exit status for errors in the user's input (the same status click uses for usage errors).
EXIT_USER_ERROR = 2
#: Errors that are the user's to fix, printed without a traceback.
USER_ERRORS = (TdmmError,)

app = typer.Typer(
    name="tdmm",
    help="3D facial motion as a language: animate, describe, render, convert and evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def progress_bar(description: str, total: int | None):  # -> (rich Progress, advance callback)
    """A transient rich progress bar and a callback that advances it by one (or by ``n``)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
    )
    task = progress.add_task(description, total=total)
    return progress, lambda n=1: progress.advance(task, n)
