"""Choosing an ``LSHIndex`` setting for a collection size and a recall target.

Builds on ``random_projection.py`` (the collision formulas) and ``hash_tables.py`` (the index
they describe). Notebook 03 showed that a pair at cosine ``s`` agrees on one random bit with
probability ``p = 1 - arccos(s) / pi``, so it shares a table's bucket (K bits) with probability
``p**K``. Probing ``m_r`` buckets r bits away, flipped at random, would add

    P_table(s) = sum_r  m_r * p**(K - r) * (1 - p)**r          (m_0 = 1: the own bucket)

(:func:`table_hit_probability`), but ``LSHIndex`` flips the bits the query is least sure about,
and finds much more: :func:`directed_hit_probability` models its probes exactly (a small
simulation over the query's margins, the same for every data set). With L independent tables
the pair is found with probability ``1 - (1 - P_table(s))**L``; when an item must be found in at
least m tables (``min_collisions``), the binomial tail P(X >= m), X ~ Binomial(L, P_table(s))
(:func:`found_in_at_least`). Averaged over the true neighbours of sample queries that is the
expected recall; averaged over random query-item pairs and multiplied by n, the expected
number of candidates to re-rank. ``LSHIndex(center=True)`` hashes ``x - mean``: the same formulas
with the cosines measured after centring, which :func:`similarity_profile` measures as well.

:func:`similarity_profile` measures the similarity distributions on a sample, :func:`predict_lsh`
applies the formulas to one setting and :func:`suggest_lsh_settings` searches ``n_bits``,
``n_tables``, ``n_probes``, ``min_collisions`` and ``center`` for the fastest setting predicted to
reach the target, with a margin for the sample's luck. Then **measure** it: :func:`tradeoff_point`
builds one index and measures recall, the share scanned and its speed-up over exact search (the
two timed in the same rounds by ``evaluation.compare_speeds``); :func:`measured_s_curve` measures
the share of pairs that become candidates.

How fast a setting is was measured, not assumed (:data:`COST_TERMS_US`). Data: SYNTHETIC,
``mixture_embeddings(100_000, 768, n_queries=200, seed=11)`` from ``benchmarks/vs_faiss.py``.
Protocol (``benchmarks/tuner_calibrate.py``, results in ``benchmarks/results/tuner_calibration.json``):
145 settings (29 built indexes, centred or not, 8-20 bits, 8-32 tables, each at 5 combinations of
1-17 probes and min_collisions 1-3), 30 held-out queries each, one ``LSHIndex.search`` per query
on one thread (BLAS pinned, process pinned to one core of a shared 2-core machine), 9 rounds
taken in turn, the minimum per query over the rounds (the least disturbed run). A least-squares
fit of the 4,350 per-query times (relative errors, every term >= 0) gives, per query:
136 us fixed + 0.287 us per candidate re-ranked + 0.0064 us per bucket member read + 0.56 us per
(table, probe) looked up + 0.179 us per (table, bit) hashed. Measured / predicted: median 1.01,
10-90 % range 0.90-1.14 per query, 0.84-1.26 per setting. Exact search: 10.4 ms per query at
N = 100,000 (0.106 us per item; 0.95 ms at 10,000: no fixed part to speak of). Re-ranking and
hashing are dot products, so their terms are scaled by d / 768 for other dimensions (an
assumption: only d = 768 was timed), and a collection that fits in the CPU cache is searched
exactly faster than the per-item term says, so at small N the predicted speed-up is optimistic.
Check a suggestion on your machine: ``benchmarks/tuner_check.py``.
"""

from __future__ import annotations

import functools
import warnings
from math import comb
from statistics import NormalDist

import numpy as np

from ._support.lsh_lookup import probe_flips
from .cosine_search import CosineIndex
from .evaluation import compare_speeds, recall_at_k
from .hash_tables import LSHIndex
from .index_base import ShortResultWarning
from .random_projection import any_table_collision_probability, bit_agreement_probability
from .vectors import check_int, normalize

ID_BYTES, CODE_BYTES = 8, 8  # int64 ids and uint64 codes, per item and per table


PAIR_CHUNK = 2_000  # random pairs compared at a time in similarity_profile (bounded memory)


