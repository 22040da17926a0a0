"""CosineIndex against a NumPy brute force, plus every bad input it must refuse."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from imgsim_tutorial import CosineIndex, cosine_similarity, normalize, top_k
from imgsim_tutorial.evaluation import label_precision


def brute_force(candidates, queries, k):
    a = candidates / np.linalg.norm(candidates, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    scores = q @ a.T
    ids = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, ids, axis=1), ids


def test_worked_by_hand():
    candidates = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [1.0, 1.0]])
    scores, ids = CosineIndex().add(candidates).search([2.0, 0.0], k=3)
    assert ids.tolist() == [[0, 3, 1]]
    np.testing.assert_allclose(scores, [[1.0, np.sqrt(0.5), 0.0]], atol=1e-6)
    np.testing.assert_allclose(cosine_similarity([[1, 0]], [[1, 0], [0, 2], [-3, 0]]), [[1, 0, -1]])


@pytest.mark.parametrize("k", [1, 5, 50, 200])
def test_matches_brute_force_batched(rng, k):
    candidates, queries = rng.standard_normal((200, 16)), rng.standard_normal((30, 16))
    scores, ids = CosineIndex(batch_size=7).add(candidates).search(queries, k)
    true_scores, true_ids = brute_force(candidates, queries, k)
    np.testing.assert_allclose(scores, true_scores, atol=1e-5)
    assert (ids == true_ids).mean() > 0.99  # random floats: ties are vanishingly rare
    assert np.all(np.diff(scores, axis=1) <= 1e-7)


def test_single_query_equals_row_of_batch(rng):
    candidates, queries = rng.standard_normal((100, 8)), rng.standard_normal((5, 8))
    index = CosineIndex().add(candidates)
    _, batch_ids = index.search(queries, 4)
    scores, ids = index.search(queries[2], 4)
    assert scores.shape == (1, 4) and ids.tolist() == batch_ids[2:3].tolist()


@settings(max_examples=50, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 6)),
              elements=st.floats(-10, 10, width=32).filter(lambda x: abs(x) > 1e-3)),
       st.integers(1, 40))
def test_property_top_scores_equal_sorted_brute_force(candidates, k):
    k = min(k, len(candidates))
    scores, ids = CosineIndex().add(candidates).search(candidates[0], k)
    true = np.sort((normalize(candidates) @ normalize(candidates[:1]).T)[:, 0])[::-1][:k]
    np.testing.assert_allclose(scores[0], true, atol=1e-5)
    assert len(set(ids[0].tolist())) == k


def test_custom_ids_and_adding_twice(rng):
    first, second = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    index = CosineIndex().add(first, ids=np.arange(100, 105)).add(second, ids=np.arange(200, 205))
    _, ids = index.search(second[3], 1)
    assert len(index) == 10 and ids.tolist() == [[203]]


def test_top_k_handles_k_equal_to_n():
    scores, columns = top_k(np.array([[0.2, 0.9, 0.5]]), 3)
    assert columns.tolist() == [[1, 2, 0]]


@pytest.mark.parametrize("action, message", [
    (lambda i: i.search(np.ones(3), 1), "dimension 3, but the index was built with dimension 4"),
    (lambda i: i.search(np.ones(4), 0), "k must be at least 1"),
    (lambda i: i.search(np.ones(4), 11), "holds only 10 candidates"),
    (lambda i: i.search(np.ones(4), 2.5), "whole number"),
    (lambda i: i.search(np.zeros(4), 1), "zero length"),
    (lambda i: i.search([[np.nan, 1, 1, 1]], 1), "NaN or infinite"),
    (lambda i: i.search(np.ones((2, 2, 4)), 1), "shape"),
    (lambda i: i.add(np.ones((2, 3))), "dimension 3"),
    (lambda i: i.add(np.ones((3, 4)), ids=[1, 2]), "ids must have shape"),
])
def test_bad_inputs_are_refused_clearly(rng, action, message):
    index = CosineIndex().add(rng.standard_normal((10, 4)))
    with pytest.raises(ValueError, match=message):
        action(index)


def test_empty_inputs_are_refused():
    with pytest.raises(ValueError, match="call .add"):
        CosineIndex().search(np.ones(4), 1)
    with pytest.raises(ValueError, match="empty"):
        CosineIndex().add(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="zero length"):
        CosineIndex().add([[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="infinite"):
        CosineIndex().add([[1.0, np.inf]])


def test_search_does_not_change_the_index(rng):
    index = CosineIndex().add(rng.standard_normal((20, 4)))
    before = index.vectors_.copy()
    index.search(rng.standard_normal((3, 4)), 5)
    np.testing.assert_array_equal(before, index.vectors_)


def test_offline_precision_at_5_through_cosine_index(leaf_embeddings):
    (train, train_labels), (test, test_labels) = leaf_embeddings["train"], leaf_embeddings["test"]
    assert label_precision(train, train_labels, test, test_labels, k=5) >= 0.85


def test_a_small_memory_budget_gives_identical_results(rng, monkeypatch):
    import imgsim_tutorial.cosine_search as cosine_search

    candidates, queries = rng.standard_normal((500, 16)), rng.standard_normal((37, 16))
    expected = CosineIndex().add(candidates).search(queries, 7)
    chunks = []
    real_top_k = cosine_search.top_k
    monkeypatch.setattr(cosine_search, "SCORE_BUDGET_BYTES", 16 * 500 * 3)  # three queries' scores at a time
    monkeypatch.setattr(cosine_search, "top_k", lambda scores, k: chunks.append(len(scores)) or real_top_k(scores, k))
    scores, ids = CosineIndex().add(candidates).search(queries, 7)
    assert max(chunks) == 3 and sum(chunks) == 37
    np.testing.assert_array_equal(ids, expected[1])
    np.testing.assert_allclose(scores, expected[0], atol=1e-6)  # BLAS may round a chunk differently


def test_a_million_candidates_never_need_the_full_score_matrix(rng):
    import tracemalloc

    candidates = rng.standard_normal((1_000_000, 4)).astype(np.float32)
    queries = candidates[:96] + np.float32(0.01)
    index = CosineIndex().add(candidates)
    full_matrix = 16 * len(queries) * len(candidates)  # scores, their negation, argpartition positions
    tracemalloc.start()
    try:
        scores, ids = index.search(queries, 3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    unit = candidates / np.linalg.norm(candidates, axis=1, keepdims=True)
    for row in (0, 50, 95):  # a NumPy brute force for three of the queries
        brute = unit @ (queries[row] / np.linalg.norm(queries[row]))
        np.testing.assert_allclose(scores[row], np.sort(brute)[::-1][:3], atol=1e-6)
    assert peak < 160 * 2**20 < full_matrix / 9, f"peak {peak / 2**20:.0f} MiB of temporary memory"


def test_append_continues_default_ids(rng):
    first, second = rng.standard_normal((100, 4)), rng.standard_normal((100, 4))
    index = CosineIndex().add(first).add(second)
    assert index.ids_.tolist() == list(range(200))
    assert index.search(second[7], 1)[1].tolist() == [[107]]
