# %% [markdown]
# # 08 · Compression, and choosing an index
#
# Exact search, LSH, IVF and graphs all keep every embedding as 768 float32 numbers: 3 KB per
# image. **Product quantisation (PQ)** stores 16 bytes instead and still ranks. This notebook
# builds PQ by hand, checks it against FAISS, combines it with IVF (IVF-PQ, also inside a 🤗
# dataset), and then puts every method of the course side by side, here at 10,000 and from a
# stored run at 50,000, to answer the question this part of the course leads to: which index
# should you use?
#
# **Data.** Differences between methods only show on data that looks like real embeddings: we
# use `synthetic.realistic_embeddings` (shared mean direction, clusters of unequal size,
# near-tied neighbours), labelled SYNTHETIC wherever it appears: 10,000 x 768 here, so that the
# notebook stays quick.

# %%
import sys

if "google.colab" in sys.modules:
    %pip install -q "imgsim-tutorial @ git+https://github.com/imgsim-tutorial/imgsim-tutorial"

# %%
import json
import tempfile
import time
import warnings
from importlib import resources

import faiss
import numpy as np

import imgsim_tutorial as t
from imgsim_tutorial.data.synthetic import embedding_statistics, realistic_embeddings
from imgsim_tutorial.faiss_factory import FactoryIndex, add_factory_index
from imgsim_tutorial.faiss_index import dataset_search
from imgsim_tutorial.graph import GraphIndex
from imgsim_tutorial.ivf import IVFIndex
from imgsim_tutorial.pq import PQIndex
from imgsim_tutorial.teaching import exercise_book, plotting
from imgsim_tutorial.teaching.diagrams import pq_diagram

warnings.filterwarnings("ignore", message=".*fewer than k.*")  # short result lists show up as lower recall
faiss.omp_set_num_threads(1)  # FAISS on one thread, like our single-query timings (and kind to a shared machine)
N, K = 10_000, 10
embeddings, all_queries = realistic_embeddings(N, 768, n_queries=300, seed=0)
queries, choice_queries = all_queries[:100], all_queries[100:]  # the last 200 for choose_index, below
exact = t.CosineIndex().add(embeddings)
exact_scores, exact_ids = exact.search(queries, K)  # the oracle
stats = embedding_statistics(embeddings, queries)
print(f"SYNTHETIC {embeddings.shape}: random-pair cosine {stats['random_pair_cosine']:.2f}, top-1 cosine "
      f"{stats['top1_cosine']:.2f}, gap between 10th and 11th neighbour {stats['gap_k_k1']:.4f}")
timed = queries[:30]  # the queries timed one at a time

# %% [markdown]
# ## Product quantisation, by hand
#
# Split each 768-number embedding into 16 pieces of 48. In each piece's subspace, k-means finds
# 256 centroids (a *codebook*); an embedding is stored as the 16 numbers (one byte each) of its
# nearest centroids. A query is **not** compressed: per piece, its dot products with the 256
# centroids form a *distance table* (16 x 256), and the approximate score of any stored
# embedding is a sum of 16 look-ups. First as a picture small enough to read every number: a
# `PQIndex` on 16-number vectors cut into 4 pieces, 16 centroids per piece:

# %%
figure = pq_diagram()

# %% [markdown]
# Now at full size, by hand for one candidate, then the package:

# %%
pq = PQIndex(n_subvectors=16, n_bits=8, seed=0).add(embeddings)
table = pq.distance_table(queries[0])                      # (16, 256)
by_hand = sum(table[piece, pq.codes_[0, piece]] for piece in range(16))
print(f"codes of candidate 0: {pq.codes_[0].tolist()}")
print(f"approximate cosine by hand {by_hand:.4f}, package {pq.approximate_scores(queries[0])[0]:.4f}, "
      f"true {float(embeddings[0] @ queries[0]):.4f}")
assert np.isclose(by_hand, pq.approximate_scores(queries[0])[0], atol=1e-5)

# %% [markdown]
# The approximate ranking loses recall. `n_rerank=R` re-scores the best R by exact cosine, reading
# the float vectors of **only those R** from a file on disk (`np.memmap`): the codes stay in
# memory, the 3 KB vectors do not. Checked against `faiss.IndexPQ` with the same settings:

