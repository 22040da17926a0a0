"""Giving freed memory back to the system (Binder gives all open notebooks 2 GB together).

Deleting a model does not shrink a process by itself: an allocator keeps memory it has freed for
later use. Two allocators matter here:

- glibc's ``malloc`` (Python, NumPy, PyTorch) keeps freed blocks; ``malloc_trim(0)`` gives them
  back (:func:`trim_malloc`);
- Arrow's memory pool (mimalloc in the pyarrow wheels), which 🤗 Datasets uses, keeps what a
  ``load_dataset`` decoded; ``release_unused()`` gives it back, ``malloc_trim`` does not.

How much each one held, measured with ViT-base on the beans photos: ``docs/measurements.md``.
"""

from __future__ import annotations

import ctypes
import gc
import sys


def _find_malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_MALLOC_TRIM = _find_malloc_trim()


def trim_malloc() -> None:
    """Hand malloc's free blocks back to the system (glibc's ``malloc_trim(0)``; elsewhere nothing).

    No garbage collection, so it is cheap (about 1.4 ms in a kernel holding ViT-base, against
    300-500 ms for one photo's forward pass): ``embed_images`` calls it after every batch.
    Measured in notebook 01, hub mode, ViT-base, fresh cache: without it each embedding cell left
    20-60 MB of freed blocks in the kernel for good (60-70 MB for 250 photos) and the kernel
    peaked at 1017-1023 MB; trimming after each call of ``embed_images`` gave 980 MB, after each
    batch 949 MB.

    >>> trim_malloc()
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def free_memory() -> None:
    """Collect garbage, then ask the allocators to return freed memory to the system.

    Call it after deleting something large (a model, an index). On Linux with glibc this calls
    ``malloc_trim(0)`` (elsewhere, macOS, Windows or musl, it is skipped); if pyarrow has been
    imported, it also empties Arrow's pool of unused memory. It never imports pyarrow itself.

    >>> free_memory()
    """
    gc.collect()
    trim_malloc()
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()
