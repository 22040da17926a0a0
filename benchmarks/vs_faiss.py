"""Our IVFIndex and GraphIndex against FAISS's IndexIVFFlat and IndexHNSWFlat, side by side.

Run:  python benchmarks/vs_faiss.py [--quick] [--n N] [--rounds R] [--build-rounds B]

``--quick`` is N = 5,000 (a minute or two); the default N = 50,000 takes ten to twenty minutes.
Writes ``benchmarks/results/vs_faiss.json`` (``vs_faiss_quick.json`` with ``--quick``).

Protocol, the same for ours and FAISS's, in one process:

- **data**: two SYNTHETIC sets, d = 768, unit rows, never the course's own generator settings:
  ``realistic_embeddings`` with other cluster settings and seed, and :func:`mixture_embeddings`
  (``imgsim_tutorial.data.synthetic``: an anisotropic Gaussian mixture with heavy-tailed cluster
  sizes and a shared mean direction). Held-out queries come from the same distribution; exact search is the oracle;
- **one thread**: ``imgsim_tutorial.evaluation.pinned_threads(1)`` for NumPy's BLAS and FAISS's
  OpenMP together, around the whole run;
- **timing**: the course's one protocol, ``imgsim_tutorial.evaluation.compare_speeds`` (rounds in
  which the methods take turns, in an order that rotates from round to round);
- **builds**: ours and FAISS's take turns, ``--build-rounds`` times each, no warm-up (median reported).
  IVF: both ``n_lists = 2 sqrt(N)``; ours is ``IVFIndex`` with its defaults (k-means on a sample
  of at most 256 points per list, 20 steps), FAISS's ``train`` + ``add`` with its defaults (the
  same sample cap, 10 steps). Graph: ``GraphIndex(n_neighbors=16)`` against
  ``IndexHNSWFlat(M=16)`` with ``efConstruction = 40``; the graph is searched twice, from its
  one entry point (the default notebook 07 teaches) and with ``n_entry_points = N / 25``;
- **setting per recall target**: the smallest ``n_probes`` (IVF, target recall@10 >= 0.9) or
  ``ef_search`` / ``efSearch`` (graph, >= 0.95) whose recall on all held-out queries reaches it,
  found separately for each index;
- **single-query search**: after a warm-up, in each of ``--rounds`` rounds the timed queries go one
  at a time through exact search (``CosineIndex``), ours and FAISS's, through the public
  ``search(query[None], 10)`` of each. Reported: ms per query (the median over rounds of each
  round's mean), the median over rounds of the per-round ratio ours / FAISS (with its range),
  and each one's speed-up over exact search in the same rounds.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
K = 10
TARGETS = {"ivf": 0.9, "graph": 0.95}
LIMITS = {("ivf", "search"): 2.0, ("ivf", "build"): 3.0, ("graph", "search"): 3.0, ("graph", "build"): 5.0}
EF_SWEEP = [10, 12, 16, 20, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 256, 320, 384, 512, 768, 1024]


def datasets(n: int, n_queries: int) -> dict:
    from imgsim_tutorial.data.synthetic import mixture_embeddings, realistic_embeddings

    return {
        "realistic_embeddings(n_clusters=n/160, zipf=1.3, subspace_dim=32, seed=7)":
            lambda: realistic_embeddings(n, 768, n_queries=n_queries, n_clusters=max(4, n // 160), seed=7,
                                         zipf=1.3, subspace_dim=32),
        "mixture_embeddings(anisotropic, Pareto sizes, shared mean; seed=11)":
            lambda: mixture_embeddings(n, 768, n_queries=n_queries, seed=11),
    }


def recall(ids, true_ids) -> float:
    """Share of the true top-k found (a missing result, id -1, finds nothing)."""
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(ids.tolist(), true_ids.tolist())]))


def interleaved_builds(make_ours, make_faiss, rounds: int):
    """Build ours and FAISS's in turn (``compare_speeds``, no warm-up); returns both (last) indexes and
    every build time, in seconds."""
    from imgsim_tutorial.evaluation import compare_speeds

    built = {}

    def building(who, make):
        def build():
            built[who] = make()
        return build

    speeds = compare_speeds({"ours": building("ours", make_ours), "faiss": building("faiss", make_faiss)},
                            threads=1, rounds=rounds, warmup=0)
    return built["ours"], built["faiss"], {who: speeds[who]["round_s"] for who in ("ours", "faiss")}


def smallest_setting(settings, set_to, search_all, true_ids, target):
    """The first setting (in increasing order) whose recall reaches ``target``, with every point tried."""
    tried = []
    for setting in settings:
        set_to(setting)
        tried.append((setting, recall(search_all(), true_ids)))
        if tried[-1][1] >= target:
            return setting, tried
    return settings[-1], tried  # never reached: keep the largest, and the report says so


def interleaved_search(ours, faiss_index, exact, queries, rounds: int) -> dict:
    """Single queries through exact search, ours and FAISS's in the same rounds (``compare_speeds``, one
    thread): ms per query of each, ours / FAISS per round, and each one's speed-up over exact search."""
    from imgsim_tutorial.evaluation import compare_speeds

    def one_at_a_time(index):
        return lambda: [index.search(query[None], K) for query in queries]

    speeds = compare_speeds({"exact": one_at_a_time(exact), "ours": one_at_a_time(ours),
                             "faiss": one_at_a_time(faiss_index)}, threads=1, rounds=rounds, per_call=len(queries))
    ours_ms, faiss_ms = (np.array(speeds[who]["round_s"]) * 1e3 for who in ("ours", "faiss"))
    ratios = ours_ms / faiss_ms
    return {"ours_ms": speeds["ours"]["median_s"] * 1e3, "faiss_ms": speeds["faiss"]["median_s"] * 1e3,
            "ratio": float(np.median(ratios)), "ratio_min": float(ratios.min()), "ratio_max": float(ratios.max()),
            "ours_ms_rounds": ours_ms.tolist(), "faiss_ms_rounds": faiss_ms.tolist(),
            "exact_ms": speeds["exact"]["median_s"] * 1e3, "ours_speedup": speeds["ours"]["speedup"],
            "faiss_speedup": speeds["faiss"]["speedup"]}


