"""BucketExplorer: random hyperplanes in 2-D, and the buckets they carve.

``bucket_view`` (pure) computes the hyperplanes, every point's code, the code of every pixel of
the plane (to colour the regions) and the bucket occupancy; ``plot_buckets`` draws it;
``BucketExplorer`` wires two sliders (number of hyperplanes, seed) to both.
"""

from __future__ import annotations

import numpy as np

from ..random_projection import RandomHyperplanes


def demo_points(n: int = 60, seed: int = 0) -> np.ndarray:
    """Three clusters of 2-D points at different angles, for the demo."""
    rng = np.random.default_rng(seed)
    angles = np.array([0.3, 2.2, 4.1])[rng.integers(3, size=n)] + rng.normal(0, 0.25, n)
    radii = rng.uniform(0.4, 1.0, n)
    return np.c_[radii * np.cos(angles), radii * np.sin(angles)]


def bucket_view(points, n_planes: int, seed: int = 0, grid: int = 121) -> dict:
    """Everything the explorer shows, for ``n_planes`` random lines through the origin.

    Returns ``normals`` (n_planes, 2), ``codes`` of the points, ``region_codes`` (grid, grid)
    over [-1.2, 1.2]^2, and ``occupancy``: ``{code: count}`` of the non-empty buckets.
    """
    planes = RandomHyperplanes(n_planes, 2, seed=seed)
    codes = planes.codes(points)
    axis = np.linspace(-1.2, 1.2, grid)
    xx, yy = np.meshgrid(axis, axis)
    plane_points = np.c_[xx.ravel(), yy.ravel()]
    plane_points[np.all(plane_points == 0, axis=1)] = 1e-9  # the origin itself has no side
    region_codes = planes.codes(plane_points).reshape(grid, grid)
    found, counts = np.unique(codes, return_counts=True)
    return {"points": np.asarray(points), "normals": planes.normals, "codes": codes, "region_codes": region_codes,
            "extent": (-1.2, 1.2), "occupancy": dict(zip(found.tolist(), counts.tolist())),
            "n_regions": len(np.unique(region_codes)), "n_planes": n_planes}


def region_centres(view: dict) -> dict:
    """``{code: (x, y)}``: the mean position of each region's pixels, where its label goes.

    Each region is a wedge cut by lines through the origin (convex), so its centre lies inside it.
    """
    low, high = view["extent"]
    grid = view["region_codes"].shape[0]
    axis = np.linspace(low, high, grid)
    xx, yy = np.meshgrid(axis, axis)
    return {int(code): (float(xx[view["region_codes"] == code].mean()), float(yy[view["region_codes"] == code].mean()))
            for code in np.unique(view["region_codes"])}


def plot_buckets(view: dict):
    """Left: regions coloured by bucket code, the lines, the points. Right: occupancy bars."""
    import matplotlib.pyplot as plt
    from matplotlib import colormaps

    from ..teaching.plotting import DPI, integer_ticks

    figure, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.9), dpi=DPI, gridspec_kw={"width_ratios": [1.1, 1]})
    codes_present = np.unique(view["region_codes"])
    palette = colormaps["tab10" if len(codes_present) <= 10 else "tab20"]
    colour_of = {code: palette(i % palette.N) for i, code in enumerate(codes_present.tolist())}
    region_rgb = np.array([[colour_of[c] for c in row] for row in view["region_codes"].tolist()])
    low, high = view["extent"]
    left.imshow(region_rgb, extent=(low, high, low, high), origin="lower", alpha=0.35)
    for normal in view["normals"]:
        direction = np.array([-normal[1], normal[0]]) / np.linalg.norm(normal)
        left.plot(*np.c_[-2 * direction, 2 * direction], color="#333333", lw=1)
        left.arrow(0, 0, *(0.35 * normal / np.linalg.norm(normal)), head_width=0.05, color="#333333")
    left.scatter(view["points"][:, 0], view["points"][:, 1], s=18,
                 c=[colour_of[c] for c in view["codes"].tolist()], edgecolors="black", linewidths=0.6)
    width = view["n_planes"]
    for code, (x, y) in region_centres(view).items():  # name every wedge by its code
        left.text(x, y, format(code, f"0{width}b"), ha="center", va="center", fontsize=7 if width > 4 else 8,
                  family="monospace", bbox={"facecolor": "white", "alpha": 0.75, "pad": 1, "edgecolor": "none"})
    left.set_xlim(low, high)
    left.set_ylim(low, high)
    left.set_aspect("equal")
    left.set_xlabel("x")
    left.set_ylabel("y")
    left.set_title(f"{view['n_planes']} hyperplanes -> {view['n_regions']} regions (codes: bit 0 last)", fontsize=9)
    codes = sorted(view["occupancy"], key=view["occupancy"].get, reverse=True)
    right.barh([format(c, f"0{width}b") for c in codes], [view["occupancy"][c] for c in codes],
               color=[colour_of[c] for c in codes], edgecolor="#333333")
    right.invert_yaxis()
    right.set_title(f"bucket occupancy ({len(codes)} non-empty)", fontsize=10)
    right.set_xlabel("points in bucket")
    right.set_ylabel("bucket code")
    integer_ticks(right, "x")
    right.tick_params(axis="y", labelsize=7 if len(codes) > 12 else 9)
    figure.tight_layout()
    return figure


class BucketExplorer:
    """Sliders for the number of hyperplanes and the seed; the picture follows."""

    def __init__(self, points=None, n_planes: int = 3, seed: int = 0):
        import ipywidgets as w

        from .common import figure_png

        self._figure_png = figure_png
        self.points = demo_points() if points is None else np.asarray(points)
        self.n_planes = w.IntSlider(value=n_planes, min=1, max=8, description="hyperplanes", continuous_update=False,
                                    style={"description_width": "initial"})
        self.seed = w.IntSlider(value=seed, min=0, max=20, description="seed", continuous_update=False)
        self.image = w.Image(format="png")
        self.summary = w.HTML()
        for control in (self.n_planes, self.seed):
            control.observe(lambda change: self.refresh(), names="value")
        self.widget = w.VBox([w.HBox([self.n_planes, self.seed]), self.summary, self.image])
        self.refresh()

    def refresh(self):
        self.view = view = bucket_view(self.points, self.n_planes.value, self.seed.value)
        self.image.value = self._figure_png(plot_buckets(view))
        largest = max(view["occupancy"].values())
        self.summary.value = (f"{self.n_planes.value} bits per code; {len(view['occupancy'])} of "
                              f"{2 ** self.n_planes.value} possible buckets hold points; "
                              f"the largest holds {largest} of {len(self.points)}")
