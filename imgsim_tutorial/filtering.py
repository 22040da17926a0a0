"""Filtered search: "the nearest healthy leaves", not "the nearest leaves of all".

Builds on every index of the course and the contract they share (``index_base.py``): each
index's ``search(queries, k, *, allowed=...)`` takes a filter, a boolean mask with one entry per
item in the order they were added, or a collection of allowed ids, and returns only allowed items.
The fraction of items a filter allows is its *selectivity*, s. Three ways to honour a filter:

1. **pre-filtering** (:func:`prefilter_search`): exact search over the allowed rows only. Exact
   whatever s, and its cost falls with s (1 % allowed: 1 % of the work), so for a selective
   filter it is the fastest search there is;
2. **post-filtering** (:func:`postfilter_search`): ask any index for ``over_fetch * k / s``
   results and drop the disallowed ones. It needs nothing from the index, but an approximate
   index's results far down its list are poor, and with a selective filter the allowed items
   are *all* far down: recall collapses as s falls (``benchmarks/filtered.py`` measures it);
3. **inside the index** (each index's ``_search_inside``): IVF visits further lists, the graph
   walk steps through disallowed nodes but returns only allowed ones, LSH drops disallowed
   candidates after re-ranking, FAISS takes an ``IDSelector``.

How far must the search inside go? The filter's share of *all* items, s, is the wrong guide when the
filter depends on where the query is: a filter that excludes the query's own cluster allows 99 % of
the items but none of the query's neighbours. What counts is the **local selectivity**
(``index_base.local_selectivity``): the share allowed among the items at least as close as the k-th
best allowed one. A random filter's is about s; that one's is near 0. IVF scores 1 / local
selectivity times as many items as its plain search (``HNSWIndex`` widens ``efSearch`` the same
way, by the share allowed among its ``ef`` nearest); LSH, whose buckets cannot widen, scans the
allowed rows exactly when a filter that ignores where the query is would leave so few allowed near
it less than once in a hundred (``chance_of_so_few_allowed``).

Which one is fastest depends on s, so every index's ``search`` plans (``plan="auto"``: exact over
the allowed rows when they are fewer than the index would score inside), and
:class:`FilterPlanner` *measures* the crossover on your index and data instead of estimating it.
Removing items (``index.remove(ids)``) is a filter too: a tombstone mask every search applies.
Left out: filters on numbers and text (a database's query planner builds the mask; here it is given).
"""

from __future__ import annotations

import warnings

import numpy as np

from .cosine_search import top_k
from .evaluation import compare_speeds
from .index_base import ShortResultWarning, allowed_mask
from .vectors import check_int, normalize


def selectivity(allowed) -> float:
    """The fraction of items a boolean mask allows: ``selectivity([True, False, False, False])`` -> 0.25."""
    allowed = np.asarray(allowed)
    if allowed.dtype != bool or allowed.ndim != 1 or not len(allowed):
        raise ValueError(f"selectivity needs a non-empty 1-D boolean mask, got shape {allowed.shape} "
                         f"and dtype {allowed.dtype}")
    return float(allowed.mean())


