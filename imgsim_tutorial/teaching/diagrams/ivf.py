"""IVF's cells (notebook 06), drawn from a fitted ``IVFIndex``: its lists, the cells a query
probes and the items it scans.
"""

from __future__ import annotations

import numpy as np

from ._draw import (
    ACCENT,
    CELL_COLOURS,
    INK,
    QUERY,
    SHADE,
    _legend,
    _map_and_side,
    cap_points,
    cosine_cell,
    gnomonic,
    lift,
)


def ivf_diagram(*, n_points: int = 160, n_lists: int = 8, n_probes: int = 2, seed: int = 0):
    """IVF seen on the sphere: the cells of a fitted ``IVFIndex``, its inverted lists, and what one query scans.

    The points are unit vectors in a cap of the sphere, drawn in gnomonic projection (straight lines
    are great circles), so each cosine Voronoi cell is an exact convex polygon. Every point is
    coloured by the list the index put it in (``lists_``), the probed cells are the index's
    ``probed_lists`` and the ringed points its ``candidates``. Returns the Figure; ``figure.structure``
    holds the index, the query and what was drawn.

    >>> ivf_diagram().get_dpi() >= 100
    True
    """
    from ...ivf import IVFIndex

    if not 2 <= n_lists <= len(CELL_COLOURS):
        raise ValueError(f"n_lists must be between 2 and {len(CELL_COLOURS)} for a readable diagram, got {n_lists}")
    if not 1 <= n_probes <= n_lists:
        raise ValueError(f"n_probes counts the cells visited, the query's own included: 1 to {n_lists}, got {n_probes}")
    index = IVFIndex(n_lists=n_lists, n_probes=n_probes, seed=seed).add(cap_points(n_points, seed=seed))
    query = lift(np.random.default_rng(seed + 1).uniform(-0.5, 0.5, (1, 2)))
    probed = index.probed_lists(query)[0]
    scanned = np.isin(index.ids_, index.candidates(query))
    n_candidates = int(index.search_with_stats(query, k=1)[2]["n_candidates"][0])
    figure, map_axis, side = _map_and_side(11.5, 6.4, 0.56, f"IVF: {n_lists} cells learned by k-means, "
                                           f"the query scans the lists of its {n_probes} nearest")
    _draw_cells(map_axis, index, probed)
    points, colours = gnomonic(index.vectors_), np.array(CELL_COLOURS)[index.lists_]
    map_axis.scatter(*points[~scanned].T, s=16, c=colours[~scanned], alpha=0.45, linewidths=0, zorder=3)
    map_axis.scatter(*points[scanned].T, s=30, c=colours[scanned], edgecolors=INK, linewidths=0.8, zorder=4)
    map_axis.scatter(*gnomonic(query).T, s=260, marker="*", c=QUERY, edgecolors="white", linewidths=1, zorder=6)
    end = _draw_list_table(side, index.list_sizes(), probed)
    side.text(0, end - 0.02, f"scanned: {n_candidates} of {len(index)} items\n(search_with_stats: n_candidates)",
              fontsize=9.5, color=INK, va="top")
    _legend(side, [(dict(marker="*", markersize=14, color=QUERY, markeredgecolor="white"), "query"),
                   (dict(marker="o", markersize=10, color="white", markeredgecolor=INK), "centroid (list number)"),
                   (dict(marker="o", markersize=6, color=SHADE, markeredgecolor=INK), "scanned: in a probed list"),
                   (dict(marker="o", markersize=5, color=SHADE, alpha=0.45, markeredgewidth=0), "never scored"),
                   (dict(color=INK, linewidth=2), "probed cell")], top=end - 0.16)
    figure.text(0.02, 0.025, "Each colour is one inverted list: the points k-means put nearest one centroid. "
                "Gnomonic projection (x/z, y/z) of a cap of the unit sphere: cell borders are great circles.",
                fontsize=8.5, color="#57606a")
    figure.structure = {"index": index, "query": query, "probed": probed, "points": points,
                        "point_colours": colours, "scanned_ids": index.ids_[scanned]}
    return figure


def _draw_cells(axis, index, probed):
    """Every cell as its exact polygon, the probed ones outlined; each centroid with its list number."""
    from matplotlib.patches import Polygon

    for j in range(index.n_lists):
        hit = j in probed
        axis.add_patch(Polygon(cosine_cell(index.centroids_, j), closed=True, facecolor=CELL_COLOURS[j],
                               alpha=0.26 if hit else 0.09, edgecolor="none", zorder=1))
        axis.add_patch(Polygon(cosine_cell(index.centroids_, j), closed=True, facecolor="none", zorder=2 + hit,
                               edgecolor=INK if hit else "white", linewidth=2.2 if hit else 1.4))
    for j, (x, y) in enumerate(gnomonic(index.centroids_)):
        axis.text(x, y, str(j), ha="center", va="center", fontsize=9, weight="bold", color=INK, zorder=7,
                  bbox=dict(boxstyle="circle,pad=0.25", facecolor="white", edgecolor=CELL_COLOURS[j], linewidth=2))


def _draw_list_table(side, sizes, probed) -> float:
    """The inverted lists as a table: list number, a bar as long as the list, its size, probe order.
    Returns the height where the table ends."""
    side.text(0, 0.98, "inverted lists (number: size)", fontsize=10.5, weight="bold", color=INK, va="top")
    row_height = min(0.065, 0.6 / len(sizes))
    for j, size in enumerate(sizes):
        y = 0.9 - j * row_height
        width = 0.42 * size / sizes.max()
        side.text(0.02, y, f"list {j}", fontsize=9.5, va="center", color=INK)
        side.barh(y, width, height=row_height * 0.7, left=0.17, color=CELL_COLOURS[j],
                  alpha=0.9 if j in probed else 0.3)
        side.text(0.19 + width, y, f"{size}", fontsize=9, va="center", color=INK)
        if j in probed:
            order = int(np.flatnonzero(probed == j)[0])
            side.text(0.7, y, "probe 1 (own cell)" if order == 0 else f"probe {order + 1}", fontsize=9,
                      va="center", color=ACCENT, weight="bold")
    return 0.9 - len(sizes) * row_height
