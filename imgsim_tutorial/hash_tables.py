"""LSH hash tables: search only the ``candidates`` that share a bucket with the query.

Builds on ``random_projection.py``. One table = one set of ``n_bits`` random hyperplanes; every
embedding goes into the bucket named by its code. A query looks only at its own bucket, so it
scans a small fraction of the data, but a true neighbour split off by one unlucky hyperplane is
missed. Two remedies, both here:

- ``n_tables`` tables, **each with its own hyperplanes** (the original tutorial shared one set,
  so its ten tables were ten identical copies and added no recall);
- ``n_probes``: the buckets visited per table, the query's own included (at least 1, like
  FAISS's ``nprobe``): after its own, the buckets one bit away, then two bits away, nearest
  first (multi-probe LSH), which finds more with fewer tables.

Many tables and probes find the neighbours but also a long tail of items that landed in the
query's bucket by luck in one table. ``min_collisions`` keeps only items found in at least
that many tables: a true neighbour collides in many tables, a chance visitor in one. With
40 tables, ``min_collisions=2`` re-ranks several times fewer items for about the same recall
(measured in ``benchmarks/run.py``). The default, 1, is the plain union.

The union of buckets is a shortlist. ``search`` re-ranks it by exact cosine, so every score it
returns is a true cosine similarity; the collision count is only a shortlisting signal. How a
query finds its buckets quickly (all tables, probes and queries at once) is ``_support/lsh_lookup.py``.
With a filter, the disallowed candidates are dropped after re-ranking, and a query whose
neighbourhood the filter removed scans the allowed rows exactly (``_search_inside``).
Persistence is ``IndexBase``'s: one versioned ``.npz`` with a JSON header; no pickle anywhere.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._support.lsh_lookup import BucketLookup, probe_flips, probe_masks, union_of_buckets
from .cosine_search import rerank
from .index_base import FALSE_ALARM, IndexBase, chance_of_so_few_allowed, local_selectivity
from .random_projection import RandomHyperplanes, pack_bits
from .vectors import available_cores, check_bool, check_int


class HashTable:
    """Bucket code -> member ids, stored as codes sorted once (no Python loop over items).

    >>> table = HashTable(np.array([5, 3, 5], dtype=np.uint64))
    >>> table.members(5), table.sizes()
    (array([0, 2]), {3: 1, 5: 2})
    """

    def __init__(self, codes, ids=None):
        codes = np.asarray(codes, dtype=np.uint64)
        ids = np.arange(len(codes)) if ids is None else np.asarray(ids)
        order = np.argsort(codes, kind="stable")
        self.codes, self.ids = codes[order], ids[order]

    @classmethod
    def presorted(cls, codes, ids) -> HashTable:
        """A table over ``codes`` that are already sorted (``ids`` in the same order): no copy, no sort."""
        table = cls.__new__(cls)
        table.codes, table.ids = codes, ids
        return table

    def members(self, code) -> np.ndarray:
        """Ids in bucket ``code`` (empty if the bucket does not exist): a binary search."""
        return self.lookup([code])[0]

    def lookup(self, codes) -> list[np.ndarray]:
        """Members of many buckets at once: uint64 (m,) -> list of m id arrays."""
        codes = np.asarray(codes, dtype=np.uint64)
        lefts = np.searchsorted(self.codes, codes, side="left")
        rights = np.searchsorted(self.codes, codes, side="right")
        return [self.ids[a:b] for a, b in zip(lefts, rights)]

    def bucket_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """``(codes, sizes)`` of the non-empty buckets, largest bucket first."""
        codes, sizes = np.unique(self.codes, return_counts=True)
        order = np.argsort(-sizes, kind="stable")
        return codes[order], sizes[order]

    def sizes(self) -> dict:
        """``{code: size}`` of every non-empty bucket (the tutorial's dict view)."""
        codes, sizes = np.unique(self.codes, return_counts=True)
        return dict(zip(codes.tolist(), sizes.tolist()))


def probe_sequence(margins: np.ndarray, n_probes: int) -> list[tuple[int, ...]]:
    """Which bits to flip for the ``n_probes - 1`` probes after the query's own bucket:
    Hamming distance 1 first, then 2, ...

    Within one distance, flips of the bits whose hyperplanes pass closest to the query (the
    smallest ``|margin|``) come first, because those bits are the likeliest to be wrong.

    Ties go to the flip set met first. This is the one-table view; the search computes the
    same sequence for all tables and queries at once (``_support.lsh_lookup.probe_flips``).

    >>> probe_sequence(np.array([0.9, -0.1, 0.5]), 5)   # its own bucket, then 4 more
    [(1,), (2,), (0,), (1, 2)]
    """
    margins = np.asarray(margins)
    n_probes = check_int(n_probes, "n_probes", low=1, sensible=1)
    return [tuple(flip) for bits in probe_flips(margins, n_probes - 1) for flip in bits.tolist()]


MAX_PROBES = 4096  # buckets visited per table and query, the query's own included


class LSHIndex(IndexBase):
    """Multi-table random-hyperplane LSH with multi-probe and exact re-ranking.

    >>> rng = np.random.default_rng(0); data = rng.standard_normal((1000, 32))
    >>> index = LSHIndex(n_bits=8, n_tables=10, seed=0).add(data)
    >>> scores, ids = index.search(data[:2], k=3); ids[:, 0]
    array([0, 1])
    """

    def __init__(self, *, n_bits: int = 8, n_tables: int = 10, n_probes: int = 1, seed: int = 0,
                 center: bool = False, min_collisions: int = 1):
        # Checked here, before any array is built: a typo fails now, not minutes later.
        self.n_bits = check_int(n_bits, "n_bits", low=1, high=64, sensible=8)
        self.n_tables = check_int(n_tables, "n_tables", low=1, sensible=10)
        # n_probes counts the query's own bucket. Bounded by the codes that exist and by what a
        # query can afford: each probe costs a lookup in every table, and MAX_PROBES probes of
        # n_tables tables already cost more than scanning a large collection exactly.
        self.n_probes = check_int(n_probes, "n_probes", low=1, high=min(2 ** self.n_bits, MAX_PROBES), sensible=1)
        self.seed = check_int(seed, "seed", low=0, sensible=0)
        self.center = check_bool(center, "center")
        self.min_collisions = check_int(min_collisions, "min_collisions", low=1, high=self.n_tables, sensible=1)

    # -- building -------------------------------------------------------------------------
    def add(self, embeddings, ids=None) -> LSHIndex:
        """Append ``embeddings`` (n, d) to every table; default ids continue from ``len(self)``.

        Adding in two batches builds the same index as adding everything at once.
        """
        n_before = len(self)
        batch = self._append(embeddings, ids)
        if not hasattr(self, "hyperplanes_"):
            # One independent generator per table: table t's hyperplanes depend only on (seed, t).
            self.hyperplanes_ = np.stack([RandomHyperplanes(self.n_bits, self.dim_, seed=[self.seed, t]).normals
                                          for t in range(self.n_tables)])
        if self.center:
            # Real embeddings share a large common direction; subtracting the mean spreads the codes.
            # The mean moves with every batch, so every code is recomputed.
            self.mean_ = self.vectors_.mean(axis=0)
            codes = self.codes_of(self.vectors_, hyperplanes=self.hyperplanes_, mean=self.mean_)
        else:
            self.mean_ = np.zeros(self.dim_, dtype=np.float32)
            new_codes = self.codes_of(batch, hyperplanes=self.hyperplanes_, mean=self.mean_)
            codes = new_codes if n_before == 0 else np.concatenate([self.codes_, new_codes], axis=1)
        self._fit(self.vectors_, self.ids_, codes)
        return self

    def _fit(self, vectors, ids, codes):
        self.vectors_, self.ids_, self.codes_, self.dim_ = vectors, ids, codes, vectors.shape[1]
        # One sorted structure for all tables (O(n_tables * n log n), once); tables_ are views of it.
        self._lookup = BucketLookup(codes)
        # A random item's bucket holds sum(size^2) / n items, in each table: the candidates a query
        # finds are at most n_probes times the sum over tables (the filtered search's cost model).
        sizes = np.diff(self._lookup.bucket_starts).astype(np.float64)
        self._bucket_load = float((sizes ** 2).sum() / max(1, len(ids)))
        self.tables_ = [HashTable.presorted(self._lookup.sorted_codes[t], self._lookup.order[t])
                        for t in range(self.n_tables)]

    @staticmethod
    def codes_of(vectors, hyperplanes, mean, chunk_rows: int = 8192) -> np.ndarray:
        """uint64 codes of unit ``vectors`` (n, d) in every table: (n_tables, n).

        Cost: O(n * n_tables * n_bits * d). Rows are coded in chunks (so the float margins of
        only one chunk exist at a time), on all cores; each code is the same as coding all at once.
        """
        def chunk_codes(start):
            bits = np.einsum("tbd,nd->tnb", hyperplanes, vectors[start:start + chunk_rows] - mean) > 0
            return pack_bits(bits.reshape(-1, bits.shape[2])).reshape(bits.shape[:2])

        starts = range(0, len(vectors), chunk_rows)
        if len(starts) == 1:
            return chunk_codes(0)
        with ThreadPoolExecutor(available_cores()) as pool:  # einsum releases the GIL
            return np.concatenate(list(pool.map(chunk_codes, starts)), axis=1)

    # -- querying -------------------------------------------------------------------------
    def _margins(self, unit_queries) -> np.ndarray:
        """Signed distances of unit queries (nq, d) to every hyperplane: (n_tables, nq, n_bits)."""
        return np.einsum("tbd,nd->tnb", self.hyperplanes_, unit_queries - self.mean_)

    def _prepare(self, queries):
        self._check_fitted()
        queries = self._queries(queries)
        return queries, self._margins(queries)

    def probed_codes(self, margins: np.ndarray) -> np.ndarray:
        """Codes a query visits: its own code, then its ``n_probes - 1`` nearest neighbouring codes.

        ``margins`` (..., n_bits) -> uint64 (..., n_probes), for one table or for all tables and
        queries at once (e.g. margins (n_tables, nq, n_bits) -> (n_tables, nq, n_probes)).
        """
        margins = np.asarray(margins)
        own = pack_bits(margins.reshape(-1, margins.shape[-1]) > 0).reshape(margins.shape[:-1])
        return np.concatenate([own[..., None], own[..., None] ^ probe_masks(margins, self.n_probes - 1)], axis=-1)

    def _shortlists(self, margins) -> list[np.ndarray]:
        """Sorted candidate rows per query, from margins (n_tables, nq, n_bits)."""
        # (n_tables, nq, n_codes) -> (nq, n_tables, n_codes): a query's buckets side by side.
        return union_of_buckets(self._lookup, self.probed_codes(margins).transpose(1, 0, 2), len(self),
                                min_count=self.min_collisions)

    def query_codes(self, query) -> np.ndarray:
        """The bucket code of one query in every table: uint64 (n_tables,)."""
        queries, _ = self._prepare(query)
        return self.codes_of(queries[:1], self.hyperplanes_, self.mean_)[:, 0]

    def candidates(self, query) -> np.ndarray:
        """Sorted ids sharing a (probed) bucket with ``query`` in at least ``min_collisions`` tables."""
        _, margins = self._prepare(query)
        return self.ids_[self._shortlists(margins[:, :1])[0]]

    def collision_counts(self, query) -> tuple[np.ndarray, np.ndarray]:
        """The tutorial's voting score, fixed: ``(ids, fraction of tables shared with query)``.

        Sorted by fraction, highest first. Use it to shortlist; rank by cosine (``search``).
        """
        codes = self.query_codes(query)
        starts, lengths = self._lookup.spans(np.arange(self.n_tables), codes)
        rows, counts = np.unique(self._lookup.members(starts, lengths), return_counts=True)
        order = np.argsort(-counts, kind="stable")
        return self.ids_[rows[order]], counts[order] / self.n_tables

    def _search(self, queries, k):
        """Unit ``queries`` -> scores, rows, ``n_candidates`` and where the time went, in seconds
        for the whole call: ``hash_s`` (codes and probes), ``lookup_s`` (finding buckets, merging
        them) and ``rerank_s`` (exact cosine); ``search_with_stats`` reports all of them."""
        self._check_query_settings()
        started = time.perf_counter()
        # 1. hash: all tables and queries in one product, O(nq * n_tables * n_bits * d)
        margins = self._margins(queries)
        codes = self.probed_codes(margins).transpose(1, 0, 2)  # (nq, n_tables, n_probes)
        hashed = time.perf_counter()
        # 2. lookup: one searchsorted for all buckets, then one merge, O(members found + nq * n)
        shortlists = union_of_buckets(self._lookup, codes, len(self), min_count=self.min_collisions)
        looked_up = time.perf_counter()
        # 3. re-rank: per query one gather + one product over its own candidates, O(candidates * d)
        scores, rows = rerank(queries, self.vectors_, shortlists, k)
        done = time.perf_counter()
        n_candidates = np.array([len(rows_) for rows_ in shortlists])
        return scores, rows, n_candidates, {"hash_s": hashed - started, "lookup_s": looked_up - hashed,
                                            "rerank_s": done - looked_up}

    def _check_query_settings(self):
        # Query-time settings may be changed on a built index (index.n_probes = 9): checked here.
        check_int(self.n_probes, "n_probes", low=1, high=min(2 ** self.n_bits, MAX_PROBES), sensible=1)
        check_int(self.min_collisions, "min_collisions", low=1, high=self.n_tables, sensible=1)

    def _search_inside(self, queries, k, mask):
        """LSH with a filter: find the buckets' members as usual, re-rank them, keep the allowed.

        The buckets do not grow with the filter, so with a fraction s allowed about s of the
        candidates survive and recall falls; below the selectivity where the allowed rows are fewer
        than the candidates needed to keep recall, ``plan="auto"`` scans them exactly.

        A worse case: a filter that excludes the query's own cluster. The buckets hold the query's
        neighbours and a few items that landed there by chance; drop the neighbours and what is left
        are the chance visitors, not the nearest allowed items, which lie in other buckets. More
        probes do not help: items that far share a bucket with the query little more often than any
        item does. So each query checks its neighbourhood: of the candidates at least as close as
        the k-th allowed one, how many does the filter allow (``local_selectivity``)? A filter that
        ignores where the query is allows about its share s of them. When such a filter would leave
        so few less than once in a hundred (``chance_of_so_few_allowed`` below ``FALSE_ALARM``), this
        filter has removed the query's neighbourhood, and the query scans the allowed rows exactly
        (see ``n_candidates``). So does a query whose candidates hold fewer than k allowed items:
        its answer would certainly be short."""
        self._check_query_settings()
        shortlists = self._shortlists(self._margins(queries))
        scores = np.full((len(queries), k), np.nan, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        share, n_allowed, away = mask.mean(), int(mask.sum()), []
        for q, candidates in enumerate(shortlists):
            found = self.vectors_[candidates] @ queries[q]  # all candidates, as the plain search scores them
            allowed = mask[candidates]
            n_allowed_near, n_near = local_selectivity(found, allowed, k)
            short = n_allowed_near < min(k, n_allowed)  # its answer would certainly be short
            if short or chance_of_so_few_allowed(n_allowed_near, n_near, share) < FALSE_ALARM:
                away.append(q)
                continue
            kept, kept_scores = candidates[allowed], found[allowed]
            best = np.argsort(-kept_scores, kind="stable")[:k]
            scores[q, :len(best)], rows[q, :len(best)] = kept_scores[best], kept[best]
        n_scored = np.array([len(candidates) for candidates in shortlists])
        if away:
            scores[away], rows[away] = self._scan_allowed(queries[away], k, mask)
            n_scored[away] += n_allowed
        return scores, rows, n_scored

    def _inside_cost(self, n_allowed: int) -> float:
        # To re-rank as many allowed candidates as the plain search re-ranks, the buckets would
        # have to hold 1 / s times as many: the cost of keeping recall inside the index.
        found = min(len(self), self.n_probes * self._bucket_load)
        return found * len(self) / max(1, n_allowed)

    # search() is IndexBase's: search_with_stats, plus a warning when a query comes up short.
    _widen_hint = "Use more n_tables, more n_probes, fewer n_bits or a lower min_collisions."

    # -- looking inside (for the widgets) -------------------------------------------------
    def bucket_sizes(self, table: int = 0) -> np.ndarray:
        """Sizes of the non-empty buckets of one table, largest first."""
        self._check_fitted()
        return self.tables_[table].bucket_codes()[1]

    def bucket_members(self, table: int, code) -> np.ndarray:
        """Ids in bucket ``code`` of table ``table``."""
        self._check_fitted()
        return self.ids_[self.tables_[table].members(code)]

    # memory_bytes(): IndexBase counts every array; the tables and their shared bucket lookup
    # (sorted codes, one row id per item per table, the bucket directory) are one part, "tables".
    _memory_groups = {"_lookup": "tables", "tables_": "tables"}

    # -- persistence: one .npz written by IndexBase.save (JSON header + arrays, no pickle) --
    @classmethod
    def _expected_shapes(cls, params, n, dim):
        t, b = params["n_tables"], params["n_bits"]
        return {"hyperplanes": (t, b, dim), "mean": (dim,), "vectors": (n, dim), "ids": (n,), "codes": (t, n)}

    def _restore(self):
        self._fit(self.vectors_, self.ids_, self.codes_.astype(np.uint64))
