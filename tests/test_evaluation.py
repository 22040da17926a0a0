"""Metrics worked by hand, and the naive baseline agreeing with the real index."""

import time

import numpy as np
import pytest

from imgsim_tutorial import (
    CosineIndex,
    average_precision,
    mean_average_precision,
    naive_search,
    precision_at_k,
    recall_at_k,
    time_call,
)


def test_precision_by_hand():
    assert precision_at_k([[0, 0, 1], [2, 2, 2]], [0, 2]) == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="queries"):
        precision_at_k([[0, 1]], [0, 1])


def test_recall_by_hand():
    assert recall_at_k([[1, 2, 3]], [[3, 1, 9]]) == pytest.approx(2 / 3)
    assert recall_at_k([[-1, -1, 3]], [[3, 1, 9]]) == pytest.approx(1 / 3)
    assert recall_at_k([[4, 5]], [[4, 5]]) == 1.0
    with pytest.raises(ValueError, match="rows"):
        recall_at_k([[1]], [[1], [2]])


def test_recall_with_string_ids():
    assert recall_at_k(np.array([["a", ""], ["c", "d"]]), np.array([["a", "b"], ["d", "x"]])) == pytest.approx(2 / 4)
    with pytest.raises(ValueError, match="one kind"):
        recall_at_k([["a"]], [[1]])


def test_average_precision_by_hand():
    # AP@k = sum of precision@i over the hit ranks i, divided by min(k, n_relevant)
    assert average_precision([0] + [1] * 9, 0, n_relevant=10) == pytest.approx(0.1)  # was 1.0 before the fix
    assert average_precision([0, 1, 0], 0, n_relevant=2) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([0, 1, 0], 0, n_relevant=50) == pytest.approx((1 + 2 / 3) / 3)  # k=3 caps the divisor
    assert average_precision([1, 1], 0, n_relevant=5) == 0.0
    assert average_precision([1, 1], 0, n_relevant=0) == 0.0
    with pytest.raises(ValueError, match="n_relevant"):
        average_precision([0, 0], 0, n_relevant=1)
    # query 1: hits at ranks 1, 2 of 3 relevant -> (1 + 1) / 2; query 2: hit at rank 2 of 3 -> (1/2) / 2
    candidate_labels = [0, 0, 0, 1, 1, 1]
    assert mean_average_precision([[0, 0], [0, 1]], [0, 1], candidate_labels) == pytest.approx((1 + 0.25) / 2)


def test_mean_average_precision_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="2 queries but 3 query labels"):
        mean_average_precision([[0, 0], [1, 0]], [0, 0, 1], candidate_labels=[0, 1])


@pytest.mark.parametrize("call, name", [
    pytest.param(lambda: precision_at_k([], []), "result_labels", id="precision, empty lists"),
    pytest.param(lambda: precision_at_k(np.zeros((0, 5)), np.zeros(0)), "result_labels", id="precision, 0 queries"),
    pytest.param(lambda: precision_at_k(np.zeros((3, 0)), [0, 1, 2]), "result_labels", id="precision, k=0"),
    pytest.param(lambda: recall_at_k(np.zeros((0, 10)), np.zeros((0, 10))), "found_ids", id="recall, 0 queries"),
    pytest.param(lambda: recall_at_k([[1, 2]], np.zeros((1, 0))), "true_ids", id="recall, no true ids"),
    pytest.param(lambda: average_precision([], 0, n_relevant=3), "result_labels", id="AP, empty list"),
    pytest.param(lambda: mean_average_precision(np.zeros((0, 5)), [], [0, 1]), "result_labels", id="mAP, 0 queries"),
    pytest.param(lambda: mean_average_precision([[0, 1]], [0], []), "candidate_labels", id="mAP, no candidates"),
])
def test_empty_inputs_are_refused_not_nan(call, name):
    # Before: NaN (with a RuntimeWarning at best), or a misleading "1 queries but 0 query labels".
    with pytest.raises(ValueError, match=rf"{name} is empty \(shape .*\); expected .*not a score"):
        call()


def test_time_call_reports_median_and_spread():
    timing = time_call(sum, range(1000), repeats=5)
    assert timing["repeats"] == 5 and timing["min_s"] <= timing["median_s"] <= timing["max_s"]
    with pytest.raises(ValueError, match="repeats"):
        time_call(sum, [], repeats=0)


def test_naive_search_agrees_with_cosine_index(rng):
    candidates, query = rng.standard_normal((50, 8)), rng.standard_normal(8)
    scores, ids = naive_search(query, candidates, list(range(50)), k=5)
    true_scores, true_ids = CosineIndex().add(candidates).search(query, 5)
    assert ids.tolist() == true_ids[0].tolist()
    np.testing.assert_allclose(scores, true_scores[0], atol=1e-5)


