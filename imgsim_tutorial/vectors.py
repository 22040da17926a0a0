"""Input checks every index uses: vectors, ``k`` and settings, checked once, the same way.

Builds on nothing in the package; every index and ``index_base`` import it, and it imports none
of them, so the imports run one way. What it adds: a bad input fails *here*, before any NumPy
broadcast or C++ call sees it, with a message that says what was expected, what arrived and how
to fix it. ``normalize`` lives here because every index stores unit vectors; ``cosine_search``
is where the course explains why.
"""

from __future__ import annotations

import os

import numpy as np


def as_matrix(vectors, name: str = "vectors", dim: int | None = None) -> np.ndarray:
    """Check and convert to a finite float32 matrix (a single 1-D vector becomes one row)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n, d) or (d,), got shape {np.shape(vectors)}")
    if matrix.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {matrix.shape}); pass at least one vector")
    if dim is not None and matrix.shape[1] != dim:
        raise ValueError(f"{name} have dimension {matrix.shape[1]}, but the index was built with dimension "
                         f"{dim}; embed {name} with the same model as the candidates")
    if not np.isfinite(matrix).all():
        rows = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
        raise ValueError(f"{name} contain NaN or infinite values in rows {rows[:5].tolist()}; "
                         "check how they were computed")
    return matrix


def normalize(vectors, name: str = "vectors") -> np.ndarray:
    """Scale each row to unit length: ``normalize([[3, 4]])`` -> ``[[0.6, 0.8]]``.

    A zero vector has no direction, so it cannot be compared by cosine: that is an error.
    Very large or very small rows (``[[1e30, 1e30]]``) are scaled correctly too.
    """
    matrix = as_matrix(vectors, name)
    # In float32, squares overflow to inf above about 1e19 (the row would become all zeros) and
    # vanish below about 1e-19: such rows are divided by their largest entry first.
    with np.errstate(over="ignore", under="ignore"):
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    extreme = ~np.isfinite(norms[:, 0]) | (norms[:, 0] < 1e-15)
    if extreme.any():
        matrix = matrix.copy()  # never change the caller's array
        peaks = np.abs(matrix[extreme]).max(axis=1, keepdims=True)
        matrix[extreme] /= np.where(peaks > 0, peaks, 1)
        norms[extreme] = np.linalg.norm(matrix[extreme], axis=1, keepdims=True)
    if (norms == 0).any():
        rows = np.flatnonzero(norms[:, 0] == 0)
        raise ValueError(f"{name} rows {rows[:5].tolist()} have zero length, so they have no direction "
                         "and no cosine similarity; remove them or fix how they were computed")
    return matrix / norms


def check_k(k, n_items: int) -> int:
    """``k`` as an int if 1 <= k <= n_items, else a ValueError that says why."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be a whole number, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if k > n_items:
        raise ValueError(f"k={k} but the index holds only {n_items} candidates; ask for k <= {n_items}")
    return int(k)


def check_int(value, name: str, *, low: int, high: int | None = None, sensible=None) -> int:
    """``value`` as an int if ``low <= value <= high``, else a ValueError naming the setting.

    >>> check_int(8, "n_bits", low=1, high=63)
    8
    """
    allowed = f"between {low} and {high}" if high is not None else f"at least {low}"
    hint = f"; a sensible value is {name}={sensible}" if sensible is not None else ""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number {allowed}, got {value!r} ({type(value).__name__}){hint}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {allowed}, got {value}{hint}")
    return int(value)


def check_bool(value, name: str) -> bool:
    """``value`` if it is True or False, else a ValueError naming the setting."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity, e.g. a container's share), at least 1."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
