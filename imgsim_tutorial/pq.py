"""Product quantisation (PQ): 768 floats (3 KB) become 16 bytes, and search still works.

Builds on ``ivf.py``'s k-means. Buckets and graphs make a query *touch* fewer vectors; PQ
makes every vector *smaller*, so that millions fit in memory:

1. **split** each embedding into ``n_subvectors`` pieces (768 = 16 pieces of 48 numbers);
2. **codebooks**: k-means in each piece's own subspace, ``2 ** n_bits`` centroids each;
3. **codes**: store, per piece, only the number of its nearest centroid: ``n_subvectors``
   uint8s per embedding instead of ``4 * d`` bytes;
4. **asymmetric distance table**: the query stays exact. For each piece m, compute its dot
   product with all 256 centroids once: ``table[m, c]``. The approximate score of every
   embedding is then a sum of ``n_subvectors`` look-ups, ``sum_m table[m, code[m]]``.

The approximation costs recall, so ``n_rerank=R`` re-scores the best R by *exact* cosine. The
float vectors for that live **on disk** (``np.memmap`` of a scratch file in ``vectors_folder``):
codes in memory, full vectors read only for each query's shortlist. That is the honest version of
the lesson: a PQ index that kept the floats in memory to re-rank would save nothing. ``save``
copies them to ``NAME.vectors.f32`` beside ``NAME.npz``; a loaded index reads that file and
never writes it (its first ``add`` copies it to a scratch file of its own).
Left out: combining PQ with IVF cells (IVF-PQ; see ``faiss_factory.py``) and optimised
rotations (OPQ).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._support.persistence import WorkingFile
from .cosine_search import rerank, top_k
from .index_base import IndexBase
from .vectors import as_matrix, check_int

# Encoding scores every piece against every centroid: (rows, n_subvectors, 2 ** n_bits) float32.
# Done for all rows at once, 10,000 x 96 pieces took 1 GB twice over; in chunks of this size, the
# codes are the same and the working memory stays small.
ENCODE_CHUNK_BYTES = 32 << 20

def kmeans(points, n_clusters: int, *, n_iter: int = 20, seed: int = 0) -> np.ndarray:
    """Lloyd's k-means with squared Euclidean distance: centroids (n_clusters, d).

    >>> sorted(kmeans(np.array([[0.0], [0.2], [5.0], [5.4]]), 2, seed=0).ravel().astype(float).round(2).tolist())
    [0.1, 5.2]
    """
    points = np.asarray(points, dtype=np.float32)
    rng = np.random.default_rng(seed)
    centroids = points[rng.choice(len(points), n_clusters, replace=False)].copy()
    for _ in range(n_iter):
        # argmin |x - c|^2 = argmax (x . c - |c|^2 / 2): one matrix product per iteration
        assignment = np.argmax(points @ centroids.T - 0.5 * (centroids ** 2).sum(1), axis=1)
        counts = np.bincount(assignment, minlength=n_clusters)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assignment, points)
        used = counts > 0  # an empty cluster keeps its old centroid
        centroids[used] = sums[used] / counts[used, None]
    return centroids


class PQIndex(IndexBase):
    """Product-quantised codes in memory, scored with a per-query distance table.

    With ``n_rerank``, the float vectors wait in a scratch file in ``vectors_folder`` (default:
    the system's temporary folder), deleted when the index is garbage-collected or Python exits.

    >>> rng = np.random.default_rng(0); data = rng.standard_normal((600, 16))
    >>> index = PQIndex(n_subvectors=4, n_bits=4, n_rerank=50).add(data)
    >>> scores, ids = index.search(data[:2], k=3); ids[:, 0], index.codes_.shape
    (array([0, 1]), (600, 4))
    """

    def __init__(self, *, n_subvectors: int = 16, n_bits: int = 8, n_rerank: int = 0, seed: int = 0,
                 n_iter: int = 20, vectors_folder: str | None = None):
        self.n_subvectors = check_int(n_subvectors, "n_subvectors", low=1, sensible=16)
        self.n_bits = check_int(n_bits, "n_bits", low=1, high=8, sensible=8)
        self.n_rerank = check_int(n_rerank, "n_rerank", low=0, sensible=100)
        self.seed = check_int(seed, "seed", low=0, sensible=0)
        self.n_iter = check_int(n_iter, "n_iter", low=1, sensible=20)
        if vectors_folder is not None and not isinstance(vectors_folder, (str, Path)):
            raise ValueError(f"vectors_folder must be a folder path or None, got {vectors_folder!r}")
        self.vectors_folder = None if vectors_folder is None else str(vectors_folder)

    # -- building -------------------------------------------------------------------------
    def train(self, embeddings) -> PQIndex:
        """Learn ``codebooks_`` (n_subvectors, 2 ** n_bits, d / n_subvectors), one k-means per piece."""
        vectors = as_matrix(embeddings, "embeddings")
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        d, m, n_centroids = vectors.shape[1], self.n_subvectors, 2 ** self.n_bits
        if d % m:
            divisors = [s for s in range(1, d + 1) if d % s == 0]
            raise ValueError(f"n_subvectors={m} must divide the dimension {d}; choose one of {divisors}")
        if len(vectors) < n_centroids:
            raise ValueError(f"n_bits={self.n_bits} means {n_centroids} centroids per piece, which needs at least "
                             f"{n_centroids} training vectors, got {len(vectors)}; use fewer n_bits or more data")
        pieces = vectors.reshape(len(vectors), m, d // m)
        self.codebooks_ = np.stack([kmeans(pieces[:, j], n_centroids, n_iter=self.n_iter, seed=self.seed + j)
                                    for j in range(m)])
        return self

    def encode(self, vectors) -> np.ndarray:
        """uint8 codes (n, n_subvectors): the nearest centroid of every piece."""
        m, n_centroids, sub = self.codebooks_.shape
        pieces = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), m, sub)
        halves = 0.5 * (self.codebooks_ ** 2).sum(2)  # (m, n_centroids)
        codes = np.empty((len(pieces), m), dtype=np.uint8)
        rows = max(1, ENCODE_CHUNK_BYTES // (m * n_centroids * 4))
        for start in range(0, len(pieces), rows):
            scores = np.einsum("nms,mcs->nmc", pieces[start:start + rows], self.codebooks_)
            scores -= halves
            codes[start:start + rows] = np.argmax(scores, axis=2)
        return codes

    def decode(self, codes) -> np.ndarray:
        """The approximate vectors the codes stand for: (n, d)."""
        pieces = self.codebooks_[np.arange(self.n_subvectors), np.asarray(codes, dtype=np.int64)]
        return pieces.reshape(len(pieces), -1)

    def add(self, embeddings, ids=None) -> PQIndex:
        """Encode ``embeddings`` (n, d) (training the codebooks first if needed) and append them."""
        if not hasattr(self, "codebooks_"):
            self.train(embeddings)
        else:
            as_matrix(embeddings, "embeddings", self.codebooks_.shape[0] * self.codebooks_.shape[2])
        old_ids, old_codes = getattr(self, "ids_", None), getattr(self, "codes_", None)
        vectors = self._append(embeddings, ids, keep_vectors=False)
        try:
            codes = self.encode(vectors)
            if self.n_rerank:
                self._write_vectors(vectors)
        except BaseException:  # a full disk, say: the index stays as it was
            if old_ids is None:
                del self.ids_, self.dim_
            else:
                self.ids_ = old_ids
            raise
        self.codes_ = codes if old_codes is None else np.vstack([old_codes, codes])
        return self

    def _write_vectors(self, vectors, start: int | None = None):
        """Write ``vectors`` as rows ``start...`` (default: the last rows) of the vectors on disk.

        Only ever into a private scratch file: the first batch creates one, and an index loaded
        from a file first copies that file's rows (copy-on-write), so a saved index never changes.
        """
        start = len(self) - len(vectors) if start is None else start
        row_bytes = vectors.shape[1] * 4
        store = getattr(self, "_vectors_file", None)
        if store is None and start:
            raise ValueError(f"this PQIndex holds {start} vectors with no floats on disk (n_rerank was 0 when they "
                             "were added), so it cannot re-rank them; build it again with n_rerank set")
        if store is None or not store.private:
            scratch = WorkingFile.scratch(self.vectors_folder, prefix="imgsim-pq-vectors-", suffix=".f32")
            if store is not None and start:
                self._copy_vectors(scratch.file, start)
            store = scratch
        store.file.seek(start * row_bytes)
        store.file.write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
        store.file.truncate()
        store.file.flush()
        self._vectors_file = store

    def _copy_vectors(self, handle, n_rows: int, chunk_rows: int = 1 << 14):
        """Write the first ``n_rows`` float vectors to the open binary file ``handle``, a chunk at a time."""
        on_disk = np.memmap(self._vectors_file.file, dtype=np.float32, mode="r", shape=(n_rows, self.dim_))
        for begin in range(0, n_rows, chunk_rows):
            handle.write(on_disk[begin:begin + chunk_rows].tobytes())

    def _check_vectors_file(self):
        expected, size = len(self) * self.dim_ * 4, self._vectors_file.size()
        if size != expected:
            raise ValueError(f"{self._vectors_file.path.name} should hold {len(self)} x {self.dim_} float32 "
                             f"vectors ({expected} bytes) for re-ranking, but it has {size} bytes")

    @property
    def vectors_on_disk(self) -> np.memmap:
        """The float vectors, mapped from disk (read only; pages are loaded when rows are read).

        Mapped on each use rather than kept: nothing of it counts as memory the index holds."""
        return np.memmap(self._vectors_file.file, dtype=np.float32, mode="r", shape=(len(self), self.dim_))

    # -- searching ------------------------------------------------------------------------
    def distance_table(self, query) -> np.ndarray:
        """Dot products of each piece of one unit ``query`` with every centroid: (n_subvectors, 2 ** n_bits)."""
        m, _, sub = self.codebooks_.shape
        return np.einsum("ms,mcs->mc", np.asarray(query, dtype=np.float32).reshape(m, sub), self.codebooks_)

    def approximate_scores(self, query, rows=None) -> np.ndarray:
        """Estimated cosine of one unit ``query`` with every stored embedding (or only ``rows``):
        (n,), n_subvectors look-ups each."""
        table = self.distance_table(query)
        codes = self.codes_ if rows is None else self.codes_[rows]
        return table[np.arange(self.n_subvectors), codes.astype(np.intp)].sum(axis=1)

    def _search_inside(self, queries, k, mask):
        """PQ with a filter: estimate the scores of the allowed items only (their codes' look-ups),
        then shortlist and re-rank as usual. Nothing else is scored."""
        return self._search(queries, k, rows=np.flatnonzero(mask))

    def _search(self, queries, k, rows=None):
        n_scored = len(self) if rows is None else len(rows)
        width = min(n_scored, max(k, min(self.n_rerank, len(self))) if self.n_rerank else k)
        shortlists = np.full((len(queries), k if not self.n_rerank else width), -1, dtype=np.int64)
        estimates = np.full(shortlists.shape, np.nan, dtype=np.float32)
        for q, query in enumerate(queries):
            best, columns = top_k(self.approximate_scores(query, rows)[None], width)
            shortlists[q, :width] = columns[0] if rows is None else rows[columns[0]]
            estimates[q, :width] = best[0]
        if not self.n_rerank:
            return estimates, shortlists, np.full(len(queries), n_scored)
        scores = np.full((len(queries), k), np.nan, dtype=np.float32)
        found_rows = np.full((len(queries), k), -1, dtype=np.int64)
        on_disk = self.vectors_on_disk
        for q, shortlist in enumerate(shortlists):  # only these rows are read from disk
            order = np.sort(shortlist)
            found, columns = rerank(queries[q:q + 1], np.asarray(on_disk[order]), [np.arange(len(order))], k)
            scores[q], found_rows[q] = found[0], np.where(columns[0] >= 0, order[columns[0]], -1)
        return scores, found_rows, np.full(len(queries), n_scored)

    # -- memory and files -----------------------------------------------------------------
    def disk_bytes(self) -> int:
        """Bytes of float vectors kept on disk for re-ranking (0 without ``n_rerank``)."""
        return len(self) * self.dim_ * 4 if getattr(self, "_vectors_file", None) else 0

    def _files_to_save(self) -> dict:
        """With ``n_rerank``, ``save`` also writes ``NAME.vectors.f32`` beside ``NAME.npz`` (in one swap)."""
        if not self.n_rerank:
            return {}
        return {".vectors.f32": lambda handle: self._copy_vectors(handle, len(self))}

    def _restore_files(self, files: dict) -> None:
        if not self.n_rerank:
            return super()._restore_files(files)
        if set(files) != {".vectors.f32"}:
            raise ValueError(f"it re-ranks (n_rerank={self.n_rerank}) but lists no vectors file beside it "
                             "(saved by an older version?); build the index again and save it")
        self._vectors_file = WorkingFile.reading(files[".vectors.f32"])
        self._check_vectors_file()
