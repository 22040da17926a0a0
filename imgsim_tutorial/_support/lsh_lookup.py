"""The query path of LSH at the speed its scan allows: all tables, probes and queries at once.

Builds on ``hash_tables.py``, which explains *what* a query looks at: its own bucket in every
table, plus its ``n_probes - 1`` nearest buckets, then an exact re-rank of the union. Written one
table, one probe and one query at a time in Python, that is correct but slow: on 100,000
embeddings nearly all of the time went into Python overhead, not into scanning candidates.
This module does the same work in a handful of array operations, so that a query costs about
what it scans:

1. **probing** (:func:`probe_masks`): the flip sets of every table and query, in one sort;
2. **lookup** (:class:`BucketLookup`): every bucket of every table lives in one sorted array of
   ``(table, code)`` keys, so one ``searchsorted`` finds all probed buckets at once;
3. **union** (:func:`union_of_buckets`): the member rows of all those buckets, merged per query
   with a boolean mask (or a sort when there are few), giving sorted, duplicate-free shortlists;
   optionally only the rows found in at least ``min_count`` tables (a row several tables agree on
   is likelier a true neighbour, so far fewer rows need re-ranking for the same recall).

The results are exactly those of the one-at-a-time version (same candidates, same order);
``tests/test_lsh_speed_path.py`` keeps that version as the reference and checks it.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np


@functools.lru_cache(maxsize=128)
def probe_plan(n_bits: int, n_extra: int) -> tuple[tuple[np.ndarray, int], ...]:
    """Which flip sets to consider, per Hamming radius: ``((positions (C, radius), n_keep), ...)``.

    Positions count bits in the order "closest hyperplane first". The best ``n_keep`` sets of
    one radius only use the ``n_keep + radius - 1`` closest bits, so only those are combined.
    The plan depends on ``(n_bits, n_extra)`` alone, never on the query: it is shared by all.

    >>> [(positions.tolist(), n_keep) for positions, n_keep in probe_plan(3, 4)]
    [([[0], [1], [2]], 3), ([[0, 1]], 1)]
    """
    plan, found = [], 0
    for radius in range(1, n_bits + 1):
        needed = n_extra - found
        if needed <= 0:
            break
        pool = min(n_bits, needed + radius - 1)
        positions = np.array(list(itertools.combinations(range(pool), radius)), dtype=np.intp).reshape(-1, radius)
        positions.setflags(write=False)  # cached and shared: nobody may change it
        plan.append((positions, min(needed, len(positions))))
        found += plan[-1][1]
    return tuple(plan)


def probe_flips(margins: np.ndarray, n_extra: int) -> list[np.ndarray]:
    """Bits to flip for the ``n_extra`` probes after the query's own bucket, for every row of
    ``margins`` (..., n_bits), all at once.

    Returns one int array per Hamming radius r, shaped (..., n_keep_r, r): bit numbers, the
    likeliest wrong bits (smallest ``|margin|``) first; within a radius, sets with the smallest
    sum of ``|margin|`` first. Cost: one sort of the bits, one of each radius' candidate sets.

    >>> [bits.tolist() for bits in probe_flips(np.array([0.9, -0.1, 0.5]), 4)]
    [[[1], [2], [0]], [[1, 2]]]
    """
    closeness = np.abs(margins)
    order = np.argsort(closeness, axis=-1, kind="stable")  # per row: closest hyperplane first
    closeness = np.take_along_axis(closeness, order, axis=-1)
    flips = []
    for positions, n_keep in probe_plan(margins.shape[-1], n_extra):
        # Summed along a contiguous last axis: the same float32 rounding as summing one set alone.
        costs = np.ascontiguousarray(closeness[..., positions]).sum(axis=-1)  # (..., C)
        best = positions[np.argsort(costs, axis=-1, kind="stable")[..., :n_keep]]  # (..., n_keep, r)
        flips.append(np.take_along_axis(order[..., None, :], best.reshape(*best.shape[:-2], -1)[..., None, :],
                                        axis=-1).reshape(best.shape))
    return flips


def probe_masks(margins: np.ndarray, n_extra: int) -> np.ndarray:
    """XOR masks of the extra probes: margins (..., n_bits) -> uint64 (..., n_extra_probes).

    ``code ^ mask`` is a probed bucket. ``n_extra_probes`` is ``n_extra``, or fewer when
    ``n_bits`` is so small that fewer other codes exist.

    >>> probe_masks(np.array([0.9, -0.1, 0.5]), 4).tolist()   # bits 1, 2, 0, then 1 and 2
    [2, 4, 1, 6]
    """
    masks = [np.bitwise_or.reduce(np.left_shift(np.uint64(1), bits.astype(np.uint64)), axis=-1)
             for bits in probe_flips(margins, n_extra)]
    return np.concatenate(masks, axis=-1) if masks else np.zeros(margins.shape[:-1] + (0,), dtype=np.uint64)


class BucketLookup:
    """Every bucket of every table in one sorted array, so many buckets are found at once.

    A bucket is a ``(table, code)`` pair. Each distinct code gets its rank among all codes seen,
    and the pair becomes one integer key ``table * n_codes + rank``; keys sorted once put every
    bucket in one contiguous run of ``rows``. Looking up m buckets is then two ``searchsorted``
    calls (O(m log n)) instead of m Python calls.

    >>> lookup = BucketLookup(np.array([[5, 3, 5], [1, 1, 2]], dtype=np.uint64))
    >>> starts, lengths = lookup.spans(np.array([0, 1, 0]), np.array([5, 1, 7], dtype=np.uint64))
    >>> lengths.tolist(), lookup.members(starts, lengths).tolist()
    ([2, 2, 0], [0, 2, 0, 1])
    """

    def __init__(self, codes: np.ndarray):
        codes = np.asarray(codes, dtype=np.uint64)
        n_tables, n = codes.shape
        self.order = np.argsort(codes, axis=1, kind="stable")  # (n_tables, n): rows of each table by code
        self.sorted_codes = np.take_along_axis(codes, self.order, axis=1)
        self.vocabulary, rank = np.unique(self.sorted_codes, return_inverse=True)  # every distinct code, sorted
        keys = (rank.reshape(n_tables, n) + np.arange(n_tables)[:, None] * len(self.vocabulary)).ravel()
        first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])  # where each bucket's run starts
        self.bucket_keys, self.bucket_starts = keys[first], np.r_[first, len(keys)]
        self.rows = self.order.ravel()

    def spans(self, tables: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where buckets ``(tables[i], codes[i])`` lie in ``rows``: ``(starts, lengths)``; 0 = empty bucket."""
        codes = np.asarray(codes, dtype=np.uint64)
        rank = np.minimum(np.searchsorted(self.vocabulary, codes), len(self.vocabulary) - 1)
        keys = np.asarray(tables) * len(self.vocabulary) + rank
        bucket = np.minimum(np.searchsorted(self.bucket_keys, keys), len(self.bucket_keys) - 1)
        exists = (self.vocabulary[rank] == codes) & (self.bucket_keys[bucket] == keys)
        starts = self.bucket_starts[bucket]
        return starts, np.where(exists, self.bucket_starts[bucket + 1] - starts, 0)

    def members(self, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``rows[start:start + length]`` of every span, concatenated, without a Python loop."""
        # Element j of the output sits at (its span's start) + (j - where its span begins in the output).
        begins = np.cumsum(lengths) - lengths
        return self.rows[np.repeat(starts - begins, lengths) + np.arange(int(lengths.sum()))]


def union_of_buckets(lookup: BucketLookup, codes: np.ndarray, n_items: int,
                     max_cells: int = 1 << 24, min_count: int = 1) -> list[np.ndarray]:
    """Sorted, duplicate-free candidate rows per query: codes uint64 (nq, n_tables, n_codes) -> nq arrays.

    ``codes[q, t]`` are the buckets query q visits in table t (its own code and its probes).
    A row is kept when it is found in at least ``min_count`` tables (1: in any table, the plain
    union). Queries are handled in groups so that a group's boolean mask (group x n_items) and
    its raw member list stay below ``max_cells`` entries (an eighth of that when counting,
    because a count takes 8 bytes).
    """
    n_queries, n_tables, n_codes = codes.shape
    tables = np.broadcast_to(np.arange(n_tables)[:, None], (n_tables, n_codes))
    starts, lengths = lookup.spans(np.broadcast_to(tables, codes.shape).ravel(), codes.ravel())
    starts, lengths = starts.reshape(n_queries, -1), lengths.reshape(n_queries, -1)
    shortlists, first = [], 0
    cost = np.maximum(lengths.sum(axis=1), 1) + n_items  # cells one query needs
    budget = max_cells if min_count == 1 else max_cells // 8
    while first < n_queries:
        last = first + max(1, int(np.searchsorted(np.cumsum(cost[first:]), budget, side="right")))
        group = last - first
        rows = lookup.members(starts[first:last].ravel(), lengths[first:last].ravel())
        query_of = np.repeat(np.arange(group), lengths[first:last].sum(axis=1))
        if min_count == 1:
            query_of, rows = _merge(query_of, rows, group, n_items)
        else:
            query_of, rows = _count(query_of, rows, group, n_items, min_count)
        shortlists += np.split(rows, np.cumsum(np.bincount(query_of, minlength=group))[:-1])
        first = last
    return shortlists


def _merge(query_of, rows, n_queries, n_items):
    """The distinct ``(query, row)`` pairs among the members, sorted by query, then row."""
    if 8 * len(rows) < n_queries * n_items:
        # Few members: sorting them (O(m log m)) beats scanning a mask of n_items per query.
        keys = np.sort(query_of * n_items + rows)  # a plain sort: np.unique's hashing is slower here
        return np.divmod(keys[np.diff(keys, prepend=-1) != 0], n_items)
    # Many: mark them in a mask (O(m) writes), read it back sorted (O(n_items) per query).
    seen = np.zeros((n_queries, n_items), dtype=bool)
    seen[query_of, rows] = True
    return np.nonzero(seen)


def _count(query_of, rows, n_queries, n_items, min_count):
    """Like ``_merge``, but keeps only the pairs found in at least ``min_count`` tables.

    Within one table the probed buckets are disjoint, so how often a row appears among the
    members is the number of tables that found it.
    """
    keys = query_of * n_items + rows
    if 16 * len(rows) < n_queries * n_items:
        # Few members: sort them and measure each run of equal keys (O(m log m)).
        keys = np.sort(keys)
        firsts = np.flatnonzero(np.diff(keys, prepend=-1))
        counts = np.diff(np.r_[firsts, len(keys)])
        kept = keys[firsts[counts >= min_count]]
    else:
        # Many: count into one array of n_items per query (O(m + n_items)), kept in row order.
        kept = np.flatnonzero(np.bincount(keys, minlength=n_queries * n_items) >= min_count)
    return np.divmod(kept, n_items)