# %%
faiss_pq = faiss.IndexPQ(768, 16, 8, faiss.METRIC_INNER_PRODUCT)
faiss_pq.train(embeddings)
faiss_pq.add(embeddings)
pq_recall = t.recall_at_k(pq.search(queries, K)[1], exact_ids)
faiss_pq_recall = t.recall_at_k(faiss_pq.search(queries, K)[1], exact_ids)
folder = tempfile.mkdtemp(prefix="pq-vectors-")
pq_rerank = PQIndex(n_subvectors=16, n_bits=8, n_rerank=200, seed=0, vectors_folder=folder)
pq_rerank.codebooks_ = pq.codebooks_  # the same codebooks: only the re-rank differs
pq_rerank.add(embeddings)
rerank_recall = t.recall_at_k(pq_rerank.search(queries, K)[1], exact_ids)
memory = pq_rerank.memory_bytes()
print(f"recall@10: our PQ {pq_recall:.3f}, faiss.IndexPQ {faiss_pq_recall:.3f}, "
      f"ours + re-rank of 200 {rerank_recall:.3f}")
print(f"in memory per image: {memory['codes'] / N:.0f} bytes of codes (+ {memory['ids'] / N:.0f} of id); "
      f"on disk: {pq_rerank.disk_bytes() / N:.0f} bytes; exact search holds {exact.vectors_.nbytes / N:.0f} bytes")
assert abs(pq_recall - faiss_pq_recall) <= 0.05 and rerank_recall > pq_recall + 0.1

# %% [markdown]
# ## Where PQ is fast: 4-bit codes in registers
#
# PQ above is a memory win: 16 bytes instead of 3 KB. Is it also a speed win? Each code costs
# 16 table look-ups, but the table has 16 x 256 entries (16 KB), look-ups land all over it, and
# every code is still visited. FAISS's **fast-scan** PQ changes the arithmetic: 4-bit codes
# (16 centroids per piece), so one piece's table has 16 entries and fits in a CPU register;
# codes are stored in blocks of 32 and scored with one SIMD shuffle per piece. Measuring that
# properly takes minutes at 50,000, so here is a stored run (`benchmarks/index_knobs.py`, the same
# kind of SYNTHETIC data as the comparison below, raw FAISS, one thread; re-ranked rows re-score
# the best 100 with exact vectors held in RAM):

# %%
fast_file = resources.files("imgsim_tutorial") / "assets" / "measured" / "index_knobs.json"
fast = json.loads(fast_file.read_text())
variants = {row["variant"]: row for row in fast["pq"]["rows"]}
print(f"STORED, {fast['data']}, n={fast['n']:,}, measured {fast['measured_at']}, faiss {fast['faiss_version']}")
print(f"{'variant':30s} {'recall@10':>9s} {'bytes/vector':>12s} {'single query':>13s} {'batch of 1,000':>15s}")
for name, row in variants.items():
    print(f"{name:30s} {row['recall']:9.3f} {plotting.readable_bytes(row['bytes_per_vector']):>12s} "
          f"{row['speedup']:11.1f}x {row['batch_speedup']:14.1f}x")
figure = plotting.pq_fastscan_figure(fast)

# %%
# What you should see: at the same 32 bytes of code, fast-scan (64 pieces x 4 bits) finds more than
# plain PQ (32 x 8 bits) and answers single queries faster; OPQ's rotation adds little recall here.
plain, fs, opq = variants["PQ32x8"], variants["PQ64x4fs"], variants["OPQ64,PQ64x4fs"]
assert plain["code_bytes"] == fs["code_bytes"] == 32
assert fs["recall"] > plain["recall"] and fs["speedup"] > 5 * plain["speedup"]
assert 0 <= opq["recall"] - fs["recall"] < 0.05 and opq["train_s"] > 10 * fs["train_s"]
print(f"32 bytes of code: PQ32x8 recall {plain['recall']:.3f} at {plain['speedup']:.1f}x exact; PQ64x4fs recall "
      f"{fs['recall']:.3f} at {fs['speedup']:.1f}x; OPQ adds {opq['recall'] - fs['recall']:+.3f} recall for "
      f"{opq['train_s']:.0f} s of training instead of {fs['train_s']:.1f} s")
