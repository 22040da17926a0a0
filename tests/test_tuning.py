"""tuning: the formulas checked by hand, then the suggestion checked by measuring an LSHIndex."""

import warnings

import numpy as np
import pytest

from imgsim_tutorial import CosineIndex, LSHIndex, ShortResultWarning, recall_at_k
from imgsim_tutorial.data.synthetic import realistic_embeddings
from imgsim_tutorial.random_projection import any_table_collision_probability
from imgsim_tutorial.tuning import (
    centered_cosine,
    directed_hit_probability,
    found_in_at_least,
    lsh_memory_bytes,
    predict_lsh,
    probes_per_radius,
    similarity_profile,
    suggest_lsh_settings,
    table_hit_probability,
    tradeoff_point,
)

SETTING_KEYS = ("n_bits", "n_tables", "n_probes", "center", "min_collisions")


def test_probes_fill_the_nearest_radius_first():
    assert probes_per_radius(8, 1) == [1]
    assert probes_per_radius(3, 4) == [1, 3]
    assert probes_per_radius(3, 6) == [1, 3, 2]
    assert probes_per_radius(2, 99) == [1, 2, 1]  # every code of 2 bits: 4 buckets, all of them


def test_table_hit_probability_by_hand():
    p = 1 - np.arccos(0.6) / np.pi
    assert table_hit_probability(0.6, 3) == pytest.approx(p ** 3)
    assert table_hit_probability(0.6, 3, n_probes=4) == pytest.approx(p ** 3 + 3 * p ** 2 * (1 - p))
    assert table_hit_probability(0.6, 2, n_probes=4) == pytest.approx(1.0)  # all 4 buckets probed
    # one probe beyond its own bucket at K bits (a random bit flipped) is worth exactly one bit less
    assert table_hit_probability(0.6, 10, n_probes=2) == pytest.approx(p ** 9)
    # without probes the prediction is notebook 03's S-curve
    profile = {"neighbour_similarity": np.array([[0.6]]), "pair_similarity": np.array([0.6])}
    assert predict_lsh(profile, 100, 8, 5)["predicted_recall"] == pytest.approx(
        float(any_table_collision_probability(0.6, 8, 5)))


def test_memory_counts_an_id_and_a_code_per_table_as_the_index_does():
    memory = lsh_memory_bytes(1000, n_tables=10, dim=768, n_bits=8)
    assert memory["tables"] == 1000 * 10 * 16 and memory["codes"] == 1000 * 10 * 8
    data = np.random.default_rng(0).standard_normal((500, 32)).astype(np.float32)
    index = LSHIndex(n_bits=6, n_tables=7).add(data)
    predicted, measured = lsh_memory_bytes(500, n_tables=7, dim=32, n_bits=6), index.memory_bytes()
    assert {part: measured[part] for part in predicted if part != "tables"} == {
        part: value for part, value in predicted.items() if part != "tables"}
    n_buckets = sum(len(index.bucket_sizes(table)) for table in range(7))
    assert predicted["tables"] <= measured["tables"] <= predicted["tables"] + 24 * n_buckets + 8  # + bucket directory


@pytest.fixture(scope="module")
def realistic():
    embeddings, queries = realistic_embeddings(6000, 128, n_queries=150, seed=3)
    return embeddings, queries, CosineIndex().add(embeddings).search(queries, 10)[1]


def test_profile_measures_neighbours_and_pairs(realistic):
    embeddings, queries, _ = realistic
    profile = similarity_profile(embeddings, queries, k=10, n_sample_queries=50)
    neighbours = profile["neighbour_similarity"]
    assert neighbours.shape == (50, 10) and np.all(np.diff(neighbours, axis=1) <= 1e-6)
    assert neighbours.mean() > profile["pair_similarity"].mean() + 0.2  # neighbours are closer than random
    own = similarity_profile(embeddings, k=10, n_sample_queries=50)  # without queries: never itself
    assert own["neighbour_similarity"].max() < 0.9999


def test_predicted_recall_and_candidates_match_a_measured_index(realistic):
    embeddings, queries, exact_ids = realistic
    profile = similarity_profile(embeddings, queries, k=10, n_sample_queries=150)
    for n_bits, n_tables in [(6, 4), (10, 12)]:
        predicted = predict_lsh(profile, len(embeddings), n_bits, n_tables)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortResultWarning)
            _, ids, stats = LSHIndex(n_bits=n_bits, n_tables=n_tables, seed=1).add(embeddings).search_with_stats(
                queries, 10)
        assert recall_at_k(ids, exact_ids) == pytest.approx(predicted["predicted_recall"], abs=0.06)
        assert stats["n_candidates"].mean() == pytest.approx(predicted["candidates"], rel=0.25)


