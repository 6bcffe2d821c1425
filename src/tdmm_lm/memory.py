"""Give the heap memory that freed tensors leave behind back to the operating system.

glibc's ``malloc`` keeps freed blocks in its heap for reuse and returns them only when the
free space sits at the top of the heap. A language-model batch has a new shape every step,
so the blocks one step frees rarely fit the next step's tensors, they stay scattered through
the heap, and the resident size climbs although the live data does not. Measured on the
release recipe's language model in a fresh process: without a trim, 2.0 GiB resident after
10 steps and 4.7 GiB by step 200, still growing; with ``malloc_trim`` after every step
(about 40 ms of a 1.6 s step), 1.5 GiB between steps and a peak of 2.4 GiB over 120 steps.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import lru_cache

__all__ = ["return_freed_memory"]


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """The C library's ``malloc_trim`` (glibc has one), or None (macOS, musl)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


def return_freed_memory() -> bool:
    """Return the heap's free pages to the system; True where the C library can."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
