"""How fast is each search method at a given recall, on data that looks like real embeddings?

Run:  make benchmark        (N up to 100,000; about 10 minutes on 2 idle cores)
      make benchmark-full   (adds N = 1,000,000 to the cost growth: --growth 10000 100000 1000000)
      python benchmarks/run.py --quick   (small sizes, 30 s: checks that it runs)

Data: ``synthetic.realistic_embeddings`` (SYNTHETIC: a shared mean direction, Zipf cluster
sizes, low-dimensional variation inside clusters, neighbours a small part of their cluster);
its measured statistics are printed first. Once, as the counter-example, the old easy data
(``evaluation.clustered_vectors``), where every method looks perfect.

Protocol, in the style of ann-benchmarks: every method is swept over its parameters (LSHIndex
over n_bits / n_tables / n_probes / min_collisions, with and without ``center``; FAISS IVF over
nprobe; HNSW over efSearch; the hand-built IVF index), and each setting gives one point
(recall@10, queries per second). Query-time settings (n_probes, min_collisions, nprobe,
efSearch) share one build. Every time is taken by the course's one protocol,
``imgsim_tutorial.evaluation.compare_speeds``: threads pinned for NumPy's BLAS and FAISS together
(``pinned_threads``), a warm-up, then rounds in which the setting and exact search take turns,
so that each speed-up over exact search comes from the same rounds. Single queries run on ONE
thread, one query at a time (ms per query: the median over rounds); batches of 200 run on all
cores. A sweep's setting gets ``SWEEP_ROUNDS`` rounds; the key points (targets, crossover) get
``--rounds`` and report the spread (min-max) of the round-by-round speed-ups, because the machine
may be shared. ``benchmarks/before_after.py`` times an older copy of the package against this
one in the same way.

Writes benchmarks/results/results.json (after every section), results.md and two PNGs:
recall_vs_throughput.png (the curves) and cost_vs_n.png (cost growth with N).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import imgsim_tutorial as t  # noqa: E402
from imgsim_tutorial.cosine_search import rerank  # noqa: E402
from imgsim_tutorial.data.synthetic import embedding_statistics, realistic_embeddings, realistic_labels  # noqa: E402
from imgsim_tutorial.evaluation import compare_speeds, pinned_threads  # noqa: E402

K, TARGET = 10, 0.9
SWEEP_ROUNDS = 3  # rounds of each setting of a sweep against exact search (the key points take --rounds)
CORES = os.cpu_count() or 1
SECTIONS = ("curves", "targets", "crossover", "easy", "growth")
CROSSOVER_ASSET = Path(__file__).resolve().parents[1] / "imgsim_tutorial" / "assets" / "measured" / "lsh_crossover.json"
FAMILIES = ("CosineIndex", "LSHIndex", "FAISS IVF", "FAISS HNSW")
# LSH builds: (n_bits, n_tables, center, ((n_probes, min_collisions), ...)); each build is swept
# over its query-time settings. min_collisions=1 is the plain union of the probed buckets.
LSH_BUILDS = [
    (12, 20, True, ((1, 1), (5, 1), (17, 1), (9, 2))),
    (11, 40, True, ((5, 2), (9, 2), (9, 3))),
    (12, 40, True, ((1, 1), (5, 1), (5, 2), (9, 2), (13, 2), (17, 3))),
    (14, 80, True, ((5, 1), (3, 2), (5, 2), (9, 2), (9, 3), (17, 3))),
    (12, 20, False, ((1, 1),))]  # without centring, the shared mean direction fills a few huge buckets
TARGET_BUILDS = [  # at N = 50,000 (100,000 reuses the curves): a finer grid near recall@10 = 0.9
    (11, 40, True, ((5, 2), (9, 2), (13, 2), (9, 3))), (12, 40, True, ((9, 2), (13, 2), (17, 2), (17, 3)))]
GROWTH_BUILDS = {  # per N: the grids the growth sweep tries (100,000 reuses the curves)
    "small": [(11, 40, True, ((5, 1), (17, 1), (5, 2), (9, 2), (9, 3)))],
    "big": [(14, 20, True, ((5, 1), (17, 1), (17, 2), (33, 2), (49, 2)))]}


def against_exact(exact, search, queries, *, threads: int, rounds: int, one_by_one: bool = True):
    """``search`` and exact search timed in the same rounds (``compare_speeds`` on ``threads`` threads).

    ``one_by_one``: each of ``queries`` searched alone; otherwise one batched call of all of them.
    Returns ``compare_speeds``' rows ``(exact, method)``, seconds per query; ``search=None`` times
    exact search alone (it is then the method too).
    """
    def exact_search(batch):
        return exact.search(batch, K)[1]

    calls = {"exact": exact_search, **({"method": search} if search is not None else {})}
    if one_by_one:
        methods = {name: lambda call=call: [call(query) for query in queries] for name, call in calls.items()}
    else:
        methods = {name: lambda call=call: call(queries) for name, call in calls.items()}
    speeds = compare_speeds(methods, threads=threads, rounds=rounds, per_call=len(queries))
    return speeds["exact"], speeds.get("method", speeds["exact"])


def milliseconds(row) -> list[float]:
    """A ``compare_speeds`` row's round-by-round seconds per query, in milliseconds."""
    return [seconds * 1e3 for seconds in row["round_s"]]


