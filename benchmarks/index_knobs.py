"""HNSW's build-time knobs and fast-scan PQ, measured on the course's data: what the notebooks on
graphs and on product quantisation read.

Run:  python benchmarks/index_knobs.py [--n 50000] [--quick]

Writes ``imgsim_tutorial/assets/measured/index_knobs.json`` (about 10 minutes at N = 50,000 on a
shared 2-core machine). ``--quick`` measures a smaller grid at N = 5,000 (seconds) and writes
``benchmarks/results/index_knobs_quick.json`` instead.

Two questions the course's one comparison (``beyond_lsh.py``) leaves open:

1. **Why does FAISS HNSW's recall stop near 0.98 however large efSearch grows?** efSearch is a
   query-time knob; the ceiling is set at build time, by ``M`` (links per vector, ``2 M`` on the
   bottom layer) and ``efConstruction`` (how hard each insertion looks for its neighbours). Each
   (M, efConstruction) is built once and searched at every efSearch; its recall at the largest
   efSearch is its ceiling. Each row also counts the vectors no other vector links to on the
   bottom layer, and how many queries miss their true nearest neighbour at the largest efSearch.
2. **Where is PQ fast?** Plain ``IndexPQ`` (8-bit codes) scans a lookup table in memory and is
   about as slow as exact search on one query. ``IndexPQFastScan`` (4-bit codes, 16-entry tables
   that fit in SIMD registers) is the version that is fast. Both with and without an exact
   re-rank of their top ``RERANK`` (``IndexRefineFlat``), and OPQ (a learned rotation first).

Protocol, as ``beyond_lsh.py``: the same SYNTHETIC data (``realistic_embeddings(n, 768,
n_queries=200, seed=0)``, the course's default settings), held-out queries, exact search
(``CosineIndex``, checked against FAISS ``IndexFlatIP``) as the oracle for recall@10; one thread for
BLAS and FAISS together (``pinned_threads(1)``) for builds, training and searches; speeds by the
course's one protocol, ``compare_speeds``: single queries (``index.search(query[None], 10)``, the
first ``N_TIMED`` queries) in rounds interleaved with exact search, speed-ups taken round by round.
Batch throughput: one call with ``BATCH`` queries (the 200 held-out queries repeated), timed the
same way. Every metric is inner product on unit vectors (FAISS supports it for PQ and fast-scan).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
K, TARGET, RERANK = 10, 0.95, 100
OPQ_PASSES, OPQ_TRAIN = 10, 10_000  # OPQ's rotation: passes and training vectors (a sample)
FULL = {"n": 50_000, "rounds": 5, "timed_queries": 30, "batch": 1000, "batch_rounds": 3, "n_train": 50_000,
        "M": (8, 16, 32, 48), "ef_construction": (16, 40, 100, 200), "ef_search": (16, 32, 64, 128, 256, 512, 1024),
        "pq_m": (32, 64, 96), "opq_m": 64}
QUICK = {**FULL, "n": 5_000, "rounds": 3, "timed_queries": 20, "batch": 200, "batch_rounds": 2, "n_train": 5_000,
         "M": (8, 16, 32), "ef_construction": (16, 100), "ef_search": (16, 64, 256, 1024), "pq_m": (32,),
         "opq_m": None}


def timed(make):
    """``(make(), wall-clock seconds, CPU seconds)`` of one call.

    On one thread the two agree on a quiet machine; on a shared one the wall clock also counts the
    time other programs held the core, so builds are compared by CPU seconds.

    >>> timed(lambda: 2 + 2)[0]
    4
    """
    started, started_cpu = time.perf_counter(), time.process_time()
    made = make()
    return made, time.perf_counter() - started, time.process_time() - started_cpu


def rounded(row: dict) -> str:
    """A row as one line of JSON, floats to 4 places: the progress a long run prints.

    >>> rounded({"M": 16, "recall": 0.98765})
    '{"M": 16, "recall": 0.9877}'
    """
    return json.dumps({key: round(value, 4) if isinstance(value, float) else value for key, value in row.items()})


def recall(found, true_ids) -> float:
    from imgsim_tutorial import recall_at_k

    return recall_at_k(found, true_ids)


def serialised_bytes(index) -> int:
    """Bytes of ``faiss.serialize_index(index)``: vectors or codes, links, codebooks: what it holds."""
    import faiss

    return int(faiss.serialize_index(index).size)


def single_and_batch(exact, indexes: dict, queries, settings: dict, batch: bool) -> dict:
    """Each index's speed next to exact search's, by ``compare_speeds`` (one thread, rounds interleaved).

    Returns ``{name: {"single_ms", "exact_ms", "speedup", "speedup_min", "speedup_max"}}`` and, when
    ``batch``, ``"batch_qps"``, ``"batch_speedup"`` and ``"exact_batch_qps"`` as well.
    """
    from imgsim_tutorial.evaluation import compare_speeds

    timed_queries = queries[:settings["timed_queries"]]
    searchers = {"exact": exact, **indexes}
    single = compare_speeds({name: (lambda index=index: [index.search(query[None], K) for query in timed_queries])
                             for name, index in searchers.items()},
                            threads=1, rounds=settings["rounds"], per_call=len(timed_queries))
    rows = {name: {"single_ms": single[name]["median_s"] * 1e3, "exact_ms": single["exact"]["median_s"] * 1e3,
                   "speedup": single[name]["speedup"], "speedup_min": single[name]["speedup_min"],
                   "speedup_max": single[name]["speedup_max"]} for name in indexes}
    if batch:
        many = np.tile(queries, (-(-settings["batch"] // len(queries)), 1))[:settings["batch"]]
        batched = compare_speeds({name: (lambda index=index: index.search(many, K))
                                  for name, index in searchers.items()}, threads=1, rounds=settings["batch_rounds"])
        for name in indexes:
            rows[name].update(batch_qps=len(many) / batched[name]["median_s"], batch_speedup=batched[name]["speedup"],
                              exact_batch_qps=len(many) / batched["exact"]["median_s"])
    return rows


def bottom_layer_in_degree(hnsw_index) -> np.ndarray:
    """How many vectors link to each vector on HNSW's bottom layer (level 0): (n,) ints.

    A vector with in-degree 0 is found only if the descent through the upper layers ends on it:
    no bottom-layer path leads there.
    """
    import faiss

    graph = hnsw_index.hnsw
    neighbours = faiss.vector_to_array(graph.neighbors)
    offsets = faiss.vector_to_array(graph.offsets)[:hnsw_index.ntotal].astype(np.int64)
    bottom = neighbours[offsets[:, None] + np.arange(graph.nb_neighbors(0))]  # level 0 comes first in each slot
    return np.bincount(bottom[bottom >= 0], minlength=hnsw_index.ntotal)


def hnsw_sweep(index, queries, true_ids, ef_search) -> tuple[list, list]:
    """Recall@K and distances computed per query at each efSearch: two lists, in ``ef_search`` order."""
    import faiss

    recalls, distances = [], []
    for ef in ef_search:
        index.hnsw.efSearch = ef
        faiss.cvar.hnsw_stats.reset()
        _, found = index.search(queries, K)
        recalls.append(recall(found, true_ids))
        distances.append(faiss.cvar.hnsw_stats.ndis / len(queries))
    return recalls, distances


def tied_misses(embeddings, queries, found_scores, found, true_ids, tolerance: float = 1e-5) -> list:
    """``[misses, tied]``: true top-K ids not returned, and how many of them score within ``tolerance``
    of the K-th returned score (a tie that rounding broke the other way: not a failure of the graph)."""
    missing = [(query, true) for query, (row, truth) in enumerate(zip(found, true_ids))
               for true in truth if true not in row]
    # a true neighbour always scores at least the K-th returned one; a tie scores no more than it
    tied = sum(float(embeddings[true] @ queries[query]) <= found_scores[query, -1] + tolerance
               for query, true in missing)
    return [len(missing), int(tied)]


def hnsw_row(embeddings, queries, true_ids, exact, M: int, ef_construction: int, settings: dict) -> dict:
    """One (M, efConstruction): build, recall at every efSearch, ceiling, reachability, and the speed
    at the smallest efSearch that reaches ``TARGET``."""
    import faiss

    index = faiss.IndexHNSWFlat(embeddings.shape[1], M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    _, build_s, build_cpu_s = timed(lambda: index.add(embeddings))
    recalls, distances = hnsw_sweep(index, queries, true_ids, settings["ef_search"])
    found_scores, found = index.search(queries, K)  # still at the largest efSearch
    missed = ~(found == true_ids[:, :1]).any(axis=1)
    in_degree = bottom_layer_in_degree(index)
    row = {"M": M, "ef_construction": ef_construction, "build_s": build_s, "build_cpu_s": build_cpu_s,
           "bytes_per_vector": serialised_bytes(index) / index.ntotal,
           "link_bytes_per_vector": index.hnsw.neighbors.size() * 4 / index.ntotal,
           "max_level": int(index.hnsw.max_level), "recall": recalls, "distances_per_query": distances,
           "ceiling": recalls[-1], "misses_tied": tied_misses(embeddings, queries, found_scores, found, true_ids),
           "missed_nearest": float(missed.mean()),
           "missed_nearest_unlinked": int((in_degree[true_ids[missed, 0]] == 0).sum()),
           "unlinked": float((in_degree == 0).mean()),
           "bottom_links_per_vector": float(in_degree.sum() / index.ntotal)}  # filled, of 2 M slots
    reaching = [ef for ef, value in zip(settings["ef_search"], recalls) if value >= TARGET]
    row["ef_at_target"] = reaching[0] if reaching else None
    if reaching:
        index.hnsw.efSearch = reaching[0]
        row.update(single_and_batch(exact, {"hnsw": index}, queries, settings, batch=False)["hnsw"])
    return row


def hnsw_knobs(embeddings, queries, true_ids, exact, settings: dict, log=print) -> dict:
    """Every (M, efConstruction) of ``settings``, one after another (one index in memory at a time)."""
    rows = []
    for M in settings["M"]:
        for ef_construction in settings["ef_construction"]:
            rows.append(hnsw_row(embeddings, queries, true_ids, exact, M, ef_construction, settings))
            sweeps = ("recall", "distances_per_query")  # printed as the ceiling only
            log(rounded({key: value for key, value in rows[-1].items() if key not in sweeps}))
    return {"M": list(settings["M"]), "ef_construction": list(settings["ef_construction"]),
            "ef_search": list(settings["ef_search"]), "target": TARGET, "rows": rows}


def pq_variants(dim: int, settings: dict) -> dict:
    """Untrained FAISS indexes by name, each ``(index, description)``: plain 8-bit PQ and 4-bit
    fast-scan PQ at every m, and OPQ in front of fast-scan PQ (the same bytes as fast-scan alone)."""
    import faiss

    inner = faiss.METRIC_INNER_PRODUCT
    variants = {}
    for m in settings["pq_m"]:
        variants[f"PQ{m}x8"] = (faiss.IndexPQ(dim, m, 8, inner), {"family": "PQ", "m": m, "nbits": 8})
        variants[f"PQ{m}x4fs"] = (faiss.IndexPQFastScan(dim, m, 4, inner),
                                  {"family": "fast-scan PQ", "m": m, "nbits": 4})
    if settings["opq_m"]:
        m = settings["opq_m"]
        opq = faiss.index_factory(dim, f"OPQ{m},PQ{m}x4fs", inner)
        rotation = faiss.downcast_VectorTransform(opq.chain.at(0))
        # FAISS's defaults (50 passes over up to 65,536 vectors) take most of an hour at d = 768 on one thread
        rotation.niter, rotation.max_train_points = OPQ_PASSES, OPQ_TRAIN
        variants[f"OPQ{m},PQ{m}x4fs"] = (opq, {"family": "OPQ + fast-scan PQ", "m": m, "nbits": 4})
    return variants


def trained_pq(embeddings, settings: dict, log=print) -> dict:
    """Each variant trained on one seeded sample of ``n_train`` candidates, then given all of them; with
    its re-ranked twin (``IndexRefineFlat``: full vectors kept in memory, top ``RERANK`` scored exactly)."""
    import faiss

    sample = np.random.default_rng(0).choice(len(embeddings), min(settings["n_train"], len(embeddings)), replace=False)
    built = {}
    for name, (index, about) in pq_variants(embeddings.shape[1], settings).items():
        _, train_s, train_cpu_s = timed(lambda: index.train(embeddings[np.sort(sample)]))
        _, add_s, _ = timed(lambda: index.add(embeddings))
        refined = faiss.IndexRefineFlat(index, faiss.swig_ptr(embeddings))
        refined.k_factor = RERANK / K
        code_bytes = index.sa_code_size()
        for rerank, searched in ((0, index), (RERANK, refined)):
            built[name + (f" + re-rank {RERANK}" if rerank else "")] = (searched, {
                **about, "code_bytes": code_bytes, "rerank": rerank, "train_s": train_s, "train_cpu_s": train_cpu_s,
                "add_s": add_s, "bytes_per_vector": serialised_bytes(searched) / len(embeddings)})
        log(f"trained {name} in {train_s:.1f} s ({train_cpu_s:.1f} CPU s)")
    return built


def pq_rows(embeddings, queries, true_ids, exact, settings: dict, log=print) -> dict:
    """Recall, bytes and speed (single and batch, in the same rounds as exact search) of every PQ variant."""
    import faiss

    built = trained_pq(embeddings, settings, log)
    flat = faiss.IndexFlatIP(embeddings.shape[1])
    flat.add(embeddings)
    searchers = {"FAISS Flat (IndexFlatIP)": flat, **{name: index for name, (index, _) in built.items()}}
    speeds = single_and_batch(exact, searchers, queries, settings, batch=True)
    rows = [{"variant": "FAISS Flat (IndexFlatIP)", "family": "exact", "m": None, "nbits": 32, "rerank": 0,
             "code_bytes": embeddings.shape[1] * 4, "train_s": 0.0, "train_cpu_s": 0.0, "add_s": 0.0,
             "bytes_per_vector": serialised_bytes(flat) / len(embeddings),
             "recall": recall(flat.search(queries, K)[1], true_ids), **speeds["FAISS Flat (IndexFlatIP)"]}]
    for name, (index, about) in built.items():
        rows.append({"variant": name, **about, "recall": recall(index.search(queries, K)[1], true_ids),
                     **speeds[name]})
        log(rounded(rows[-1]))
    return {"rerank": RERANK, "batch": settings["batch"], "n_train": min(settings["n_train"], len(embeddings)),
            "metric": "inner product (METRIC_INNER_PRODUCT) on unit vectors",
            "opq": {"passes": OPQ_PASSES, "train_vectors": OPQ_TRAIN}, "rows": rows}


def oracle(embeddings, queries):
    """Exact search (``CosineIndex``) and its top-K ids, checked against FAISS ``IndexFlatIP``."""
    import faiss

    from imgsim_tutorial import CosineIndex

    exact = CosineIndex().add(embeddings)
    true_ids = exact.search(queries, K)[1]
    flat = faiss.IndexFlatIP(embeddings.shape[1])
    flat.add(embeddings)
    agreement = recall(flat.search(queries, K)[1], true_ids)
    if agreement < 0.999:
        raise RuntimeError(f"CosineIndex and IndexFlatIP agree on only {agreement:.4f} of the top-{K}; "
                           "exact search is not exact, so no recall here would mean anything")
    return exact, true_ids, agreement


def measure(embeddings, queries, settings: dict, log=print) -> dict:
    """Both experiments on ``embeddings`` (n, d) and held-out ``queries`` (nq, d), one thread throughout.

    Returns the stored file's dict (without the header about data and machine).
    """
    from imgsim_tutorial.evaluation import pinned_threads

    with pinned_threads(1):
        exact, true_ids, agreement = oracle(embeddings, queries)
        hnsw = hnsw_knobs(embeddings, queries, true_ids, exact, settings, log)
        pq = pq_rows(embeddings, queries, true_ids, exact, settings, log)
    return {"exact_agreement": agreement, "hnsw": hnsw, "pq": pq}


def header(embeddings, queries, settings: dict) -> dict:
    """What was measured, how and where: the stored file's first keys."""
    import faiss

    from imgsim_tutorial.data.synthetic import default_n_clusters

    n = len(embeddings)
    return {"format": 1, "n": n, "dim": embeddings.shape[1], "n_queries": len(queries), "k": K, "threads": 1,
            "rounds": settings["rounds"], "timed_queries": settings["timed_queries"],
            "batch_rounds": settings["batch_rounds"],
            "data": "SYNTHETIC realistic_embeddings(n, 768, n_queries=200, seed=0), the course's default settings",
            "n_clusters": default_n_clusters(n), "oracle": "CosineIndex (exact), checked against FAISS IndexFlatIP",
            "protocol": "compare_speeds: one thread for BLAS and FAISS (pinned_threads(1)), rounds interleaved "
                        "with exact search (CosineIndex), speed-up taken round by round; single queries "
                        "index.search(query[None], 10); batch: one search call of `batch` queries (the held-out "
                        "queries repeated); builds and training on one thread too, timed once each, in wall "
                        "seconds (*_s) and CPU seconds (*_cpu_s, steadier on a shared machine)",
            "faiss_version": faiss.__version__, "numpy_version": np.__version__,
            "machine": f"{platform.machine()} {platform.processor() or ''}, {platform.system()}".replace(" ,", ","),
            "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def output_path(quick: bool) -> Path:
    """Where a run writes: the stored file the notebooks read, or a scratch file for ``--quick``."""
    if quick:
        return ROOT / "benchmarks" / "results" / "index_knobs_quick.json"
    return ROOT / "imgsim_tutorial" / "assets" / "measured" / "index_knobs.json"


def main(n: int | None = None, quick: bool = False) -> Path:
    from imgsim_tutorial.data.synthetic import realistic_embeddings

    settings = QUICK if quick else FULL
    n = n or settings["n"]
    target = output_path(quick)
    embeddings, queries = realistic_embeddings(n, 768, n_queries=200, seed=0)
    measured = measure(embeddings, queries, settings, log=lambda line: print(line, flush=True))
    stored = {**header(embeddings, queries, settings), **measured}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(stored, indent=1))
    print(f"wrote {target}")
    return target


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=None, help="collection size (default 50,000; 5,000 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a small grid in seconds, written to benchmarks/results/")
    arguments = parser.parse_args()
    main(arguments.n, arguments.quick)
