"""PQIndex: codebooks, codes and distance tables by hand, checked against exact search and faiss.IndexPQ."""

import numpy as np
import pytest

from imgsim_tutorial import CosineIndex, recall_at_k
from imgsim_tutorial.data.synthetic import realistic_embeddings
from imgsim_tutorial.pq import PQIndex, kmeans

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
    index = PQIndex(n_subvectors=M, n_bits=BITS, n_rerank=200, vectors_folder=str(tmp_path / "floats")).add(embeddings)
    [scratch] = (tmp_path / "floats").iterdir()  # one private scratch file, deleted with the index
    assert scratch.stat().st_size == embeddings.nbytes
    assert "vectors" not in index.memory_bytes() and index.disk_bytes() == embeddings.nbytes
    scores, ids = index.search(queries, 10)
    assert recall_at_k(ids, exact[1]) >= 0.9
    assert np.allclose(scores, np.einsum("qd,qkd->qk", queries, embeddings[ids]), atol=1e-6)


def test_rerank_everything_is_exact(data, exact):
    scores, ids = PQIndex(n_subvectors=4, n_bits=4, n_rerank=3000).add(data[0]).search(data[1], 10)
    assert recall_at_k(ids, exact[1]) == 1.0 and np.allclose(scores, exact[0], atol=1e-6)


def test_memory_per_image(index):
    memory = index.memory_bytes()
    assert memory["codes"] == 3000 * M  # one byte per piece
    assert memory["codes"] / 3000 < 64 * 4 / 20  # 8 bytes instead of 256


def test_append_and_save_load_round_trip(data, tmp_path):
    embeddings, queries = data
    index = PQIndex(n_subvectors=M, n_bits=BITS, n_rerank=100).add(embeddings[:2000]).add(embeddings[2000:])
    assert len(index) == 3000 and index.disk_bytes() == embeddings.nbytes
    path = index.save(tmp_path / "pq.npz")
    assert (tmp_path / "pq.vectors.f32").exists()
    loaded = PQIndex.load(path)
    for a, b in zip(loaded.search(queries, 10), index.search(queries, 10)):
        assert np.array_equal(a, b)
    (tmp_path / "pq.vectors.f32").write_bytes(b"short")
    with pytest.raises(ValueError, match="pq.vectors.f32 has 5 bytes but pq.npz says 768000"):
        PQIndex.load(path)


@pytest.mark.parametrize("settings, message", [
    ({"n_bits": 9}, "n_bits must be between 1 and 8"), ({"n_bits": 0}, "n_bits"), ({"n_subvectors": 0}, "n_subvectors"),
    ({"n_rerank": -1}, "n_rerank must be at least 0"), ({"vectors_folder": 3}, "vectors_folder"),
])
def test_bad_settings_are_rejected(settings, message):
    with pytest.raises(ValueError, match=message):
        PQIndex(**settings)


def test_pieces_must_divide_the_dimension_and_enough_training_data(data):
    with pytest.raises(ValueError, match="must divide the dimension 64"):
        PQIndex(n_subvectors=5).add(data[0])
    with pytest.raises(ValueError, match="at least 256 training vectors"):
        PQIndex(n_subvectors=8, n_bits=8).add(data[0][:100])


# -- IVF-PQ in FAISS (faiss_factory.py) ------------------------------------------------------------
def test_factory_ivfpq_recall_rerank_and_round_trip(data, exact, tmp_path):
    from imgsim_tutorial.faiss_factory import FactoryIndex

    embeddings, queries = data
    plain = FactoryIndex(factory="IVF16,PQ8x6", n_probes=4).add(embeddings[:1500]).add(embeddings[1500:])
    assert len(plain) == 3000
    scores, ids, stats = plain.search_with_stats(queries, 10)
    assert 0.2 < recall_at_k(ids, exact[1]) < 0.95 and (stats["n_candidates"] < 3000).all()
    reranked = FactoryIndex(factory="IVF16,PQ8x6", n_probes=16, n_rerank=300).add(embeddings)
    scores, ids = reranked.search(queries, 10)
    assert recall_at_k(ids, exact[1]) >= 0.9
    assert np.allclose(scores, np.einsum("qd,qkd->qk", queries, embeddings[ids]), atol=1e-5)
    flat = FactoryIndex(factory="IVF16,Flat", n_probes=16).add(embeddings)  # every cell, no compression: exact
    assert recall_at_k(flat.search(queries, 10)[1], exact[1]) == 1.0
    loaded = FactoryIndex.load(plain.save(tmp_path / "ivfpq.npz"))
    for a, b in zip(loaded.search(queries, 10), plain.search(queries, 10)):
        assert np.array_equal(a, b)
    assert set(plain.memory_bytes()) == {"ids", "faiss_index"}


