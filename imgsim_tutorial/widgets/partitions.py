"""PartitionExplorer: random buckets (LSH) next to learned buckets (IVF) on the same 2-D points.

``partition_view`` (pure) cuts the plane both ways for a given number of cells, picks the cells
a query scans (``n_probes`` of them) and measures the share of points scanned and recall@k
against exact cosine search; ``plot_partitions`` draws both side by side;
``PartitionExplorer`` wires sliders for cells, probes and the query's direction to them.

In 2-D, with cosine similarity, every cell is a wedge from the origin: LSH's wedges come from
``n_cells // 2`` random lines (each line adds two), IVF's from spherical k-means, so its
boundaries fall where the data is, not where the dice fell.
"""

from __future__ import annotations

import numpy as np

from ..hash_tables import probe_sequence
from ..ivf import nearest_centroids, spherical_kmeans
from ..random_projection import RandomHyperplanes, pack_bits
from .buckets import demo_points


def _lsh_cells(points, query, n_cells, n_probes, seed, plane_points):
    planes = RandomHyperplanes(max(1, n_cells // 2), 2, seed=seed)
    margins = query @ planes.normals.T
    code = int(pack_bits(margins[None] > 0)[0])
    probed = [code] + [code ^ sum(1 << bit for bit in flip) for flip in probe_sequence(margins, n_probes)]
    cells, region = planes.codes(points).astype(np.int64), planes.codes(plane_points).astype(np.int64)
    return cells, np.array(probed), region, planes.normals


def _ivf_cells(points, query, n_cells, n_probes, seed, plane_points):
    centroids = spherical_kmeans(points, n_cells, seed=seed)
    probed = nearest_centroids(query[None], centroids, n_probes)[0]
    return (nearest_centroids(points, centroids)[:, 0], probed, nearest_centroids(plane_points, centroids)[:, 0],
            centroids)


def partition_view(points, query_angle: float, n_cells: int, n_probes: int, k: int = 5, seed: int = 0,
                   grid: int = 101) -> dict:
    """What the explorer shows, for the query at ``query_angle`` degrees.

    Returns ``{"lsh": ..., "ivf": ...}``, each with ``cells`` (cell of every point), ``probed``
    (cells scanned), ``scanned`` (bool per point), ``share`` (fraction scanned), ``recall``
    (recall@k of exact re-ranking inside the scanned cells), ``region_cells`` (grid, grid) and
    ``n_nonempty``; plus ``true_top`` (rows of the exact top-k), ``query`` and ``points``.

    >>> view = partition_view(demo_points(), 20, n_cells=6, n_probes=6)   # probe every IVF cell
    >>> view["ivf"]["share"], view["ivf"]["recall"]
    (1.0, 1.0)
    """
    points = np.asarray(points, dtype=np.float32)
    if not 1 <= n_probes <= n_cells <= len(points):
        raise ValueError(f"need 1 <= n_probes <= n_cells <= number of points ({len(points)}), got "
                         f"n_probes={n_probes}, n_cells={n_cells}")
    units = points / np.linalg.norm(points, axis=1, keepdims=True)
    query = np.array([np.cos(np.radians(query_angle)), np.sin(np.radians(query_angle))], dtype=np.float32)
    true_top = np.argsort(-(units @ query), kind="stable")[:k]
    axis = np.linspace(-1.2, 1.2, grid)
    xx, yy = np.meshgrid(axis, axis)
    plane_points = np.c_[xx.ravel(), yy.ravel()]
    plane_points[np.all(plane_points == 0, axis=1)] = 1e-6  # the origin has no direction
    plane_points = (plane_points / np.linalg.norm(plane_points, axis=1, keepdims=True)).astype(np.float32)
    view = {"points": points, "query": query, "true_top": true_top, "k": k, "n_cells": n_cells,
            "n_probes": n_probes, "extent": (-1.2, 1.2)}
    for name, cut in (("lsh", _lsh_cells), ("ivf", _ivf_cells)):
        cells, probed, region, shape = cut(units, query, n_cells, n_probes, seed, plane_points)
        scanned = np.isin(cells, probed)
        view[name] = {"cells": cells, "probed": probed, "scanned": scanned, "share": float(scanned.mean()),
                      "recall": float(np.isin(true_top, np.flatnonzero(scanned)).mean()),
                      "region_cells": region.reshape(grid, grid), "n_regions": int(len(np.unique(region))),
                      "n_nonempty": int(len(np.unique(cells))), "shape": shape}
    return view


def plot_partitions(view: dict):
    """Two panels: LSH wedges and IVF cells; scanned cells bright, the rest faded."""
    import matplotlib.pyplot as plt
    from matplotlib import colormaps

    figure, panels = plt.subplots(1, 2, figsize=(8.4, 4.2), dpi=80)
    low, high = view["extent"]
    titles = {"lsh": "LSH: random lines", "ivf": "IVF: k-means cells"}
    for panel, name in zip(panels, ("lsh", "ivf")):
        part = view[name]
        palette = colormaps["tab20"]
        region = part["region_cells"]
        colours = palette(np.unique(region, return_inverse=True)[1].reshape(region.shape) % 20)
        colours[..., 3] = np.where(np.isin(region, part["probed"]), 0.45, 0.08)
        panel.imshow(colours, extent=(low, high, low, high), origin="lower")
        points, scanned = view["points"], part["scanned"]
        panel.scatter(*points[~scanned].T, s=12, c="#bbbbbb", edgecolors="none")
        panel.scatter(*points[scanned].T, s=16, c="#333333", edgecolors="none")
        panel.scatter(*points[view["true_top"]].T, s=80, facecolors="none", edgecolors="#d1495b", linewidths=1.5,
                      label=f"true top-{view['k']}")
        panel.plot([0, 1.1 * view["query"][0]], [0, 1.1 * view["query"][1]], color="#d1495b", lw=1.5)
        panel.scatter(*(1.1 * view["query"]), marker="*", s=200, c="#d1495b", zorder=5, label="query")
        if name == "ivf":
            panel.scatter(*(1.05 * part["shape"]).T, marker="x", s=40, c="#1f3a93", label="centroids")
        panel.set_xlim(low, high)
        panel.set_ylim(low, high)
        panel.set_aspect("equal")
        panel.set_xticks([])
        panel.set_yticks([])
        panel.set_title(f"{titles[name]}: {part['n_regions']} cells\nscans {part['share']:.0%}, "
                        f"recall@{view['k']} {part['recall']:.2f}", fontsize=10)
        panel.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    return figure


class PartitionExplorer:
    """Sliders for the number of cells, the cells probed and the query's direction."""

    def __init__(self, points=None, n_cells: int = 6, n_probes: int = 1, query_angle: int = 40, k: int = 5,
                 seed: int = 0):
        import ipywidgets as w

        from .common import figure_png

        self._figure_png, self.k, self.seed = figure_png, k, seed
        self.points = demo_points(150, seed=1) if points is None else np.asarray(points)
        style = {"description_width": "initial"}
        self.n_cells = w.IntSlider(value=n_cells, min=2, max=16, description="cells", continuous_update=False,
                                   style=style)
        self.n_probes = w.IntSlider(value=n_probes, min=1, max=n_cells, description="cells probed",
                                    continuous_update=False, style=style)
        self.query_angle = w.IntSlider(value=query_angle, min=0, max=355, step=5, description="query angle",
                                       continuous_update=False, style=style)
        self.image = w.Image(format="png")
        self.summary = w.HTML()
        self.n_cells.observe(self._on_cells, names="value")
        for control in (self.n_probes, self.query_angle):
            control.observe(lambda change: self.refresh(), names="value")
        self.widget = w.VBox([w.HBox([self.n_cells, self.n_probes, self.query_angle]), self.summary, self.image])
        self.refresh()

    def _on_cells(self, change):
        with self.n_probes.hold_trait_notifications():
            self.n_probes.max = change["new"]  # ipywidgets clips value to the new max
        self.refresh()

    def refresh(self):
        self.view = view = partition_view(self.points, self.query_angle.value, self.n_cells.value,
                                          min(self.n_probes.value, self.n_cells.value), self.k, self.seed)
        self.image.value = self._figure_png(plot_partitions(view))
        lines = [f"<b>{name}</b>: probes {view['n_probes']} of {view[key]['n_regions']} cells, scans "
                 f"{view[key]['scanned'].sum()} of {len(view['points'])} points ({view[key]['share']:.0%}), "
                 f"recall@{view['k']} {view[key]['recall']:.2f}" for name, key in (("LSH", "lsh"), ("IVF", "ivf"))]
        self.summary.value = "<br>".join(lines)
