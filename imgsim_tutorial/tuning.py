"""Choosing ``n_bits``, ``n_tables`` and ``n_probes`` for a collection size and a recall target.

Builds on ``random_projection.py`` (the collision formulas) and ``hash_tables.py`` (the index
they describe). Notebook 03 showed that a pair at cosine ``s`` agrees on one random bit with
probability ``p = 1 - arccos(s) / pi``. For one table of K bits, probed at its own bucket and
at ``m_r`` buckets r bits away, the pair is found with probability about

    P_table(s) = sum_r  m_r * p**(K - r) * (1 - p)**r          (m_0 = 1: the own bucket)

and with L independent tables ``P(s) = 1 - (1 - P_table(s))**L``; when an item must be found
in at least m tables (``min_collisions``), ``P(s)`` is the binomial tail P(X >= m), X ~
Binomial(L, P_table(s)) (:func:`found_in_at_least`). Averaged over the true
neighbours of sample queries that is the expected recall; averaged over query-candidate pairs
and multiplied by n it is the expected number of candidates to re-rank. The probe term
assumes the flipped bits are random; ``LSHIndex`` flips the bits the query is least sure about,
so it finds at least as much: treat the prediction as a lower bound, and **measure** it.

:func:`similarity_profile` measures the two similarity distributions on a sample,
:func:`predict_lsh` applies the formulas to one setting and :func:`suggest_lsh_settings`
searches all settings for the cheapest one predicted to reach the target. What it leaves out:
the speed of your machine (the cost is counted in "candidate equivalents", see
:func:`predict_lsh`) and the memory limit, which you set with ``max_tables``. Then the same
settings are measured: :func:`tradeoff_point` builds one index and measures recall, the share
scanned and the time per query against exact search; :func:`measured_s_curve` measures the
share of pairs that become candidates, by similarity, over several seeds.
"""

from __future__ import annotations

import warnings
from math import comb

import numpy as np

from .evaluation import recall_at_k, time_per_query
from .hash_tables import LSHIndex
from .index_base import ShortResultWarning
from .random_projection import any_table_collision_probability, bit_agreement_probability
from .vectors import normalize

LOOKUP_COST = 20.0  # one bucket lookup costs about as much as re-ranking this many candidates
ID_BYTES, CODE_BYTES = 8, 8  # int64 ids and uint64 codes, per item and per table


def similarity_profile(embeddings, queries=None, k: int = 10, n_sample_queries: int = 100,
                       n_pairs: int = 20_000, seed: int = 0) -> dict:
    """What the formulas need, measured on a sample: neighbour and random-pair cosines.

    Returns ``neighbour_similarity`` (nq, k): the exact top-``k`` cosines of up to
    ``n_sample_queries`` queries (drawn from ``embeddings`` when ``queries`` is None, excluding
    the query itself), and ``pair_similarity`` (n_pairs,): cosines of random query-candidate pairs.

    >>> rng = np.random.default_rng(0); data = rng.standard_normal((300, 16))
    >>> profile = similarity_profile(data, k=5, n_sample_queries=10, n_pairs=100)
    >>> profile["neighbour_similarity"].shape, profile["pair_similarity"].shape
    ((10, 5), (100,))
    """
    from .cosine_search import CosineIndex
    from .vectors import normalize

    embeddings = normalize(embeddings, "embeddings")
    rng = np.random.default_rng(seed)
    own = queries is None
    if own:
        rows = rng.choice(len(embeddings), size=min(n_sample_queries, len(embeddings)), replace=False)
        queries = embeddings[rows]
    else:
        queries = normalize(queries, "queries")
        queries = queries[rng.choice(len(queries), size=min(n_sample_queries, len(queries)), replace=False)]
    if k + own > len(embeddings):
        raise ValueError(f"k={k} neighbours need at least {k + own} embeddings, got {len(embeddings)}")
    scores, _ = CosineIndex().add(embeddings).search(queries, k + own)
    pairs_q = rng.integers(len(queries), size=n_pairs)
    pairs_c = rng.integers(len(embeddings), size=n_pairs)
    pair_similarity = np.sum(queries[pairs_q] * embeddings[pairs_c], axis=1)
    return {"neighbour_similarity": scores[:, own:], "pair_similarity": pair_similarity, "k": k}


def probes_per_radius(n_bits: int, n_probes: int) -> list[int]:
    """How many of the ``n_probes`` buckets visited lie 0, 1, 2, ... bits away (nearest first).

    >>> probes_per_radius(4, 7)      # its own, 4 buckets one bit away, then 2 of the 6 two bits away
    [1, 4, 2]
    """
    counts, left = [1], n_probes - 1
    for radius in range(1, n_bits + 1):
        if left <= 0:
            break
        take = min(left, comb(n_bits, radius))
        counts.append(take)
        left -= take
    return counts