def test_factory_settings_are_checked():
    from imgsim_tutorial.faiss_factory import FactoryIndex

    with pytest.raises(ValueError, match="factory string"):
        FactoryIndex(factory="")
    with pytest.raises(ValueError, match="n_probes"):
        FactoryIndex(n_probes=0)
    with pytest.raises(ValueError, match="'IVF4,PQ7': 'PQ7' splits 64 dimensions into 7 pieces"):
        FactoryIndex(factory="IVF4,PQ7", n_probes=4).add(np.random.default_rng(0).standard_normal((300, 64)))


def test_datasets_route_uses_inner_product_and_matches_faiss(data):
    import faiss
    from datasets import Dataset

    from imgsim_tutorial.faiss_factory import add_factory_index
    from imgsim_tutorial.faiss_index import dataset_search

    embeddings, queries = data
    dataset = add_factory_index(Dataset.from_dict({"embeddings": embeddings}), string_factory="IVF16,Flat", n_probes=16)
    index = dataset.get_index("embeddings").faiss_index
    assert index.metric_type == faiss.METRIC_INNER_PRODUCT
    scores, ids = dataset_search(dataset, queries, k=10)
    assert recall_at_k(ids, CosineIndex().add(embeddings).search(queries, 10)[1]) == 1.0
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # higher is better, as cosine
    with pytest.raises(ValueError, match="not unit length"):
        add_factory_index(Dataset.from_dict({"embeddings": embeddings * 2}))


def test_datasets_route_reuses_a_trained_factory_index(data):
    from datasets import Dataset

    from imgsim_tutorial.faiss_factory import FactoryIndex, add_factory_index
    from imgsim_tutorial.faiss_index import dataset_search

    embeddings, queries = data
    trained = FactoryIndex(factory="IVF16,PQ8", n_probes=4).add(embeddings)
    scores, ids = trained.search(queries, 10)
    dataset = add_factory_index(Dataset.from_dict({"embeddings": embeddings}), n_probes=4, trained_from=trained)
    index = dataset.get_index("embeddings").faiss_index
    assert index.ntotal == len(embeddings) and trained.index_.ntotal == len(embeddings)  # the original untouched
    dataset_scores, dataset_ids = dataset_search(dataset, queries, k=10)
    np.testing.assert_array_equal(dataset_ids, ids)  # same centroids, codebooks and probes: the same answers
    np.testing.assert_allclose(dataset_scores, scores, atol=1e-6)
    with pytest.raises(ValueError, match="differs from trained_from's 'IVF16,PQ8'"):
        add_factory_index(Dataset.from_dict({"embeddings": embeddings}), string_factory="IVF8,Flat",
                          trained_from=trained)
    with pytest.raises(ValueError, match="has been trained"):
        add_factory_index(Dataset.from_dict({"embeddings": embeddings}), trained_from=FactoryIndex())
    with pytest.raises(ValueError, match="trained on 64-d vectors, the column holds 32-d"):
        add_factory_index(Dataset.from_dict({"embeddings": embeddings[:, :32] / np.linalg.norm(
            embeddings[:, :32], axis=1, keepdims=True)}), trained_from=trained)


def test_hnsw_without_layers_is_one_layer():
    from imgsim_tutorial.faiss_factory import hnsw_index, hnsw_search

    embeddings, queries = realistic_embeddings(2000, 32, n_queries=20, seed=4)
    flat, layered = hnsw_index(embeddings, layers=False), hnsw_index(embeddings, layers=True)
    assert flat.hnsw.max_level == 0 and layered.hnsw.max_level >= 1
    _, exact_ids = CosineIndex().add(embeddings).search(queries, 5)
    for index in (flat, layered):
        _, rows, distances = hnsw_search(index, queries, 5, ef_search=64)
        assert recall_at_k(rows, exact_ids) >= 0.9 and 0 < distances < 2000


# -- working memory (encode) ------------------------------------------------------------------------
def encode_all_at_once(index, vectors):
    """The encoder as it was: one (n, n_subvectors, 2 ** n_bits) float32 table for all rows at once."""
    m, _, sub = index.codebooks_.shape
    scores = np.einsum("nms,mcs->nmc", vectors.reshape(len(vectors), m, sub), index.codebooks_)
    return np.argmax(scores - 0.5 * (index.codebooks_ ** 2).sum(2), axis=2).astype(np.uint8)