codes_only = [row for row in variants.values() if not row["rerank"] and row["family"] != "exact"]
assert all(1 < row["speedup"] < 20 for row in codes_only if row["family"] == "PQ")  # "a few times faster"
assert all(row["speedup"] > 20 for row in codes_only if "fs" in row["variant"])  # "tens of times"
assert max(row["recall"] for row in codes_only) < 0.8  # codes alone stay far below 0.9
for name in ("PQ64x4fs", "PQ96x4fs"):
    assert variants[f"{name} + re-rank 100"]["recall"] > variants[name]["recall"] + 0.3
assert all(row["batch_speedup"] < row["speedup"] for row in variants.values() if row["family"] != "exact")

# %% [markdown]
# Three lessons from the table. **Fast-scan is what makes PQ fast**: plain 8-bit PQ answers a
# single query a few times faster than exact search, fast-scan tens of times, at the same bytes
# per vector. **Codes alone do not find the top-10**: every variant without re-ranking stays far
# below recall 0.9; re-ranking the best 100 with exact vectors recovers most of it, at the price
# of keeping the vectors (here in RAM; `PQIndex` reads them from disk). **OPQ** learns a rotation
# that spreads the variance evenly over the pieces before quantising; on this data it adds a
# little recall (printed above) for a long training and a rotation per query. In a batch, exact
# search becomes one matrix product and its speed-up column shrinks for every variant: the
# advantage of fast-scan is largest exactly where this course measures, one query at a time.

# %% [markdown]
# ## IVF-PQ in FAISS, and inside a dataset
#
# FAISS names combinations with a *factory string*: `"IVF100,PQ16"` = 100 k-means cells, and
# inside them PQ codes of 16 bytes. `FactoryIndex` wraps any factory string under the course's
# index contract (inner product on unit vectors = cosine); `add_factory_index` does the same
# through `Dataset.add_faiss_index(string_factory=..., metric_type=faiss.METRIC_INNER_PRODUCT)`.
# Training is the expensive part (the k-means of 100 cells, and 16 k-means of 256 centroids
# for PQ; its time is printed below), so the dataset's index reuses what `ivfpq` learned:
# `trained_from=ivfpq` hands datasets an empty copy of the trained FAISS index (`custom_index`).

# %%
faiss.omp_set_num_threads(2)  # training the k-means of IVF and PQ is this cell's cost: use both cores
started = time.perf_counter()
ivfpq = FactoryIndex(factory="IVF100,PQ16", n_probes=10, n_rerank=200).add(embeddings)
print(f"trained and filled in {time.perf_counter() - started:.1f} s on 2 threads")
_, ivfpq_ids, found = ivfpq.search_with_stats(queries, K)
print(f"FactoryIndex('IVF100,PQ16', n_probes=10, n_rerank=200): recall@10 {t.recall_at_k(ivfpq_ids, exact_ids):.3f}")

from datasets import Dataset  # noqa: E402  (only this cell needs it)

searchable = add_factory_index(Dataset.from_dict({"embeddings": embeddings}), n_probes=10, trained_from=ivfpq)
dataset_scores, dataset_ids = dataset_search(searchable, queries, k=K)
print(f"the same index through datasets: recall@10 {t.recall_at_k(dataset_ids, exact_ids):.3f} (no re-rank); "
      "metric is inner product:",
      searchable.get_index("embeddings").faiss_index.metric_type == faiss.METRIC_INNER_PRODUCT)
assert (np.diff(dataset_scores, axis=1) <= 1e-6).all()  # higher is better: cosine-like, not L2
faiss.omp_set_num_threads(1)  # back to one thread for the timings below

# %% [markdown]
# ## Every method of the course, on the same data
#
# Recall@10, time per query (one at a time), share scanned and memory per image, measured now:

