"""LSHIndex against exact search, by hand, against brute-force bucket sets, and its file format."""

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import clustered

from imgsim_tutorial import CosineIndex, ShortResultWarning, recall_at_k
from imgsim_tutorial.hash_tables import HashTable, LSHIndex, probe_sequence
from imgsim_tutorial.random_projection import hamming_distance
from imgsim_tutorial.teaching.baselines import SharedPlanesLSH


@pytest.fixture(scope="module")
def data():
    return clustered(2000, 64, n_clusters=30, spread=0.5, seed=1)


def test_hash_table_by_hand():
    table = HashTable(np.array([5, 3, 5, 9], dtype=np.uint64), ids=np.array([10, 11, 12, 13]))
    assert table.members(5).tolist() == [10, 12] and table.members(4).tolist() == []
    assert table.sizes() == {3: 1, 5: 2, 9: 1}
    codes, sizes = table.bucket_codes()
    assert codes[0] == 5 and sizes.tolist() == [2, 1, 1]


def test_four_vectors_worked_by_hand():
    index = LSHIndex(n_bits=2, n_tables=1).add(np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]]))
    index.hyperplanes_ = np.array([[[1.0, 0.0], [0.0, 1.0]]], dtype=np.float32)  # x > 0, y > 0
    index._fit(index.vectors_, index.ids_, index.codes_of(index.vectors_, index.hyperplanes_, index.mean_))
    assert index.codes_[0].tolist() == [3, 2, 0, 1]
    assert index.candidates([2.0, 0.5]).tolist() == [0]  # quadrant x>0, y>0 only
    assert sorted(index.candidates([2.0, 0.5]).tolist()) == [0]
    index.n_probes = 3  # its own bucket, then flip y first (0.5 is closer to its plane than 2.0), then x
    assert index.candidates([2.0, 0.5]).tolist() == [0, 1, 3]


def test_every_table_has_its_own_hyperplanes(data):
    index = LSHIndex(n_bits=8, n_tables=6, seed=0).add(data)
    planes = index.hyperplanes_.reshape(6, -1)
    assert len({p.tobytes() for p in planes}) == 6
    assert len({codes.tobytes() for codes in index.codes_}) == 6


def test_the_tutorial_bug_makes_identical_tables(data):
    shared = SharedPlanesLSH(n_bits=8, n_tables=6).add(data)
    assert all(table == shared.tables_[0] for table in shared.tables_)


@pytest.mark.parametrize("n_probes", [1, 1 + 8, 1 + 8 + 28])
@pytest.mark.parametrize("min_collisions", [1, 2, 3])
def test_min_collisions_keeps_items_found_in_that_many_tables(data, n_probes, min_collisions):
    """Oracle: count, table by table, whether an item lies within the probed Hamming radius."""
    index = LSHIndex(n_bits=8, n_tables=4, n_probes=n_probes, seed=3, min_collisions=min_collisions).add(data)
    radius = {1: 0, 9: 1, 37: 2}[n_probes]
    for query in data[:25] + 0.05:
        tables_found = (hamming_distance(index.codes_, index.query_codes(query)[:, None]) <= radius).sum(axis=0)
        expected = np.flatnonzero(tables_found >= min_collisions)
        assert index.candidates(query).tolist() == expected.tolist()
        _, _, stats = index.search_with_stats(query, 1)
        assert stats["n_candidates"].tolist() == [len(expected)]


def test_min_collisions_trades_candidates_for_recall(data):
    """Fewer candidates with every extra required collision; the found ones are still true cosines."""
    exact_scores, _ = CosineIndex().add(data).search(data[:40] + 0.05, 5)
    scanned = []
    for min_collisions in (1, 2, 4):
        index = LSHIndex(n_bits=10, n_tables=8, n_probes=5, seed=0, min_collisions=min_collisions).add(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortResultWarning)
            scores, ids, stats = index.search_with_stats(data[:40] + 0.05, 5)
        scanned.append(stats["n_candidates"].sum())
        found = ids >= 0
        assert (scores[found] <= exact_scores[found] + 1e-6).all()
    assert scanned[0] > scanned[1] > scanned[2]


@pytest.mark.parametrize("n_probes", [1, 1 + 8, 1 + 8 + 28])
def test_candidates_equal_brute_force_bucket_sets(data, n_probes):
    index = LSHIndex(n_bits=8, n_tables=4, n_probes=n_probes, seed=3).add(data)
    radius = {1: 0, 9: 1, 37: 2}[n_probes]  # its own + 8 = every code 1 bit away; + 28 = up to 2 bits
    for query in data[:25] + 0.05:
        query_codes = index.query_codes(query)
        near = (hamming_distance(index.codes_, query_codes[:, None]) <= radius).any(axis=0)
        assert index.candidates(query).tolist() == np.flatnonzero(near).tolist()


def test_probe_sequence_goes_by_distance_then_margin():
    assert probe_sequence(np.array([0.9, -0.1, 0.5]), 5) == [(1,), (2,), (0,), (1, 2)]
    assert len(probe_sequence(np.array([0.3, 0.2, 0.1]), 8)) == 7  # only 7 other codes exist


def test_covering_everything_equals_exact_search(data):
    exact_scores, exact_ids = CosineIndex().add(data).search(data[:40] + 0.01, 10)
    index = LSHIndex(n_bits=3, n_tables=2, n_probes=8, seed=0).add(data)  # 8 codes, all probed
    scores, ids = index.search(data[:40] + 0.01, 10)
    np.testing.assert_array_equal(ids, exact_ids)
    np.testing.assert_allclose(scores, exact_scores, atol=1e-6)


