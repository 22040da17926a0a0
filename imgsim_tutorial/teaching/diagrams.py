"""Pictures of the course's machinery, drawn from the real structures: the search pipeline (00),
LSH (04), IVF cells (06), a neighbour graph's walk and HNSW's layers (07), product quantisation (08).

``plotting.py`` draws measurements; this module draws the *ideas* those measurements are about,
as static matplotlib figures so they also show on GitHub and nbviewer, where widgets do not run.
Where it matters they are drawn from real numbers, so a learner can check the picture by eye:

- :func:`lsh_structure_diagram`: bits and bucket codes computed from the hyperplanes it draws;
- :func:`ivf_diagram`: a fitted ``IVFIndex``: its cells, lists, probed cells and scanned items;
- :func:`graph_walk_diagram`: a ``GraphIndex`` and the path its traced search (``walk``) took;
- :func:`hnsw_layers_diagram`: FAISS's ``IndexHNSWFlat``, its layers read from ``index.hnsw``;
- :func:`pq_diagram`: a ``PQIndex``'s codebooks, one code and a query's distance table, whose
  entries add up to the score ``search`` returns.

The point sets are unit vectors in 3-D near one pole, drawn in *gnomonic* projection (x/z, y/z):
seen from the sphere's centre, great circles are straight lines, so the borders where two
centroids are equally close by cosine are straight and each IVF cell is an exact polygon.
Each figure keeps what it drew in ``figure.structure``, for the tests and for curious learners.
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


def pipeline_diagram(leaf_image=None):
    """The course in one picture: photos -> encoder -> embeddings -> index; query -> top-k.

    ``leaf_image`` (a PIL image or array), if given, is drawn as the query photo. Returns the Figure.

    >>> pipeline_diagram().get_dpi() >= 100
    True
    """
    figure, axis = _figure(10.5, 4.2)
    stages = [(1.0, "image", "a photo\n(PIL image)"), (3.0, "encoder", "encoder (ViT)\nimage -> [CLS] vector"),
              (5.25, "embedding", "embedding\nd floats, length 1"), (7.45, "index", "index\nCosineIndex, LSH, FAISS"),
              (9.5, "top-k", "top-k\n(scores, ids)")]
    width, height = 1.75, 0.95
    rows = {"build": 3.05, "query": 1.35}
    for x, _, text in stages[:4]:
        _box(axis, x, rows["build"], width, height, text.replace("a photo", "candidate photos"))
    for x, _, text in stages:
        if x == 7.45:
            continue
        _box(axis, x, rows["query"], width, height, text.replace("a photo", "query photo").replace(
            "embedding\nd floats", "query vector\nd floats"), colour="#fdecee" if x != 3.0 else PALE)
    for (x0, _, _), (x1, _, _) in zip(stages[:3], stages[1:4]):
        _arrow(axis, (x0 + width / 2, rows["build"]), (x1 - width / 2, rows["build"]))
    for (x0, _, _), (x1, _, _) in zip(stages[:2], stages[1:3]):
        _arrow(axis, (x0 + width / 2, rows["query"]), (x1 - width / 2, rows["query"]))
    _arrow(axis, (5.25 + width / 2, rows["query"]), (7.45, rows["build"] - height / 2), colour=QUERY)
    _arrow(axis, (7.45, rows["build"] - height / 2), (9.5 - width / 2, rows["query"]), colour=QUERY)
    axis.text(8.3, 2.35, "search(queries, k)", ha="left", fontsize=9, color=QUERY, style="italic")
    axis.text(6.35, rows["build"] + 0.6, "add(embeddings)", ha="center", fontsize=9, color=ACCENT, style="italic")
    axis.text(0.12, rows["build"] + 0.72, "once, offline: build the index", fontsize=10, color=ACCENT, weight="bold")
    axis.text(1.3, rows["query"] - 0.85, "every query: embed it the same way, then search", fontsize=10,
              color=QUERY, weight="bold")
    axis.text(3.0, 2.2, "same encoder,\nsame preprocessing", ha="center", fontsize=8.5, color=INK, style="italic")
    for x, notebook in ((3.0, "01"), (5.25, "01-03"), (7.45, "04-09"), (9.5, "02, 10")):
        axis.text(x, 3.95, f"notebook {notebook}", ha="center", fontsize=8.5, color="#57606a")
    if leaf_image is not None:
        image_axis = figure.add_axes([0.01, 0.01, 0.1, 0.19])
        image_axis.imshow(np.asarray(leaf_image))
        image_axis.set_axis_off()
    return figure


def _hyperplane_glyph(axis, centre, radius, normals, vector):
    """A small circle: hyperplanes as lines through the centre, each with a short arrow (numbered
    like its bit) pointing to its positive side; the query as a red arrow."""
    from matplotlib.patches import Circle

    axis.add_patch(Circle(centre, radius, facecolor="white", edgecolor="#8c959f", linewidth=1))
    centre = np.asarray(centre, dtype=float)
    for number, normal in enumerate(normals, 1):
        along = np.array([-normal[1], normal[0]]) * radius
        axis.plot([centre[0] - along[0], centre[0] + along[0]], [centre[1] - along[1], centre[1] + along[1]],
                  color=ACCENT, linewidth=1.1)
        foot = centre + along * 0.8
        _arrow(axis, tuple(foot), tuple(foot + normal * radius * 0.3), colour=ACCENT, style="->")
        label = foot + normal * radius * 0.45
        axis.text(label[0], label[1], str(number), ha="center", va="center", fontsize=7.5, color=ACCENT)
    tip = np.asarray(centre) + vector * radius * 0.9
    _arrow(axis, centre, tuple(tip), colour=QUERY)


def _readable_normals(rng, n_bits, query):
    """Random unit normals in 2-D, spread out so the lines stay apart in a small drawing and none
    passes so close to the query that its side cannot be seen."""
    while True:
        angles = rng.uniform(0, 2 * np.pi) + np.arange(n_bits) * np.pi / n_bits + rng.uniform(-0.25, 0.25, n_bits)
        angles += np.pi * rng.integers(0, 2, n_bits)  # either side can be the positive one
        normals = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        if np.abs(normals @ query).min() > 0.3:
            return normals


def lsh_code(vector, normals) -> tuple[str, int]:
    """Sign bits of ``vector`` against each hyperplane normal, as a string and as an integer code.

    >>> lsh_code(np.array([1.0, 0.5]), np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]))
    ('101', 5)
    """
    bits = "".join("1" if float(normal @ vector) >= 0 else "0" for normal in normals)
    return bits, int(bits, 2)


def lsh_structure_diagram(n_bits: int = 3, seed: int = 4):
    """How an LSH index answers a query: hyperplanes -> bits -> code -> bucket -> tables -> union -> re-rank.

    Each table has its own ``n_bits`` random hyperplanes (drawn in 2-D so they can be seen); the
    query's bits, codes and the probed neighbour code are computed from them. Returns the Figure.

    >>> figure = lsh_structure_diagram()
    >>> bool(figure.get_dpi() >= 100 and figure.get_size_inches()[0] >= 10)
    True
    """
    if not 2 <= n_bits <= 6:
        raise ValueError(f"n_bits must be between 2 and 6 for a readable diagram, got {n_bits}")
    rng = np.random.default_rng(seed)
    query = np.array([np.cos(0.6), np.sin(0.6)])
    figure, axis = _figure(11.5, 5.6)
    headers = [(0.75, "hyperplanes\n(own per table)"), (2.35, "bits\nsign(h · q)"), (3.7, "code"),
               (5.6, "bucket in the table\n{code: [ids]}"), (8.15, "union of\nthe buckets"),
               (10.3, "exact re-rank\nby cosine")]
    for x, text in headers:
        axis.text(x, 5.25, text, ha="center", va="center", fontsize=9.5, weight="bold", color=INK)
    tables = [(4.0, "table 1"), (2.4, "table 2"), (0.95, "table L")]
    bucket_ids = [[3, 17, 42], [8, 17, 57], [3, 21, 42, 64]]
    for row, ((y, name), ids) in enumerate(zip(tables, bucket_ids)):
        normals = _readable_normals(rng, n_bits, query)
        bits, code = lsh_code(query, normals)
        axis.text(0.06, y + 0.62, name, fontsize=9, color="#57606a", style="italic")
        _hyperplane_glyph(axis, (0.75, y), 0.5, normals, query)
        _arrow(axis, (1.3, y), (1.85, y))
        _box(axis, 2.35, y, 0.9, 0.5, " ".join(bits), fontsize=11, weight="bold")
        _arrow(axis, (2.85, y), (3.3, y))
        _box(axis, 3.7, y, 0.7, 0.5, str(code), fontsize=11, weight="bold")
        _arrow(axis, (4.1, y), (4.6, y))
        _box(axis, 5.6, y, 1.9, 0.5, f"{code}: {ids}", colour="#e6f4ea", fontsize=10)
        if row == 0:  # one probe: the neighbouring bucket, one bit flipped
            flipped = code ^ 1
            _box(axis, 5.6, y - 0.6, 1.9, 0.42, f"probe {flipped}: [5, 29]", colour="white", fontsize=9,
                 style="--")
            axis.text(5.6, y - 0.97, f"(one probe: last bit of {bits} flipped)", ha="center", fontsize=8,
                      color="#57606a")
            _arrow(axis, (6.55, y - 0.6), (7.55, 2.6), colour="#8c959f", linestyle="--")
        _arrow(axis, (6.55, y), (7.55, 2.6))
    axis.text(0.75, 1.68, "⋮", ha="center", va="center", fontsize=16, color=INK)
    axis.text(5.6, 1.68, "⋮", ha="center", va="center", fontsize=16, color=INK)
    union = sorted({i for ids in bucket_ids for i in ids} | {5, 29})
    _box(axis, 8.15, 2.6, 1.2, 1.35, "candidates\n" + "\n".join(
        ", ".join(map(str, union[i:i + 3])) for i in range(0, len(union), 3)), colour="#fff8c5", fontsize=9)
    _arrow(axis, (8.8, 2.6), (9.5, 2.6))
    _box(axis, 10.3, 2.6, 1.45, 1.35, "score each\ncandidate by\ntrue cosine,\nkeep top k\n-> (scores, ids)",
         colour="#fdecee", fontsize=9)
    axis.text(8.15, 1.6, f"{len(union)} of N scored", ha="center", fontsize=8.5, color="#57606a")
    axis.text(0.06, 0.12, f"The query q (red arrow) lies on one side of each of the {n_bits} hyperplanes (blue lines; "
                          "the small arrow marks the positive side, bit 1). The bits, read 1 to "
                          f"{n_bits}, are the bucket code.\nAn item becomes a candidate if it shares a bucket "
                          "with q in ANY table (or in a probed neighbour bucket); only candidates are scored.",
              fontsize=8.5, color=INK, va="bottom")
    return figure


# -- points on the sphere, seen from its centre ------------------------------------------------

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


# -- IVF: Voronoi cells on the sphere ---------------------------------------------------------

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
    from ..ivf import IVFIndex

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


# -- a neighbour graph, and the walk of one query ---------------------------------------------

def _fit_view(axis, points, margin: float = 0.08):
    """Zoom ``axis`` to a square around ``points`` (n, 2)."""
    low, high = points.min(axis=0), points.max(axis=0)
    centre, half = (low + high) / 2, (high - low).max() / 2 + margin
    axis.set_xlim(centre[0] - half, centre[0] + half)
    axis.set_ylim(centre[1] - half, centre[1] + half)


def graph_walk_diagram(*, n_points: int = 90, n_neighbors: int = 4, ef_search: int = 4, n_long_links: int = 0,
                       seed: int = 0):
    """A ``GraphIndex`` on points of the sphere, and the walk of one query from the entry point to its result.

    The links are the index's own (``neighbors_``); the numbered hops are the ``path`` its traced
    search (``GraphIndex.walk``) took, and the ringed end is what ``search`` returns. Points are drawn
    in gnomonic projection as in :func:`ivf_diagram`. ``n_long_links`` defaults to 0 here: random long
    links would cross the whole picture. Returns the Figure; ``figure.structure`` holds what was drawn.

    >>> graph_walk_diagram().get_dpi() >= 100
    True
    """
    from matplotlib.collections import LineCollection

    from ..graph import GraphIndex

    index = GraphIndex(n_neighbors=n_neighbors, ef_search=ef_search, n_long_links=n_long_links, seed=seed)
    index.add(cap_points(n_points, seed=seed))
    # The query lies beside the node farthest from the entry point, so the walk crosses the picture.
    # The query sits beside the node farthest from the entry point: the walk crosses the picture.
    far = int(np.argmin(index.vectors_ @ index.vectors_[index.entry_point]))
    query = _beyond(index.vectors_, far, index.entry_point)[None]
    walk = index.walk(query, k=1)
    found = int(index.search(query, k=1)[1][0, 0])
    if walk["path"][-1] != found:
        raise RuntimeError(f"the traced walk ends at {walk['path'][-1]} but search returns {found}")
    figure, map_axis, side = _map_and_side(11.5, 6.4, 0.56, f"A neighbour graph: {len(walk['path']) - 1} hops "
                                           "from the entry point to the query's nearest neighbour")
    points = gnomonic(index.vectors_)
    _fit_view(map_axis, points)
    sources = np.repeat(np.arange(len(index)), index.degrees())
    links = {(min(a, b), max(a, b)) for a, b in zip(sources.tolist(), index.neighbors_.tolist())}
    map_axis.add_collection(LineCollection([points[[a, b]] for a, b in links], colors=SHADE, linewidths=0.8,
                                           alpha=0.7, zorder=1))
    scored = np.zeros(len(index), dtype=bool)
    scored[walk["scored"]] = True
    map_axis.scatter(*points[~scored].T, s=18, c=SHADE, linewidths=0, zorder=2)
    map_axis.scatter(*points[scored].T, s=34, c="#a5c8ff", edgecolors=ACCENT, linewidths=0.7, zorder=2)
    _draw_path(map_axis, points, walk["path"])
    map_axis.scatter(*gnomonic(query).T, s=260, marker="*", c=QUERY, edgecolors="white", linewidths=1, zorder=6)
    _draw_hop_table(side, walk["path"], index.vectors_ @ query[0], scored.sum(), len(index))
    figure.text(0.02, 0.025, f"Each node links to its nearest neighbours (at most {n_neighbors} kept by the HNSW "
                "pruning rule, plus links back). The walk scores only the neighbours of the nodes it expands;\n"
                f"its beam (ef_search={ef_search}) expands several nodes per step, so a hop can be a little worse "
                "than the one before it.", fontsize=8.5, color="#57606a")
    figure.structure = {"index": index, "query": query, "path": walk["path"], "found": found, "links": links,
                        "scored": np.flatnonzero(scored)}
    return figure


def _beyond(points, target: int, source: int, step: float = 0.08) -> np.ndarray:
    """A query (3,) a little beyond ``points[target]``, on the far side from ``points[source]`` (in the plane)."""
    plane = gnomonic(points)
    outwards = plane[target] - plane[source]
    return lift((plane[target] + step * outwards / np.linalg.norm(outwards))[None])[0]


def _draw_path(axis, points, path):
    """The walk as arrows along the links it took, each node numbered by its hop (0: the entry point)."""
    for start, end in zip(path, path[1:]):
        _arrow(axis, tuple(points[start]), tuple(points[end]), colour=ACCENT, shrink=7, linewidth=1.6, zorder=4)
    for hop, node in enumerate(path):
        axis.text(*points[node], str(hop), ha="center", va="center", fontsize=8, weight="bold", color="white",
                  zorder=5, bbox=dict(boxstyle="circle,pad=0.2", facecolor=INK if hop == 0 else ACCENT,
                                      edgecolor="white", linewidth=1))
    axis.scatter(*points[path[-1]], s=420, facecolors="none", edgecolors=QUERY, linewidths=1.8, zorder=4)


def _draw_hop_table(side, path, cosines, n_scored, n):
    """The hops as a table (node, cosine with the query), then a legend under it."""
    side.text(0, 0.98, "the walk, hop by hop", fontsize=10.5, weight="bold", color=INK, va="top")
    columns = ((0.04, "hop"), (0.16, "node"), (0.3, "cosine with q"))
    for x, header in columns:
        side.text(x, 0.9, header, fontsize=9, color="#57606a", va="center")
    row_height = min(0.055, 0.5 / len(path))
    for hop, node in enumerate(path):
        y = 0.84 - hop * row_height
        note = "entry point" if hop == 0 else "result = search()" if hop == len(path) - 1 else ""
        for (x, _), value in zip(columns, (hop, node, f"{cosines[node]:.3f}")):
            side.text(x + 0.06, y, str(value), fontsize=9.5, va="center", ha="right", color=INK)
        side.text(0.44, y, note, fontsize=9, va="center", color=ACCENT, style="italic")
    end = 0.84 - len(path) * row_height
    side.text(0, end - 0.03, f"scored: {n_scored} of {n} nodes", fontsize=9.5, color=INK, va="top")
    _legend(side, [(dict(marker="*", markersize=14, color=QUERY, markeredgecolor="white"), "query"),
                   (dict(marker="o", markersize=9, color=INK), "entry point (hop 0)"),
                   (dict(marker="o", markersize=9, color=ACCENT), "hop n of the walk"),
                   (dict(marker="o", markersize=12, color="none", markeredgecolor=QUERY), "nearest neighbour found"),
                   (dict(marker="o", markersize=6, color="#a5c8ff", markeredgecolor=ACCENT), "scored on the way"),
                   (dict(color=SHADE, linewidth=1), "link")], top=end - 0.12)


# -- HNSW: the same idea in layers (FAISS's own graph) ----------------------------------------

LAYER_STEP = 1.3  # height of one layer in the HNSW drawing (its tilted square is 1.2 tall)

def hnsw_links(index) -> tuple[np.ndarray, list[dict]]:
    """Read a ``faiss.IndexHNSWFlat``'s graph: the top layer of each node (n,) and, per layer, ``{node: [links]}``.

    FAISS stores every node's links in one array: node i's links on layer l are
    ``neighbors[offsets[i] + cum_nb_neighbors(l) : offsets[i] + cum_nb_neighbors(l + 1)]``, -1 where unused.

    >>> import faiss; index = faiss.IndexHNSWFlat(3, 4, faiss.METRIC_INNER_PRODUCT); index.add(cap_points(20))
    >>> top, layers = hnsw_links(index); len(layers) == index.hnsw.max_level + 1, sorted(layers[0]) == list(range(20))
    (True, True)
    """
    import faiss

    hnsw = index.hnsw
    top = faiss.vector_to_array(hnsw.levels).astype(np.int64) - 1  # ``levels`` counts the layers a node is on
    neighbors, offsets = faiss.vector_to_array(hnsw.neighbors), faiss.vector_to_array(hnsw.offsets)
    layers = []
    for layer in range(hnsw.max_level + 1):
        begin, end = hnsw.cum_nb_neighbors(layer), hnsw.cum_nb_neighbors(layer + 1)
        layers.append({node: [int(link) for link in neighbors[offsets[node] + begin:offsets[node] + end] if link >= 0]
                       for node in np.flatnonzero(top >= layer).tolist()})
    return top, layers


def hnsw_descent(layers, vectors, query, entry_point: int, ef_search: int) -> list[list[int]]:
    """The path of one query through the layers, top first, as FAISS searches: on every upper layer,
    greedy steps to the best neighbour while one is better; on layer 0, a best-first search
    with a beam of ``ef_search``, whose path is the chain of nodes that found the best result.

    >>> vectors = np.array([[1.0, 0, 0], [0.8, 0.6, 0], [0, 1, 0]])   # a chain 0 - 1 - 2; node 2 also on layer 1
    >>> hnsw_descent([{0: [1], 1: [0, 2], 2: [1]}, {2: []}], vectors, np.array([1.0, 0, 0]), 2, ef_search=1)
    [[2], [2, 1, 0]]
    """
    import heapq

    scores = vectors @ query
    paths, node = [], entry_point
    for links in layers[:0:-1]:  # the upper layers, top first
        path = [node]
        while True:
            best = max(links[path[-1]], key=lambda link: scores[link], default=path[-1])
            if scores[best] <= scores[path[-1]]:
                break
            path.append(best)
        paths.append(path)
        node = path[-1]
    parent, frontier, best = {node: node}, [(-scores[node], node)], [(scores[node], node)]
    while frontier:
        negative, current = heapq.heappop(frontier)
        if len(best) >= ef_search and -negative < best[0][0]:
            break  # the best waiting node cannot improve the ef_search results
        for link in layers[0][current]:
            if link not in parent:
                parent[link] = current
                if len(best) < ef_search or scores[link] > best[0][0]:
                    heapq.heappush(frontier, (-scores[link], link))
                    heapq.heappush(best, (scores[link], link))
                    if len(best) > ef_search:
                        heapq.heappop(best)
    path = [max(best)[1]]
    while parent[path[-1]] != path[-1]:
        path.append(parent[path[-1]])
    return paths + [path[::-1]]


def hnsw_layers_diagram(*, n_points: int = 50, M: int = 4, ef_search: int = 8, seed: int = 4):
    """FAISS's ``IndexHNSWFlat`` (inner product, unit vectors) drawn layer by layer, and one query's descent.

    Layer 0 holds every point; each layer above holds a random fraction of the one below (FAISS
    draws each node's top layer when it is added). The layers and links are read from the index
    (:func:`hnsw_links`); the descent (:func:`hnsw_descent`) repeats FAISS's search on those links
    and must end where ``index.search`` ends. The default ``seed`` gives a query that moves on every layer.
    Returns the Figure; ``figure.structure`` holds what was drawn.

    >>> hnsw_layers_diagram().get_dpi() >= 100
    True
    """
    import faiss

    points = cap_points(n_points, seed=seed, gap=0.1)
    index = faiss.IndexHNSWFlat(3, M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efSearch = ef_search
    index.add(points)
    top, layers = hnsw_links(index)
    entry = int(index.hnsw.entry_point)
    plane = gnomonic(points)
    place = _oblique(plane)
    query = _quiet_query(plane, np.flatnonzero(top >= 1), place)
    paths = hnsw_descent(layers, points, query, entry, ef_search)
    found = int(index.search(query[None], 1)[1][0, 0])
    if paths[-1][-1] != found:
        raise RuntimeError(f"the descent drawn ends at {paths[-1][-1]} but faiss's search returns {found}")
    import matplotlib.pyplot as plt

    n_layers = len(layers)
    figure = plt.figure(figsize=(11.5, 1.0 + 1.9 * n_layers), dpi=DPI)
    figure.suptitle(f"HNSW (faiss.IndexHNSWFlat, M={M}): {n_layers} layers, and one query's descent", x=0.02,
                    ha="left", fontsize=12.5, weight="bold", color=INK)
    axis = figure.add_axes([0.01, 0.09, 0.98, 0.84])
    axis.set_axis_off()
    height = (n_layers - 1) * LAYER_STEP + 1.4
    inches_per_unit = 0.84 * figure.get_size_inches()[1] / height  # the same scale across and up
    axis.set_xlim(-2.7, -2.7 + 0.98 * figure.get_size_inches()[0] / inches_per_unit)
    axis.set_ylim(-0.7, height - 0.7)
    drawn = np.vstack([plane, gnomonic(query[None])])  # the query last: "node" -1

    def screen(layer, node):
        return place(drawn[node], layer)[0]

    first_hops = np.cumsum([0] + [len(path) - 1 for path in paths])  # a drop to the next layer is not a hop
    for layer in range(n_layers):
        path = paths[n_layers - 1 - layer]
        _draw_layer(axis, layer, layers[layer], screen, path, first_hops[n_layers - 1 - layer], top)
        if layer:  # the drop: the same node, one layer down
            _arrow(axis, tuple(screen(layer, path[-1])), tuple(screen(layer - 1, path[-1])), colour=ACCENT,
                   linestyle="--", shrink=6, zorder=4)
    axis.scatter(*screen(0, found), s=300, facecolors="none", edgecolors=QUERY, linewidths=1.6, zorder=4)
    _draw_descent_text(axis, paths, points @ query, ef_search)
    figure.structure = {"index": index, "query": query, "levels": top, "layers": layers, "paths": paths,
                        "found": found}
    return figure


def _tilt(plane, layer: int) -> np.ndarray:
    """Plane points (n, 2) in [-1, 1]^2 -> where they are drawn on ``layer``: a tilted square, stacked."""
    plane = np.atleast_2d(plane)
    return np.c_[1.35 * (plane[:, 0] + 0.4 * plane[:, 1]), 0.55 * plane[:, 1] + LAYER_STEP * layer]


def _oblique(plane):
    """A function (plane points (n, 2), layer) -> where they are drawn on that layer (n, 2), scaled to this data."""
    low, high = plane.min(axis=0), plane.max(axis=0)
    centre, half = (low + high) / 2, (high - low).max() / 2 * 1.06
    return lambda points, layer: _tilt((np.atleast_2d(points) - centre) / half, layer)


def _quiet_query(plane, upper, place) -> np.ndarray:
    """A query (3,) drawn clear of every node (star and node do not hide each other) yet close to one, and as
    far as possible from the upper layers' nodes ``upper``, so that the search on layer 0 has work to do."""
    low, high = plane.min(axis=0), plane.max(axis=0)
    spots = np.stack(np.meshgrid(*np.linspace(low, high, 40).T), axis=-1).reshape(-1, 2)
    gaps = np.linalg.norm(place(spots, 0)[:, None] - place(plane, 0)[None], axis=2)  # in drawing units
    clear = (gaps.min(axis=1) > 0.14) & (gaps.min(axis=1) < 0.22)
    return lift(spots[[np.argmax(np.where(clear, gaps[:, upper].min(axis=1), -np.inf))]])[0]


def _draw_layer(axis, layer, links, screen, path, first_hop, top):
    """One layer: its square, its nodes and links (FAISS's), the query above it, and this layer's part of the walk."""
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Polygon

    corners = _tilt(np.array([[-1.1, -1.1], [1.1, -1.1], [1.1, 1.1], [-1.1, 1.1]]), layer)
    axis.add_patch(Polygon(corners, closed=True, facecolor=PALE, edgecolor="#d0d7de", linewidth=1.2, zorder=0))
    axis.text(*corners[0] + [-0.05, 0.12], f"layer {layer}\n{len(links)} node{'s' * (len(links) > 1)}", ha="right",
              va="center", fontsize=9.5, color=INK, weight="bold" if layer == 0 else "normal")
    segments = [(screen(layer, node), screen(layer, target)) for node, targets in links.items() for target in targets]
    axis.add_collection(LineCollection(segments, colors=SHADE, linewidths=0.6, alpha=0.55, zorder=1))
    nodes = np.array(list(links))
    higher = top[nodes] > layer  # these nodes are on the layer above too
    for chosen, size, colour in ((~higher, 14, SHADE), (higher, 34, "#57606a")):
        axis.scatter(*np.array([screen(layer, node) for node in nodes[chosen]]).reshape(-1, 2).T, s=size, c=colour,
                     linewidths=0, zorder=2)
    axis.scatter(*screen(layer, -1), s=170, marker="*", c=QUERY, edgecolors="white", linewidths=0.8, zorder=7)
    for start, end in zip(path, path[1:]):
        _arrow(axis, tuple(screen(layer, start)), tuple(screen(layer, end)), colour=ACCENT, shrink=6,
               linewidth=1.6, zorder=4)
    for hop, node in enumerate(path, first_hop):
        axis.text(*screen(layer, node), str(hop), ha="center", va="center", fontsize=7.5, weight="bold",
                  color="white", zorder=5, bbox=dict(boxstyle="circle,pad=0.15", facecolor=INK if hop == 0 else ACCENT,
                                                     edgecolor="white", linewidth=0.8))


def _draw_descent_text(axis, paths, cosines, ef_search):
    """Beside each layer, what the descent did there; under the picture, a legend."""
    from matplotlib.lines import Line2D

    for layer, path in zip(range(len(paths) - 1, -1, -1), paths):
        how = "greedy" if layer else f"best-first, beam ef_search={ef_search}"
        start = " from the entry point" if layer == len(paths) - 1 else ""
        if len(path) == 1:
            steps = f"stays at node {path[0]}:\nno neighbour is closer to q"
        else:
            steps = (f"nodes {' -> '.join(map(str, path))}\n"
                     f"cosine with q: {cosines[path[0]]:.3f} -> {cosines[path[-1]]:.3f}")
        if not layer:
            steps += f"\nresult: node {path[-1]},\nthe same as faiss's index.search()"
        axis.text(2.3, LAYER_STEP * layer + 0.32, f"layer {layer}: {how}{start}", fontsize=9.5, color=INK, va="top",
                  weight="bold")
        axis.text(2.35, LAYER_STEP * layer + 0.14, steps, fontsize=9, color=INK, va="top", linespacing=1.45)
    entries = [(dict(marker="*", markersize=13, color=QUERY, markeredgecolor="white", linestyle="none"),
                "query q (drawn on each layer)"),
               (dict(marker="o", markersize=9, color=INK, linestyle="none"), "entry point (hop 0)"),
               (dict(marker="o", markersize=9, color=ACCENT, linestyle="none"), "hop n"),
               (dict(marker="o", markersize=12, color="none", markeredgecolor=QUERY, linestyle="none"), "result"),
               (dict(color=ACCENT, linestyle="--"), "down one layer (same node)"),
               (dict(marker="o", markersize=7, color="#57606a", linestyle="none"), "node also on the layer above"),
               (dict(color=SHADE, linewidth=1), "link on that layer")]
    axis.figure.legend([Line2D([], [], **style) for style, _ in entries], [label for _, label in entries],
                       loc="lower center", ncol=4, frameon=False, fontsize=9, handlelength=2,
                       columnspacing=1.6, bbox_to_anchor=(0.5, 0.0))


# -- PQ: split, codebooks, codes, and the distance table ---------------------------------------

def _diverging():
    """Blue (negative) - white (0) - red (positive), from the module's colours."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("accent_query", [ACCENT, "white", QUERY])


def pq_diagram(*, dim: int = 16, n_subvectors: int = 4, n_bits: int = 4, n_items: int = 400, seed: int = 0):
    """Product quantisation with a fitted ``PQIndex``: one vector split into pieces, each piece's codebook,
    the code, and the distance table of a query, whose entries at the code add up to the index's score.

    The codebooks, the code and the table are the index's own (``codebooks_``, ``codes_``,
    ``distance_table``); the sum is checked against ``index.search`` (no re-ranking, so it returns
    exactly that estimate) before it is printed. Returns the Figure; ``figure.structure`` holds the numbers.

    >>> pq_diagram().get_dpi() >= 100
    True
    """
    import matplotlib.pyplot as plt

    from ..pq import PQIndex

    if n_bits > 5 or n_subvectors > 8 or dim % n_subvectors:
        raise ValueError(f"for a readable diagram use n_bits <= 5, n_subvectors <= 8 dividing dim={dim}, "
                         f"got n_bits={n_bits}, n_subvectors={n_subvectors}")
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((n_items, dim)).astype(np.float32)
    index = PQIndex(n_subvectors=n_subvectors, n_bits=n_bits, seed=seed).add(data)
    query = data[:1] + 0.5 * rng.standard_normal((1, dim)).astype(np.float32)
    query /= np.linalg.norm(query)
    scores, ids = index.search(query, k=1)
    item = int(ids[0, 0])
    code, table = index.codes_[item].astype(int), index.distance_table(query[0])
    picked = table[np.arange(n_subvectors), code]
    if not np.isclose(picked.sum(), scores[0, 0], atol=1e-5):
        raise RuntimeError(f"the table entries add up to {picked.sum():.4f} but the index scores {scores[0, 0]:.4f}")
    vector = data[item] / np.linalg.norm(data[item])
    figure = plt.figure(figsize=(12, 8.2), dpi=DPI)
    figure.suptitle(f"Product quantisation (PQIndex): {dim} numbers -> {n_subvectors} pieces -> a code of "
                    f"{n_subvectors} centroid numbers", x=0.02, ha="left", fontsize=12.5, weight="bold", color=INK)
    limit = float(np.abs(index.codebooks_).max())
    headings = {0.885: f"1. split item {item} (unit length, {dim} numbers) into {n_subvectors} pieces of "
                       f"{dim // n_subvectors}; the query is split the same way",
                0.6: f"2. each piece's codebook: {2 ** n_bits} centroids of {dim // n_subvectors} numbers (one per "
                     "column), learned by k-means on that piece of every item",
                0.275: f"3. item {item} is stored as the number of each piece's nearest centroid (outlined above): "
                       f"code = {code.tolist()}, {n_subvectors * n_bits // 8} bytes instead of {4 * dim}"}
    for y, heading in headings.items():
        figure.text(0.04, y, heading, fontsize=10.5, weight="bold", color=INK)
    _pq_strip(figure, [0.06, 0.77, 0.62, 0.05], vector, n_subvectors, f"item {item}", limit)
    _pq_strip(figure, [0.06, 0.67, 0.62, 0.05], query[0], n_subvectors, "query q (kept exact)", limit)
    for j in range(n_subvectors):
        width = 0.9 / n_subvectors
        _pq_codebook(figure, [0.06 + j * width, 0.37, width - 0.035, 0.17], index.codebooks_[j], code[j], j, limit)
    _pq_table(figure, [0.06, 0.055, 0.6, 0.16], table, code)
    _pq_sum(figure, picked, code, scores[0, 0], float(vector @ query[0]), item)
    figure.structure = {"index": index, "query": query[0], "item": item, "code": code, "table": table,
                        "picked": picked, "score": float(picked.sum()), "index_score": float(scores[0, 0])}
    return figure


def _two_places(value) -> str:
    """``-0.004`` -> ``'0.00'``: no minus sign on a number that rounds to zero."""
    return f"{value:.2f}".replace("-0.00", "0.00")


def _pq_strip(figure, rect, values, n_subvectors, title, limit):
    """One vector as a row of coloured cells with their values, thick white gaps between its pieces."""
    axis = figure.add_axes(rect)
    axis.imshow(values[None], cmap=_diverging(), vmin=-limit, vmax=limit, aspect="auto")
    size = len(values) // n_subvectors
    for i, value in enumerate(values):
        axis.text(i, 0, _two_places(value), ha="center", va="center", fontsize=8, color=INK)
    for j in range(1, n_subvectors):
        axis.axvline(j * size - 0.5, color="white", linewidth=5)
    axis.set_xticks([j * size + (size - 1) / 2 for j in range(n_subvectors)],
                    [f"piece {j + 1}" for j in range(n_subvectors)], fontsize=9)
    axis.xaxis.tick_top()
    axis.tick_params(length=0)
    axis.set_yticks([])
    axis.set_ylabel(title, rotation=0, ha="left", va="center", fontsize=10, color=INK, labelpad=0)
    axis.yaxis.set_label_coords(1.02, 0.5)


def _pq_codebook(figure, rect, codebook, chosen, j, limit):
    """Codebook ``j`` (centroids, sub) drawn with one column per centroid; the chosen centroid outlined."""
    from matplotlib.patches import Rectangle

    axis = figure.add_axes(rect)
    axis.imshow(codebook.T, cmap=_diverging(), vmin=-limit, vmax=limit, aspect="auto")
    axis.add_patch(Rectangle((chosen - 0.5, -0.5), 1, codebook.shape[1], fill=False, edgecolor=INK, linewidth=2.2))
    axis.set_title(f"codebook {j + 1}", fontsize=9.5, color=INK)
    axis.set_xticks(sorted({chosen} | {end for end in (0, len(codebook) - 1) if abs(end - chosen) > 1}))
    axis.tick_params(labelsize=8, length=2)
    axis.set_yticks([])
    axis.set_xlabel(f"piece {j + 1} -> centroid {chosen}", fontsize=9.5, color=INK, weight="bold")


def _pq_table(figure, rect, table, code):
    """The query's distance table (pieces x centroids) with its values; the item's code cells outlined."""
    from matplotlib.patches import Rectangle

    axis = figure.add_axes(rect)
    limit = float(np.abs(table).max())
    axis.imshow(table, cmap=_diverging(), vmin=-limit, vmax=limit, aspect="auto")
    for (row, column), value in np.ndenumerate(table):
        axis.text(column, row, _two_places(value), ha="center", va="center", fontsize=7.5, color=INK,
                  weight="bold" if column == code[row] else "normal")
    for row, column in enumerate(code):
        axis.add_patch(Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, edgecolor=INK, linewidth=2.2))
    axis.set_yticks(range(len(table)), [f"piece {row + 1}" for row in range(len(table))], fontsize=9)
    axis.set_xticks(range(table.shape[1]))
    axis.tick_params(labelsize=8, length=0)
    axis.set_xlabel("centroid", fontsize=9, color=INK)
    axis.set_title("4. once per query, the distance table T[j, c] = (piece j of q) · (centroid c of codebook j)",
                   fontsize=10.5, weight="bold", color=INK, loc="left", x=-0.033, pad=8)


def _pq_sum(figure, picked, code, index_score, exact, item):
    """The approximate score written out: one table entry per piece, added, beside what the index returned."""
    terms = " + ".join(f"T[{j + 1}, {c}]" for j, c in enumerate(code))
    values = " + ".join(f"{value:.3f}" for value in picked).replace("+ -", "- ")
    figure.text(0.7, 0.2, f"score of item {item}, from {len(code)} look-ups:\n{terms}\n= {values}\n"
                f"= {picked.sum():.3f}", fontsize=10, color=INK, va="top", linespacing=1.5)
    figure.text(0.7, 0.075, f"index.search(q, k=1) -> {index_score:.3f}: the same\n"
                f"exact cosine of q and item {item}: {exact:.3f}", fontsize=10, color=QUERY, va="top",
                linespacing=1.5)