def similarity_profile(embeddings, queries=None, k: int = 10, n_sample_queries: int = 100,
                       n_pairs: int = 20_000, seed: int = 0) -> dict:
    """What the formulas need, measured on a sample: neighbour and random-pair cosines, as the
    hyperplanes of a plain index see them and as those of a centred one do.

    Returns ``neighbour_similarity`` (nq, k): the exact top-``k`` cosines of up to
    ``n_sample_queries`` queries (drawn from ``embeddings`` when ``queries`` is None, excluding
    the query itself), ``pair_similarity`` (n_pairs,): cosines of random query-candidate pairs,
    and ``centered``: the same two arrays for ``LSHIndex(center=True)``, which hashes
    ``x - mean`` (the mean of the unit rows) instead of ``x``. The neighbours stay the same
    (the exact top-``k`` by cosine of the original vectors); only the angle the hyperplanes see
    changes. Real embeddings share a common direction, so every pair looks somewhat alike (random
    pairs of CLIP embeddings at cosine about 0.5); centred, random pairs fall to about 0 while true
    neighbours stay close, and far fewer chance visitors share the query's buckets.

    >>> rng = np.random.default_rng(0); data = rng.standard_normal((300, 16))
    >>> profile = similarity_profile(data, k=5, n_sample_queries=10, n_pairs=100)
    >>> profile["neighbour_similarity"].shape, profile["centered"]["pair_similarity"].shape
    ((10, 5), (100,))
    """
    embeddings = normalize(embeddings, "embeddings")
    rng = np.random.default_rng(seed)
    own = queries is None
    pool = embeddings if own else normalize(queries, "queries")
    if pool.shape[1] != embeddings.shape[1]:
        raise ValueError(f"queries have dimension {pool.shape[1]} but embeddings {embeddings.shape[1]}; "
                         "embed both with the same model")
    if k + own > len(embeddings):
        raise ValueError(f"k={k} neighbours need at least {k + own} embeddings, got {len(embeddings)}")
    queries = pool[rng.choice(len(pool), size=min(n_sample_queries, len(pool)), replace=False)]
    scores, rows = CosineIndex().add(embeddings).search(queries, k + own)
    pairs_q = rng.integers(len(queries), size=n_pairs)
    pairs_c = rng.integers(len(embeddings), size=n_pairs)
    mean = embeddings.mean(axis=0)  # what LSHIndex(center=True) subtracts from items and queries
    plain_pairs, centered_pairs = [], []
    for start in range(0, n_pairs, PAIR_CHUNK):  # in chunks: 20,000 pairs of 768-d rows would hold 120 MB at once
        chunk = slice(start, start + PAIR_CHUNK)
        pair_queries, pair_items = queries[pairs_q[chunk]], embeddings[pairs_c[chunk]]
        plain_pairs.append(np.sum(pair_queries * pair_items, axis=1))
        centered_pairs.append(centered_cosine(pair_queries, pair_items, mean))
    centered = {"neighbour_similarity": centered_cosine(queries[:, None, :], embeddings[rows[:, own:]], mean),
                "pair_similarity": np.concatenate(centered_pairs)}
    return {"neighbour_similarity": scores[:, own:], "pair_similarity": np.concatenate(plain_pairs),
            "centered": centered, "k": k, "dim": embeddings.shape[1]}


def centered_cosine(a, b, mean) -> np.ndarray:
    """Cosine of ``a - mean`` and ``b - mean`` along the last axis: the angle a centred index hashes.

    >>> float(centered_cosine(np.array([1.0, 1.0]), np.array([1.0, 0.9]), np.array([1.0, 0.0])))
    1.0
    """
    a, b = np.asarray(a, dtype=np.float64) - mean, np.asarray(b, dtype=np.float64) - mean
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.sum(a * b, axis=-1) / np.maximum(norms, 1e-12)


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


