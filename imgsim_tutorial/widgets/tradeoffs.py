"""TradeoffExplorer: move n_bits, n_tables and n_probes; watch recall, work and time change.

The measuring lives in ``tuning.py`` (``tradeoff_point`` builds one ``LSHIndex`` and measures it
against exact search; ``measured_s_curve`` measures the S-curve over seeds); this module only
draws: ``plot_tradeoff`` shows the theoretical S-curve for the current setting with the measured
point on it, ``plot_s_curves`` the measured S-curves against the formula, ``tradeoff_summary``
writes the measured numbers (the speed-up over exact search timed in the same rounds), and
``TradeoffExplorer`` wires three sliders to them (indexes are cached per setting).
"""

from __future__ import annotations

import numpy as np

from ..cosine_search import CosineIndex
from ..random_projection import any_table_collision_probability
from ..tuning import tradeoff_point


def plot_tradeoff(point: dict, history=()):
    """Left: P(collide in >= 1 table) vs cosine, with the true neighbours' median cosine marked.
    Right: recall vs fraction scanned for every setting tried so far."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from ..teaching.plotting import DPI

    figure, (left, right) = plt.subplots(1, 2, figsize=(8.6, 3.3), dpi=DPI)
    similarity = np.linspace(-0.2, 1, 200)
    curve = any_table_collision_probability(similarity, point["n_bits"], point["n_tables"])
    left.plot(similarity, curve, color="#4c72b0",
              label=f"theory: K={point['n_bits']}, L={point['n_tables']} (no probes)")
    s = point["neighbour_similarity"]
    left.scatter([s], [any_table_collision_probability(s, point["n_bits"], point["n_tables"])], color="#4c72b0",
                 zorder=3)
    left.scatter([s], [point["recall"]], color="#d1495b", marker="*", s=120, zorder=4,
                 label=f"measured recall@{point['k']}: {point['recall']:.2f}")
    left.axvline(s, color="gray", lw=0.8, ls=":")
    left.set_xlabel("cosine similarity to the query")
    left.set_ylabel("probability / recall")
    left.set_ylim(-0.02, 1.02)
    left.legend(fontsize=7, loc="upper left")
    left.set_title("the S-curve", fontsize=10)
    for past in history:
        right.scatter(past["fraction_scanned"] * 100, past["recall"], color="#bbbbbb", s=18)
    right.scatter(point["fraction_scanned"] * 100, point["recall"], color="#d1495b", marker="*", s=140)
    right.set_xscale("log")
    right.set_xlim(0.1, 110)  # a fixed frame, so moving a slider moves the star, not the axes
    right.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}%"))
    right.xaxis.set_minor_formatter(NullFormatter())
    right.set_xlabel("candidates scanned (log scale)")
    right.set_ylabel(f"recall@{point['k']}")
    right.set_ylim(-0.02, 1.02)
    right.set_title("recall vs work (grey: settings tried)", fontsize=10)
    figure.tight_layout()
    return figure


def plot_s_curves(curves: list):
    """Theory (lines) and measurement (dots, +-1 standard deviation over seeds) for each setting."""
    from ..teaching.plotting import subplots

    figure, (axis,) = subplots(1, width=5.8, height=3.6)
    grid = np.linspace(-0.2, 1, 200)
    for curve, colour in zip(curves, ("#4c72b0", "#55a868", "#8172b2", "#c44e52")):
        label = f"K={curve['n_bits']}, L={curve['n_tables']}"
        axis.plot(grid, any_table_collision_probability(grid, curve["n_bits"], curve["n_tables"]), color=colour,
                  label=f"theory {label}")
        axis.errorbar(curve["centres"], curve["mean"], yerr=curve["std"], fmt="o", ms=3.5, capsize=2.5,
                      color=colour, label=f"measured {label}")
    axis.set(xlabel="cosine similarity of query and candidate", ylabel="P(becomes a candidate)",
             title=f"S-curves: theory vs measured (bars: ±1 sd over {curves[0]['n_seeds']} seeds)",
             xlim=(grid[0], 1.0), ylim=(-0.03, 1.03))
    axis.title.set_fontsize(9)
    axis.legend(fontsize=7, ncol=2, loc="upper left")
    figure.tight_layout()
    return figure


def tradeoff_summary(point: dict, n_candidates: int) -> str:
    """The line shown under the sliders (HTML): recall, share scanned, and the median query time next
    to exact search's from the same rounds, with LSH's speed-up over it.

    >>> tradeoff_summary({"k": 10, "recall": 0.91, "fraction_scanned": 0.05, "median_query_ms": 0.5,
    ...                   "exact_query_ms": 2.0, "speedup": 4.1, "threads": 1}, 1000)  # doctest: +NORMALIZE_WHITESPACE
    '<b>recall@10 = 0.910</b> &nbsp; scanned <b>5.0%</b> of 1000 candidates &nbsp; median query <b>0.50 ms</b>
     vs exact search 2.00 ms (same rounds, 1 thread): speed-up <b>4.1x</b>'
    """
    return (f"<b>recall@{point['k']} = {point['recall']:.3f}</b> &nbsp; scanned <b>{point['fraction_scanned']:.1%}</b> "
            f"of {n_candidates} candidates &nbsp; median query <b>{point['median_query_ms']:.2f} ms</b> "
            f"vs exact search {point['exact_query_ms']:.2f} ms (same rounds, {point['threads']} "
            f"thread{'s' if point['threads'] > 1 else ''}): speed-up <b>{point['speedup']:.1f}x</b>")


class TradeoffExplorer:
    """Sliders for ``n_bits``, ``n_tables``, ``n_probes``; measured recall, work and time.

    Every setting is timed against exact search in the same rounds, on one thread
    (``tradeoff_point`` with the explorer's one ``CosineIndex``).
    """

    def __init__(self, embeddings, queries, k: int = 10, n_bits: int = 8, n_tables: int = 4, n_probes: int = 1,
                 seed: int = 0):
        import ipywidgets as w

        self.embeddings, self.queries, self.k, self.seed = embeddings, queries, k, seed
        self.exact_index = CosineIndex().add(embeddings)  # built once, timed next to every setting
        self.exact = self.exact_index.search(queries, k)
        self.cache = {}  # (n_bits, n_tables, n_probes) -> measured point, in the order tried
        self.n_bits = w.IntSlider(value=n_bits, min=1, max=24, description="n_bits", continuous_update=False)
        self.n_tables = w.IntSlider(value=n_tables, min=1, max=32, description="n_tables", continuous_update=False)
        self.n_probes = w.IntSlider(value=n_probes, min=1, max=17, description="n_probes", continuous_update=False)
        self.summary = w.HTML()
        self.image = w.Image(format="png")
        for control in (self.n_bits, self.n_tables, self.n_probes):
            control.observe(lambda change: self.refresh(), names="value")
        self.widget = w.VBox([w.HBox([self.n_bits, self.n_tables, self.n_probes]), self.summary, self.image])
        self.refresh()

    @property
    def history(self) -> list:
        """Every setting measured so far, in the order tried."""
        return list(self.cache.values())

    @property
    def exact_time_ms(self) -> float:
        """Exact search's ms per query, timed in the same rounds as the setting shown."""
        return self.point["exact_query_ms"]

    def refresh(self):
        from .common import figure_png

        setting = (self.n_bits.value, self.n_tables.value, self.n_probes.value)
        if setting not in self.cache:
            self.cache[setting] = tradeoff_point(self.embeddings, self.queries, self.exact, *setting, k=self.k,
                                                 seed=self.seed, exact_index=self.exact_index, threads=1)
        self.point = point = self.cache[setting]
        self.summary.value = tradeoff_summary(point, len(self.embeddings))
        self.image.value = figure_png(plot_tradeoff(point, [p for p in self.history if p is not point]))
