"""IVFIndex: k-means by hand, inverted lists, checked against exact search and faiss.IndexIVFFlat."""

import warnings

import numpy as np
import pytest

from imgsim_tutorial import CosineIndex, ShortResultWarning, recall_at_k
from imgsim_tutorial.data.synthetic import realistic_embeddings
from imgsim_tutorial.ivf import IVFIndex, nearest_centroids, spherical_kmeans, training_sample


@pytest.fixture(scope="module")
def data():
    return realistic_embeddings(3000, 64, n_queries=40, seed=1)


@pytest.fixture(scope="module")
def index(data):
    return IVFIndex(n_lists=30, n_probes=4, seed=0).add(data[0])


def faiss_ivf_on(index, vectors):
    """faiss.IndexIVFFlat built on OUR centroids: same cells, so it must give the same answers."""
    import faiss

    dim = index.centroids_.shape[1]
    quantizer = faiss.IndexFlatIP(dim)
    quantizer.add(index.centroids_)
    ivf = faiss.IndexIVFFlat(quantizer, dim, index.n_lists, faiss.METRIC_INNER_PRODUCT)
    ivf.is_trained = True  # the centroids are given, not trained by FAISS
    ivf.add(vectors)
    ivf.nprobe = index.n_probes
    return ivf, quantizer


