"""choose_index: the index it returns reaches the recall target against exact search (the oracle) on
queries it never saw, stays within the memory budget or refuses clearly, falls back to exact search
when nothing approximate is worth it, and reports every candidate it tried.

Data: ``mixture_embeddings`` (data/synthetic.py), an anisotropic Gaussian mixture independent of the
course's own generator; small (N of a few thousand, d = 64) so that the whole file runs in seconds."""

from __future__ import annotations

import numpy as np
import pytest

from imgsim_tutorial import ChoiceReport, CosineIndex, NoIndexFitsError, choose_index, recall_at_k
from imgsim_tutorial.choose import _bytes_at, _leave_out
from imgsim_tutorial.data.synthetic import mixture_embeddings
from imgsim_tutorial.evaluation import index_bytes
from imgsim_tutorial.ivf import IVFIndex
from imgsim_tutorial.pq import PQIndex

N, DIM, TARGET = 3000, 64, 0.9
FAST = {"rounds": 3, "n_timed": 10, "n_queries": 100}  # timing kept short: these tests check choices, not speeds
CLASSES = {"ivf": "IVFIndex", "graph": "GraphIndex", "hnsw": "HNSWIndex", "lsh": "LSHIndex", "pq": "PQIndex"}


@pytest.fixture(scope="module")
def data():
    return mixture_embeddings(N, DIM, n_queries=300, seed=5)


@pytest.fixture(scope="module")
def chosen(data):
    """One call with every default candidate, shared by the tests that read its report."""
    return choose_index(data[0], k=10, recall_target=TARGET, **FAST)


def held_out_recall(index, data, k=10) -> float:
    embeddings, queries = data
    return recall_at_k(index.search(queries, k)[1], CosineIndex().add(embeddings).search(queries, k)[1])


def test_the_returned_index_reaches_the_target_on_queries_it_never_saw(chosen, data):
    index, report = chosen
    assert len(index) == N and isinstance(report, ChoiceReport)
    assert held_out_recall(index, data) >= TARGET
    assert report.chosen["stage"] == "all N" and report.chosen["recall"] >= TARGET
    assert report.n == N and report.seconds > 0 and report.sample_n == N - report.n_tuning_queries


@pytest.mark.parametrize("method", sorted(CLASSES))
def test_each_kind_of_index_reaches_the_target_when_it_is_the_only_candidate(method, data):
    """min_speedup=0: the candidate is taken even if exact search would be faster at this small N."""
    index, report = choose_index(data[0], recall_target=TARGET, methods=(method,), min_speedup=0, **FAST)
    assert type(index).__name__ == CLASSES[method], report.reason
    assert held_out_recall(index, data) >= TARGET
    assert {row["method"].split(" ")[0] for row in report.rows} == {"CosineIndex", CLASSES[method]}


def test_a_tight_budget_picks_the_compressed_index(data):
    exact_bytes = index_bytes(CosineIndex().add(data[0]))
    budget = exact_bytes / 4  # room for PQ codes, not for float vectors
    index, report = choose_index(data[0], recall_target=TARGET, memory_budget_bytes=budget, methods=("ivf", "pq"),
                                 **FAST)
    assert isinstance(index, PQIndex), report.reason
    assert index_bytes(index) <= budget and report.chosen["bytes"] == index_bytes(index)
    assert held_out_recall(index, data) >= TARGET
    over = {row["method"] for row in report.rows if not row["within_budget"]}
    assert {"CosineIndex (exact)", "IVFIndex"} <= over and "budget" in report.reason


def test_a_budget_nothing_fits_is_refused_with_the_report(data):
    with pytest.raises(NoIndexFitsError, match="memory_budget_bytes") as caught:
        choose_index(data[0], memory_budget_bytes=10_000, methods=("ivf", "pq"), **FAST)
    assert isinstance(caught.value, ValueError) and caught.value.report.chosen is None
    assert {"IVFIndex", "PQIndex"} <= {row["method"] for row in caught.value.report.rows}


def test_a_tiny_collection_gets_exact_search():
    embeddings, _ = mixture_embeddings(300, DIM, seed=1)
    index, report = choose_index(embeddings)
    assert isinstance(index, CosineIndex) and len(index) == 300
    assert report.chosen["method"] == "CosineIndex (exact)" and "exact search" in report.reason
    assert [row["method"] for row in report.rows] == ["CosineIndex (exact)"]


def test_a_tiny_collection_over_the_budget_is_refused():
    embeddings, _ = mixture_embeddings(300, DIM, seed=1)
    with pytest.raises(NoIndexFitsError, match="exact search needs"):
        choose_index(embeddings, memory_budget_bytes=1_000)


