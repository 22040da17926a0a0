# %% [markdown]
# # 12 · Past one machine: near-duplicates, and the same LSH on Apache Spark
#
# Two things you need once the collection outgrows a laptop:
#
# 1. **near-duplicate detection**, "find every pair of near-identical photos", the job where LSH
#    earns its keep: all pairs cost n (n - 1) / 2 comparisons, LSH proposes a few candidate
#    pairs and exact cosine verifies them;
# 2. **Apache Spark**: the same ideas on a cluster. It runs here in *local mode* on 2 cores, and
#    the very same code runs on a cluster by changing one setting.
#
# We end with a cost model on paper for a **billion** images, next to how far one machine goes.
#
# **Data.** The course's bean leaves (whichever mode's dataset is loaded) and its encoder, with
# augmented copies whose duplicate pairs we know; and, for everything about growth and speed,
# `synthetic.realistic_embeddings` (labelled SYNTHETIC wherever it appears).

# %%
import sys

if "google.colab" in sys.modules:
    %pip install -q "imgsim-tutorial[scale] @ git+https://github.com/imgsim-tutorial/imgsim-tutorial"
    import shutil
    if shutil.which("java") is None:  # Spark needs Java 17; Colab can install it in a minute
        !apt-get install -y -qq openjdk-17-jre-headless > /dev/null

# %%
import time
import warnings

import numpy as np

import imgsim_tutorial as t
from imgsim_tutorial.data.augment import augmented_copies, known_duplicate_pairs
from imgsim_tutorial.data.synthetic import realistic_embeddings
from imgsim_tutorial.neardup import brute_force_pairs, compare_pairs, near_duplicate_pairs, plant_near_copies
from imgsim_tutorial.teaching import exercise_book, plotting

course = t.load_course()
leaves = course.candidate_images
print(f"{len(leaves)} leaves, embeddings {course.candidate_embeddings.shape}")

# %% [markdown]
# ## 1 · Near-duplicates with a known answer
#
# Real collections hold the same photo many times: cropped, slightly rotated, brightened, saved
# again as JPEG. `augmented_copies` makes such a copy of 60 leaves (15 of each edit); appended
# after the originals, they give a collection whose duplicate pairs we know: every
# (original, copy) pair.

# %%
copies, sources, kinds = augmented_copies(leaves, n_sources=60, seed=0)

# %%
embeddings = np.vstack([course.candidate_embeddings, course.embed_images(copies)])  # in a separate process
truth = known_duplicate_pairs(sources, n_originals=len(leaves))
kinds = np.array(kinds)
print(f"collection: {len(embeddings)} embeddings, {len(truth)} known duplicate pairs")
figure = plotting.show_images([leaves[sources[c]] for c in range(4)] + copies[:4],
                                [f"original {sources[c]}" for c in range(4)] + list(kinds[:4]), ncols=4, size=1.5)

# %% [markdown]
# **The oracle: all pairs.** `brute_force_pairs` compares every pair by blocked matrix products
# (memory bounded, one block of scores at a time) and keeps those at cosine >= a threshold.
# **LSH:** `near_duplicate_pairs` hashes every embedding into `n_tables` tables of `n_bits`
# hyperplanes; two embeddings that share a bucket in any table are a *candidate pair*, and each
# candidate pair is verified by its exact cosine. So every pair it returns is right (precision
# 1.0 against brute force); what it can lose is recall.

# %%
THRESHOLD = 0.97
exact_pairs = brute_force_pairs(embeddings, THRESHOLD)
lsh_pairs = near_duplicate_pairs(embeddings, THRESHOLD, n_bits=12, n_tables=16, center=True, seed=0)
vs_brute = compare_pairs(lsh_pairs, exact_pairs)
n_all = len(embeddings) * (len(embeddings) - 1) // 2
print(f"brute force: {n_all:,} pairs compared, {len(exact_pairs):,} at cosine >= {THRESHOLD}")
print(f"LSH: {lsh_pairs.stats['n_candidate_pairs']:,} candidate pairs verified "
      f"({lsh_pairs.stats['share_compared']:.1%} of all), {len(lsh_pairs):,} found")