def table_hit_probability(similarity, n_bits: int, n_probes: int = 1) -> np.ndarray:
    """P(a pair at cosine ``similarity`` meets in one table, own bucket or a probed one).

    >>> float(table_hit_probability(1.0, 8)), round(float(table_hit_probability(0.5, 2)), 4)
    (1.0, 0.4444)
    """
    p = bit_agreement_probability(np.asarray(similarity, dtype=np.float64))
    total = np.zeros_like(p)
    for radius, count in enumerate(probes_per_radius(n_bits, n_probes)):
        total += count * p ** (n_bits - radius) * (1 - p) ** radius
    return np.minimum(total, 1.0)


def found_in_at_least(min_collisions: int, n_tables: int, table_probability) -> np.ndarray:
    """P(found in at least ``min_collisions`` of ``n_tables`` independent tables), each with ``table_probability``.

    ``min_collisions=1`` is ``1 - (1 - P)**L``, the plain union.

    >>> round(float(found_in_at_least(1, 2, 0.5)), 4), round(float(found_in_at_least(2, 2, 0.5)), 4)
    (0.75, 0.25)
    """
    p = np.asarray(table_probability, dtype=np.float64)
    below = sum(comb(n_tables, j) * p ** j * (1 - p) ** (n_tables - j) for j in range(min_collisions))
    return np.clip(1 - below, 0.0, 1.0)


def lsh_memory_bytes(n: int, n_tables: int, dim: int, n_bits: int = 0) -> dict:
    """What an ``LSHIndex`` over ``n`` items stores, by part (bytes), before building it.

    The cost of LSH is per table: every table keeps, for every item, a uint64 code and an int64
    row (sorted by code, so that a bucket is a binary search), and the index keeps each item's
    code in every table once more, in insertion order (``codes``, for saving and appending).
    That is ``24 * n_tables`` bytes per item, not ``n_bits / 8``. A built index also keeps a
    small directory of its non-empty buckets (up to 24 bytes per bucket, counted under
    "tables" by ``memory_bytes``), which this formula leaves out. The float32 vectors kept for
    the re-rank cost ``4 * dim`` bytes per item, whatever the tables.

    >>> memory = lsh_memory_bytes(1000, n_tables=10, dim=768, n_bits=8)
    >>> (memory["codes"] + memory["tables"]) // 1000, memory["vectors"] // 1000
    (240, 3072)
    """
    return {"vectors": n * dim * 4, "ids": n * ID_BYTES, "hyperplanes": n_tables * n_bits * dim * 4, "mean": dim * 4,
            "codes": n * n_tables * CODE_BYTES, "tables": n * n_tables * (CODE_BYTES + ID_BYTES)}


def predict_lsh(profile: dict, n: int, n_bits: int, n_tables: int, n_probes: int = 1,
                lookup_cost: float = LOOKUP_COST, min_collisions: int = 1) -> dict:
    """The formulas applied to one setting: predicted recall, candidates, bucket size, cost.

    ``cost`` is in candidate equivalents: ``candidates + n_bits * n_tables`` (hashing the query
    is one dot product per hyperplane) ``+ lookup_cost * n_tables * n_probes``.
    ``uniform_bucket_size`` is ``n / 2**n_bits``, what buckets would hold if codes were spread
    evenly; ``candidates`` is usually larger, because similar items crowd the same buckets.
    ``min_collisions`` > 1 keeps only items found in that many tables (``LSHIndex(min_collisions=)``);
    its lookup still reads every bucket member, which this cost leaves out.
    """
    if not 1 <= min_collisions <= n_tables:
        raise ValueError(f"min_collisions must be between 1 and n_tables={n_tables}, got {min_collisions}")
    recall = found_in_at_least(min_collisions, n_tables,
                               table_hit_probability(profile["neighbour_similarity"], n_bits, n_probes))
    caught = found_in_at_least(min_collisions, n_tables,
                               table_hit_probability(profile["pair_similarity"], n_bits, n_probes))
    candidates = float(n * caught.mean())
    cost = candidates + n_bits * n_tables + lookup_cost * n_tables * n_probes
    return {"n_bits": n_bits, "n_tables": n_tables, "n_probes": n_probes, "min_collisions": min_collisions,
            "predicted_recall": float(recall.mean()),
            "candidates": candidates, "fraction_scanned": candidates / n, "uniform_bucket_size": n / 2 ** n_bits,
            "cost": float(cost), "exact_cost": float(n)}


