"""How good, how fast: the measurements every notebook reports.

Builds on ``cosine_search.py``. Two kinds of "good":

- *precision@k by label*: of the k images returned, what fraction has the query's label?
  It judges the embeddings (does similar-looking mean same-disease?).
- *recall@k against exact search*: of the true top-k (from ``CosineIndex``), what fraction did
  an approximate index find? It judges the index, whatever the embeddings are.

The original tutorial measured neither; here every speed-up is paid for in recall, and we show
the bill. ``time_call`` reports a median and spread over repeats, never a single run.

Speeds that are compared go through one protocol, :func:`compare_speeds`: threads pinned for NumPy's BLAS
and FAISS together (:func:`pinned_threads`), a warm-up, rounds that interleave the methods, and each
method's speed-up over the baseline computed round by round in the same call. Two runs on a shared
machine can differ 3x; two methods timed in the same rounds differ by what they do.
"""

from __future__ import annotations

import contextlib
import sys
import time

import numpy as np

from .index_base import ShortResultWarning
from .vectors import check_int


def _refuse_empty(values, name: str, expected: str) -> None:
    """A ValueError for an empty input: the mean of nothing would be NaN, not a score."""
    if np.size(values) == 0:
        raise ValueError(f"{name} is empty (shape {np.shape(values)}); expected {expected}. A mean over "
                         "nothing is NaN, not a score")


def precision_at_k(result_labels, query_labels) -> float:
    """Mean fraction of results sharing the query's label: (nq, k) and (nq,) -> float.

    >>> precision_at_k([[0, 0, 1], [2, 2, 2]], [0, 2])
    0.8333333333333334
    """
    _refuse_empty(result_labels, "result_labels", "(nq, k) labels, at least one query with at least one result")
    _refuse_empty(query_labels, "query_labels", "(nq,) labels, one per query, for at least one query")
    result_labels = np.atleast_2d(np.asarray(result_labels))
    query_labels = np.asarray(query_labels).reshape(-1, 1)
    if len(result_labels) != len(query_labels):
        raise ValueError(f"got results for {len(result_labels)} queries but {len(query_labels)} query labels")
    return float((result_labels == query_labels).mean())


def recall_at_k(found_ids, true_ids) -> float:
    """Mean fraction of the true top-k that was found: both (nq, k) -> float.

    Ids may be integers or strings; a missing result (-1, or ``""`` for string ids) never
    counts as found.

    >>> recall_at_k([[1, 2, 3]], [[3, 1, 9]])
    0.6666666666666666
    """
    from .index_base import found_mask

    _refuse_empty(found_ids, "found_ids", "(nq, k) ids, at least one query with at least one result")
    _refuse_empty(true_ids, "true_ids", "(nq, k) ids, at least one query with at least one result")
    found_ids, true_ids = np.atleast_2d(found_ids), np.atleast_2d(true_ids)
    if len(found_ids) != len(true_ids):
        raise ValueError(f"found_ids has {len(found_ids)} rows but true_ids has {len(true_ids)}; pass one row "
                         "per query to both")
    if (found_ids.dtype.kind == "U") != (true_ids.dtype.kind == "U"):
        raise ValueError(f"found_ids are {found_ids.dtype} but true_ids are {true_ids.dtype}; compare ids of one "
                         "kind (both integers or both strings)")
    hits = [len(set(found[found_mask(found)].tolist()) & set(true.tolist()))
            for found, true in zip(found_ids, true_ids)]
    return float(np.sum(hits) / true_ids.size)


def average_precision(result_labels, query_label, n_relevant: int) -> float:
    """AP@k of one ranked list of k results, where relevant = same label as the query.

        AP@k = (1 / min(k, n_relevant)) * sum over ranks i with a hit of precision@i

    ``n_relevant`` is how many relevant items the whole collection holds, so a list that finds
    few of them scores low: one hit at rank 1 and nine misses, with 10 relevant items, is 0.1
    (dividing by the hits found instead, as before, would call it a perfect 1.0).

    >>> average_precision([0, 1, 0], 0, n_relevant=2)   # hits at ranks 1 and 3: (1/1 + 2/3) / 2
    0.8333333333333333
    >>> average_precision([0] + [1] * 9, 0, n_relevant=10)
    0.1
    """
    _refuse_empty(result_labels, "result_labels", "the (k,) labels of one ranked list, k >= 1")
    relevant = np.asarray(result_labels).reshape(-1) == query_label
    n_relevant = int(n_relevant)
    if n_relevant < relevant.sum():
        raise ValueError(f"the list holds {int(relevant.sum())} relevant results but n_relevant={n_relevant}; "
                         "n_relevant counts the relevant items in the whole collection")
    if n_relevant == 0:
        return 0.0
    precision_at_hits = np.cumsum(relevant)[relevant] / (np.flatnonzero(relevant) + 1)
    return float(precision_at_hits.sum() / min(len(relevant), n_relevant))