print(f"LSH vs brute force: recall {vs_brute['recall']:.3f}, precision {vs_brute['precision']:.3f}")
assert vs_brute["precision"] == 1.0 and vs_brute["recall"] > 0.9

# %% [markdown]
# Now against the **known** duplicates. Recall: how many copies were found. Precision: how many
# of the pairs found are real copies.

# %%
vs_truth = compare_pairs(exact_pairs, truth)
found = set(map(tuple, exact_pairs.as_array().tolist()))
print(f"brute force at {THRESHOLD} vs the known pairs: recall {vs_truth['recall']:.3f}, "
      f"precision {vs_truth['precision']:.3f}")
for kind in ("crop", "rotate", "brightness", "jpeg"):
    pairs = truth[kinds[truth[:, 1] - len(leaves)] == kind]
    print(f"  {kind:10s}: {np.mean([tuple(p) in found for p in pairs.tolist()]):.0%} of its copies found")
copy_cosines = np.sum(embeddings[truth[:, 0]] * embeddings[truth[:, 1]], axis=1)
assert vs_truth["precision"] < 0.5  # the finding below: most pairs above the threshold are not copies

# %% [markdown]
# **What this shows.** The pairs found are exactly the pairs above the threshold, but most of
# them are *different* leaves. The course encoder was trained to tell diseases apart, so it
# maps two healthy leaves on similar backgrounds almost onto the same point: to it they are as
# alike as a photo and its JPEG copy. A near-duplicate finder is only as good as its notion of
# "same photo": LSH finds the pairs the embedding calls close, fast; whether those are copies is
# the embedding's job (instance-level descriptors, or a model trained to tell copies apart).
# Below: copies that were found, the closest pairs that are *not* copies, and the copies with
# the lowest cosine (the hardest misses; each title names the edit and the cosine).

# %%
known = set(map(tuple, truth.tolist()))
found_copies = [(i, j, c) for i, j, c in exact_pairs if (i, j) in known][:4]
not_copies = [(i, j, c) for i, j, c in exact_pairs if (i, j) not in known][:4]
image_of = lambda row: leaves[row] if row < len(leaves) else copies[row - len(leaves)]
figure = plotting.show_images([image_of(row) for i, j, _ in found_copies for row in (i, j)],
                                [f"{kinds[j - len(leaves)]} {c:.4f}" for _, j, c in found_copies for _ in (0, 1)],
                                ncols=8, size=1.3)
figure = plotting.show_images([image_of(row) for i, j, _ in not_copies for row in (i, j)],
                                [f"{c:.4f}" for _, _, c in not_copies for _ in (0, 1)], ncols=8, size=1.3)
hardest = np.argsort(copy_cosines)[:4]
figure = plotting.show_images([image_of(row) for p in hardest for row in truth[p]],
                                [f"{kinds[truth[p, 1] - len(leaves)]} {copy_cosines[p]:.3f}" for p in hardest
                                 for _ in (0, 1)], ncols=8, size=1.3)

# %% [markdown]
# ## 2 · Time against brute force as the collection grows (SYNTHETIC)
#
# Brute force compares every pair: its work grows with n². LSH hashes every item (n times the
# tables) and compares only the pairs that share a bucket. Here: realistic synthetic embeddings
# (768-d) with 1% planted near-copies at cosine 0.92-0.995, threshold 0.9, LSH with 20 bits x
# 32 tables on centred embeddings; NumPy and FAISS on one thread, timed in 3 interleaved rounds
# (`t.compare_speeds`, median of each), so that
# the two compare as algorithms.