def test_exact_search_when_nothing_approximate_is_fast_enough(data):
    index, report = choose_index(data[0], methods=("ivf",), min_speedup=1e6, **FAST)
    assert isinstance(index, CosineIndex) and "faster than exact" in report.reason
    ivf = [row for row in report.rows if row["method"] == "IVFIndex" and row["meets_target"]]
    assert ivf and "under" in ivf[-1]["note"]


def test_given_queries_are_split_into_tuning_and_check_queries(data):
    embeddings, queries = data
    index, report = choose_index(embeddings, queries[:100], methods=("ivf",), min_speedup=0, rounds=3, n_timed=10)
    assert report.n_tuning_queries == report.n_check_queries == 50 and report.sample_n == N
    assert isinstance(index, IVFIndex) and held_out_recall(index, data) >= TARGET


def test_string_ids_reach_the_returned_index(data):
    ids = [f"image-{row}" for row in range(N)]
    index, _ = choose_index(data[0], ids=ids, methods=("ivf",), min_speedup=0, **FAST)
    assert index.search(data[0][7], 1)[1][0, 0] == "image-7"


@pytest.mark.parametrize("change, match", [
    ({"queries": np.ones((30, DIM + 1))}, "dimension"),
    ({"queries": np.ones((5, DIM))}, "at least 20 queries"),
    ({"k": N}, "k must be between 1 and"),
    ({"k": 0}, "k must be between 1 and"),
    ({"recall_target": 0}, "recall_target must be a number in"),
    ({"recall_target": 1.5}, "recall_target must be a number in"),
    ({"recall_target": float("nan")}, "recall_target"),
    ({"recall_target": "0.9"}, "recall_target"),
    ({"memory_budget_bytes": -1}, "memory_budget_bytes must be a positive number"),
    ({"memory_budget_bytes": 0}, "memory_budget_bytes"),
    ({"methods": ("ivf", "annoy")}, "methods must name candidates"),
    ({"min_speedup": -1}, "min_speedup"),
    ({"sample_size": 10}, "sample_size"),
])
def test_bad_inputs_are_refused_with_what_was_expected(data, change, match):
    with pytest.raises(ValueError, match=match):
        choose_index(data[0], **change)


def test_one_vector_is_refused():
    with pytest.raises(ValueError, match="at least 2"):
        choose_index(np.ones(8))


def test_the_report_lists_every_candidate_tried(chosen):
    _, report = chosen
    methods = {row["method"] for row in report.rows}
    assert {"CosineIndex (exact)", "IVFIndex", "GraphIndex", "HNSWIndex (FAISS)", "LSHIndex", "PQIndex"} <= methods
    table, shown = report.table(), repr(report)
    assert all(method in table for method in methods) and "chosen:" in shown and "why:" in shown
    assert len(table.splitlines()) == len(report.rows) + 2
    assert [row["note"].startswith("CHOSEN") for row in report.rows].count(True) == 1
    page = report._repr_html_()
    assert page.count("<tr") == len(report.rows) + 1 and page.count("font-weight:bold") == 1


def test_each_sweep_stops_at_the_first_setting_that_reaches_the_target(chosen):
    _, report = chosen
    for method in ("IVFIndex", "GraphIndex", "HNSWIndex (FAISS)", "PQIndex"):
        sweep = [row for row in report.rows if row["method"] == method and row["stage"] == "sample"]
        assert [row["value"] for row in sweep] == sorted(row["value"] for row in sweep)
        assert [row["meets_target"] for row in sweep] == [False] * (len(sweep) - 1) + [True]
        assert np.isfinite(sweep[-1]["speedup"]) and not any(np.isfinite(row["speedup"]) for row in sweep[:-1])


def test_the_chosen_setting_is_the_cheapest_that_reaches_the_target_at_n(chosen):
    _, report = chosen
    at_n = [row for row in report.rows if row["stage"] == "all N" and row["method"] == report.chosen["method"]]
    below = [row for row in at_n if row["value"] is not None and row["value"] < report.chosen["value"]]
    assert report.chosen["meets_target"] and all(not row["meets_target"] for row in below)


def test_memory_at_n_scales_what_grows_with_n_and_keeps_what_does_not(data):
    """IVF's vectors, ids and lists grow with n, its centroids do not; PQ's codes grow, its codebooks do not."""
    embeddings = data[0]
    for make in (lambda: IVFIndex(n_lists=20, n_iter=3), lambda: PQIndex(n_subvectors=8, n_bits=6, n_iter=3)):
        small, large = make().add(embeddings[:1000]), make().add(embeddings)
        assert _bytes_at(small, N) == index_bytes(large)


def test_leave_one_out_drops_each_query_from_its_own_results():
    ids = np.array([[7, 1, 2], [3, 4, 5]])
    assert _leave_out(ids, np.array([7, 9]), 2).tolist() == [[1, 2], [3, 4]]