# %%
lsh = t.LSHIndex(n_bits=8, n_tables=16, n_probes=5, seed=0).add(embeddings)  # settings of notebooks 06 and 07
ivf = IVFIndex(n_lists=100, n_probes=5, seed=0).add(embeddings)
graph = GraphIndex(n_neighbors=16, ef_search=64).add(embeddings)
methods = {"exact (CosineIndex)": exact, "LSHIndex 8 bits x 16 tables, 5 probes": lsh,
           "IVFIndex 100 lists, 5 probes": ivf, "GraphIndex ef_search=64": graph,
           "PQIndex 16 bytes": pq, "PQIndex 16 bytes + re-rank 200": pq_rerank,
           "FAISS IVF100,PQ16 + re-rank 200": ivfpq}
speeds = t.compare_speeds({name: lambda index=index: [index.search(query, K) for query in timed]
                           for name, index in methods.items()}, threads=1, rounds=3, per_call=len(timed))
table_rows = []
for name, index in methods.items():
    _, ids, found = index.search_with_stats(queries, K)
    table_rows.append({"method": name, "recall": t.recall_at_k(ids, exact_ids),
                       "latency_ms": speeds[name]["median_s"] * 1e3, "speedup": speeds[name]["speedup"],
                       "scanned": found["n_candidates"].mean() / N,
                       "bytes": sum(index.memory_bytes().values()) / N})
print(f"{'method':38s} {'recall@10':>9s} {'ms/query':>9s} {'vs exact':>8s} {'scanned':>8s} {'bytes/image':>11s}")
for row in table_rows:
    print(f"{row['method']:38s} {row['recall']:9.3f} {row['latency_ms']:9.2f} {row['speedup']:7.2f}x "
          f"{row['scanned']:8.1%} {row['bytes']:11.0f}")

# %% [markdown]
# ("scanned" counts vectors or codes scored; PQ scores every *code*, cheaply. Memory counts what
# each index holds in RAM: `PQIndex`'s re-rank vectors are in a file on disk.) "vs exact" is each
# method's speed-up over exact search in the same rounds, one thread for all; read speeds from
# that column, not from the milliseconds of another run. At 10,000 the collection is small
# enough that exact search is one quick matrix product; the stored measurements at 50,000 (below)
# show the same methods on a collection five times larger.

# %% [markdown]
# ## Stored measurements at 50,000 (SYNTHETIC, measured by `benchmarks/beyond_lsh.py`)
#
# Too slow to rerun in a notebook (building every index at 50,000 takes minutes), so
# these numbers are read from a file the benchmark wrote in one run: one thread, single queries,
# each row timed against exact search in the same rounds (`compare_speeds`), its milliseconds
# the median of 5 rounds with the range in brackets and its speed-up from those same rounds.
# The FAISS rows are searched through the course's wrappers (`FactoryIndex`, `HNSWIndex`, as in
# notebook 09), so every row pays a similar Python overhead per call; notebook 09 and
# `benchmarks/vs_faiss.py` time FAISS's own indexes directly.

# %%
stored_file = resources.files("imgsim_tutorial") / "assets" / "measured" / "beyond_lsh_50000.json"
stored = json.loads(stored_file.read_text())
print(f"STORED, {stored['data']}, n={stored['n']:,}, measured {stored['measured_at']} in one run; exact search "
      f"{stored['exact_ms']:.1f} ms per query (median over the rows; each speed-up uses its own rounds)")
print(f"{'method':26s} {'setting':38s} {'recall':>6s} {'ms (min-max)':>18s} {'speed-up':>8s} {'scanned':>8s} "
      f"{'B/image':>8s} {'build s':>8s}")
for row in stored["rows"]:
    print(f"{row['method'][:26]:26s} {row['setting'][:38]:38s} {row['recall']:6.3f} "
          f"{row['latency_ms']:7.2f} ({row['latency_min_ms']:.1f}-{row['latency_max_ms']:.1f}) "
          f"{row['speedup']:7.1f}x {row['scanned']:8.1%} {row['bytes_per_image']:8.0f} {row['build_s']:8.1f}")
curves = {}
for row in stored["rows"]:
    curves.setdefault(row["method"], []).append({"latency_ms": row["latency_ms"], "recall": row["recall"]})
figure = plotting.plot_recall_vs_speed(curves, exact_ms=stored["exact_ms"], target=0.9,
                                         title=f"STORED: SYNTHETIC {stored['n']:,} x 768, one thread")
