"""Exact cosine search: the oracle every faster index is measured against.

Builds on ``embeddings.py`` (what is compared) and ``index_base.py`` (the contract every index
keeps, with the input checks of ``vectors.py``). Cosine similarity compares directions, not
lengths:

    cos(a, b) = a . b / (|a| |b|)        1 = same direction, 0 = unrelated, -1 = opposite

If every vector is scaled to unit length once, cosine similarity is a plain dot product, and
scoring all ``candidates`` against a batch of queries is one matrix product. ``CosineIndex``
does exactly that, then keeps the best ``k`` per query with ``argpartition`` (linear time)
and sorts only those ``k``. It is exact: it never misses a neighbour. What it leaves out is
speed at scale; that is what random projection, hash tables and FAISS add later.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .index_base import IndexBase, scan_rows
from .vectors import available_cores, check_int, normalize


def cosine_similarity(a, b) -> np.ndarray:
    """All pairwise cosine similarities: ``a`` (n, d), ``b`` (m, d) -> float32 (n, m).

    >>> cosine_similarity([[1, 0]], [[1, 0], [0, 2], [-3, 0]])
    array([[ 1.,  0., -1.]], dtype=float32)
    """
    a, b = normalize(a, "a"), normalize(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a has dimension {a.shape[1]} but b has dimension {b.shape[1]}; "
                         "both must come from the same encoder")
    return a @ b.T


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest entries of each row, best first: returns ``(scores, columns)``.

    >>> top_k(np.array([[0.1, 0.9, 0.5]]), 2)
    (array([[0.9, 0.5]]), array([[1, 2]]))
    """
    n_columns = scores.shape[1]
    if k < n_columns:
        # argpartition puts the k largest first in O(n); only those k are then sorted.
        columns = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        columns = np.broadcast_to(np.arange(n_columns), scores.shape).copy()
    best = np.take_along_axis(scores, columns, axis=1)
    order = np.argsort(-best, axis=1, kind="stable")
    return np.take_along_axis(best, order, axis=1), np.take_along_axis(columns, order, axis=1)


PARALLEL_MIN_QUERIES = 64  # smaller batches are re-ranked on one thread: starting threads costs more


# Rows gathered at once when re-ranking: 256 rows of 768 float32 are 768 KiB, which stays in a
# core's L2 cache, so each candidate row is read from memory once, not written out and read back.
# A multiple of 64: BLAS then blocks the columns of each chunk as it blocks one long product, so
# every score is rounded the same, bit for bit (tests/test_lsh_speed_path.py checks it).
RERANK_CHUNK_ROWS = 256


