"""benchmarks/beyond_lsh.py, the course's one comparison, end to end at a small size: every family in one
run, each row timed against exact search in the same rounds (the full run at 50,000 is `make benchmark`'s)."""

import json

import pytest
from conftest import load_benchmark

FAMILIES = {"exact", "lsh", "ivf", "pq", "ivf_pq", "graph", "faiss_flat", "faiss_ivf", "faiss_hnsw"}


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    benchmark = load_benchmark("beyond_lsh")
    benchmark.ROOT = tmp_path_factory.mktemp("root")  # the stored file goes here, not into the package
    benchmark.ROUNDS, benchmark.N_TIMED = 1, 3
    return json.loads(benchmark.main(1_500).read_text())


def test_every_family_in_one_run(comparison):
    assert {row["family"] for row in comparison["rows"]} == FAMILIES
    for row in comparison["rows"]:
        assert row["exact_ms"] > 0 and row["speedup"] > 0 and row["build_s"] >= 0 and row["bytes_per_image"] > 0
        assert 0 <= row["recall"] <= 1
    exact = [row for row in comparison["rows"] if row["family"] in ("exact", "faiss_flat")]
    assert all(row["recall"] == 1.0 for row in exact)  # two exact searches agree: the oracle checks itself
    assert comparison["exact_ms"] > 0 and comparison["threads"] == 1 and comparison["hnsw_layers"]
