"""benchmarks/vs_faiss.py on a small scale: its data generator, its protocol end to end, and our
indexes against FAISS's on the same data (quality only; the timings are the benchmark's job)."""

import json

import numpy as np
import pytest
from conftest import load_benchmark

from imgsim_tutorial import CosineIndex, recall_at_k
from imgsim_tutorial.data.synthetic import mixture_embeddings
from imgsim_tutorial.graph import GraphIndex
from imgsim_tutorial.ivf import IVFIndex

faiss = pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def vs_faiss():
    return load_benchmark("vs_faiss")


@pytest.fixture(scope="module")
def mixture(vs_faiss):
    return mixture_embeddings(3000, 96, n_queries=60, seed=5)


def test_mixture_looks_like_embeddings(vs_faiss, mixture):
    embeddings, queries = mixture
    assert embeddings.shape == (3000, 96) and queries.shape == (60, 96) and embeddings.dtype == np.float32
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)
    again, _ = mixture_embeddings(3000, 96, n_queries=60, seed=5)
    assert np.array_equal(again, embeddings)  # seeded
    pairs = np.random.default_rng(0).integers(3000, size=(2, 2000))
    random_pair = np.mean(np.sum(embeddings[pairs[0]] * embeddings[pairs[1]], axis=1))
    top1 = CosineIndex().add(embeddings).search(queries, 1)[0].mean()
    assert 0.3 < random_pair < 0.8 and top1 > random_pair + 0.2  # a shared direction, and real neighbours


def test_ivf_finds_what_faiss_ivfflat_finds_with_the_same_probes(mixture):
    embeddings, queries = mixture
    _, exact = CosineIndex().add(embeddings).search(queries, 10)
    ours = IVFIndex(n_lists=40, n_probes=4, seed=0).add(embeddings)
    theirs = faiss.IndexIVFFlat(faiss.IndexFlatIP(96), 96, 40, faiss.METRIC_INNER_PRODUCT)
    theirs.train(embeddings)
    theirs.add(embeddings)
    theirs.nprobe = 4
    assert recall_at_k(ours.search(queries, 10)[1], exact) >= recall_at_k(theirs.search(queries, 10)[1], exact) - 0.05


def test_graph_with_entry_points_is_as_good_as_hnsw_per_node_scored(mixture):
    embeddings, queries = mixture
    _, exact = CosineIndex().add(embeddings).search(queries, 10)
    ours = GraphIndex(n_neighbors=16, ef_search=32, n_entry_points=3000 // 25).add(embeddings)
    hnsw = faiss.IndexHNSWFlat(96, 16, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 40
    hnsw.add(embeddings)
    hnsw.hnsw.efSearch = 32
    faiss.cvar.hnsw_stats.reset()
    _, theirs = hnsw.search(queries, 10)
    _, ids, stats = ours.search_with_stats(queries, 10)
    assert recall_at_k(ids, exact) >= recall_at_k(theirs, exact) - 0.03
    assert stats["n_candidates"].mean() < 3 * faiss.cvar.hnsw_stats.ndis / len(queries)


def test_the_benchmark_runs_end_to_end(vs_faiss, tmp_path):
    out = tmp_path / "vs_faiss.json"
    result = vs_faiss.main(["--n", "1200", "--n-queries", "40", "--n-timed", "4", "--rounds", "2",
                            "--build-rounds", "1", "--out", str(out)])
    stored = json.loads(out.read_text())
    assert stored["n"] == 1200 and len(stored["rows"]) == len(result["rows"]) == 2 * 3  # 2 data sets x (IVF, 2 graphs)
    for row in stored["rows"]:
        assert row["ours_ms"] > 0 and row["faiss_ms"] > 0 and row["ours_build_s"] > 0
        assert np.isclose(row["ratio"], np.median(np.array(row["ours_ms_rounds"]) / row["faiss_ms_rounds"]))
        # timed by compare_speeds, exact search in the same rounds
        assert len(row["ours_ms_rounds"]) == 2 and len(row["ours_build_rounds"]) == 1
        assert row["exact_ms"] > 0 and row["ours_speedup"] > 0 and row["faiss_speedup"] > 0
        assert {"search_met", "build_met", "recall_met"} <= set(row)
    assert "| data |" in stored["table"]
