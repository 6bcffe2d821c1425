"""Writing files so that they appear complete or not at all.

Files that a later step reads back (configs, manifests, reports, shards, sequences) are
written through :func:`atomic_write` or its JSON and text forms: a killed process then leaves
the previous version or none, never half a file. Logs are appended a line at a time, and
plots, which nothing reads back, are written in place.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["PathLike", "atomic_write", "write_json_atomic", "write_text_atomic"]

PathLike = str | os.PathLike[str]


@contextlib.contextmanager
def atomic_write(path: PathLike) -> Iterator[BinaryIO]:
    """Open ``path`` for binary writing so that it appears complete or not at all.

    The data goes to a hidden temporary file in the same directory, which is flushed,
    synced and then renamed over ``path`` with :func:`os.replace` (atomic on POSIX and
    Windows). If the ``with`` body raises, the temporary file is removed and ``path`` is
    left untouched. Missing parent directories are created.

    Args:
        path: The file to write.

    Yields:
        A binary file object to write to.

    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A unique name in the same directory: os.replace is only atomic within one filesystem.
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "xb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_json_atomic(path: PathLike, obj: Any, **dumps: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically.

    ``dumps`` go to :func:`json.dumps` (``indent`` is 2 unless given).
    """
    with atomic_write(path) as f:
        f.write(json.dumps(obj, **{"indent": 2, **dumps}).encode())


def write_text_atomic(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path) as f:
        f.write(text.encode())
