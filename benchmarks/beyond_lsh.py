"""The course's one comparison: every index it builds or uses, on one SYNTHETIC realistic set, in one run.

Run:  python benchmarks/beyond_lsh.py [n]   (n: 50,000; about 12 minutes on a quiet 2-core machine)

Families: exact, lsh, ivf, pq, ivf_pq, graph, faiss_flat, faiss_ivf, faiss_hnsw, and hnsw_layers, all
measured in one run (a file that mixed rows of two runs once quoted two exact-search times, 29 and
41 ms, for the same setting). Notebooks 07, 08 and 09 show parts of it (``t.evaluation.stored_comparison``).

Every row is timed by the course's one protocol (``imgsim_tutorial.evaluation.compare_speeds``):
single queries, NumPy's BLAS and FAISS pinned to one thread, ``ROUNDS`` rounds of 30 queries that
interleave the method with exact search, and the speed-up taken round by round in the same call.
Each row stores its own exact time next to its own, with the range of the rounds. Writes
``imgsim_tutorial/assets/measured/beyond_lsh_<n>.json``, which notebook 08 reads.
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


def measure(method, setting, index, queries, true_ids, exact, build_s, **extra):
    """One row: recall@K and share scanned over all queries, then time against ``exact`` in the same rounds."""
    from imgsim_tutorial import ShortResultWarning, recall_at_k
    from imgsim_tutorial.evaluation import compare_speeds, index_bytes

    timed = queries[:N_TIMED]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortResultWarning)
        _, ids, stats = index.search_with_stats(queries, K)
        speeds = compare_speeds({"exact": lambda: [exact.search(query, K) for query in timed],
                                 "method": lambda: [index.search(query, K) for query in timed]},
                                threads=1, rounds=ROUNDS, per_call=len(timed))
    mine = speeds["method"]
    row = {"method": method, "setting": setting, "recall": recall_at_k(ids, true_ids),
           "scanned": float(stats["n_candidates"].mean() / len(index)), "latency_ms": mine["median_s"] * 1e3,
           "latency_min_ms": mine["min_s"] * 1e3, "latency_max_ms": mine["max_s"] * 1e3,
           "exact_ms": speeds["exact"]["median_s"] * 1e3, "speedup": mine["speedup"],
           "bytes_per_image": index_bytes(index) / len(index), "build_s": build_s, **extra}
    print(json.dumps({key: round(value, 4) if isinstance(value, float) else value for key, value in row.items()}),
          flush=True)
    return row


def built(make):
    started = time.perf_counter()
    index = make()
    return index, time.perf_counter() - started


def families(embeddings, queries, true_ids, exact, n_lists):
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
                          queries, true_ids, exact, build_s)

    def ivf():
        index, build_s = built(lambda: IVFIndex(n_lists=n_lists, n_probes=1).add(embeddings))
        for n_probes in [probes for probes in (1, 2, 4, 8, 16, 32) if probes <= n_lists]:
            index.n_probes = n_probes
            yield measure("IVFIndex", f"n_lists={n_lists} n_probes={n_probes}", index, queries, true_ids,
                          exact, build_s)

    def pq():
        index, build_s = built(lambda: PQIndex(n_subvectors=16, n_bits=8, n_rerank=0).add(embeddings))
        for n_rerank in (0, 100, 500):
            index.n_rerank = n_rerank
            if n_rerank and getattr(index, "_vectors_file", None) is None:
                index._write_vectors(embeddings)
            yield measure("PQIndex", f"n_subvectors=16 n_rerank={n_rerank}", index, queries, true_ids, exact,
                          build_s, disk_bytes_per_image=index.disk_bytes() / n)

    def ivf_pq():
        for n_rerank in (0, 200):
            index, build_s = built(
                lambda: FactoryIndex(factory=f"IVF{n_lists},PQ16", n_probes=min(16, n_lists),
                                     n_rerank=n_rerank).add(embeddings))
            for n_probes in [probes for probes in (4, 8, 16, 32) if probes <= n_lists]:
                index.n_probes = n_probes
                yield measure("FAISS IVF-PQ" + (f" + re-rank {n_rerank}" if n_rerank else ""),
                              f"IVF{n_lists},PQ16 n_probes={n_probes}", index, queries, true_ids, exact, build_s)

    def graph():
        index, build_s = built(lambda: GraphIndex(n_neighbors=16, ef_search=16).add(embeddings))
        for ef_search in (10, 16, 32, 64, 128):
            index.ef_search = ef_search
            yield measure("GraphIndex", f"n_neighbors=16 ef_search={ef_search}", index, queries, true_ids,
                          exact, build_s)

    return {"lsh": lsh, "ivf": ivf, "pq": pq, "ivf_pq": ivf_pq, "graph": graph,
            **faiss_families(embeddings, queries, true_ids, exact, n_lists)}


def faiss_families(embeddings, queries, true_ids, exact, n_lists):
    """FAISS's own exact, IVF and HNSW indexes, in the same run as the course's hand-built ones, searched
    through the course's wrappers (their per-call Python overhead included, as in ours)."""
    from imgsim_tutorial.faiss_factory import FactoryIndex
    from imgsim_tutorial.faiss_index import FlatIPIndex, HNSWIndex

    def faiss_flat():
        index, build_s = built(lambda: FlatIPIndex().add(embeddings))
        yield measure("FAISS Flat (IndexFlatIP)", "", index, queries, true_ids, exact, build_s)

    def faiss_ivf():
        index, build_s = built(lambda: FactoryIndex(factory=f"IVF{n_lists},Flat", n_probes=1).add(embeddings))
        for n_probes in [probes for probes in (1, 2, 4, 8, 16, 32) if probes <= n_lists]:
            index.n_probes = n_probes
            yield measure("FAISS IVF (IndexIVFFlat)", f"IVF{n_lists},Flat n_probes={n_probes}", index, queries,
                          true_ids, exact, build_s)

    def faiss_hnsw():
        index, build_s = built(lambda: HNSWIndex(M=16, ef_construction=40, ef_search=16).add(embeddings))
        for ef_search in (10, 16, 32, 64, 128):
            index.ef_search = ef_search
            yield measure("FAISS HNSW (IndexHNSWFlat)", f"M=16 ef_construction=40 ef_search={ef_search}", index,
                          queries, true_ids, exact, build_s)

    return {"faiss_flat": faiss_flat, "faiss_ivf": faiss_ivf, "faiss_hnsw": faiss_hnsw}


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


