"""The vectorised LSH query path returns exactly what the one-at-a-time version returned.

``Reference`` below is the query path of ``hash_tables.py`` as it was before it was vectorised
(commit 417ed4d), copied here unchanged except for being written as functions of a fitted
index: one table, one probe and one query at a time in Python. The fast path must give the
same candidates, in the same order, and the same top-k (ids and scores, ties included).
"""

import itertools
import warnings

import numpy as np
import pytest
from conftest import clustered

from imgsim_tutorial import LSHIndex, ShortResultWarning, cosine_search
from imgsim_tutorial._support.lsh_lookup import BucketLookup, probe_flips, probe_masks, probe_plan, union_of_buckets
from imgsim_tutorial.cosine_search import rerank, top_k
from imgsim_tutorial.data.synthetic import realistic_embeddings
from imgsim_tutorial.random_projection import pack_bits


# -- the reference: the old implementation -----------------------------------------------------
def old_rerank(queries, vectors, shortlists, k):
    """The re-rank before it gathered in cache-sized chunks: one gather of the whole shortlist."""
    scores = np.full((len(queries), k), np.nan, dtype=np.result_type(queries, vectors))
    rows = np.full((len(queries), k), -1, dtype=np.int64)
    for q, shortlist in enumerate(shortlists):
        shortlist = np.asarray(shortlist, dtype=np.int64)
        shortlist = shortlist[shortlist >= 0]
        if len(shortlist):
            best, columns = top_k(queries[q:q + 1] @ vectors[shortlist].T, min(k, len(shortlist)))
            scores[q, :best.shape[1]], rows[q, :best.shape[1]] = best[0], shortlist[columns[0]]
    return scores, rows


class OldHashTable:
    def __init__(self, codes, ids=None):
        codes = np.asarray(codes, dtype=np.uint64)
        ids = np.arange(len(codes)) if ids is None else np.asarray(ids)
        order = np.argsort(codes, kind="stable")
        self.codes, self.ids = codes[order], ids[order]

    def members(self, code):
        return self.lookup([code])[0]

    def lookup(self, codes):
        codes = np.asarray(codes, dtype=np.uint64)
        lefts = np.searchsorted(self.codes, codes, side="left")
        rights = np.searchsorted(self.codes, codes, side="right")
        return [self.ids[a:b] for a, b in zip(lefts, rights)]


def old_probe_sequence(margins, n_probes):
    order = np.argsort(np.abs(margins), kind="stable")
    n_bits, flips = len(margins), []
    for radius in range(1, n_bits + 1):
        needed = n_probes - len(flips)
        if needed <= 0:
            break
        pool = order[:min(n_bits, needed + radius - 1)]
        subsets = itertools.combinations(pool.tolist(), radius)
        if len(pool) > radius:
            subsets = sorted(subsets, key=lambda bits: float(np.abs(margins[list(bits)]).sum()))
        flips.extend(list(subsets)[:needed])
    return [tuple(flip) for flip in flips]