def test_recall_grows_with_tables_unlike_the_shared_bug(data):
    queries = data[:100] + 0.02
    _, true_ids = CosineIndex().add(data).search(queries, 10)
    recalls, shared_recalls = [], []
    for n_tables in (1, 4, 16):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortResultWarning)
            _, ids = LSHIndex(n_bits=10, n_tables=n_tables, seed=0).add(data).search(queries, 10)
        recalls.append(recall_at_k(ids, true_ids))
        shared = SharedPlanesLSH(n_bits=10, n_tables=n_tables).add(data)
        padded = [np.pad(shared.search(q, 10)[1], (0, 10), constant_values=-1)[:10] for q in queries]
        shared_recalls.append(recall_at_k(np.array(padded), true_ids))
    assert recalls[0] < recalls[1] < recalls[2] and recalls[2] > 0.85
    assert shared_recalls[0] == shared_recalls[1] == shared_recalls[2]


def test_too_few_candidates_is_reported_not_hidden(data):
    index = LSHIndex(n_bits=20, n_tables=1, seed=0).add(data)
    with pytest.warns(UserWarning, match="fewer than k=50"):
        scores, ids = index.search(data[:3], 50)
    assert (ids == -1).any() and np.isnan(scores[ids == -1]).all()


def test_collision_counts_are_fractions_of_tables(data):
    index = LSHIndex(n_bits=6, n_tables=5, seed=0).add(data)
    ids, fractions = index.collision_counts(data[0])
    assert ids[0] == 0 and fractions[0] == 1.0
    assert np.all((fractions > 0) & (fractions <= 1)) and np.all(np.diff(fractions) <= 0)
    assert set(ids.tolist()) == set(index.candidates(data[0]).tolist())


def test_search_does_not_change_fitted_state(data):
    index = LSHIndex(n_bits=8, n_tables=3, n_probes=3).add(data)
    before = index.codes_.copy()
    index.search(data[:5], 3)
    np.testing.assert_array_equal(before, index.codes_)


@pytest.mark.parametrize("params, message", [({"n_bits": 0}, "n_bits"), ({"n_bits": 65}, "n_bits"),
                                             ({"n_tables": 0}, "n_tables"), ({"n_probes": 0}, "n_probes"),
                                             ({"min_collisions": 0}, "min_collisions"),
                                             ({"n_tables": 3, "min_collisions": 4}, "between 1 and 3")])
def test_bad_parameters_are_refused(data, params, message):
    with pytest.raises(ValueError, match=message):
        LSHIndex(**params).add(data)


def test_query_errors(data):
    with pytest.raises(ValueError, match="call .add"):
        LSHIndex().search(data[:1], 1)
    with pytest.raises(ValueError, match="dimension"):
        LSHIndex().add(data).search(np.ones(3), 1)


def test_save_and_load_round_trip(data, tmp_path):
    index = LSHIndex(n_bits=10, n_tables=4, n_probes=4, seed=5, center=True).add(data, ids=np.arange(2000) * 2)
    loaded = LSHIndex.load(index.save(tmp_path / "index.npz"))
    for name in ("hyperplanes_", "mean_", "vectors_", "ids_", "codes_"):
        np.testing.assert_array_equal(getattr(index, name), getattr(loaded, name))
    assert (loaded.n_bits, loaded.n_tables, loaded.n_probes, loaded.center) == (10, 4, 4, True)
    assert loaded.min_collisions == 1
    a, b = index.search(data[:20], 5), loaded.search(data[:20], 5)
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("center", [False, True])
def test_adding_twice_builds_the_index_adding_once_builds(data, center):
    once = LSHIndex(n_bits=6, n_tables=3, seed=2, center=center).add(data[:300])
    twice = LSHIndex(n_bits=6, n_tables=3, seed=2, center=center).add(data[:100]).add(data[100:300])
    assert len(twice) == 300 and twice.ids_.tolist() == list(range(300))
    for name in ("hyperplanes_", "mean_", "vectors_", "ids_", "codes_"):
        np.testing.assert_array_equal(getattr(once, name), getattr(twice, name))
    np.testing.assert_array_equal(once.search(data[:10], 5)[1], twice.search(data[:10], 5)[1])


def test_memory_counts_an_id_per_item_in_every_table(data):
    index = LSHIndex(n_bits=8, n_tables=5).add(data)
    parts = index.memory_bytes()
    assert parts["codes"] == 5 * 2000 * 8  # uint64 codes, not n_bits / 8 bytes
    assert parts["tables"] >= 5 * 2000 * (8 + 8)  # each table: its sorted codes and one int64 row id per item


def test_refuses_what_it_did_not_write(data, tmp_path):
    index = LSHIndex(n_bits=8, n_tables=2).add(data[:100])
    pickled = tmp_path / "index.npz"
    pickled.write_bytes(pickle.dumps({"tables": [1, 2, 3]}))
    good = index.save(tmp_path / "good.npz").read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good[: len(good) // 2])
    object_array = tmp_path / "objects.npz"
    np.savez(object_array, header=np.array([{"a": 1}], dtype=object))
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.ones(3))
    for path in (pickled, truncated, object_array, plain):
        with pytest.raises(ValueError, match="not a file written by LSHIndex.save") as error:
            LSHIndex.load(path)
        assert "pickle" not in str(error.value)
    with pytest.raises(ValueError, match=".npz"):
        index.save(tmp_path / "index.pkl")
    assert not Path(tmp_path / "index.pkl").exists()


def test_64_bit_codes_and_probes_work(data):
    index = LSHIndex(n_bits=64, n_tables=2, n_probes=4, seed=0).add(data)
    assert index.codes_.dtype == np.uint64 and (index.codes_ >= 2 ** 63).any()
    scores, ids = index.search(data[:3], 1)
    assert ids[:, 0].tolist() == [0, 1, 2]
