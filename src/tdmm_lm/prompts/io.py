"""Prompt specs on disk: JSON Lines, one :meth:`PromptSpec.to_dict` per line."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.prompts.schema import PromptSpec

__all__ = ["read_prompts", "write_prompts"]

_FILE_MODE = 0o666  # what open() would create, before the umask


def _umask() -> int:
    """The process umask (reading it means setting it, so put it straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_prompts(specs: Iterable[PromptSpec], path: str | Path) -> Path:
    """Write ``specs`` to ``path`` as JSONL, atomically (a temp file, then a rename).

    A reader never sees a half-written file: either the old file or the complete new one.

    Raises:
        InvalidInputError: The file's directory does not exist or cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidInputError(f"{path} is a directory; give a file name such as prompts.jsonl")
    directory = path.parent
    if not directory.is_dir():
        raise InvalidInputError(f"cannot write {path}: directory {directory} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise InvalidInputError(f"cannot write {path}: {e.strerror} (check the permissions)") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for spec in specs:
                f.write(json.dumps(spec.to_dict(), ensure_ascii=False) + "\n")
        os.chmod(tmp, _FILE_MODE & ~_umask())  # mkstemp makes 0600; give it a normal file's mode
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise InvalidInputError(f"cannot write {path}: {e.strerror or e}") from e
    except BaseException:  # interrupted: leave no temp file behind, keep the old file
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_prompts(path: str | Path) -> list[PromptSpec]:
    """Read specs written by :func:`write_prompts`.

    Raises:
        InvalidInputError: The file is missing or a line is not a prompt spec.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"no prompt file at {path}; write one with `tdmm data prompts`")
    specs = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                specs.append(PromptSpec.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as e:
                raise InvalidInputError(f"{path}:{number} is not a prompt spec: {e}") from e
    return specs