def test_min_collisions_prediction_matches_a_measured_index(realistic):
    """The binomial tail against LSHIndex(min_collisions=m): recall and candidates, no probes."""
    embeddings, queries, exact_ids = realistic
    profile = similarity_profile(embeddings, queries, k=10, n_sample_queries=150)
    index = LSHIndex(n_bits=8, n_tables=12, seed=1).add(embeddings)
    for min_collisions in (2, 3):
        predicted = predict_lsh(profile, len(embeddings), 8, 12, min_collisions=min_collisions)
        index.min_collisions = min_collisions
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortResultWarning)
            _, ids, stats = index.search_with_stats(queries, 10)
        assert recall_at_k(ids, exact_ids) == pytest.approx(predicted["predicted_recall"], abs=0.06)
        assert stats["n_candidates"].mean() == pytest.approx(predicted["candidates"], rel=0.3)


def test_found_in_at_least_is_the_binomial_tail():
    rng = np.random.default_rng(0)
    draws = rng.random((200_000, 5)) < 0.3  # 5 tables, each finds the item with probability 0.3
    for m in (1, 2, 3, 5):
        assert found_in_at_least(m, 5, 0.3) == pytest.approx((draws.sum(axis=1) >= m).mean(), abs=0.005)
    assert found_in_at_least(1, 7, 0.2) == pytest.approx(1 - 0.8 ** 7)
    with pytest.raises(ValueError, match="min_collisions must be between 1 and n_tables=4"):
        profile = {"neighbour_similarity": np.ones((1, 1)), "pair_similarity": np.ones(1)}
        predict_lsh(profile, 10, 8, 4, min_collisions=5)


def test_the_suggestion_reaches_its_target_when_measured(realistic):
    embeddings, queries, exact_ids = realistic
    profile = similarity_profile(embeddings, k=10, n_sample_queries=100)  # from the collection alone
    suggestions = suggest_lsh_settings(len(embeddings), 0.9, profile, max_tables=24)
    assert [s["cost"] for s in suggestions] == sorted(s["cost"] for s in suggestions)
    best = suggestions[0]
    assert best["predicted_recall"] >= 0.9 and best["fraction_scanned"] < 0.1
    index = LSHIndex(**{key: best[key] for key in SETTING_KEYS}).add(embeddings)  # literally, centring included
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortResultWarning)
        _, ids, stats = index.search_with_stats(queries, 10)
    assert recall_at_k(ids, exact_ids) >= 0.87  # the target, within sampling error
    assert stats["n_candidates"].mean() < 0.6 * len(embeddings)  # and cheaper than exact search


def test_bad_targets_and_impossible_limits_say_what_to_change(realistic):
    embeddings, _, _ = realistic
    profile = similarity_profile(embeddings, k=10, n_sample_queries=20)
    with pytest.raises(ValueError, match="recall_target must be between 0 and 1"):
        suggest_lsh_settings(1000, 1.0, profile)
    with pytest.raises(ValueError, match="allow more tables"):
        suggest_lsh_settings(1000, 0.999, profile, max_tables=1, probe_choices=(1,), bit_choices=(24,))
    with pytest.raises(ValueError, match="probe_choices must be whole numbers from 1"):
        suggest_lsh_settings(1000, 0.9, profile, probe_choices=(0,))  # n_probes counts the own bucket
    with pytest.raises(ValueError, match="min_collision_choices must be whole numbers from 1"):
        suggest_lsh_settings(1000, 0.9, profile, min_collision_choices=(0, 2))
    with pytest.raises(ValueError, match="no centred similarities"):
        predict_lsh({"neighbour_similarity": np.ones((1, 1)), "pair_similarity": np.ones(1)}, 10, 8, 4, center=True)
    with pytest.raises(ValueError, match="at least 11 embeddings"):
        similarity_profile(embeddings[:5], k=10)


def test_the_formula_needs_independent_tables_shared_ones_add_nothing(realistic):
    """1-(1-p^K)^L assumes each table draws its own hyperplanes; the tutorial's shared ones add no recall."""
    from imgsim_tutorial.teaching.baselines import SharedPlanesLSH

    embeddings, queries, exact_ids = realistic
    queries = queries[:40]

    def recall(model):
        found = [np.pad(model.search(q, 10)[1], (0, 10), constant_values=-1)[:10] for q in queries]
        return recall_at_k(np.array(found), exact_ids[:40])

    one, many = (recall(SharedPlanesLSH(n_bits=6, n_tables=L, score="cosine").add(embeddings)) for L in (1, 8))
    assert one == many  # identical tables, identical buckets
    tied = recall(SharedPlanesLSH(n_bits=6, n_tables=1).add(embeddings))
    assert tied < one  # the count/dim score ranks the same bucket by insertion order
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortResultWarning)
        own = recall_at_k(LSHIndex(n_bits=6, n_tables=8).add(embeddings).search(queries, 10)[1], exact_ids[:40])
    assert own > one + 0.1
    with pytest.raises(ValueError, match="score must be one of"):
        SharedPlanesLSH(score="jaccard")