class Reference:
    """The old query methods, reading the fitted state of a (new) LSHIndex."""

    def __init__(self, index):
        self.index = index
        self.tables = [OldHashTable(index.codes_[t], np.arange(len(index))) for t in range(index.n_tables)]

    def prepare(self, queries):
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self.index.dim_)
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        return queries, np.einsum("tbd,nd->tnb", self.index.hyperplanes_, queries - self.index.mean_)

    def probed_codes(self, margins_one_table):
        code = int(pack_bits(margins_one_table > 0)[0])
        flips = old_probe_sequence(margins_one_table, self.index.n_probes - 1)
        flipped = [code ^ sum(1 << bit for bit in flip) for flip in flips]
        return np.array([code, *flipped], dtype=np.uint64)

    def candidate_rows(self, margins_of_query):
        found = [members for t, table in enumerate(self.tables)
                 for members in table.lookup(self.probed_codes(margins_of_query[t]))]
        return np.unique(np.concatenate(found)) if found else np.array([], dtype=np.int64)

    def collision_counts(self, query):
        _, margins = self.prepare(query)
        codes = pack_bits(margins[:, 0] > 0)
        rows = np.concatenate([table.members(code) for table, code in zip(self.tables, codes)])
        rows, counts = np.unique(rows, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        return self.index.ids_[rows[order]], counts[order] / self.index.n_tables

    def search_with_stats(self, queries, k):
        queries, margins = self.prepare(queries)
        shortlists = [self.candidate_rows(margins[:, q]) for q in range(len(queries))]
        scores, rows = old_rerank(queries, self.index.vectors_, shortlists, k)
        ids = np.where(rows >= 0, self.index.ids_[np.clip(rows, 0, None)], -1)
        return scores, ids, shortlists


# -- data: seeded, of several kinds -----------------------------------------------------------
def with_ties(seed):
    """Every vector three times, and queries that are data points: many exactly equal scores."""
    base = clustered(300, 24, n_clusters=6, spread=0.4, seed=seed)
    return np.repeat(base, 3, axis=0), base[::7] + 0.0


DATASETS = {
    "clustered": lambda: (clustered(1500, 48, n_clusters=20, spread=0.5, seed=1),
                          clustered(30, 48, n_clusters=20, spread=0.5, seed=1) + 0.02),
    "realistic": lambda: realistic_embeddings(1500, 96, n_queries=30, seed=2),
    "gaussian": lambda: (np.random.default_rng(3).standard_normal((1200, 32)),
                         np.random.default_rng(4).standard_normal((25, 32))),
    "ties": lambda: with_ties(5),
}


def assert_same_as_reference(index, queries, k=10):
    reference = Reference(index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortResultWarning)
        old_scores, old_ids, old_shortlists = reference.search_with_stats(queries, k)
        scores, ids, stats = index.search_with_stats(queries, k)
    np.testing.assert_array_equal(ids, old_ids)
    np.testing.assert_array_equal(scores, old_scores)  # bit for bit, NaN where missing
    assert stats["n_candidates"].tolist() == [len(rows) for rows in old_shortlists]
    for query, rows in zip(queries[:4], old_shortlists):
        assert index.candidates(query).tolist() == index.ids_[rows].tolist()
    old_votes, new_votes = reference.collision_counts(queries[0]), index.collision_counts(queries[0])
    np.testing.assert_array_equal(old_votes[0], new_votes[0])
    np.testing.assert_array_equal(old_votes[1], new_votes[1])


@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("n_probes", [1, 2, 6, 21])
@pytest.mark.parametrize("center", [False, True])
def test_same_results_as_the_one_at_a_time_version(dataset, n_probes, center):
    data, queries = DATASETS[dataset]()
    for n_bits in (1, 2, 3, 6, 10, 16, 31, 64):
        index = LSHIndex(n_bits=n_bits, n_tables=4, n_probes=min(n_probes, 2 ** n_bits), seed=n_bits,
                         center=center).add(data)
        assert_same_as_reference(index, queries)


@pytest.mark.parametrize("n_probes", [1, 2, 6, 21])
def test_same_results_for_every_number_of_bits(n_probes):
    data, queries = DATASETS["realistic"]()
    for n_bits in range(1, 65):
        index = LSHIndex(n_bits=n_bits, n_tables=2, n_probes=min(n_probes, 2 ** n_bits), seed=7).add(data[:400])
        assert_same_as_reference(index, queries[:8], k=5)


def test_probe_sequences_equal_the_old_ones_for_all_tables_at_once():
    rng = np.random.default_rng(0)
    for n_bits in (1, 2, 3, 4, 7, 9, 10, 12, 20, 64):
        # Scales far apart and repeated values: ties in |margin| and in sums are taken the same way.
        scales = rng.choice([1e-4, 1.0, 50.0], (3, 5, n_bits))
        margins = (rng.standard_normal((3, 5, n_bits)) * scales).astype(np.float32)
        margins[0, 0] = np.round(margins[0, 0])
        margins[1] = rng.choice([0.1, 0.2, 0.3, 0.7, 1e-4], (5, n_bits))  # many sets with equal exact sums
        # 511 and 1000 probes reach flip sets of 8+ bits, where float32 sums round differently
        # unless they are summed exactly as the one-table version sums them.
        for n_probes in (0, 1, 5, 20, 100, 511, 1000):
            n_probes = min(n_probes, 2 ** n_bits - 1)
            if n_bits > 12 and n_probes > 100:
                continue
            flips = probe_flips(margins, n_probes)
            masks = probe_masks(margins, n_probes)
            for table, query in itertools.product(range(3), range(5)):
                old = old_probe_sequence(margins[table, query], n_probes)
                new = [tuple(row) for bits in flips for row in bits[table, query].tolist()]
                assert new == old
                assert masks[table, query].tolist() == [sum(1 << bit for bit in flip) for flip in old]


def test_probe_plan_by_hand():
    (radius1, keep1), (radius2, keep2) = probe_plan(4, 6)  # 4 single flips, then 2 pairs of the 3 closest bits
    assert radius1.tolist() == [[0], [1], [2], [3]] and keep1 == 4
    assert radius2.tolist() == [[0, 1], [0, 2], [1, 2]] and keep2 == 2
    assert probe_plan(3, 0) == ()


def test_bucket_lookup_finds_every_table_at_once():
    codes = np.array([[5, 3, 5, 9], [2**63, 0, 2**63, 2**63]], dtype=np.uint64)
    lookup = BucketLookup(codes)
    tables = np.array([0, 0, 0, 1, 1, 1])
    probes = np.array([5, 9, 2**63, 2**63, 0, 5], dtype=np.uint64)  # 2**63 exists in table 1 only
    starts, lengths = lookup.spans(tables, probes)
    assert lengths.tolist() == [2, 1, 0, 3, 1, 0]
    assert lookup.members(starts, lengths).tolist() == [0, 2, 3, 0, 2, 3, 1]


@pytest.mark.parametrize("max_cells", [1, 50, 1 << 24])
def test_union_is_sorted_and_complete_in_any_grouping(max_cells):
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 6, size=(3, 40)).astype(np.uint64)  # 3 tables, 40 items, 6 codes
    lookup = BucketLookup(codes)
    visits = rng.integers(0, 8, size=(9, 3, 2)).astype(np.uint64)  # 9 queries, 2 codes per table
    shortlists = union_of_buckets(lookup, visits, 40, max_cells=max_cells)
    for query, rows in enumerate(shortlists):
        expected = np.flatnonzero((codes[:, :, None] == visits[query][:, None, :]).any(axis=(0, 2)))
        assert rows.tolist() == expected.tolist()