# -- what LSHIndex's probes find: the query's least certain bits first -------------------------
# One pair at cosine s, one table. For Gaussian hyperplanes the query's margins m_i are independent
# N(0, 1) draws (up to a common scale), and the item's projection is s * m_i + sqrt(1 - s**2) * e_i,
# so bit i differs with probability Phi(-|m_i| s / sqrt(1 - s**2)): likely where |m_i| is small.
# LSHIndex probes exactly those bits first, so its probes find far more than random flips. Averaging
# over the query's margins needs a simulation; it depends on (n_bits, n_probes) and s only, never on
# the data, so it is done once per setting, on a grid of angles, and interpolated.
PROBE_ANGLES = np.radians(np.arange(181.0))  # 0, 1, ..., 180 degrees
PROBE_DRAWS = 256  # margin vectors per setting, stratified per bit (largest error about 0.004 in probability)


def normal_cdf(x) -> np.ndarray:
    """Phi(x), vectorised (Abramowitz and Stegun 7.1.26 for erf, error below 1.5e-7).

    >>> [round(float(v), 4) for v in normal_cdf(np.array([-1.0, 0.0, 1.96]))]
    [0.1587, 0.5, 0.975]
    """
    z = np.abs(np.asarray(x, dtype=np.float64)) / np.sqrt(2)
    t = 1 / (1 + 0.3275911 * z)
    tail = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return 0.5 * (1 + np.sign(x) * (1 - tail * np.exp(-z * z)))


def stratified_margins(n_draws: int, n_bits: int, seed: int = 0) -> np.ndarray:
    """|N(0, 1)| draws (n_draws, n_bits): per bit one draw from each of ``n_draws`` equal-probability
    strata (a Latin hypercube), shuffled independently per bit; ten times steadier than plain draws."""
    normal = NormalDist()
    strata = np.array([normal.inv_cdf(0.5 + 0.5 * (j + 0.5) / n_draws) for j in range(n_draws)])
    rng = np.random.default_rng(seed)
    return np.stack([strata[rng.permutation(n_draws)] for _ in range(n_bits)], axis=1)


@functools.lru_cache(maxsize=512)
def directed_probe_curve(n_bits: int, n_probes: int) -> np.ndarray:
    """P(found in one table with LSHIndex's probes) at each angle of ``PROBE_ANGLES``.

    Each probed bucket differs from the query's own in a set S of bits; the item is in it with
    probability prod_{i in S} f_i * prod_{i not in S} (1 - f_i) (in logs, so that f near 0 or 1 is safe).
    """
    margins = stratified_margins(PROBE_DRAWS, n_bits)
    slope = np.cos(PROBE_ANGLES) / np.maximum(np.sin(PROBE_ANGLES), 1e-12)
    flip = np.clip(normal_cdf(-margins[None] * slope[:, None, None]), 1e-12, 1 - 1e-12)  # (angles, draws, bits)
    log_keep = np.log1p(-flip)
    log_own, log_odds = log_keep.sum(axis=-1), np.log(flip) - log_keep
    draws, found = np.arange(PROBE_DRAWS)[:, None, None], np.exp(log_own)
    for bits in probe_flips(margins, n_probes - 1):  # per radius: (draws, n_keep, radius) bit numbers
        found += np.exp(log_own[..., None] + log_odds[:, draws, bits].sum(axis=-1)).sum(axis=-1)
    return np.minimum(found.mean(axis=1), 1.0)


