"""PartitionExplorer and GraphWalk: pure views checked against brute force, widgets driven headless."""

import io

import numpy as np
import pytest
from PIL import Image

from imgsim_tutorial.ivf import nearest_centroids
from imgsim_tutorial.widgets import GraphWalk, PartitionExplorer, graph_walk_view, partition_view
from imgsim_tutorial.widgets.buckets import demo_points
from imgsim_tutorial.widgets.graph_walk import lift, walk_points


def png_size(data):
    return Image.open(io.BytesIO(data)).size


@pytest.fixture(scope="module")
def points():
    return demo_points(150, seed=1)


def test_partition_view_matches_brute_force(points):
    view = partition_view(points, 40, n_cells=6, n_probes=2, k=5)
    units = points / np.linalg.norm(points, axis=1, keepdims=True)
    query = np.array([np.cos(np.radians(40)), np.sin(np.radians(40))])
    assert set(view["true_top"].tolist()) == set(np.argsort(-(units @ query))[:5].tolist())
    for name in ("lsh", "ivf"):
        part = view[name]
        scanned = np.isin(part["cells"], part["probed"])
        assert np.array_equal(scanned, part["scanned"]) and part["share"] == pytest.approx(scanned.mean())
        assert part["recall"] == pytest.approx(np.isin(view["true_top"], np.flatnonzero(scanned)).mean())
    ivf = view["ivf"]
    assert np.array_equal(ivf["cells"], nearest_centroids(units.astype(np.float32), ivf["shape"])[:, 0])
    assert len(ivf["probed"]) == 2 and ivf["n_regions"] == 6
    lsh = view["lsh"]  # 3 random lines through the origin: 6 wedges, codes from the sign of each margin
    assert lsh["n_regions"] == 6
    assert np.array_equal(lsh["cells"], ((units @ lsh["shape"].T > 0) * [1, 2, 4]).sum(1))


def test_probing_every_cell_scans_everything(points):
    view = partition_view(points, 200, n_cells=8, n_probes=8)
    assert view["ivf"]["share"] == 1.0 and view["ivf"]["recall"] == 1.0
    with pytest.raises(ValueError, match="n_probes <= n_cells"):
        partition_view(points, 0, n_cells=4, n_probes=5)


def test_learned_cells_scan_less_for_the_same_recall_on_average(points):
    lsh, ivf = [], []
    for angle in range(0, 360, 15):
        view = partition_view(points, angle, n_cells=8, n_probes=1)
        lsh.append((view["lsh"]["share"], view["lsh"]["recall"]))
        ivf.append((view["ivf"]["share"], view["ivf"]["recall"]))
    lsh, ivf = np.mean(lsh, axis=0), np.mean(ivf, axis=0)
    assert ivf[1] / ivf[0] > lsh[1] / lsh[0]  # more recall per point scanned


def test_partition_explorer_follows_its_sliders():
    explorer = PartitionExplorer(n_cells=6, n_probes=1)
    first, text = explorer.image.value, explorer.summary.value
    assert png_size(first)[0] > 500 and "probes 1 of" in text and "recall@5" in text
    explorer.n_probes.value = 3
    assert "probes 3 of" in explorer.summary.value and explorer.image.value != first
    explorer.n_cells.value = 2  # fewer cells than probes: the probe slider follows
    assert explorer.n_probes.max == 2 and explorer.n_probes.value == 2
    assert "IVF</b>: probes 2 of 2 cells" in explorer.summary.value and "(100%)" in explorer.summary.value
    before = explorer.summary.value
    explorer.n_cells.value, explorer.n_probes.value, explorer.query_angle.value = 12, 1, 220
    assert explorer.summary.value != before and explorer.view["n_cells"] == 12


def test_graph_walk_view_follows_links_and_a_wide_beam_is_exact():
    points, queries = walk_points()
    view = graph_walk_view(points, queries[1], n_neighbors=4, ef_search=len(points))
    assert view["recall"] == 1.0 and view["n_scored"] == len(points)
    narrow = graph_walk_view(points, queries[1], n_neighbors=4, ef_search=1)
    edges = {tuple(edge) for edge in narrow["edges"].tolist()}
    for a, b in zip(narrow["path"], narrow["path"][1:]):
        assert (min(a, b), max(a, b)) in edges
    exact = np.argsort(-(lift(points) @ lift(queries[1])[0]))[:5]
    assert set(view["true_top"].tolist()) == set(exact.tolist())
    assert narrow["n_scored"] < len(points) / 2


def test_graph_walk_widget_follows_its_sliders():
    walk = GraphWalk(ef_search=1)
    first, text = walk.image.value, walk.summary.value
    assert png_size(first)[0] > 300 and "steps from the entry point" in text
    walk.ef_search.value = 40
    wide = walk.summary.value
    assert wide != text and walk.view["n_scored"] >= 40 and walk.view["ef_search"] == 40
    walk.query.value = 5
    assert walk.summary.value != wide and walk.image.value != first
    walk.n_neighbors.value = 8
    assert walk.view["n_neighbors"] == 8
