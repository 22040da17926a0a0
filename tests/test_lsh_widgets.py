"""BucketExplorer, TableBrowser, TradeoffExplorer: pure views checked by hand, widgets driven headless."""

import numpy as np
import pytest
from conftest import clustered
from PIL import Image

from imgsim_tutorial import CosineIndex, LSHIndex
from imgsim_tutorial.tuning import tradeoff_point
from imgsim_tutorial.widgets import BucketExplorer, TableBrowser, TradeoffExplorer, bucket_view, table_view
from imgsim_tutorial.widgets.tradeoffs import tradeoff_summary


def png_size(data):
    import io

    return Image.open(io.BytesIO(data)).size


def test_bucket_view_counts_regions_and_points():
    points = np.array([[1.0, 0.2], [0.9, 0.3], [-1.0, -0.5], [0.1, -1.0]])
    view = bucket_view(points, n_planes=1, seed=0)
    assert view["n_regions"] == 2  # one line through the origin cuts the plane in two
    assert sum(view["occupancy"].values()) == 4
    view = bucket_view(points, n_planes=3, seed=0)
    assert view["n_regions"] == 6  # three lines through the origin: six wedges, never 2**3
    normals = view["normals"]
    assert np.array_equal(view["codes"], ((points @ normals.T > 0) * [1, 2, 4]).sum(1))


def test_bucket_explorer_follows_its_sliders():
    explorer = BucketExplorer(n_planes=2)
    first = explorer.image.value
    assert png_size(first)[0] > 300 and "of 4 possible buckets" in explorer.summary.value
    explorer.n_planes.value = 5
    assert "of 32 possible buckets" in explorer.summary.value and explorer.image.value != first
    before = explorer.view["codes"].copy()
    explorer.seed.value = 3
    assert not np.array_equal(before, explorer.view["codes"])


@pytest.fixture(scope="module")
def small_index():
    data = clustered(300, 16, n_clusters=3, spread=0.4, seed=0)
    labels = np.argmax(data @ np.random.default_rng(0).standard_normal((16, 3)), axis=1)
    return LSHIndex(n_bits=4, n_tables=3, seed=0).add(data), labels


def test_table_view_matches_brute_force(small_index):
    index, labels = small_index
    view = table_view(index, table=1, bucket_rank=0, labels=labels, max_members=1000)
    codes, counts = np.unique(index.codes_[1], return_counts=True)
    assert view["size"] == counts.max() and view["code"] == codes[np.argmax(counts)]
    assert set(view["members"].tolist()) == set(np.flatnonzero(index.codes_[1] == view["code"]).tolist())
    assert view["purity"] == pytest.approx(np.bincount(labels[view["members"]]).max() / view["size"])
    with pytest.raises(ValueError, match="table must be between 0 and 2"):
        table_view(index, table=3, bucket_rank=0, labels=labels)


def test_table_view_shows_seeded_picks_not_the_first_ids(small_index):
    index, _ = small_index
    grouped = np.repeat([0, 1, 2], 100)  # stored grouped by class, as the Hub's beans are
    full = table_view(index, table=0, bucket_rank=0, labels=grouped, max_members=1000)
    picks = table_view(index, table=0, bucket_rank=0, labels=grouped, max_members=10, seed=1)
    assert len(picks["members"]) == 10 and set(picks["members"]) <= set(full["members"])
    assert np.all(np.diff(picks["members"]) > 0) and not np.array_equal(picks["members"], full["members"][:10])
    assert np.array_equal(picks["labels"], grouped[picks["members"]])
    assert picks["label_counts"] == full["label_counts"]  # counts and purity still cover every member
    again = table_view(index, table=0, bucket_rank=0, labels=grouped, max_members=10, seed=1)
    assert np.array_equal(again["members"], picks["members"])


def test_table_browser_follows_its_choices(small_index):
    index, labels = small_index
    images = [Image.new("RGB", (8, 8), (i % 255, 0, 0)) for i in range(300)]
    browser = TableBrowser(index, images, labels)
    assert len(browser.gallery.children) == min(24, browser.view["size"])
    assert browser.bucket.options[0][0].startswith("#1: ")
    biggest = browser.view["size"]
    browser.bucket.value = len(browser.bucket.options) - 1
    assert browser.view["size"] <= biggest and f"<b>{browser.view['size']}</b> items" in browser.summary.value
    browser.table.value = 2
    assert browser.view["table"] == 2 and browser.bucket.value == 0
    assert png_size(browser.histogram.value)[0] > 200


def test_tradeoff_point_against_exact_search():
    data = clustered(2000, 32, n_clusters=40, spread=0.3, seed=2)
    queries = data[:50] + 0.01
    exact = CosineIndex().add(data).search(queries, 10)
    everything = tradeoff_point(data, queries, exact, n_bits=2, n_tables=1, n_probes=4)
    assert everything["recall"] == 1.0 and everything["fraction_scanned"] == 1.0
    narrow = tradeoff_point(data, queries, exact, n_bits=16, n_tables=1, n_probes=1)
    assert narrow["fraction_scanned"] < 0.1 and narrow["recall"] < everything["recall"]
    # timed against exact search in the same rounds (a CosineIndex built for the call when none is given)
    assert narrow["exact_query_ms"] > 0 and narrow["speedup"] > 0 and narrow["threads"] == 1


def test_tradeoff_summary_shows_the_speedup_next_to_the_times():
    point = {"k": 5, "recall": 0.8, "fraction_scanned": 0.125, "median_query_ms": 0.25, "exact_query_ms": 3.0,
             "speedup": 11.96, "threads": 1}
    summary = tradeoff_summary(point, 1500)
    assert "recall@5 = 0.800" in summary and "scanned <b>12.5%</b> of 1500 candidates" in summary
    assert "median query <b>0.25 ms</b> vs exact search 3.00 ms (same rounds, 1 thread)" in summary
    assert summary.endswith("speed-up <b>12.0x</b>")


def test_tradeoff_explorer_updates_and_caches():
    data = clustered(1500, 32, n_clusters=30, spread=0.3, seed=3)
    explorer = TradeoffExplorer(data, data[:30] + 0.01, k=5, n_bits=10, n_tables=1)
    low = explorer.point["recall"]
    explorer.n_tables.value = 16
    assert explorer.point["recall"] > low
    assert f"recall@5 = {explorer.point['recall']:.3f}" in explorer.summary.value
    explorer.n_tables.value = 1
    assert len(explorer.history) == 2  # the first setting came from the cache


def test_tradeoff_explorer_times_exact_search_with_every_new_setting():
    data = clustered(1500, 32, n_clusters=30, spread=0.3, seed=3)
    explorer = TradeoffExplorer(data, data[:30] + 0.01, k=5, n_bits=10, n_tables=1)
    exact_searches, search = [], explorer.exact_index.search

    def counted(queries, k):
        exact_searches.append(len(queries))
        return search(queries, k)

    explorer.exact_index.search = counted
    explorer.n_tables.value = 8
    assert exact_searches, "exact search is timed again, in the same rounds as the new setting"
    point = explorer.point
    assert point["n_tables"] == 8 and point["exact_query_ms"] > 0 and explorer.exact_time_ms == point["exact_query_ms"]
    assert "median query" in explorer.summary.value
    assert f"speed-up <b>{point['speedup']:.1f}x</b>" in explorer.summary.value
    assert f"vs exact search {point['exact_query_ms']:.2f} ms" in explorer.summary.value