def mean_average_precision(result_labels, query_labels, candidate_labels) -> float:
    """Mean AP@k over queries: ``result_labels`` (nq, k), ``query_labels`` (nq,), and the labels
    of every searchable candidate (n,), which give each query's ``n_relevant``.

    >>> mean_average_precision([[0, 1], [1, 1]], [0, 1], candidate_labels=[0, 0, 1, 1])
    0.75
    """
    _refuse_empty(result_labels, "result_labels", "(nq, k) labels, at least one query with at least one result")
    _refuse_empty(query_labels, "query_labels", "(nq,) labels, one per query, for at least one query")
    _refuse_empty(candidate_labels, "candidate_labels", "(n,) labels of the searchable candidates, n >= 1")
    result_labels = np.atleast_2d(np.asarray(result_labels))
    query_labels, candidate_labels = np.asarray(query_labels).reshape(-1), np.asarray(candidate_labels).reshape(-1)
    if len(result_labels) != len(query_labels):
        raise ValueError(f"got results for {len(result_labels)} queries but {len(query_labels)} query labels; "
                         "pass one label per query")
    labels, counts = np.unique(candidate_labels, return_counts=True)
    n_relevant = dict(zip(labels.tolist(), counts.tolist()))
    return float(np.mean([average_precision(row, label, n_relevant.get(label, 0))
                          for row, label in zip(result_labels, query_labels.tolist())]))


def _spread(seconds) -> dict:
    """Median, range and interquartile range of some timings: what ``time_call`` and ``compare_speeds`` report.

    >>> _spread([1.0, 2.0, 4.0])
    {'median_s': 2.0, 'min_s': 1.0, 'max_s': 4.0, 'iqr_s': 1.5}
    """
    seconds = np.asarray(seconds, dtype=np.float64)
    return {"median_s": float(np.median(seconds)), "min_s": float(seconds.min()), "max_s": float(seconds.max()),
            "iqr_s": float(np.subtract(*np.percentile(seconds, [75, 25])))}


