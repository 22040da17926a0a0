"""Notebook 05's stored measurements: every index of the course on one SYNTHETIC realistic set.

Run:  OMP_NUM_THREADS=1 python benchmarks/beyond_lsh.py [n] [--only ivf,graph,...]   (n: 50,000)

Families: lsh, ivf, pq, ivf_pq, graph, hnsw_layers (default: all, ~15 min on a quiet machine).
With ``--only`` the named families are measured again and merged into the stored file.

Single queries on one thread; every ratio is against exact search measured in the same run;
each latency is the median over ``ROUNDS`` rounds of 30 single queries, with the spread (min and
max of the rounds) stored next to it, because the machine may be shared. Writes
``imgsim_tutorial/assets/measured/beyond_lsh_<n>.json``, which notebook 05 reads.
"""

from __future__ import annotations

import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ROUNDS, N_TIMED, K = 5, 30, 10


def latency_ms(index, queries):
    from imgsim_tutorial.evaluation import time_per_query

    rounds = [time_per_query(lambda query: index.search(query, K), queries[:N_TIMED], repeats=1) * 1e3
              for _ in range(ROUNDS)]
    return float(np.median(rounds)), float(np.min(rounds)), float(np.max(rounds))


def measure(method, setting, index, queries, true_ids, exact_ms, build_s, **extra):
    from imgsim_tutorial import ShortResultWarning, recall_at_k
    from imgsim_tutorial.evaluation import index_bytes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortResultWarning)
        _, ids, stats = index.search_with_stats(queries, K)
        median, low, high = latency_ms(index, queries)
    row = {"method": method, "setting": setting, "recall": recall_at_k(ids, true_ids),
           "scanned": float(stats["n_candidates"].mean() / len(index)), "latency_ms": median,
           "latency_min_ms": low, "latency_max_ms": high, "speedup": exact_ms / median,
           "bytes_per_image": index_bytes(index) / len(index), "build_s": build_s, **extra}
    print(json.dumps({key: round(value, 4) if isinstance(value, float) else value for key, value in row.items()}),
          flush=True)
    return row


def built(make):
    started = time.perf_counter()
    index = make()
    return index, time.perf_counter() - started


def families(embeddings, queries, true_ids, exact_ms, n_lists):
    """Each family of settings: one build, then a sweep of its query-time setting."""
    from imgsim_tutorial import LSHIndex
    from imgsim_tutorial.faiss_factory import FactoryIndex
    from imgsim_tutorial.graph import GraphIndex
    from imgsim_tutorial.ivf import IVFIndex
    from imgsim_tutorial.pq import PQIndex

    n = len(embeddings)

    def lsh():
        for n_bits, n_tables, n_probes in [(8, 8, 1), (8, 16, 1), (10, 16, 5), (8, 16, 9)]:
            index, build_s = built(
                lambda: LSHIndex(n_bits=n_bits, n_tables=n_tables, n_probes=n_probes).add(embeddings))
            yield measure("LSHIndex", f"n_bits={n_bits} n_tables={n_tables} n_probes={n_probes}", index,
                          queries, true_ids, exact_ms, build_s)

    def ivf():
        index, build_s = built(lambda: IVFIndex(n_lists=n_lists, n_probes=1).add(embeddings))
        for n_probes in [probes for probes in (1, 2, 4, 8, 16, 32) if probes <= n_lists]:
            index.n_probes = n_probes
            yield measure("IVFIndex", f"n_lists={n_lists} n_probes={n_probes}", index, queries, true_ids,
                          exact_ms, build_s)

    def pq():
        index, build_s = built(lambda: PQIndex(n_subvectors=16, n_bits=8, n_rerank=0).add(embeddings))
        for n_rerank in (0, 100, 500):
            index.n_rerank = n_rerank
            if n_rerank and getattr(index, "_vectors_file", None) is None:
                index._write_vectors(embeddings)
            yield measure("PQIndex", f"n_subvectors=16 n_rerank={n_rerank}", index, queries, true_ids, exact_ms,
                          build_s, disk_bytes_per_image=index.disk_bytes() / n)

    def ivf_pq():
        for n_rerank in (0, 200):
            index, build_s = built(
                lambda: FactoryIndex(factory=f"IVF{n_lists},PQ16", n_probes=min(16, n_lists),
                                     n_rerank=n_rerank).add(embeddings))
            for n_probes in [probes for probes in (4, 8, 16, 32) if probes <= n_lists]:
                index.n_probes = n_probes
                yield measure("FAISS IVF-PQ" + (f" + re-rank {n_rerank}" if n_rerank else ""),
                              f"IVF{n_lists},PQ16 n_probes={n_probes}", index, queries, true_ids, exact_ms, build_s)

    def graph():
        index, build_s = built(lambda: GraphIndex(n_neighbors=16, ef_search=16).add(embeddings))
        for ef_search in (10, 16, 32, 64, 128):
            index.ef_search = ef_search
            yield measure("GraphIndex", f"n_neighbors=16 ef_search={ef_search}", index, queries, true_ids,
                          exact_ms, build_s)

    return {"lsh": lsh, "ivf": ivf, "pq": pq, "ivf_pq": ivf_pq, "graph": graph}