def rerank(queries, vectors, shortlists, k: int, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine top-``k`` within each query's shortlist: the last step of every approximate index.

    ``queries`` (nq, d) and ``vectors`` (n, d) are unit length; ``shortlists`` holds, per query,
    row numbers into ``vectors`` (-1 = empty slot). Returns ``(scores, rows)``, each (nq, k);
    a query with fewer than k rows gets NaN scores and -1 rows in the missing places.

    Cost: O(candidates * d) per query, the rows it scans and nothing else. The rows are copied
    in chunks into one small buffer that stays in cache, and each chunk is scored with one
    product; the scores are the same, bit for bit, as scoring the whole shortlist at once.
    A batch of at least ``PARALLEL_MIN_QUERIES`` queries is split over ``threads`` threads
    (default: the cores this process may use); each query's result is the same either way.

    >>> rerank(np.eye(2), np.eye(2), [[1, 0], [-1, -1]], k=1)
    (array([[ 1.],
           [nan]]), array([[ 0],
           [-1]]))
    """
    queries, vectors = np.asarray(queries), np.asarray(vectors)
    threads = available_cores() if threads is None else threads
    if threads > 1 and len(queries) >= PARALLEL_MIN_QUERIES:
        # NumPy's gather and BLAS release the GIL, so threads re-rank different queries at once.
        parts = np.array_split(np.arange(len(queries)), threads)
        with ThreadPoolExecutor(threads) as pool:
            done = list(pool.map(lambda part: rerank(queries[part], vectors, [shortlists[q] for q in part], k, 1),
                                 parts))
        return np.vstack([scores for scores, _ in done]), np.vstack([rows for _, rows in done])
    dtype = np.result_type(queries, vectors)
    scores = np.full((len(queries), k), np.nan, dtype=dtype)
    rows = np.full((len(queries), k), -1, dtype=np.int64)
    longest = max((len(shortlist) for shortlist in shortlists), default=0)
    buffer = np.empty((min(longest, RERANK_CHUNK_ROWS), vectors.shape[1]), dtype=vectors.dtype)
    for q, shortlist in enumerate(shortlists):
        shortlist = np.asarray(shortlist, dtype=np.int64)
        shortlist = shortlist[shortlist >= 0]
        if not len(shortlist):
            continue
        if shortlist.max() >= len(vectors):
            raise IndexError(f"shortlist {q} names row {shortlist.max()}, but there are only {len(vectors)} vectors")
        query, found = queries[q:q + 1], np.empty((1, len(shortlist)), dtype=dtype)
        for start in range(0, len(shortlist), len(buffer)):
            chunk = shortlist[start:start + len(buffer)]
            gathered = buffer[:len(chunk)]
            np.take(vectors, chunk, axis=0, out=gathered, mode="clip")  # rows checked >= 0; "clip" skips a copy
            found[:, start:start + len(chunk)] = query @ gathered.T
        best, columns = top_k(found, min(k, len(shortlist)))
        scores[q, :best.shape[1]], rows[q, :best.shape[1]] = best[0], shortlist[columns[0]]
    return scores, rows


# Bytes of temporary score arrays one search may hold at once (scores, their negation and the
# argpartition positions: about 16 bytes per query-candidate pair). Queries are scored in chunks
# that fit, so 1e6 candidates x thousands of queries never needs the full (nq, n) matrix.
SCORE_BUDGET_BYTES = 64 * 2**20
_BYTES_PER_SCORE = 16


def query_chunk_size(n_candidates: int, budget: int | None = None) -> int:
    """How many queries to score at once against ``n_candidates`` within the memory budget.

    >>> query_chunk_size(1_000_000, budget=64 * 2**20)
    4
    """
    budget = SCORE_BUDGET_BYTES if budget is None else budget
    return max(1, budget // (_BYTES_PER_SCORE * max(1, n_candidates)))


class CosineIndex(IndexBase):
    """Exact top-k cosine search over a set of ``candidates``: scans all of them.

    ``batch_size`` caps how many queries are scored at once (default: as many as fit in
    ``SCORE_BUDGET_BYTES``, 64 MiB of temporary scores).

    >>> index = CosineIndex().add(np.eye(3))
    >>> scores, ids = index.search([1.0, 0.1, 0.0], k=2)
    >>> scores.round(3), ids
    (array([[0.995, 0.1  ]], dtype=float32), array([[0, 1]]))
    """

    def __init__(self, *, batch_size: int | None = None):
        if batch_size is not None:
            check_int(batch_size, "batch_size", low=1, sensible=1024)
        self.batch_size = batch_size

    def add(self, embeddings, ids=None) -> CosineIndex:
        """Append unit-length copies of ``embeddings`` (n, d); default ids continue from ``len(self)``."""
        self._append(embeddings, ids)
        return self

    def _search(self, queries, k):
        chunk = query_chunk_size(len(self))
        if self.batch_size is not None:
            chunk = min(chunk, self.batch_size)
        all_scores, all_rows = [], []
        for start in range(0, len(queries), chunk):
            scores, rows = top_k(queries[start:start + chunk] @ self.vectors_.T, k)
            all_scores.append(scores)
            all_rows.append(rows)
        return np.vstack(all_scores), np.vstack(all_rows), np.full(len(queries), len(self))

    def _search_inside(self, queries, k, mask):
        """Exact search filters exactly: it scores the allowed rows and nothing else (pre-filtering)."""
        rows = np.flatnonzero(mask)
        scores, found = scan_rows(queries, self.vectors_[rows], rows, k)
        return scores, found, np.full(len(queries), len(rows))
