"""PQIndex: codebooks, codes and distance tables by hand, checked against exact search and faiss.IndexPQ."""

import numpy as np
import pytest

from imgsim_tutorial import CosineIndex, recall_at_k
from imgsim_tutorial.pq import PQIndex, kmeans
from imgsim_tutorial.synthetic import realistic_embeddings

M, BITS = 8, 6


@pytest.fixture(scope="module")
def data():
    return realistic_embeddings(3000, 64, n_queries=50, seed=3)


@pytest.fixture(scope="module")
def exact(data):
    return CosineIndex().add(data[0]).search(data[1], 10)


@pytest.fixture(scope="module")
def index(data):
    return PQIndex(n_subvectors=M, n_bits=BITS, seed=0).add(data[0])


def faiss_pq(vectors, m=M, bits=BITS):
    import faiss

    pq = faiss.IndexPQ(vectors.shape[1], m, bits, faiss.METRIC_INNER_PRODUCT)
    pq.train(vectors)
    pq.add(vectors)
    return pq


def test_kmeans_by_hand():
    centroids = kmeans(np.array([[0.0, 0], [0, 1], [10, 0], [10, 1]]), 2, seed=1)
    assert sorted(map(tuple, centroids.round(3).tolist())) == [(0.0, 0.5), (10.0, 0.5)]


def test_codes_are_nearest_centroids_and_table_sums_equal_decoded_dot_products(index, data):
    embeddings, queries = data
    assert index.codes_.dtype == np.uint8 and index.codes_.shape == (3000, M)
    assert index.codebooks_.shape == (M, 2 ** BITS, 64 // M)
    pieces = embeddings[:50].reshape(50, M, -1)
    for j in (0, M - 1):  # brute force: the nearest centroid of piece j
        distances = ((pieces[:, j, None, :] - index.codebooks_[j][None]) ** 2).sum(-1)
        assert np.array_equal(np.argmin(distances, axis=1), index.codes_[:50, j])
    estimates = index.approximate_scores(queries[0])
    assert np.allclose(estimates, index.decode(index.codes_) @ queries[0], atol=1e-5)


def test_same_codes_and_scores_as_faiss_with_faiss_codebooks(data):
    import faiss

    embeddings, queries = data
    reference = faiss_pq(embeddings)
    ours = PQIndex(n_subvectors=M, n_bits=BITS)
    ours.codebooks_ = faiss.vector_to_array(reference.pq.centroids).reshape(M, 2 ** BITS, -1)
    ours.add(embeddings)
    # FAISS packs 6-bit codes into bytes, so compare what the codes stand for
    assert np.allclose(ours.decode(ours.codes_), reference.pq.decode(reference.pq.compute_codes(embeddings)))
    faiss_scores, faiss_ids = reference.search(queries, 10)
    scores, ids = ours.search(queries, 10)
    assert np.allclose(scores, faiss_scores, atol=1e-4)
    assert recall_at_k(ids, faiss_ids) >= 0.98  # equal up to near ties


def test_recall_close_to_faiss_indexpq_with_the_same_settings(index, data, exact):
    _, faiss_ids = faiss_pq(data[0]).search(data[1], 10)
    ours = recall_at_k(index.search(data[1], 10)[1], exact[1])
    theirs = recall_at_k(faiss_ids, exact[1])
    assert abs(ours - theirs) <= 0.05, (ours, theirs)  # two k-means runs, same method
    assert 0.2 < ours < 0.95  # lossy without re-ranking


def test_rerank_from_disk_restores_recall_and_true_scores(data, exact, tmp_path):
    embeddings, queries = data
    index = PQIndex(n_subvectors=M, n_bits=BITS, rerank=200, vectors_folder=str(tmp_path / "floats")).add(embeddings)
    assert (tmp_path / "floats" / "vectors.f32").stat().st_size == embeddings.nbytes
    assert "vectors" not in index.memory_bytes() and index.disk_bytes() == embeddings.nbytes
    scores, ids = index.search(queries, 10)
    assert recall_at_k(ids, exact[1]) >= 0.9
    assert np.allclose(scores, np.einsum("qd,qkd->qk", queries, embeddings[ids]), atol=1e-6)


def test_rerank_everything_is_exact(data, exact):
    scores, ids = PQIndex(n_subvectors=4, n_bits=4, rerank=3000).add(data[0]).search(data[1], 10)
    assert recall_at_k(ids, exact[1]) == 1.0 and np.allclose(scores, exact[0], atol=1e-6)


def test_memory_per_image(index):
    memory = index.memory_bytes()
    assert memory["codes"] == 3000 * M  # one byte per piece
    assert memory["codes"] / 3000 < 64 * 4 / 20  # 8 bytes instead of 256


def test_append_and_save_load_round_trip(data, tmp_path):
    embeddings, queries = data
    index = PQIndex(n_subvectors=M, n_bits=BITS, rerank=100).add(embeddings[:2000]).add(embeddings[2000:])
    assert len(index) == 3000 and index.disk_bytes() == embeddings.nbytes
    path = index.save(tmp_path / "pq.npz")
    assert (tmp_path / "pq.vectors.f32").exists()
    loaded = PQIndex.load(path)
    for a, b in zip(loaded.search(queries, 10), index.search(queries, 10)):
        assert np.array_equal(a, b)
    (tmp_path / "pq.vectors.f32").write_bytes(b"short")
    with pytest.raises(ValueError, match="should hold 3000 x 64"):
        PQIndex.load(path)


@pytest.mark.parametrize("settings, message", [
    ({"n_bits": 9}, "n_bits must be between 1 and 8"), ({"n_bits": 0}, "n_bits"), ({"n_subvectors": 0}, "n_subvectors"),
    ({"rerank": -1}, "rerank must be at least 0"), ({"vectors_folder": 3}, "vectors_folder"),
])
def test_bad_settings_are_rejected(settings, message):
    with pytest.raises(ValueError, match=message):
        PQIndex(**settings)


def test_pieces_must_divide_the_dimension_and_enough_training_data(data):
    with pytest.raises(ValueError, match="must divide the dimension 64"):
        PQIndex(n_subvectors=5).add(data[0])
    with pytest.raises(ValueError, match="at least 256 training vectors"):
        PQIndex(n_subvectors=8, n_bits=8).add(data[0][:100])
