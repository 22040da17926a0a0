"""FilterExplorer: one filter, four ways to honour it, side by side on the same index.

``filter_demo`` builds small SYNTHETIC indexes once (``IVFIndex`` and FAISS's HNSW on
``realistic_embeddings``); ``filter_view`` (pure, apart from the clock) draws a random filter that
allows a share of the items and runs each strategy of ``filtering.py`` on one index: post-filtering
(ask for ``2 k / s`` results, drop the disallowed), the index's own filtered search (``"inside"``),
its plan (``"auto"``) and exact search over the allowed rows (pre-filtering, the reference). It
measures recall@k against exact filtered search, the share of the collection a query scores, and
the time per query next to the exact scan's, timed in the same rounds (``compare_speeds``).
``plot_filter_view`` draws it; ``FilterExplorer`` wires a selectivity slider and an index dropdown
to them (every view is cached, so going back is instant).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..cosine_search import CosineIndex
from ..evaluation import compare_speeds, recall_at_k
from ..faiss_index import HNSWIndex
from ..index_base import ShortResultWarning
from ..ivf import IVFIndex

SHARES = (0.5, 0.2, 0.1, 0.05, 0.01, 0.005, 0.001)  # the slider's stops: log-spaced selectivities
STRATEGIES = ("post-filter", "inside", "auto", "exact")
TIMED_QUERIES = 4  # post-filtering a graph at 0.1 % walks all of it: a few queries keep an update near a second
COLOURS = {"post-filter": "#d1495b", "inside": "#4c72b0", "auto": "#2a9d4b", "exact": "#777777"}


def filter_demo(n: int = 10_000, dim: int = 64, n_queries: int = 12, seed: int = 0) -> dict:
    """SYNTHETIC ``realistic_embeddings`` (n, dim) and queries, with the indexes the explorer searches.

    A few seconds at the defaults. Returns ``{"embeddings", "queries", "exact", "indexes": {name: index}}``,
    ``exact`` the ``CosineIndex`` every strategy is judged against.
    """
    from ..data.synthetic import realistic_embeddings

    embeddings, queries = realistic_embeddings(n, dim, n_queries=n_queries, seed=seed)
    indexes = {"IVFIndex": IVFIndex(n_lists=int(np.sqrt(n)), n_probes=4, seed=seed).add(embeddings),
               "HNSWIndex": HNSWIndex(M=16, ef_construction=40, ef_search=32).add(embeddings)}
    return {"embeddings": embeddings, "queries": queries, "exact": CosineIndex().add(embeddings), "indexes": indexes}


def random_filter(n: int, share: float, k: int = 10, seed: int = 0) -> np.ndarray:
    """A boolean mask allowing ``round(share * n)`` items (at least ``k``) drawn at random.

    >>> int(random_filter(1000, 0.05).sum()), int(random_filter(1000, 0.001).sum())
    (50, 10)
    """
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).choice(n, min(n, max(k, round(share * n))), replace=False)] = True
    return mask


def _post_filter(index, queries, k, mask):
    """Post-filtering by hand: fetch 2k/s results, keep the allowed ones in rank order."""
    fetch = int(min(len(index), np.ceil(2 * k / mask.mean())))
    _, ids, stats = index.search_with_stats(queries, max(k, fetch))
    keep = (ids >= 0) & mask[np.clip(ids, 0, None)]
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]  # allowed first, in rank order
    return np.where(np.take_along_axis(keep, order, axis=1), np.take_along_axis(ids, order, axis=1), -1), stats


def _runner(index, exact, queries, k, mask, strategy):
    """A no-argument search of all ``queries`` by one strategy -> ``(ids, stats)``."""
    if strategy == "post-filter":
        return lambda: _post_filter(index, queries, k, mask)
    target = exact if strategy == "exact" else index  # exact: CosineIndex scans the allowed rows only

    def run():
        _, ids, stats = target.search_with_stats(queries, k, allowed=mask, plan=strategy)
        return ids, stats
    return run


def filter_view(demo: dict, index_name: str, share: float, k: int = 10, seed: int = 0, rounds: int = 3) -> dict:
    """What the explorer shows for one index and one selectivity.

    Returns ``{"index", "share", "n", "n_allowed", "k", "rows"}``; ``rows[strategy]`` has
    ``recall`` (recall@k against exact search over the allowed rows), ``scanned`` (mean share of
    the collection a query scored), ``ms`` (per query, one at a time, one thread), ``speedup``
    (over the exact scan, in the same rounds) and ``plan`` (how the filter was applied).
    """
    if index_name not in demo["indexes"]:
        raise ValueError(f"index_name must be one of {sorted(demo['indexes'])}, got {index_name!r}")
    if not 0 < share <= 1:
        raise ValueError(f"share must be a fraction in (0, 1], e.g. 0.01 for 1 %, got {share!r}")
    embeddings, queries, index = demo["embeddings"], demo["queries"], demo["indexes"][index_name]
    exact = demo["exact"]
    mask = random_filter(len(embeddings), share, k, seed)
    runners = {strategy: _runner(index, exact, queries, k, mask, strategy) for strategy in ("exact", *STRATEGIES[:3])}
    with warnings.catch_warnings():  # short lists are what post-filtering produces: counted as misses
        warnings.simplefilter("ignore", ShortResultWarning)
        found = {strategy: run() for strategy, run in runners.items()}  # also the warm-up of the timing
        # Timed one query at a time on a few queries, in rounds (the first run above was the warm-up).
        timed = queries[:TIMED_QUERIES]
        one_at_a_time = {strategy: _one_at_a_time(index, exact, timed, k, mask, strategy) for strategy in runners}
        speeds = compare_speeds(one_at_a_time, threads=1, rounds=rounds, warmup=0, per_call=len(timed))
    truth = found["exact"][0]
    rows = {}
    for strategy in STRATEGIES:
        ids, stats = found[strategy]
        scanned = float(stats["n_candidates"].mean() / len(index))
        rows[strategy] = {"recall": recall_at_k(ids, truth), "scanned": scanned,
                          "ms": 1e3 * speeds[strategy]["median_s"], "speedup": speeds[strategy]["speedup"],
                          "plan": "over-fetch" if strategy == "post-filter" else stats["plan"]}
    return {"index": index_name, "share": share, "n": len(index), "n_allowed": int(mask.sum()), "k": k, "rows": rows}


def _one_at_a_time(index, exact, queries, k, mask, strategy):
    runs = [_runner(index, exact, query[None], k, mask, strategy) for query in queries]
    return lambda: [run() for run in runs]


def share_label(share: float) -> str:
    """``share_label(0.005)`` -> ``'0.5 %'``: a selectivity as people write it."""
    return f"{share * 100:g} %"


def filter_summary(view: dict) -> str:
    """The HTML lines under the controls: one per strategy."""
    head = (f"<b>{view['index']}</b>, filter allows <b>{share_label(view['share'])}</b> "
            f"({view['n_allowed']:,} of {view['n']:,} items), recall@{view['k']} against exact filtered search:")
    lines = [f"<b>{name}</b> ({row['plan']}): recall {row['recall']:.2f}, scores {row['scanned']:.1%} of the items, "
             f"{row['ms']:.2f} ms per query ({row['speedup']:.2f}x the exact scan's speed)"
             for name, row in view["rows"].items()]
    return "<br>".join([head, *lines])


def plot_filter_view(view: dict):
    """Two panels of bars, one bar per strategy: recall@k, and the share of items a query scores."""
    from ..teaching.plotting import subplots

    figure, (left, right) = subplots(2, width=8.4, height=3.0)
    names = list(view["rows"])
    positions = np.arange(len(names))
    colours = [COLOURS[name] for name in names]
    recalls = [view["rows"][name]["recall"] for name in names]
    scanned = [100 * view["rows"][name]["scanned"] for name in names]
    left.barh(positions, recalls, color=colours)
    for position, value in zip(positions, recalls):
        inside = value > 0.85  # the number inside a long bar, beside a short one
        left.text(value - 0.02 if inside else value + 0.02, position, f"{value:.2f}", va="center", fontsize=8,
                  ha="right" if inside else "left", color="white" if inside else "black")
    left.set(xlim=(0, 1.05), xlabel=f"recall@{view['k']} against exact filtered search", yticks=positions,
             yticklabels=names, title=f"{view['index']}, {share_label(view['share'])} allowed")
    right.barh(positions, scanned, color=colours)
    right.set_xscale("log")
    right.set_xlim(0.05, 300)  # a fixed frame: moving the slider moves the bars, not the axes
    right.set_xticks([0.1, 1, 10, 100], ["0.1", "1", "10", "100"])
    right.minorticks_off()
    for position, value in zip(positions, scanned):
        right.text(value * 1.1, position, f"{float(f'{value:.2g}'):g} %", va="center", fontsize=8)
    right.set(xlabel="items scored per query, % of all (log scale)", yticks=positions, yticklabels=[],
              title=f"work ({view['n']:,} SYNTHETIC items)")
    for axis in (left, right):
        axis.invert_yaxis()  # the first strategy on top
    figure.tight_layout()
    return figure


class FilterExplorer:
    """A selectivity slider and an index dropdown; recall, work and time of every strategy."""

    def __init__(self, demo: dict | None = None, index_name: str = "IVFIndex", share: float = 0.01, k: int = 10):
        import ipywidgets as w

        from .common import figure_png

        self._figure_png, self.k = figure_png, k
        self.demo = filter_demo() if demo is None else demo
        self.cache = {}  # (index, share) -> view
        self.share = w.SelectionSlider(options=[(share_label(value), value) for value in SHARES], value=share,
                                       description="selectivity", continuous_update=False,
                                       style={"description_width": "initial"})
        self.index_name = w.Dropdown(options=list(self.demo["indexes"]), value=index_name, description="index")
        self.summary = w.HTML()
        self.image = w.Image(format="png")
        for control in (self.share, self.index_name):
            control.observe(lambda change: self.refresh(), names="value")
        self.widget = w.VBox([w.HBox([self.share, self.index_name]), self.summary, self.image])
        self.refresh()

    def refresh(self):
        key = (self.index_name.value, self.share.value)
        if key not in self.cache:
            self.cache[key] = filter_view(self.demo, *key, k=self.k)
        self.view = self.cache[key]
        self.summary.value = filter_summary(self.view)
        self.image.value = self._figure_png(plot_filter_view(self.view))
