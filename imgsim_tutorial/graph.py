"""A navigable neighbour graph: walk from neighbour to neighbour towards the query.

Builds on ``cosine_search.py``; a different idea from the buckets of ``hash_tables.py`` and
``ivf.py``. Link every embedding to a few of its nearest neighbours. To search, start at an
*entry point* and keep stepping to whichever neighbour is closer to the query; a *beam* of the
``ef_search`` best nodes seen so far keeps the walk from stopping at the first dead end. Each
step scores only a handful of vectors, so a query scores a few hundred instead of all of them.

How the graph is built here (one layer, readable, exact at build time):

1. **nearest neighbours**: the exact top ``2 * n_neighbors`` of every node, by blocks of
   matrix products (``CosineIndex``'s trick);
2. **pruning for diversity** (the HNSW heuristic): keep neighbour c only if c is closer to the
   node than to every neighbour kept before it. Ten links into one tight clump become one
   link into it and links *out* towards other clumps, which is what makes the graph navigable;
3. **reverse links**: if a links to b, b links back to a (at most ``2 * n_neighbors`` per node);
4. **long links**: on clustered data steps 1-3 make islands (one per cluster) joined by a few
   thin bridges, and a walk that starts in the wrong island rarely finds the way out (measured
   on ``synthetic.realistic_embeddings``: a quarter of the queries found none of their top-10).
   ``n_long_links`` random links per node turn the islands into a *small world* (Watts and
   Strogatz, 1998): any node is a few hops from any other;
5. **every node reachable** from the entry point (the node nearest the mean direction): an
   unreachable group gets one bridge link from its nearest reachable node.

With ``ef_search >= len(index)`` the beam never fills, the walk visits every reachable node,
and the search is exact. Left out: the *layers* of HNSW (sparse upper graphs that make long
jumps first, the job our random long links do here; notebook 05 measures what they add with
FAISS's ``IndexHNSWFlat``) and inserting
one node at a time (``add`` here updates the neighbour lists and re-prunes: same graph as one
``add`` of everything, but each ``add`` costs a pass over all stored vectors).
"""

from __future__ import annotations

import heapq

import numpy as np

from .cosine_search import as_matrix, top_k
from .index_base import IndexBase, check_int


def nearest_neighbor_lists(vectors, new_rows, n_nearest: int, batch_size: int = 1024):
    """Exact top ``n_nearest`` other rows of each row in ``new_rows`` among all ``vectors``.

    Returns ``(rows (m, n_nearest), scores (m, n_nearest))``, best first.

    >>> nearest_neighbor_lists(np.eye(3)[[0, 0, 1]], np.arange(3), 1)[0].ravel().tolist()
    [1, 0, 0]
    """
    found_rows, found_scores = [], []
    for start in range(0, len(new_rows), batch_size):
        block = new_rows[start:start + batch_size]
        scores = vectors[block] @ vectors.T
        scores[np.arange(len(block)), block] = -np.inf  # a node is not its own neighbour
        best, rows = top_k(scores, n_nearest)
        found_rows.append(rows)
        found_scores.append(best)
    return np.vstack(found_rows), np.vstack(found_scores)


def row_scores(vectors, lists, batch_size: int = 256) -> np.ndarray:
    """Cosine of node i with each row in ``lists[i]``: (n, m), for nodes 0..n-1.

    Done in blocks of ``batch_size`` nodes: gathering all neighbours at once would hold an
    (n, m, d) copy (10,000 x 32 x 768 float32 is 983 MB). Each score is the same either way.

    >>> row_scores(np.eye(3), np.array([[1, 0], [0, 1]])).tolist()
    [[0.0, 1.0], [0.0, 1.0]]
    """
    scores = np.empty(lists.shape, dtype=np.result_type(vectors.dtype, np.float32))
    for start in range(0, len(lists), batch_size):
        block = lists[start:start + batch_size]
        scores[start:start + len(block)] = np.einsum("nd,nmd->nm", vectors[start:start + len(block)], vectors[block])
    return scores