# -- the timing protocol ------------------------------------------------------------------------
def test_compare_speeds_measures_each_method_against_the_baseline_in_the_same_rounds():
    from imgsim_tutorial import compare_speeds

    order = []

    def sleeper(name, seconds):
        def run():
            order.append(name)
            time.sleep(seconds)
        return run

    speeds = compare_speeds({"slow": sleeper("slow", 0.010), "fast": sleeper("fast", 0.002),
                             "mid": sleeper("mid", 0.005)}, rounds=4, warmup=1)
    assert speeds["slow"]["speedup"] == 1.0
    assert 3 < speeds["fast"]["speedup"] < 6, speeds["fast"]
    assert 1.5 < speeds["mid"]["speedup"] < 2.5, speeds["mid"]
    assert speeds["fast"]["min_s"] <= speeds["fast"]["median_s"] <= speeds["fast"]["max_s"]
    # warm-up in order, then rounds whose order rotates: no method always runs first
    assert order[:3] == ["slow", "fast", "mid"]
    assert [order[3 + 3 * turn] for turn in range(4)] == ["slow", "fast", "mid", "slow"]


def test_compare_speeds_reports_per_query_when_a_call_runs_several():
    from imgsim_tutorial import compare_speeds

    speeds = compare_speeds({"ten sleeps": lambda: [time.sleep(0.001) for _ in range(10)]}, rounds=2, per_call=10)
    assert 0.0009 < speeds["ten sleeps"]["median_s"] < 0.005


def test_pinned_threads_limits_blas_and_faiss_together_and_restores_them():
    import faiss
    from threadpoolctl import threadpool_info

    from imgsim_tutorial import compare_speeds, pinned_threads

    before = faiss.omp_get_max_threads()
    seen = {}

    def look():
        seen["faiss"] = faiss.omp_get_max_threads()
        seen["blas"] = {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}

    compare_speeds({"look": look}, rounds=1, threads=1)
    assert seen["faiss"] == 1 and seen["blas"] <= {1}
    assert faiss.omp_get_max_threads() == before
    with pytest.raises(ValueError, match="n must be at least 1"):
        with pinned_threads(0):
            pass


@pytest.mark.parametrize("methods, settings, message", [
    ({}, {}, "no-argument callables"),
    ({"exact": 3}, {}, "no-argument callables"),
    ({"exact": lambda: None}, {"baseline": "faiss"}, "baseline 'faiss' is not one of"),
    ({"exact": lambda: None}, {"rounds": 0}, "rounds must be at least 1"),
    ({"exact": lambda: None}, {"threads": 0}, "threads must be at least 1"),
])
def test_compare_speeds_refuses_what_it_cannot_time(methods, settings, message):
    from imgsim_tutorial import compare_speeds

    with pytest.raises(ValueError, match=message):
        compare_speeds(methods, **settings)


def test_compare_speeds_keeps_every_round_and_the_range_of_the_speedups():
    from imgsim_tutorial import compare_speeds

    speeds = compare_speeds({"slow": lambda: time.sleep(0.004), "fast": lambda: time.sleep(0.001)}, rounds=5)
    fast = speeds["fast"]
    assert len(fast["round_s"]) == 5 and fast["median_s"] == pytest.approx(np.median(fast["round_s"]))
    assert (fast["min_s"], fast["max_s"]) == (min(fast["round_s"]), max(fast["round_s"]))
    ratios = np.array(speeds["slow"]["round_s"]) / fast["round_s"]
    assert (fast["speedup_min"], fast["speedup"], fast["speedup_max"]) == pytest.approx(
        (ratios.min(), np.median(ratios), ratios.max()))
    assert speeds["slow"]["speedup_min"] == speeds["slow"]["speedup_max"] == 1.0  # the baseline against itself


def test_time_call_and_compare_speeds_summarise_alike():
    from imgsim_tutorial.evaluation import _spread

    assert _spread([1.0, 2.0, 4.0]) == {"median_s": 2.0, "min_s": 1.0, "max_s": 4.0, "iqr_s": 1.5}
    timing = time_call(sum, range(10), repeats=3)
    assert set(_spread([1.0])) < set(timing)


def test_compare_indexes_times_each_index_next_to_exact_search_on_one_thread(rng):
    from threadpoolctl import threadpool_info

    from imgsim_tutorial.evaluation import compare_indexes

    seen = []

    class Watched(CosineIndex):
        """Exact search that notes the BLAS threads each search ran on."""

        def search(self, queries, k=5):
            seen.append({info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"})
            return super().search(queries, k)

    candidates, queries = rng.standard_normal((300, 16)), rng.standard_normal((12, 16))
    (row,) = compare_indexes({"watched": Watched}, candidates, queries, k=5, n_single=4, rounds=2)
    assert row["recall"] == 1.0 and row["exact_ms"] > 0 and row["latency_ms"] > 0 and row["throughput_qps"] > 0
    assert row["speedup"] > 0 and row["batch_speedup"] > 0
    assert len(seen) == 4 * (1 + 2) + (1 + 2)  # warm-up and 2 rounds of 4 single queries, then of one batch
    assert all(threads <= {1} for threads in seen)