def directed_hit_probability(similarity, n_bits: int, n_probes: int = 1) -> np.ndarray:
    """P(a pair at cosine ``similarity`` meets in one table of ``LSHIndex``, own bucket or a probe).

    Like :func:`table_hit_probability`, but for the probes ``LSHIndex`` visits (the query's least
    certain bits first) rather than random flips: the same at ``n_probes=1``, higher with probes.

    >>> float(directed_hit_probability(0.6, 10)) == float(table_hit_probability(0.6, 10))
    True
    >>> bool(directed_hit_probability(0.9, 14, 9) > table_hit_probability(0.9, 14, 9) + 0.05)
    True
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    if n_probes == 1:
        return table_hit_probability(similarity, n_bits)
    if n_probes >= 2 ** n_bits:
        return np.ones_like(similarity)
    angles = np.arccos(np.clip(similarity, -1.0, 1.0))
    return np.interp(angles, PROBE_ANGLES, directed_probe_curve(n_bits, n_probes))


def found_in_at_least(min_collisions: int, n_tables, table_probability) -> np.ndarray:
    """P(found in at least ``min_collisions`` of ``n_tables`` independent tables), each with ``table_probability``.

    ``min_collisions=1`` is ``1 - (1 - P)**L``, the plain union. ``n_tables`` may be an array
    (it broadcasts against ``table_probability``): the search below tries every table count at once.

    >>> round(float(found_in_at_least(1, 2, 0.5)), 4), round(float(found_in_at_least(2, 2, 0.5)), 4)
    (0.75, 0.25)
    """
    p, tables = np.asarray(table_probability, dtype=np.float64), np.asarray(n_tables, dtype=np.float64)
    below, ways = 0.0, np.ones_like(tables)  # ways = comb(n_tables, j), updated as j grows
    for j in range(min_collisions):
        below = below + np.where(ways > 0, ways * p ** j * (1 - p) ** np.maximum(tables - j, 0), 0.0)
        ways = ways * np.maximum(tables - j, 0) / (j + 1)
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


# -- what a query costs: measured, not assumed (module docstring: how) -------------------------
CALIBRATION_DIM = 768
# Microseconds per single query on one thread, N = 100,000, d = 768. The terms marked (d) scale with
# the dimension: re-ranking and hashing are dot products; the others handle integers only.
COST_TERMS_US = {
    "query": 136.3,  # fixed: checks, normalising, the Python around a dozen NumPy calls
    "candidate": 0.287,  # (d) per candidate re-ranked: one row gathered, one dot product
    "touched": 0.0064,  # per item read from a probed bucket (gathered, then merged or counted)
    "lookup": 0.560,  # per (table, probe): a bucket found by binary search
    "hash": 0.179,  # (d) per (table, bit): one margin, and the sort that picks the probes
    "exact_query": 0.0,  # exact search, fixed: fitted at N/10, N/3 and N, it came out at about 0
    "exact_item": 0.106,  # (d) exact search, per collection item (one row of the matrix-vector product)
}
LOOKUP_COST = COST_TERMS_US["lookup"] / COST_TERMS_US["candidate"]  # one lookup costs this many re-ranked candidates


def query_microseconds(candidates: float, touched: float, n_bits: int, n_tables: int, n_probes: int,
                       dim: int = CALIBRATION_DIM, terms: dict = COST_TERMS_US) -> float:
    """Predicted time of one ``LSHIndex.search`` on one thread, in microseconds of the calibration machine.

    >>> round(query_microseconds(candidates=300, touched=3000, n_bits=14, n_tables=24, n_probes=5))
    369
    """
    scale = dim / CALIBRATION_DIM
    return (terms["query"] + terms["candidate"] * scale * candidates + terms["touched"] * touched
            + terms["lookup"] * n_tables * n_probes + terms["hash"] * scale * n_tables * n_bits)


def exact_microseconds(n: int, dim: int = CALIBRATION_DIM, terms: dict = COST_TERMS_US) -> float:
    """Predicted time of one exact search (``CosineIndex.search``) on one thread, in microseconds."""
    return terms["exact_query"] + terms["exact_item"] * dim / CALIBRATION_DIM * n


def _cost_terms(lookup_cost: float | None, dim: int) -> dict:
    """The measured terms, or with the lookup term set to ``lookup_cost`` candidate equivalents."""
    if lookup_cost is None:
        return COST_TERMS_US
    return {**COST_TERMS_US, "lookup": lookup_cost * COST_TERMS_US["candidate"] * dim / CALIBRATION_DIM}


def _similarities(profile: dict, center: bool) -> dict:
    """The cosines the hyperplanes see: the profile's own, or its centred ones."""
    if not center:
        return profile
    if "centered" not in profile:
        raise ValueError("this profile has no centred similarities (key 'centered'); measure it with "
                         "similarity_profile(embeddings) to predict an LSHIndex(center=True)")
    return profile["centered"]


