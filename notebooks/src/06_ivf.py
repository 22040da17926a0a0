# %% [markdown]
# # 06 · Learned buckets: IVF
#
# LSH (notebooks 04 and 05) throws random hyperplanes at the data and hopes neighbours land
# together. Production engines learn their buckets from the data instead. This notebook builds
# the **inverted file (IVF)** by hand: k-means finds cells where the embeddings are, every
# embedding goes into the list of its cell, and a query scans only the few lists nearest to it.
# It checks the result against FAISS's `IndexIVFFlat`, and measures where learned cells beat
# random ones, and where they do not. Notebook 07 links embeddings into a graph instead, and
# 08 compresses them.
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
import warnings

import faiss
import matplotlib.pyplot as plt
import numpy as np

import imgsim_tutorial as t
from imgsim_tutorial.data.synthetic import embedding_statistics, realistic_embeddings
from imgsim_tutorial.ivf import IVFIndex, spherical_kmeans
from imgsim_tutorial.teaching import exercise_book
from imgsim_tutorial.teaching.diagrams import ivf_diagram
from imgsim_tutorial.widgets import PartitionExplorer

warnings.filterwarnings("ignore", message=".*fewer than k.*")  # short result lists show up as lower recall
faiss.omp_set_num_threads(1)  # FAISS on one thread, like our single-query timings (and kind to a shared machine)
N, K = 10_000, 10
embeddings, queries = realistic_embeddings(N, 768, n_queries=100, seed=0)
exact = t.CosineIndex().add(embeddings)
exact_scores, exact_ids = exact.search(queries, K)  # the oracle
stats = embedding_statistics(embeddings, queries)
print(f"SYNTHETIC {embeddings.shape}: random-pair cosine {stats['random_pair_cosine']:.2f}, top-1 cosine "
      f"{stats['top1_cosine']:.2f}, gap between 10th and 11th neighbour {stats['gap_k_k1']:.4f}")

# %% [markdown]
# ## k-means cells, by hand
#
# **k-means** finds `n_lists` centroids that sit where the data is. We compare by cosine, so we
# use *spherical* k-means: (a) assign each unit vector to the centroid with the largest dot
# product, (b) move each centroid to the normalised mean of its members, repeat. One step by
# hand, then the package's `spherical_kmeans` for the same step:

# %%
n_lists = 100
rng = np.random.default_rng(0)
centroids = embeddings[rng.choice(N, n_lists, replace=False)]           # start at random data points
assignment = np.argmax(embeddings @ centroids.T, axis=1)               # (a) nearest centroid
sums = np.zeros_like(centroids)
np.add.at(sums, assignment, embeddings)                                # (b) mean of the members...
by_hand = sums / np.linalg.norm(sums, axis=1, keepdims=True)           # ...scaled to unit length
package = spherical_kmeans(embeddings, n_lists, n_iter=1, seed=0)
print("one Lloyd step by hand = the package's:", np.allclose(by_hand, package, atol=1e-5))
assert np.allclose(by_hand, package, atol=1e-5)

# %% [markdown]
# `IVFIndex` trains the centroids (20 steps), puts every embedding into the *inverted list* of
# its nearest centroid, and at query time scans only the `n_probes` lists whose centroids are
# nearest the query, re-ranking them by exact cosine.

# %%
ivf = IVFIndex(n_lists=n_lists, n_probes=5, seed=0).add(embeddings)
sizes = ivf.list_sizes()
_, ivf_ids, ivf_stats = ivf.search_with_stats(queries, K)
print(f"{n_lists} lists, sizes {sizes.min()}..{sizes.max()} (median {np.median(sizes):.0f}); "
      f"n_probes={ivf.n_probes}: scans {ivf_stats['n_candidates'].mean() / N:.1%}, "
      f"recall@10 {t.recall_at_k(ivf_ids, exact_ids):.3f}")

# %% [markdown]
# **Checked against FAISS.** `faiss.IndexIVFFlat` built on *our* centroids (a flat inner-product
# quantizer holding them, marked as trained) must scan the same lists and return the same ids.

