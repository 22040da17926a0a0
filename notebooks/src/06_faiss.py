# %% [markdown]
# # 06 · FAISS, and search inside a 🤗 dataset
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/imgsim-tutorial/imgsim-tutorial/blob/main/notebooks/06_faiss.ipynb)
#
# We built exact search and LSH by hand so that nothing was magic. In production one uses a
# library: [FAISS](https://github.com/facebookresearch/faiss) (Facebook AI Similarity Search) has
# exact, hashing, graph and compressed indexes in optimised C++. `datasets` can attach a FAISS
# index to a dataset directly. This notebook checks FAISS against our oracle, shows the pitfalls,
# and compares all the methods of the course.

# %%
import sys

if "google.colab" in sys.modules:
    %pip install -q "imgsim-tutorial @ git+https://github.com/imgsim-tutorial/imgsim-tutorial"

# %%
import tempfile

import faiss
import numpy as np

import imgsim_tutorial as t
from imgsim_tutorial.faiss_index import (FaissLSHIndex, FlatIPIndex, HNSWIndex, MultiHashIndex, add_cosine_index,
                                         dataset_search)

course = t.load_course()
candidate_embeddings, query_embeddings = course.candidate_embeddings, course.query_embeddings
query_labels, label_names = course.query_labels, course.label_names
exact_scores, exact_ids = t.CosineIndex().add(candidate_embeddings).search(query_embeddings, 10)

# %% [markdown]
# ## A FAISS index inside the dataset
#
# Put the embeddings in an `embeddings` column (notebook 01 showed how `Dataset.map` computes it;
# here we reuse the cached vectors) and ask `datasets` for a FAISS index on it. **Pitfall 1:**
# `add_faiss_index` defaults to L2 distance, where *lower* is better. For cosine we need the
# inner-product metric *and* unit-length vectors. `add_cosine_index` does both and checks.

# %%
searchable = course.candidates.add_column("embeddings", candidate_embeddings.tolist())
add_cosine_index(searchable)  # = searchable.add_faiss_index("embeddings", metric_type=faiss.METRIC_INNER_PRODUCT)
scores, examples = searchable.get_nearest_examples("embeddings", query_embeddings[0], k=5)
print("scores (cosine, higher is better):", np.round(scores, 3))
print("labels:", [label_names[label] for label in examples["labels"]], "query:", label_names[query_labels[0]])
figure = t.plotting.show_images([course.query_images[0], *examples["image"]],
                                ["query"] + [f"{s:.3f}" for s in scores], ncols=6, size=1.4)

# %% [markdown]
# Inner product on unit vectors *is* cosine, so `IndexFlatIP` must return exactly what our
# `CosineIndex` returns. Check it, through the dataset and through the package's `FlatIPIndex`:

# %%
dataset_scores, dataset_ids = dataset_search(searchable, query_embeddings, k=10)
flat_scores, flat_ids = FlatIPIndex().add(candidate_embeddings).search(query_embeddings, 10)
print("dataset index == CosineIndex:", np.array_equal(dataset_ids, exact_ids),
      "| FlatIPIndex == CosineIndex:", np.array_equal(flat_ids, exact_ids),
      "| largest score difference:", float(np.abs(flat_scores - exact_scores).max()))

# %%
assert (dataset_ids == exact_ids).mean() > 0.99 and (flat_ids == exact_ids).mean() > 0.99
assert np.allclose(dataset_scores, exact_scores, atol=1e-4)

# %% [markdown]
# ## What the L2 default does
#
# With the default metric the scores are squared distances. For unit vectors
# `‖a − b‖² = 2 − 2 cos(a, b)`: the same neighbours in the same order, but the numbers mean the
# opposite. Code that sorts "highest score first", as is right for cosine, now puts the *worst*
# matches on top:

# %%
searchable.add_faiss_index("embeddings", index_name="l2_default")
l2_scores, l2_examples = searchable.get_nearest_examples("l2_default", query_embeddings[0], k=5)
print("L2 'scores':", np.round(l2_scores, 3), "= 2 - 2 cos:", np.round(2 - 2 * scores, 3))
print("sorted as if higher were better:", np.round(np.sort(l2_scores)[::-1], 3), "<- best match now last")

# %% [markdown]
# ## More pitfalls of the datasets API
#
# **Pitfall 2:** `get_nearest_examples` wants one query as a 1-D NumPy array; a Python list fails,
# and so does a batch. **Pitfall 3:** the batch call is a different method,
# `get_nearest_examples_batch`. **Pitfall 4:** a dataset with an index attached cannot be saved;
# drop the index first (and save the FAISS index itself with `save_faiss_index`).