def diverse_neighbors(vectors, lists, n_keep: int, nodes=None, batch_size: int = 256) -> np.ndarray:
    """The HNSW pruning rule on each row's candidate list (sorted best first): bool (n, m).

    ``lists`` (n, m) holds candidate rows for each node in ``nodes`` (default: rows 0..n-1).
    Candidate j is kept if it is closer to the node than to every candidate kept before it,
    and fewer than ``n_keep`` are kept already. Vectorised over nodes, one loop over j.

    >>> points = np.array([[1, 0], [0.9, 0.44], [0.88, 0.47], [0.8, -0.6]])
    >>> points /= np.linalg.norm(points, axis=1)[:, None]
    >>> diverse_neighbors(points, np.array([[1, 2, 3]]), n_keep=3, nodes=[0]).tolist()   # 2 hides behind 1
    [[True, False, True]]
    """
    nodes = np.arange(len(lists)) if nodes is None else np.asarray(nodes)
    keep = np.zeros(lists.shape, dtype=bool)
    for start in range(0, len(lists), batch_size):
        rows = lists[start:start + batch_size]
        candidates = vectors[rows]                                   # (b, m, d)
        to_node = np.einsum("bmd,bd->bm", candidates, vectors[nodes[start:start + len(rows)]])
        between = np.einsum("bmd,bnd->bmn", candidates, candidates)  # (b, m, m)
        kept, count = keep[start:start + len(rows)], np.zeros(len(rows), dtype=int)
        for j in range(rows.shape[1]):
            hidden = (kept[:, :j] & (between[:, j, :j] > to_node[:, j, None])).any(axis=1)
            kept[:, j] = ~hidden & (count < n_keep)
            count += kept[:, j]
    return keep


