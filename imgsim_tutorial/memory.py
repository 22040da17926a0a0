"""Giving freed memory back to the system (Binder gives all open notebooks 2 GB together).

Deleting a model does not shrink a process by itself: glibc's ``malloc`` keeps memory it has
freed for later use, scattered between blocks still in use. Measured with a random ViT-base
(330 MB of weights) that was embedding images: after ``del`` and ``gc.collect()`` the kernel
still held all 330 MB; ``malloc_trim(0)`` gave it back.
"""

from __future__ import annotations

import ctypes
import gc


def free_memory() -> None:
    """Collect garbage, then ask the C allocator to return the freed memory to the system.

    Call it after deleting something large (a model, an index). On Linux with glibc this calls
    ``malloc_trim(0)``; elsewhere (macOS, Windows, musl) it only collects garbage.

    >>> free_memory()
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
