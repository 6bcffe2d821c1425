"""The ``tdmm`` command line (SPEC §5).

Each command parses its arguments and calls one library function. Commands live in one
module per pipeline stage (``core``, ``data``, ``track``, …), each registering on :data:`app`.
Heavy modules are imported inside the commands so that ``tdmm --help`` stays fast; torch is
never imported at module level.

Errors: a :class:`~tdmm_lm.errors.TdmmError` (bad input the user can fix) raised anywhere
under a command is printed by :func:`main` as one line, ``error: <message>``, on stderr, and
the process exits with status :data:`EXIT_USER_ERROR`. Any other exception is a bug and keeps
its traceback.
"""

from __future__ import annotations

import sys

# Importing a command module registers its commands on ``app``.
from tdmm_lm.cli import (
    core,  # noqa: F401  (isort: keep the registration imports together)
    eval,  # noqa: F401
    lm,  # noqa: F401
    tokenizer,  # noqa: F401
    track,  # noqa: F401
)
from tdmm_lm.cli.app import EXIT_USER_ERROR, USER_ERRORS, app
from tdmm_lm.cli.data import data_app

app.add_typer(data_app, name="data")

__all__ = ["EXIT_USER_ERROR", "app", "main"]


def main() -> None:
    """Run the ``tdmm`` command line; user errors exit with status 2 and one line on stderr."""
    try:
        app()
    except USER_ERRORS as error:
        message = " ".join(str(error).split())  # one line, whatever the message holds
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None


if __name__ == "__main__":
    main()
