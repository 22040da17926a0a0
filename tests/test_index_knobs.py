"""benchmarks/index_knobs.py: HNSW's build knobs and fast-scan PQ, run at a tiny size (seconds).

The timings themselves are the full run's job; here: the stored file has what the figures read,
more build effort does not lower HNSW's recall ceiling, fast-scan and plain PQ agree within reason,
every speed is timed in the same rounds as exact search, and both figures draw from a stored-shaped dict.
"""

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import load_benchmark  # noqa: E402

from imgsim_tutorial.data.synthetic import realistic_embeddings  # noqa: E402
from imgsim_tutorial.teaching import plotting  # noqa: E402


@pytest.fixture(scope="module")
def knobs():
    return load_benchmark("index_knobs")


@pytest.fixture(scope="module")
def tiny(knobs):
    """Both experiments on 3,000 SYNTHETIC vectors of dimension 64, one round each, as JSON would store them."""
    embeddings, queries = realistic_embeddings(3000, 64, n_queries=50, seed=0)
    settings = {**knobs.QUICK, "rounds": 1, "timed_queries": 5, "batch": 120, "batch_rounds": 1, "n_train": 3000,
                "M": (4, 16), "ef_construction": (8, 64), "ef_search": (4, 16, 64, 256), "pq_m": (16,), "opq_m": 16}
    measured = knobs.measure(embeddings, queries, settings, log=lambda line: None)
    return json.loads(json.dumps({**knobs.header(embeddings, queries, settings), **measured}))


def rows_of(result, **match):
    return [row for row in result["hnsw"]["rows"] if all(row[key] == value for key, value in match.items())]


def test_the_stored_file_has_what_the_benchmark_writes(knobs, tiny):
    stored = json.loads(knobs.output_path(quick=False).read_text())
    assert set(stored) == set(tiny)
    assert set(stored["hnsw"]) == set(tiny["hnsw"]) and set(stored["pq"]) == set(tiny["pq"])
    assert set(stored["hnsw"]["rows"][0]) == set(tiny["hnsw"]["rows"][0])
    assert {key for row in stored["pq"]["rows"] for key in row} == {key for row in tiny["pq"]["rows"] for key in row}
    assert stored["n"] == 50_000 and stored["threads"] == 1 and "compare_speeds" in stored["protocol"]
    assert stored["exact_agreement"] >= 0.999
    assert len(stored["hnsw"]["rows"]) == len(stored["hnsw"]["M"]) * len(stored["hnsw"]["ef_construction"])
    assert knobs.output_path(quick=True).name == "index_knobs_quick.json"


def test_every_build_is_swept_and_its_ceiling_is_its_largest_ef_search(tiny):
    hnsw = tiny["hnsw"]
    assert len(hnsw["rows"]) == len(hnsw["M"]) * len(hnsw["ef_construction"])
    for row in hnsw["rows"]:
        assert len(row["recall"]) == len(row["distances_per_query"]) == len(hnsw["ef_search"])
        assert row["ceiling"] == row["recall"][-1] and 0 <= row["missed_nearest"] <= 1
        assert 0 < row["bottom_links_per_vector"] <= 2 * row["M"] and row["build_cpu_s"] > 0
        assert np.all(np.diff(row["distances_per_query"]) > 0), "a larger efSearch must look at more vectors"
        assert min(np.diff(row["recall"])) > -0.02, "recall should not fall as efSearch grows"
        misses, tied = row["misses_tied"]
        assert 0 <= tied <= misses == round((1 - row["ceiling"]) * tiny["n_queries"] * tiny["k"])


def test_more_build_effort_does_not_lower_the_ceiling(tiny):
    m_values, ef_construction = tiny["hnsw"]["M"], tiny["hnsw"]["ef_construction"]
    for M in m_values:
        ceilings = [rows_of(tiny, M=M, ef_construction=ef)[0]["ceiling"] for ef in ef_construction]
        assert min(np.diff(ceilings)) > -0.02, f"M={M}: a larger efConstruction lowered the ceiling {ceilings}"
    for ef in ef_construction:
        ceilings = [rows_of(tiny, M=M, ef_construction=ef)[0]["ceiling"] for M in m_values]
        assert min(np.diff(ceilings)) > -0.02, f"efConstruction={ef}: a larger M lowered the ceiling {ceilings}"
    best = rows_of(tiny, M=max(m_values), ef_construction=max(ef_construction))[0]
    assert best["ceiling"] >= 0.98 and best["ef_at_target"] is not None and best["speedup"] > 0
    links = [rows_of(tiny, M=M)[0]["link_bytes_per_vector"] for M in m_values]
    assert np.all(np.diff(links) > 0), "more links per vector must cost more memory"


