"""Freed heap pages go back to the system: always on request, and by HeapTrimmer on growth."""

from __future__ import annotations

import sys

import pytest

from tdmm_lm.memory import HeapTrimmer, resident_bytes, return_freed_memory

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, glibc")
MB = 1 << 20


def _freed_but_pinned(megabytes: int) -> bytearray:
    """Fill ``megabytes`` of heap (blocks under glibc's mmap threshold), free all but the
    newest block, and return it: it pins the top of the heap, so free() cannot shrink it."""
    blocks = [bytearray(100_000) for _ in range(megabytes * MB // 100_000)]
    return blocks[-1]


@pytest.fixture
def trim_available():
    if not return_freed_memory() or resident_bytes() is None:
        pytest.skip("this C library has no malloc_trim, or /proc has no statm")


@linux_only
def test_freed_heap_pages_go_back_to_the_system(trim_available):
    pin = _freed_but_pinned(300)
    before = resident_bytes()
    assert return_freed_memory()
    assert before - resident_bytes() > 200 * MB
    assert len(pin) == 100_000


@linux_only
def test_the_trimmer_waits_for_its_slack_then_trims(trim_available):
    trimmer = HeapTrimmer(slack_bytes=200 * MB)
    assert not trimmer()  # the first call only sets the floor
    small = _freed_but_pinned(50)
    assert not trimmer() and trimmer.trims == 0  # 50 MB of garbage: under the slack
    large = _freed_but_pinned(300)
    before = resident_bytes()
    assert trimmer() and trimmer.trims == 1
    assert before - trimmer.floor > 200 * MB  # the floor is what is left after the trim
    assert len(small) == len(large) == 100_000
    with pytest.raises(ValueError, match="slack"):
        HeapTrimmer(0)