# %%
for attempt, query in [("a Python list", query_embeddings[0].tolist()), ("a batch of 3", query_embeddings[:3])]:
    try:
        searchable.get_nearest_examples("embeddings", query, k=3)
    except (AttributeError, ValueError) as error:
        print(f"{attempt}: {type(error).__name__}: {error}")
batch_scores, batch_examples = searchable.get_nearest_examples_batch("embeddings", query_embeddings[:3], k=3)
print("batch call:", len(batch_examples), "result sets; first scores", np.round(batch_scores[0], 3))
with tempfile.TemporaryDirectory() as folder:
    try:
        searchable.save_to_disk(folder)
    except ValueError as error:
        print("save_to_disk:", error)
    searchable.save_faiss_index("embeddings", f"{folder}/embeddings.faiss")
    searchable.drop_index("embeddings")
    searchable.drop_index("l2_default")
    searchable.save_to_disk(f"{folder}/dataset")
    print("after drop_index: saved;", "FAISS index file written separately")

# %% [markdown]
# ## All the methods, one table
#
# Every index in the package shares the contract `add(embeddings) -> index`,
# `search(queries, k) -> (scores, ids)`, so one function can build and measure them all against
# exact search. FAISS's own LSH (`IndexLSH`) keeps one long binary code per item and scans all
# of them by Hamming distance; `IndexBinaryMultiHash` is the bucketed multi-table design of our
# `LSHIndex`; HNSW is a graph that walks towards the query.

# %%
def builders(n_bits, n_tables):
    return {
        "CosineIndex (exact)": lambda: t.CosineIndex(),
        "FAISS FlatIP (exact)": lambda: FlatIPIndex(),
        f"LSHIndex {n_bits}b x {n_tables}t": lambda: t.LSHIndex(n_bits=n_bits, n_tables=n_tables),
        "FAISS IndexLSH 256b": lambda: FaissLSHIndex(n_bits=256),
        "FAISS IndexLSH 256b + rerank": lambda: FaissLSHIndex(n_bits=256, rerank=100),
        f"FAISS MultiHash {n_bits}b x {n_tables}t": lambda: MultiHashIndex(n_bits=n_bits, n_tables=n_tables, shortlist=200),
        "FAISS HNSW M=16": lambda: HNSWIndex(M=16, ef_construction=40, ef_search=64),
    }


def show(rows, title):
    print(f"{title}\n{'method':<32}{'recall@10':>10}{'query ms':>10}{'scanned':>9}{'MB':>7}")
    for row in rows:
        scanned = "" if np.isnan(row["scanned"]) else f"{row['scanned']:.0%}"
        print(f"{row['method']:<32}{row['recall']:>10.3f}{row['latency_ms']:>10.3f}{scanned:>9}{row['bytes'] / 2**20:>7.2f}")


image_rows = t.evaluation.compare_indexes(builders(8, 10), candidate_embeddings, query_embeddings, k=10)
show(image_rows, f"image embeddings: {len(candidate_embeddings)} candidates, {len(query_embeddings)} queries")

# %% [markdown]
# With a few hundred candidates everything is fast and exact search is hard to beat: there is
# nothing to save. The differences appear at scale. A **synthetic** set (clearly not images:
# 10,000 random unit vectors of dimension 768 in 200 clusters, neighbours at cosine ≈ 0.85):

# %%
synthetic = t.evaluation.clustered_vectors(10_200, 768, n_clusters=200, spread=0.4, seed=0)
synthetic_rows = t.evaluation.compare_indexes(builders(12, 20), synthetic[:10_000], synthetic[10_000:], k=10)
show(synthetic_rows, "SYNTHETIC: 10,000 clustered vectors, d=768, 200 queries")

# %%
figure = t.plotting.plot_recall_vs_latency({"image embeddings": image_rows, "SYNTHETIC 10k x 768": synthetic_rows},
                                           note="(the image embeddings use 8 bits x 10 tables)")

# %%
by_name = {row["method"]: row for row in synthetic_rows}
assert by_name["FAISS FlatIP (exact)"]["recall"] == 1.0 and by_name["CosineIndex (exact)"]["recall"] == 1.0
assert by_name["FAISS IndexLSH 256b + rerank"]["recall"] > by_name["FAISS IndexLSH 256b"]["recall"]

