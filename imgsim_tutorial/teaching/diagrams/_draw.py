"""The drawing kit every diagram shares: figure and box helpers, colours, and the sphere cap in
gnomonic projection on which the IVF and graph pictures are drawn.
"""

from __future__ import annotations

import numpy as np

DPI = 110  # >= 100 dots per inch at notebook width (about 10 inches)


INK, PALE, ACCENT, QUERY = "#24292f", "#eef2f7", "#1f6feb", "#d1495b"


def _figure(width: float, height: float):
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(width, height), dpi=DPI)
    axis = figure.add_axes([0, 0, 1, 1])
    axis.set_xlim(0, width)
    axis.set_ylim(0, height)
    axis.set_axis_off()
    return figure, axis


def _box(axis, x, y, width, height, text, colour=PALE, edge=INK, fontsize=10, style="-", weight="normal"):
    """A rounded box centred at (x, y) with centred text."""
    from matplotlib.patches import FancyBboxPatch

    axis.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.03",
                                  facecolor=colour, edgecolor=edge, linewidth=1.2, linestyle=style))
    axis.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=INK, weight=weight, wrap=True)


def _arrow(axis, start, end, colour=INK, style="-|>", linestyle="-", shrink=2, linewidth=1.3, zorder=1):
    from matplotlib.patches import FancyArrowPatch

    axis.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=14, color=colour, zorder=zorder,
                                   linewidth=linewidth, linestyle=linestyle, shrinkA=shrink, shrinkB=shrink))


CELL_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7", "#9c755f",
                "#e15759", "#bab0ac")  # one per IVF cell (list); QUERY red stays the query's own


SHADE = "#8c959f"  # grey: links, points a search never touches


def lift(plane) -> np.ndarray:
    """Points (u, w) of the gnomonic plane -> unit vectors (u, w, 1) / |(u, w, 1)| in 3-D: (n, 3).

    >>> lift(np.array([[0.0, 0.0]])).tolist()
    [[0.0, 0.0, 1.0]]
    """
    plane = np.asarray(plane, dtype=np.float64)
    vectors = np.c_[plane, np.ones(len(plane))]
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def gnomonic(vectors) -> np.ndarray:
    """Unit vectors near the pole (0, 0, 1) -> their gnomonic projection (x / z, y / z): (n, 2).

    Seen from the sphere's centre, every great circle is a straight line, so the boundary where two
    centroids are equally close by cosine (a great circle) is drawn as a straight line.

    >>> gnomonic(lift(np.array([[0.3, -0.5]]))).round(6).tolist()
    [[0.3, -0.5]]
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors[:, :2] / vectors[:, 2:3]


def cap_points(n: int = 160, *, seed: int = 0, n_clumps: int = 5, gap: float = 0.05) -> np.ndarray:
    """``n`` unit vectors in 3-D, in clumps inside a cap of 42 degrees around the pole: (n, 3).

    Drawn in the gnomonic plane (inside the disc of radius 0.9, no two closer than ``gap``, so every
    point can be seen) and lifted, like embeddings that crowd into a few directions.

    >>> points = cap_points(50, seed=1); points.shape, bool(np.allclose(np.linalg.norm(points, axis=1), 1))
    ((50, 3), True)
    """
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-0.55, 0.55, (n_clumps, 2))
    plane = centres[rng.integers(n_clumps, size=6 * n)] + rng.normal(scale=0.2, size=(6 * n, 2))
    kept = np.empty((n, 2))
    count = 0
    for point in plane[np.linalg.norm(plane, axis=1) < 0.9]:
        if count == n:
            break
        if not count or np.linalg.norm(kept[:count] - point, axis=1).min() >= gap:
            kept[count] = point
            count += 1
    if count < n:
        raise ValueError(f"only {count} points fit at spacing gap={gap}; ask for fewer than n={n} or a smaller gap")
    return lift(kept)


def _map_and_side(width: float, height: float, split: float, title: str):
    """A figure with a square map of the gnomonic plane on the left and a blank side panel on the right."""
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(width, height), dpi=DPI)
    figure.suptitle(title, x=0.02, ha="left", fontsize=12.5, weight="bold", color=INK)
    map_axis = figure.add_axes([0.02, 0.1, split - 0.03, 0.8])
    map_axis.set_xlim(-1.02, 1.02)
    map_axis.set_ylim(-1.02, 1.02)
    map_axis.set_aspect("equal")
    map_axis.set_xticks([])
    map_axis.set_yticks([])
    for spine in map_axis.spines.values():
        spine.set_color("#d0d7de")
    side = figure.add_axes([split + 0.01, 0.1, 0.98 - split, 0.8])
    side.set_xlim(0, 1)
    side.set_ylim(0, 1)
    side.set_axis_off()
    return figure, map_axis, side


def _legend(side, entries, top: float):
    """A legend in the side panel (never over the data): ``entries`` are (marker kwargs, label)."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], linestyle="none", **style) if "marker" in style else Line2D([], [], **style)
               for style, _ in entries]
    side.legend(handles, [label for _, label in entries], loc="upper left", bbox_to_anchor=(0, top),
                frameon=False, fontsize=9, handlelength=2.2, borderaxespad=0)


def _clip(polygon, normal, offset) -> np.ndarray:
    """The part of a convex ``polygon`` (p, 2) where ``normal @ point + offset >= 0`` (Sutherland-Hodgman)."""
    values = polygon @ normal + offset
    kept = []
    for point, following, value, next_value in zip(polygon, np.roll(polygon, -1, 0), values, np.roll(values, -1)):
        if value >= 0:
            kept.append(point)
        if (value >= 0) != (next_value >= 0):  # the edge crosses the line: keep the crossing point
            kept.append(point + (following - point) * value / (value - next_value))
    return np.array(kept).reshape(-1, 2)


def cosine_cell(centroids, j: int, limit: float = 1.02) -> np.ndarray:
    """Cell ``j`` (the points nearer centroid j than any other by cosine) in the gnomonic plane,
    within the square ``[-limit, limit]^2``: a convex polygon (p, 2).

    A plane point p stands for the direction (p, 1), nearer c_j than c_i when (c_j - c_i) . (p, 1) >= 0:
    a half-plane, so the cell is the square cut by one straight line per other centroid.

    >>> cosine_cell(lift(np.array([[-0.5, 0.0], [0.5, 0.0]])), 0, limit=1.0).tolist()
    [[-1.0, -1.0], [0.0, -1.0], [0.0, 1.0], [-1.0, 1.0]]
    """
    centroids = np.asarray(centroids, dtype=np.float64)
    polygon = np.array([[-limit, -limit], [limit, -limit], [limit, limit], [-limit, limit]])
    for i in range(len(centroids)):
        if i != j:
            difference = centroids[j] - centroids[i]
            polygon = _clip(polygon, difference[:2], difference[2])
    return polygon


def _fit_view(axis, points, margin: float = 0.08):
    """Zoom ``axis`` to a square around ``points`` (n, 2)."""
    low, high = points.min(axis=0), points.max(axis=0)
    centre, half = (low + high) / 2, (high - low).max() / 2 + margin
    axis.set_xlim(centre[0] - half, centre[0] + half)
    axis.set_ylim(centre[1] - half, centre[1] + half)


LAYER_STEP = 1.3  # height of one layer in the HNSW drawing (its tilted square is 1.2 tall)