# %%
quantizer = faiss.IndexFlatIP(768)
quantizer.add(ivf.centroids_)
faiss_ivf = faiss.IndexIVFFlat(quantizer, 768, n_lists, faiss.METRIC_INNER_PRODUCT)
faiss_ivf.is_trained = True
faiss_ivf.add(embeddings)
faiss_ivf.nprobe = ivf.n_probes
_, faiss_ids = faiss_ivf.search(queries, K)
same = t.recall_at_k(ivf_ids, faiss_ids)
print(f"FAISS IndexIVFFlat on the same centroids: {same:.1%} of the ids agree")
assert same >= 0.99  # equal up to near ties

# %% [markdown]
# **The structure, drawn.** The same `IVFIndex`, fitted on 160 points of a small patch of the
# unit sphere so that it can be drawn: 8 cells, and a query that probes the 2 nearest. The
# patch is shown in *gnomonic* projection (divide x and y by z), which draws the borders of
# cosine cells, great circles, as straight lines: each cell is the region nearest its centroid.
# Every colour is read from the index's lists, the probed cells from `probed_lists`, the ringed
# points from its candidates.

# %%
figure = ivf_diagram(n_probes=2)

# %% [markdown]
# ## Random wedges vs learned cells
#
# In 2-D, with cosine, every cell is a wedge. Left: LSH's random lines; right: k-means cells.
# Move the number of cells, how many the query probes and its direction: which one scans fewer
# points for the same recall? (The true top-5 are circled; scanned points are dark.)

# %%
explorer = PartitionExplorer(n_cells=6, n_probes=1, query_angle=40)
explorer.widget

# %% [markdown]
# Now in 768-d: recall against the **share of the data scanned**, the work a query does,
# for LSH (several settings) and IVF (more probes).

# %%
lsh_points = []
for n_bits, n_tables, n_probes in [(10, 4, 1), (8, 4, 1), (8, 8, 1), (8, 8, 5), (8, 16, 5)]:
    lsh = t.LSHIndex(n_bits=n_bits, n_tables=n_tables, n_probes=n_probes, seed=0).add(embeddings)
    _, ids, found = lsh.search_with_stats(queries, K)
    lsh_points.append((found["n_candidates"].mean() / N, t.recall_at_k(ids, exact_ids)))
ivf_points = []
for n_probes in (1, 2, 3, 5, 10, 20):
    ivf.n_probes = n_probes
    _, ids, found = ivf.search_with_stats(queries, K)
    ivf_points.append((found["n_candidates"].mean() / N, t.recall_at_k(ids, exact_ids)))
figure, axis = plt.subplots(figsize=(5.6, 3.6), dpi=80)
for name, points in (("LSHIndex", lsh_points), ("IVFIndex", ivf_points)):
    axis.plot(*np.array(sorted(points)).T * [[100], [1]], marker="o", label=name)
axis.set(xscale="log", xlabel="share of the data scanned, % (log)", ylabel="recall@10", ylim=(0, 1.03),
         title=f"SYNTHETIC {N:,} x 768: equal work, different recall")
axis.legend()
figure.tight_layout()
ivf_at = lambda share: np.interp(share, *np.array(sorted(ivf_points)).T)  # IVF's recall at LSH's scanned share
for share, recall in sorted(lsh_points):
    print(f"scanning {share:6.1%}: LSH recall {recall:.3f}, IVF recall {ivf_at(share):.3f}")

# %%
# What you should see: at every share LSH scanned, IVF finds more of the true top-10.
assert all(ivf_at(share) > recall for share, recall in lsh_points if share <= max(s for s, _ in ivf_points))

# %% [markdown]
# **Why learned cells win here.** Real embeddings crowd into a few directions (the random-pair
# cosine above is far from 0). Random hyperplanes cut everywhere alike, so most LSH buckets are
# empty and the full ones mix clusters; k-means puts many small cells where the data is dense,
# so a query's own cell holds mostly its neighbours.
#
# **Where they do not.** Without structure there is nothing to learn. On isotropic random
# vectors (the same size, no clusters) the two partitions do about equally badly:

