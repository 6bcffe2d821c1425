"""return_freed_memory gives the freed middle of the heap back, which free() alone does not."""

from __future__ import annotations

import sys

import pytest

from tdmm_lm.memory import return_freed_memory


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS line")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and glibc")
def test_freed_heap_pages_go_back_to_the_system():
    if not return_freed_memory():
        pytest.skip("this C library has no malloc_trim")
    # 300 MB of heap blocks (each under glibc's mmap threshold), then all freed but the
    # newest, which pins the top of the heap so that free() cannot shrink it.
    blocks = [bytearray(100_000) for _ in range(3000)]
    pin = blocks[-1]
    del blocks
    before = _rss_mb()
    assert return_freed_memory()
    after = _rss_mb()
    assert before - after > 200, (before, after)
    assert len(pin) == 100_000