for layered in (True, False):  # FAISS HNSW (M=16) with and without its upper layers, at 50,000
    print(f"HNSW layers={layered}: " + ", ".join(f"ef={row['ef_search']} recall {row['recall']:.3f} with "
                                                  f"{row['distances_per_query']:.0f} cosines"
                                                  for row in stored["hnsw_layers"] if row["layers"] == layered))

# %% [markdown]
# The same run, one line per method: its fastest setting that reaches recall@10 ≥ 0.9, with what
# that costs in memory and build time. This is the table to choose an index from, for this data
# and this size (a method missing from it never reached 0.9 here):

# %%
fastest = {}
for row in stored["rows"]:
    if row["recall"] >= 0.9 and row["speedup"] > fastest.get(row["method"], {}).get("speedup", 0):
        fastest[row["method"]] = row
print(f"{'method':26s} {'setting':38s} {'recall':>6s} {'speed-up':>8s} {'B/image':>8s} {'build s':>8s}")
for method, row in sorted(fastest.items(), key=lambda item: -item[1]["speedup"]):
    print(f"{method[:26]:26s} {row['setting'][:38]:38s} {row['recall']:6.3f} {row['speedup']:7.1f}x "
          f"{row['bytes_per_image']:8.0f} {row['build_s']:8.1f}")

# %%
# What you should see in the stored run: IVFIndex reaches recall@10 >= 0.9
# at least 5x faster than exact search, and GraphIndex reaches recall@10 >= 0.9.
best_ivf = max(row["speedup"] for row in stored["rows"] if row["method"] == "IVFIndex" and row["recall"] >= 0.9)
best_graph = max(row["recall"] for row in stored["rows"] if row["method"] == "GraphIndex")
print(f"IVFIndex at recall >= 0.9: up to {best_ivf:.1f}x faster than exact; GraphIndex best recall {best_graph:.3f}")
assert best_ivf >= 5 and best_graph >= 0.9

# %% [markdown]
# ## Choosing an index
#
# Which index should you use? The two runs above answer it for their data, once you say what
# you need: a recall target, and a memory budget per image. The table below is computed from
# them, not written by hand: for each target and budget, the fastest method (single queries,
# speed-up over exact search in the same rounds) that reaches the target within the budget. At
# 10,000 it reads this notebook's own run; at 50,000 the stored one. `-` means nothing
# approximate met both.

# %%
def fastest_within(rows, target, budget):
    """The fastest row at recall >= target and at most budget bytes per image (None if none)."""
    fitting = [row for row in rows if row["recall"] >= target and row["bytes"] <= budget
               and not row["method"].startswith("exact")]
    return max(fitting, key=lambda row: row["speedup"], default=None)


budgets = {"any memory": np.inf, "<= 1 kB / image": 1_000, "<= 100 B / image": 100}
runs = {"10,000 (this run)": table_rows,
        "50,000 (stored)": [{**row, "bytes": row["bytes_per_image"],
                             "method": f"{row['method']} {row['setting']}".strip()} for row in stored["rows"]]}
decisions = {}
for size, rows in runs.items():
    print(f"N = {size}")
    for target in (0.8, 0.9, 0.95):
        for name, budget in budgets.items():
            best = fastest_within(rows, target, budget)
            decisions[size, target, name] = best
            choice = "-" if best is None else f"{best['method'][:44]:44s} {best['speedup']:5.1f}x exact's speed"
            print(f"  recall >= {target:<4}  {name:17s} {choice}")

# %%
# What you should see: with no budget something approximate beats exact search at recall 0.9, and at
# both sizes fitting in 1 kB per image costs speed (or finds nothing) at that target.
assert decisions["50,000 (stored)", 0.9, "any memory"]["speedup"] > 1
for size in runs:
    free, tight = decisions[size, 0.9, "any memory"], decisions[size, 0.9, "<= 1 kB / image"]
    assert free is not None and (tight is None or tight["speedup"] < free["speedup"]), (size, free, tight)