def measure_ivf(embeddings, queries, exact, true_ids, timed, args) -> list[dict]:
    import faiss

    from imgsim_tutorial.ivf import IVFIndex

    n, dim = embeddings.shape
    n_lists = args.n_lists or int(round(2 * np.sqrt(n)))

    def make_faiss():
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, n_lists, faiss.METRIC_INNER_PRODUCT)
        index.train(embeddings)
        index.add(embeddings)
        return index

    ours, theirs, builds = interleaved_builds(lambda: IVFIndex(n_lists=n_lists, n_probes=1, seed=0).add(embeddings),
                                              make_faiss, args.build_rounds)
    sweep = list(range(1, n_lists + 1))
    ours_probes, ours_tried = smallest_setting(sweep, lambda p: setattr(ours, "n_probes", p),
                                               lambda: ours.search(queries, K)[1], true_ids, TARGETS["ivf"])
    faiss_probes, faiss_tried = smallest_setting(sweep, lambda p: setattr(theirs, "nprobe", p),
                                                 lambda: theirs.search(queries, K)[1], true_ids, TARGETS["ivf"])
    row = {"family": "ivf", "ours": "IVFIndex", "faiss": "IndexIVFFlat", "n_lists": n_lists,
           "ours_setting": f"n_probes={ours_probes}", "faiss_setting": f"nprobe={faiss_probes}",
           "ours_recall": dict(ours_tried)[ours_probes], "faiss_recall": dict(faiss_tried)[faiss_probes],
           "ours_sweep": ours_tried, "faiss_sweep": faiss_tried, **build_summary(builds),
           **interleaved_search(ours, theirs, exact, timed, args.rounds)}
    return [row]