def _prediction(n: int, dim: int, neighbour_hit, pair_hit, setting: dict, terms: dict) -> dict:
    """Recall, candidates and cost of one setting from the per-table hit probabilities of the
    sample's neighbours (nq, k) and random pairs (n_pairs,)."""
    n_tables, min_collisions = setting["n_tables"], setting["min_collisions"]
    per_query = found_in_at_least(min_collisions, n_tables, neighbour_hit).mean(axis=-1)
    candidates = float(n * found_in_at_least(min_collisions, n_tables, pair_hit).mean())
    touched = float(n * n_tables * np.mean(pair_hit))  # a table's probed buckets are disjoint
    micro = query_microseconds(candidates, touched, setting["n_bits"], n_tables, setting["n_probes"], dim, terms)
    exact = exact_microseconds(n, dim, terms)
    unit = terms["candidate"] * dim / CALIBRATION_DIM  # one re-ranked candidate: the unit of "cost"
    return {**setting, "predicted_recall": float(per_query.mean()),
            "recall_standard_error": float(per_query.std() / np.sqrt(per_query.size)),
            "candidates": candidates, "touched": touched, "fraction_scanned": candidates / n,
            "uniform_bucket_size": n / 2 ** setting["n_bits"], "cost": micro / unit, "exact_cost": exact / unit,
            "predicted_speedup": exact / micro}


def predict_lsh(profile: dict, n: int, n_bits: int, n_tables: int, n_probes: int = 1,
                lookup_cost: float | None = None, min_collisions: int = 1, center: bool = False) -> dict:
    """The formulas applied to one setting: predicted recall, candidates, bucket size, cost.

    Recall and candidates use :func:`directed_hit_probability` (the probes ``LSHIndex`` really
    visits) and, for ``min_collisions`` > 1, the binomial tail :func:`found_in_at_least`;
    ``center=True`` uses the profile's centred cosines. ``touched`` counts the items read from
    the probed buckets (all of them are read, even those ``min_collisions`` then drops).
    ``cost`` and ``exact_cost`` are in candidate equivalents (the time of re-ranking one candidate),
    from the measured terms :data:`COST_TERMS_US`; ``predicted_speedup`` is their ratio.
    ``lookup_cost`` (candidate equivalents per table and probe) replaces the measured lookup term.
    ``uniform_bucket_size`` is ``n / 2**n_bits``, what buckets would hold if codes were spread
    evenly; ``candidates`` is usually larger, because similar items crowd the same buckets.
    """
    if not 1 <= min_collisions <= n_tables:
        raise ValueError(f"min_collisions must be between 1 and n_tables={n_tables}, got {min_collisions}")
    dim = profile.get("dim", CALIBRATION_DIM)
    sims = _similarities(profile, center)
    setting = {"n_bits": n_bits, "n_tables": n_tables, "n_probes": n_probes, "center": bool(center),
               "min_collisions": min_collisions}
    return _prediction(n, dim, directed_hit_probability(sims["neighbour_similarity"], n_bits, n_probes),
                       directed_hit_probability(sims["pair_similarity"], n_bits, n_probes), setting,
                       _cost_terms(lookup_cost, dim))


def _fewest_tables(neighbour_hit, min_collisions: int, max_tables: int, recall_target: float, margin: float):
    """The fewest tables (>= ``min_collisions``) whose predicted recall, less ``margin`` standard
    errors, reaches the target; None if none up to ``max_tables`` does. All table counts at once."""
    tables = np.arange(min_collisions, max_tables + 1)
    if not len(tables):
        return None
    per_query = found_in_at_least(min_collisions, tables[:, None, None], neighbour_hit[None]).mean(axis=-1)
    sure = per_query.mean(axis=1) - margin * per_query.std(axis=1) / np.sqrt(per_query.shape[1])
    reaching = np.flatnonzero(sure >= recall_target)
    return int(tables[reaching[0]]) if len(reaching) else None


def _check_choices(recall_target, n, max_tables, probe_choices, bit_choices, collision_choices):
    if not 0 < recall_target < 1:
        raise ValueError(f"recall_target must be between 0 and 1 (exclusive), got {recall_target}; "
                         "recall 1 needs exact search")
    if n < 1 or max_tables < 1:
        raise ValueError(f"need n >= 1 and max_tables >= 1, got n={n}, max_tables={max_tables}")
    for name, values, low, high in [("probe_choices", probe_choices, 1, 4096), ("bit_choices", bit_choices, 1, 64),
                                    ("min_collision_choices", collision_choices, 1, 4096)]:
        if not len(values) or any(not low <= int(value) <= high for value in values):
            raise ValueError(f"{name} must be whole numbers from {low} to {high}, got {list(values)}")


