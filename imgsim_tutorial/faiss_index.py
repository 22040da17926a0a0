"""FAISS: the same search contract, backed by the library used in production.

Builds on ``cosine_search.py``, ``hash_tables.py`` and ``index_base.py``. Every class here keeps
the contract of ``CosineIndex`` and ``LSHIndex``: ``add(embeddings, ids=None)`` appends and
returns the index, ``search(queries, k) -> (scores, ids)``, scores higher-is-better, so a
notebook can swap them. Settings are checked in the constructor: FAISS itself crashes the
kernel, aborts or spins on some of them (``IndexLSH`` with 0 bits, HNSW with ``M < 2``).

- ``FlatIPIndex``: ``IndexFlatIP`` on unit vectors, exact cosine (FAISS's brute force);
- ``FaissLSHIndex``: ``IndexLSH``, one table of sign bits scanned by Hamming distance, with an
  optional exact re-rank of a shortlist;
- ``MultiHashIndex``: ``IndexBinaryMultiHash``, bucketed tables over our own hyperplane bits,
  the C++ cousin of ``LSHIndex`` (``n_flips`` plays the role of probing);
- ``HNSWIndex``: ``IndexHNSWFlat`` with inner product, a graph index, usually the best
  recall-for-speed on CPU.

Filters go to FAISS as an ``IDSelectorBitmap`` inside the per-call ``SearchParameters``; removals
are tombstones in the same selector (FAISS's HNSW has no ``remove_ids``; ``FlatIPIndex.compact`` uses it).

And the ``datasets`` route: ``add_cosine_index`` + ``dataset_search``. ``add_faiss_index``
defaults to L2 distance (lower is better); for cosine it needs ``METRIC_INNER_PRODUCT`` and unit
vectors. Persistence is ``IndexBase``'s one ``.npz`` file: the FAISS index as the bytes
``faiss.serialize_index`` writes (``faiss.write_index``'s format), with our ids; no pickle.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from ._support.faiss_file import read_faiss_index
from .cosine_search import rerank
from .index_base import IndexBase
from .random_projection import RandomHyperplanes
from .vectors import check_int, check_k, normalize


def _faiss():
    import faiss

    return faiss


class FaissIndexBase(IndexBase):
    """Shared plumbing: our ids, unit vectors, appending, and the FAISS object in ``save``.

    ``index_`` is the FAISS structure; ``memory_bytes()["faiss_index"]`` is its serialized
    size, and ``save`` stores those same bytes (``faiss.serialize_index``) inside the one
    ``.npz`` file, so the index and its ids can never come from different saves.
    """

    keeps_vectors = False  # subclasses that re-rank keep the float vectors themselves
    _ADD_STATE = ("ids_", "dim_", "vectors_", "index_", "deleted_")  # what a refused add() puts back
    _faiss_kind = ""  # the four letters FAISS writes first for this class's index, checked by load

    def params(self) -> dict:
        """The constructor settings (same as :meth:`get_params`)."""
        return self.get_params()

    def add(self, embeddings, ids=None):
        """Append ``embeddings`` (n, d); default ids continue from ``len(self)``. If FAISS refuses
        the batch (building or training fails), the index is left as it was before the call."""
        before = {name: self.__dict__[name] for name in self._ADD_STATE if name in self.__dict__}
        batch = self._append(embeddings, ids, keep_vectors=self.keeps_vectors)
        try:
            if "index_" not in before:
                self.index_ = self._build(batch.shape[1])
            self._add_to_index(batch)
        except (ValueError, RuntimeError):
            for name in self._ADD_STATE:
                self.__dict__.pop(name, None)
            self.__dict__.update(before)
            raise
        return self

    def _add_to_index(self, batch):
        self.index_.add(batch)

    def _is_binary(self) -> bool:
        return isinstance(self.index_, _faiss().IndexBinary)

    def _serialized(self) -> np.ndarray:
        faiss = _faiss()
        return faiss.serialize_index_binary(self.index_) if self._is_binary() else faiss.serialize_index(self.index_)

    def _memory_extra(self) -> dict:
        return {"faiss_index": int(self._serialized().nbytes)}

    def _state_arrays(self) -> dict:
        arrays = super()._state_arrays()
        if hasattr(self, "index_"):  # saving: the FAISS object travels as its own serialized bytes
            arrays["faiss_index"] = self._serialized()
        return arrays

    def memory_bytes(self) -> dict:
        """Bytes held, by part: ``ids``, re-rank ``vectors`` if kept, and ``faiss_index``."""
        self._check_fitted()
        parts = {name: int(array.nbytes) for name, array in super()._state_arrays().items()}
        parts.update(self._memory_extra())
        return parts

    @classmethod
    def _keeps_vectors_with(cls, params: dict) -> bool:
        """Whether an index with these settings keeps the float vectors (for re-ranking)."""
        return cls.keeps_vectors is True

    @classmethod
    def _expected_shapes(cls, params, n, dim):
        shapes = {"ids": (n,)}
        if cls._keeps_vectors_with(params):
            shapes["vectors"] = (n, dim)
        return shapes

    def _file_checks(self) -> dict:
        """What the saved FAISS bytes must declare, checked before FAISS reads them (index_file)."""
        return {"kinds": {self._faiss_kind}, "binary": isinstance(self, MultiHashIndex),
                "hnsw_M": getattr(self, "M", None)}  # only HNSWIndex has links M

    def _restore(self):
        self.index_ = read_faiss_index(self.__dict__.pop("faiss_index_"), n=len(self), dim=self._faiss_dim(self.dim_),
                                       **self._file_checks())

    def _faiss_dim(self, dim):
        return dim

    # -- filters: FAISS's own selectors ----------------------------------------------------
    @staticmethod
    def _selector(mask):
        """FAISS's filter over our rows (FAISS numbers items 0, 1, ... in the order added, as our
        rows): an ``IDSelectorBitmap``, one bit per item. Returns ``(selector, bits)``: FAISS reads
        the bits through a pointer, so they must stay alive until the search is done."""
        faiss = _faiss()
        bits = np.packbits(mask, bitorder="little")
        return faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)), bits

    @staticmethod
    def _missing_as_nan(scores, rows):
        """FAISS pads a short result with id -1 and a huge negative score; the contract wants NaN."""
        return np.where(rows >= 0, scores, np.nan).astype(np.float32), rows


class FlatIPIndex(FaissIndexBase):
    """Exact cosine with FAISS: ``IndexFlatIP`` over unit vectors (inner product = cosine)."""

    _faiss_kind = "IxFI"

    def __init__(self):
        pass

    def _build(self, dim):
        return _faiss().IndexFlatIP(dim)

    def _search(self, queries, k):
        scores, rows = self.index_.search(queries, k)
        return scores, rows, np.full(len(queries), len(self))

    def _search_inside(self, queries, k, mask):
        """FAISS's brute force with a selector: it scores only the allowed items."""
        selector, bits = self._selector(mask)
        scores, rows = self.index_.search(queries, k, params=_faiss().SearchParameters(sel=selector))
        return (*self._missing_as_nan(scores, rows), np.full(len(queries), int(mask.sum())))

    def _has_vectors(self) -> bool:
        return False  # FAISS's own filtered scan is the exact one here

    def compact(self) -> FlatIPIndex:
        """Free removed items with FAISS's ``remove_ids``: a flat index shifts the later items
        down, so FAISS's numbers stay our row numbers. (HNSW cannot do this; see ``HNSWIndex``.)"""
        removed = getattr(self, "deleted_", None)
        if removed is None or not removed.any():
            return self
        self.index_.remove_ids(_faiss().IDSelectorBatch(np.flatnonzero(removed).astype(np.int64)))
        self.ids_, self.deleted_ = self.ids_[~removed], removed[~removed]
        return self


