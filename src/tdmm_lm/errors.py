"""Exceptions that reach the user.

Every error a user can cause (a bad file, a bad argument) derives from :class:`TdmmError`.
The command line prints such errors as one line and exits with status 2; anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["InvalidInputError", "TdmmError"]


class TdmmError(Exception):
    """Base class for errors caused by user input; the message says what to do."""


class InvalidInputError(TdmmError, ValueError):
    """A file or argument is malformed: wrong shape, NaN, out of range, truncated."""