def hnsw_layers(embeddings, queries, true_ids):
    from imgsim_tutorial import recall_at_k
    from imgsim_tutorial.faiss_factory import hnsw_index, hnsw_search

    for layered in (True, False):
        graph, build_s = built(lambda: hnsw_index(embeddings, M=16, ef_construction=40, layers=layered))
        for ef_search in (10, 16, 32, 64, 128):
            _, found, distances = hnsw_search(graph, queries, K, ef_search)
            row = {"layers": layered, "ef_search": ef_search, "recall": recall_at_k(found, true_ids),
                   "distances_per_query": float(distances), "max_level": int(graph.hnsw.max_level), "build_s": build_s}
            print(json.dumps(row), flush=True)
            yield row


def family_of(row) -> str:
    """A stored row's family (rows written before families were recorded: from the method name)."""
    prefixes = {"exact": "exact", "LSHIndex": "lsh", "IVFIndex": "ivf", "PQIndex": "pq", "FAISS IVF-PQ": "ivf_pq",
                "GraphIndex": "graph"}
    return row.get("family") or next(family for prefix, family in prefixes.items() if row["method"].startswith(prefix))


def main(n: int = 50_000, only=None):
    """Measure every family (or only those named) and merge them into the stored file: rows of a
    family measured again replace the old ones; each row keeps the exact time of its own run."""
    import faiss
    from threadpoolctl import threadpool_limits

    from imgsim_tutorial import CosineIndex
    from imgsim_tutorial.data.synthetic import default_n_clusters, realistic_embeddings

    faiss.omp_set_num_threads(1)
    target = ROOT / "imgsim_tutorial" / "assets" / "measured" / f"beyond_lsh_{n}.json"
    stored = json.loads(target.read_text()) if target.exists() and only else {"rows": [], "hnsw_layers": []}
    embeddings, queries = realistic_embeddings(n, 768, n_queries=200, seed=0)
    n_lists = int(round(np.sqrt(n)))
    with threadpool_limits(1):
        exact, build_s = built(lambda: CosineIndex().add(embeddings))
        _, true_ids = exact.search(queries, K)
        exact_ms = latency_ms(exact, queries)[0]
        run = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        exact_row = measure("exact (CosineIndex)", "", exact, queries, true_ids, exact_ms, build_s)
        chosen = only or [*families(embeddings, queries, true_ids, exact_ms, n_lists), "hnsw_layers"]
        stored["rows"] = [row for row in stored["rows"] if family_of(row) not in {"exact", *chosen}]
        stored["rows"].insert(0, {**exact_row, "family": "exact", "exact_ms": exact_ms, "run": run})
        for name in chosen:
            if name == "hnsw_layers":
                stored["hnsw_layers"] = list(hnsw_layers(embeddings, queries, true_ids))
            else:
                for row in families(embeddings, queries, true_ids, exact_ms, n_lists)[name]():
                    stored["rows"].append({**row, "family": name, "exact_ms": exact_ms, "run": run})
            stored.update({"n": n, "dim": 768, "n_queries": len(queries), "k": K, "threads": 1, "rounds": ROUNDS,
                           "data": "SYNTHETIC realistic_embeddings(seed=0)", "timed_queries": N_TIMED,
                           "machine": platform.processor() or platform.machine(), "n_clusters": default_n_clusters(n),
                           "exact_ms": exact_ms, "measured_at": run})
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(stored, indent=1))  # after every family: a long run keeps what it measured
    print(f"wrote {target}")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    only = arguments[arguments.index("--only") + 1].split(",") if "--only" in arguments else None
    numbers = [int(value) for value in arguments if value.isdigit()]
    main(numbers[0] if numbers else 50_000, only)