_HNSW_STATS = threading.Lock()  # faiss counts HNSW distance computations in one global


class HNSWIndex(FaissIndexBase):
    """A navigable small-world graph (``IndexHNSWFlat``, inner product). More ``ef_search``:
    more recall, slower queries; ``M``: links per node (memory).

    Each search passes its own ``SearchParametersHNSW``, so threads searching one index with
    different ``k`` never change each other's settings.
    """

    _faiss_kind = "IHNf"

    def __init__(self, *, M: int = 32, ef_construction: int = 80, ef_search: int = 64):
        # FAISS crashes the kernel on M < 2 and hangs on ef < 1: refuse them here.
        self.M = check_int(M, "M", low=2, high=512, sensible=32)
        self.ef_construction = check_int(ef_construction, "ef_construction", low=1, high=100_000, sensible=80)
        self.ef_search = check_int(ef_search, "ef_search", low=1, high=100_000, sensible=64)

    def _build(self, dim):
        faiss = _faiss()
        index = faiss.IndexHNSWFlat(dim, self.M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.ef_construction
        return index

    def _search(self, queries, k):
        faiss = _faiss()
        params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))
        with _HNSW_STATS:
            faiss.cvar.hnsw_stats.reset()
            scores, rows = self.index_.search(queries, k, params=params)
            visited = faiss.cvar.hnsw_stats.ndis
        # distance computations per query (upper layers revisit a few nodes, hence the cap at n)
        return scores, rows, np.full(len(queries), min(len(self), visited // max(1, len(queries))))

    def _search_inside(self, queries, k, mask):
        """FAISS's filtered HNSW: the walk still steps through disallowed nodes (they keep the graph
        connected) but only allowed ones enter the results. FAISS keeps at most ``efSearch`` nodes
        waiting to be expanded, so where the query's neighbourhood is all disallowed (a filter that
        excludes its own cluster) those places fill with disallowed nodes and the walk is trapped
        there. So each query first looks around (a plain walk: what share s of its ``ef`` nearest
        does the filter allow?) and walks again with ``efSearch = ef / s``; where that would score
        more vectors than the allowed rows hold, it scans them exactly instead."""
        faiss = _faiss()
        ef = max(self.ef_search, k)
        _, near = self.index_.search(queries, ef, params=faiss.SearchParametersHNSW(efSearch=ef))
        local = ((near >= 0) & mask[np.clip(near, 0, None)]).mean(axis=1)
        # efSearch per query, rounded up to a power of two so that few FAISS calls serve the batch
        wanted = 2 ** np.ceil(np.log2(ef / np.maximum(local, 1 / ef))).astype(np.int64)
        scores = np.full((len(queries), k), np.nan, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        n_scored = np.full(len(queries), ef, dtype=np.int64)
        selector, bits = self._selector(mask)
        for wide in np.unique(wanted).tolist():
            group = np.flatnonzero(wanted == wide)
            if wide * self.M >= mask.sum():  # the walk would cost more than scanning the allowed rows
                scores[group], rows[group] = self._scan_allowed(queries[group], k, mask)
                n_scored[group] += int(mask.sum())
                continue
            params = faiss.SearchParametersHNSW(efSearch=int(min(wide, len(self))), sel=selector)
            found, found_rows = self.index_.search(queries[group], k, params=params)
            scores[group], rows[group] = self._missing_as_nan(found, found_rows)
            n_scored[group] += wide * self.M
        return scores, rows, n_scored

    def _inside_cost(self, n_allowed: int) -> float:
        # The plain walk scores about ef_search * M vectors; the filtered one, 1 / s times as many.
        return self.ef_search * self.M * len(self) / max(1, n_allowed)

    def _has_vectors(self) -> bool:
        return True  # HNSWFlat keeps every vector in its flat storage

    def _vectors_of(self, rows) -> np.ndarray:
        faiss = _faiss()
        storage = faiss.downcast_index(self.index_.storage)
        return faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * self.dim_).reshape(-1, self.dim_)[rows]

    def compact(self) -> HNSWIndex:
        """FAISS's HNSW cannot remove an item (``remove_ids`` raises "not implemented"): taking a
        node out would cut the links that routed walks through it. Removed items stay as
        tombstones that the search's selector skips; this rebuilds the graph without them."""
        return super().compact()


class FaissLSHIndex(FaissIndexBase):
    """``IndexLSH``: ``n_bits`` sign bits per vector, every code scanned by Hamming distance.

    Without re-ranking the score is the cosine *estimated* from the Hamming distance h,
    ``cos(pi * h / n_bits)``. With ``n_rerank=m`` the ``m`` nearest codes are re-ranked by exact
    cosine (this keeps the float vectors in memory too).
    """

    _faiss_kind = "IxHe"

    def __init__(self, *, n_bits: int = 256, n_rerank: int = 0):
        self.n_bits = check_int(n_bits, "n_bits", low=1, high=8192, sensible=256)  # 0 crashes FAISS
        self.n_rerank = check_int(n_rerank, "n_rerank", low=0, sensible=100)

    @property
    def keeps_vectors(self):
        return self.n_rerank > 0

    def _build(self, dim):
        return _faiss().IndexLSH(dim, self.n_bits, True, False)  # random rotation, zero thresholds

    def _add_to_index(self, batch):
        if not self.index_.is_trained:  # "training" draws the fixed random rotation; data-independent
            self.index_.train(batch)
        self.index_.add(batch)

    def _search(self, queries, k):
        n_all = np.full(len(queries), len(self))  # every code is compared by Hamming distance
        if self.n_rerank:
            _, rows = self.index_.search(queries, max(k, min(self.n_rerank, len(self))))
            return (*rerank(queries, self.vectors_, rows, k), n_all)
        hamming, rows = self.index_.search(queries, k)
        return np.cos(np.pi * hamming / self.n_bits), rows, n_all


class MultiHashIndex(FaissIndexBase):
    """``IndexBinaryMultiHash``: ``n_tables`` hash tables of ``n_bits`` bits each, over codes from
    our own random hyperplanes; ``n_flips`` also visits buckets up to that many bits away.
    The bucket hits (at most ``n_rerank`` of them, nearest by Hamming; 0 = all) are re-ranked
    by exact cosine, as in ``LSHIndex``."""

    keeps_vectors = True
    _faiss_kind = "IBHm"
    MAX_PROBES = 100_000  # buckets visited per table per query; beyond it FAISS spins for minutes

    def __init__(self, *, n_bits: int = 8, n_tables: int = 10, n_flips: int = 0, seed: int = 0, n_rerank: int = 0):
        self.n_bits = check_int(n_bits, "n_bits", low=1, high=63, sensible=8)  # FAISS hashes in 64 bits
        self.n_tables = check_int(n_tables, "n_tables", low=1, high=1024, sensible=10)
        self.n_flips = check_int(n_flips, "n_flips", low=0, high=self.n_bits, sensible=min(1, self.n_bits))
        probes = sum(math.comb(self.n_bits, radius) for radius in range(self.n_flips + 1))
        if probes > self.MAX_PROBES:
            raise ValueError(f"n_flips={n_flips} with n_bits={n_bits} visits {probes} buckets per table per query "
                             f"(at most {self.MAX_PROBES} allowed); use n_flips=1 or 2, or fewer n_bits")
        self.seed = check_int(seed, "seed", low=0, sensible=0)
        self.n_rerank = check_int(n_rerank, "n_rerank", low=0, sensible=100)

    def _codes(self, vectors):
        bits = vectors @ self.normals_.T > 0  # the sign bits, as RandomHyperplanes.bits computes them
        padding = (-bits.shape[1]) % 8  # FAISS binary codes are whole bytes
        return np.packbits(np.pad(bits, ((0, 0), (0, padding))), axis=1, bitorder="little")

    def _faiss_dim(self, dim):
        total = self.n_bits * self.n_tables
        return total + (-total) % 8

    def _build(self, dim):
        self.normals_ = RandomHyperplanes(self.n_bits * self.n_tables, dim, seed=self.seed).normals
        index = _faiss().IndexBinaryMultiHash(self._faiss_dim(dim), self.n_tables, self.n_bits)
        index.nflip = self.n_flips  # set once here, never per search (threads share the index)
        return index

    def _add_to_index(self, batch):
        self.index_.add(self._codes(batch))

    def _memory_extra(self) -> dict:
        # The file packs the hash maps' ids into few bits; in memory every table keeps an int64
        # id per item (as LSHIndex does), next to the codes themselves.
        in_memory = self.index_.ntotal * (self.index_.code_size + 8 * self.n_tables)
        return {"faiss_index": max(int(self._serialized().nbytes), in_memory)}

    def _restore(self):
        super()._restore()
        self.index_.nflip = self.n_flips

    @classmethod
    def _expected_shapes(cls, params, n, dim):
        return {**super()._expected_shapes(params, n, dim), "normals": (params["n_bits"] * params["n_tables"], dim)}

    def _search(self, queries, k):
        shortlist = self.n_rerank or len(self)  # how many bucket hits (nearest by Hamming) to re-rank
        _, rows = self.index_.search(self._codes(queries), max(k, min(shortlist, len(self))))
        return (*rerank(queries, self.vectors_, rows, k), (rows >= 0).sum(axis=1))


def add_cosine_index(dataset, column: str = "embeddings", index_name: str | None = None, *, chunk: int = 4096):
    """Add a FAISS inner-product index on ``column`` so that its scores are cosine similarities.

    ``Dataset.add_faiss_index`` defaults to L2 distance (lower is better), which silently flips
    the meaning of "score"; we ask for ``METRIC_INNER_PRODUCT`` and check the vectors are unit
    length, because inner product equals cosine only then.
    """
    faiss = _faiss()
    if column not in dataset.column_names:
        raise ValueError(f"the dataset has no column {column!r}; its columns are {dataset.column_names}")
    rows = dataset.select_columns([column]).with_format("numpy")  # only the vectors: no image is decoded
    for start in range(0, len(dataset), chunk):  # every row is checked, a chunk at a time
        vectors = np.asarray(rows[start:start + chunk][column], dtype=np.float32)
        norms = np.linalg.norm(vectors.reshape(len(vectors), -1), axis=1)
        bad = np.flatnonzero(~(np.abs(norms - 1) <= 1e-3))  # NaN norms count as bad too
        if len(bad):
            raise ValueError(f"column {column!r} is not unit length: row {start + bad[0]} has norm "
                             f"{norms[bad[0]]:.3f} ({len(bad)} such rows in rows {start}..{start + len(vectors) - 1}); "
                             "embed with normalize=True so inner product equals cosine")
    dataset.add_faiss_index(column=column, index_name=index_name or column, metric_type=faiss.METRIC_INNER_PRODUCT)
    return dataset


def dataset_search(dataset, queries, k: int = 5, index_name: str = "embeddings"):
    """``(scores, ids)`` from a dataset's FAISS index for one (d,) or many (nq, d) queries.

    Queries are scaled to unit length first: inner product is cosine only for unit vectors.
    """
    single = np.ndim(queries) == 1
    k = check_k(k, len(dataset))
    queries = normalize(queries, "queries")
    if single:  # Dataset.search takes exactly one 1-D query
        result = dataset.search(index_name, queries[0], k=k)
        return np.asarray(result.scores)[None], np.asarray(result.indices)[None]
    result = dataset.search_batch(index_name, queries, k=k)
    return np.asarray(result.total_scores), np.asarray(result.total_indices)
