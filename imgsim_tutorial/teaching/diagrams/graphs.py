"""A neighbour graph's walk (notebook 07), drawn from ``GraphIndex.walk``, and HNSW's layers, read
from FAISS's ``IndexHNSWFlat``, with one query's descent.
"""

from __future__ import annotations

import numpy as np

from ._draw import (
    ACCENT,
    DPI,
    INK,
    LAYER_STEP,
    PALE,
    QUERY,
    SHADE,
    _arrow,
    _fit_view,
    _legend,
    _map_and_side,
    cap_points,
    gnomonic,
    lift,
)


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

    from ...graph import GraphIndex

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