def time_call(function, *args, repeats: int = 7, warmup: int = 1, **kwargs) -> dict:
    """Run ``function(*args, **kwargs)`` several times; median and spread in seconds.

    One duration (a build, one search) on its own. To compare methods, time them together with
    :func:`compare_speeds`.

    >>> time_call(sorted, [3, 1, 2])["median_s"] < 1
    True
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for _ in range(warmup):
        function(*args, **kwargs)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(*args, **kwargs)
        seconds.append(time.perf_counter() - started)
    return {**_spread(seconds), "repeats": repeats}


@contextlib.contextmanager
def pinned_threads(n: int = 1):
    """Inside the block NumPy's BLAS, OpenMP and FAISS run ``n`` threads each; as before after it.

    Exact search is a BLAS call and FAISS has its own OpenMP pool: limit one and not the other and
    a comparison measures thread counts, not methods.

    >>> with pinned_threads(1):
    ...     float(np.ones((2, 2)) @ np.ones(2) @ np.ones(2))
    4.0
    """
    n = check_int(n, "n", low=1, sensible=1)
    from threadpoolctl import threadpool_limits

    faiss = sys.modules.get("faiss")  # pinned if a method uses it (it is imported by then); never loaded for this
    before = faiss.omp_get_max_threads() if faiss else None
    with threadpool_limits(n):
        if faiss:
            faiss.omp_set_num_threads(n)
        try:
            yield
        finally:
            if faiss:
                faiss.omp_set_num_threads(before)


def compare_speeds(methods: dict, *, baseline: str | None = None, threads: int = 1, rounds: int = 7,
                   warmup: int = 1, per_call: int = 1) -> dict:
    """Time several methods by one protocol; each one's speed-up over ``baseline`` from the same rounds.

    ``methods`` maps a name to a no-argument callable (one search, a batch, or a loop over
    ``per_call`` single queries: seconds are then reported per query). ``baseline`` is the method
    the others are compared with (default: the first, e.g. exact search). The protocol: threads
    pinned (``pinned_threads(threads)``), ``warmup`` calls of each method, then ``rounds`` rounds in
    which every method runs once, in an order that rotates from round to round, so that a slow
    moment of the machine falls on all of them. Returns, per method: ``median_s``, ``min_s``,
    ``max_s``, ``iqr_s`` (seconds per call, or per query), ``round_s`` (the same, round by round),
    ``speedup``: the median over rounds of baseline seconds / its seconds in that round (above 1:
    faster than the baseline), and ``speedup_min`` / ``speedup_max``: the range of those ratios.

    >>> speeds = compare_speeds({"sort 10,000": lambda: sorted(range(10_000, 0, -1)),
    ...                          "sort 10": lambda: sorted(range(10))})
    >>> speeds["sort 10"]["speedup"] > 1, speeds["sort 10,000"]["speedup"]
    (True, 1.0)
    """
    if not methods or not all(callable(method) for method in methods.values()):
        raise ValueError("methods must map names to no-argument callables, e.g. {'exact': lambda: exact.search(q, 10)}")
    names = list(methods)
    baseline = names[0] if baseline is None else baseline
    if baseline not in methods:
        raise ValueError(f"baseline {baseline!r} is not one of the methods {names}")
    rounds, per_call = check_int(rounds, "rounds", low=1, sensible=7), check_int(per_call, "per_call", low=1)
    threads = check_int(threads, "threads", low=1, sensible=1)
    seconds = {name: [] for name in names}
    with pinned_threads(threads):
        for _ in range(check_int(warmup, "warmup", low=0)):
            for method in methods.values():
                method()
        for turn in range(rounds):
            for name in names[turn % len(names):] + names[:turn % len(names)]:
                started = time.perf_counter()
                methods[name]()
                seconds[name].append((time.perf_counter() - started) / per_call)
    reference = np.array(seconds[baseline])
    result = {}
    for name, times in seconds.items():
        speedups = reference / np.array(times)
        result[name] = {**_spread(times), "round_s": times, "speedup": float(np.median(speedups)),
                        "speedup_min": float(speedups.min()), "speedup_max": float(speedups.max()),
                        "rounds": rounds, "threads": threads}
    return result


def speed_table(speeds: dict, baseline: str | None = None) -> str:
    """``compare_speeds``'s result as a table: milliseconds (median and range) next to the speed-up.

    >>> print(speed_table({"exact": {"median_s": 0.008, "min_s": 0.007, "max_s": 0.009, "speedup": 1.0},
    ...                    "LSH": {"median_s": 0.0004, "min_s": 0.0003, "max_s": 0.0005, "speedup": 20.0}}))
    method       ms (range)             speed-up over exact
    exact     8.000 (7.000-9.000)          1.0x
    LSH       0.400 (0.300-0.500)         20.0x
    """
    baseline = baseline or next(iter(speeds))
    width = max(len(name) for name in [*speeds, "method"])
    lines = [f"{'method':<{width}} {'ms':>8} {'(range)':<19} speed-up over {baseline}"]
    for name, row in speeds.items():
        spread = f"({row['min_s'] * 1e3:.3f}-{row['max_s'] * 1e3:.3f})"
        lines.append(f"{name:<{width}} {row['median_s'] * 1e3:8.3f} {spread:<19} {row['speedup']:6.1f}x")
    return "\n".join(lines)


def label_precision(candidates, candidate_labels, queries, query_labels, k: int = 5) -> float:
    """precision@k by label of exact cosine search: how often a neighbour shares the query's label.

    The one-number answer to "are these embeddings any good for search?".
    """
    from .cosine_search import CosineIndex

    _, ids = CosineIndex().add(candidates).search(queries, k)
    return precision_at_k(np.asarray(candidate_labels)[ids], query_labels)


def clustered_vectors(n: int, dim: int, n_clusters: int, spread: float = 0.4, seed: int = 0) -> np.ndarray:
    """Synthetic unit vectors around random cluster centres: float32 (n, dim).

    Like real embeddings (and unlike uniform noise) they have near neighbours: with ``spread``
    0.4 two members of one cluster sit at cosine about 1 / (1 + 0.4**2) = 0.86.

    >>> clustered_vectors(5, 8, n_clusters=2).shape
    (5, 8)
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim))
    points = centres[rng.integers(n_clusters, size=n)] + spread * rng.standard_normal((n, dim))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def time_per_query(search_one, queries, repeats: int = 3) -> float:
    """Seconds per query when ``search_one(query)`` is called one query at a time (median of repeats).

    One method on its own, with threads as they are; to compare methods use :func:`compare_speeds`.

    >>> time_per_query(abs, [-1, 2, -3]) < 1
    True
    """
    queries = list(queries)
    return time_call(lambda: [search_one(query) for query in queries], repeats=repeats)["median_s"] / len(queries)