def measure_graph(embeddings, queries, exact, true_ids, timed, args) -> list[dict]:
    import faiss

    from imgsim_tutorial.graph import GraphIndex

    n, dim = embeddings.shape

    def make_faiss():
        index = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 40
        index.add(embeddings)
        return index

    ours, theirs, builds = interleaved_builds(lambda: GraphIndex(n_neighbors=16).add(embeddings), make_faiss,
                                              args.build_rounds)
    faiss_ef, faiss_tried = smallest_setting(EF_SWEEP, lambda ef: setattr(theirs.hnsw, "efSearch", ef),
                                             lambda: theirs.search(queries, K)[1], true_ids, TARGETS["graph"])
    theirs.hnsw.efSearch = faiss_ef
    rows = []
    entry_points = {"1 entry point (default)": 1, f"n_entry_points={max(1, n // 25)}": max(1, n // 25)}
    for label, n_entry_points in entry_points.items():
        variant = ours
        if n_entry_points != ours.n_entry_points:
            variant = copy.deepcopy(ours)
            variant.n_entry_points = n_entry_points
            variant.relink()  # same candidate lists; picks the entry points
        ours_ef, ours_tried = smallest_setting(EF_SWEEP, lambda ef: setattr(variant, "ef_search", ef),
                                               lambda: variant.search(queries, K)[1], true_ids, TARGETS["graph"])
        variant.ef_search = ours_ef
        rows.append({"family": "graph", "ours": f"GraphIndex, {label}", "faiss": "IndexHNSWFlat M=16 efC=40",
                     "ours_setting": f"ef_search={ours_ef}", "faiss_setting": f"efSearch={faiss_ef}",
                     "ours_recall": dict(ours_tried)[ours_ef], "faiss_recall": dict(faiss_tried)[faiss_ef],
                     "ours_sweep": ours_tried, "faiss_sweep": faiss_tried, **build_summary(builds),
                     **interleaved_search(variant, theirs, exact, timed, args.rounds)})
    return rows


def build_summary(builds) -> dict:
    ours, theirs = float(np.median(builds["ours"])), float(np.median(builds["faiss"]))
    return {"ours_build_s": ours, "faiss_build_s": theirs, "build_ratio": ours / theirs,
            "ours_build_rounds": builds["ours"], "faiss_build_rounds": builds["faiss"]}


def verdicts(row) -> dict:
    family = row["family"]
    return {"recall_met": row["ours_recall"] >= TARGETS[family] and row["faiss_recall"] >= TARGETS[family],
            "search_met": row["ratio"] <= LIMITS[family, "search"],
            "build_met": row["build_ratio"] <= LIMITS[family, "build"]}


def markdown(rows) -> str:
    lines = ["| data | ours (setting) | FAISS (setting) | recall@10 ours / FAISS | ms per query ours / FAISS | "
             "search ratio (range) | build s ours / FAISS | build ratio | targets |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        family = row["family"]
        met = "search {} (<= {:g}x), build {} (<= {:g}x)".format(
            "met" if row["search_met"] else "NOT met", LIMITS[family, "search"],
            "met" if row["build_met"] else "NOT met", LIMITS[family, "build"])
        lines.append(f"| {row['data_short']} | {row['ours']} ({row['ours_setting']}) | {row['faiss']} "
                     f"({row['faiss_setting']}) | {row['ours_recall']:.3f} / {row['faiss_recall']:.3f} | "
                     f"{row['ours_ms']:.3f} / {row['faiss_ms']:.3f} | {row['ratio']:.2f}x "
                     f"({row['ratio_min']:.2f}-{row['ratio_max']:.2f}) | {row['ours_build_s']:.1f} / "
                     f"{row['faiss_build_s']:.1f} | {row['build_ratio']:.2f}x | {met} |")
    return "\n".join(lines)


def measure_all(n: int, args):
    """Every data set, every family; returns the rows, each data set's statistics and the timed queries."""
    from imgsim_tutorial import CosineIndex
    from imgsim_tutorial.data.synthetic import embedding_statistics

    rows, data_stats = [], {}
    for name, make in datasets(n, args.n_queries).items():
        started = time.perf_counter()
        embeddings, queries = make()
        short = name.split("(")[0]
        stats = embedding_statistics(embeddings, queries)
        data_stats[name] = {key: round(value, 4) if isinstance(value, float) else value for key, value in stats.items()}
        print(f"{name}: {embeddings.shape}, made in {time.perf_counter() - started:.0f} s; {data_stats[name]}",
              flush=True)
        exact = CosineIndex().add(embeddings)
        true_ids = exact.search(queries, K)[1]
        timed = queries[:args.n_timed]
        for family in args.only.split(","):
            measure = {"ivf": measure_ivf, "graph": measure_graph}[family.strip()]
            for row in measure(embeddings, queries, exact, true_ids, timed, args):
                row.update(data=name, data_short=short, n=n, **verdicts(row))
                rows.append(row)
                print(markdown([row]).splitlines()[-1], flush=True)
    return rows, data_stats, timed


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 5,000 instead of 50,000")
    parser.add_argument("--n", type=int, default=None, help="collection size (default 50,000; 5,000 with --quick)")
    parser.add_argument("--n-queries", type=int, default=1000, help="held-out queries for recall (default 1,000)")
    parser.add_argument("--n-timed", type=int, default=200, help="queries timed one at a time per round (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of interleaved single-query timing")
    parser.add_argument("--build-rounds", type=int, default=3, help="builds of each index, alternating")
    parser.add_argument("--n-lists", type=int, default=None, help="IVF lists for both (default 2 sqrt(N))")
    parser.add_argument("--only", default="ivf,graph", help="families to measure: ivf, graph or both")
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args(argv)
    n = args.n or (5_000 if args.quick else 50_000)
    out = args.out or ROOT / "benchmarks" / "results" / ("vs_faiss_quick.json" if args.quick else "vs_faiss.json")

    import faiss  # imported before pinned_threads, which pins FAISS only once it is loaded
    from threadpoolctl import threadpool_info

    from imgsim_tutorial import ShortResultWarning
    from imgsim_tutorial.evaluation import pinned_threads

    # one thread for NumPy's BLAS and FAISS, as they were afterwards (a caller, a test, may share this process)
    with pinned_threads(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortResultWarning)  # a sweep's small settings may miss results
        rows, data_stats, timed = measure_all(n, args)
        blas = [{key: info.get(key) for key in ("internal_api", "num_threads")} for info in threadpool_info()]
    table = markdown(rows)
    print(f"\nSYNTHETIC, N = {n:,}, d = 768, k = {K}, one thread, single queries; {args.rounds} rounds of "
          f"{len(timed)} interleaved queries; {args.build_rounds} interleaved builds each\n")
    print(table)
    result = {"n": n, "dim": 768, "k": K, "targets": TARGETS, "limits": {f"{a} {b}": v for (a, b), v in LIMITS.items()},
              "protocol": {"rounds": args.rounds, "n_timed": len(timed), "n_queries": args.n_queries,
                           "build_rounds": args.build_rounds, "threads": 1, "blas_inside_limit": blas},
              "machine": {"python": platform.python_version(), "numpy": np.__version__, "faiss": faiss.__version__,
                          "processor": platform.processor() or platform.machine()},
              "data": data_stats, "rows": rows, "table": table}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return result


if __name__ == "__main__":
    main()
