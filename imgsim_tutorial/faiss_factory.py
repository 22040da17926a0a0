"""Putting it together in FAISS: IVF + PQ from a factory string, and HNSW with and without layers.

Builds on ``ivf.py``, ``pq.py`` and ``graph.py``, which built each idea by hand. Production
systems combine them, and FAISS names a combination with a *factory string*:

- ``"IVF256,PQ16"``: 256 k-means cells (``ivf.py``), and inside them every vector stored as
  16 one-byte PQ codes (``pq.py``): both fewer vectors touched *and* smaller vectors;
- ``"IVF256,PQ16x8,RFlat"`` would add an exact re-rank (we re-rank ourselves: ``n_rerank=``);
- ``"HNSW32,Flat"``: the layered graph that ``graph.py`` builds with one layer.

``FactoryIndex`` wraps a factory string under the course's index contract, always with the
inner-product metric on unit vectors (cosine). The string is checked first against the small
grammar the course uses (``_support/factory_strings.py``): FAISS itself crashes the kernel on some
strings.
``add_factory_index`` is the same through ``datasets``:
``Dataset.add_faiss_index(string_factory=..., metric_type=METRIC_INNER_PRODUCT)``.
``hnsw_index(layers=False)`` builds FAISS's HNSW with every node on layer 0, so notebook 07 can
measure what the upper layers add, with everything else equal.
"""

from __future__ import annotations

import numpy as np

from ._support.factory_strings import check_factory, faiss_kind, parse_factory
from .cosine_search import rerank
from .faiss_index import _HNSW_STATS, FaissIndexBase
from .vectors import as_matrix, check_int


def _faiss():
    import faiss

    return faiss


def skip_polysemous_training(index):
    """``index`` with FAISS's *polysemous training* turned off in its PQ part (if it has one).

    That step renumbers each PQ codebook so that codes close in Hamming distance decode to close
    pieces, which only a polysemous search (``polysemous_ht``, a Hamming pre-filter) uses; our
    searches compare decoded pieces, and a renumbering changes none of their scores. FAISS's
    ``IndexIVFPQ`` does it by default: training ``"IVF39,PQ16"`` on 3,000 x 768 took 25.6 s with it
    and 0.45 s without, one thread, with the same ids and scores for every query (2026-12-03)."""
    faiss = _faiss()
    inner, _ = _unwrapped(index)
    if isinstance(inner, (faiss.IndexIVFPQ, faiss.IndexPQ)):  # "IVF..,PQ.." and a bare "PQ.."
        inner.do_polysemous_training = False
    return index


def _unwrapped(index):
    """``(inner index, pre-transform steps)``: a factory index past its ``RFlat`` refine step and its
    ``OPQ`` rotation, downcast to its own FAISS class."""
    faiss = _faiss()
    index, steps = faiss.downcast_index(index), []
    if isinstance(index, faiss.IndexRefine):
        index = faiss.downcast_index(index.base_index)
    if isinstance(index, faiss.IndexPreTransform):
        steps = [index.chain.at(step) for step in range(index.chain.size())]
        index = faiss.downcast_index(index.index)
    return index, steps


def _check_probes(n_probes, factory: str) -> int:
    """``n_probes`` if it counts at most the IVF lists ``factory`` has (any count without IVF)."""
    lists = parse_factory(factory).get("lists")
    n_probes = check_int(n_probes, "n_probes", low=1, sensible=16)
    if lists is not None and n_probes > lists:
        raise ValueError(f"n_probes must be between 1 and {lists} (the IVF lists of {factory!r}), got {n_probes}; "
                         f"a sensible value is n_probes={max(1, lists // 16)}")
    return n_probes