@pytest.mark.parametrize("rows", [1, 2, 3, 7, 1000])
def test_encoding_in_chunks_gives_the_same_codes_as_all_at_once(index, data, monkeypatch, rows):
    import imgsim_tutorial.pq as pq

    vectors = data[0][:1001]  # 1001 rows: the last chunk is shorter than the others
    expected = encode_all_at_once(index, vectors)
    monkeypatch.setattr(pq, "ENCODE_CHUNK_BYTES", rows * M * 2 ** BITS * 4)
    np.testing.assert_array_equal(index.encode(vectors), expected)
    np.testing.assert_array_equal(index.encode(vectors[:1]), expected[:1])


@pytest.mark.slow
def test_encoding_memory_stays_bounded():
    """96 pieces of 768-d vectors: the old encoder's table took n * 96 * 256 * 4 bytes, twice
    (1.95 GB peak for 10,000 vectors). Measured in a child process: ru_maxrss is a peak."""
    import subprocess
    import sys

    script = """
import resource, numpy as np
from imgsim_tutorial.pq import PQIndex
data = np.random.default_rng(0).standard_normal((4000, 768), dtype=np.float32)
index = PQIndex(n_subvectors=96, n_iter=1).train(data[:300])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
index.add(data)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)  # MiB (Linux: KiB units)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    grew_mib = int(result.stdout.split()[-1])
    assert grew_mib < 200, f"adding 4000 x 768 vectors raised the peak by {grew_mib} MiB (the old encoder: ~790 MiB)"


def test_factory_n_probes_reaches_the_ivf_behind_opq_and_rflat(data, exact):
    from imgsim_tutorial.faiss_factory import FactoryIndex

    embeddings, queries = data
    every_cell = FactoryIndex(factory="IVF16,Flat,RFlat", n_probes=16).add(embeddings)
    assert recall_at_k(every_cell.search(queries, 10)[1], exact[1]) == 1.0
    every_cell.n_probes = 1
    one_cell = every_cell.search_with_stats(queries, 10)
    assert (one_cell[2]["n_candidates"] < 3000).all() and recall_at_k(one_cell[1], exact[1]) < 1.0
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # OPQ training with threads fighting over busy cores takes 20 times longer
    try:
        rotated = FactoryIndex(factory="OPQ4_16,IVF8,Flat", n_probes=2).add(embeddings[:500])  # IVF sees 16-d
    finally:
        faiss.omp_set_num_threads(threads)
    assert (rotated.search_with_stats(queries, 10)[2]["n_candidates"] < 500).all()


def inner_ivf_pq(index):
    import faiss

    inner = faiss.downcast_index(index)
    return faiss.downcast_index(inner.index) if isinstance(inner, faiss.IndexPreTransform) else inner


def test_factory_ivf_pq_skips_polysemous_training_and_scores_the_same(data):
    """FactoryIndex turns FAISS's polysemous training off (a renumbering of the codes that only a Hamming
    pre-filter uses, and most of the build's time): every id and score is what FAISS's default gives."""
    import faiss

    from imgsim_tutorial.faiss_factory import FactoryIndex

    vectors, queries = data[0][:600], data[1]  # FAISS's default (the polysemous step) is the slow part here
    ours = FactoryIndex(factory="IVF16,PQ4", n_probes=4).add(vectors)
    assert inner_ivf_pq(ours.index_).do_polysemous_training is False
    default = faiss.index_factory(vectors.shape[1], "IVF16,PQ4", faiss.METRIC_INNER_PRODUCT)
    assert inner_ivf_pq(default).do_polysemous_training is True  # FAISS's default, which FactoryIndex changes
    default.train(vectors)
    default.add(vectors)
    faiss.extract_index_ivf(default).nprobe = 4
    scores, rows = default.search(queries, 10)
    our_scores, our_ids = ours.search(queries, 10)
    np.testing.assert_array_equal(our_ids, rows)
    np.testing.assert_allclose(our_scores, scores, atol=1e-6)
    for factory in ("OPQ8,IVF16,PQ8", "PQ8", "IVF16,PQ8,RFlat"):
        built = FactoryIndex(factory=factory, n_probes=4)._build(vectors.shape[1])
        inner = faiss.downcast_index(built)
        inner = faiss.downcast_index(inner.base_index) if isinstance(inner, faiss.IndexRefine) else inner
        assert inner_ivf_pq(inner).do_polysemous_training is False, factory
