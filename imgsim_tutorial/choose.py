"""Choosing an index: measure the candidates on a sample of your data, then build the winner on all of it.

Builds on every index of the course (``cosine_search``, ``hash_tables`` and ``tuning``, ``ivf``, ``graph``,
``pq``, ``faiss_factory``, ``faiss_index``) and on ``evaluation``'s one timing protocol. Each notebook measured
one idea; with a collection of your own the question is which one to use, and the answer depends on
the data, on N, on the recall you need and on the memory you have. So :func:`choose_index` measures:

1. **held-out queries**: a *tuning* set left out of the sample, and a *check* set searched
   leave-one-out (each query is in the index, so its own id is dropped from both result lists);
   or your own queries, split in two;
2. **a sample** of at most ``sample_size`` items: each candidate is built on it once and its
   query-time setting (``n_probes``, ``ef_search``, ``n_rerank``) swept from cheap to costly until
   recall@k against exact search (the oracle) reaches the target by ``margin`` standard errors;
3. **speed**: each candidate's first setting that did, single queries on one thread, all timed in one
   ``compare_speeds`` call with exact search in the same rounds;
4. **memory**: each index's own ``memory_bytes()`` on the sample; the parts that grow with n are
   scaled to N, the fixed ones (centroids, codebooks, hyperplanes) are not;
5. **choose and check**: the fastest candidate within the target and the budget that beats exact
   search by ``min_speedup`` is built on all N. There its setting is checked again with the check
   queries, moved up while it misses and down while the one below still reaches the target, and
   it is timed against exact search at N. That measurement is what the report calls chosen.

IVF's lists are sized for N from the start, so ``n_probes`` means the same on the sample and at N,
and ``ef_search`` and LSH's probes nearly do; ``n_rerank`` must grow with N (the true neighbours sink
deeper in PQ's approximate ranking), so it is scaled by N / sample before the check.
Left out: tuning build-time settings (one sensible choice each: ``n_lists``, ``n_neighbors``, ``M``,
PQ's pieces), filtered search and GPUs.
"""

from __future__ import annotations

import html
import importlib.util
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .cosine_search import CosineIndex
from .evaluation import compare_speeds, index_bytes, recall_at_k
from .index_base import ShortResultWarning
from .vectors import as_matrix, check_int, normalize