def test_kmeans_by_hand_on_four_points():
    points = np.array([[1, 0], [0.8, 0.2], [0, 1], [0.2, 0.8]], dtype=np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    centroids = spherical_kmeans(points, 2, seed=0)
    assignment = nearest_centroids(points, centroids)[:, 0]
    assert assignment[0] == assignment[1] != assignment[2] == assignment[3]
    expected = points[:2].sum(0) / np.linalg.norm(points[:2].sum(0))  # the normalised mean of its members
    assert np.allclose(centroids[assignment[0]], expected, atol=1e-6)


def test_kmeans_is_seeded_and_keeps_every_cluster(data):
    first, again = spherical_kmeans(data[0], 40, seed=3), spherical_kmeans(data[0], 40, seed=3)
    assert np.array_equal(first, again)
    counts = np.bincount(nearest_centroids(data[0], first)[:, 0], minlength=40)
    assert (counts > 0).all()
    assert np.allclose(np.linalg.norm(first, axis=1), 1, atol=1e-5)


def test_lists_partition_the_data(index, data):
    assert index.list_sizes().sum() == len(index) == len(data[0])
    nearest = nearest_centroids(data[0], index.centroids_)[:, 0]
    assert np.array_equal(np.bincount(nearest, minlength=30), index.list_sizes())
    for j in (0, 7, 29):  # each list holds exactly the rows whose nearest centroid is j
        rows = slice(index.list_offsets_[j], index.list_offsets_[j + 1])
        assert set(index.ids_[rows].tolist()) == set(np.flatnonzero(nearest == j).tolist())


def test_same_candidates_and_results_as_faiss_ivfflat(index, data):
    embeddings, queries = data
    ivf, quantizer = faiss_ivf_on(index, embeddings)
    # Same probed lists: FAISS's coarse quantizer against ours.
    _, faiss_lists = quantizer.search(queries, index.n_probes)
    assert np.array_equal(faiss_lists, index.probed_lists(queries))
    # Same candidates: asking FAISS for every item returns exactly what it scanned (the rest is -1).
    _, everything = ivf.search(queries, len(embeddings))
    _, _, stats = index.search_with_stats(queries, 10)
    for q, query in enumerate(queries):
        faiss_candidates = set(everything[q][everything[q] >= 0].tolist())
        assert faiss_candidates == set(index.candidates(query).tolist())
        assert stats["n_candidates"][q] == len(faiss_candidates)
    # Same results.
    faiss_scores, faiss_ids = ivf.search(queries, 10)
    scores, ids = index.search(queries, 10)
    assert np.array_equal(ids, faiss_ids)
    assert np.allclose(scores, faiss_scores, atol=1e-5)


def test_all_lists_probed_is_exact(data):
    embeddings, queries = data
    index = IVFIndex(n_lists=20, n_probes=20, seed=0).add(embeddings)
    exact_scores, exact_ids = CosineIndex().add(embeddings).search(queries, 10)
    scores, ids, stats = index.search_with_stats(queries, 10)
    assert recall_at_k(ids, exact_ids) == 1.0 and np.allclose(scores, exact_scores, atol=1e-6)
    assert (stats["n_candidates"] == len(embeddings)).all()


def test_recall_grows_with_probes_and_beats_chance(data):
    embeddings, queries = data
    _, exact_ids = CosineIndex().add(embeddings).search(queries, 10)
    recalls, scanned = [], []
    for n_probes in (1, 3, 10):
        index = IVFIndex(n_lists=30, n_probes=n_probes, seed=0).add(embeddings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortResultWarning)
            _, ids, stats = index.search_with_stats(queries, 10)
        recalls.append(recall_at_k(ids, exact_ids))
        scanned.append(stats["n_candidates"].mean() / len(index))
    assert recalls[0] <= recalls[1] <= recalls[2]
    assert recalls[2] >= 0.9 and scanned[2] < 0.6
    assert recalls[0] > 2 * scanned[0]  # far better than a random sample of the same size


@pytest.mark.parametrize("n_probes", [1, 4, 30])
def test_fast_scan_equals_gather_and_rerank(index, data, n_probes):
    # _search scores each probed list in place; _search_by_rerank copies the rows and re-ranks them
    index = IVFIndex(n_lists=30, n_probes=n_probes, seed=0)
    index.centroids_ = IVFIndex(n_lists=30, seed=0).train(data[0]).centroids_
    index.add(data[0])
    queries = index._queries(data[1])
    fast_scores, fast_rows, fast_scanned = index._search(queries, 10)
    scores, rows, scanned = index._search_by_rerank(queries, 10)
    np.testing.assert_array_equal(fast_rows, rows)
    np.testing.assert_allclose(fast_scores, scores, atol=1e-6)
    np.testing.assert_array_equal(fast_scanned, scanned)


def test_short_lists_give_missing_results(data):
    index = IVFIndex(n_lists=30, n_probes=1, seed=0).add(data[0][:40])  # about one vector per list
    with pytest.warns(ShortResultWarning):
        scores, ids = index.search(data[1][:3], 5)
    assert (ids == -1).any() and np.isnan(scores[ids == -1]).all()
    assert ((ids >= 0) | (ids == -1)).all()


def test_nearest_centroid_is_the_argmax(data):
    centroids = spherical_kmeans(data[0], 12, n_iter=3, seed=1)
    np.testing.assert_array_equal(nearest_centroids(data[0], centroids)[:, 0], np.argmax(data[0] @ centroids.T, axis=1))
    np.testing.assert_array_equal(nearest_centroids(data[0], centroids, 3)[:, 0], np.argmax(data[0] @ centroids.T, 1))


def test_training_learns_from_a_sample_of_256_per_list(data, monkeypatch):
    import imgsim_tutorial.ivf as ivf

    assert ivf.TRAIN_POINTS_PER_LIST == 256 and len(training_sample(100_000, 100)) == 25_600
    assert np.array_equal(training_sample(3000, 30), np.arange(3000))  # 7,680 allowed: all 3,000 are used
    monkeypatch.setattr(ivf, "TRAIN_POINTS_PER_LIST", 20)  # 600 of the 3,000 points
    rows = training_sample(3000, 30, seed=0)
    assert len(rows) == 600 and len(set(rows.tolist())) == 600 and (np.diff(rows) > 0).all()
    index = IVFIndex(n_lists=30, n_probes=4, seed=0).add(data[0])
    assert np.allclose(index.centroids_, spherical_kmeans(data[0][rows], 30, seed=0), atol=1e-6)
    assert index.list_sizes().sum() == 3000  # every embedding is added, not only the sample


def test_add_after_training_uses_the_existing_centroids(data):
    embeddings, queries = data
    once = IVFIndex(n_lists=30, n_probes=4, seed=0).add(embeddings)
    twice = IVFIndex(n_lists=30, n_probes=4, seed=0).add(embeddings[:2000])
    centroids = twice.centroids_.copy()
    twice.add(embeddings[2000:])
    assert np.array_equal(twice.centroids_, centroids)  # no re-training, as in FAISS
    assert len(twice) == 3000 and sorted(twice.ids_.tolist()) == list(range(3000))
    # with the first index's centroids, appending gives exactly the one-shot answer
    shared = IVFIndex(n_lists=30, n_probes=4, seed=0)
    shared.centroids_ = once.centroids_
    shared.add(embeddings[:1000]).add(embeddings[1000:])
    assert np.array_equal(shared.search(queries, 10)[1], once.search(queries, 10)[1])


def test_save_load_round_trip(index, data, tmp_path):
    path = index.save(tmp_path / "ivf.npz")
    loaded = IVFIndex.load(path)
    assert (loaded.n_lists, loaded.n_probes, len(loaded)) == (30, 4, 3000)
    assert np.array_equal(loaded.centroids_, index.centroids_)
    for a, b in zip(loaded.search(data[1], 10), index.search(data[1], 10)):
        assert np.array_equal(a, b)


def test_string_ids_and_memory(data):
    names = np.array([f"img{i}" for i in range(500)])
    index = IVFIndex(n_lists=5, n_probes=5).add(data[0][:500], ids=names)
    assert index.search(data[0][7], 1)[1][0, 0] == "img7"
    memory = index.memory_bytes()
    assert memory["vectors"] == 500 * 64 * 4 and memory["centroids"] == 5 * 64 * 4


@pytest.mark.parametrize("settings, message", [
    ({"n_lists": 0}, "n_lists must be"), ({"n_lists": 2.5}, "n_lists must be a whole number"),
    ({"n_lists": 10, "n_probes": 11}, "n_probes must be between 1 and 10"), ({"n_probes": 0}, "n_probes"),
    ({"seed": -1}, "seed"), ({"n_iter": 0}, "n_iter"),
])
def test_bad_settings_are_rejected(settings, message):
    with pytest.raises(ValueError, match=message):
        IVFIndex(**settings)


def test_too_few_vectors_and_wrong_dimension(data):
    with pytest.raises(ValueError, match="need at least 30 vectors"):
        IVFIndex(n_lists=30).add(data[0][:10])
    index = IVFIndex(n_lists=5, n_probes=2).add(data[0][:100])
    with pytest.raises(ValueError, match="dimension"):
        index.search(np.ones(32), 3)
    with pytest.raises(ValueError, match="dimension"):
        index.add(np.ones((3, 32)))
