"""A navigable neighbour graph: walk from neighbour to neighbour towards the query.

Builds on ``cosine_search.py`` and ``ivf.py``; a different idea from buckets. Link every
embedding to a few of its nearest neighbours. To search, start at an *entry point* and keep
stepping to whichever neighbour is closer to the query; a *beam* of the ``ef_search`` best nodes
seen so far keeps the walk from stopping at the first dead end. Each step scores only a handful
of vectors, so a query scores a few hundred or thousand instead of all of them.

How the graph is built (one layer):

1. **candidate neighbours, cell by cell**: the exact top ``2 * n_neighbors`` of every node would
   score all n^2 pairs (a minute of matrix products at 50,000). Instead k-means (``ivf.py``)
   cuts the data into cells of about ``CELL_SIZE`` points, and the candidates of the points of
   a cell are the points of its nearest cells (itself first) up to ``POOL_SIZE`` of them,
   scored with one matrix product. Close neighbours nearly always sit in nearby cells: at
   50,000 this finds 93-97% of the exact lists for a twelfth of the work (and below
   ``POOL_SIZE`` points every pool holds everything: exact);
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

With ``n_entry_points > 1`` a query first scores a seeded sample of that many nodes in one
product and starts at the nearest: a flat stand-in for the upper layers of HNSW, which exist to
start the walk near the query. About n / 25 works well (HNSW's first layer holds n / M nodes):
fewer leave small clusters without an entry point, and a walk that starts in the wrong cluster
spends most of its steps finding the right one. From ``ENTRY_GROUPING_FROM`` entry points on, they
are grouped by k-means and a query looks only inside its nearest groups: a second, coarse layer.

**With a filter** the walk still steps through disallowed nodes but returns only allowed ones,
and scans the allowed rows exactly when they are few (``_search_inside`` says why the walk gets stuck).

**Fast in NumPy.** A NumPy call costs about a microsecond before it does any work, so the walk
makes few calls: the links sit in a table with one row per node (a node with fewer links
repeats its own number, which is always visited already), the visited marks are one array of
query numbers that every query reuses (``Scratch``), and each step expands the
``EXPAND_PER_STEP`` best waiting nodes at once, so one gather and one product score all their
links. Only links better than the worst result so far reach the Python heaps.

With ``ef_search >= len(index)`` (and one entry point) the beam never fills, the walk visits
every node, and the search is exact. Left out: the *layers* of HNSW (notebook 07 measures what
they add with FAISS's ``IndexHNSWFlat``) and inserting one node at a time (``add`` rebuilds the
graph from all stored vectors: the same graph as one ``add`` of everything).
"""

from __future__ import annotations

import heapq
import threading

import numpy as np

from .cosine_search import top_k
from .index_base import FILTERED_AWAY, IndexBase
from .ivf import nearest_centroids, spherical_kmeans
from .vectors import as_matrix, check_int

CELL_SIZE = 256  # points per k-means cell when looking for candidate neighbours (on average)
POOL_SIZE = 4096  # a cell's candidates: the points of its nearest cells (itself first), about this many
EXPAND_PER_STEP = 8  # waiting nodes expanded together by one step of the search
ENTRY_GROUPING_FROM = 256  # from this many entry points on, they are grouped (``_group_entries``)
ENTRY_GROUPS_PROBED = 3  # groups of entry points a query looks inside


class Scratch(threading.local):
    """Arrays a walk scribbles on, kept per thread from one search to the next: on a busy machine,
    allocating them for every query cost more than the query itself (fresh pages must be mapped).
    ``visited[node] == stamp`` marks what the current query has scored; ``stamp`` grows by one per
    query, so ``visited`` never needs clearing. ``slot`` and ``positions`` remove repeated links."""

    visited = slot = positions = np.zeros(0, dtype=np.int64)
    stamp = 0

    def next_query(self, n: int, width: int) -> int:
        """Make room for an index of ``n`` nodes (``width`` links per step) and start a query: its stamp."""
        if len(self.visited) < n or len(self.positions) < width or self.stamp >= 2**31 - 1:
            self.visited, self.slot = np.zeros(n, dtype=np.int32), np.empty(n, dtype=np.int64)
            self.positions, self.stamp = np.arange(width), 0
        self.stamp += 1
        return self.stamp


