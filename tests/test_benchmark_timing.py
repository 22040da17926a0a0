"""benchmarks/run.py and benchmarks/before_after.py time by the course's one protocol (compare_speeds):
every setting next to exact search in the same rounds, on pinned threads. Small sizes: the
timings themselves are the full runs' job."""

import numpy as np
import pytest
from conftest import clustered, load_benchmark
from threadpoolctl import threadpool_info

from imgsim_tutorial import CosineIndex

K = 10
SETTING = {"n_bits": 8, "n_tables": 4, "n_probes": 5, "min_collisions": 1, "center": True}


@pytest.fixture(scope="module")
def run_benchmark():
    return load_benchmark("run")


@pytest.fixture(scope="module")
def small():
    vectors = clustered(2040, 32, n_clusters=20, seed=1)
    return vectors[:2000], vectors[2000:]


class Watched(CosineIndex):
    """Exact search that notes, for each single query, the BLAS threads it ran on."""

    single_query_threads = []

    def search(self, queries, k=5):
        if np.ndim(queries) == 1:
            self.single_query_threads.append({info["num_threads"] for info in threadpool_info()
                                              if info["user_api"] == "blas"})
        return super().search(queries, k)


def quiet(message):
    pass


def test_every_sweep_row_is_timed_against_exact_search(run_benchmark, small):
    data, queries = small
    exact = Watched().add(data)
    truth = exact.search(queries, K)[1]
    builds = [(8, 4, True, ((1, 1), (5, 1)))]
    rows = run_benchmark.measure([run_benchmark.exact_method(exact), run_benchmark.lsh_method(data, builds, quiet)],
                                 exact, queries, truth, n_single=5, log=quiet)
    exact_row, *lsh_rows = rows
    assert len(lsh_rows) == 2 and exact_row["recall"] == 1.0 and exact_row["speedup"] == 1.0
    for row in lsh_rows:
        assert row["exact_ms"] > 0 and row["single_ms"] > 0 and row["speedup"] > 0
        assert row["batch_qps"] > 0 and row["batch_speedup"] > 0 and 0 < row["scanned"] <= 1
        assert "speedup" not in run_benchmark.settings_text(row)  # a result, not a setting
    assert Watched.single_query_threads and all(threads <= {1} for threads in Watched.single_query_threads)
    table = "\n".join(run_benchmark.sweep_table("curves", {"n": len(data), "rows": rows}))
    assert "speed-up over exact" in table and f"| {lsh_rows[0]['speedup']:.1f}x |" in table


def test_the_key_points_keep_every_round_and_the_range_of_the_speedups(run_benchmark, small):
    data, queries = small
    result = run_benchmark.rounds_vs_exact(CosineIndex().add(data), data, queries, SETTING, n_single=5, n_rounds=3)
    assert len(result["exact_ms"]) == len(result["lsh_ms"]) == len(result["exact_batch_qps_1t"]) == 3
    ratios = np.array(result["exact_ms"]) / result["lsh_ms"]  # the same rounds, so one ratio per round
    assert (result["speedup_min"], result["speedup"], result["speedup_max"]) == pytest.approx(
        (ratios.min(), np.median(ratios), ratios.max()))
    batch = np.array(result["lsh_batch_qps"]) / result["exact_batch_qps"]
    assert result["batch_ratio"] == pytest.approx(np.median(batch))
    assert result["settings"] == SETTING and 0 < result["scanned"] <= 1 and result["overhead"]["ratio"] > 0
    assert "| 2,000 |" in "\n".join(run_benchmark.targets_table([{**result, "n": 2000, "recall": 0.9}]))


def test_before_after_times_each_setting_against_exact_search(capsys):
    before_after = load_benchmark("before_after")
    before_after.main(["--after", "8,4,1", "--after", "8,4,5,2", "--n", "1500", "--queries", "20", "--single", "4",
                       "--rounds", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("| exact (CosineIndex) | 1.000 |") for line in lines)
    for label in ("after 8b x 4t x 1p", "after 8b x 4t x 5p >=2"):
        (line,) = [line for line in lines if line.startswith(f"| {label} |")]
        speedup, spread = line.split("|")[4].strip().split(" ")
        low, high = map(float, spread.strip("[]").split("-"))
        assert speedup.endswith("x") and low <= float(speedup[:-1]) + 0.05 and float(speedup[:-1]) <= high + 0.05