def per_second(row) -> list[float]:
    """A ``compare_speeds`` row's round-by-round queries per second."""
    return [1 / seconds for seconds in row["round_s"]]


def recall(found, truth) -> float:
    return t.recall_at_k(np.asarray(found), truth)


# -- the methods: each builds once and yields (label, params, search function) per setting ------
def exact_method(exact):
    """Exact search as a method of the sweep: the ``CosineIndex`` every setting is timed against."""
    yield "CosineIndex (exact)", {}, lambda q: exact.search(q, K)[1], exact


BUILT = {}  # (N, n_bits, n_tables, center) -> LSHIndex, kept for the target rounds (N <= 100,000)


def lsh_method(data, builds=LSH_BUILDS, log=print, keep=False):
    for n_bits, n_tables, center, settings in builds:
        started = time.perf_counter()
        index = t.LSHIndex(n_bits=n_bits, n_tables=n_tables, seed=0, center=center).add(data)
        log(f"  LSHIndex {n_bits}b x {n_tables}t center={center}: built in {time.perf_counter() - started:.1f} s")
        for n_probes, min_collisions in settings:
            # query-time settings: one build serves them all
            index.n_probes, index.min_collisions = n_probes, min_collisions

            def search(q, index=index, n_probes=n_probes, min_collisions=min_collisions):
                index.n_probes, index.min_collisions = n_probes, min_collisions
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", t.ShortResultWarning)  # a short list shows up as lower recall
                    return index.search(q, K)[1]

            yield (f"LSHIndex{' center' if center else ''}{', min_collisions>1' if min_collisions > 1 else ''}",
                   {"n_bits": n_bits, "n_tables": n_tables, "n_probes": n_probes, "min_collisions": min_collisions,
                    "center": center}, search, index)
        if keep:
            BUILT[len(data), n_bits, n_tables, center] = index
        del index
        gc.collect()


def faiss_ivf_method(data, n_lists=None, nprobes=(1, 2, 4, 8, 16, 32, 64)):
    import faiss

    n_lists = n_lists or int(min(1024, 2 ** round(np.log2(2 * np.sqrt(len(data))))))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(data.shape[1]), data.shape[1], n_lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.min_points_per_centroid = 5  # small samples are fine here; silence FAISS's warning
    sample = data[np.random.default_rng(0).choice(len(data), min(len(data), 40 * n_lists), replace=False)]
    index.train(sample)
    index.add(data)
    for nprobe in nprobes:
        if nprobe <= n_lists:
            index.nprobe = nprobe
            params = {"n_lists": n_lists, "nprobe": nprobe}
            yield "FAISS IVF", params, lambda q, index=index: index.search(np.atleast_2d(q), K)[1], None


