"""IVF (inverted file): learned buckets. k-means cells instead of random hyperplanes.

Builds on ``hash_tables.py``. LSH cuts space with random hyperplanes that know nothing about the
data, so on real embeddings (which crowd into a few directions) most buckets are empty and a
few are huge. IVF learns its buckets from the data instead:

1. **train**: k-means finds ``n_lists`` centroids (here *spherical* k-means, because we compare
   by cosine: assign each unit vector to the centroid with the largest dot product, move every
   centroid to the normalised mean of its members, repeat). Like FAISS, it learns from a
   *sample* of at most ``TRAIN_POINTS_PER_LIST`` (256) points per centroid: more points barely
   move the centroids, but every extra point costs a dot product with every centroid, each step;
2. **add**: every embedding goes into the *inverted list* of its nearest centroid. The lists are
   stored as one array in list order plus ``list_offsets_`` (list j holds rows
   ``offsets[j]:offsets[j + 1]``), the "CSR" layout FAISS uses too;
3. **search**: a query scans only its ``n_probes`` nearest lists and re-ranks them exactly.
   Because each list is one contiguous slice of ``vectors_``, scanning it is one
   matrix-vector product on that slice, with no copy. That matters in NumPy: every call costs
   about a microsecond before it does any work, so a fast query makes few, large calls.

``n_probes == n_lists`` scans everything, so it is exact. Adding after training assigns new
vectors to the existing centroids (as ``faiss.IndexIVFFlat`` does); it does not re-train.
With a filter (``search(..., allowed=mask)``) a query returns only the allowed members of the
lists it visits, and visits further lists, nearest first, until it has looked as deep past the
filtered answer as the plain search looks past its own (``_search_inside``; ``filtering.py``
tells the whole story).
Left out: compressing the vectors inside the lists (that is ``pq.py``; FAISS's IVF-PQ is in
``faiss_factory.py``).
"""

from __future__ import annotations

import numpy as np

from .cosine_search import rerank, top_k
from .index_base import IndexBase, local_selectivity
from .vectors import as_matrix, check_int, normalize

TRAIN_POINTS_PER_LIST = 256  # FAISS's ``max_points_per_centroid``: the training sample's size per list


def nearest_centroids(vectors, centroids, n_nearest: int = 1, batch_size: int = 4096) -> np.ndarray:
    """The ``n_nearest`` centroids of each row by dot product, nearest first: (n, n_nearest).

    >>> nearest_centroids(np.array([[1.0, 0.1]]), np.array([[0.0, 1.0], [1.0, 0.0]]), 2)
    array([[1, 0]])
    """
    found = []
    for start in range(0, len(vectors), batch_size):
        scores = vectors[start:start + batch_size] @ centroids.T
        # The single nearest is an argmax, far cheaper than a partial sort of every row.
        found.append(scores.argmax(axis=1)[:, None] if n_nearest == 1 else top_k(scores, n_nearest)[1])
    return np.vstack(found)


def spherical_kmeans(vectors, n_clusters: int, *, n_iter: int = 20, seed: int = 0) -> np.ndarray:
    """Lloyd's k-means for unit vectors compared by cosine: unit centroids (n_clusters, d).

    Starts from ``n_clusters`` distinct data points chosen with ``seed``. An empty cluster is
    restarted at the point that fits its own centroid worst, so every centroid stays in use.

    >>> points = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    >>> centroids = spherical_kmeans(points, 2, seed=0)   # one per pair of points
    >>> sorted(np.degrees(np.arctan2(centroids[:, 1], centroids[:, 0])).astype(float).round(1).tolist())
    [3.2, 86.8]
    """
    vectors = normalize(vectors, "vectors")
    if not 1 <= n_clusters <= len(vectors):
        raise ValueError(f"n_clusters={n_clusters} but there are {len(vectors)} vectors to learn from; "
                         f"use between 1 and {len(vectors)} (about sqrt(n) is a good start)")
    rng = np.random.default_rng(seed)
    centroids = vectors[rng.choice(len(vectors), n_clusters, replace=False)].copy()
    assignment = None
    for _ in range(n_iter):
        new_assignment = nearest_centroids(vectors, centroids)[:, 0]
        if assignment is not None and np.array_equal(new_assignment, assignment):
            break  # converged: nothing moved
        assignment = new_assignment
        # Sorted by cluster, the members of cluster j are one slice: sum each slice.
        order = np.argsort(assignment, kind="stable")
        bounds = np.searchsorted(assignment[order], np.arange(n_clusters + 1))
        sums = np.zeros_like(centroids)
        for j in np.flatnonzero(np.diff(bounds)):
            sums[j] = vectors[order[bounds[j]:bounds[j + 1]]].sum(axis=0)
        empty = np.flatnonzero(np.diff(bounds) == 0)
        if len(empty):
            fit = np.einsum("nd,nd->n", vectors, centroids[assignment])
            for j, worst in zip(empty, np.argsort(fit)):
                sums[j] = vectors[worst]
        centroids = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    return centroids.astype(np.float32)