# -- centring, min_collisions and LSHIndex's own probes (issue #22, item 5) ---------------------
def test_the_centred_profile_is_what_a_centred_index_hashes():
    """By hand: the mean LSHIndex(center=True) subtracts, the exact neighbours, their centred cosines."""
    rng = np.random.default_rng(4)
    data = (rng.standard_normal((400, 24)) + 3.0).astype(np.float32)  # a large shared direction
    query = rng.standard_normal((1, 24)).astype(np.float32) + 3.0
    profile = similarity_profile(data, query, k=5, n_sample_queries=1, n_pairs=200, seed=1)
    mean = LSHIndex(center=True).add(data).mean_  # what the index subtracts: the mean of the unit rows
    unit, unit_query = data / np.linalg.norm(data, axis=1, keepdims=True), query[0] / np.linalg.norm(query)
    assert np.allclose(mean, unit.mean(axis=0), atol=1e-6)
    cosines = unit @ unit_query
    top = np.argsort(-cosines)[:5]  # the true neighbours: by cosine of the original vectors
    centred_all = (unit - mean) @ (unit_query - mean) / (
        np.linalg.norm(unit - mean, axis=1) * np.linalg.norm(unit_query - mean))
    assert np.allclose(profile["neighbour_similarity"][0], cosines[top], atol=1e-5)
    assert np.allclose(profile["centered"]["neighbour_similarity"][0], centred_all[top], atol=1e-5)
    pairs = profile["centered"]["pair_similarity"]  # each one is the query against some item, centred
    assert all(np.isclose(centred_all, value, atol=1e-5).any() for value in pairs)
    assert profile["pair_similarity"].mean() > 0.8 and abs(pairs.mean()) < 0.2  # centring removes the shared part
    assert centered_cosine(unit_query, unit[top[0]], mean) == pytest.approx(centred_all[top[0]], abs=1e-6)


def test_directed_probes_predict_a_measured_index(realistic):
    """With probes the prediction follows LSHIndex's probing (least certain bits first), not random flips."""
    embeddings, queries, exact_ids = realistic
    profile = similarity_profile(embeddings, queries, k=10, n_sample_queries=150)
    assert directed_hit_probability(0.8, 12, 1) == pytest.approx(table_hit_probability(0.8, 12, 1))
    for center, min_collisions in [(False, 1), (True, 2)]:
        index = LSHIndex(n_bits=12, n_tables=10, n_probes=5, center=center, min_collisions=min_collisions, seed=1)
        predicted = predict_lsh(profile, len(embeddings), 12, 10, 5, min_collisions=min_collisions, center=center)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortResultWarning)
            _, ids, stats = index.add(embeddings).search_with_stats(queries, 10)
        assert recall_at_k(ids, exact_ids) == pytest.approx(predicted["predicted_recall"], abs=0.05)
        assert stats["n_candidates"].mean() == pytest.approx(predicted["candidates"], rel=0.3)


def test_suggestions_carry_center_and_min_collisions_and_are_followed_literally(realistic):
    embeddings, queries, exact = realistic
    profile = similarity_profile(embeddings, k=10, n_sample_queries=60)
    suggestions = suggest_lsh_settings(len(embeddings), 0.9, profile, top=8)
    assert {s["center"] for s in suggestions} <= {False, True} and all(s["min_collisions"] >= 1 for s in suggestions)
    for suggestion in suggestions[:3]:
        setting = {key: suggestion[key] for key in SETTING_KEYS}
        index = LSHIndex(**setting)
        assert {key: getattr(index, key) for key in SETTING_KEYS} == setting
        again = predict_lsh(profile, len(embeddings), **setting)  # the same numbers from one setting
        assert again["predicted_recall"] == pytest.approx(suggestion["predicted_recall"])
        assert again["cost"] == pytest.approx(suggestion["cost"])
        # the prediction clears the target by three standard errors of the sample, not by luck
        assert suggestion["predicted_recall"] - 3 * suggestion["recall_standard_error"] >= 0.9 - 1e-9
    point = tradeoff_point(embeddings, queries, (np.zeros(exact.shape), exact),
                           **{key: suggestions[0][key] for key in SETTING_KEYS},
                           timing_queries=2)
    assert (point["index"].center, point["index"].min_collisions) == (suggestions[0]["center"],
                                                                      suggestions[0]["min_collisions"])