class FactoryIndex(FaissIndexBase):
    """A FAISS factory string (``_support/factory_strings.py`` says which), inner product on unit vectors, under the
    course's contract. Builds on ``FaissIndexBase`` (ids, appending, the FAISS bytes in ``save``,
    ``memory_bytes``); what it adds is training on the first batch and per-call IVF settings.

    ``n_probes`` sets the IVF cells a query scans (from 1 to the string's IVF lists; ignored
    without IVF); ``n_rerank=R`` re-scores the best R by exact cosine (keeps the float vectors in
    memory, as FAISS's ``RFlat`` does).

    >>> rng = np.random.default_rng(0); data = rng.standard_normal((2000, 32)).astype("float32")
    >>> index = FactoryIndex(factory="IVF16,PQ8", n_probes=16, n_rerank=100).add(data)
    >>> index.search(data[:2], k=1)[1].ravel()
    array([0, 1])
    """

    def __init__(self, *, factory: str = "IVF256,PQ16", n_probes: int = 16, n_rerank: int = 0):
        self.factory = check_factory(factory)
        self.n_probes = _check_probes(n_probes, self.factory)  # at most the IVF lists the factory makes
        self.n_rerank = check_int(n_rerank, "n_rerank", low=0, sensible=100)

    @property
    def keeps_vectors(self) -> bool:
        return self.n_rerank > 0

    @classmethod
    def _keeps_vectors_with(cls, params: dict) -> bool:
        return params.get("n_rerank", 0) > 0

    def _build(self, dim):
        faiss = _faiss()
        return skip_polysemous_training(
            faiss.index_factory(dim, check_factory(self.factory, dim), faiss.METRIC_INNER_PRODUCT))

    def _add_to_index(self, batch):
        """Train on the first batch (IVF centroids, PQ codebooks), then append every batch."""
        if not self.index_.is_trained:
            try:
                self.index_.train(batch)
            except RuntimeError as error:  # add() puts the index back as it was before the call
                raise ValueError(f"FAISS could not train {self.factory!r} on {len(batch)} vectors ({error}); "
                                 "add more vectors in the first batch, or use fewer IVF lists or PQ bits") from None
        self.index_.add(batch)

    def _ivf_part(self, queries=None):
        """``(ivf, queries)``: the IVF inside the FAISS index (None without one) and the queries as
        it sees them, past an ``RFlat`` refine step and an ``OPQ`` rotation."""
        ivf, steps = self._structure()
        for step in steps:
            queries = None if queries is None else step.apply(queries)
        return ivf, queries

    def _structure(self):
        """``(ivf or None, pre-transform steps)``, found once per FAISS index: walking it on every
        search (downcasts through SWIG) cost more than a small IVF search itself."""
        cached = getattr(self, "_structure_of", None)  # (index, ivf, steps), replaced in one assignment
        if cached is None or cached[0] is not self.index_:
            index, steps = _unwrapped(self.index_)
            cached = (self.index_, index if isinstance(index, _faiss().IndexIVF) else None, steps)
            self._structure_of = cached
        return cached[1], cached[2]

    def _parameters(self, selector=None):
        """Per-call search settings (never the index's own, so concurrent searches share nothing),
        with FAISS's filter ``selector`` if given."""
        faiss = _faiss()
        if self._structure()[0] is None:
            return None  # no IVF: nothing to set
        parameters = faiss.SearchParametersIVF(nprobe=_check_probes(self.n_probes, self.factory))  # may be set since
        if selector is not None:
            parameters.sel = selector
        if isinstance(faiss.downcast_index(self.index_), faiss.IndexRefine):  # RFlat wants its own kind, around it
            refine = faiss.IndexRefineSearchParameters(k_factor=self.index_.k_factor, base_index_params=parameters)
            if selector is not None:
                refine.sel = selector
            return refine
        return parameters

    def _search(self, queries, k, selector=None):
        width = max(k, min(self.n_rerank, len(self))) if self.n_rerank else k
        scores, rows = self.index_.search(queries, width, params=self._parameters(selector))
        if self.n_rerank:
            scores, rows = rerank(queries, self.vectors_, rows, k)
        return scores, rows, self.scanned(queries)

    def _search_inside(self, queries, k, mask):
        """FAISS's IVF with an ``IDSelector``: it skips disallowed items in the ``n_probes`` lists it
        scans, and stops there (unlike ``IVFIndex``, it does not probe further for a selective
        filter). Without IVF: the generic over-fetch of ``IndexBase``."""
        if self._structure()[0] is None:
            return super()._search_inside(queries, k, mask)
        selector, bits = self._selector(mask)
        scores, rows, n_scanned = self._search(queries, k, selector)
        return (*self._missing_as_nan(np.asarray(scores), np.asarray(rows)), n_scanned)

    def scanned(self, queries) -> np.ndarray:
        """How many stored codes each query scores: the members of its ``n_probes`` cells (all without IVF)."""
        ivf, seen = self._ivf_part(np.ascontiguousarray(queries, dtype=np.float32))
        if ivf is None:
            return np.full(len(queries), len(self))
        _, lists = ivf.quantizer.search(seen, min(self.n_probes, ivf.nlist))
        return self._list_sizes(ivf)[lists].sum(axis=1) + (min(self.n_rerank, len(self)) if self.n_rerank else 0)

    def _list_sizes(self, ivf) -> np.ndarray:
        """Members per IVF list, read once per state of the index: one FAISS call per list cost about
        0.3 ms per search at 224 lists, more than the search itself (``benchmarks/beyond_lsh.py``)."""
        cached = getattr(self, "_sizes", None)  # (index, ntotal, sizes), replaced in one assignment: thread-safe
        if cached is None or cached[0] is not self.index_ or cached[1] != ivf.ntotal:
            cached = (self.index_, ivf.ntotal, np.array([ivf.invlists.list_size(j) for j in range(ivf.nlist)]))
            self._sizes = cached
        return cached[2]

    def _file_checks(self) -> dict:
        settings = parse_factory(self.factory)
        return {"kinds": {faiss_kind(settings)}, "n_lists": settings.get("lists"), "hnsw_M": settings.get("M")}