def index_bytes(index) -> int:
    """Bytes an index holds: float vectors, codes, graph or FAISS structures (duck-typed)."""
    memory = index.memory_bytes() if hasattr(index, "memory_bytes") else int(index.vectors_.nbytes)
    return int(sum(memory.values()) if isinstance(memory, dict) else memory)


def compare_indexes(builders: dict, candidates, queries, k: int = 10, n_single: int = 50,
                    true_ids=None, *, threads: int = 1, rounds: int = 3) -> list[dict]:
    """Build each index, search, and measure it against exact search, all in one run.

    ``builders`` maps a name to a no-argument function returning an unfitted index. Each row has
    ``build_s`` (one build), ``recall`` (recall@k vs ``CosineIndex``), ``scanned`` (share of
    candidates scored, when the index reports it), ``bytes``, and its speed next to exact search's,
    timed by :func:`compare_speeds` in the same ``rounds`` on ``threads`` threads: ``latency_ms``
    and ``exact_ms`` (ms per query, the first ``n_single`` queries searched one at a time),
    ``speedup`` (exact / this index), ``throughput_qps`` (all queries in one batched call) and
    ``batch_speedup``. Pass ``true_ids`` (exact top-k ids) if already computed.
    """
    import warnings

    from .cosine_search import CosineIndex

    exact = CosineIndex().add(candidates)
    if true_ids is None:
        _, true_ids = exact.search(queries, k)
    rows = []
    for name, build in builders.items():
        started = time.perf_counter()
        index = build().add(candidates)
        build_s = time.perf_counter() - started
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortResultWarning)  # a short result list shows up as lower recall
            if hasattr(index, "search_with_stats"):
                _, ids, stats = index.search_with_stats(queries, k)
                scanned = float(stats["n_candidates"].mean() / len(index))
            else:
                _, ids = index.search(queries, k)
                scanned = float("nan")
            speeds = _against_exact(exact, index, queries, k, n_single, threads=threads, rounds=rounds)
        rows.append({"method": name, "build_s": build_s, **speeds, "recall": recall_at_k(ids, true_ids),
                     "scanned": scanned, "bytes": index_bytes(index)})
    return rows


def _against_exact(exact, index, queries, k: int, n_single: int, *, threads: int, rounds: int) -> dict:
    """``index`` and ``exact`` in the same rounds: single queries, then one batched call of all of them."""
    single = queries[:n_single]
    one_by_one = compare_speeds({"exact": lambda: [exact.search(query, k) for query in single],
                                 "index": lambda: [index.search(query, k) for query in single]},
                                threads=threads, rounds=rounds, per_call=len(single))
    batched = compare_speeds({"exact": lambda: exact.search(queries, k), "index": lambda: index.search(queries, k)},
                             threads=threads, rounds=rounds)
    return {"latency_ms": one_by_one["index"]["median_s"] * 1e3, "exact_ms": one_by_one["exact"]["median_s"] * 1e3,
            "speedup": one_by_one["index"]["speedup"], "throughput_qps": len(queries) / batched["index"]["median_s"],
            "batch_speedup": batched["index"]["speedup"]}


def rerank_shortlists(queries, candidates, shortlists, k: int = 10) -> np.ndarray:
    """Re-rank each query's shortlist of candidate ids by exact cosine; returns ids (nq, k).

    The step that turns a cheap, approximate shortlist (codes, PQ, buckets) into a trustworthy
    ranking. Ids of -1 in a shortlist are empty slots.
    """
    from .cosine_search import rerank
    from .vectors import normalize

    return rerank(normalize(queries, "queries"), normalize(candidates, "candidates"), shortlists, k)[1]
