"""FAISS: the same search contract, backed by the library used in production.

Builds on ``cosine_search.py`` and ``hash_tables.py``. Every class here has the same shape as
``CosineIndex`` and ``LSHIndex``: ``add(embeddings, ids=None) -> self`` and
``search(queries, k) -> (scores, ids)``, scores higher-is-better, so a notebook can swap them.

- ``FlatIPIndex``: ``IndexFlatIP`` on unit vectors, exact cosine (FAISS's brute force);
- ``FaissLSHIndex``: ``IndexLSH``, one table of sign bits scanned by Hamming distance, with an
  optional exact re-rank of a shortlist;
- ``MultiHashIndex``: ``IndexBinaryMultiHash``, bucketed tables over our own hyperplane bits,
  the C++ cousin of ``LSHIndex`` (``n_flips`` plays the role of probing);
- ``HNSWIndex``: ``IndexHNSWFlat`` with inner product, a graph index, usually the best
  recall-for-speed on CPU.

And the ``datasets`` route: ``add_cosine_index`` + ``dataset_search``. ``add_faiss_index``
defaults to L2 distance (lower is better); for cosine it needs ``METRIC_INNER_PRODUCT`` and unit
vectors. Persistence uses ``faiss.write_index`` plus a JSON header and a ``.npz``; no pickle.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .cosine_search import as_matrix, check_k, normalize, rerank
from .random_projection import RandomHyperplanes

FORMAT, VERSION = "imgsim-faiss-index", 1


def _faiss():
    import faiss

    return faiss


class FaissIndexBase:
    """Shared plumbing: unit vectors, our ids, the checks, and save/load."""

    keeps_vectors = False  # subclasses that re-rank keep the float vectors themselves

    def params(self) -> dict:
        return {name: value for name, value in vars(self).items() if not name.endswith("_")}

    def add(self, embeddings, ids=None):
        vectors = normalize(embeddings, "embeddings")
        ids = np.arange(len(vectors)) if ids is None else np.asarray(ids)
        if ids.shape != (len(vectors),):
            raise ValueError(f"ids must have shape ({len(vectors)},), one per embedding, got {ids.shape}")
        self.dim_, self.ids_ = vectors.shape[1], ids
        if self.keeps_vectors:
            self.vectors_ = vectors
        self.index_ = self._build(vectors)
        return self

    def __len__(self) -> int:
        return len(getattr(self, "ids_", ()))

    def _queries(self, queries, k):
        if not hasattr(self, "index_"):
            raise ValueError(f"this {type(self).__name__} is empty; call .add(embeddings) before .search()")
        return normalize(as_matrix(queries, "queries", self.dim_), "queries"), check_k(k, len(self))

    def search(self, queries, k: int = 5):
        """Top-``k`` per query: ``(scores, ids)``, each (nq, k), best first; -1 where none found."""
        queries, k = self._queries(queries, k)
        scores, rows = self._search(queries, k)
        ids = np.where(rows >= 0, self.ids_[np.clip(rows, 0, None)], -1)
        return scores.astype(np.float32), ids

    def memory_bytes(self) -> int:
        """Bytes FAISS needs for the index itself (serialized size), plus re-rank vectors."""
        faiss = _faiss()
        serialized = faiss.serialize_index_binary(self.index_) if self._is_binary() else faiss.serialize_index(self.index_)
        return int(serialized.nbytes + (self.vectors_.nbytes if self.keeps_vectors else 0))

    def _is_binary(self) -> bool:
        return isinstance(self.index_, _faiss().IndexBinary)

    def save(self, folder) -> Path:
        """Write ``index.faiss`` (FAISS's own format), ``arrays.npz`` and ``header.json``."""
        faiss = _faiss()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (faiss.write_index_binary if self._is_binary() else faiss.write_index)(self.index_, str(folder / "index.faiss"))
        arrays = {"ids": self.ids_, **({"vectors": self.vectors_} if self.keeps_vectors else {}), **self._extra_arrays()}
        np.savez(folder / "arrays.npz", **arrays)
        header = {"format": FORMAT, "version": VERSION, "class": type(self).__name__, "params": self.params(),
                  "dim": self.dim_, "n": len(self)}
        (folder / "header.json").write_text(json.dumps(header, indent=1))
        return folder

    def _extra_arrays(self) -> dict:
        return {}

    @staticmethod
    def load(folder):
        """Read a folder written by ``save``; checks the header and shapes, never unpickles."""
        faiss = _faiss()
        folder = Path(folder)
        try:
            header = json.loads((folder / "header.json").read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"{folder} has no readable header.json ({error}); only folders written by .save() load")
        classes = {cls.__name__: cls for cls in (FlatIPIndex, FaissLSHIndex, MultiHashIndex, HNSWIndex)}
        if header.get("format") != FORMAT or header.get("version") != VERSION or header.get("class") not in classes:
            raise ValueError(f"{folder} holds {header.get('format')!r} v{header.get('version')} "
                             f"({header.get('class')!r}); this code reads {FORMAT!r} v{VERSION}")
        index = classes[header["class"]](**header["params"])
        try:
            with np.load(folder / "arrays.npz", allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            reader = faiss.read_index_binary if header["class"] == "MultiHashIndex" else faiss.read_index
            index.index_ = reader(str(folder / "index.faiss"))
        except (ValueError, OSError, RuntimeError) as error:
            raise ValueError(f"{folder} could not be read ({error}); save the index again") from error
        if arrays["ids"].shape != (header["n"],) or index.index_.ntotal != header["n"]:
            raise ValueError(f"{folder}: {header['n']} items in the header but the arrays disagree; the files are damaged")
        index.dim_, index.ids_ = header["dim"], arrays["ids"]
        if index.keeps_vectors:
            index.vectors_ = arrays["vectors"]
        index._restore(arrays)
        return index

    def _restore(self, arrays):
        pass


class FlatIPIndex(FaissIndexBase):
    """Exact cosine with FAISS: ``IndexFlatIP`` over unit vectors (inner product = cosine)."""

    def _build(self, vectors):
        index = _faiss().IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return index

    def _search(self, queries, k):
        return self.index_.search(queries, k)


class HNSWIndex(FaissIndexBase):
    """A navigable small-world graph (``IndexHNSWFlat``, inner product). More ``ef_search``:
    more recall, slower queries; ``M``: links per node (memory)."""

    def __init__(self, *, M: int = 32, ef_construction: int = 80, ef_search: int = 64):
        self.M, self.ef_construction, self.ef_search = M, ef_construction, ef_search

    def _build(self, vectors):
        faiss = _faiss()
        index = faiss.IndexHNSWFlat(vectors.shape[1], self.M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.ef_construction
        index.add(vectors)
        return index

    def _search(self, queries, k):
        self.index_.hnsw.efSearch = max(self.ef_search, k)
        return self.index_.search(queries, k)


class FaissLSHIndex(FaissIndexBase):
    """``IndexLSH``: ``n_bits`` sign bits per vector, every code scanned by Hamming distance.

    Without re-ranking the score is the cosine *estimated* from the Hamming distance h,
    ``cos(pi * h / n_bits)``. With ``rerank=m`` the ``m`` nearest codes are re-ranked by exact
    cosine (this keeps the float vectors in memory too).
    """

    def __init__(self, *, n_bits: int = 256, rerank: int = 0):
        self.n_bits, self.rerank = n_bits, rerank

    @property
    def keeps_vectors(self):
        return self.rerank > 0

    def _build(self, vectors):
        index = _faiss().IndexLSH(vectors.shape[1], self.n_bits, True, False)  # random rotation, zero thresholds
        index.train(vectors)
        index.add(vectors)
        return index

    def _search(self, queries, k):
        if self.rerank:
            _, rows = self.index_.search(queries, max(k, min(self.rerank, len(self))))
            return rerank(queries, self.vectors_, rows, k)
        hamming, rows = self.index_.search(queries, k)
        return np.cos(np.pi * hamming / self.n_bits), rows


class MultiHashIndex(FaissIndexBase):
    """``IndexBinaryMultiHash``: ``n_tables`` hash tables of ``n_bits`` bits each, over codes from
    our own random hyperplanes; ``n_flips`` also visits buckets up to that many bits away.
    The bucket hits are re-ranked by exact cosine, as in ``LSHIndex``."""

    keeps_vectors = True

    def __init__(self, *, n_bits: int = 8, n_tables: int = 10, n_flips: int = 0, seed: int = 0, shortlist: int = 0):
        self.n_bits, self.n_tables, self.n_flips, self.seed, self.shortlist = n_bits, n_tables, n_flips, seed, shortlist

    def _codes(self, vectors):
        bits = self.planes_.bits(vectors)
        padding = (-bits.shape[1]) % 8  # FAISS binary codes are whole bytes
        return np.packbits(np.pad(bits, ((0, 0), (0, padding))), axis=1, bitorder="little")

    def _build(self, vectors):
        total = self.n_bits * self.n_tables
        self.planes_ = RandomHyperplanes(total, vectors.shape[1], seed=self.seed)
        index = _faiss().IndexBinaryMultiHash(total + (-total) % 8, self.n_tables, self.n_bits)
        index.add(self._codes(vectors))
        return index

    def _search(self, queries, k):
        self.index_.nflip = self.n_flips
        shortlist = self.shortlist or len(self)  # how many bucket hits (nearest by Hamming) to re-rank
        _, rows = self.index_.search(self._codes(queries), max(k, min(shortlist, len(self))))
        return rerank(queries, self.vectors_, rows, k)

    def _extra_arrays(self):
        return {"normals": self.planes_.normals}

    def _restore(self, arrays):
        self.planes_ = RandomHyperplanes(self.n_bits * self.n_tables, self.dim_, seed=self.seed)
        self.planes_.normals = arrays["normals"]


def add_cosine_index(dataset, column: str = "embeddings", index_name: str | None = None):
    """Add a FAISS inner-product index on ``column`` so that its scores are cosine similarities.

    ``Dataset.add_faiss_index`` defaults to L2 distance (lower is better), which silently flips
    the meaning of "score"; we ask for ``METRIC_INNER_PRODUCT`` and check the vectors are unit
    length, because inner product equals cosine only then.
    """
    faiss = _faiss()
    vectors = np.asarray(dataset.with_format("numpy")[column][:256], dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    if not np.allclose(norms, 1, atol=1e-3):
        raise ValueError(f"column {column!r} is not unit length (norms {norms.min():.3f}..{norms.max():.3f}); "
                         "embed with normalize=True so inner product equals cosine")
    dataset.add_faiss_index(column=column, index_name=index_name or column, metric_type=faiss.METRIC_INNER_PRODUCT)
    return dataset


def dataset_search(dataset, queries, k: int = 5, index_name: str = "embeddings"):
    """``(scores, ids)`` from a dataset's FAISS index for one (d,) or many (nq, d) queries.

    Queries are scaled to unit length first: inner product is cosine only for unit vectors.
    """
    single = np.ndim(queries) == 1
    queries = normalize(queries, "queries")
    if single:  # Dataset.search takes exactly one 1-D query
        result = dataset.search(index_name, queries[0], k=k)
        return np.asarray(result.scores)[None], np.asarray(result.indices)[None]
    result = dataset.search_batch(index_name, queries, k=k)
    return np.asarray(result.total_scores), np.asarray(result.total_indices)