def faiss_hnsw_method(data, M=16, ef_construction=40, efs=(16, 32, 64, 128, 256)):
    import faiss

    index = faiss.IndexHNSWFlat(data.shape[1], M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    index.add(data)
    for ef in efs:
        index.hnsw.efSearch = ef
        yield "FAISS HNSW", {"M": M, "efSearch": ef}, lambda q, index=index: index.search(np.atleast_2d(q), K)[1], None


def hand_built_methods(data, log=print):
    """The course's own IVF and PQ indexes, when they exist and work (their settings swept)."""
    try:
        from imgsim_tutorial.ivf import IVFIndex
        index = IVFIndex(n_lists=128, n_probes=1, seed=0).add(data)
        for n_probes in (1, 4, 8, 16):
            index.n_probes = n_probes
            params = {"n_lists": 128, "n_probes": n_probes}
            yield "IVFIndex (by hand)", params, lambda q, index=index: index.search(q, K)[1], index
    except Exception as error:  # announced, never silent: the curves just lack this method
        log(f"  IVFIndex left out: {type(error).__name__}: {error}")
    # PQIndex is left out: its re-rank width is fixed when it is built, and at N = 100k its
    # by-hand search (about 14 ms a query already at N = 5k) would dominate the run.


def measure(methods, exact, queries, truth, n_single, log, batch=True):
    """One row per setting: recall, scanned share, and its speed against ``exact`` (a ``CosineIndex``)
    in the same rounds: single-query ms and speed-up (1 thread), batch q/s and speed-up (all cores)."""
    rows = []
    for method in methods:
        started = time.perf_counter()
        for name, params, search, index in method:
            with pinned_threads(CORES):
                found = search(queries)
            row = {"method": name, **params, "recall": recall(found, truth),
                   **timed_setting(exact, None if index is exact else search, queries, n_single, batch)}
            if isinstance(index, t.LSHIndex):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", t.ShortResultWarning)
                    row["scanned"] = float(index.search_with_stats(queries, K)[2]["n_candidates"].mean() / len(exact))
            rows.append(row)
            log(f"  {name} {params}: recall {row['recall']:.3f}, {row['single_ms']:.3f} ms/query "
                f"({row['speedup']:.1f}x exact), {row['batch_qps']:.0f} q/s batch")
        log(f"  ({time.perf_counter() - started:.0f} s)")
    return rows


def timed_setting(exact, search, queries, n_single, batch) -> dict:
    """A sweep row's times: ``single_ms``, ``single_qps``, ``exact_ms`` and ``speedup`` (single
    queries, 1 thread), ``batch_qps`` and ``batch_speedup`` (one batch, all cores; NaN without ``batch``)."""
    exact_row, mine = against_exact(exact, search, queries[:n_single], threads=1, rounds=SWEEP_ROUNDS)
    fields = {"single_ms": mine["median_s"] * 1e3, "single_qps": 1 / mine["median_s"],
              "exact_ms": exact_row["median_s"] * 1e3, "speedup": mine["speedup"],
              "batch_qps": float("nan"), "batch_speedup": float("nan")}
    if batch:
        _, mine = against_exact(exact, search, queries, threads=CORES, rounds=SWEEP_ROUNDS, one_by_one=False)
        fields.update(batch_qps=1 / mine["median_s"], batch_speedup=mine["speedup"])
    return fields


def best_at_target(rows, name_prefix, key="single_ms"):
    """The fastest row of a method family with recall@10 >= TARGET (None if none reaches it)."""
    good = [row for row in rows if row["method"].startswith(name_prefix) and row["recall"] >= TARGET]
    if not good:
        return None
    return min(good, key=lambda row: row[key]) if key == "single_ms" else max(good, key=lambda row: row[key])


# -- the checks behind the targets -------------------------------------------------------------
def lsh_settings(row):
    return {key: row[key] for key in ("n_bits", "n_tables", "n_probes", "min_collisions", "center")}


def describe(settings) -> str:
    """``12b x 40t x 9p >=2`` : bits, tables, buckets probed per table (its own included), tables an item
    must be found in."""
    votes = settings.get("min_collisions", 1)
    return (f"{settings['n_bits']}b x {settings['n_tables']}t x {settings['n_probes']}p"
            + (f" >={votes}" if votes > 1 else "") + (" center" if settings.get("center") else ""))


def rounds_vs_exact(exact, data, queries, settings, n_single, n_rounds):
    """Exact search against LSH at ``settings``, in ``n_rounds`` interleaved rounds (``compare_speeds``):
    single queries on one thread, batches on all cores and on one; the overhead ratio; the split of
    an LSH query's time. Per-round lists (``exact_ms``, ``lsh_ms``, ``*_batch_qps*``) and the
    median and range of the round-by-round speed-ups."""
    index = BUILT.get((len(data), settings["n_bits"], settings["n_tables"], settings["center"]))
    if index is None:
        index = t.LSHIndex(seed=0, n_bits=settings["n_bits"], n_tables=settings["n_tables"],
                           center=settings["center"]).add(data)
    index.n_probes, index.min_collisions = settings["n_probes"], settings["min_collisions"]

    def lsh_search(batch):
        return index.search(batch, K)[1]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", t.ShortResultWarning)
        exact_row, lsh_row = against_exact(exact, lsh_search, queries[:n_single], threads=1, rounds=n_rounds)
        # on a busy machine extra BLAS threads can hurt: batches on all cores and on one
        batches = {threads: against_exact(exact, lsh_search, queries, threads=threads, rounds=n_rounds,
                                          one_by_one=False) for threads in (CORES, 1)}
        with pinned_threads(1):
            overhead = overhead_ratio(index, queries[:n_single])
            _, _, stats = index.search_with_stats(queries, K)
    return {"exact_ms": milliseconds(exact_row), "lsh_ms": milliseconds(lsh_row), "overhead": overhead,
            "scanned": float(stats["n_candidates"].mean() / len(data)),
            "split_ms": {part: 1e3 * float(stats[f"{part}_s"]) / len(queries) for part in ("hash", "lookup", "rerank")},
            "exact_batch_qps": per_second(batches[CORES][0]), "lsh_batch_qps": per_second(batches[CORES][1]),
            "exact_batch_qps_1t": per_second(batches[1][0]), "lsh_batch_qps_1t": per_second(batches[1][1]),
            "settings": settings, "speedup": lsh_row["speedup"], "speedup_min": lsh_row["speedup_min"],
            "speedup_max": lsh_row["speedup_max"], "batch_ratio": batches[CORES][1]["speedup"],
            "batch_ratio_1t": batches[1][1]["speedup"]}


def overhead_ratio(index, queries) -> dict:
    """A query's time against hashing it plus re-ranking its own candidates, each timed alone.

    Also times the bucket lookup alone (finding the buckets, merging or counting their members),
    so that ``residual_ms`` (the query minus its three parts) is what is left for Python overhead.
    """
    from imgsim_tutorial._support.lsh_lookup import union_of_buckets

    ratios, parts = [], []
    for query in queries:
        queries_, _ = index._prepare(query)
        rows = index.candidates(query)  # ids are 0..n-1 here, so ids are rows
        started = time.perf_counter()
        index.search(query, K)
        total = time.perf_counter() - started
        started = time.perf_counter()
        _, margins = index._prepare(query)
        codes = index.probed_codes(margins)
        hashing = time.perf_counter() - started
        started = time.perf_counter()
        union_of_buckets(index._lookup, codes.transpose(1, 0, 2), len(index), min_count=index.min_collisions)
        lookup = time.perf_counter() - started
        started = time.perf_counter()
        rerank(queries_, index.vectors_, [rows], K)
        reranking = time.perf_counter() - started
        ratios.append(total / (hashing + reranking))
        parts.append((total, hashing, lookup, reranking))
    total, hashing, lookup, reranking = np.median(np.array(parts), axis=0) * 1e3
    return {"ratio": float(np.median(ratios)), "total_ms": float(total), "hash_ms": float(hashing),
            "lookup_ms": float(lookup), "rerank_ms": float(reranking),
            "residual_ms": float(total - hashing - lookup - reranking)}


def crossover(data_by_n, n_single, n_rounds, log, extra=()):
    """Per N: exact vs the fastest LSHIndex setting with recall@10 >= 0.9 (one thread), the
    setting found by a sweep, then timed against exact search in interleaved rounds.

    ``extra``: results of :func:`rounds_vs_exact` at larger N, added as points."""
    points = []
    for n, (data, queries) in data_by_n.items():
        exact = t.CosineIndex().add(data)
        truth = exact.search(queries, K)[1]
        builds = [(b, n_tables, True, ((1, 1), (5, 1), (17, 1), (5, 2), (9, 2)))
                  for b, n_tables in [(8, 20), (10, 20), (10, 40), (12, 40)]]
        rows = measure([exact_method(exact), lsh_method(data, builds, log=lambda m: None)],
                       exact, queries, truth, n_single, lambda m: None, batch=False)
        best = best_at_target(rows, "LSHIndex")
        timed = rounds_vs_exact(exact, data, queries, lsh_settings(best), n_single, n_rounds) if best else None
        exact_ms = float(np.median(timed["exact_ms"])) if best else rows[0]["single_ms"]
        points.append({"n": n, "exact_ms": exact_ms, "lsh_ms": float(np.median(timed["lsh_ms"])) if best else None,
                       "lsh": lsh_settings(best) if best else None, "recall": best["recall"] if best else None,
                       "speedup": timed["speedup"] if best else None,
                       "spread": [timed["speedup_min"], timed["speedup_max"]] if best else None})
        log(f"  N={n:,}: exact {exact_ms:.3f} ms, best LSH at recall>={TARGET} "
            f"{points[-1]['lsh_ms'] and round(points[-1]['lsh_ms'], 3)} ms ({points[-1]['lsh']})")
    for r in extra:
        points.append({"n": r["n"], "exact_ms": float(np.median(r["exact_ms"])),
                       "lsh_ms": float(np.median(r["lsh_ms"])), "lsh": r["settings"], "recall": r["recall"],
                       "speedup": r["speedup"], "spread": [r["speedup_min"], r["speedup_max"]]})
    points.sort(key=lambda p: p["n"])
    at = None
    for low, high in zip(points, points[1:]):
        if low["speedup"] and high["speedup"] and low["speedup"] < 1 <= high["speedup"]:
            # interpolate log(speed-up) linearly in log(N)
            a, b = np.log(low["speedup"]), np.log(high["speedup"])
            at = float(np.exp(np.log(low["n"]) + (0 - a) / (b - a) * (np.log(high["n"]) - np.log(low["n"]))))
    if at is None and points and points[0]["speedup"] and points[0]["speedup"] >= 1:
        at = f"below {points[0]['n']}"
    return {"points": points, "crossover_n": at}


# -- report ------------------------------------------------------------------------------------
MEASURED = ("method", "recall", "single_ms", "single_qps", "exact_ms", "speedup", "batch_qps", "batch_speedup",
            "scanned")  # a row's results, not settings


def markdown(report) -> str:
    """results.md: one line on where and when it was measured, then a table per section in the report."""
    lines = [f"Measured {report['date']} on {report['machine']}; k = {K}; SYNTHETIC realistic embeddings "
             f"unless marked; {report.get('seconds', 0):.0f} s in all.", ""]
    if report.get("statistics"):
        lines += data_table(report["statistics"])
    if report.get("targets"):
        lines += targets_table(report["targets"])
    if report.get("crossover"):
        lines += crossover_table(report["crossover"])
    for title, key in [("Recall vs throughput", "curves"), ("Counter-example: the old easy data", "easy")]:
        if report.get(key):
            lines += sweep_table(title, report[key])
    if report.get("growth"):
        lines += growth_table(report["growth"])
    return "\n".join(lines) + "\n"


def data_table(statistics) -> list[str]:
    """The data table: how close neighbours are, and how they sit in their clusters."""
    lines = ["**The data** (realistic_embeddings, SYNTHETIC)", "",
             "| N | clusters | random-pair cos | top-1 cos | top-10 cos | 10th-11th gap | top-10 in cluster "
             "| top-10 share of cluster |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in statistics:
        lines.append(f"| {s['n']:,} | {s['n_clusters']} | {s['random_pair_cosine']:.3f} | {s['top1_cosine']:.3f} | "
                     f"{s['top10_cosine']:.3f} | {s['gap_k_k1']:.4f} | {s['top_k_in_cluster']:.0%} | "
                     f"{s['cluster_share_of_topk']:.1%} |")
    return lines + [""]


def targets_table(targets) -> list[str]:
    """The targets table: per target N, LSH's speed-up over exact search and where an LSH query spends its time."""
    lines = ["**Targets** (single queries on one thread; medians of interleaved rounds, min-max in brackets)", "",
             "| N | LSH setting (recall@10) | scanned | exact ms | LSH ms | speed-up | hash + lookup + rerank ms | "
             "query / (hash + rerank) | batch q/s LSH / exact |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in targets:
        split = " + ".join(f"{r['split_ms'][part]:.2f}" for part in ("hash", "lookup", "rerank")) \
            if "split_ms" in r else "?"  # results written before the split was measured
        speedup = f"{r['speedup']:.1f}x [{r['speedup_min']:.1f}-{r['speedup_max']:.1f}]"
        batch = (f"{np.median(r['lsh_batch_qps']):.0f} / {np.median(r['exact_batch_qps']):.0f} = "
                 f"{r['batch_ratio']:.1f}x (1 thread: {r['batch_ratio_1t']:.1f}x)")
        lines.append(f"| {r['n']:,} | {describe(r['settings'])} ({r['recall']:.3f}) | "
                     f"{r.get('scanned', float('nan')):.1%} | {np.median(r['exact_ms']):.2f} | "
                     f"{np.median(r['lsh_ms']):.3f} | {speedup} | {split} | {overhead_text(r['overhead'])} | {batch} |")
    return lines + [""]


def overhead_text(overhead) -> str:
    """``1.35 (0.40 vs 0.10 + 0.20 ms; lookup 0.05, rest 0.05)``: a query against its hashing plus re-ranking."""
    nan = float("nan")  # older results.json files may lack the lookup and the rest
    return (f"{overhead['ratio']:.2f} ({overhead['total_ms']:.2f} vs {overhead['hash_ms']:.2f} + "
            f"{overhead['rerank_ms']:.2f} ms; lookup {overhead.get('lookup_ms', nan):.2f}, "
            f"rest {overhead.get('residual_ms', nan):.2f})")


def crossover_table(crossover) -> list[str]:
    """The crossover table: the N where LSHIndex starts to beat exact search, and the points around it."""
    at = crossover["crossover_n"]
    where = f"{at:,.0f} (interpolated)" if isinstance(at, float) else (at or "not within the sizes measured")
    lines = [f"**Where LSHIndex starts to beat exact search** at recall@10 >= {TARGET}: N = {where}", "",
             "| N | exact ms | best LSH ms | setting | recall@10 | speed-up [min-max] |",
             "|---:|---:|---:|---|---:|---:|"]
    for p in crossover["points"]:
        setting = describe(p["lsh"]) if p["lsh"] else "none"
        spread = f" [{p['spread'][0]:.1f}-{p['spread'][1]:.1f}]" if p.get("spread") else ""
        lines.append(f"| {p['n']:,} | {p['exact_ms']:.3f} | {p['lsh_ms'] or float('nan'):.3f} | {setting} | "
                     f"{p['recall'] or float('nan'):.3f} | {p['speedup'] or float('nan'):.1f}x{spread} |")
    return lines + [""]


def sweep_table(title, block) -> list[str]:
    """A sweep table (the curves, the easy data): recall, speed and share scanned of every setting."""
    lines = [f"**{title}** (N = {block['n']:,}{', ' + block['data'] if 'data' in block else ''})", "",
             "| method | settings | recall@10 | single ms (1 thread) | speed-up over exact | batch q/s (all cores) "
             "| scanned |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in block["rows"]:
        scanned = f"{r['scanned']:.1%}" if "scanned" in r else ""
        lines.append(f"| {r['method']} | {settings_text(r)} | {r['recall']:.3f} | {r['single_ms']:.3f} | "
                     f"{speedup_text(r)} | {r['batch_qps']:.0f} | {scanned} |")
    return lines + [""]


def growth_table(growth) -> list[str]:
    """The growth table: per N, the fastest setting of each method family that reaches the target recall."""
    lines = ["**Cost growth with N** (the fastest setting of each method with recall@10 >= 0.9 in the sweep "
             "at that N; single query, one thread)", "",
             "| N | queries | method | setting | recall@10 | single ms | speed-up over exact | batch q/s |",
             "|---:|---:|---|---|---:|---:|---:|---:|"]
    for g in growth:
        for r in g["best"]:
            lines.append(f"| {g['n']:,} | {g['n_queries']} | {r['method']} | {settings_text(r)} | "
                         f"{r['recall']:.3f} | {r['single_ms']:.3f} | {speedup_text(r)} | {r['batch_qps']:.0f} |")
    return lines + [""]


def speedup_text(row) -> str:
    """``12.3x``: a sweep row's speed-up over exact search in the same rounds ("?" in results written before)."""
    return f"{row['speedup']:.1f}x" if "speedup" in row else "?"


def settings_text(row) -> str:
    """``n_bits=12, n_tables=20, n_probes=1``: the settings of a measured row, its results left out."""
    return ", ".join(f"{key}={value}" for key, value in row.items() if key not in MEASURED)


def plot(report, folder):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if report.get("curves"):
        rows = report["curves"]["rows"]
        figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=90)
        names = list(dict.fromkeys(r["method"] for r in rows))
        for axis, key, title in [(axes[0], "single_qps", "single queries, 1 thread"),
                                 (axes[1], "batch_qps", f"batches of {report['n_queries']}, {CORES} cores")]:
            for position, name in enumerate(names):
                points = sorted(((r["recall"], r[key]) for r in rows if r["method"] == name), key=lambda p: p[0])
                x, y = np.array([p[0] for p in points]), np.array([p[1] for p in points])
                # the Pareto frontier: no other setting is both more accurate and faster
                front = [i for i in range(len(x)) if not np.any((x >= x[i]) & (y > y[i]) | (x > x[i]) & (y >= y[i]))]
                colour = plt.cm.tab10(position % 10)
                axis.scatter(x, y, s=14, color=colour, alpha=0.45)
                axis.plot(x[front], y[front], "-o", ms=4, color=colour, label=name)
            axis.axvline(TARGET, color="grey", lw=0.8, ls=":")
            exact = [r[key] for r in rows if r["method"].startswith("CosineIndex")]
            if exact:  # above this line a method answers faster than exact search
                axis.axhline(exact[0], color=plt.cm.tab10(0), lw=0.9, ls="--")
            axis.set(yscale="log", xlabel="recall@10", ylabel="queries per second (log)", xlim=(0, 1.02),
                     title=f"{title}, N = {report['curves']['n']:,} (SYNTHETIC)")
        axes[0].legend(fontsize=7, loc="lower left")
        figure.tight_layout()
        figure.savefig(folder / "recall_vs_throughput.png")
        plt.close(figure)
    if report.get("growth"):
        figure, axis = plt.subplots(figsize=(5.5, 4), dpi=90)
        for position, family in enumerate(FAMILIES):  # one line per family, whatever its best setting
            points = [(g["n"], r["single_ms"]) for g in report["growth"] for r in g["best"]
                      if r["method"].startswith(family)]
            if points:
                axis.plot(*zip(*points), "-o", color=plt.cm.tab10(position % 10), label=family)
        axis.set(xscale="log", yscale="log", xlabel="N (log)", ylabel="ms per query, 1 thread (log)",
                 title=f"cost at recall@10 >= {TARGET} (SYNTHETIC, d=768)")
        axis.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(folder / "cost_vs_n.png")
        plt.close(figure)


def write(report, folder):
    """results.json, with the curve rows also under "datasets" (the older layout notebook 05 reads)."""
    if report.get("curves"):
        report["datasets"] = {f"realistic N={report['curves']['n']:,} (SYNTHETIC)": [
            {**row, "latency_ms": row["single_ms"]} for row in report["curves"]["rows"]]}
    (folder / "results.json").write_text(json.dumps(report, indent=1, default=float))
    if report.get("crossover"):  # notebook 05 reads this one: it ships inside the package (Colab has no benchmarks/)
        shipped = {key: report.get(key) for key in ("date", "machine", "crossover")}
        measured_on = report.get("dates", {}).get("crossover", report.get("date"))
        if measured_on == report.get("date"):  # measured in this run: a kept section's file stays as it was
            CROSSOVER_ASSET.write_text(json.dumps(shipped, indent=1, default=float))


# -- the sections ------------------------------------------------------------------------------
class Run:
    """What every section shares: the command line, the report so far, the clock, one data set."""

    def __init__(self, args, report, started):
        self.args, self.report, self.started = args, report, started
        self.sections = set(args.sections)
        self.held = {}  # N -> (data, queries, truth), for the curves and the targets

    def log(self, message):
        print(f"[{time.time() - self.started:6.1f} s] {message}", flush=True)

    def save(self):
        """Write results.json now, so that a run cut short keeps the sections it finished."""
        self.report["seconds"] = time.time() - self.started
        write(self.report, self.args.out)

    def dataset(self, n, n_queries=None):
        """``(data, queries)``: N realistic embeddings and ``n_queries`` queries (default ``--queries``)."""
        with pinned_threads(1):  # the generator's many small QR factorisations stall on busy BLAS threads
            data, queries = realistic_embeddings(n, 768, n_queries=n_queries or self.args.queries, seed=n)
        return data, queries

    def data_at(self, n):
        """``(data, queries, truth)`` at N, held until another N is asked for, then freed first."""
        if n not in self.held:
            self.free_data()
            data, queries = self.dataset(n)
            self.held[n] = data, queries, exact_ids(data, queries)
        return self.held[n]

    def free_data(self):
        """Free the held data set before the next is generated (300 MB at N = 100,000 in float32)."""
        self.held.clear()
        gc.collect()


def exact_ids(data, queries):
    """The true top-k ids of every query (exact search): what recall is measured against."""
    return t.CosineIndex().add(data).search(queries, K)[1]


def best_per_family(rows):
    """The fastest row of each method family with recall@10 >= TARGET (families that miss it left out)."""
    return [best for best in (best_at_target(rows, family) for family in FAMILIES) if best]


def measure_curves(run):
    """Sections 1-2: the data's statistics, then every method swept for the recall-vs-throughput curves."""
    args, log = run.args, run.log
    data, queries, truth = run.data_at(args.curve_n)
    labels, query_labels = realistic_labels(args.curve_n, n_queries=args.queries, seed=args.curve_n)
    run.report["statistics"] = [embedding_statistics(data, queries, K, labels, query_labels)]
    log(f"data N={args.curve_n:,}: {run.report['statistics'][0]}")
    log("curves")
    exact = t.CosineIndex().add(data)
    methods = [exact_method(exact), lsh_method(data, log=log, keep=True), faiss_ivf_method(data),
               faiss_hnsw_method(data), hand_built_methods(data, log)]
    run.report["curves"] = {"n": args.curve_n, "rows": measure(methods, exact, queries, truth, args.single, log)}
    run.save()


def measure_targets(run):
    """Section 3: at each target N, LSH's best setting at recall@10 >= 0.9 against exact search, in rounds."""
    run.report["targets"] = []
    for n in sorted(run.args.target_n, key=lambda n: n != run.args.curve_n):  # the loaded N first
        result = target_at(run, n)
        if result:
            run.report["targets"].append(result)
            run.save()
    run.report["targets"].sort(key=lambda r: r["n"])


def target_at(run, n):
    """One target N: the LSH sweep (the curves' one if it was at this N), then its best setting timed."""
    args, log = run.args, run.log
    data, queries, truth = run.data_at(n)
    exact = t.CosineIndex().add(data)
    if n == args.curve_n and "curves" in run.sections:
        sweep = [row for row in run.report["curves"]["rows"] if row["method"].startswith("LSHIndex")]
    else:
        sweep = measure([lsh_method(data, TARGET_BUILDS, log=log, keep=True)], exact, queries, truth,
                        args.single, log, batch=False)
    best = best_at_target(sweep, "LSHIndex")
    if best is None:
        log(f"N={n:,}: no LSHIndex setting reached recall@10 >= {TARGET}")
        return None
    result = rounds_vs_exact(exact, data, queries, lsh_settings(best), args.single, args.rounds)
    BUILT.clear()
    result.update(n=n, recall=best["recall"])
    log(f"N={n:,}: {result['settings']} speed-up {result['speedup']:.1f}x [{result['speedup_min']:.1f}-"
        f"{result['speedup_max']:.1f}], overhead {result['overhead']['ratio']:.2f}, "
        f"batch {result['batch_ratio']:.1f}x")
    return result


def measure_crossover(run):
    """Section 4: the N from which LSHIndex at recall@10 >= 0.9 answers faster than exact search."""
    run.log("crossover")
    data_by_n = {n: run.dataset(n) for n in sorted(run.args.crossover_n)}
    run.report["crossover"] = crossover(data_by_n, run.args.single, run.args.rounds, run.log,
                                        extra=run.report.get("targets", ()))
    run.save()


def measure_easy(run):
    """Section 5, the counter-example: the old easy data (clustered_vectors), where every method looks perfect."""
    n_easy = min(run.args.curve_n, 50_000)
    easy = t.evaluation.clustered_vectors(n_easy + run.args.queries, 768, n_clusters=n_easy // 100, seed=1)
    data, queries = easy[:n_easy], easy[n_easy:]
    exact = t.CosineIndex().add(data)
    methods = [exact_method(exact), lsh_method(data, [(12, 20, False, ((1, 1),))], run.log),
               faiss_hnsw_method(data, efs=(16,))]
    rows = measure(methods, exact, queries, exact.search(queries, K)[1], run.args.single, run.log)
    run.report["easy"] = {"n": n_easy, "data": "evaluation.clustered_vectors, not realistic", "rows": rows}
    run.save()


def measure_growth(run):
    """Section 6: how the single-query cost of each method family at recall@10 >= 0.9 grows with N."""
    args, report = run.args, run.report
    done = {g["n"]: g for g in report.get("growth", []) if g["n"] not in args.growth}  # kept from results.json
    report["growth"] = sorted(done.values(), key=lambda g: g["n"])
    for n in args.growth:
        if n == args.curve_n and report.get("curves", {}).get("n") == n:  # measured already, for the curves
            best = best_per_family(report["curves"]["rows"])
            report["growth"].append({"n": n, "n_queries": args.queries, "rows": [], "best": best})
            continue
        report["growth"].append(growth_at(run, n))
        report["growth"].sort(key=lambda g: g["n"])
        gc.collect()  # free this N's data and indexes before the next, larger N
        run.save()


def growth_at(run, n):
    """One N of the cost growth: every family swept on fresh data (50 queries from N = 500,000 on)."""
    n_queries = run.args.queries if n < 500_000 else 50
    data, queries = run.dataset(n, n_queries)
    run.log(f"growth N={n:,} generated")
    exact = t.CosineIndex().add(data)
    truth = exact.search(queries, K)[1]
    builds = GROWTH_BUILDS["big" if n >= 500_000 else "small"]
    methods = [exact_method(exact), lsh_method(data, builds, run.log),
               faiss_ivf_method(data, nprobes=(4, 8, 16, 32)),
               faiss_hnsw_method(data, efs=(32, 64, 128, 256))]  # M=16, efConstruction=40 at every N
    sweep = measure(methods, exact, queries, truth, min(run.args.single, n_queries), run.log)
    return {"n": n, "n_queries": n_queries, "rows": sweep, "best": best_per_family(sweep)}


# -- main --------------------------------------------------------------------------------------
def parse_args():
    """The command line; ``--quick`` shrinks every size, to check in a minute that it all runs."""
    parser = argparse.ArgumentParser(description="imgsim-tutorial benchmarks (SYNTHETIC realistic embeddings)")
    parser.add_argument("--curve-n", type=int, default=100_000, help="N of the recall-vs-throughput curves")
    parser.add_argument("--target-n", type=int, nargs="+", default=[50_000, 100_000])
    parser.add_argument("--crossover-n", type=int, nargs="+", default=[2_000, 5_000, 10_000, 20_000])
    parser.add_argument("--growth", type=int, nargs="+", default=[10_000, 100_000],
                        help="N of the cost-growth step (make benchmark-full adds 1000000)")
    parser.add_argument("--queries", type=int, default=200, help="queries per data set (batch size)")
    parser.add_argument("--single", type=int, default=40, help="queries timed one by one")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds for the key ratios")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="run only these (the others are kept from results.json)")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check that it runs")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--plot-only", action="store_true", help="rewrite results.md and the plots from results.json")
    args = parser.parse_args()
    if args.quick:
        args.curve_n, args.target_n, args.crossover_n, args.growth = 5_000, [5_000], [1_000, 2_000], [2_000, 5_000]
        args.queries, args.single, args.rounds = 50, 10, 2
    return args


def start_report(args) -> dict:
    """The report's header; when only some sections run, the others are kept from results.json."""
    report = {"date": date.today().isoformat(), "n_queries": args.queries,
              "machine": f"{platform.machine()} CPU, {CORES} cores, Python {platform.python_version()}, "
                         f"load average {os.getloadavg()[0]:.1f} at start"}
    dates = {section: report["date"] for section in SECTIONS}
    if set(args.sections) != set(SECTIONS) and (args.out / "results.json").exists():
        kept = json.loads((args.out / "results.json").read_text())  # update only the sections run now
        earlier = kept.get("dates", {})  # a kept section keeps the date it was measured on
        dates = {section: report["date"] if section in args.sections else earlier.get(section, kept["date"])
                 for section in SECTIONS}
        report = {**kept, **{key: report[key] for key in ("date", "machine")}, "n_queries": args.queries}
    return {**report, "dates": dates}


def main():
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.plot_only:
        report = json.loads((args.out / "results.json").read_text())
        write(report, args.out)
        (args.out / "results.md").write_text(markdown(report))
        plot(report, args.out)
        return
    report = start_report(args)
    # a partial run's clock goes on from the seconds the kept sections took
    run = Run(args, report, started=time.time() - report.get("seconds", 0))
    if "curves" in run.sections:
        measure_curves(run)
    if "targets" in run.sections:
        measure_targets(run)
    run.free_data()
    if "crossover" in run.sections:
        measure_crossover(run)
    if "easy" in run.sections:
        measure_easy(run)
    if "growth" in run.sections:
        measure_growth(run)
    run.save()
    (args.out / "results.md").write_text(markdown(report))
    plot(report, args.out)
    print(markdown(report))
    run.log(f"wrote {args.out}/results.json, results.md, recall_vs_throughput.png, cost_vs_n.png")


if __name__ == "__main__":
    main()
