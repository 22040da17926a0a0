"""FilterExplorer: the pure view's numbers against exact filtered search, the widget driven headless."""

import io

import numpy as np
import pytest
from PIL import Image

import imgsim_tutorial as t
from imgsim_tutorial.filtering import postfilter_search, prefilter_search
from imgsim_tutorial.widgets import FilterExplorer, filter_view
from imgsim_tutorial.widgets.filters import STRATEGIES, filter_demo, plot_filter_view, random_filter, share_label


@pytest.fixture(scope="module")
def demo():
    return filter_demo(n=3000, dim=32, n_queries=8, seed=0)


def test_random_filter_allows_the_share_and_at_least_k():
    mask = random_filter(3000, 0.05, k=10, seed=4)
    assert mask.dtype == bool and mask.sum() == 150
    assert random_filter(3000, 0.001, k=10).sum() == 10  # 3 would leave exact search short of k
    assert np.array_equal(random_filter(3000, 0.2, seed=1), random_filter(3000, 0.2, seed=1))


@pytest.mark.parametrize("index_name", ["IVFIndex", "HNSWIndex"])
@pytest.mark.parametrize("share", [0.5, 0.01])
def test_the_view_s_numbers_are_those_of_exact_filtered_search(demo, index_name, share):
    view = filter_view(demo, index_name, share, k=10, seed=3, rounds=1)
    mask = random_filter(len(demo["embeddings"]), share, 10, seed=3)
    index, queries = demo["indexes"][index_name], demo["queries"]
    truth = prefilter_search(demo["embeddings"], queries, 10, mask)[1]
    assert view["n_allowed"] == mask.sum() and view["n"] == len(index) and set(view["rows"]) == set(STRATEGIES)
    inside = index.search_with_stats(queries, 10, allowed=mask, plan="inside")
    assert view["rows"]["inside"]["recall"] == pytest.approx(t.recall_at_k(inside[1], truth))
    assert view["rows"]["inside"]["scanned"] == pytest.approx(inside[2]["n_candidates"].mean() / len(index))
    post = postfilter_search(index, queries, 10, mask)[1]  # the view's post-filter is the package's
    assert view["rows"]["post-filter"]["recall"] == pytest.approx(t.recall_at_k(post, truth))
    exact = view["rows"]["exact"]
    assert exact["recall"] == 1.0 and exact["scanned"] == pytest.approx(mask.mean()) and exact["speedup"] == 1.0
    for row in view["rows"].values():
        assert 0 <= row["recall"] <= 1 and row["ms"] > 0 and row["plan"] in ("inside", "exact", "over-fetch")


def test_post_filtering_ivf_loses_recall_as_the_filter_gets_selective(demo):
    loose = filter_view(demo, "IVFIndex", 0.5, rounds=1)["rows"]
    tight = filter_view(demo, "IVFIndex", 0.005, rounds=1)["rows"]
    assert tight["post-filter"]["recall"] < loose["post-filter"]["recall"] - 0.2
    assert tight["inside"]["recall"] >= 0.9 and tight["auto"]["plan"] == "exact"


def test_a_bad_choice_is_refused(demo):
    with pytest.raises(ValueError, match="index_name must be one of"):
        filter_view(demo, "LSHIndex", 0.1)
    with pytest.raises(ValueError, match="share must be a fraction"):
        filter_view(demo, "IVFIndex", 5)


def test_the_picture_and_the_labels():
    assert share_label(0.005) == "0.5 %" and share_label(0.5) == "50 %"
    view = {"index": "IVFIndex", "share": 0.01, "n": 1000, "n_allowed": 10, "k": 10,
            "rows": {name: {"recall": 0.5, "scanned": 0.02, "ms": 1.0, "speedup": 1.0, "plan": "inside"}
                     for name in STRATEGIES}}
    figure = plot_filter_view(view)
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == list(STRATEGIES)
    assert "1 % allowed" in figure.axes[0].get_title()


def test_the_explorer_follows_its_slider_and_dropdown(demo):
    explorer = FilterExplorer(demo)
    first, text = explorer.image.value, explorer.summary.value
    assert Image.open(io.BytesIO(first)).size[0] > 500
    assert "allows <b>1 %</b>" in text and "(30 of 3,000 items)" in text and "<b>IVFIndex</b>" in text
    assert [label for label, _ in explorer.share.options][:3] == ["50 %", "20 %", "10 %"]
    explorer.share.value = 0.1
    assert "allows <b>10 %</b>" in explorer.summary.value and "(300 of 3,000 items)" in explorer.summary.value
    assert explorer.image.value != first and explorer.view["share"] == 0.1
    shown = explorer.view["rows"]["post-filter"]["recall"]
    assert f"<b>post-filter</b> (over-fetch): recall {shown:.2f}" in explorer.summary.value
    explorer.index_name.value = "HNSWIndex"
    assert "<b>HNSWIndex</b>" in explorer.summary.value and explorer.view["index"] == "HNSWIndex"
    explorer.share.value = 0.01  # back: the cached view, unchanged
    explorer.index_name.value = "IVFIndex"
    assert explorer.summary.value == text