def training_sample(n: int, n_lists: int, seed: int = 0) -> np.ndarray:
    """Rows k-means learns from: all ``n`` if few, else ``TRAIN_POINTS_PER_LIST * n_lists`` of them.

    >>> len(training_sample(100_000, 100)), len(training_sample(1_000, 100))
    (25600, 1000)
    """
    size = TRAIN_POINTS_PER_LIST * n_lists
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))  # sorted: reads memory in order


class IVFIndex(IndexBase):
    """Inverted lists over ``n_lists`` k-means cells; a query scans its ``n_probes`` nearest lists.

    >>> rng = np.random.default_rng(0); data = rng.standard_normal((500, 16))
    >>> index = IVFIndex(n_lists=10, n_probes=10, seed=0).add(data)   # all lists: exact
    >>> scores, ids = index.search(data[:2], k=3); ids[:, 0]
    array([0, 1])
    """

    def __init__(self, *, n_lists: int = 100, n_probes: int = 8, seed: int = 0, n_iter: int = 20):
        self.n_lists = check_int(n_lists, "n_lists", low=1, sensible="about sqrt(n), e.g. 200 for 50,000 images")
        self.n_probes = check_int(n_probes, "n_probes", low=1, high=self.n_lists, sensible=max(1, self.n_lists // 20))
        self.seed = check_int(seed, "seed", low=0, sensible=0)
        self.n_iter = check_int(n_iter, "n_iter", low=1, sensible=20)

    # -- building -------------------------------------------------------------------------
    def train(self, embeddings) -> IVFIndex:
        """Learn ``centroids_`` (n_lists, d) with seeded spherical k-means on a sample of
        ``embeddings`` (at most ``TRAIN_POINTS_PER_LIST`` per list, as FAISS does)."""
        vectors = normalize(embeddings, "embeddings")
        if len(vectors) < self.n_lists:
            raise ValueError(f"n_lists={self.n_lists} cells need at least {self.n_lists} vectors to learn from, got "
                             f"{len(vectors)}; add more embeddings or use n_lists <= {len(vectors)}")
        sample = vectors[training_sample(len(vectors), self.n_lists, self.seed)]
        self.centroids_ = spherical_kmeans(sample, self.n_lists, n_iter=self.n_iter, seed=self.seed)
        return self

    def add(self, embeddings, ids=None) -> IVFIndex:
        """Put ``embeddings`` (n, d) into the list of their nearest centroid (training first if needed)."""
        if not hasattr(self, "centroids_"):
            self.train(embeddings)
        elif np.shape(embeddings)[-1] != self.centroids_.shape[1]:
            as_matrix(embeddings, "embeddings", self.centroids_.shape[1])  # raises the dimension message
        old_lists = getattr(self, "lists_", np.array([], dtype=np.int64))
        n_before = len(self)
        vectors = self._append(embeddings, ids)
        lists = np.concatenate([old_lists, nearest_centroids(vectors, self.centroids_)[:, 0]])
        # positions_[row]: when the item in that row was added (a filter mask comes in that order)
        self.positions_ = np.concatenate([getattr(self, "positions_", np.array([], dtype=np.int64)),
                                          np.arange(n_before, len(self))])
        self._sort_into_lists(lists)
        return self

    def _sort_into_lists(self, lists):
        # List order: each inverted list becomes one contiguous slice of vectors_ and ids_ (and of
        # every other per-item array: add-order positions, removal marks).
        order = np.argsort(lists, kind="stable")
        self.vectors_, self.ids_, self.lists_ = self.vectors_[order], self.ids_[order], lists[order].astype(np.int64)
        self.positions_ = self.positions_[order]
        if getattr(self, "deleted_", None) is not None:
            self.deleted_ = self.deleted_[order]
        self.list_offsets_ = np.concatenate([[0], np.cumsum(np.bincount(self.lists_, minlength=self.n_lists))])
        # The same bounds as Python ints, (start, end) per list: a query reads them without NumPy calls.
        self._list_bounds = list(zip(self.list_offsets_[:-1].tolist(), self.list_offsets_[1:].tolist()))

    def list_sizes(self) -> np.ndarray:
        """How many embeddings each inverted list holds: (n_lists,)."""
        self._check_fitted()
        return np.diff(self.list_offsets_)

    # -- querying -------------------------------------------------------------------------
    def probed_lists(self, queries, n_probes: int | None = None) -> np.ndarray:
        """The ``n_probes`` lists each query scans, nearest centroid first: (nq, n_probes)."""
        self._check_fitted()
        return nearest_centroids(self._queries(queries), self.centroids_, n_probes or self.n_probes)

    def _rows_of(self, lists) -> np.ndarray:
        return np.concatenate([np.arange(self.list_offsets_[j], self.list_offsets_[j + 1]) for j in lists])

    def candidates(self, query) -> np.ndarray:
        """Ids in the lists ``query`` scans (nearest list first)."""
        return self.ids_[self._rows_of(self.probed_lists(query)[0])]

    def _search_by_rerank(self, queries, k):
        """The readable version of ``_search``: gather the rows of the probed lists into one
        shortlist per query and ``rerank`` it. Same results; slower, because it copies every row."""
        shortlists = [self._rows_of(lists) for lists in nearest_centroids(queries, self.centroids_, self.n_probes)]
        scores, rows = rerank(queries, self.vectors_, shortlists, k)
        return scores, rows, [len(shortlist) for shortlist in shortlists]

    def _search(self, queries, k):
        longest = np.sort(np.diff(self.list_offsets_))[-self.n_probes:].sum()
        buffer = np.empty(longest, dtype=self.vectors_.dtype)  # one query's scores, reused by every query
        scores = np.full((len(queries), k), np.nan, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        n_scanned = np.zeros(len(queries), dtype=np.int64)
        for q, query in enumerate(queries):
            found, found_rows, n_scanned[q] = self._scan(query, k, buffer)
            scores[q, :len(found)], rows[q, :len(found)] = found, found_rows
        return scores, rows, n_scanned

    def _scan(self, query, k, buffer):
        """One query: its ``n_probes`` nearest lists, each scored with one matrix-vector product on
        its slice of ``vectors_`` (no copy), written one after another into ``buffer``; the best k."""
        closeness = self.centroids_ @ query
        lists = np.argpartition(closeness, -self.n_probes)[-self.n_probes:] if self.n_probes < self.n_lists \
            else np.arange(self.n_lists)
        filled, shifts, lengths = 0, [], []
        for j in lists.tolist():
            start, end = self._list_bounds[j]
            np.dot(self.vectors_[start:end], query, out=buffer[filled:filled + end - start])
            shifts.append(start - filled)  # buffer position p of this list holds row p + (start - filled)
            lengths.append(end - start)
            filled += end - start
        found = buffer[:filled]
        best = np.argpartition(found, filled - k)[filled - k:] if k < filled else np.arange(filled)
        best = best[np.argsort(-found[best], kind="stable")]  # the k largest, best first
        return found[best], best + np.repeat(shifts, lengths)[best], filled

    # -- filtered search -------------------------------------------------------------------
    def _row_positions(self):
        return self.positions_

    def _inside_cost(self, n_allowed: int) -> float:
        # Inside, a query scores whole lists until it has looked 1 / s times as deep as the plain
        # search (s: the share allowed; see _search_inside), at most every item.
        plain = self.n_probes * len(self) / self.n_lists
        return min(len(self), plain * len(self) / max(1, n_allowed))

    def _search_inside(self, queries, k, mask):
        """IVF with a filter: visit lists nearest first, as the plain search does, but look deeper.

        The plain search scores its ``n_probes`` nearest lists, P items, to find the top k. With a
        filter the answer, the k best *allowed* items, lies deeper: n_near items (allowed or not)
        score at least as high as the k-th of them (``local_selectivity``). To find them as reliably
        the search scores about ``P * n_near / k`` items, P divided by the *local* selectivity
        ``k / n_near``. A random filter allowing a share s has ``n_near`` about ``k / s``, so it
        visits lists until it has scored P allowed items. A filter that excludes the query's own
        cluster makes ``n_near`` large however much it allows, and the search goes on until it has
        found the allowed neighbours, in lists whose centroids rank far from the query (at most
        every list: exact). FAISS's IVF instead stops after ``nprobe`` lists whatever the filter,
        and loses recall. A query whose plain search would score more items than the filter allows
        scans the allowed rows exactly (cheaper, and exact)."""
        n_allowed = int(mask.sum())
        sizes = np.diff(self.list_offsets_)
        buffer = np.empty(len(self), dtype=self.vectors_.dtype)  # one query's scores, reused by every query
        scores = np.full((len(queries), k), np.nan, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        n_scored = np.full(len(queries), n_allowed, dtype=np.int64)
        exact = []
        for q, query in enumerate(queries):
            order = np.argsort(-(self.centroids_ @ query), kind="stable")  # every list, nearest first
            reached = np.cumsum(sizes[order])  # items scored after visiting 1, 2, ... lists
            if n_allowed <= reached[self.n_probes - 1]:
                exact.append(q)
                continue
            found, found_rows, n_scored[q] = self._scan_deeper(query, k, mask, order, reached, buffer)
            scores[q, :len(found)], rows[q, :len(found)] = found, found_rows
        if exact:
            scores[exact], rows[exact] = self._scan_allowed(queries[exact], k, mask)
        return scores, rows, n_scored

    def _scan_deeper(self, query, k, mask, order, reached, buffer):
        """Score whole lists in ``order`` (in place, as ``_scan`` does) until the items scored reach
        ``P / local selectivity``, re-measured after each step; the best k allowed of them."""
        plain = reached[self.n_probes - 1]
        allowed = np.empty(len(buffer), dtype=bool)  # which scored items the filter allows
        starts, fills = [], []  # per visited list: its first row, and its first place in buffer
        target, n_visited, filled = plain, 0, 0
        while filled < target and n_visited < len(order):
            n_visit = min(len(order), int(np.searchsorted(reached, target)) + 1)
            for j in order[n_visited:n_visit].tolist():
                start, end = self._list_bounds[j]
                np.dot(self.vectors_[start:end], query, out=buffer[filled:filled + end - start])
                allowed[filled:filled + end - start] = mask[start:end]
                starts.append(start)
                fills.append(filled)
                filled += end - start
            n_visited = n_visit
            n_allowed_near, n_near = local_selectivity(buffer[:filled], allowed[:filled], k)
            target = plain * n_near / n_allowed_near if n_allowed_near else np.inf
        places = np.flatnonzero(allowed[:filled])
        if len(places) > k:  # the k best allowed places, then only those sorted
            places = places[np.argpartition(-buffer[places], k - 1)[:k]]
        best = places[np.argsort(-buffer[places], kind="stable")]
        visited = np.searchsorted(fills, best, side="right") - 1  # which visited list each place is in
        return buffer[best], np.asarray(starts)[visited] + best - np.asarray(fills)[visited], filled

    @classmethod
    def _expected_shapes(cls, params, n, dim):
        return {"ids": (n,), "positions": (n,)}

    def _restore(self):
        lists = self.lists_
        if len(lists) != len(self.vectors_) or (len(lists) and not 0 <= lists.min() <= lists.max() < self.n_lists):
            raise ValueError("the inverted lists in this file do not match its vectors; the file is damaged")
        if not np.array_equal(np.sort(self.positions_), np.arange(len(self))):
            raise ValueError("the add-order positions in this file are not 0..n-1; the file is damaged")
        self._sort_into_lists(lists)
