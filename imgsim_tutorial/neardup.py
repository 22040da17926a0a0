"""Near-duplicate pairs: LSH proposes candidate pairs, exact cosine verifies them.

Builds on ``hash_tables.py``. "Find every pair of near-identical photos" is where LSH earns
its keep. Comparing all pairs costs n (n - 1) / 2 cosines: 5 * 10**9 at 100,000 images. LSH
turns that around: hash every embedding into ``n_tables`` tables of ``n_bits`` random
hyperplanes (one pass over the data); only two embeddings that share a bucket in some table
become a *candidate pair*; each candidate pair is then verified by its exact cosine. Pairs at
cosine ``s`` share one table's bucket with probability ``p(s) ** n_bits``, so near-identical
pairs almost always meet and unrelated ones almost never do.

Everything is vectorised: per table the codes are sorted once, each bucket is a run of equal
codes, and the pairs inside all buckets are produced with ``np.repeat``. A bucket can hold a
large part of the collection (embeddings share a mean direction); expanding it into pairs
would be quadratic again. Buckets above ``max_bucket_size`` are therefore compared exactly
(blocked, bounded memory) and counted in ``stats``, or, with ``oversized="skip"``, left out
with a warning that says how many pairs went unexamined. Nothing is dropped silently.

Float32 rounding can score an exact copy 0.9999996 or 1.0000004, so thresholds are applied with
a tolerance (:data:`COSINE_TOLERANCE`) and cosines are clipped to [-1, 1]: ``threshold=1.0``
finds every exact copy, and no score exceeds 1.

:func:`brute_force_pairs` is the oracle: every pair, by blocked matrix products.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .random_projection import RandomHyperplanes, pack_bits
from .vectors import check_int, normalize

MAX_CANDIDATE_PAIRS = 50_000_000  # per table; beyond this the settings are not LSH any more
# A pair counts when cosine >= threshold - COSINE_TOLERANCE: in float32 a unit vector times itself
# gives 0.9999994 to 1.0000007 (measured, d = 64 to 2048), so 1e-5 keeps every exact copy.
COSINE_TOLERANCE = 1e-5


@dataclass
class Pairs:
    """Pairs ``(i[m], j[m], cosine[m])`` with i < j, highest cosine first; ``stats`` says the cost.

    >>> pairs = brute_force_pairs(np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]]), threshold=0.9)
    >>> len(pairs), pairs.i.tolist(), pairs.j.tolist(), round(float(pairs.cosine[0]), 3)
    (1, [0], [1], 0.995)
    """

    i: np.ndarray
    j: np.ndarray
    cosine: np.ndarray
    stats: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.i)

    def __iter__(self):
        return iter(zip(self.i.tolist(), self.j.tolist(), self.cosine.tolist()))

    def as_array(self) -> np.ndarray:
        """int64 (m, 2) of ``(i, j)`` rows."""
        return np.stack([self.i, self.j], axis=1).astype(np.int64).reshape(-1, 2)


def _sorted_pairs(i, j, cosine, stats) -> Pairs:
    cosine = np.clip(cosine, -1.0, 1.0)  # rounding can put an exact copy at 1.0000004
    order = np.lexsort((j, i, -cosine))  # cosine descending, ties by (i, j)
    return Pairs(i[order].astype(np.int64), j[order].astype(np.int64), cosine[order].astype(np.float32), stats)


def _check_threshold(threshold) -> float:
    """The cosine a pair must reach after rounding: ``threshold - COSINE_TOLERANCE``."""
    if not -1.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold is a cosine similarity, so it must lie in [-1, 1], got {threshold}")
    return float(threshold) - COSINE_TOLERANCE


def brute_force_pairs(embeddings, threshold: float, *, memory_mb: float = 64) -> Pairs:
    """Every pair with cosine >= ``threshold``, exactly: ``embeddings`` (n, d) -> :class:`Pairs`.

    Rows are compared in blocks so that one block of scores stays under ``memory_mb``.

    >>> brute_force_pairs(np.eye(3), threshold=0.5).stats["n_compared"]
    3
    """
    lowest = _check_threshold(threshold)
    vectors = normalize(embeddings, "embeddings")
    n = len(vectors)
    block = max(1, int(memory_mb * 2**20 // (4 * max(n, 1))))
    found_i, found_j, found_cos = [], [], []
    started = time.perf_counter()
    for start in range(0, n, block):
        scores = vectors[start:start + block] @ vectors[start:].T  # only columns j >= start
        rows, columns = np.nonzero(scores >= lowest)
        keep = columns > rows  # j > i: each pair once, no self pairs
        rows, columns = rows[keep], columns[keep]
        found_i.append(start + rows)
        found_j.append(start + columns)
        found_cos.append(scores[rows, columns])
    stats = {"n_compared": n * (n - 1) // 2, "seconds": time.perf_counter() - started}
    return _sorted_pairs(np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_cos), stats)


def pairs_in_buckets(codes, max_bucket_size: int | None = None):
    """All pairs of rows that share a code: ``codes`` (n,) -> ``(i, j, oversized)``.

    ``i < j`` row numbers of every pair inside buckets of at most ``max_bucket_size`` members;
    ``oversized`` lists the member rows of each larger bucket (not expanded into pairs).

    >>> i, j, oversized = pairs_in_buckets(np.array([7, 3, 7, 7, 3]), max_bucket_size=2)
    >>> list(zip(i.tolist(), j.tolist())), [rows.tolist() for rows in oversized]
    ([(1, 4)], [[0, 2, 3]])
    """
    codes = np.asarray(codes)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sizes = np.diff(np.r_[starts, len(codes)])
    limit = len(codes) if max_bucket_size is None else max_bucket_size
    size_of = np.repeat(sizes, sizes)  # each sorted position's bucket size
    end_of = np.repeat(starts + sizes, sizes)
    positions = np.arange(len(codes))
    later = np.where(size_of <= limit, end_of - positions - 1, 0)  # partners after this position
    total = int(later.sum())
    if total > MAX_CANDIDATE_PAIRS:
        raise ValueError(f"one table proposes {total:,} candidate pairs (its largest bucket holds {sizes.max():,} "
                         f"of {len(codes):,} rows); use more n_bits or a smaller max_bucket_size")
    left = np.repeat(positions, later)
    offset = np.arange(total) - np.repeat(np.cumsum(later) - later, later)
    a, b = order[left], order[left + 1 + offset]
    oversized = [np.sort(order[s:s + size]) for s, size in zip(starts, sizes) if size > limit]
    return np.minimum(a, b), np.maximum(a, b), oversized


def _verify(vectors, i, j, lowest, chunk: int):
    """Exact cosines of candidate pairs, keeping those >= ``lowest`` (chunked gathers)."""
    keep_i, keep_j, keep_cos = [], [], []
    for start in range(0, len(i), chunk):
        a, b = i[start:start + chunk], j[start:start + chunk]
        cosine = np.einsum("nd,nd->n", vectors[a], vectors[b])
        mask = cosine >= lowest
        keep_i.append(a[mask])
        keep_j.append(b[mask])
        keep_cos.append(cosine[mask])
    empty = np.array([], dtype=np.int64)
    return (np.concatenate(keep_i) if keep_i else empty, np.concatenate(keep_j) if keep_j else empty,
            np.concatenate(keep_cos) if keep_cos else np.array([], dtype=np.float32))


def _table_codes(vectors, n_bits: int, n_tables: int, center: bool, seed: int) -> list[np.ndarray]:
    """Each table's codes of unit ``vectors``; table t's hyperplanes depend only on (seed, t),
    exactly as in ``LSHIndex``, and one product hashes all tables."""
    n, dim = vectors.shape
    hashed = vectors - vectors.mean(axis=0) if center else vectors
    normals = np.concatenate([RandomHyperplanes(n_bits, dim, seed=[seed, t]).normals for t in range(n_tables)])
    bits = (hashed @ normals.T > 0).reshape(n, n_tables, n_bits)
    return [pack_bits(bits[:, table]) for table in range(n_tables)]


def near_duplicate_pairs(embeddings, threshold: float, *, n_bits: int = 16, n_tables: int = 8,
                         max_bucket_size: int = 2000, oversized: str = "scan", center: bool = False,
                         seed: int = 0) -> Pairs:
    """Pairs with cosine >= ``threshold`` found through LSH buckets, each verified exactly.

    ``embeddings`` (n, d). Returns :class:`Pairs` (precision is 1.0 by construction: every pair
    returned was checked) with ``stats``: ``n_candidate_pairs`` (distinct pairs verified),
    ``share_compared`` (of all n (n - 1) / 2 pairs), ``n_oversized_buckets``, and the pairs
    ``n_scanned_in_big_buckets`` (``oversized="scan"``) or ``n_pairs_skipped`` (``"skip"``).
    Recall depends on ``n_bits`` and ``n_tables``.
    ``center=True`` hashes ``embeddings - mean`` (as ``LSHIndex(center=True)``): real embeddings
    share a mean direction, which crowds the buckets; the cosines verified are the original ones.

    >>> rng = np.random.default_rng(0); data = rng.standard_normal((200, 32))
    >>> data[1] = data[0] + 0.05 * rng.standard_normal(32)   # plant one near-copy
    >>> pairs = near_duplicate_pairs(data, threshold=0.95, n_bits=8, n_tables=4)
    >>> [(i, j) for i, j, cosine in pairs]
    [(0, 1)]
    """
    lowest = _check_threshold(threshold)
    n_bits = check_int(n_bits, "n_bits", low=1, high=64, sensible=16)
    n_tables = check_int(n_tables, "n_tables", low=1, sensible=8)
    max_bucket_size = check_int(max_bucket_size, "max_bucket_size", low=2, sensible=2000)
    if oversized not in ("scan", "skip"):
        raise ValueError(f"oversized must be 'scan' (compare big buckets exactly) or 'skip', got {oversized!r}")
    vectors = normalize(embeddings, "embeddings")
    n, dim = vectors.shape
    started = time.perf_counter()
    codes = _table_codes(vectors, n_bits, n_tables, center, seed)
    keys, scanned, n_oversized, skipped, compared_in_big = [], [], 0, 0, 0
    for table in range(n_tables):
        i, j, big_buckets = pairs_in_buckets(codes[table], max_bucket_size)
        keys.append(np.unique(i * n + j))
        n_oversized += len(big_buckets)
        for rows in big_buckets:
            if oversized == "skip":
                skipped += len(rows) * (len(rows) - 1) // 2
                continue
            compared_in_big += len(rows) * (len(rows) - 1) // 2
            inside = brute_force_pairs(vectors[rows], threshold)
            scanned.append((rows[inside.i], rows[inside.j], inside.cosine))
    keys = np.unique(np.concatenate(keys))
    found_i, found_j, found_cos = _verify(vectors, keys // n, keys % n, lowest, chunk=max(1, 2**22 // dim))
    for rows_i, rows_j, cosine in scanned:
        found_i, found_j = np.r_[found_i, rows_i], np.r_[found_j, rows_j]
        found_cos = np.r_[found_cos, cosine]
    if scanned:  # a pair may be found both in a bucket of one table and a big bucket of another
        found_keys, first = np.unique(found_i * n + found_j, return_index=True)
        found_i, found_j, found_cos = found_keys // n, found_keys % n, found_cos[first]
    total = n * (n - 1) // 2
    stats = {"n_candidate_pairs": int(len(keys)), "n_scanned_in_big_buckets": compared_in_big,
             "share_compared": (len(keys) + compared_in_big) / max(total, 1), "n_oversized_buckets": n_oversized,
             "n_pairs_skipped": skipped, "seconds": time.perf_counter() - started}
    if skipped:
        warnings.warn(f"{n_oversized} buckets held more than max_bucket_size={max_bucket_size} rows; "
                      f"{skipped:,} pairs inside them were not examined, so some duplicates may be missing. "
                      "Use more n_bits, or oversized='scan' to compare them exactly.", stacklevel=2)
    return _sorted_pairs(found_i, found_j, found_cos, stats)


def compare_pairs(found, reference) -> dict:
    """Recall and precision of ``found`` pairs against ``reference`` pairs (the truth).

    Both are :class:`Pairs` or int arrays (m, 2) of ``(i, j)`` with i < j.

    >>> compare_pairs(np.array([[0, 1], [2, 3]]), np.array([[0, 1], [4, 5]]))
    {'n_found': 2, 'n_reference': 2, 'n_both': 1, 'recall': 0.5, 'precision': 0.5}
    """
    found_rows = found.as_array() if isinstance(found, Pairs) else np.asarray(found, dtype=np.int64).reshape(-1, 2)
    truth_rows = reference.as_array() if isinstance(reference, Pairs) else np.asarray(reference,
                                                                                      dtype=np.int64).reshape(-1, 2)
    found_set, truth_set = set(map(tuple, found_rows.tolist())), set(map(tuple, truth_rows.tolist()))
    both = len(found_set & truth_set)
    return {"n_found": len(found_set), "n_reference": len(truth_set), "n_both": both,
            "recall": both / len(truth_set) if truth_set else 1.0,
            "precision": both / len(found_set) if found_set else 1.0}


def plant_near_copies(embeddings, n_copies: int, *, cosine_range=(0.92, 0.995), seed: int = 0):
    """Append ``n_copies`` noisy copies of random rows: ``(collection (n + n_copies, d), true_pairs (m, 2))``.

    Copy c of row r has cosine drawn from ``cosine_range`` with row r; it becomes row n + c.
    The synthetic stand-in for augmented photos in the growth experiments (label it SYNTHETIC).

    >>> collection, truth = plant_near_copies(np.eye(4)[:3] + 0.1, n_copies=2, seed=0)
    >>> collection.shape, truth.tolist()
    ((5, 4), [[1, 3], [2, 4]])
    """
    vectors = normalize(embeddings, "embeddings")
    n, dim = vectors.shape
    if not 0 <= n_copies <= n:
        raise ValueError(f"n_copies must be between 0 and the number of embeddings ({n}), got {n_copies}")
    low, high = cosine_range
    if not -1 < low <= high < 1:
        raise ValueError(f"cosine_range must satisfy -1 < low <= high < 1, got {cosine_range}")
    rng = np.random.default_rng(seed)
    sources = np.sort(rng.choice(n, size=n_copies, replace=False))
    target = rng.uniform(low, high, size=n_copies)
    # Move each source by a random direction orthogonal to it: cos = 1 / sqrt(1 + step**2).
    noise = rng.standard_normal((n_copies, dim)).astype(np.float32)
    noise -= np.sum(noise * vectors[sources], axis=1, keepdims=True) * vectors[sources]
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    step = np.sqrt(1 / target**2 - 1)[:, None]
    copies = normalize(vectors[sources] + step * noise)
    truth = np.stack([sources, n + np.arange(n_copies)], axis=1).astype(np.int64)
    return np.vstack([vectors, copies]).astype(np.float32), truth