def suggest_lsh_settings(n: int, recall_target: float, profile: dict, *, max_tables: int = 32,
                         probe_choices=(1, 2, 3, 5, 9, 17), bit_choices=range(4, 25),
                         min_collision_choices=(1, 2, 3), center_choices=(False, True), margin: float = 3.0,
                         lookup_cost: float | None = None, top: int = 5) -> list[dict]:
    """The fastest settings predicted to reach ``recall_target``, best (lowest ``cost``) first.

    ``profile`` comes from :func:`similarity_profile` on a sample of your data; ``n`` is the
    collection size you will index. Searches ``n_bits`` (``bit_choices``), ``n_probes``
    (``probe_choices``), ``min_collisions`` (``min_collision_choices``), ``center``
    (``center_choices``; True only when the profile has centred cosines) and, for each, the
    fewest ``n_tables`` (up to ``max_tables``, your memory limit) that reach the target. The
    prediction must clear the target by ``margin`` standard errors of the sample's per-query
    recall (with 100 sample queries about 0.035): the profile is a sample, and so are the queries
    the suggestion is then measured with. Measured on four SYNTHETIC sets (N = 20,000, 150
    held-out queries), three targets and five profile seeds: with 2 standard errors 6 of 60 first
    suggestions fell short, by up to 0.018; with 3, 3 of 60, by up to 0.013, all on one query set
    whose true neighbours are further away than the collection's are on average. The margin costs
    about 6 % of the predicted speed at N = 100,000. Returns up to ``top`` dicts from
    :func:`predict_lsh`; each holds the five ``LSHIndex`` arguments: ``LSHIndex(**{key: s[key] for
    key in ("n_bits", "n_tables", "n_probes", "center", "min_collisions")})`` builds it.
    When nothing reaches the target within ``max_tables``, it says so and how to fix it.

    >>> rng = np.random.default_rng(0); data = rng.standard_normal((2000, 32))
    >>> best = suggest_lsh_settings(2000, 0.9, similarity_profile(data, n_sample_queries=20))[0]
    >>> best["predicted_recall"] >= 0.9, sorted(key for key in best if key in ("center", "min_collisions"))
    (True, ['center', 'min_collisions'])
    """
    _check_choices(recall_target, n, max_tables, probe_choices, bit_choices, min_collision_choices)
    centers = [center for center in center_choices if not center or "centered" in profile]
    found = []
    for center in centers:
        found += _search_settings(n, recall_target, profile, center, max_tables, probe_choices, bit_choices,
                                  min_collision_choices, margin, lookup_cost)
    if not found:
        raise ValueError(f"no setting with at most {max_tables} tables is predicted to reach recall "
                         f"{recall_target}; allow more tables (max_tables), more probes, or lower the target")
    found.sort(key=lambda point: point["cost"])
    return found[:top]


def _search_settings(n, recall_target, profile, center, max_tables, probe_choices, bit_choices,
                     collision_choices, margin, lookup_cost) -> list[dict]:
    """Every (n_bits, n_probes, min_collisions) of one ``center``, with its fewest tables, predicted."""
    sims, dim = _similarities(profile, center), profile.get("dim", CALIBRATION_DIM)
    terms, found = _cost_terms(lookup_cost, dim), []
    for n_bits in bit_choices:
        for n_probes in probe_choices:
            if n_probes > 1 + comb(n_bits, 1) + comb(n_bits, 2):
                continue  # probes beyond two flipped bits: more tables are cheaper
            neighbour_hit = directed_hit_probability(sims["neighbour_similarity"], n_bits, n_probes)
            pair_hit = directed_hit_probability(sims["pair_similarity"], n_bits, n_probes)
            for min_collisions in collision_choices:
                n_tables = _fewest_tables(neighbour_hit, min_collisions, max_tables, recall_target, margin)
                if n_tables is not None:
                    setting = {"n_bits": n_bits, "n_tables": n_tables, "n_probes": n_probes,
                               "center": bool(center), "min_collisions": min_collisions}
                    found.append(_prediction(n, dim, neighbour_hit, pair_hit, setting, terms))
    return found