# %%
noise = rng.standard_normal((N, 768)).astype(np.float32)
noise_queries = rng.standard_normal((100, 768)).astype(np.float32)
_, noise_exact = t.CosineIndex().add(noise).search(noise_queries, K)
noise_ivf = IVFIndex(n_lists=100, n_probes=10, seed=0, n_iter=5).add(noise)
_, ids, found = noise_ivf.search_with_stats(noise_queries, K)
noise_ivf_point = (found["n_candidates"].mean() / N, t.recall_at_k(ids, noise_exact))
_, ids, found = t.LSHIndex(n_bits=8, n_tables=8, n_probes=3, seed=0).add(noise).search_with_stats(noise_queries, K)
noise_lsh_point = (found["n_candidates"].mean() / N, t.recall_at_k(ids, noise_exact))
print(f"random noise: IVF scans {noise_ivf_point[0]:.1%} for recall {noise_ivf_point[1]:.2f}; "
      f"LSH scans {noise_lsh_point[0]:.1%} for recall {noise_lsh_point[1]:.2f}")

# %%
structured_share, structured_recall = sorted(ivf_points)[-2]
print(f"recall per share scanned: IVF {noise_ivf_point[1] / noise_ivf_point[0]:.1f}, LSH "
      f"{noise_lsh_point[1] / noise_lsh_point[0]:.1f} on noise; IVF {structured_recall / structured_share:.1f} "
      "on the realistic set (a random sample of the data would score 1.0)")
assert noise_ivf_point[1] / noise_ivf_point[0] < 1.5 * noise_lsh_point[1] / noise_lsh_point[0]
assert all(1.3 < recall / share < 3 for share, recall in (noise_ivf_point, noise_lsh_point))  # "about twice"

# %% [markdown]
# On noise both find about twice what a random sample of the same size would, and IVF's edge
# over LSH is gone: there were no dense regions to learn. IVF also needs training data that
# looks like what is added later (new kinds of images land in cells learned for others), while
# LSH's hyperplanes exist before any data does.

# %% [markdown]
# ## Your turn
#
# Three exercises, marked by difficulty: ★ one idea, ★★ a few lines, ★★★ build, measure and
# compare. Replace the `None`, run the cell, read the verdict; run `ex.hint(n)` for a hint and
# `ex.hint(n, level=2)` for a closer one. The check works the answer out from your own objects
# and never shows it. Solutions: `%load solutions/06_ex1.py` (and so on) in a new cell.

# %%
ex = exercise_book.notebook("06")
ex

# %% [markdown]
# **Exercise 1 ★★ (predict, then measure).** With `n_probes = 5`, query 0 scans 5 of the 100
# inverted lists of `ivf`. *Predict* the share of the collection it scans if every list held the
# same number of embeddings. Then *measure* it: `ivf.probed_lists(queries[:1], n_probes=5)` names
# the lists it scans and `ivf.list_sizes()` how many embeddings each holds. Why is the
# measurement not the prediction?

# %% tags=["exercise"]
answer_predicted = None  # your code here: the share with lists of equal size
answer_measured = None  # your code here: the share query 0 really scans
ex.check(1, answer_predicted, answer_measured, index=ivf, queries=queries)

# %% [markdown]
# **Exercise 2 ★★★.** Smaller cells or larger ones? Build `IVFIndex(n_lists=400, seed=0)` on
# `embeddings` (cells a quarter the size of `ivf`'s). For each of `ivf` and your new index, find
# the smallest `n_probes` at which recall@10 on `queries` reaches 0.9, and measure the mean share
# of the collection a query then scans. Give `[share with 100 lists, share with 400 lists]`.
# Which scans less for the same recall? Now count the centroids each query compares with too:
# which does less work in all?

# %% tags=["exercise"]
small_cells = None  # your code here: IVFIndex(n_lists=400, seed=0) built on embeddings
answer_shares = None  # your code here: [share with 100 lists, share with 400 lists]
ex.check(2, answer_shares, ivf=ivf, small_cells=small_cells, embeddings=embeddings, queries=queries)

# %% [markdown]
# **Exercise 3 ★.** How unequal are the cells? What share of the collection do the 10 largest of
# `ivf`'s 100 lists hold together? Ten lists of equal size would hold a tenth. What does that mean
# for a query that lands in one of the large cells?

# %% tags=["exercise"]
answer_largest = None  # your code here: a share of the collection
ex.check(3, answer_largest, index=ivf)
