"""FAISS-backed indexes: configured to be exact, they return what CosineIndex returns."""

import numpy as np
import pytest
from conftest import clustered

from imgsim_tutorial import CosineIndex, recall_at_k
from imgsim_tutorial.faiss_index import (
    FaissIndexBase,
    FaissLSHIndex,
    FlatIPIndex,
    HNSWIndex,
    MultiHashIndex,
    add_cosine_index,
    dataset_search,
)


@pytest.fixture(scope="module")
def data():
    return clustered(600, 32, n_clusters=12, spread=0.5, seed=4)


@pytest.fixture(scope="module")
def exact(data):
    return CosineIndex().add(data).search(data[:40] + 0.01, 10)


EXACT_CONFIGS = [
    lambda: FlatIPIndex(),
    lambda: FaissLSHIndex(n_bits=64, n_rerank=10_000),                  # shortlist = everything
    lambda: MultiHashIndex(n_bits=2, n_tables=2, n_flips=2),          # every bucket probed
    lambda: HNSWIndex(M=16, ef_search=600),                           # graph search visits all
]


@pytest.mark.parametrize("make", EXACT_CONFIGS, ids=["flat", "lsh-rerank-all", "multihash-all", "hnsw-ef-all"])
def test_exact_configurations_equal_cosine_index(data, exact, make):
    scores, ids = make().add(data).search(data[:40] + 0.01, 10)
    np.testing.assert_array_equal(ids, exact[1])
    np.testing.assert_allclose(scores, exact[0], atol=1e-5)


def test_custom_ids_and_single_query(data):
    index = FlatIPIndex().add(data, ids=np.arange(600) + 1000)
    scores, ids = index.search(data[5], 3)
    assert ids.shape == (1, 3) and ids[0, 0] == 1005 and scores[0, 0] == pytest.approx(1, abs=1e-5)


def test_approximate_configurations_trade_recall(data, exact):
    queries = data[:40] + 0.01
    _, lsh_ids = FaissLSHIndex(n_bits=32).add(data).search(queries, 10)
    _, reranked = FaissLSHIndex(n_bits=32, n_rerank=100).add(data).search(queries, 10)
    assert recall_at_k(lsh_ids, exact[1]) < recall_at_k(reranked, exact[1])
    with pytest.warns(UserWarning, match="fewer than k=10 results"):  # one narrow table: many queries come up short
        _, narrow = MultiHashIndex(n_bits=12, n_tables=1).add(data).search(queries, 10)
    _, wide = MultiHashIndex(n_bits=12, n_tables=8, n_flips=1).add(data).search(queries, 10)
    assert recall_at_k(narrow, exact[1]) < recall_at_k(wide, exact[1])


def test_lsh_scores_estimate_cosine(data):
    scores, ids = FaissLSHIndex(n_bits=256).add(data).search(data[:20], 5)
    true = np.take_along_axis(data[:20] @ data.T, ids, axis=1)
    assert np.abs(scores - true).mean() < 0.15 and np.all(np.diff(scores, axis=1) <= 1e-6)


@pytest.mark.parametrize("make", EXACT_CONFIGS, ids=["flat", "lsh", "multihash", "hnsw"])
def test_save_and_load_round_trip(data, tmp_path, make):
    index = make().add(data, ids=np.arange(600) * 3)
    loaded = FaissIndexBase.load(index.save(tmp_path / "index.npz"))
    assert type(loaded) is type(index) and loaded.params() == index.params()
    np.testing.assert_array_equal(loaded.search(data[:10], 5)[1], index.search(data[:10], 5)[1])
    assert type(index).load(tmp_path / "index.npz").params() == index.params()