# %% [markdown]
# Read it budget by budget. With memory to spare, the fastest method at each target is the one
# printed on its "any memory" line; a budget of 1 kB per image rules out every index that keeps the
# float32 vectors in RAM (768 numbers of 4 bytes each), and what remains is compression: PQ's
# codes, paying in speed or recall (asserted at recall 0.9 for both sizes). The rows for the
# two sizes can differ, because the answer depends on N: that is why the table is measured, not
# remembered.
#
# **Your data is not this data.** `choose_index` does the same measurement on *your*
# embeddings: it builds each candidate on a sample, sweeps its query-time setting until
# recall@10 against exact search reaches the target (with a safety margin of two standard
# errors), times the survivors against exact search in the same rounds on one thread, predicts
# their memory at full size, and builds the fastest that fits on all the embeddings, where it
# checks the setting again. It returns the index and a report of everything it tried. Give it
# queries like the ones you expect (it tunes on half and checks on the other half); without
# them it checks on rows of the collection left out of their own results, which flatters graph
# indexes, whose walk is drawn towards a stored item's own neighbourhood. Here on the 10,000
# embeddings of this notebook, with 200 queries of its own (the graph left out only to keep the
# notebook quick):

# %%
started = time.perf_counter()
chosen, report = t.choose_index(embeddings, choice_queries, recall_target=0.9, methods=("ivf", "hnsw", "lsh", "pq"),
                                seed=0)
print(f"choose_index took {time.perf_counter() - started:.1f} s")
report

# %%
# What you should see: the index it returns reaches the target on queries it never saw, measured here.
_, chosen_ids = chosen.search(queries, K)
chosen_recall = t.recall_at_k(chosen_ids, exact_ids)
print(f"{report.chosen['method']} {report.chosen['setting']}: recall@10 {chosen_recall:.3f} on this "
      f"notebook's {len(queries)} queries (never seen by choose_index)")
assert chosen_recall >= 0.9 - 0.03  # the target, up to the noise of 100 queries

# %% [markdown]
# ## Your turn
#
# Three exercises, marked by difficulty: ★ one idea, ★★ a few lines, ★★★ build, measure and
# compare. Replace the `None`, run the cell, read the verdict; run `ex.hint(n)` for a hint and
# `ex.hint(n, level=2)` for a closer one. The check works the answer out from your own objects
# and never shows it. Solutions: `%load solutions/08_ex1.py` (and so on) in a new cell.

# %%
ex = exercise_book.notebook("08")
ex

# %% [markdown]
# **Exercise 1 ★.** A PQ index with `n_subvectors=32` and `n_bits=8`: how many bytes of codes
# does it hold per image? How many times smaller is that than the float32 embedding? Give the
# second number.

# %% tags=["exercise"]
answer_ratio = None  # your code here: how many times smaller
ex.check(1, answer_ratio, embeddings=embeddings)

# %% [markdown]
# **Exercise 2 ★.** Your collection: how many GiB would 50 million images need as float32 vectors
# of dimension 384, and as 64-byte PQ codes? Give `[float32 GiB, PQ GiB]` (1 GiB = 2**30 bytes).

# %% tags=["exercise"]
answer_gib = None  # your code here: [float32 GiB, PQ GiB]
ex.check(2, answer_gib)

# %% [markdown]
# **Exercise 3 ★★★ (predict, then measure).** A budget of 100 bytes per image. *Predict* how many
# bytes per image `pq` (16 pieces of 8 bits) holds once N is so large that its codebooks no longer
# count: its codes and its int64 id. Then ask `t.choose_index` for recall@10 ≥ 0.9 within that
# budget on this notebook's embeddings (`memory_budget_bytes=100 * N`,
# `methods=("ivf", "hnsw", "lsh", "pq")`, `seed=0`) and *measure* the bytes per image its report
# gives `PQIndex` (`bytes_per_item` in `report.rows`; if nothing fits, the `t.NoIndexFitsError` it
# raises carries the report as `.report`). What makes the difference, and from which N on would
# PQ fit the budget?

# %% tags=["exercise"]
answer_predicted = None  # your code here: bytes per image that grow with N
answer_measured = None  # your code here: PQIndex's bytes per image in choose_index's report
ex.check(3, answer_predicted, answer_measured, index=pq)
