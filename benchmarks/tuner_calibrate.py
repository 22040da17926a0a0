"""What one ``LSHIndex`` query costs, term by term: the measurements behind ``tuning.COST_TERMS_US``.

Run:  python benchmarks/tuner_calibrate.py [--quick] [--rounds R] [--queries Q]

``--quick`` is N = 10,000 and a few settings (seconds); the default N = 100,000 takes about
five minutes. Writes ``benchmarks/results/tuner_calibration.json`` (``..._quick.json``).

Protocol, in one process, on one thread (BLAS pinned with ``threadpool_limits(1)``; pin the
process to one core as well, e.g. ``taskset -c 1``, on a shared machine):

- **data**: SYNTHETIC, ``mixture_embeddings(N, 768, n_queries=200, seed=11)`` from
  ``benchmarks/vs_faiss.py``; the first ``--queries`` held-out queries are timed;
- **settings**: a grid of built indexes (``center``, ``n_bits``, ``n_tables``), each searched at
  several ``(n_probes, min_collisions)``;
- **timing**: one ``search_with_stats(query[None], 10)`` per query and setting, in ``--rounds``
  rounds that take the settings of one built index in turn; per query, the minimum over rounds
  (the run least disturbed by other work on the machine);
- **work**: per query, the candidates re-ranked (``n_candidates``) and the bucket members read
  (all probed buckets of all tables, before ``min_collisions`` filters them);
- **fit**: least squares of the per-query times on ``1``, candidates, members read,
  ``n_tables * n_probes`` and ``n_tables * n_bits``, weighted by 1 / time (relative errors), a
  term that comes out negative is dropped and the rest refitted. Exact search (``CosineIndex``) is
  timed the same way, on the first N/10, N/3 and all N rows, and fitted as a fixed part plus a part
  per item.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from tuner_check import members_read  # noqa: E402

from imgsim_tutorial import CosineIndex, LSHIndex, ShortResultWarning  # noqa: E402
from imgsim_tutorial.data.synthetic import mixture_embeddings  # noqa: E402

K = 10
TERMS = ("query", "candidate", "touched", "lookup", "hash")
GRIDS = {  # builds (center, n_bits, n_tables) x query-time (n_probes, min_collisions)
    "full": {"builds": [(True, b, t) for b in (8, 10, 12, 14, 16, 18, 20) for t in (8, 16, 32)]
             + [(False, b, t) for b in (12, 14, 16, 18) for t in (8, 32)],
             "variants": [(1, 1), (3, 2), (5, 3), (9, 1), (17, 2)]},
    "quick": {"builds": [(True, 10, 8), (True, 12, 16), (False, 12, 8)], "variants": [(1, 1), (5, 2), (9, 3)]},
}


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 10,000 and a few settings (for a test)")
    parser.add_argument("--rounds", type=int, default=9, help="rounds per setting; the minimum is kept (9)")
    parser.add_argument("--queries", type=int, default=30, help="held-out queries timed per setting (30)")
    parser.add_argument("--out", type=Path, default=None, help="where to write the JSON results")
    args = parser.parse_args(argv)
    if args.rounds < 1 or not 1 <= args.queries <= 200:
        parser.error(f"need --rounds >= 1 and 1 <= --queries <= 200, got {args.rounds} and {args.queries}")
    args.n = 10_000 if args.quick else 100_000
    args.out = args.out or ROOT / "benchmarks" / "results" / (
        "tuner_calibration_quick.json" if args.quick else "tuner_calibration.json")
    return args


def least_seconds(search, queries, rounds: int) -> np.ndarray:
    """Per query, the least time of ``search(query[None])`` over ``rounds`` rounds."""
    best = np.full(len(queries), np.inf)
    for _ in range(rounds):
        for j, query in enumerate(queries):
            started = time.perf_counter()
            search(query[None])
            best[j] = min(best[j], time.perf_counter() - started)
    return best


def time_build(embeddings, queries, build, variants, rounds: int) -> list[dict]:
    """One built index at every (n_probes, min_collisions): per-query least time, candidates, members read."""
    center, n_bits, n_tables = build
    index = LSHIndex(n_bits=n_bits, n_tables=n_tables, center=center).add(embeddings)
    best = {variant: np.full(len(queries), np.inf) for variant in variants}
    for _ in range(rounds):  # the settings take turns, so each one's rounds spread over the whole block
        for variant in variants:
            index.n_probes, index.min_collisions = variant
            best[variant] = np.minimum(best[variant], least_seconds(lambda q: index.search_with_stats(q, K),
                                                                    queries, 1))
    rows = []
    for (n_probes, min_collisions), seconds in best.items():
        index.n_probes, index.min_collisions = n_probes, min_collisions
        candidates = index.search_with_stats(queries, K)[2]["n_candidates"]
        touched = [members_read(index, query[None]) for query in queries]
        rows += [{"center": center, "n_bits": n_bits, "n_tables": n_tables, "n_probes": n_probes,
                  "min_collisions": min_collisions, "seconds": float(s), "candidates": int(c), "touched": float(t)}
                 for s, c, t in zip(seconds, candidates, touched)]
    return rows


def time_exact(embeddings, queries, rounds: int) -> dict:
    """Exact search on the first N/10, N/3 and N rows: a fixed part plus a part per item (microseconds)."""
    sizes = [len(embeddings) // 10, len(embeddings) // 3, len(embeddings)]
    micro = []
    for size in sizes:
        exact = CosineIndex().add(embeddings[:size])
        micro.append(least_seconds(lambda q, index=exact: index.search(q, K), queries, rounds).mean() * 1e6)
    per_item, fixed = np.polyfit(sizes, micro, 1)
    return {"exact_query": round(max(float(fixed), 0.0), 2), "exact_item": round(float(per_item), 5),
            "exact_ms": dict(zip(sizes, np.round(np.array(micro) / 1e3, 3).tolist()))}


def fit(rows) -> dict:
    """Microseconds per unit of each term (all >= 0), and how well the sum predicts each query."""
    X = np.array([[1.0, r["candidates"], r["touched"], r["n_tables"] * r["n_probes"], r["n_tables"] * r["n_bits"]]
                  for r in rows])
    y = np.array([r["seconds"] for r in rows]) * 1e6
    kept = list(range(len(TERMS)))
    while True:
        coefficients, *_ = np.linalg.lstsq(X[:, kept] / y[:, None], np.ones_like(y), rcond=None)
        if (coefficients >= 0).all():
            break
        kept.pop(int(np.argmin(coefficients)))
    terms = np.zeros(len(TERMS))
    terms[kept] = coefficients
    ratio = y / (X @ terms)
    return {"terms_us": dict(zip(TERMS, terms.round(4).tolist())), "measured_over_predicted": {
        "median": float(np.median(ratio)), "p10": float(np.percentile(ratio, 10)),
        "p90": float(np.percentile(ratio, 90))}}


def per_setting(rows, terms: dict) -> list[dict]:
    """The per-query rows summarised per setting: mean work, mean measured and predicted microseconds."""
    settings = {}
    for row in rows:
        key = tuple(row[name] for name in ("center", "n_bits", "n_tables", "n_probes", "min_collisions"))
        settings.setdefault(key, []).append(row)
    summary = []
    for key, group in settings.items():
        work = {name: float(np.mean([r[name] for r in group])) for name in ("candidates", "touched")}
        predicted = (terms["query"] + terms["candidate"] * work["candidates"] + terms["touched"] * work["touched"]
                     + terms["lookup"] * key[2] * key[3] + terms["hash"] * key[2] * key[1])
        summary.append({**dict(zip(("center", "n_bits", "n_tables", "n_probes", "min_collisions"), key)), **work,
                        "measured_us": float(np.mean([r["seconds"] for r in group]) * 1e6), "predicted_us": predicted})
    return summary


def main(argv=None) -> dict:
    from threadpoolctl import threadpool_limits

    args = parse(argv)
    grid = GRIDS["quick" if args.quick else "full"]
    embeddings, queries = mixture_embeddings(args.n, 768, n_queries=200, seed=11)
    queries, rows = queries[:args.queries], []
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortResultWarning)
        exact = time_exact(embeddings, queries, args.rounds)
        for build in grid["builds"]:
            rows += time_build(embeddings, queries, build, grid["variants"], args.rounds)
            print(f"  center={build[0]!s:5} {build[1]:2}b x {build[2]:2}t timed", flush=True)
    result = {"n": args.n, "dim": 768, "rounds": args.rounds, "queries": args.queries,
              "data": "mixture_embeddings(n, 768, n_queries=200, seed=11) from benchmarks/vs_faiss.py (SYNTHETIC)",
              **fit(rows), "exact": exact}
    result["settings"] = per_setting(rows, result["terms_us"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print("terms (us):", result["terms_us"], "| measured / predicted:", result["measured_over_predicted"])
    print("exact search:", exact)
    return result


if __name__ == "__main__":
    main()