# -- measuring a setting (what the formulas above predict) ------------------------------------
def tradeoff_point(embeddings, queries, exact, n_bits: int, n_tables: int, n_probes: int, k: int = 10,
                   seed: int = 0, timing_queries: int = 20, *, center: bool = False, min_collisions: int = 1,
                   exact_index=None, threads: int = 1, rounds: int = 3) -> dict:
    """Build one ``LSHIndex`` and measure it against exact search: recall, work and speed.

    ``exact`` is exact search's ``(scores, ids)`` for ``queries``. ``center`` and
    ``min_collisions`` go to ``LSHIndex`` as they are, so a suggestion of
    :func:`suggest_lsh_settings` is measured as suggested. The speed is timed by ``compare_speeds``:
    the first ``timing_queries`` queries, one at a time, through the LSH index and through
    ``exact_index`` (exact search over the same ``embeddings``), in the same ``rounds`` on
    ``threads`` threads. When ``exact_index`` is None, a ``CosineIndex`` is built for the call;
    pass ``exact_index=CosineIndex().add(embeddings)`` when you measure several settings, to
    build it once. Returns a dict:

    - ``n_bits``, ``n_tables``, ``n_probes``, ``center``, ``min_collisions``, ``k``: the setting;
    - ``recall``: recall@k against ``exact``'s ids, over all queries;
    - ``fraction_scanned``: the mean share of the collection re-ranked per query;
    - ``median_query_ms`` and ``exact_query_ms``: ms per query of LSH and of exact search (medians
      over the rounds);
    - ``speedup``: exact search's time / LSH's, the median of the round-by-round ratios (above 1:
      LSH is faster); ``threads``: the threads both were timed on;
    - ``neighbour_similarity``: the median cosine of the true top-k (where to read the S-curve);
    - ``index``: the built ``LSHIndex``.

    >>> data = np.random.default_rng(0).standard_normal((500, 16)); queries = data[:10]
    >>> point = tradeoff_point(data, queries, CosineIndex().add(data).search(queries, 5), 4, 2, 1, k=5)
    >>> point["speedup"] > 0, point["exact_query_ms"] > 0
    (True, True)
    """
    timed = queries[:check_int(timing_queries, "timing_queries", low=1, sensible=20)]
    exact_index = _exact_index_of(embeddings, exact_index)
    index = LSHIndex(n_bits=n_bits, n_tables=n_tables, n_probes=n_probes, seed=seed, center=center,
                     min_collisions=min_collisions).add(embeddings)
    with warnings.catch_warnings():  # a short result list is expected at extreme settings; recall shows it
        warnings.simplefilter("ignore", ShortResultWarning)
        _, ids, stats = index.search_with_stats(queries, k)
        speeds = compare_speeds({"exact": lambda: [exact_index.search(query, k) for query in timed],
                                 "LSH": lambda: [index.search(query, k) for query in timed]},
                                threads=threads, rounds=rounds, per_call=len(timed))
    exact_scores, exact_ids = exact
    return {"n_bits": n_bits, "n_tables": n_tables, "n_probes": n_probes, "center": center,
            "min_collisions": min_collisions, "k": k, "recall": recall_at_k(ids, exact_ids),
            "fraction_scanned": float(stats["n_candidates"].mean() / len(index)),
            "median_query_ms": speeds["LSH"]["median_s"] * 1e3, "exact_query_ms": speeds["exact"]["median_s"] * 1e3,
            "speedup": speeds["LSH"]["speedup"], "threads": threads,
            "neighbour_similarity": float(np.median(exact_scores)), "index": index}


def _exact_index_of(embeddings, exact_index):
    """The exact index to time against: ``exact_index`` if it searches the same number of items, else a
    ValueError; a new ``CosineIndex`` of ``embeddings`` when it is None."""
    if exact_index is None:
        return CosineIndex().add(embeddings)
    if not (hasattr(exact_index, "search") and hasattr(exact_index, "__len__")):
        raise ValueError(f"exact_index must be an index with .search(queries, k), e.g. CosineIndex().add(embeddings); "
                         f"got {type(exact_index).__name__}")
    if len(exact_index) != len(embeddings):
        raise ValueError(f"exact_index holds {len(exact_index)} items but embeddings has {len(embeddings)}; time exact "
                         "search over the same collection: exact_index=CosineIndex().add(embeddings)")
    return exact_index


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
