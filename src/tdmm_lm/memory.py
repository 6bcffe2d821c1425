"""Give the heap memory that freed tensors leave behind back to the operating system.

glibc's ``malloc`` keeps freed blocks in its heap for reuse and returns them only when the
free space sits at the top of the heap. A language-model batch has a new shape every step,
so the blocks one step frees rarely fit the next step's tensors, they stay scattered through
the heap, and the resident size climbs although the live data does not. Measured on the
release recipe's language model in a fresh process: without a trim, 2.0 GiB resident after
10 steps and 4.7 GiB by step 200, still growing; with ``malloc_trim`` after every step,
1.5 GiB between steps and a peak of 2.4 GiB over 120 steps.

Returning pages costs more than the call, though: the next step faults them in again, and
the kernel zeroes each one. Trimmed after every step, the release run's language model
trained at about 2000 tokens/s against 2500 untrimmed. :class:`HeapTrimmer` therefore
trims only once the resident size has grown by a set slack since the last trim.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable
from functools import lru_cache

__all__ = ["HeapTrimmer", "resident_bytes", "return_freed_memory"]

#: Growth of the resident size after which :class:`HeapTrimmer` trims, by default.
DEFAULT_SLACK_BYTES = 1 << 30


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


def resident_bytes() -> int | None:
    """This process's resident size in bytes, or None where ``/proc`` cannot tell."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


class HeapTrimmer:
    """Call once a step: returns freed heap pages when the process has grown by ``slack``.

    The resident size is compared with what it was right after the last trim (or the first
    call), so live data that grows for good (a cache filled once) raises that floor instead
    of causing a trim every step.

    Args:
        slack_bytes: Growth of the resident size that triggers a trim.
    """

    def __init__(self, slack_bytes: int = DEFAULT_SLACK_BYTES) -> None:
        if slack_bytes <= 0:
            raise ValueError(f"slack_bytes must be > 0, got {slack_bytes}")
        self.slack_bytes = slack_bytes
        self.floor: int | None = None
        self.trims = 0

    def __call__(self) -> bool:
        """Trim if the process has outgrown its floor by the slack; True when it trimmed."""
        now = resident_bytes()
        if now is None:
            return False
        if self.floor is None or now < self.floor:
            self.floor = now
        if now - self.floor < self.slack_bytes or not return_freed_memory():
            return False
        self.trims += 1
        self.floor = resident_bytes()
        return True