@pytest.mark.parametrize("chunk", [64, 256])
def test_chunked_rerank_gives_the_scores_of_one_gather(monkeypatch, chunk):
    """Bit for bit, ties and -1 slots included, for chunks that are a multiple of 64 rows.

    (BLAS sums a dot product in a way that depends on where a column falls in its blocks of
    4-16 columns; chunks of 64k rows keep every column in the same place, so the rounding is
    the same. A chunk of 7 rows differs in the last bit of some scores.)"""
    rng = np.random.default_rng(chunk)
    data, queries = realistic_embeddings(3000, 128, n_queries=12, seed=3)
    data = np.vstack([data, data[:50]])  # exact duplicates: equal scores
    shortlists = [rng.choice(len(data), size, replace=False) for size in rng.integers(0, 1500, 10)]
    shortlists += [np.array([-1, 5, -1, 3049, 3]), np.arange(3050)]
    monkeypatch.setattr(cosine_search, "RERANK_CHUNK_ROWS", chunk)
    for k in (1, 10, 40):
        new, old = rerank(queries, data, shortlists, k), old_rerank(queries, data, shortlists, k)
        np.testing.assert_array_equal(new[0], old[0])
        np.testing.assert_array_equal(new[1], old[1])


def test_codes_in_chunks_on_all_cores_equal_one_product():
    data, _ = realistic_embeddings(5000, 96, seed=6)
    planes = np.random.default_rng(6).standard_normal((7, 13, 96)).astype(np.float32)
    mean = data.mean(axis=0)
    whole = pack_bits((np.einsum("tbd,nd->tnb", planes, data - mean) > 0).reshape(-1, 13)).reshape(7, -1)
    for chunk_rows in (1000, 1777, 8192):
        np.testing.assert_array_equal(LSHIndex.codes_of(data, planes, mean, chunk_rows=chunk_rows), whole)


def test_threads_rerank_a_batch_as_one_thread_does():
    rng = np.random.default_rng(4)
    data, queries = realistic_embeddings(2000, 64, n_queries=150, seed=4)
    shortlists = [rng.choice(len(data), size, replace=False) for size in rng.integers(0, 600, len(queries))]
    one = rerank(queries, data, shortlists, 10, threads=1)
    for threads in (2, 3):
        many = rerank(queries, data, shortlists, 10, threads=threads)
        np.testing.assert_array_equal(many[0], one[0])
        np.testing.assert_array_equal(many[1], one[1])


def test_rerank_refuses_rows_past_the_end():
    with pytest.raises(IndexError, match="only 2 vectors"):
        rerank(np.eye(2), np.eye(2), [[0, 2]], k=1)


@pytest.mark.parametrize("max_cells", [1, 50, 1 << 24])
@pytest.mark.parametrize("min_count", [1, 2, 3])
def test_counted_union_keeps_rows_found_in_enough_tables(max_cells, min_count):
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 5, size=(4, 60)).astype(np.uint64)  # 4 tables, 60 items
    lookup = BucketLookup(codes)
    visits = np.stack([rng.permutation(6)[:2] for _ in range(11 * 4)]).reshape(11, 4, 2).astype(np.uint64)
    shortlists = union_of_buckets(lookup, visits, 60, max_cells=max_cells, min_count=min_count)
    for query, rows in enumerate(shortlists):
        found_in = (codes[:, :, None] == visits[query][:, None, :]).any(axis=2).sum(axis=0)
        assert rows.tolist() == np.flatnonzero(found_in >= min_count).tolist()


def test_search_reports_where_the_time_goes():
    data, queries = DATASETS["realistic"]()
    index = LSHIndex(n_bits=8, n_tables=6, n_probes=4, seed=0).add(data)
    _, _, stats = index.search_with_stats(queries, 5)
    assert stats["n_candidates"].shape == (len(queries),)
    assert all(stats[part] >= 0 for part in ("hash_s", "lookup_s", "rerank_s"))


def test_a_batch_gives_what_single_queries_give():
    data, queries = DATASETS["realistic"]()
    index = LSHIndex(n_bits=10, n_tables=5, n_probes=5, seed=0, center=True).add(data)
    scores, ids = index.search(queries, 10)
    for q in range(0, len(queries), 7):
        one_scores, one_ids = index.search(queries[q], 10)
        np.testing.assert_array_equal(one_ids[0], ids[q])
        np.testing.assert_array_equal(one_scores[0], scores[q])