def suggest_lsh_settings(n: int, recall_target: float, profile: dict, *, max_tables: int = 32,
                         probe_choices=(1, 2, 3, 5, 9, 17), bit_choices=range(4, 25),
                         lookup_cost: float = LOOKUP_COST, top: int = 5) -> list[dict]:
    """The cheapest settings predicted to reach ``recall_target``, best first.

    ``profile`` comes from :func:`similarity_profile` on a sample of your data; ``n`` is the
    collection size you will index. Returns up to ``top`` dicts from :func:`predict_lsh`. When
    nothing reaches the target within ``max_tables``, it says so and how to fix it.

    >>> rng = np.random.default_rng(0); data = rng.standard_normal((2000, 32))
    >>> best = suggest_lsh_settings(2000, 0.9, similarity_profile(data, n_sample_queries=20))[0]
    >>> best["predicted_recall"] >= 0.9
    True
    """
    if not 0 < recall_target < 1:
        raise ValueError(f"recall_target must be between 0 and 1 (exclusive), got {recall_target}; "
                         "recall 1 needs exact search")
    if n < 1 or max_tables < 1:
        raise ValueError(f"need n >= 1 and max_tables >= 1, got n={n}, max_tables={max_tables}")
    found, tables = [], np.arange(1, max_tables + 1)[:, None]
    for n_bits in bit_choices:
        for n_probes in probe_choices:
            if n_probes > 1 + comb(n_bits, 1) + comb(n_bits, 2):
                continue
            # predicted recall for every table count at once; keep the fewest tables that reach the target
            hit = table_hit_probability(np.ravel(profile["neighbour_similarity"]), n_bits, n_probes)
            reaching = np.flatnonzero((1 - (1 - hit[None, :]) ** tables).mean(axis=1) >= recall_target)
            if len(reaching):
                found.append(predict_lsh(profile, n, n_bits, int(reaching[0]) + 1, n_probes, lookup_cost))
    if not found:
        raise ValueError(f"no setting with at most {max_tables} tables is predicted to reach recall "
                         f"{recall_target}; allow more tables (max_tables), more probes, or lower the target")
    found.sort(key=lambda point: point["cost"])
    return found[:top]


# -- measuring a setting (what the formulas above predict) ------------------------------------
def tradeoff_point(embeddings, queries, exact, n_bits: int, n_tables: int, n_probes: int, k: int = 10,
                   seed: int = 0, timing_queries: int = 20) -> dict:
    """recall@k against ``exact`` (its ``(scores, ids)``), fraction scanned, median query time."""
    index = LSHIndex(n_bits=n_bits, n_tables=n_tables, n_probes=n_probes, seed=seed).add(embeddings)
    with warnings.catch_warnings():  # a short result list is expected at extreme settings; recall shows it
        warnings.simplefilter("ignore", ShortResultWarning)
        _, ids, stats = index.search_with_stats(queries, k)
        seconds = time_per_query(lambda query: index.search(query, k), queries[:timing_queries])
    exact_scores, exact_ids = exact
    return {"n_bits": n_bits, "n_tables": n_tables, "n_probes": n_probes, "k": k,
            "recall": recall_at_k(ids, exact_ids), "fraction_scanned": float(stats["n_candidates"].mean() / len(index)),
            "median_query_ms": seconds * 1e3,
            "neighbour_similarity": float(np.median(exact_scores)), "index": index}


def measured_s_curve(embeddings, queries, n_bits: int, n_tables: int, edges, seeds=(0, 1, 2),
                     min_pairs: int = 20) -> dict:
    """Share of query-candidate pairs that become candidates, per similarity bin, per seed.

    ``edges`` are the bin edges of cosine similarity; bins with fewer than ``min_pairs`` pairs
    are dropped (their share would be noise). Returns ``centres`` (b,), ``mean`` and ``std``
    (b,) over ``seeds`` (each seed draws other hyperplanes) and ``theory`` (b,): the formula
    averaged over the same pairs, which is what the measured share should match (the formula at
    the bin centre differs where the curve bends within a bin).
    """
    embeddings, queries = normalize(embeddings, "embeddings"), normalize(queries, "queries")
    if queries.shape[1] != embeddings.shape[1]:
        raise ValueError(f"queries have dimension {queries.shape[1]} but embeddings {embeddings.shape[1]}; "
                         "embed both with the same model")
    similarity = queries @ embeddings.T
    which = np.digitize(similarity, edges)
    bins = [b for b in np.unique(which) if (which == b).sum() >= min_pairs]
    shares = []
    for seed in seeds:
        index = LSHIndex(n_bits=n_bits, n_tables=n_tables, seed=seed).add(embeddings)
        caught = np.zeros(similarity.shape, dtype=bool)
        for row, query in enumerate(queries):
            caught[row, index.candidates(query)] = True
        shares.append([caught[which == b].mean() for b in bins])
    centres = np.array([similarity[which == b].mean() for b in bins])
    expected = any_table_collision_probability(similarity, n_bits, n_tables)
    return {"n_bits": n_bits, "n_tables": n_tables, "centres": centres, "mean": np.mean(shares, axis=0),
            "std": np.std(shares, axis=0), "n_seeds": len(seeds),
            "theory": np.array([expected[which == b].mean() for b in bins])}