def test_the_tuner_centres_data_that_share_a_mean_direction(realistic):
    """realistic_embeddings share a mean direction (random pairs at cosine about 0.25 here): centring makes
    the random pairs unlike each other, so the same recall costs far fewer candidates."""
    embeddings, _, _ = realistic
    profile = similarity_profile(embeddings, k=10, n_sample_queries=60)
    assert profile["pair_similarity"].mean() > 0.2 and abs(profile["centered"]["pair_similarity"].mean()) < 0.05
    best = suggest_lsh_settings(len(embeddings), 0.9, profile)[0]
    plain = suggest_lsh_settings(len(embeddings), 0.9, profile, center_choices=(False,))[0]
    assert best["center"] is True and plain["center"] is False
    assert best["cost"] < plain["cost"] and best["candidates"] < plain["candidates"]


@pytest.fixture(scope="module")
def mixture():
    """``mixture_embeddings``: NOT the course's generator, and a shared mean direction."""
    from imgsim_tutorial.data.synthetic import mixture_embeddings

    embeddings, queries = mixture_embeddings(20_000, 128, n_queries=150, seed=11)
    return embeddings, queries, CosineIndex().add(embeddings).search(queries, 10)[1]


def test_the_first_suggestion_reaches_its_target_on_other_data(mixture):
    """Profiled on the collection alone, built literally, measured on held-out queries."""
    embeddings, queries, exact_ids = mixture
    for target in (0.9, 0.95):
        best = suggest_lsh_settings(len(embeddings), target, similarity_profile(embeddings, k=10))[0]
        index = LSHIndex(**{key: best[key] for key in SETTING_KEYS}).add(embeddings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortResultWarning)
            _, ids, stats = index.search_with_stats(queries, 10)
        assert recall_at_k(ids, exact_ids) >= target, (best, recall_at_k(ids, exact_ids))
        assert stats["n_candidates"].mean() < 0.05 * len(embeddings)  # and a small part of the collection


# -- measuring a setting: LSH and exact search timed in the same rounds ------------------------
def blas_threads():
    from threadpoolctl import threadpool_info

    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


class SlowExact:
    """Stands in for exact search: 10 ms a query; notes each call and the BLAS threads it ran on."""

    def __init__(self, n, calls):
        self.n, self.calls = n, calls

    def __len__(self):
        return self.n

    def search(self, queries, k):
        import time

        self.calls.append(("exact", blas_threads()))
        time.sleep(0.010)


@pytest.fixture
def small_collection():
    from conftest import clustered

    data = clustered(1000, 16, n_clusters=10, seed=4)
    queries = data[:10] + 0.01
    return data, queries, CosineIndex().add(data).search(queries, 5)


def test_tradeoff_point_times_exact_search_in_the_same_rounds_on_one_thread(small_collection, monkeypatch):
    data, queries, exact = small_collection
    calls = []
    searched = LSHIndex.search

    def watched(self, queries, k=5):
        calls.append(("LSH", None))
        return searched(self, queries, k)

    monkeypatch.setattr(LSHIndex, "search", watched)
    point = tradeoff_point(data, queries, exact, 8, 4, 1, k=5, timing_queries=2, rounds=3,
                           exact_index=SlowExact(len(data), calls))
    assert 9 < point["exact_query_ms"] < 200 and point["median_query_ms"] < point["exact_query_ms"]
    assert point["speedup"] > 3 and point["threads"] == 1
    order = [who for who, _ in calls]
    assert order.count("exact") == order.count("LSH") == 2 * (1 + 3)  # 2 queries: a warm-up and 3 rounds each
    turns = [who for position, who in enumerate(order) if position == 0 or who != order[position - 1]]
    assert len(turns) >= 4  # the two take turns, not all of one and then all of the other
    assert all(threads <= {1} for who, threads in calls if who == "exact")


def test_tradeoff_point_builds_exact_search_when_none_is_given(small_collection):
    data, queries, exact = small_collection
    point = tradeoff_point(data, queries, exact, 8, 4, 1, k=5, timing_queries=3, rounds=2)
    assert point["exact_query_ms"] > 0 and point["median_query_ms"] > 0 and point["speedup"] > 0
    assert {"recall", "fraction_scanned", "neighbour_similarity", "index"} <= set(point)


@pytest.mark.parametrize("settings, message", [
    ({"exact_index": CosineIndex().add(np.eye(10))}, "exact_index holds 10 items but embeddings has 1000"),
    ({"exact_index": "exact"}, r"exact_index must be an index with \.search"),
    ({"timing_queries": 0}, "timing_queries must be at least 1"),
    ({"threads": 0}, "threads must be at least 1"),
])
def test_tradeoff_point_refuses_what_it_cannot_time(small_collection, settings, message):
    data, queries, exact = small_collection
    with pytest.raises(ValueError, match=message):
        tradeoff_point(data, queries, exact, 8, 4, 1, k=5, **settings)
