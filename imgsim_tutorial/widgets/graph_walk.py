"""GraphWalk: watch a beam search walk a neighbour graph from its entry point to the query.

``graph_walk_view`` (pure) builds a ``GraphIndex`` on 2-D points and traces one search;
``plot_graph_walk`` draws the links, every node the search scored, and the path it took;
``GraphWalk`` wires sliders for ``n_neighbors``, ``ef_search`` and the query to both.

A 2-D picture of a cosine search needs one trick: each point (x, y) stands for the 3-D unit
vector along (x, y, 1). Nearby points in the picture then have high cosine, so the graph the
index builds and the walk it takes are what you see (a real index does the same in 768-d).
"""

from __future__ import annotations

import numpy as np

from ..graph import GraphIndex


def walk_points(n: int = 160, n_queries: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Blobs of 2-D points in [-1, 1]^2, and held-out queries from the same blobs."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-0.8, 0.8, size=(6, 2))
    which = rng.integers(len(centres), size=n + n_queries)
    points = np.clip(centres[which] + rng.normal(0, 0.13, size=(n + n_queries, 2)), -1, 1)
    return points[:n], points[n:]


def lift(points) -> np.ndarray:
    """2-D points -> unit 3-D vectors along (x, y, 1): (n, 2) -> (n, 3)."""
    points = np.atleast_2d(np.asarray(points, dtype=np.float32))
    lifted = np.c_[points, np.ones(len(points), dtype=np.float32)]
    return lifted / np.linalg.norm(lifted, axis=1, keepdims=True)


def graph_walk_view(points, query, n_neighbors: int = 4, ef_search: int = 4, k: int = 5,
                    n_long_links: int = 0, seed: int = 0) -> dict:
    """The graph and one traced search for the 2-D ``query``.

    Returns ``edges`` (m, 2) row pairs, ``path`` (entry point -> best result), ``scored`` and
    ``expanded`` rows, ``found`` and ``true_top`` rows (exact cosine), ``recall``, ``n_scored``.

    >>> points, queries = walk_points(); view = graph_walk_view(points, queries[0], ef_search=200)
    >>> view["recall"], view["path"][0] == view["entry_point"]
    (1.0, True)
    """
    points = np.asarray(points, dtype=np.float32)
    index = GraphIndex(n_neighbors=n_neighbors, ef_search=ef_search, n_long_links=n_long_links, seed=seed)
    index.add(lift(points))
    walk = index.walk(lift(query), k=k)
    sources = np.repeat(np.arange(len(points)), index.degrees())
    edges = np.unique(np.sort(np.c_[sources, index.neighbors_], axis=1), axis=0)
    true_top = np.argsort(-(lift(points) @ lift(query)[0]), kind="stable")[:k]
    return {"points": points, "query": np.asarray(query, dtype=np.float32), "edges": edges, "path": walk["path"],
            "scored": walk["scored"], "expanded": np.array(walk["expanded"]), "found": walk["rows"],
            "true_top": true_top, "recall": float(np.isin(true_top, walk["rows"]).mean()),
            "n_scored": int(len(walk["scored"])), "entry_point": walk["entry_point"], "k": k,
            "n_neighbors": n_neighbors, "ef_search": ef_search}


def plot_graph_walk(view: dict):
    """The links (grey), scored nodes (dark), the walk (red path), the query (star)."""
    import matplotlib.pyplot as plt

    figure, panel = plt.subplots(figsize=(5.6, 5.0), dpi=80)
    points = view["points"]
    segments = points[view["edges"]]
    for a, b in segments:
        panel.plot([a[0], b[0]], [a[1], b[1]], color="#cccccc", lw=0.5, zorder=1)
    scored = np.zeros(len(points), dtype=bool)
    scored[view["scored"]] = True
    panel.scatter(*points[~scored].T, s=10, c="#bbbbbb", zorder=2)
    panel.scatter(*points[scored].T, s=16, c="#333333", zorder=3, label=f"scored ({view['n_scored']})")
    panel.scatter(*points[view["true_top"]].T, s=90, facecolors="none", edgecolors="#2a9d8f", linewidths=1.5,
                  zorder=4, label=f"true top-{view['k']}")
    path = points[view["path"]]
    panel.plot(*path.T, color="#d1495b", lw=2, marker="o", ms=4, zorder=5, label=f"walk ({len(path) - 1} steps)")
    panel.scatter(*points[view["entry_point"]], marker="s", s=70, c="#1f3a93", zorder=6, label="entry point")
    panel.scatter(*view["query"], marker="*", s=220, c="#d1495b", zorder=7, label="query")
    panel.set_xlim(-1.1, 1.1)
    panel.set_ylim(-1.1, 1.1)
    panel.set_aspect("equal")
    panel.set_xticks([])
    panel.set_yticks([])
    panel.set_title(f"n_neighbors={view['n_neighbors']}, ef_search={view['ef_search']}: scored "
                    f"{view['n_scored']} of {len(points)}, recall@{view['k']} {view['recall']:.2f}", fontsize=10)
    panel.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    return figure


class GraphWalk:
    """Sliders for links per node, beam width and which query; the walk follows."""

    def __init__(self, points=None, queries=None, n_neighbors: int = 4, ef_search: int = 4, k: int = 5):
        import ipywidgets as w

        from .common import figure_png

        self._figure_png, self.k = figure_png, k
        default_points, default_queries = walk_points()
        self.points = default_points if points is None else np.asarray(points)
        self.queries = default_queries if queries is None else np.asarray(queries)
        style = {"description_width": "initial"}
        self.n_neighbors = w.IntSlider(value=n_neighbors, min=2, max=10, description="n_neighbors",
                                       continuous_update=False, style=style)
        self.ef_search = w.IntSlider(value=ef_search, min=1, max=40, description="ef_search", continuous_update=False,
                                     style=style)
        self.query = w.IntSlider(value=0, min=0, max=len(self.queries) - 1, description="query",
                                 continuous_update=False, style=style)
        self.image = w.Image(format="png")
        self.summary = w.HTML()
        for control in (self.n_neighbors, self.ef_search, self.query):
            control.observe(lambda change: self.refresh(), names="value")
        self.widget = w.VBox([w.HBox([self.n_neighbors, self.ef_search, self.query]), self.summary, self.image])
        self.refresh()

    def refresh(self):
        self.view = view = graph_walk_view(self.points, self.queries[self.query.value], self.n_neighbors.value,
                                           self.ef_search.value, self.k)
        self.image.value = self._figure_png(plot_graph_walk(view))
        self.summary.value = (f"walk of {len(view['path']) - 1} steps from the entry point; the beam scored "
                              f"{view['n_scored']} of {len(view['points'])} points; "
                              f"recall@{view['k']} {view['recall']:.2f}")