def prefilter_search(embeddings, queries, k: int, allowed) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` cosine among the allowed rows of ``embeddings`` (n, d) only.

    ``allowed``: boolean mask (n,). Returns ``(scores, rows)``, (nq, k), rows into ``embeddings``;
    past the allowed count, NaN and -1.

    >>> prefilter_search(np.eye(3), [[1.0, 0.2, 0.0]], 2, np.array([False, True, True]))[1]
    array([[1, 2]])
    """
    rows = np.flatnonzero(allowed_mask(allowed, np.arange(len(embeddings))))
    queries = normalize(np.atleast_2d(queries), "queries")
    scores = np.full((len(queries), k), np.nan, dtype=np.float32)
    found = np.full((len(queries), k), -1, dtype=np.int64)
    if len(rows):
        width = min(k, len(rows))
        best, columns = top_k(queries @ normalize(embeddings[rows], "embeddings").T, width)  # only allowed rows
        scores[:, :width], found[:, :width] = best, rows[columns]
    return scores, found


def postfilter_search(index, queries, k: int, allowed, *, over_fetch: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Post-filtering with any index: fetch ``over_fetch * k / s`` results, keep the allowed.

    ``allowed`` as in ``index.search`` (mask in add order, or ids). Returns ``(scores, ids)``,
    (nq, k), padded with NaN and -1 (``""``) where fewer than ``k`` allowed ones came back.
    """
    mask = allowed_mask(allowed, index.ids_, index._row_positions())
    allowed_ids = index.ids_[mask]
    fetch = int(min(len(index), np.ceil(over_fetch * k / max(mask.mean(), 1 / len(index)))))
    with warnings.catch_warnings():  # a short over-fetched list is expected here; the result is padded below
        warnings.simplefilter("ignore", ShortResultWarning)
        scores, ids = index.search(queries, max(k, fetch))
    keep = np.isin(ids, allowed_ids)
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]  # allowed results first, in rank order
    kept = np.take_along_axis(keep, order, axis=1)
    missing = "" if ids.dtype.kind == "U" else -1
    return (np.where(kept, np.take_along_axis(scores, order, axis=1), np.nan).astype(np.float32),
            np.where(kept, np.take_along_axis(ids, order, axis=1), missing))


class FilterPlanner:
    """Measures where pre-filtering beats the index's own filtered search, then switches there.

    ``fit(queries)`` times, for each selectivity in ``selectivities``, single-query searches with
    a random filter both ways (``plan="inside"`` and ``plan="exact"``) through
    ``evaluation.compare_speeds`` (one thread), and sets ``crossover_``: the largest selectivity at
    which exact search over the allowed rows was faster. ``search`` then scans exactly below it.

    >>> from imgsim_tutorial import CosineIndex
    >>> data = np.random.default_rng(0).standard_normal((400, 8))
    >>> planner = FilterPlanner(CosineIndex().add(data), selectivities=(0.5, 0.05), rounds=1).fit(data[:2])
    >>> planner.plan(np.arange(400) < 10)
    'exact'
    """

    def __init__(self, index, *, selectivities=(0.5, 0.2, 0.1, 0.05, 0.02, 0.01), k: int = 10, rounds: int = 3,
                 seed: int = 0):
        self.index, self.selectivities = index, tuple(sorted(selectivities, reverse=True))
        self.k = check_int(k, "k", low=1, sensible=10)
        self.rounds = check_int(rounds, "rounds", low=1, sensible=3)
        self.seed = check_int(seed, "seed", low=0, sensible=0)

    def fit(self, queries) -> FilterPlanner:
        """Time both plans at every selectivity on ``queries`` (a few dozen are enough)."""
        index, rng = self.index, np.random.default_rng(self.seed)
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if not index._has_vectors():  # no vectors to scan: the index's own way is the only one
            self.crossover_, self.timings_ = 0.0, {}
            return self
        self.timings_ = {}
        for share in self.selectivities:
            mask = rng.random(len(index)) < share
            mask[rng.integers(len(index))] = True  # at least one allowed item
            speeds = compare_speeds({plan: self._searcher(queries, mask, plan) for plan in ("inside", "exact")},
                                    rounds=self.rounds, per_call=len(queries))
            self.timings_[share] = {plan: speeds[plan]["median_s"] for plan in speeds}
        exact_wins = [share for share, seconds in self.timings_.items() if seconds["exact"] < seconds["inside"]]
        self.crossover_ = max(exact_wins, default=0.0)
        return self

    def _searcher(self, queries, mask, plan):
        def search_each():  # one query at a time, as an application asks them
            for query in queries:
                self.index.search_with_stats(query, self.k, allowed=mask, plan=plan)
        return search_each

    def plan(self, allowed) -> str:
        """``"exact"`` if the filter allows at most ``crossover_`` of the items, else ``"inside"``."""
        if not hasattr(self, "crossover_"):
            raise ValueError("this FilterPlanner has not measured anything yet; call .fit(queries) first")
        mask = allowed_mask(allowed, self.index.ids_, self.index._row_positions())
        return "exact" if mask.mean() <= self.crossover_ else "inside"

    def search(self, queries, k: int, allowed):
        """``index.search_with_stats(queries, k, allowed=allowed)`` with the measured plan."""
        return self.index.search_with_stats(queries, k, allowed=allowed, plan=self.plan(allowed))