# %% [markdown]
# Read the synthetic table: the exact indexes are the reference (recall 1); `IndexLSH` alone ranks
# by an *estimate* of cosine, so its recall is low until a re-rank fixes the order; the bucketed
# indexes scan a small share; HNSW usually gives the best recall for the time on a CPU. The full
# benchmark (`make benchmark`) repeats this at 1k, 10k and 100k with build times and batch
# throughput.
#
# ## At a million, and at a billion, images
#
# Memory decides what is possible. Per vector of dimension 768:

# %%
per_vector = {"float32 vector (exact, HNSW adds ~M x 8 B of links)": 768 * 4, "float16 vector": 768 * 2,
              "256-bit binary code (IndexLSH)": 256 // 8, "PQ, 64 sub-vectors x 8 bits": 64}
for name, nbytes in per_vector.items():
    print(f"{name:<52}{nbytes:>6} B   1M images: {nbytes * 1e6 / 2**30:8.2f} GiB   "
          f"1B images: {nbytes * 1e9 / 2**40:8.2f} TiB")

# %% [markdown]
# A million float32 vectors (3 GiB) fit in one machine's memory, and exact search over them takes
# tens of milliseconds per query: often good enough. A billion (2.8 TiB) do not. Binary codes and
# **product quantisation** (PQ: split the vector into 64 pieces and store, for each, the id of
# the nearest of 256 learned centroids, one byte) shrink that by 50–100×, at a cost in recall
# that a re-rank over a shortlist buys back. FAISS combines PQ with an inverted file (IVF-PQ) or
# a graph so that a query touches only a few lists. Measure PQ on the synthetic set:

# %%
pq = faiss.IndexPQ(768, 64, 8, faiss.METRIC_INNER_PRODUCT)
pq.train(synthetic[:10_000])
pq.add(synthetic[:10_000])
_, pq_ids = pq.search(synthetic[10_000:], 10)
_, true_synthetic = t.CosineIndex().add(synthetic[:10_000]).search(synthetic[10_000:], 10)
_, pq_shortlist = pq.search(synthetic[10_000:], 100)
reranked = t.evaluation.rerank_shortlists(synthetic[10_000:], synthetic[:10_000], pq_shortlist, 10)
print(f"PQ 64 x 8 bits: {pq.sa_code_size()} B per vector (vs {768 * 4} B), recall@10 {t.recall_at_k(pq_ids, true_synthetic):.3f}; "
      f"re-ranking its top 100 by exact cosine: {t.recall_at_k(reranked, true_synthetic):.3f}")

# %% [markdown]
# ## Exercises
#
# **1.** HNSW's `ef_search` sets how wide the graph search looks. Measure recall@10 and query
# time on the synthetic set for `ef_search` = 8, 16, 32, 64, 128.
#
# **2.** `add_faiss_index` also accepts a FAISS *factory string*. Add an HNSW index to the dataset
# with `string_factory="HNSW32"` and the inner-product metric, and compare its top-10 with exact.
#
# **3.** Your collection: how much memory would 50 million images need as float32 vectors of
# dimension 384, and as 64-byte PQ codes?
#
# ### Solutions

# %%
# 1.
_, true_ids_synthetic = t.CosineIndex().add(synthetic[:10_000]).search(synthetic[10_000:], 10)
hnsw = HNSWIndex(M=16, ef_construction=40).add(synthetic[:10_000])
for ef in (8, 16, 32, 64, 128):
    hnsw.ef_search = ef
    _, found = hnsw.search(synthetic[10_000:], 10)
    seconds = t.evaluation.time_per_query(lambda query: hnsw.search(query, 10), synthetic[10_000:10_050])
    print(f"ef_search={ef:>3}: recall@10 {t.recall_at_k(found, true_ids_synthetic):.3f}, {seconds * 1e3:.3f} ms")

# %%
# 2.
searchable.add_faiss_index("embeddings", index_name="hnsw", string_factory="HNSW32",
                           metric_type=faiss.METRIC_INNER_PRODUCT)
_, hnsw_ids = dataset_search(searchable, query_embeddings, k=10, index_name="hnsw")
print("recall@10 of the dataset's HNSW index:", t.recall_at_k(hnsw_ids, exact_ids))

# %%
# 3.
print(f"float32: {50e6 * 384 * 4 / 2**30:.0f} GiB; PQ 64 B: {50e6 * 64 / 2**30:.1f} GiB")
