"""Speed and quality of every search method, side by side, measured in one run.

Run:  make benchmark     (or: python benchmarks/run.py [--sizes 1000 10000 100000] [--queries 200])

For N clustered unit vectors of dimension 768 (synthetic, labelled as such) and for the real
offline image embeddings, every method reports build time, median single-query latency,
batched throughput, recall@10 against exact search, the share of candidates it scanned, and
index bytes. Ratios are against a naive baseline in the style of the original tutorial
(a dict of scores sorted in Python per query), measured in the same run, so the numbers
compare fairly on any machine. Also: embedding throughput (images/s) of ``embed_images``
against the model's forward pass alone, for the offline encoder and the ViT-base architecture.

Writes benchmarks/results/results.json, results.md and recall_vs_latency.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import imgsim_tutorial as t  # noqa: E402
from imgsim_tutorial.faiss_index import FaissLSHIndex, FlatIPIndex, HNSWIndex, MultiHashIndex  # noqa: E402

K = 10


def lsh_setting(n):
    return {"n_bits": 8, "n_tables": 10} if n <= 2000 else {"n_bits": 12, "n_tables": 20}


def methods(n):
    """(name, builder) for every method; builders return an object with .search(queries, k)."""
    lsh = lsh_setting(n)
    return [
        ("CosineIndex (exact)", lambda: t.CosineIndex()),
        ("FAISS IndexFlatIP (exact)", lambda: FlatIPIndex()),
        (f"LSHIndex {lsh['n_bits']}b x {lsh['n_tables']}t", lambda: t.LSHIndex(**lsh)),
        (f"LSHIndex {lsh['n_bits']}b x {lsh['n_tables'] // 2}t +4 probes",
         lambda: t.LSHIndex(n_bits=lsh["n_bits"], n_tables=lsh["n_tables"] // 2, n_probes=4)),
        ("FAISS IndexLSH 256b", lambda: FaissLSHIndex(n_bits=256)),
        ("FAISS IndexLSH 256b + rerank 100", lambda: FaissLSHIndex(n_bits=256, rerank=100)),
        (f"FAISS MultiHash {lsh['n_bits']}b x {lsh['n_tables']}t",
         lambda: MultiHashIndex(n_bits=lsh["n_bits"], n_tables=lsh["n_tables"], shortlist=200)),
        ("FAISS HNSW M=16 ef=64", lambda: HNSWIndex(M=16, ef_construction=40, ef_search=64)),
    ]


def bench_dataset(name, candidates, queries, n_single, log):
    n = len(candidates)
    exact_index = t.CosineIndex().add(candidates)
    _, true_ids = exact_index.search(queries, K)
    rows = []

    # The baselines in the style of the original tutorial.
    single = queries[:max(3, min(n_single, 200_000 // n))]
    naive_latency = t.evaluation.time_per_query(lambda q: t.naive_search(q, candidates, range(n), K), single, repeats=1)
    naive_ids = np.array([t.naive_search(q, candidates, range(n), K)[1] for q in queries[:5]])
    rows.append({"method": "naive dict-sort (tutorial)", "build_s": 0.0, "latency_ms": naive_latency * 1e3,
                 "throughput_qps": 1 / naive_latency, "recall": t.recall_at_k(naive_ids, true_ids[:5]),
                 "scanned": 1.0, "bytes": int(candidates.nbytes)})
    lsh = lsh_setting(n)
    started = time.perf_counter()
    shared = t.SharedPlanesLSH(**lsh).add(candidates)
    build = time.perf_counter() - started
    shared_ids = np.array([np.pad(shared.search(q, K)[1], (0, K), constant_values=-1)[:K] for q in queries])
    shared_latency = t.evaluation.time_per_query(lambda q: shared.search(q, K), queries[:n_single], repeats=1)
    rows.append({"method": f"naive shared-planes LSH {lsh['n_bits']}b x {lsh['n_tables']}t (tutorial)",
                 "build_s": build, "latency_ms": shared_latency * 1e3, "throughput_qps": 1 / shared_latency,
                 "recall": t.recall_at_k(shared_ids, true_ids), "scanned": float("nan"),
                 "bytes": shared.memory_codes_bytes(n)})

    rows += t.evaluation.compare_indexes(dict(methods(n)), candidates, queries, K, n_single, true_ids=true_ids)
    for row in rows:
        if row["method"].startswith(("CosineIndex", "FAISS IndexFlatIP", "FAISS IndexLSH")):
            row["scanned"] = 1.0  # they score every item (IndexLSH scores every code)
    for row in rows:
        row["speedup_vs_naive"] = rows[0]["latency_ms"] / row["latency_ms"]
    log(f"{name}: done")
    return rows


def lsh_sweep(candidates, queries, log):
    """LSHIndex settings at large N: recall, share scanned and speed-up over exact, same run."""
    exact = t.CosineIndex().add(candidates)
    exact_results = exact.search(queries, K)
    exact_latency = t.evaluation.time_per_query(lambda q: exact.search(q, K), queries[:50])
    rows = []
    for setting in [(10, 20, 0), (12, 20, 0), (12, 30, 0), (14, 30, 2), (16, 20, 8)]:
        point = t.widgets.tradeoff_point(candidates, queries, exact_results, *setting, k=K, timing_queries=50)
        latency = point["median_query_ms"] / 1e3
        rows.append({"n_bits": setting[0], "n_tables": setting[1], "n_probes": setting[2], "recall": point["recall"],
                     "scanned": point["fraction_scanned"], "latency_ms": latency * 1e3,
                     "exact_latency_ms": exact_latency * 1e3, "speedup_vs_exact": exact_latency / latency})
    log("LSH sweep: done")
    return rows


def embedding_throughput(log, n_small=256, n_base=16):
    """images/s of embed_images (preprocessing + model) vs the forward pass alone."""
    import torch
    from transformers import ViTConfig, ViTImageProcessorPil, ViTModel

    beans = t.load_beans("offline")
    results = []
    small_processor, small_model = t.load_encoder(mode="offline", device="cpu")
    base_model = ViTModel(ViTConfig(), add_pooling_layer=False).eval()  # ViT-base architecture, random weights
    base_processor = ViTImageProcessorPil(size={"height": 224, "width": 224}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    for name, processor, model, count in [("offline leaf-vit-tiny (64 px)", small_processor, small_model, n_small),
                                          ("ViT-base architecture (224 px)", base_processor, base_model, n_base)]:
        images = list(beans["train"].select(range(count))["image"])
        full = t.time_call(t.embed_images, images, processor, model, batch_size=32, progress=False, repeats=2)["median_s"]
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]

        def forward():
            with torch.inference_mode():
                for start in range(0, count, 32):
                    model(pixel_values=pixels[start:start + 32])

        model_only = t.time_call(forward, repeats=2)["median_s"]
        results.append({"encoder": name, "images": count, "embed_images_per_s": count / full,
                        "forward_only_per_s": count / model_only, "preprocessing_share": 1 - model_only / full})
    log("embedding throughput: done")
    return results


def markdown(report) -> str:
    lines = [f"Measured {report['date']} on {report['machine']} (N = candidates, 768-d clustered synthetic "
             f"unless marked; {report['n_queries']} queries; k = {K}).", ""]
    for name, rows in report["datasets"].items():
        lines += [f"**{name}**", "", "| method | build s | query ms | speed-up vs naive | batch q/s | recall@10 | scanned | MB |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            scanned = "" if r["scanned"] != r["scanned"] else f"{r['scanned']:.1%}"
            lines.append(f"| {r['method']} | {r['build_s']:.2f} | {r['latency_ms']:.3f} | {r['speedup_vs_naive']:.0f}x | "
                         f"{r['throughput_qps']:.0f} | {r['recall']:.3f} | {scanned} | {r['bytes'] / 2**20:.1f} |")
        lines.append("")
    if report.get("lsh_sweep"):
        lines += [f"**LSHIndex at N = {report['lsh_sweep_n']:,}** (exact CosineIndex: "
                  f"{report['lsh_sweep'][0]['exact_latency_ms']:.2f} ms per query, same run)", "",
                  "| n_bits | n_tables | n_probes | recall@10 | scanned | query ms | speed-up vs exact |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        for r in report["lsh_sweep"]:
            lines.append(f"| {r['n_bits']} | {r['n_tables']} | {r['n_probes']} | {r['recall']:.3f} | {r['scanned']:.2%} | "
                         f"{r['latency_ms']:.3f} | {r['speedup_vs_exact']:.1f}x |")
        lines.append("")
    lines += ["**Embedding throughput** (CPU)", "", "| encoder | images | embed_images img/s | forward only img/s | preprocessing share |",
              "|---|---:|---:|---:|---:|"]
    for r in report["embedding"]:
        lines.append(f"| {r['encoder']} | {r['images']} | {r['embed_images_per_s']:.1f} | {r['forward_only_per_s']:.1f} | "
                     f"{r['preprocessing_share']:.0%} |")
    return "\n".join(lines) + "\n"


def plot(report, path):
    import matplotlib

    matplotlib.use("Agg")
    figure = t.plotting.plot_recall_vs_latency(
        report["datasets"], note="(LSH settings as named at N <= 2k and for the leaves; at N >= 10k: 12 bits, 20 tables or 10 + probes)")
    figure.savefig(path, dpi=90)


def main():
    parser = argparse.ArgumentParser(description="imgsim-tutorial benchmarks")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--single", type=int, default=50, help="queries timed one by one")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot from results.json")
    args = parser.parse_args()
    if args.plot_only:
        plot(json.loads((args.out / "results.json").read_text()), args.out / "recall_vs_latency.png")
        return
    started = time.time()

    def log(message):
        print(f"[{time.time() - started:6.1f} s] {message}", flush=True)

    report = {"date": date.today().isoformat(), "n_queries": args.queries,
              "machine": f"{platform.machine()} CPU, {__import__('os').cpu_count()} cores, Python {platform.python_version()}",
              "datasets": {}}
    for n in args.sizes:
        data = t.evaluation.clustered_vectors(n + args.queries, 768, n_clusters=max(10, n // 100), seed=n)
        report["datasets"][f"synthetic N={n:,}"] = bench_dataset(f"N={n}", data[:n], data[n:], args.single, log)
        if n == max(args.sizes):
            report["lsh_sweep_n"] = n
            report["lsh_sweep"] = lsh_sweep(data[:n], data[n:], log)
    beans = t.load_beans("offline")
    processor, model = t.load_encoder(mode="offline", device="cpu")
    train, test = t.embed_dataset(beans["train"], processor, model), t.embed_dataset(beans["test"], processor, model)
    report["datasets"]["offline leaf embeddings (600 x 192)"] = bench_dataset("leaves", train, test, args.single, log)
    report["embedding"] = embedding_throughput(log)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=1))
    (args.out / "results.md").write_text(markdown(report))
    plot(report, args.out / "recall_vs_latency.png")
    print(markdown(report))
    log(f"wrote {args.out}/results.json, results.md, recall_vs_latency.png")


if __name__ == "__main__":
    main()