def test_fast_scan_and_plain_pq_agree_within_reason(tiny):
    rows = {row["variant"]: row for row in tiny["pq"]["rows"]}
    plain, fast, rerank = rows["PQ16x8"], rows["PQ16x4fs"], tiny["pq"]["rerank"]
    assert (plain["code_bytes"], fast["code_bytes"]) == (16, 8)  # 8 bits against 4 bits per sub-vector
    assert 0.4 * plain["recall"] <= fast["recall"] <= plain["recall"] + 0.05, (plain["recall"], fast["recall"])
    assert rows[f"PQ16x8 + re-rank {rerank}"]["recall"] >= 0.95
    assert rows[f"PQ16x4fs + re-rank {rerank}"]["recall"] >= 0.9
    assert rows["OPQ16,PQ16x4fs"]["recall"] >= fast["recall"] - 0.1 and rows["OPQ16,PQ16x4fs"]["code_bytes"] == 8
    assert rows["FAISS Flat (IndexFlatIP)"]["recall"] == 1.0 and tiny["exact_agreement"] >= 0.999


def test_every_pq_speed_comes_from_the_same_rounds_as_exact_search(tiny):
    rows = tiny["pq"]["rows"]
    assert len({row["exact_ms"] for row in rows}) == 1 and len({row["exact_batch_qps"] for row in rows}) == 1
    for row in rows:
        assert row["single_ms"] > 0 and row["speedup"] > 0 and row["batch_qps"] > 0 and row["batch_speedup"] > 0
        assert row["speedup_min"] <= row["speedup"] <= row["speedup_max"]


def test_in_degree_and_tied_misses_by_hand(knobs):
    import faiss

    vectors = realistic_embeddings(200, 16, seed=2)[0]
    index = faiss.IndexHNSWFlat(16, 4, faiss.METRIC_INNER_PRODUCT)
    index.add(vectors)
    links = faiss.vector_to_array(index.hnsw.neighbors)
    assert knobs.bottom_layer_in_degree(index).sum() <= (links >= 0).sum()
    assert len(knobs.bottom_layer_in_degree(index)) == 200
    # one query, top-2: the truth is {0, 2}; 1 came back instead of 2, and they score the same
    embeddings = np.array([[1.0, 0.0], [0.6, 0.8], [0.6, -0.8]], dtype=np.float32)
    query = np.array([[1.0, 0.0]], dtype=np.float32)
    found, truth = np.array([[0, 1]]), np.array([[0, 2]])
    assert knobs.tied_misses(embeddings, query, np.array([[1.0, 0.6]]), found, truth) == [1, 1]
    assert knobs.tied_misses(embeddings, query, np.array([[1.0, 0.5]]), found, truth) == [1, 0]  # 2 was better


@pytest.mark.parametrize("source", ["tiny", "stored"])
def test_both_figures_draw_from_a_stored_dict(knobs, tiny, source):
    result = tiny if source == "tiny" else json.loads(knobs.output_path(quick=False).read_text())
    import matplotlib.pyplot as plt

    hnsw = plotting.hnsw_knobs_figure(result)
    sweep, ceilings = hnsw.axes
    assert len(sweep.lines) == len(result["hnsw"]["rows"]) + 1  # one line per build, and the target
    assert sweep.get_xscale() == "log" and [tick.get_text() for tick in sweep.get_xticklabels()] == [
        str(ef) for ef in result["hnsw"]["ef_search"]]
    pq = plotting.pq_fastscan_figure(result)
    recall, speed = pq.axes
    assert len(recall.patches) == len(result["pq"]["rows"]) and len(speed.patches) == 2 * len(result["pq"]["rows"])
    assert any("per vector" in text.get_text() for text in speed.texts)
    assert sweep.get_ylabel() and ceilings.get_ylabel() and recall.get_ylabel()  # speed shares recall's rows
    for figure in (hnsw, pq):
        assert figure.dpi >= 100 and figure.legends, "the key sits outside the panels"
        for axis in figure.axes:
            assert axis.get_xlabel() and axis.get_title() and axis.get_legend() is None
        plt.close(figure)