def add_factory_index(dataset, column: str = "embeddings", string_factory: str | None = None,
                      n_probes: int = 8, index_name: str | None = None, train_size: int | None = None,
                      trained_from: FactoryIndex | None = None):
    """``Dataset.add_faiss_index`` with a factory string and the inner-product metric (cosine).

    Without ``metric_type`` datasets builds an L2 index (lower is better); we pass
    ``METRIC_INNER_PRODUCT`` and check that the column is unit length (inner product = cosine
    only then), train on ``train_size`` rows (default: all; datasets trains nothing without it)
    and set ``nprobe`` on the IVF part. Search it with ``faiss_index.dataset_search``.

    ``trained_from``: a ``FactoryIndex`` already trained on these vectors. Its centroids and
    codebooks are reused (an empty copy of its FAISS index, passed as ``custom_index``) instead of
    training again. ``string_factory`` (default ``"IVF64,PQ16"``) is then the index's own.
    """
    faiss = _faiss()
    vectors = np.asarray(dataset.with_format("numpy")[column], dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    if not np.allclose(norms, 1, atol=1e-3):
        raise ValueError(f"column {column!r} is not unit length (norms {norms.min():.3f}..{norms.max():.3f}); "
                         "embed with normalize=True so inner product equals cosine")
    check_int(n_probes, "n_probes", low=1, sensible=8)
    name = index_name or column
    if trained_from is None:
        string_factory = check_factory("IVF64,PQ16" if string_factory is None else string_factory, vectors.shape[1])
        _check_probes(n_probes, string_factory)
        untrained = skip_polysemous_training(  # what datasets' string_factory builds, less that step
            faiss.index_factory(vectors.shape[1], string_factory, faiss.METRIC_INNER_PRODUCT))
        dataset.add_faiss_index(column=column, index_name=name, custom_index=untrained,
                                train_size=train_size or len(vectors))
    else:
        empty = _empty_trained_copy(trained_from, string_factory, vectors.shape[1])
        _check_probes(n_probes, trained_from.factory)
        dataset.add_faiss_index(column=column, index_name=name, custom_index=empty)
    index = dataset.get_index(name).faiss_index
    try:
        faiss.extract_index_ivf(index).nprobe = n_probes
    except RuntimeError:
        pass  # not an IVF index: nothing to probe
    return dataset


def _empty_trained_copy(trained: FactoryIndex, string_factory: str | None, dim: int):
    """A copy of ``trained``'s FAISS index with its training kept and its vectors removed."""
    if not isinstance(trained, FactoryIndex) or not hasattr(trained, "index_"):
        raise ValueError(f"trained_from must be a FactoryIndex that has been trained (call .add(vectors) on it "
                         f"first), got {type(trained).__name__}")
    if string_factory is not None and string_factory != trained.factory:
        raise ValueError(f"string_factory {string_factory!r} differs from trained_from's {trained.factory!r}; "
                         "pass one or the other")
    if trained.dim_ != dim:
        raise ValueError(f"trained_from was trained on {trained.dim_}-d vectors, the column holds {dim}-d ones")
    empty = _faiss().clone_index(trained.index_)
    empty.reset()  # keeps the centroids and codebooks, drops the stored codes
    return empty


def hnsw_index(vectors, *, M: int = 16, ef_construction: int = 40, layers: bool = True):
    """FAISS ``IndexHNSWFlat`` (inner product) on unit ``vectors``; ``layers=False`` puts every
    node on layer 0, i.e. the same graph code with no upper layers.

    >>> data = np.eye(4, dtype="float32"); hnsw_index(data, layers=False).hnsw.max_level
    0
    """
    faiss = _faiss()
    check_int(M, "M", low=2, high=256, sensible=16)
    check_int(ef_construction, "ef_construction", low=1, sensible=40)
    vectors = as_matrix(vectors, "vectors")
    index = faiss.IndexHNSWFlat(vectors.shape[1], M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    if not layers:  # level probabilities [1.0]: every node lives on the bottom layer only
        index.hnsw.assign_probas.clear()
        index.hnsw.cum_nneighbor_per_level.clear()
        index.hnsw.set_default_probas(M, 1e-9)
    index.add(vectors)
    return index


def hnsw_search(index, queries, k: int, ef_search: int):
    """``(scores, rows, distances_computed_per_query)`` of a FAISS HNSW index at ``ef_search``."""
    faiss = _faiss()
    parameters = faiss.SearchParametersHNSW()
    parameters.efSearch = max(check_int(ef_search, "ef_search", low=1, sensible=64), k)
    with _HNSW_STATS:  # FAISS counts distance computations in one global: one search at a time reads it
        faiss.cvar.hnsw_stats.reset()
        scores, rows = index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=parameters)
        computed = faiss.cvar.hnsw_stats.ndis
    return scores, rows, computed / len(queries)
