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
efSearch) share one build. Single queries run on ONE thread (threadpoolctl and
``faiss.omp_set_num_threads(1)``), one query at a time, median over queries; batches of 200
run on all cores. Speed-ups are ratios against exact search measured in the same run; key
points are measured in several interleaved rounds and the spread (min-max) is reported,
because the machine may be shared. ``benchmarks/before_after.py`` times an older copy of the
package against this one in the same way.

Writes benchmarks/results/results.json (after every section), results.md and two PNGs:
recall_vs_throughput.png (the curves) and cost_vs_n.png (cost growth with N).
"""

from __future__ import annotations

import argparse
import contextlib
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
from imgsim_tutorial.synthetic import embedding_statistics, realistic_embeddings, realistic_labels  # noqa: E402

K, TARGET = 10, 0.9
CORES = os.cpu_count() or 1
SECTIONS = ("curves", "targets", "crossover", "easy", "growth")
FAMILIES = ("CosineIndex", "LSHIndex", "FAISS IVF", "FAISS HNSW")
# LSH builds: (n_bits, n_tables, center, ((n_probes, min_collisions), ...)); each build is swept
# over its query-time settings. min_collisions=1 is the plain union of the probed buckets.
LSH_BUILDS = [
    (12, 20, True, ((0, 1), (4, 1), (16, 1), (8, 2))),
    (11, 40, True, ((4, 2), (8, 2), (8, 3))),
    (12, 40, True, ((0, 1), (4, 1), (4, 2), (8, 2), (12, 2), (16, 3))),
    (14, 80, True, ((4, 1), (2, 2), (4, 2), (8, 2), (8, 3), (16, 3))),
    (12, 20, False, ((0, 1),))]  # without centring, the shared mean direction fills a few huge buckets
TARGET_BUILDS = [  # at N = 50,000 (100,000 reuses the curves): a finer grid near recall@10 = 0.9
    (11, 40, True, ((4, 2), (8, 2), (12, 2), (8, 3))), (12, 40, True, ((8, 2), (12, 2), (16, 2), (16, 3)))]
GROWTH_BUILDS = {  # per N: the grids the growth sweep tries (100,000 reuses the curves)
    "small": [(11, 40, True, ((4, 1), (16, 1), (4, 2), (8, 2), (8, 3)))],
    "big": [(14, 20, True, ((4, 1), (16, 1), (16, 2), (32, 2), (48, 2)))]}


@contextlib.contextmanager
def threads(n):
    """Run BLAS, OpenMP and FAISS with ``n`` threads inside the block."""
    import faiss
    from threadpoolctl import threadpool_limits

    with threadpool_limits(n):
        faiss.omp_set_num_threads(n)
        try:
            yield
        finally:
            faiss.omp_set_num_threads(CORES)


def median_ms(search_one, queries) -> float:
    """Median milliseconds of ``search_one(query)``, one query at a time (after one warm-up)."""
    search_one(queries[0])
    times = []
    for query in queries:
        started = time.perf_counter()
        search_one(query)
        times.append(time.perf_counter() - started)
    return 1e3 * float(np.median(times))


def batch_qps(search_all, queries, repeats=3) -> float:
    """Queries per second of one batched call (median of ``repeats``; one call if it is slow)."""
    times = []
    for _ in range(repeats):
        if times and times[0] > 0.5:
            break
        started = time.perf_counter()
        search_all(queries)
        times.append(time.perf_counter() - started)
    return len(queries) / float(np.median(times))


def recall(found, truth) -> float:
    return t.recall_at_k(np.asarray(found), truth)


# -- the methods: each builds once and yields (label, params, search function) per setting ------
def exact_method(data):
    index = t.CosineIndex().add(data)
    yield "CosineIndex (exact)", {}, lambda q: index.search(q, K)[1], None


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
                    warnings.simplefilter("ignore")  # a short list shows up as lower recall
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
            yield "FAISS IVF", {"n_lists": n_lists, "nprobe": nprobe}, lambda q, index=index: index.search(np.atleast_2d(q), K)[1], None


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
            yield "IVFIndex (by hand)", {"n_lists": 128, "n_probes": n_probes}, lambda q, index=index: index.search(q, K)[1], index
    except Exception as error:  # announced, never silent: the curves just lack this method
        log(f"  IVFIndex left out: {type(error).__name__}: {error}")
    # PQIndex is left out: its re-rank width is fixed when it is built, and at N = 100k its
    # by-hand search (about 14 ms a query already at N = 5k) would dominate the run.


def measure(methods, data, queries, truth, n_single, log, batch=True):
    """One row per setting: recall, single-query ms (1 thread), batch q/s (all cores), scanned share."""
    rows = []
    for method in methods:
        started = time.perf_counter()
        for name, params, search, index in method:
            with threads(CORES):
                found = search(queries)
                qps = batch_qps(search, queries) if batch else float("nan")
            with threads(1):
                ms = median_ms(search, queries[:n_single])
            row = {"method": name, **params, "recall": recall(found, truth), "single_ms": ms,
                   "single_qps": 1e3 / ms, "batch_qps": qps}
            if isinstance(index, t.LSHIndex):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    row["scanned"] = float(index.search_with_stats(queries, K)[2]["n_candidates"].mean() / len(data))
            rows.append(row)
            log(f"  {name} {params}: recall {row['recall']:.3f}, {ms:.3f} ms/query, {qps:.0f} q/s batch")
        log(f"  ({time.perf_counter() - started:.0f} s)")
    return rows


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
    """``12b x 40t +8p >=2`` : bits, tables, extra probes, tables an item must be found in."""
    votes = settings.get("min_collisions", 1)
    return (f"{settings['n_bits']}b x {settings['n_tables']}t +{settings['n_probes']}p"
            + (f" >={votes}" if votes > 1 else "") + (" center" if settings.get("center") else ""))


def rounds_vs_exact(data, queries, settings, n_single, n_rounds):
    """Exact vs LSH single-query ms in interleaved rounds, the overhead ratio, batch throughput."""
    exact = t.CosineIndex().add(data)
    index = BUILT.get((len(data), settings["n_bits"], settings["n_tables"], settings["center"]))
    if index is None:
        index = t.LSHIndex(seed=0, n_bits=settings["n_bits"], n_tables=settings["n_tables"],
                           center=settings["center"]).add(data)
    index.n_probes, index.min_collisions = settings["n_probes"], settings["min_collisions"]
    result = {"exact_ms": [], "lsh_ms": []}
    with threads(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n_rounds):
            result["exact_ms"].append(median_ms(lambda q: exact.search(q, K), queries[:n_single]))
            result["lsh_ms"].append(median_ms(lambda q: index.search(q, K), queries[:n_single]))
        result["overhead"] = overhead_ratio(index, queries[:n_single])
        _, _, stats = index.search_with_stats(queries, K)
        result["scanned"] = float(stats["n_candidates"].mean() / len(data))
        result["split_ms"] = {part: 1e3 * float(stats[f"{part}_s"]) / len(queries) for part in ("hash", "lookup", "rerank")}
    with threads(CORES), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result["exact_batch_qps"] = [batch_qps(lambda q: exact.search(q, K), queries) for _ in range(n_rounds)]
        result["lsh_batch_qps"] = [batch_qps(lambda q: index.search(q, K), queries) for _ in range(n_rounds)]
    with threads(1), warnings.catch_warnings():  # on a busy machine extra BLAS threads can hurt: also one thread
        warnings.simplefilter("ignore")
        result["exact_batch_qps_1t"] = [batch_qps(lambda q: exact.search(q, K), queries, repeats=1) for _ in range(n_rounds)]
        result["lsh_batch_qps_1t"] = [batch_qps(lambda q: index.search(q, K), queries, repeats=1) for _ in range(n_rounds)]
    speedups = np.array(result["exact_ms"]) / np.array(result["lsh_ms"])
    result.update(settings=settings, speedup=float(np.median(speedups)), speedup_min=float(speedups.min()),
                  speedup_max=float(speedups.max()),
                  batch_ratio=float(np.median(np.array(result["lsh_batch_qps"]) / np.array(result["exact_batch_qps"]))),
                  batch_ratio_1t=float(np.median(np.array(result["lsh_batch_qps_1t"]) / np.array(result["exact_batch_qps_1t"]))))
    return result


def overhead_ratio(index, queries) -> dict:
    """A query's time against hashing it plus re-ranking its own candidates, each timed alone.

    Also times the bucket lookup alone (finding the buckets, merging or counting their members),
    so that ``residual_ms`` (the query minus its three parts) is what is left for Python overhead.
    """
    from imgsim_tutorial.lsh_lookup import union_of_buckets

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
        truth = t.CosineIndex().add(data).search(queries, K)[1]
        builds = [(b, n_tables, True, ((0, 1), (4, 1), (16, 1), (4, 2), (8, 2)))
                  for b, n_tables in [(8, 20), (10, 20), (10, 40), (12, 40)]]
        rows = measure([exact_method(data), lsh_method(data, builds, log=lambda m: None)],
                       data, queries, truth, n_single, lambda m: None, batch=False)
        best = best_at_target(rows, "LSHIndex")
        timed = rounds_vs_exact(data, queries, lsh_settings(best), n_single, n_rounds) if best else None
        exact_ms = float(np.median(timed["exact_ms"])) if best else rows[0]["single_ms"]
        points.append({"n": n, "exact_ms": exact_ms, "lsh_ms": float(np.median(timed["lsh_ms"])) if best else None,
                       "lsh": lsh_settings(best) if best else None, "recall": best["recall"] if best else None,
                       "speedup": timed["speedup"] if best else None,
                       "spread": [timed["speedup_min"], timed["speedup_max"]] if best else None})
        log(f"  N={n:,}: exact {exact_ms:.3f} ms, best LSH at recall>={TARGET} "
            f"{points[-1]['lsh_ms'] and round(points[-1]['lsh_ms'], 3)} ms ({points[-1]['lsh']})")
    for r in extra:
        points.append({"n": r["n"], "exact_ms": float(np.median(r["exact_ms"])), "lsh_ms": float(np.median(r["lsh_ms"])),
                       "lsh": r["settings"], "recall": r["recall"], "speedup": r["speedup"],
                       "spread": [r["speedup_min"], r["speedup_max"]]})
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
def markdown(report) -> str:
    lines = [f"Measured {report['date']} on {report['machine']}; k = {K}; SYNTHETIC realistic embeddings "
             f"unless marked; {report.get('seconds', 0):.0f} s in all.", ""]
    stats = report.get("statistics")
    if stats:
        lines += ["**The data** (realistic_embeddings, SYNTHETIC)", "", "| N | clusters | random-pair cos | top-1 cos | "
                  "top-10 cos | 10th-11th gap | top-10 in cluster | top-10 share of cluster |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for s in stats:
            lines.append(f"| {s['n']:,} | {s['n_clusters']} | {s['random_pair_cosine']:.3f} | {s['top1_cosine']:.3f} | "
                         f"{s['top10_cosine']:.3f} | {s['gap_k_k1']:.4f} | {s['top_k_in_cluster']:.0%} | "
                         f"{s['cluster_share_of_topk']:.1%} |")
        lines.append("")
    for title, key in [("Targets", "targets")]:
        if report.get(key):
            lines += [f"**{title}** (single queries on one thread; medians of interleaved rounds, min-max in brackets)", "",
                      "| N | LSH setting (recall@10) | scanned | exact ms | LSH ms | speed-up | hash + lookup + rerank ms | "
                      "query / (hash + rerank) | batch q/s LSH / exact |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
            for r in report[key]:
                split = " + ".join(f"{r['split_ms'][part]:.2f}" for part in ("hash", "lookup", "rerank")) \
                    if "split_ms" in r else "?"  # results written before the split was measured
                lines.append(f"| {r['n']:,} | {describe(r['settings'])} ({r['recall']:.3f}) | {r.get('scanned', float('nan')):.1%} | "
                             f"{np.median(r['exact_ms']):.2f} | {np.median(r['lsh_ms']):.3f} | "
                             f"{r['speedup']:.1f}x [{r['speedup_min']:.1f}-{r['speedup_max']:.1f}] | {split} | "
                             f"{r['overhead']['ratio']:.2f} ({r['overhead']['total_ms']:.2f} vs {r['overhead']['hash_ms']:.2f} + "
                             f"{r['overhead']['rerank_ms']:.2f} ms; lookup {r['overhead'].get('lookup_ms', float('nan')):.2f}, "
                             f"rest {r['overhead'].get('residual_ms', float('nan')):.2f}) | {np.median(r['lsh_batch_qps']):.0f} / "
                             f"{np.median(r['exact_batch_qps']):.0f} = {r['batch_ratio']:.1f}x (1 thread: "
                             f"{r['batch_ratio_1t']:.1f}x) |")
            lines.append("")
    if report.get("crossover"):
        c = report["crossover"]
        at = c["crossover_n"]
        where = f"{at:,.0f} (interpolated)" if isinstance(at, float) else (at or "not within the sizes measured")
        lines += [f"**Where LSHIndex starts to beat exact search** at recall@10 >= {TARGET}: N = {where}",
                  "", "| N | exact ms | best LSH ms | setting | recall@10 | speed-up [min-max] |", "|---:|---:|---:|---|---:|---:|"]
        for p in c["points"]:
            setting = describe(p["lsh"]) if p["lsh"] else "none"
            lines.append(f"| {p['n']:,} | {p['exact_ms']:.3f} | {p['lsh_ms'] or float('nan'):.3f} | {setting} | "
                         f"{p['recall'] or float('nan'):.3f} | {p['speedup'] or float('nan'):.1f}x"
                         + (f" [{p['spread'][0]:.1f}-{p['spread'][1]:.1f}]" if p.get("spread") else "") + " |")
        lines.append("")
    for title, key in [("Recall vs throughput", "curves"), ("Counter-example: the old easy data", "easy")]:
        block = report.get(key)
        if block:
            lines += [f"**{title}** (N = {block['n']:,}{', ' + block['data'] if 'data' in block else ''})", "",
                      "| method | settings | recall@10 | single ms (1 thread) | batch q/s (all cores) | scanned |",
                      "|---|---|---:|---:|---:|---:|"]
            for r in block["rows"]:
                settings = ", ".join(f"{k}={v}" for k, v in r.items() if k not in
                                     ("method", "recall", "single_ms", "single_qps", "batch_qps", "scanned"))
                scanned = f"{r['scanned']:.1%}" if "scanned" in r else ""
                lines.append(f"| {r['method']} | {settings} | {r['recall']:.3f} | {r['single_ms']:.3f} | "
                             f"{r['batch_qps']:.0f} | {scanned} |")
            lines.append("")
    if report.get("growth"):
        lines += ["**Cost growth with N** (the fastest setting of each method with recall@10 >= 0.9 in the sweep "
                  "at that N; single query, one thread)", "", "| N | queries | method | setting | recall@10 | single ms | "
                  "batch q/s |", "|---:|---:|---|---|---:|---:|---:|"]
        for g in report["growth"]:
            for r in g["best"]:
                settings = ", ".join(f"{k}={v}" for k, v in r.items() if k not in
                                     ("method", "recall", "single_ms", "single_qps", "batch_qps", "scanned"))
                lines.append(f"| {g['n']:,} | {g['n_queries']} | {r['method']} | {settings} | {r['recall']:.3f} | "
                             f"{r['single_ms']:.3f} | {r['batch_qps']:.0f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


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
            points = [(g["n"], r["single_ms"]) for g in report["growth"] for r in g["best"] if r["method"].startswith(family)]
            if points:
                axis.plot(*zip(*points), "-o", color=plt.cm.tab10(position % 10), label=family)
        axis.set(xscale="log", yscale="log", xlabel="N (log)", ylabel="ms per query, 1 thread (log)",
                 title=f"cost at recall@10 >= {TARGET} (SYNTHETIC, d=768)")
        axis.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(folder / "cost_vs_n.png")
        plt.close(figure)


def write(report, folder):
    """results.json, with the curve rows also under "datasets" (the older layout notebook 04 reads)."""
    if report.get("curves"):
        report["datasets"] = {f"realistic N={report['curves']['n']:,} (SYNTHETIC)": [
            {**row, "latency_ms": row["single_ms"]} for row in report["curves"]["rows"]]}
    (folder / "results.json").write_text(json.dumps(report, indent=1, default=float))


# -- main --------------------------------------------------------------------------------------
def main():
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
    args.out.mkdir(parents=True, exist_ok=True)
    if args.plot_only:
        report = json.loads((args.out / "results.json").read_text())
        write(report, args.out)
        (args.out / "results.md").write_text(markdown(report))
        plot(report, args.out)
        return
    if args.quick:
        args.curve_n, args.target_n, args.crossover_n, args.growth = 5_000, [5_000], [1_000, 2_000], [2_000, 5_000]
        args.queries, args.single, args.rounds = 50, 10, 2
    started = time.time()

    def log(message):
        print(f"[{time.time() - started:6.1f} s] {message}", flush=True)

    report = {"date": date.today().isoformat(), "n_queries": args.queries,
              "machine": f"{platform.machine()} CPU, {CORES} cores, Python {platform.python_version()}, "
                         f"load average {os.getloadavg()[0]:.1f} at start"}

    def save():
        report["seconds"] = time.time() - started
        write(report, args.out)

    def dataset(n, n_queries=args.queries):
        with threads(1):  # the generator's many small QR factorisations stall on busy BLAS threads
            data, queries = realistic_embeddings(n, 768, n_queries=n_queries, seed=n)
        return data, queries

    sections = set(args.sections)
    if sections != set(SECTIONS) and (args.out / "results.json").exists():
        kept = json.loads((args.out / "results.json").read_text())  # update only the sections run now
        report = {**kept, **{key: report[key] for key in ("date", "machine")}, "n_queries": args.queries}
        started -= kept.get("seconds", 0)

    # 1. the data, described; 2. recall-vs-throughput curves
    data, queries = dataset(args.curve_n)
    truth = t.CosineIndex().add(data).search(queries, K)[1]
    if "curves" in sections:
        labels, query_labels = realistic_labels(args.curve_n, n_queries=args.queries, seed=args.curve_n)
        report["statistics"] = [embedding_statistics(data, queries, K, labels, query_labels)]
        log(f"data N={args.curve_n:,}: {report['statistics'][0]}")
        log("curves")
        rows = measure([exact_method(data), lsh_method(data, log=log, keep=True), faiss_ivf_method(data), faiss_hnsw_method(data),
                        hand_built_methods(data, log)], data, queries, truth, args.single, log)
        report["curves"] = {"n": args.curve_n, "rows": rows}
        save()

    # 3. the targets at 50k and 100k, with interleaved rounds (and the older query path)
    if "targets" in sections:
        report["targets"] = []
        for n in sorted(args.target_n, key=lambda n: n != args.curve_n):  # the loaded N first
            if n != args.curve_n:
                del data, queries
                gc.collect()
                data, queries = dataset(n)
                truth = t.CosineIndex().add(data).search(queries, K)[1]
            if n == args.curve_n and "curves" in sections:
                sweep = [row for row in report["curves"]["rows"] if row["method"].startswith("LSHIndex")]
            else:
                sweep = measure([lsh_method(data, TARGET_BUILDS, log=log, keep=True)], data, queries, truth,
                                args.single, log, batch=False)
            best = best_at_target(sweep, "LSHIndex")
            if best is None:
                log(f"N={n:,}: no LSHIndex setting reached recall@10 >= {TARGET}")
                continue
            result = rounds_vs_exact(data, queries, lsh_settings(best), args.single, args.rounds)
            BUILT.clear()
            result.update(n=n, recall=best["recall"])
            report["targets"].append(result)
            log(f"N={n:,}: {result['settings']} speed-up {result['speedup']:.1f}x [{result['speedup_min']:.1f}-"
                f"{result['speedup_max']:.1f}], overhead {result['overhead']['ratio']:.2f}, batch {result['batch_ratio']:.1f}x")
            save()
        report["targets"].sort(key=lambda r: r["n"])
    del data, queries
    gc.collect()

    # 4. where LSH starts to win
    if "crossover" in sections:
        log("crossover")
        report["crossover"] = crossover({n: dataset(n) for n in sorted(args.crossover_n)}, args.single, args.rounds, log,
                                        extra=report.get("targets", ()))
        save()

    # 5. the counter-example: the old easy data
    if "easy" in sections:
        n_easy = min(args.curve_n, 50_000)
        easy = t.evaluation.clustered_vectors(n_easy + args.queries, 768, n_clusters=n_easy // 100, seed=1)
        easy_truth = t.CosineIndex().add(easy[:n_easy]).search(easy[n_easy:], K)[1]
        report["easy"] = {"n": n_easy, "data": "evaluation.clustered_vectors, not realistic",
                          "rows": measure([exact_method(easy[:n_easy]), lsh_method(easy[:n_easy], [(12, 20, False, ((0, 1),))], log),
                                           faiss_hnsw_method(easy[:n_easy], efs=(16,))], easy[:n_easy], easy[n_easy:],
                                          easy_truth, args.single, log)}
        del easy
        save()

    # 6. cost growth with N (fewer queries at 1M; IVF and HNSW with lighter builds there)
    if "growth" in sections:
        done = {g["n"]: g for g in report.get("growth", []) if g["n"] not in args.growth}
        report["growth"] = sorted(done.values(), key=lambda g: g["n"])
        for n in args.growth:
            n_queries = args.queries if n < 500_000 else 50
            if n == args.curve_n and report.get("curves", {}).get("n") == n:  # measured already, for the curves
                sweep = report["curves"]["rows"]
                best = [b for b in (best_at_target(sweep, p) for p in FAMILIES) if b]
                report["growth"].append({"n": n, "n_queries": args.queries, "rows": [], "best": best})
                continue
            data, queries = dataset(n, n_queries)
            log(f"growth N={n:,} generated")
            truth = t.CosineIndex().add(data).search(queries, K)[1]
            big = n >= 500_000
            builds = GROWTH_BUILDS["big" if big else "small"]
            methods = [exact_method(data), lsh_method(data, builds, log),
                       faiss_ivf_method(data, nprobes=(4, 8, 16, 32)),
                       faiss_hnsw_method(data, efs=(32, 64, 128, 256))]  # M=16, efConstruction=40 at every N
            sweep = measure(methods, data, queries, truth, min(args.single, n_queries), log)
            best = [b for b in (best_at_target(sweep, prefix) for prefix in FAMILIES) if b]
            report["growth"].append({"n": n, "n_queries": n_queries, "rows": sweep, "best": best})
            report["growth"].sort(key=lambda g: g["n"])
            del data, queries, truth, methods
            gc.collect()
            save()

    save()
    (args.out / "results.md").write_text(markdown(report))
    plot(report, args.out)
    print(markdown(report))
    log(f"wrote {args.out}/results.json, results.md, recall_vs_throughput.png, cost_vs_n.png")


if __name__ == "__main__":
    main()