def main(n: int = 50_000) -> Path:
    """Measure every family in one run and write the stored file (rows as they come, so a long run keeps
    what it measured)."""
    from imgsim_tutorial import CosineIndex
    from imgsim_tutorial.data.synthetic import default_n_clusters, realistic_embeddings
    from imgsim_tutorial.evaluation import pinned_threads

    target = ROOT / "imgsim_tutorial" / "assets" / "measured" / f"beyond_lsh_{n}.json"
    embeddings, queries = realistic_embeddings(n, 768, n_queries=200, seed=0)
    n_lists = int(round(np.sqrt(n)))
    stored = {"n": n, "dim": 768, "n_queries": len(queries), "k": K, "threads": 1, "rounds": ROUNDS,
              "data": "SYNTHETIC realistic_embeddings(seed=0)", "timed_queries": N_TIMED,
              "protocol": "compare_speeds: one thread for BLAS and FAISS, rounds interleaved with exact search",
              "machine": platform.processor() or platform.machine(), "n_clusters": default_n_clusters(n),
              "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": [], "hnsw_layers": []}
    with pinned_threads(1):  # the builds too: one thread throughout, as the notebook says
        exact, build_s = built(lambda: CosineIndex().add(embeddings))
        _, true_ids = exact.search(queries, K)
        stored["rows"].append({**measure("exact (CosineIndex)", "", exact, queries, true_ids, exact, build_s),
                               "family": "exact"})
        for name, family in families(embeddings, queries, true_ids, exact, n_lists).items():
            for row in family():
                stored["rows"].append({**row, "family": name})
                write(target, stored)
        stored["hnsw_layers"] = list(hnsw_layers(embeddings, queries, true_ids))
    write(target, stored)
    print(f"wrote {target}")
    return target


def write(target: Path, stored: dict) -> None:
    """The file as measured so far; ``exact_ms`` is the median of the rows' own exact times."""
    stored["exact_ms"] = float(np.median([row["exact_ms"] for row in stored["rows"]]))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(stored, indent=1))


if __name__ == "__main__":
    numbers = [int(value) for value in sys.argv[1:] if value.isdigit()]
    main(numbers[0] if numbers else 50_000)