class GraphIndex(IndexBase):
    """One-layer navigable neighbour graph, searched by a beam of width ``ef_search``.

    >>> rng = np.random.default_rng(0); data = rng.standard_normal((300, 16))
    >>> index = GraphIndex(n_neighbors=8, ef_search=300).add(data)    # beam as big as the data: exact
    >>> scores, ids = index.search(data[:2], k=3); ids[:, 0]
    array([0, 1])
    """

    def __init__(self, *, n_neighbors: int = 16, ef_search: int = 64, n_long_links: int = 4, seed: int = 0):
        self.n_neighbors = check_int(n_neighbors, "n_neighbors", low=2, high=256, sensible=16)
        self.ef_search = check_int(ef_search, "ef_search", low=1, sensible=64)
        self.n_long_links = check_int(n_long_links, "n_long_links", low=0, high=256, sensible=4)
        self.seed = check_int(seed, "seed", low=0, sensible=0)

    # -- building -------------------------------------------------------------------------
    def add(self, embeddings, ids=None) -> "GraphIndex":
        """Add ``embeddings`` (n, d): update everyone's neighbour lists, then rebuild the links."""
        if hasattr(self, "dim_"):
            as_matrix(embeddings, "embeddings", self.dim_)  # the dimension message, before anything changes
        n_old = len(self)
        self._append(embeddings, ids)
        n, m = len(self), min(2 * self.n_neighbors, len(self) - 1)
        if m < 1:
            raise ValueError("a graph needs at least 2 embeddings; add more")
        new_rows, new_scores = nearest_neighbor_lists(self.vectors_, np.arange(n_old, n), m)
        if n_old:  # old nodes: merge their lists with the newcomers (exact, as if built at once)
            old = self.knn_[:, :m].astype(np.int64)
            old_scores = row_scores(self.vectors_, old)
            to_new = self.vectors_[:n_old] @ self.vectors_[n_old:].T
            best, columns = top_k(np.hstack([old_scores, to_new]), m)
            merged = np.where(columns < old.shape[1], np.take_along_axis(old, np.minimum(columns, old.shape[1] - 1), 1),
                              n_old + columns - old.shape[1])
            new_rows, new_scores = np.vstack([merged, new_rows]), np.vstack([best, new_scores])
        self.knn_ = new_rows.astype(np.int32)
        self._link(new_scores)
        return self

    def _link(self, knn_scores=None):
        n, knn = len(self), self.knn_.astype(np.int64)
        if knn_scores is None:
            knn_scores = row_scores(self.vectors_, knn)
        keep = diverse_neighbors(self.vectors_, knn, self.n_neighbors)
        source = np.repeat(np.arange(n), knn.shape[1])[keep.ravel()]
        target, score = knn.ravel()[keep.ravel()], knn_scores.ravel()[keep.ravel()]
        # Reverse links, duplicates removed, then each node keeps its 2 * n_neighbors best.
        source, target, score = np.r_[source, target], np.r_[target, source], np.r_[score, score]
        _, first = np.unique(source * n + target, return_index=True)
        source, target, score = source[first], target[first], score[first]
        order = np.lexsort((-score, source))
        source, target = source[order], target[order]
        starts = np.searchsorted(source, np.arange(n))
        keep = np.arange(len(source)) - starts[source] < 2 * self.n_neighbors
        source, target = source[keep], target[keep]
        if self.n_long_links:  # random out-links: they depend only on (seed, n), so appending is reproducible
            random = np.random.default_rng(self.seed).integers(n, size=(n, self.n_long_links))
            source, target = np.r_[source, np.repeat(np.arange(n), self.n_long_links)], np.r_[target, random.ravel()]
            _, first = np.unique(source * n + target, return_index=True)
            source, target = source[first], target[first]
            source, target = source[source != target], target[source != target]
        self.entry_point = int(np.argmax(self.vectors_ @ self.vectors_.mean(axis=0)))
        source, target = self._bridge(source, target, knn)
        order = np.argsort(source, kind="stable")
        self.neighbors_ = target[order].astype(np.int32)
        self.neighbor_offsets_ = np.searchsorted(source[order], np.arange(n + 1))

    def _bridge(self, source, target, knn):
        """Add one link into every group of nodes the entry point cannot reach."""
        n = len(self)
        while True:
            offsets = np.searchsorted(np.sort(source), np.arange(n + 1))
            targets_by_source = target[np.argsort(source, kind="stable")]
            reached = np.zeros(n, dtype=bool)
            frontier = np.array([self.entry_point])
            reached[frontier] = True
            while len(frontier):
                nxt = np.concatenate([targets_by_source[offsets[v]:offsets[v + 1]] for v in frontier])
                frontier = np.unique(nxt[~reached[nxt]])
                reached[frontier] = True
            if reached.all():
                return source, target
            lost = int(np.flatnonzero(~reached)[0])
            helpers = knn[lost][reached[knn[lost]]]
            helper = int(helpers[0]) if len(helpers) else self.entry_point
            source, target = np.r_[source, helper], np.r_[target, lost]

    def relink(self) -> "GraphIndex":
        """Rebuild the links from the stored neighbour lists (cheap: no cosines between all pairs),
        e.g. after changing ``n_neighbors`` (up to the lists' length) or ``n_long_links``."""
        self._check_fitted()
        self._link()
        return self

    def _restore(self):
        if self.knn_.size and not 0 <= self.knn_.min() <= self.knn_.max() < len(self):
            raise ValueError("the neighbour lists in this file point outside it; the file is damaged")
        self._link()

    def degrees(self) -> np.ndarray:
        """Links out of each node: (n,)."""
        self._check_fitted()
        return np.diff(self.neighbor_offsets_)

    # -- searching ------------------------------------------------------------------------
    def walk(self, query, k: int = 5, ef_search: int | None = None) -> dict:
        """One search, traced: ``expanded`` nodes in order, ``path`` (entry -> best result through
        the links that found it), ``scored`` (every node whose cosine was computed), results."""
        self._check_fitted()
        ef = max(ef_search or self.ef_search, k)
        scores, rows, parent, order = self._beam(self._queries(query)[0], k, ef, trace=True)
        path = [int(rows[0])]
        while path[-1] != self.entry_point:
            path.append(parent[path[-1]])
        return {"scores": scores, "rows": rows, "ids": self.ids_[rows], "expanded": order, "path": path[::-1],
                "scored": np.array(list(parent), dtype=np.int64), "entry_point": self.entry_point}

    def _beam(self, query, k, ef, trace=False):
        vectors, neighbors, offsets = self.vectors_, self.neighbors_, self.neighbor_offsets_
        visited = np.zeros(len(vectors), dtype=bool)
        entry = self.entry_point
        visited[entry] = True
        first = float(vectors[entry] @ query)
        frontier, best = [(-first, entry)], [(first, entry)]  # max-heap of nodes to expand, min-heap of the ef best
        parent, expanded, n_scored = {entry: entry}, [], 1
        while frontier:
            negative, node = heapq.heappop(frontier)
            if len(best) >= ef and -negative < best[0][0]:
                break  # the nearest unexpanded node is worse than all ef results: stop
            if trace:
                expanded.append(node)
            links = neighbors[offsets[node]:offsets[node + 1]]
            links = links[~visited[links]]
            if not len(links):
                continue
            visited[links] = True
            n_scored += len(links)
            for score, link in zip((vectors[links] @ query).tolist(), links.tolist()):
                if trace:
                    parent[link] = node
                if len(best) < ef or score > best[0][0]:
                    heapq.heappush(frontier, (-score, link))
                    heapq.heappush(best, (score, link))
                    if len(best) > ef:
                        heapq.heappop(best)
        top = sorted(best, reverse=True)[:k]
        scores, rows = np.array([s for s, _ in top]), np.array([r for _, r in top], dtype=np.int64)
        return (scores, rows, parent, expanded) if trace else (scores, rows, n_scored)

    def _search(self, queries, k):
        ef = max(self.ef_search, k)
        scores = np.full((len(queries), k), np.nan, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        n_scored = np.zeros(len(queries), dtype=np.int64)
        for q, query in enumerate(queries):
            found, found_rows, n_scored[q] = self._beam(query, k, ef)
            scores[q, :len(found)], rows[q, :len(found)] = found, found_rows
        return scores, rows, n_scored
