"""Issue #23's acceptance check for ``choose_index``: the index it returns reaches recall@10 >= 0.9 on
held-out queries and answers single queries at least 5x faster than exact search, on one thread.

Run:  .venv/bin/python benchmarks/choose_check.py [--n 50000] [--rounds 7] [--n-timed 100]

Data: SYNTHETIC, ``mixture_embeddings(n, 768, n_queries=500, seed=11)`` (``imgsim_tutorial.data.synthetic``:
an anisotropic Gaussian mixture, independent of the course's own generator). The 500 queries never reach
``choose_index``, which holds out rows of the embeddings for itself.

Protocol, in one process:

1. ``choose_index(embeddings, recall_target=0.9)`` with its defaults, timed as one call (wall clock);
2. recall@10 of the returned index against exact search (``CosineIndex``) on the 500 held-out queries;
3. single queries on one thread: ``compare_speeds`` (threads pinned for BLAS and FAISS, rounds
   that interleave the returned index with exact search), ``--rounds`` rounds of ``--n-timed``
   queries; the speed-up is the median over rounds of exact / index in the same round.

Writes ``benchmarks/results/choose_check.json`` (``choose_check_<n>.json`` for another n): both
criteria, the numbers behind them, and ``choose_index``'s whole report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
K, RECALL_TARGET, SPEEDUP_TARGET, N_QUERIES, SEED = 10, 0.9, 5.0, 500, 11


def held_out_speed(index, exact, queries, rounds: int) -> dict:
    """The returned index and exact search in the same rounds, one query at a time, one thread."""
    from imgsim_tutorial import ShortResultWarning
    from imgsim_tutorial.evaluation import compare_speeds

    def one_at_a_time(searched):
        return lambda: [searched.search(query, K) for query in queries]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortResultWarning)
        speeds = compare_speeds({"exact": one_at_a_time(exact), "chosen": one_at_a_time(index)}, threads=1,
                                rounds=rounds, per_call=len(queries))
    chosen = speeds["chosen"]
    return {"exact_ms": speeds["exact"]["median_s"] * 1e3, "index_ms": chosen["median_s"] * 1e3,
            "speedup": chosen["speedup"], "speedup_min": chosen["speedup_min"], "speedup_max": chosen["speedup_max"],
            "rounds": rounds, "timed_queries": len(queries), "threads": 1}


def plain(value):
    """JSON-ready: NumPy numbers as Python ones, NaN as null."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    return value


def measure(n: int, rounds: int, n_timed: int) -> dict:
    """Make the data, choose, then measure the returned index on the held-out queries."""
    import faiss  # noqa: F401  (loaded before the timing, so that pinned_threads pins FAISS too)

    from imgsim_tutorial import CosineIndex, recall_at_k
    from imgsim_tutorial.choose import choose_index
    from imgsim_tutorial.data.synthetic import mixture_embeddings

    embeddings, queries = mixture_embeddings(n, 768, n_queries=N_QUERIES, seed=SEED)
    load_before, started, cpu_started = os.getloadavg()[0], time.perf_counter(), time.process_time()
    index, report = choose_index(embeddings, recall_target=RECALL_TARGET, verbose=True)
    choose_s, choose_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    print(report, flush=True)
    exact = CosineIndex().add(embeddings)
    recall = recall_at_k(index.search(queries, K)[1], exact.search(queries, K)[1])
    speed = held_out_speed(index, exact, queries[:n_timed], rounds)
    return {"n": n, "dim": 768, "k": K, "data": f"SYNTHETIC mixture_embeddings(n, 768, n_queries={N_QUERIES}, "
            f"seed={SEED})", "recall_target": RECALL_TARGET, "speedup_target": SPEEDUP_TARGET,
            "chosen": {"class": type(index).__name__, "method": report.chosen["method"],
                       "setting": report.chosen["setting"]},
            # CPU seconds of every thread of the call: on a shared machine the wall clock counts others' work too
            "choose_seconds": choose_s, "choose_cpu_seconds": choose_cpu_s,
            "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
            "held_out_queries": len(queries), "recall": recall, **speed,
            "recall_met": recall >= RECALL_TARGET, "speedup_met": speed["speedup"] >= SPEEDUP_TARGET,
            "report": {"summary": report.summary(), "table": report.table(), "rows": report.rows,
                       "seconds": report.seconds}}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="collection size (default 50,000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of interleaved single-query timing")
    parser.add_argument("--n-timed", type=int, default=100, help="held-out queries timed one at a time per round")
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args(argv)
    name = "choose_check.json" if args.n == 50_000 else f"choose_check_{args.n}.json"
    out = args.out or ROOT / "benchmarks" / "results" / name
    result = measure(args.n, args.rounds, args.n_timed)
    result.update(machine={"python": platform.python_version(), "numpy": np.__version__,
                           "processor": platform.processor() or platform.machine()},
                  measured_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    print(f"\nchosen {result['chosen']['method']} {result['chosen']['setting']} in {result['choose_seconds']:.1f} s "
          f"({result['choose_cpu_seconds']:.1f} s of CPU): "
          f"recall@{K} {result['recall']:.3f} on {result['held_out_queries']} held-out queries "
          f"({'met' if result['recall_met'] else 'NOT met'}, >= {RECALL_TARGET}); {result['index_ms']:.3f} ms "
          f"against {result['exact_ms']:.3f} ms per query, {result['speedup']:.1f}x exact search (range "
          f"{result['speedup_min']:.1f}-{result['speedup_max']:.1f}; {'met' if result['speedup_met'] else 'NOT met'}, "
          f">= {SPEEDUP_TARGET:g}x)")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(plain(result), indent=1))
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return result


if __name__ == "__main__":
    main()