SCRATCH = Scratch()  # one per thread: threads searching at once never share it


def candidate_neighbors(vectors, n_nearest: int, seed: int = 0, batch_size: int = 512):
    """The top ``n_nearest`` other rows of every row, searched cell by cell (step 1 above).

    Returns ``(rows (n, n_nearest), scores (n, n_nearest))``, best first.

    >>> candidate_neighbors(np.eye(3)[[0, 0, 1]], 1)[0].ravel().tolist()
    [1, 0, 0]
    """
    n = len(vectors)
    n_cells = max(1, n // CELL_SIZE)
    sample = np.random.default_rng(seed).permutation(n)[:32 * n_cells]  # rough cells are enough here
    centroids = spherical_kmeans(vectors[np.sort(sample)], n_cells, n_iter=10, seed=seed)
    cell_of = nearest_centroids(vectors, centroids)[:, 0]
    order = np.argsort(cell_of, kind="stable")
    bounds = np.searchsorted(cell_of[order], np.arange(n_cells + 1))
    near_cells = nearest_centroids(centroids, centroids, n_cells)  # every cell, nearest first
    rows, scores = np.empty((n, n_nearest), dtype=np.int64), np.empty((n, n_nearest), dtype=vectors.dtype)
    for cell in range(n_cells):
        # The pool: this cell and its nearest cells, until they hold POOL_SIZE points (and more than n_nearest).
        sizes = np.cumsum(np.diff(bounds)[near_cells[cell]])
        enough = np.searchsorted(sizes, max(POOL_SIZE, n_nearest + 1)) + 1
        pool = np.concatenate([order[bounds[near]:bounds[near + 1]] for near in near_cells[cell][:enough]])
        pool_vectors = vectors[pool]
        for start in range(bounds[cell], bounds[cell + 1], batch_size):
            members = order[start:min(start + batch_size, bounds[cell + 1])]
            block = vectors[members] @ pool_vectors.T
            block[members[:, None] == pool] = -np.inf  # a node is not its own neighbour
            best, columns = top_k(block, n_nearest)
            rows[members], scores[members] = pool[columns], best
    return rows, scores


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
        scores[start:start + len(block)] = (vectors[block] @ vectors[start:start + len(block), :, None])[:, :, 0]
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
        to_node = (candidates @ vectors[nodes[start:start + len(rows)], :, None])[:, :, 0]  # (b, m)
        between = candidates @ candidates.transpose(0, 2, 1)         # (b, m, m), one small product per node
        kept, count = keep[start:start + len(rows)], np.zeros(len(rows), dtype=int)
        for j in range(rows.shape[1]):
            hidden = (kept[:, :j] & (between[:, j, :j] > to_node[:, j, None])).any(axis=1)
            kept[:, j] = ~hidden & (count < n_keep)
            count += kept[:, j]
    return keep


def spread(table, start, reached) -> None:
    """Mark in ``reached`` every node that links lead to from the nodes ``start`` (in place)."""
    frontier = np.unique(start)
    reached[frontier] = True
    while len(frontier):
        frontier = np.unique(table[frontier])
        frontier = frontier[~reached[frontier]]
        reached[frontier] = True


class GraphIndex(IndexBase):
    """One-layer navigable neighbour graph, searched by a beam of width ``ef_search``.

    ``n_entry_points > 1`` starts each walk at the nearest of that many sampled nodes; about n / 25
    makes single queries several times faster on clustered data (see the module docstring).

    >>> rng = np.random.default_rng(0); data = rng.standard_normal((300, 16))
    >>> index = GraphIndex(n_neighbors=8, ef_search=300).add(data)    # beam as big as the data: exact
    >>> scores, ids = index.search(data[:2], k=3); ids[:, 0]
    array([0, 1])
    """

    def __init__(self, *, n_neighbors: int = 16, ef_search: int = 64, n_long_links: int = 4, seed: int = 0,
                 n_entry_points: int = 1):
        self.n_neighbors = check_int(n_neighbors, "n_neighbors", low=2, high=256, sensible=16)
        self.ef_search = check_int(ef_search, "ef_search", low=1, sensible=64)
        self.n_long_links = check_int(n_long_links, "n_long_links", low=0, high=256, sensible=4)
        self.seed = check_int(seed, "seed", low=0, sensible=0)
        self.n_entry_points = check_int(n_entry_points, "n_entry_points", low=1, sensible="1, or about n / 25")

    # The search's copies of the links and of the entry points' vectors count with what they copy.
    _memory_groups = {"_table": "neighbors", "_entries": "entry_points", "_entry_vectors": "entry_points",
                      "_entry_centres": "entry_points", "_entry_bounds": "entry_points"}

    # -- building -------------------------------------------------------------------------
    def add(self, embeddings, ids=None) -> GraphIndex:
        """Add ``embeddings`` (n, d), then rebuild the graph from every stored vector."""
        new = as_matrix(embeddings, "embeddings", getattr(self, "dim_", None))  # checked before anything changes
        if len(self) + len(new) < 2:
            raise ValueError("a graph needs at least 2 embeddings; add more")
        self._append(new, ids)
        knn, knn_scores = candidate_neighbors(self.vectors_, min(2 * self.n_neighbors, len(self) - 1), self.seed)
        self.knn_ = knn.astype(np.int32)
        self._link(knn_scores)
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
        self._choose_entry_points()
        self._store_links(source, target)
        source, target = self._bridge(source, target, knn)
        self._store_links(source, target)

    def _store_links(self, source, target):
        """Links as CSR (``neighbors_``, ``neighbor_offsets_``) and as the search's table."""
        order = np.argsort(source, kind="stable")
        self.neighbors_ = target[order].astype(np.int32)
        self.neighbor_offsets_ = np.searchsorted(source[order], np.arange(len(self) + 1))
        self._build_table()

    def _build_table(self):
        # One row per node, as wide as the most links any node has; the rest of a row repeats the node.
        degrees = np.diff(self.neighbor_offsets_)
        self._table = np.repeat(np.arange(len(self)), max(1, degrees.max())).reshape(len(self), -1)
        sources = np.repeat(np.arange(len(self)), degrees)
        self._table[sources, np.arange(len(sources)) - self.neighbor_offsets_[sources]] = self.neighbors_

    def _bridge(self, source, target, knn):
        """Add one link into every group of nodes the entry point cannot reach."""
        reached = np.zeros(len(self), dtype=bool)
        spread(self._table, [self.entry_point], reached)
        bridges = []
        while not reached.all():
            lost = int(np.argmin(reached))  # the first unreached node
            helpers = knn[lost][reached[knn[lost]]]
            bridges.append((int(helpers[0]) if len(helpers) else self.entry_point, lost))
            spread(self._table, [lost], reached)
        if not bridges:
            return source, target
        return np.r_[source, [a for a, _ in bridges]], np.r_[target, [b for _, b in bridges]]

    def relink(self) -> GraphIndex:
        """Rebuild the links from the stored neighbour lists (cheap: no cosines between all pairs),
        e.g. after changing ``n_neighbors`` (up to the lists' length), ``n_long_links`` or ``n_entry_points``."""
        self._check_fitted()
        self._link()
        return self

    def _restore(self):
        n, offsets = len(self), self.neighbor_offsets_
        if self.knn_.size and not 0 <= self.knn_.min() <= self.knn_.max() < n:
            raise ValueError("the neighbour lists in this file point outside it; the file is damaged")
        if (len(offsets) != n + 1 or offsets[0] != 0 or offsets[-1] != len(self.neighbors_)
                or (np.diff(offsets) < 0).any()
                or (len(self.neighbors_) and not 0 <= self.neighbors_.min() <= self.neighbors_.max() < n)):
            raise ValueError("the links in this file do not match its vectors; the file is damaged")
        self._choose_entry_points()
        self._build_table()

    def degrees(self) -> np.ndarray:
        """Links out of each node: (n,)."""
        self._check_fitted()
        return np.diff(self.neighbor_offsets_)

    # -- searching ------------------------------------------------------------------------
    def _choose_entry_points(self):
        # The node nearest the mean direction, then a seeded sample of others (``n_entry_points`` in all).
        n = len(self)
        self.entry_point = int(np.argmax(self.vectors_ @ self.vectors_.mean(axis=0)))
        others = np.random.default_rng(self.seed).choice(n, min(n, self.n_entry_points), replace=False)
        self._entries = np.r_[self.entry_point, others[others != self.entry_point]][:min(n, self.n_entry_points)]
        self._entry_vectors = self.vectors_[self._entries]
        self._group_entries()

    def _group_entries(self):
        """Many entry points are grouped by k-means (about sqrt(n_entry_points) groups), so that a query
        scores the groups' centres and then the members of its ``ENTRY_GROUPS_PROBED`` nearest groups, not
        every entry point: about 130 products instead of 2,000 at n = 50,000 (a fifth of a query's time,
        measured). A second, coarse layer above the entry points, as HNSW's upper layers are."""
        self._entry_centres, self._entry_bounds = None, None
        if len(self._entries) < ENTRY_GROUPING_FROM:
            return
        n_groups = int(np.sqrt(len(self._entries)))
        centres = spherical_kmeans(self._entry_vectors, n_groups, n_iter=10, seed=self.seed)
        group = nearest_centroids(self._entry_vectors, centres)[:, 0]
        order = np.argsort(group, kind="stable")
        order = np.r_[order[group[order] == group[0]], order[group[order] != group[0]]]  # entry_point first
        self._entries, self._entry_vectors, group = self._entries[order], self._entry_vectors[order], group[order]
        first_seen = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])  # where each group starts
        self._entry_centres, self._entry_bounds = centres[group[first_seen]], np.r_[first_seen, len(group)]

    def _start(self, query) -> tuple[int, int]:
        """The entry point nearest ``query`` (among all of them, or in its nearest groups), and how
        many vectors finding it scored (the start's own among them)."""
        if len(self._entries) == 1:
            return self.entry_point, 1
        if self._entry_centres is None:
            return int(self._entries[np.argmax(self._entry_vectors @ query)]), len(self._entries)
        near = np.argsort(self._entry_centres @ query)[-ENTRY_GROUPS_PROBED:]
        best_score, best, n_scored = -np.inf, self.entry_point, len(self._entry_centres)
        for group in near.tolist():
            low, high = self._entry_bounds[group], self._entry_bounds[group + 1]
            scores = self._entry_vectors[low:high] @ query
            at, n_scored = int(np.argmax(scores)), n_scored + high - low
            if scores[at] > best_score:
                best_score, best = scores[at], int(self._entries[low + at])
        return best, n_scored

    def walk(self, query, k: int = 5, ef_search: int | None = None) -> dict:
        """One search, traced: ``expanded`` nodes in order, ``path`` (entry point -> best result
        through the links that found it), ``scored`` (every node whose cosine the walk computed), results."""
        self._check_fitted()
        ef = max(ef_search or self.ef_search, k)
        top, parent, order = self._beam(self._queries(query)[0], k, ef, trace=True)
        scores, rows = np.array([score for score, _ in top]), np.array([row for _, row in top], dtype=np.int64)
        path = [int(rows[0])]
        while parent[path[-1]] != path[-1]:  # the walk's start is its own parent
            path.append(parent[path[-1]])
        return {"scores": scores, "rows": rows, "ids": self.ids_[rows], "expanded": order, "path": path[::-1],
                "scored": np.array(list(parent), dtype=np.int64), "entry_point": path[-1]}

    def _beam(self, query, k, ef, trace=False, allowed=None):
        """Best-first search from the entry point nearest ``query``, expanding a few nodes per step.

        With ``allowed`` (bool per node) the walk still steps through every node, but only allowed
        ones enter the results (see ``_search_inside``)."""
        vectors, table = self.vectors_, self._table
        stamp = SCRATCH.next_query(len(self), EXPAND_PER_STEP * table.shape[1])
        visited, slot, positions = SCRATCH.visited, SCRATCH.slot, SCRATCH.positions
        start, n_scored = self._start(query)
        visited[start] = stamp
        first = float(vectors[start] @ query)
        # max-heap of nodes to expand, min-heap of the ef best (allowed) results
        frontier, best = [(-first, start)], [(first, start)] if allowed is None or allowed[start] else []
        parent, expanded = {start: start}, []
        while frontier:
            nodes = []  # the best few waiting nodes, while they can still improve the results
            while frontier and len(nodes) < EXPAND_PER_STEP and (len(best) < ef or -frontier[0][0] >= best[0][0]):
                nodes.append(heapq.heappop(frontier)[1])
            if not nodes:
                break  # the nearest unexpanded node is worse than all ef results: stop
            links = table[nodes]
            links = links[visited[links] != stamp]  # not scored yet (a mask on the 2-D table rows: 1-D)
            # Each link once: write every link's position into ``slot``; a node listed twice keeps
            # only its last position, so exactly one of its copies finds its own position there.
            here = positions[:len(links)]
            slot[links] = here
            links = links[slot[links] == here]
            if trace:  # remember which expanded node found each link
                expanded.extend(nodes)
                for node in nodes:
                    parent.update({link: node for link in table[node].tolist() if link not in parent})
            if not len(links):
                continue
            visited[links] = stamp
            scores = vectors[links] @ query
            n_scored += len(links)
            if len(best) >= ef:  # only a link better than the worst result can change anything
                better = scores > best[0][0]
                links, scores = links[better], scores[better]
            _admit(scores.tolist(), links.tolist(), frontier, best, ef, allowed)
        top = sorted(best, reverse=True)[:k]  # (score, row) pairs, best first
        return (top, parent, expanded) if trace else (top, n_scored)

    def _search(self, queries, k, allowed=None):
        ef = max(self.ef_search, k)
        found = [self._beam(query, k, ef, allowed=allowed) for query in queries]
        tops = [top + [(np.nan, -1)] * (k - len(top)) for top, _ in found]  # short lists: NaN and -1
        scores = np.array([[score for score, _ in top] for top in tops], dtype=np.float32)
        rows = np.array([[row for _, row in top] for top in tops], dtype=np.int64)
        return scores, rows, [n_scored for _, n_scored in found]

    def _search_inside(self, queries, k, mask):
        """The walk with a filter, as hnswlib and FAISS do it: step through *every* node, because
        disallowed nodes are the roads between allowed ones, but let only allowed nodes into the
        ``ef`` best. The beam then fills more slowly, so the walk goes on longer by itself (about
        1 / s times as long with a fraction s allowed). Why it can still fail: with few allowed
        nodes, or none near the query (a filter that excludes the query's own cluster), the walk
        wanders through a whole region of disallowed nodes, scoring all of them, before its beam
        holds anything; and a result list that stays short never says "stop". So at low
        selectivity the search scans the allowed rows exactly instead (``_inside_cost``), as
        Weaviate, Qdrant and hnswlib users do; and a query whose plain neighbourhood the filter has
        emptied (``FILTERED_AWAY``: its own cluster excluded) scans them too."""
        scores, rows, n_scored = self._search(queries, k, allowed=mask)
        ef = max(self.ef_search, k)
        near = [self._beam(query, ef, ef)[0] for query in queries]  # the plain walk's ef best: where the query is
        local = np.array([np.mean([mask[row] for _, row in top]) if top else 0.0 for top in near])
        away = np.flatnonzero(local < FILTERED_AWAY * mask.mean())
        if len(away):
            scores[away], rows[away] = self._scan_allowed(queries[away], k, mask)
            n_scored = np.asarray(n_scored)
            n_scored[away] += int(mask.sum())
        return scores, rows, n_scored

    def _inside_cost(self, n_allowed: int) -> float:
        # The plain walk scores about ef_search x (links per node) vectors; the filtered one 1 / s times as many.
        links_per_node = len(self.neighbors_) / len(self)
        return self.ef_search * links_per_node * len(self) / max(1, n_allowed)


def _admit(scores, links, frontier, best, ef, allowed) -> None:
    """Push newly scored links onto the walk's two heaps: any link better than the worst result
    waits in ``frontier`` to be expanded; only an allowed one joins the ``ef`` best in ``best``."""
    for score, link in zip(scores, links):
        if len(best) < ef or score > best[0][0]:
            heapq.heappush(frontier, (-score, link))
            if allowed is None or allowed[link]:
                heapq.heappush(best, (score, link))
                if len(best) > ef:
                    heapq.heappop(best)