METHODS = ("ivf", "graph", "hnsw", "lsh", "pq", "ivf_pq")
# IVF-PQ is measured only when asked for: without a re-rank it found 0.29 of the top-10 in the course's
# comparison (assets/measured/beyond_lsh_50000.json), and with one it keeps the floats, where IVFIndex is faster.
DEFAULT_METHODS = ("ivf", "graph", "hnsw", "lsh", "pq")
TINY_N = 1_000  # below this, exact search takes well under a millisecond: nothing approximate is built
FIXED_PARTS = {"centroids", "codebooks", "hyperplanes", "mean", "list_offsets"}  # bytes that do not grow with n
PROBES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
EF_SEARCH = (10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
RERANKS = (25, 50, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600)
PQ_TRAIN = 8192  # PQ learns its codebooks from this many items (32 per centroid), as FAISS samples too
MAX_FULL_BUILDS = 3  # candidates built on all N before falling back to exact search


class NoIndexFitsError(ValueError):
    """Nothing, exact search included, reaches the recall target within the memory budget;
    ``report`` holds everything that was measured."""

    def __init__(self, message: str, report: ChoiceReport):
        super().__init__(message)
        self.report = report


@dataclass
class Candidate:
    """One kind of index: how to build it, and its query-time setting ``knob``, swept cheap to costly."""

    method: str
    settings: str
    knob: str
    sweep: tuple
    build: Callable  # (vectors, ids) -> a fitted index
    grows_with_n: bool = False  # the knob must grow with N to keep its recall (n_rerank)


@dataclass
class _Plan:
    """The checked inputs and what the run collects: held-out rows, sample rows, report rows, notes."""

    vectors: np.ndarray
    k: int
    target: float
    budget: float | None
    methods: tuple
    margin: float
    min_speedup: float
    rounds: int
    n_timed: int
    seed: int
    verbose: bool
    ids: object = None
    tune: np.ndarray | None = None
    check: np.ndarray | None = None
    check_rows: np.ndarray | None = None  # rows of ``vectors`` used as check queries (leave-one-out), or None
    sample_rows: np.ndarray | None = None
    rows: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    @property
    def n(self) -> int:
        return len(self.vectors)

    def say(self, text: str) -> None:
        if self.verbose:
            print(f"[{time.perf_counter() - self.started:5.1f} s] {text}", flush=True)


def choose_index(embeddings, queries=None, *, k: int = 10, recall_target: float = 0.9,
                 memory_budget_bytes: float | None = None, sample_size: int = 20_000, n_queries: int = 200,
                 methods=None, min_speedup: float = 1.5, margin: float = 2.0, rounds: int = 5, n_timed: int = 30,
                 ids=None, seed: int = 0, verbose: bool = False):
    """The fastest index that reaches ``recall_target`` within ``memory_budget_bytes``, built on all
    ``embeddings`` (n, d), and a :class:`ChoiceReport` of everything measured: ``(index, report)``.

    ``queries`` (nq, d): held-out queries like the ones you will search with (default: ``2 *
    n_queries`` rows of ``embeddings``, see the module). ``methods``: candidates among ``METHODS``
    (default ``DEFAULT_METHODS``; exact search is always one). Approximate wins only if at least
    ``min_speedup`` times faster than exact search (unless exact search is over the budget); recall
    must reach the target by ``margin`` standard errors of the per-query recall. ``rounds`` and
    ``n_timed``: ``compare_speeds``'s rounds and single queries per round. ``ids``: the index's ids.
    Returns exact search (``CosineIndex``) when nothing approximate wins, and says why; raises
    :class:`NoIndexFitsError` when nothing fits the budget.

    >>> from imgsim_tutorial.data.synthetic import mixture_embeddings
    >>> index, report = choose_index(mixture_embeddings(500, 32)[0])   # small: exact search
    >>> type(index).__name__, report.chosen["recall"]
    ('CosineIndex', 1.0)
    """
    plan = _plan(embeddings, queries, ids=ids, k=k, recall_target=recall_target, budget=memory_budget_bytes,
                 sample_size=sample_size, n_queries=n_queries, methods=methods, min_speedup=min_speedup,
                 margin=margin, rounds=rounds, n_timed=n_timed, seed=seed, verbose=verbose)
    if plan.n < TINY_N:
        exact = CosineIndex().add(plan.vectors, plan.ids)
        timed = plan.tune[:plan.n_timed] if plan.tune is not None else plan.vectors[:plan.n_timed]
        chosen = _exact_row(plan, exact, timed)
        if not chosen["within_budget"]:
            raise NoIndexFitsError(_no_fit_message(plan, chosen, []), _finish(plan, None, "nothing fits"))
        reason = (f"exact search (CosineIndex): N = {plan.n:,} is below {TINY_N:,}, where exact search takes well "
                  "under a millisecond; no approximate index was built")
        return exact, _finish(plan, chosen, reason)
    found, exact_row = _measure_sample(plan)
    index, chosen, reason = _choose_at_n(plan, found, exact_row)
    return index, _finish(plan, chosen, reason)


# -- 1. inputs and held-out queries -------------------------------------------------------------------
def _plan(embeddings, queries, *, ids, k, recall_target, budget, sample_size, n_queries, methods, min_speedup,
          margin, rounds, n_timed, seed, verbose) -> _Plan:
    """Check every input (each error says what was expected and how to fix it), then split off the queries."""
    vectors = normalize(as_matrix(embeddings, "embeddings"), "embeddings")
    n = len(vectors)
    if n < 2:
        raise ValueError(f"embeddings hold {n} vector; choosing an index needs at least 2 (k < n)")
    k = check_int(k, "k", low=1, high=n - 1, sensible=min(10, n - 1))
    if isinstance(recall_target, bool) or not isinstance(recall_target, (int, float, np.number)) \
            or not 0 < recall_target <= 1:
        raise ValueError(f"recall_target must be a number in (0, 1], the share of the true top-k to find, e.g. "
                         f"0.9; got {recall_target!r}")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float, np.number))
                               or not np.isfinite(budget) or budget <= 0):
        raise ValueError(f"memory_budget_bytes must be a positive number of bytes (e.g. 2e9 for 2 GB) or None "
                         f"for no limit; got {budget!r}")
    for name, value in (("min_speedup", min_speedup), ("margin", margin)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not value >= 0:
            raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    keys, left_out = _checked_methods(methods)
    plan = _Plan(vectors, k, float(recall_target), None if budget is None else float(budget), keys, float(margin),
                 float(min_speedup), check_int(rounds, "rounds", low=1, sensible=5),
                 check_int(n_timed, "n_timed", low=1, sensible=30), check_int(seed, "seed", low=0, sensible=0),
                 bool(verbose), ids)
    if left_out:
        plan.notes.append(f"{', '.join(left_out)} not tried: FAISS is not installed (pip install faiss-cpu)")
    _hold_out(plan, queries, check_int(n_queries, "n_queries", low=10, sensible=200),
              check_int(sample_size, "sample_size", low=TINY_N, sensible=20_000))
    return plan


def _checked_methods(methods) -> tuple[tuple, list]:
    """The candidates asked for (default ``DEFAULT_METHODS``), and those left out for want of FAISS."""
    keys = DEFAULT_METHODS if methods is None else (methods,) if isinstance(methods, str) else tuple(methods)
    unknown = [key for key in keys if key not in METHODS]
    if unknown or not keys:
        raise ValueError(f"methods must name candidates among {METHODS}, e.g. methods=('ivf', 'graph'); got "
                         f"{methods!r}")
    wanted = [key for key in keys if key in ("hnsw", "ivf_pq")]
    if not wanted or importlib.util.find_spec("faiss") is not None:
        return keys, []
    if methods is not None:
        raise ValueError(f"methods {wanted} need FAISS, which is not installed: pip install faiss-cpu")
    return tuple(key for key in keys if key not in wanted), wanted


def _hold_out(plan: _Plan, queries, n_queries: int, sample_size: int) -> None:
    """Tuning and check queries, and the sample rows (never holding a tuning query)."""
    rng = np.random.default_rng(plan.seed)
    order = rng.permutation(plan.n)
    if queries is not None:
        queries = normalize(as_matrix(queries, "queries", plan.vectors.shape[1]), "queries")
        if len(queries) < 20:
            raise ValueError(f"choose_index needs at least 20 queries (half to tune, half to check), got "
                             f"{len(queries)}; pass more, or queries=None to hold out some of the embeddings")
        mixed = queries[rng.permutation(len(queries))]
        half = min(n_queries, len(queries) // 2)
        plan.tune, plan.check, rest = mixed[:half], mixed[half:2 * half], order
        plan.notes.append(f"queries: {half} of yours tune the candidates on the sample, {half} others check at N")
    elif plan.n >= TINY_N:
        each = min(n_queries, plan.n // 10)
        tune_rows, plan.check_rows = order[:each], np.sort(order[each:2 * each])
        plan.tune, plan.check, rest = plan.vectors[tune_rows], plan.vectors[plan.check_rows], order[each:]
        plan.notes.append(f"queries: {each} rows of the embeddings, left out of the sample, tune the candidates; "
                          f"{each} others check at N, searched leave-one-out")
    else:
        return
    plan.sample_rows = np.sort(rest[:sample_size])
    if plan.k > len(plan.sample_rows):
        raise ValueError(f"k={plan.k} is more than the {len(plan.sample_rows)} items the candidates are measured on; "
                         "ask for fewer neighbours or a larger sample_size")


# -- 2. the candidates --------------------------------------------------------------------------------
def _candidates(plan: _Plan, sample: np.ndarray):
    """One ``Candidate`` per method asked for, made when its turn comes, its build-time settings chosen for N."""
    dim, k, seed = plan.vectors.shape[1], plan.k, plan.seed
    # About 2 sqrt(N) lists (as benchmarks/vs_faiss.py), at least 39 sample items in each (FAISS's minimum).
    n_lists = max(1, min(int(round(2 * np.sqrt(plan.n))), len(sample) // 39))
    pieces = max(m for m in range(1, min(16, max(1, dim // 8)) + 1) if dim % m == 0)  # PQ: <= 16 pieces, >= 8 dims
    makers = {"ivf": lambda: _ivf(n_lists, seed), "graph": lambda: _graph(k, seed), "hnsw": lambda: _hnsw(k),
              "lsh": lambda: _lsh(plan, sample), "pq": lambda: _pq(pieces, k, seed),
              "ivf_pq": lambda: _ivf_pq(n_lists, pieces)}
    for key in plan.methods:
        candidate = makers[key]()
        if candidate is not None:
            yield candidate


def _upto(values, high: int) -> tuple:
    """``values`` below ``high``, then ``high`` itself: ``_upto((1, 2, 4, 8), 5)`` -> ``(1, 2, 4, 5)``."""
    return tuple(value for value in values if value < high) + (high,)


def _from(values, low: int) -> tuple:
    """``values`` from ``low`` on (a beam narrower than k finds fewer than k): ``_from((10, 16, 24), 12)`` ->
    ``(16, 24)``."""
    return tuple(value for value in values if value >= low) or (low,)


def _ivf(n_lists: int, seed: int) -> Candidate:
    from .ivf import IVFIndex

    return Candidate("IVFIndex", f"n_lists={n_lists}", "n_probes", _upto(PROBES, n_lists),
                     lambda v, ids: IVFIndex(n_lists=n_lists, n_probes=1, n_iter=10, seed=seed).add(v, ids))


def _graph(k: int, seed: int) -> Candidate:
    """n / 25 entry points: benchmarks/vs_faiss.py measured single queries several times faster than with one."""
    from .graph import GraphIndex

    return Candidate("GraphIndex", "n_neighbors=16 n_entry_points=n/25", "ef_search", _from(EF_SEARCH, k),
                     lambda v, ids: GraphIndex(n_neighbors=16, n_entry_points=max(1, len(v) // 25),
                                               seed=seed).add(v, ids))


def _hnsw(k: int) -> Candidate:
    from .faiss_index import HNSWIndex

    return Candidate("HNSWIndex (FAISS)", "M=16 ef_construction=40", "ef_search", _from(EF_SEARCH, k),
                     lambda v, ids: HNSWIndex(M=16, ef_construction=40, ef_search=k).add(v, ids))


def _lsh(plan: _Plan, sample: np.ndarray) -> Candidate | None:
    """``LSHIndex`` with the setting ``tuning.suggest_lsh_settings`` predicts for N, its probes swept upwards."""
    from .hash_tables import MAX_PROBES, LSHIndex
    from .tuning import similarity_profile, suggest_lsh_settings

    try:
        profile = similarity_profile(sample, plan.tune, k=plan.k, n_sample_queries=100, seed=plan.seed)
        best = suggest_lsh_settings(plan.n, plan.target, profile, top=1)[0]
    except ValueError as error:
        plan.notes.append(f"LSHIndex not tried: {error}")
        return None
    fixed = {key: best[key] for key in ("n_bits", "n_tables", "center", "min_collisions")}
    probes = tuple(p for p in (1, 2, 3, 5, 9, 17, 33, 65, 129) if best["n_probes"] <= p <= min(2 ** best["n_bits"],
                                                                                                  MAX_PROBES))
    return Candidate("LSHIndex", " ".join(f"{key}={value}" for key, value in fixed.items()), "n_probes", probes,
                     lambda v, ids: LSHIndex(**fixed, n_probes=probes[0], seed=plan.seed).add(v, ids))


def _pq(pieces: int, k: int, seed: int) -> Candidate:
    """``PQIndex``: codes in memory, float vectors on disk for the re-rank (not counted as memory)."""
    from .pq import PQIndex

    reranks = _from(RERANKS, k)

    def build(vectors, ids):
        rows = np.random.default_rng(seed).choice(len(vectors), min(len(vectors), PQ_TRAIN), replace=False)
        index = PQIndex(n_subvectors=pieces, n_rerank=reranks[0], n_iter=10, seed=seed)
        return index.train(vectors[np.sort(rows)]).add(vectors, ids)

    return Candidate("PQIndex", f"n_subvectors={pieces} (floats on disk)", "n_rerank", reranks, build,
                     grows_with_n=True)


def _ivf_pq(n_lists: int, pieces: int) -> Candidate:
    from .faiss_factory import FactoryIndex

    factory = f"IVF{n_lists},PQ{pieces}"
    return Candidate("FactoryIndex (FAISS IVF-PQ)", factory, "n_probes", _upto(PROBES, n_lists),
                     lambda v, ids: FactoryIndex(factory=factory, n_probes=1).add(v, ids))


# -- 3. recall, speed and memory ----------------------------------------------------------------------
def _row(stage: str, method: str, setting: str, **measured) -> dict:
    """One line of the report; what was not measured stays NaN (shown as "-")."""
    row = {"stage": stage, "method": method, "setting": setting, "value": None, "recall": np.nan,
           "recall_low": np.nan, "meets_target": False, "ms": np.nan, "exact_ms": np.nan, "speedup": np.nan,
           "bytes": np.nan, "bytes_per_item": np.nan, "within_budget": True, "build_s": np.nan, "note": ""}
    row.update(measured)
    return row


def _note(row: dict, text: str) -> None:
    row["note"] = "; ".join(filter(None, [row["note"], text]))


def _leave_out(ids, own, k: int) -> np.ndarray:
    """Each row of ``ids`` without its query's ``own`` id, cut to ``k``: a check query is in the index.

    >>> _leave_out(np.array([[7, 1, 2], [3, 4, 5]]), np.array([7, 9]), 2)
    array([[1, 2],
           [3, 4]])
    """
    return np.array([row[row != mine][:k] for row, mine in zip(ids, own)])


def _recalls(index, queries, true_ids, k: int, own=None) -> np.ndarray:
    """recall@k of each query (nq,); with ``own`` (the queries' own ids) searched leave-one-out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortResultWarning)  # a missing result counts as a miss
        found = index.search(queries, k + (own is not None))[1]
    if own is not None:
        found = _leave_out(found, own, k)
    return np.array([recall_at_k(mine[None], truth[None]) for mine, truth in zip(found, true_ids)])


def _recall_row(plan: _Plan, stage: str, candidate: Candidate, index, value, true_ids, own=None) -> dict:
    """Set the knob to ``value`` and measure recall; it reaches the target if the mean, less ``margin``
    standard errors of the per-query recall, does (a sample of queries is lucky or unlucky too)."""
    setattr(index, candidate.knob, value)
    queries = plan.tune if stage == "sample" else plan.check
    recalls = _recalls(index, queries, true_ids, plan.k, own)
    low = recalls.mean() - plan.margin * (recalls.std(ddof=1) if len(recalls) > 1 else 0.0) / np.sqrt(len(recalls))
    return _row(stage, candidate.method, f"{candidate.settings} {candidate.knob}={value}", value=value,
                recall=float(recalls.mean()), recall_low=float(low), meets_target=bool(low >= plan.target - 1e-9))


def _bytes_at(index, n: int) -> int:
    """Bytes ``index`` would hold with ``n`` items, from its own ``memory_bytes()``: the parts that grow
    with n are scaled, the fixed ones (``FIXED_PARTS``) are not. A FAISS index counts as one growing part.

    >>> _bytes_at(CosineIndex().add(np.eye(4)), 8)   # 4 x 4 float32 and 4 int64 ids, twice over
    192
    """
    parts = index.memory_bytes()
    fixed = sum(size for part, size in parts.items() if part in FIXED_PARTS)
    return int(fixed + (sum(parts.values()) - fixed) * n / len(index))


def _time(exact, entries: dict, queries, k: int, rounds: int) -> dict:
    """Single queries on one thread: exact search and every ``{label: (index, knob, value)}`` in the same
    rounds (``compare_speeds``). Settings of one kind share a build, so each sets its own knob first."""
    def one_at_a_time(index, knob=None, value=None):
        def search():
            if knob:
                setattr(index, knob, value)
            return [index.search(query, k) for query in queries]
        return search

    methods = {"exact": one_at_a_time(exact), **{label: one_at_a_time(*entry) for label, entry in entries.items()}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortResultWarning)
        return compare_speeds(methods, threads=1, rounds=rounds, per_call=len(queries))


def _sweep(plan: _Plan, candidate: Candidate, sample, true_ids):
    """Build on the sample, then the knob from cheap to costly until recall reaches the target.
    Returns ``(index, the row that reached it or None)``; every setting tried goes into the report."""
    started = time.perf_counter()
    index = candidate.build(sample, None)
    build_s = time.perf_counter() - started
    rows = []
    for value in candidate.sweep:
        rows.append(_recall_row(plan, "sample", candidate, index, value, true_ids))
        if rows[-1]["meets_target"]:
            break
    predicted = _bytes_at(index, plan.n)
    within = plan.budget is None or predicted <= plan.budget
    for row in rows:
        row.update(build_s=build_s, bytes=predicted, bytes_per_item=predicted / plan.n, within_budget=within)
    last = rows[-1]
    if not last["meets_target"]:
        _note(last, f"never reached the target, up to {candidate.knob}={last['value']}")
    if candidate.grows_with_n:  # PQ: its floats wait on disk, outside the memory it holds
        _note(last, f"+ {plan.n * plan.vectors.shape[1] * 4 / 1e6:,.0f} MB of floats on disk")
    plan.rows += rows
    plan.say(f"{candidate.method}: built on {len(sample):,} in {build_s:.1f} s; {last['setting']} "
             f"recall {last['recall']:.3f}")
    return index, last if last["meets_target"] else None


def _measure_sample(plan: _Plan):
    """Every candidate built and swept on the sample, then timed with exact search in one call.
    Returns ``(found, exact_row)``: ``found`` pairs (candidate, its row) for those that reached the target."""
    sample = plan.vectors[plan.sample_rows]
    started = time.perf_counter()
    exact = CosineIndex().add(sample)
    exact_row = _row("sample", "CosineIndex (exact)", "", recall=1.0, recall_low=1.0, meets_target=True,
                     build_s=time.perf_counter() - started, bytes=_bytes_at(exact, plan.n))
    exact_row.update(bytes_per_item=exact_row["bytes"] / plan.n,
                     within_budget=plan.budget is None or exact_row["bytes"] <= plan.budget)
    plan.rows.append(exact_row)
    if len(sample) < plan.n:
        plan.notes.append(f"sample rows: built on {len(sample):,} of the {plan.n:,} items; their memory is predicted "
                          "for N, their speed measured at the sample's size (the 'all N' rows: on all items)")
    true_ids = exact.search(plan.tune, plan.k)[1]
    found, entries = [], {}
    for candidate in _candidates(plan, sample):
        index, row = _sweep(plan, candidate, sample, true_ids)
        if row is not None:
            found.append((candidate, row))
            entries[str(len(entries))] = (index, candidate.knob, row["value"])
    speeds = _time(exact, entries, plan.tune[:plan.n_timed], plan.k, plan.rounds)
    plan.say(f"timed {len(entries)} candidates and exact search in the same {plan.rounds} rounds")
    exact_row.update(ms=speeds["exact"]["median_s"] * 1e3, exact_ms=speeds["exact"]["median_s"] * 1e3, speedup=1.0)
    for label, (_, row) in zip(entries, found):
        row.update(ms=speeds[label]["median_s"] * 1e3, exact_ms=speeds["exact"]["median_s"] * 1e3,
                   speedup=speeds[label]["speedup"])
    return found, exact_row


# -- 4. choose, then check at N -----------------------------------------------------------------------
def _choose_at_n(plan: _Plan, found: list, exact_row: dict):
    """The fastest candidate within target and budget, built on all N and checked there; exact search if
    none survives (and it fits the budget). Returns ``(index, chosen row, reason)``."""
    exact = CosineIndex().add(plan.vectors, plan.ids)
    own = None if plan.check_rows is None else exact.ids_[plan.check_rows]
    truth = exact.search(plan.check, plan.k + (own is not None))[1]
    truth = truth if own is None else _leave_out(truth, own, plan.k)
    plan.say(f"exact search on all {plan.n:,} items: the check queries' true neighbours")
    needed = plan.min_speedup if exact_row["within_budget"] else 0.0  # over budget, exact search is no option
    ranked = sorted((pair for pair in found if pair[1]["within_budget"] and pair[1]["speedup"] >= needed),
                    key=lambda pair: -pair[1]["speedup"])
    for _, row in found:
        if not row["within_budget"]:
            _note(row, "over budget")
        elif row["speedup"] < needed:
            _note(row, f"under {needed:g}x exact search")
    for candidate, row in ranked[:MAX_FULL_BUILDS]:
        index, final, problem = _check_at_n(plan, candidate, row["value"], exact, truth, own, needed)
        if problem is None:
            return index, final, (f"{candidate.method} {final['setting']}: the fastest candidate that reached "
                                  f"recall@{plan.k} >= {plan.target:g} on the sample"
                                  f"{' within the budget' if plan.budget else ''}; built on all {plan.n:,} items it "
                                  f"measured recall {final['recall']:.3f} on {len(plan.check)} held-out queries and "
                                  f"{final['speedup']:.1f}x the speed of exact search")
        _note(final, f"rejected at N: {problem}")
        plan.notes.append(f"{candidate.method} was built on all {plan.n:,} items and rejected: {problem}")
    if exact_row["within_budget"]:
        return exact, _exact_row(plan, exact, plan.check[:plan.n_timed]), _why_exact(plan, found, needed)
    report = _finish(plan, None, "nothing fits")
    raise NoIndexFitsError(_no_fit_message(plan, exact_row, found), report)


def _check_at_n(plan: _Plan, candidate: Candidate, value, exact, truth, own, needed: float):
    """Build on all N, settle the setting with the check queries, time it against exact search.
    Returns ``(index, row, problem)``; ``problem`` says why it is rejected, or is None."""
    started = time.perf_counter()
    index = candidate.build(plan.vectors, plan.ids)
    build_s = time.perf_counter() - started
    if candidate.grows_with_n:
        value = value * plan.n / len(plan.sample_rows)
    start = next((i for i, v in enumerate(candidate.sweep) if v >= value), len(candidate.sweep) - 1)
    final, rows = _settle(plan, candidate, index, start, truth, own)
    held = index_bytes(index)
    for row in rows:
        row.update(build_s=build_s, bytes=held, bytes_per_item=held / plan.n,
                   within_budget=plan.budget is None or held <= plan.budget)
    plan.rows += rows
    plan.say(f"{candidate.method}: built on all {plan.n:,} in {build_s:.1f} s; {(final or rows[-1])['setting']}")
    if final is None:
        return index, rows[-1], f"it never reached the target, up to {candidate.knob}={rows[-1]['value']}"
    setattr(index, candidate.knob, final["value"])
    speeds = _time(exact, {"index": (index, candidate.knob, final["value"])}, plan.check[:plan.n_timed], plan.k,
                   plan.rounds)
    final.update(ms=speeds["index"]["median_s"] * 1e3, exact_ms=speeds["exact"]["median_s"] * 1e3,
                 speedup=speeds["index"]["speedup"])
    if not final["within_budget"]:
        return index, final, f"it holds {held:,} bytes, over the budget of {plan.budget:,.0f}"
    if final["speedup"] < needed:
        return index, final, f"{final['speedup']:.1f}x the speed of exact search, under min_speedup={needed:g}"
    return index, final, None


def _settle(plan: _Plan, candidate: Candidate, index, start: int, truth, own):
    """The cheapest setting that reaches the target at N, from the sample's: up while it misses, down
    while the one below still reaches it. Returns ``(that row or None, every row measured, in order)``."""
    measured = {}

    def reaches(i: int) -> bool:
        if i not in measured:
            measured[i] = _recall_row(plan, "all N", candidate, index, candidate.sweep[i], truth, own)
        return measured[i]["meets_target"]

    at = start
    if reaches(at):
        while at > 0 and reaches(at - 1):
            at -= 1
    else:
        at = next((i for i in range(start + 1, len(candidate.sweep)) if reaches(i)), None)
    rows = [measured[i] for i in sorted(measured)]
    return (None if at is None else measured[at]), rows


def _exact_row(plan: _Plan, exact, queries) -> dict:
    """Exact search at N, timed alone: recall 1 by definition (it is the oracle)."""
    speeds = _time(exact, {}, queries, plan.k, plan.rounds)
    held = index_bytes(exact)
    row = _row("all N", "CosineIndex (exact)", "", recall=1.0, recall_low=1.0, meets_target=True,
               ms=speeds["exact"]["median_s"] * 1e3, exact_ms=speeds["exact"]["median_s"] * 1e3, speedup=1.0,
               bytes=held, bytes_per_item=held / plan.n, within_budget=plan.budget is None or held <= plan.budget)
    plan.rows.append(row)
    return row


def _why_exact(plan: _Plan, found: list, needed: float) -> str:
    text = "exact search (CosineIndex): "
    within = [row for _, row in found if row["within_budget"]]
    if not within:
        return text + (f"no approximate candidate reached recall@{plan.k} >= {plan.target:g} on the sample"
                       + (" within the budget" if plan.budget else ""))
    best = max(within, key=lambda row: row["speedup"])
    if best["speedup"] < needed:
        return text + (f"no approximate candidate that reached the target was {needed:g}x faster than exact "
                       f"search (the fastest, {best['method']}, was {best['speedup']:.1f}x on the sample)")
    return text + f"the candidates that won on the sample did not hold up on all {plan.n:,} items (see the notes)"


def _no_fit_message(plan: _Plan, exact_row: dict, found: list) -> str:
    smallest = min((row for _, row in found), key=lambda row: row["bytes"], default=None)
    closest = (f"; the smallest candidate that reached it, {smallest['method']}, needs about {smallest['bytes']:,.0f}"
               if smallest else "")
    return (f"nothing reaches recall@{plan.k} >= {plan.target:g} within memory_budget_bytes={plan.budget:,.0f}: "
            f"exact search needs {exact_row['bytes']:,.0f} bytes{closest}; raise the budget or lower recall_target "
            f"(the error's .report lists every candidate measured)")


# -- 5. the report ------------------------------------------------------------------------------------
def _finish(plan: _Plan, chosen: dict | None, reason: str) -> ChoiceReport:
    if chosen is not None:
        chosen["note"] = "; ".join(filter(None, ["CHOSEN", chosen["note"]]))
    plan.say(reason)
    return ChoiceReport(n=plan.n, dim=plan.vectors.shape[1], k=plan.k, recall_target=plan.target,
                        margin=plan.margin, memory_budget_bytes=plan.budget,
                        sample_n=plan.n if plan.sample_rows is None else len(plan.sample_rows),
                        n_tuning_queries=0 if plan.tune is None else len(plan.tune),
                        n_check_queries=0 if plan.check is None else len(plan.check), rows=plan.rows,
                        chosen=chosen, reason=reason, notes=plan.notes, seconds=time.perf_counter() - plan.started)


def _megabytes(size) -> str:
    """``_megabytes(3_100_000)`` -> ``'3.1 MB'``."""
    return "-" if not np.isfinite(size) else f"{size / 1e6:,.1f} MB"


@dataclass
class ChoiceReport:
    """What :func:`choose_index` tried and measured, what it chose and why.

    ``rows``: one dict per setting measured, ``stage`` "sample" (built on ``sample_n`` items; memory
    predicted for N) or "all N" (built on all ``n``; memory as held). ``chosen``: the row of the
    returned index, measured on all N. ``seconds``: the whole call. ``table()`` shows the rows.
    """

    n: int
    dim: int
    k: int
    recall_target: float
    margin: float
    memory_budget_bytes: float | None
    sample_n: int
    n_tuning_queries: int
    n_check_queries: int
    rows: list
    chosen: dict | None
    reason: str
    notes: list
    seconds: float

    def header(self) -> list[str]:
        return ["stage", "method", "setting", f"recall@{self.k}", f"less {self.margin:g} SE", "ms/query", "speed-up",
                "bytes/item", "memory at N", "build s", "target", "budget", "note"]

    def cells(self, row: dict) -> list[str]:
        """One row as the table shows it."""
        def number(value, text):
            return "-" if value is None or not np.isfinite(value) else text.format(value)

        budget = "-" if self.memory_budget_bytes is None else "yes" if row["within_budget"] else "no"
        return [row["stage"], row["method"], row["setting"], number(row["recall"], "{:.3f}"),
                number(row["recall_low"], "{:.3f}"), number(row["ms"], "{:.3f}"), number(row["speedup"], "{:.1f}x"),
                number(row["bytes_per_item"], "{:,.0f}"), _megabytes(row["bytes"]), number(row["build_s"], "{:.1f}"),
                "yes" if row["meets_target"] else "no", budget, row["note"]]

    def table(self) -> str:
        """Every row as a Markdown table, its columns aligned so that it reads as plain text too."""
        lines = [self.header()] + [self.cells(row) for row in self.rows]
        widths = [max(len(line[column]) for line in lines) for column in range(len(lines[0]))]
        text = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths)) + " |" for line in lines]
        text.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
        return "\n".join(text)

    def summary(self) -> list[str]:
        """The lines above the table: what was asked, what was chosen and why."""
        budget = "none" if self.memory_budget_bytes is None else _megabytes(self.memory_budget_bytes)
        lines = [f"choose_index: n={self.n:,} d={self.dim} k={self.k}; recall@{self.k} less {self.margin:g} standard "
                 f"errors >= {self.recall_target:g}, memory budget {budget}; candidates built on {self.sample_n:,} "
                 f"items, {self.n_tuning_queries} tuning and {self.n_check_queries} check queries; "
                 f"{self.seconds:.1f} s in all"]
        if self.chosen is not None:
            lines.append(f"chosen: {self.chosen['method']} {self.chosen['setting']}".rstrip()
                         + f" (recall {self.chosen['recall']:.3f}, {self.chosen['ms']:.3f} ms per query, "
                         f"{self.chosen['speedup']:.1f}x exact search, {_megabytes(self.chosen['bytes'])})")
        return lines + [f"why: {self.reason}"] + [f"note: {note}" for note in self.notes]

    def __repr__(self) -> str:
        return "\n".join(self.summary() + ["", self.table()])

    def _repr_html_(self) -> str:
        def line(cells, tag, bold=False):
            style = ' style="font-weight:bold"' if bold else ""
            return f"<tr{style}>" + "".join(f"<{tag}>{html.escape(cell)}</{tag}>" for cell in cells) + "</tr>"

        body = [line(self.cells(row), "td", row is self.chosen) for row in self.rows]
        summary = "".join(f"<p>{html.escape(text)}</p>" for text in self.summary())
        return f"{summary}<table>{line(self.header(), 'th')}{''.join(body)}</table>"