def test_load_refuses_foreign_or_damaged_files(data, tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        FaissIndexBase.load(tmp_path)
    path = FlatIPIndex().add(data).save(tmp_path / "flat.npz")
    with pytest.raises(ValueError, match="holds a 'FlatIPIndex', not a HNSWIndex"):
        HNSWIndex.load(path)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte in the middle of the FAISS index bytes
    (tmp_path / "damaged.npz").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="not a file written by FlatIPIndex.save"):
        FlatIPIndex.load(tmp_path / "damaged.npz")


def test_errors_match_the_other_indexes(data):
    with pytest.raises(ValueError, match="call .add"):
        HNSWIndex().search(data[:1], 1)
    with pytest.raises(ValueError, match="dimension"):
        FlatIPIndex().add(data).search(np.ones(5), 1)
    with pytest.raises(ValueError, match="holds only 600"):
        FlatIPIndex().add(data).search(data[:1], 601)


def test_datasets_route_returns_cosine_scores(data):
    from datasets import Dataset

    dataset = Dataset.from_dict({"embeddings": data.tolist()})
    add_cosine_index(dataset)
    queries = data[:7] + 0.01
    scores, ids = dataset_search(dataset, queries, k=5)
    true_scores, true_ids = CosineIndex().add(data).search(queries, 5)
    np.testing.assert_array_equal(ids, true_ids)
    np.testing.assert_allclose(scores, true_scores, atol=1e-4)
    one_scores, one_ids = dataset_search(dataset, queries[0] / np.linalg.norm(queries[0]), k=5)
    assert one_ids.tolist() == true_ids[:1].tolist() and np.all(one_scores <= 1 + 1e-5)


def test_datasets_route_refuses_unnormalised_vectors(data):
    from datasets import Dataset

    with pytest.raises(ValueError, match="not unit length"):
        add_cosine_index(Dataset.from_dict({"embeddings": (data * 3).tolist()}))


def test_hnsw_search_leaves_the_shared_ef_search_alone(data):
    index = HNSWIndex(M=8, ef_search=16).add(data)
    before = index.index_.hnsw.efSearch
    index.search(data[:5], 100)  # k > ef_search: this search widens its own beam only
    assert index.index_.hnsw.efSearch == before
    _, ids = index.search(data[:5], 100)
    assert (ids >= 0).all()


def test_multihash_flips_are_set_once_not_per_search(data):
    index = MultiHashIndex(n_bits=6, n_tables=2, n_flips=1).add(data)
    assert index.index_.nflip == 1
    index.index_.nflip = 1  # a search must not need to write it
    index.search(data[:3], 2)
    assert index.index_.nflip == 1


def test_datasets_route_checks_every_row_and_k(data):
    from datasets import Dataset

    vectors = data.copy()
    vectors[450] *= 2  # one bad row far past the first chunk
    with pytest.raises(ValueError, match="row 450 has norm 2.000"):
        add_cosine_index(Dataset.from_dict({"embeddings": vectors.tolist()}), chunk=100)
    dataset = add_cosine_index(Dataset.from_dict({"embeddings": data.tolist()}))
    for k, message in [(0, "at least 1"), (601, "holds only 600"), (2.5, "whole number")]:
        with pytest.raises(ValueError, match=message):
            dataset_search(dataset, data[:2], k=k)


def test_add_cosine_index_reads_only_the_vector_column():
    """An image column that cannot even be decoded is never touched; a missing column is named."""
    from datasets import Dataset, Features, Sequence, Value
    from datasets import Image as ImageFeature

    vectors = clustered(20, 8, n_clusters=2, seed=0)
    features = Features({"image": ImageFeature(), "embeddings": Sequence(Value("float32"))})
    dataset = Dataset.from_dict({"image": [{"bytes": b"not an image", "path": None}] * 20,
                                 "embeddings": vectors.tolist()}, features=features)
    add_cosine_index(dataset)
    scores, ids = dataset_search(dataset, vectors[:2], k=1)
    assert ids[:, 0].tolist() == [0, 1]
    with pytest.raises(ValueError, match="no column 'vectors'"):
        add_cosine_index(dataset, column="vectors")
