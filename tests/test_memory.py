"""free_memory gives freed memory back to the system, from both allocators that hold it.

Each check runs in a fresh interpreter, so that what it measures is its own allocations.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not Path("/proc/self/statm").exists(),
                                reason="resident memory is read from /proc (Linux)")


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def resident_mb_around_free_memory(setup: str, allocate: str, release: str) -> tuple[float, float, float]:
    """In a fresh interpreter, after ``setup``: resident MB at the start, after ``allocate`` then
    ``release`` (memory freed but kept by its allocator), and after ``free_memory()``."""
    out = run(f"""
import os
from imgsim_tutorial._support.memory import free_memory
{setup}
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
start = rss_mb()
{allocate}
{release}
held = rss_mb()
free_memory()
print(start, held, rss_mb())
""")
    start, held, after = map(float, out.split())
    assert held - start > 80, \
        f"the allocator gave the memory back by itself ({start:.0f} -> {held:.0f} MB): nothing to test"
    return start, held, after


def test_free_memory_empties_arrows_pool():
    # 2000 small Arrow buffers (125 MB), touched, then deleted: Arrow's pool keeps them for reuse.
    start, _, after = resident_mb_around_free_memory("import pyarrow as pa", """
buffers = [pa.allocate_buffer(64 * 1024) for _ in range(2000)]
for buffer in buffers:
    view = memoryview(buffer).cast("B")
    view[::4096] = b"\\x01" * len(view[::4096])""", "del buffers, buffer, view")
    assert after - start < 30, f"free_memory left {after - start:.0f} MB of 125 MB freed in Arrow's pool"


def test_free_memory_returns_mallocs_free_blocks():
    # 15,000 NumPy arrays of 8 KB (120 MB) on malloc's heap, one in 50 kept: the survivors pin the
    # heap, so malloc cannot shrink it from the top and keeps the freed blocks between them.
    start, _, after = resident_mb_around_free_memory("import numpy as np", """
blocks = [np.ones(1024) for _ in range(15000)]
survivors = blocks[1::50]""", "del blocks")
    assert after - start < 40, f"free_memory left {after - start:.0f} MB of malloc's freed blocks"


def test_free_memory_never_imports_pyarrow():
    out = run("import sys; from imgsim_tutorial._support.memory import free_memory; free_memory(); "
              "print('pyarrow' in sys.modules)")
    assert out == "False"