# %%
growth = []
for n in (2_000, 5_000, 10_000):
    base, _ = realistic_embeddings(n - n // 100, 768, seed=0)
    collection, planted = plant_near_copies(base, n // 100, cosine_range=(0.92, 0.995), seed=1)
    reference = brute_force_pairs(collection, 0.9)
    pairs = near_duplicate_pairs(collection, 0.9, n_bits=20, n_tables=32, center=True)
    # The course's timing protocol: 3 interleaved rounds on one thread, the median of each.
    speeds = t.compare_speeds({"brute": lambda: brute_force_pairs(collection, 0.9),
                               "LSH": lambda: near_duplicate_pairs(collection, 0.9, n_bits=20, n_tables=32,
                                                                   center=True)}, threads=1, rounds=3, warmup=0)
    brute_s, lsh_s = speeds["brute"]["median_s"], speeds["LSH"]["median_s"]
    growth.append((n, brute_s, lsh_s, compare_pairs(pairs, reference)["recall"], pairs.stats["share_compared"]))
    print(f"n={n:>6,}: brute force {brute_s:5.2f} s, LSH {lsh_s:5.2f} s, recall vs brute {growth[-1][3]:.3f}, "
          f"LSH verified {growth[-1][4]:.3%} of the pairs")
(n_small, brute_small, lsh_small, *_), (n_large, brute_large, lsh_large, *_) = growth[0], growth[-1]
brute_power = np.log(brute_large / brute_small) / np.log(n_large / n_small)
lsh_power = np.log(lsh_large / lsh_small) / np.log(n_large / n_small)
print(f"from n={n_small:,} to n={n_large:,}: brute force's time grew like n^{brute_power:.2f}, "
      f"LSH's like n^{lsh_power:.2f}; at n={n_large:,} LSH took {lsh_large / brute_large:.0%} of brute force's time")
assert growth[-1][3] > 0.85 and growth[-1][4] < 0.01
assert brute_power > lsh_power + 0.3 and brute_large > 2 * lsh_large  # the two sentences below

# %% [markdown]
# Read the two exponents. Brute force's work grows like n²; its measured time can grow more
# slowly at sizes this small, because BLAS runs small matrix products below its peak speed. LSH's
# time grew markedly more slowly than brute force's, and at the largest size it already took well under half of
# brute force's time (both printed above). The gap widens with n: at a million images brute force
# compares 5 x 10^11 pairs, while LSH's work stays close to n times its tables. Where exactly LSH
# starts to pay depends on the machine's BLAS; measure it on yours.
#
# ## 3 · Apache Spark
#
# Spark runs a program over a *cluster*: a driver plans the work and executors, each with some
# cores and memory, run it on slices of a DataFrame. In local mode the driver and executors are
# threads of one Java process on this machine. `t.spark_session()` starts one bound to
# 127.0.0.1, with the web UI off and quiet logs (Java 17 is required: it says how to install it
# if missing). We stop it in the last cell of the notebook. Java may print a line or two while it
# starts (an incubator module, a missing native BLAS): harmless.

# %%
started = time.perf_counter()
spark = t.spark_session()  # local[2]; SPARK_MASTER or spark_session("spark://host:7077") for a cluster
print(f"Spark {spark.version}, master {spark.sparkContext.master}, started in {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ### The same data through our LSHIndex and through Spark
#
# Spark ML has one LSH for vectors, `BucketedRandomProjectionLSH`. It is *not* our LSH:
#
# | | our `LSHIndex` | Spark's `BucketedRandomProjectionLSH` |
# |---|---|---|
# | hash | sign of `n_bits` hyperplanes (cosine) | `floor(r . x / bucket_length)`, p-stable (Euclidean) |
# | per table | `n_bits` functions AND-ed into one code | **one** function: the bucket is a slab |
# | probes | `n_probes` buckets: its own + the nearest others | **single probe**: own bucket only |
# | score | re-ranked by exact cosine | exact Euclidean distance |
#
# For unit vectors |a - b|² = 2 - 2 cos(a, b), so the Euclidean order is the cosine order and
# `SparkLSHIndex` turns distances back into true cosines. One slab per table is the problem:
# a slab along one random direction holds a large share of the collection, and thinner slabs
# split true neighbours apart. SYNTHETIC data, 1,000 x 128, 20 queries (Spark's join shuffles
# every candidate with its vector, so we keep it small here):

# %%
spark_data, spark_queries = realistic_embeddings(1000, 128, n_queries=20, seed=0)
_, exact_ids = t.CosineIndex().add(spark_data).search(spark_queries, 10)
ours = t.LSHIndex(n_bits=8, n_tables=16, n_probes=5, center=True, seed=0).add(spark_data)
_, our_ids, our_stats = ours.search_with_stats(spark_queries, 10)
print(f"LSHIndex 8 bits x 16 tables x 5 probes: recall@10 {t.recall_at_k(our_ids, exact_ids):.3f}, "
      f"scans {our_stats['n_candidates'].mean() / len(spark_data):.1%}")
spark_results = {}
for bucket_length in (0.02, 0.05, 0.15):
    index = t.SparkLSHIndex(bucket_length=bucket_length, n_tables=8, seed=0).add(spark_data)
    with warnings.catch_warnings():
        # thin slabs leave some queries short of k: counted as misses
        warnings.simplefilter("ignore", t.ShortResultWarning)
        spark_scores, spark_ids, spark_stats = index.search_with_stats(spark_queries, 10)
    spark_results[bucket_length] = (t.recall_at_k(spark_ids, exact_ids),
                                    spark_stats["n_candidates"].mean() / len(spark_data))
    print(f"Spark bucket_length {bucket_length:<4} x 8 tables: recall@10 {spark_results[bucket_length][0]:.3f}, "
          f"scans {spark_results[bucket_length][1]:.1%}")
found_mask = spark_ids >= 0
true_cosines = np.einsum("qd,qkd->qk", spark_queries, spark_data[np.clip(spark_ids, 0, None)])
print("Spark's scores are true cosines:", np.allclose(spark_scores[found_mask], true_cosines[found_mask], atol=1e-5))

# %%
recalls = [recall for recall, _ in spark_results.values()]
assert recalls == sorted(recalls)  # wider slabs: more candidates, more recall
our_recall, our_share = t.recall_at_k(our_ids, exact_ids), our_stats["n_candidates"].mean() / len(spark_data)
# the sentence below: wherever Spark reaches our recall, it scans over twice our share to do it
assert all(recall < our_recall or share > 2 * our_share for recall, share in spark_results.values())
assert np.allclose(spark_scores[found_mask], true_cosines[found_mask], atol=1e-5)

# %% [markdown]
# Read the numbers: to reach the recall our tables reach, Spark has to scan a far larger share
# of the collection, because a single slab cannot be narrow and keep neighbours together at the
# same time. AND-concatenation (several functions per table) is what makes a bucket both small
# and likely to hold the neighbours; multi-probe recovers neighbours cut off by a boundary.
# Spark offers neither, so on a cluster one pays in candidates (and shuffle) instead.
#
# ### Near-duplicates on Spark
#
# `spark_near_duplicates` runs Spark's `approxSimilarityJoin` of the collection with itself:
# the cosine threshold becomes a distance threshold d = sqrt(2 - 2 cos). Checked against the
# brute-force pairs:

# %%
spark_collection, spark_truth = plant_near_copies(spark_data, 20, seed=1)
spark_reference = brute_force_pairs(spark_collection, 0.9)
started = time.perf_counter()
spark_pairs = t.spark_near_duplicates(spark_collection, 0.9, bucket_length=0.08, n_tables=8)
spark_quality = compare_pairs(spark_pairs, spark_reference)
print(f"approxSimilarityJoin: {len(spark_pairs)} pairs in {time.perf_counter() - started:.1f} s; vs brute force "
      f"({len(spark_reference)} pairs): recall {spark_quality['recall']:.3f}, "
      f"precision {spark_quality['precision']:.3f}")
assert spark_quality["precision"] == 1.0 and spark_quality["recall"] > 0.8

# %% [markdown]
# ### The same code on a cluster
#
# Nothing above is specific to local mode. On a cluster, set the master and the address the
# executors can reach the driver at, and read the embeddings from shared storage instead of
# NumPy (for example Parquet files written by the embedding job):
#
# ```python
# # export SPARK_MASTER=spark://head-node:7077      (or yarn, or k8s://https://...)
# spark = t.spark_session(driver_host="10.0.0.5")
# index = t.SparkLSHIndex(bucket_length=0.15, n_tables=8).add(embeddings)
# ```
#
# ## 4 · A billion images, on paper
#
# Sizes for n = 10⁹ images of 768-d embeddings. Spark keeps a `DenseVector` as float64, and its
# similarity join *explodes* every row once per table and shuffles it **with its vector**.

# %%
n_images, dim, n_tables = 10**9, 768, 8
TB = 1e12
float32_tb = n_images * dim * 4 / TB
spark_tb = n_images * dim * 8 / TB  # DenseVector doubles
shuffle_tb = 2 * n_images * n_tables * (dim * 8 + 64) / TB  # both sides of a self-join, ~64 B of keys per row
executor_gb, usable = 64, 0.5  # memory per executor, share usable for cached data
executors = spark_tb * 1000 / (executor_gb * usable)
brute_pairs = n_images * (n_images - 1) / 2
brute_core_years = brute_pairs * 2 * dim / 50e9 / 3600 / 24 / 365  # 50 GFLOP/s per core
print(f"embeddings: {float32_tb:.1f} TB as float32, {spark_tb:.1f} TB as Spark doubles")
print(f"similarity-join shuffle, {n_tables} tables: {shuffle_tb:,.0f} TB")
print(f"to cache the vectors: about {executors:,.0f} executors of {executor_gb} GB")
print(f"brute-force pairs: {brute_pairs:.1e} cosines = {brute_core_years:,.0f} core-years")

# %% [markdown]
# The shuffle (about 100 TB) dwarfs the data. At this scale one would (1) shrink the vectors
# first (PCA to 128-d, or product quantisation to 16-64 bytes), (2) join on ids and hashes
# only and fetch vectors afterwards, (3) use AND-ed codes so that buckets stay small.
#
# **How far one machine goes.** FAISS IVF-PQ (notebook 08) stores a 16-byte code and ids per
# vector. Training its codebooks takes tens of seconds at 50,000 (the build column below) and
# grows with n, so we read the benchmark's stored
# measurement (STORED, SYNTHETIC, at 50,000 x 768, not 1M) and scale its memory per image:

# %%
import json
from importlib import resources

stored = json.loads((resources.files("imgsim_tutorial") / "assets" / "measured" / "beyond_lsh_50000.json").read_text())
ivf_pq = [row for row in stored["rows"] if row["method"].startswith("FAISS IVF-PQ")]
print(f"STORED, {stored['data']}, n={stored['n']:,} x {stored['dim']}, measured {stored['measured_at']}")
for row in ivf_pq:
    print(f"  {row['method']:18s} {row['setting']:24s} recall@10 {row['recall']:.3f}  {row['latency_ms']:.2f} ms/query"
          f" ({row['speedup']:.1f}x exact, same rounds)  {row['bytes_per_image']:.0f} B/image  built in "
          f"{row['build_s']:.0f} s")
codes_only = min(row["bytes_per_image"] for row in ivf_pq)  # includes centroids and codebooks shared by all
print(f"-> 1M images: at most {codes_only * 1e6 / 1e9:.2f} GB; 1B images: at most {codes_only * 1e9 / 1e12:.2f} TB "
      f"(vs {float32_tb:.1f} TB as float32)")
assert codes_only < 100

# %% [markdown]
# So one machine with 128 GB holds about two billion PQ codes, but not their float vectors. PQ's
# recall alone is far below exact (16 bytes cannot tell near-tied neighbours apart); the re-ranked
# rows reach about 0.9 by keeping the full vectors (3 KB per image) somewhere. Spark is the tool for the *batch* jobs (embedding a billion
# images, joining for near-duplicates) and FAISS for serving queries.
#
# ## Closing note: what was measured
#
# - **Augmented leaves** (the course's photos and their edited copies): LSH returns nearly all the
#   pairs brute force returns (recall over 0.9, asserted) and verifies only some of all pairs. Against the
#   *known* copies most pairs above the threshold are not copies (precision under one half,
#   asserted): the encoder, trained on diseases, calls many distinct leaves as close as copies.
# - **Growth (SYNTHETIC, planted copies)**: LSH finds nearly all brute-force pairs while
#   verifying a small share of them, and its time grows with a smaller exponent of n than brute
#   force's (both exponents printed and asserted in section 2).
# - **Spark (SYNTHETIC)**: wherever `SparkLSHIndex` reaches our `LSHIndex`'s recall it scans over
#   twice the share of the collection (asserted); `spark_near_duplicates` matches brute force.
#   Spark's start-up and per-job overhead are seconds (the timings printed above): it pays off
#   on a cluster, not on one machine.

# %% [markdown]
# ## Your turn
#
# Four exercises, marked by difficulty: ★ one idea, ★★ a few lines, ★★★ build, measure and
# compare. Replace the `None`, run the cell, read the verdict; run `ex.hint(n)` for a hint and
# `ex.hint(n, level=2)` for a closer one. The check works the answer out from your own objects
# and never shows it. Solutions: `%load solutions/12_ex1.py` (and so on) in a new cell.

# %%
ex = exercise_book.notebook("12")
ex

# %% [markdown]
# **Exercise 1 ★.** The distance threshold `approxSimilarityJoin` needs for cosine 0.95 (unit
# vectors).

# %% tags=["exercise"]
answer_distance = None  # your code here: a Euclidean distance
ex.check(1, answer_distance)

# %% [markdown]
# **Exercise 2 ★.** How many pairs must brute force compare for one million images?

# %% tags=["exercise"]
answer_pairs = None  # your code here: a number of pairs
ex.check(2, answer_pairs)

# %% [markdown]
# **Exercise 3 ★★★ (predict, then measure).** The weakest planted copy in section 2 has cosine
# 0.92. *Predict* with `t.any_table_collision_probability` the chance that a pair at cosine 0.92
# shares a bucket in at least one of 32 tables of 20 bits. Then *measure* it: plant 500 copies at
# exactly that cosine in a SYNTHETIC collection (`realistic_embeddings(2_000, 768, seed=2)`,
# then `plant_near_copies(base, 500, cosine_range=(0.92, 0.92), seed=1)`), run
# `near_duplicate_pairs(collection, 0.9, n_bits=20, n_tables=32)` on it as it is (not centred),
# and count the share of the planted pairs among the pairs it returns. Section 2 measured a
# recall of 0.95-0.98 with the same tables, above your prediction: why? (Its copies range from
# 0.92 up to 0.995.) And what does hashing centred embeddings (`center=True`) do to the share?

# %% tags=["exercise"]
answer_predicted = None  # your code here: the formula's chance for one pair at cosine 0.92
copies_092, pairs_092 = None, None  # your code here: plant_near_copies(...) -> collection, planted pairs
answer_measured = None  # your code here: the share of the planted pairs found
ex.check(3, answer_predicted, answer_measured, collection=copies_092, planted=pairs_092)

# %% [markdown]
# **Exercise 4 ★★.** On the 10,000-embedding collection of section 2 (`collection`; its
# brute-force pairs are `reference`), find settings of `near_duplicate_pairs(collection, 0.9,
# ...)` that reach recall >= 0.97 against brute force while verifying under 0.5% of all pairs.
# Give them as a dict of its keywords, e.g. `{"n_bits": ..., "n_tables": ..., "center": True}`;
# the check runs the finder with them.

# %% tags=["exercise"]
answer_settings = None  # your code here: a dict of near_duplicate_pairs settings
ex.check(4, answer_settings, collection=collection)

# %% [markdown]
# ## Stop Spark
#
# A Spark session holds a Java process and its memory until stopped.

# %%
spark.stop()
from pyspark.sql import SparkSession

assert SparkSession.getActiveSession() is None
print("Spark stopped")
