# %% [markdown]
# # 02 · Exact cosine search
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/imgsim-tutorial/imgsim-tutorial/blob/main/notebooks/02_cosine_search.ipynb)
#
# We have one vector per image. Now: given a query vector, which candidate vectors are closest?
# This notebook builds the exact answer. Every faster method later in the course is judged
# against it.

# %%
import sys

if "google.colab" in sys.modules:
    %pip install -q "imgsim-tutorial @ git+https://github.com/imgsim-tutorial/imgsim-tutorial"

# %%
import numpy as np

import imgsim_tutorial as t
from imgsim_tutorial.widgets import QueryGallery, gallery_view

course = t.load_course()  # encoder, data and the embeddings notebook 01 cached; see course.py
candidate_embeddings, query_embeddings = course.candidate_embeddings, course.query_embeddings
candidate_labels, query_labels, label_names = course.candidate_labels, course.query_labels, course.label_names
print(f"{len(candidate_embeddings)} candidates, {len(query_embeddings)} queries, dimension {candidate_embeddings.shape[1]}")

# %% [markdown]
# ## Cosine similarity by hand
#
# Cosine similarity measures the angle between two vectors and ignores their lengths:
#
# $$\cos(a, b) = \frac{a \cdot b}{\lVert a\rVert\,\lVert b\rVert}$$
#
# 1 means same direction, 0 means perpendicular (unrelated), −1 means opposite. Three tiny vectors:
# `b` is `a` made twice as long, `c` points elsewhere.

# %%
a, b, c = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0]), np.array([-3.0, 0.0, 1.0])


def cosine(u, v):
    return u @ v / (np.linalg.norm(u) * np.linalg.norm(v))


by_hand = [cosine(a, b), cosine(a, c)]
print(f"cos(a, b) = {by_hand[0]:.4f}   cos(a, c) = {by_hand[1]:.4f}")

# %%
# NBVAL_CHECK_OUTPUT
from_package = t.cosine_similarity([a], [b, c])[0]
assert np.allclose(by_hand, from_package)
print(from_package.round(4))

# %% [markdown]
# ## Normalise once, then it is just a dot product
#
# If every vector has length 1, the denominator is 1 and cosine similarity *is* the dot product.
# So we scale all candidates to unit length once, and scoring one query against all of them
# becomes a single matrix–vector product; a batch of queries, one matrix–matrix product.
# (`embed_images` already returns unit vectors; `CosineIndex` normalises anyway, so it is safe
# with any vectors.)
#
# Then we need the best `k` scores of each row. Sorting all `n` scores costs `n log n`;
# `np.argpartition` moves the `k` largest to the front in linear time, and we sort only those.
# That is all `CosineIndex` does:

# %%
index = t.CosineIndex().add(candidate_embeddings)
scores, ids = index.search(query_embeddings, k=5)
print("query 0 -> candidates", ids[0], "scores", scores[0].round(3))
print("labels:", [label_names[i] for i in candidate_labels[ids[0]]], "query label:", label_names[query_labels[0]])

# %% [markdown]
# `search` returns `(scores, ids)`, both of shape `(number of queries, k)`, best first. It is an
# **exact** index: it scores every candidate, so it can never miss the true nearest neighbour.
# Check it against a plain NumPy brute force that sorts everything:

# %%
brute_scores = query_embeddings @ candidate_embeddings.T
brute_ids = np.argsort(-brute_scores, axis=1)[:, :5]
assert (brute_ids == ids).mean() > 0.99  # identical except, rarely, the order of exact ties
print("CosineIndex agrees with brute force on", int((brute_ids == ids).all(axis=1).sum()), "of", len(ids), "queries")

# %% [markdown]
# ## See the results
#
# `gallery_view` gathers what there is to show for one query: its image, the top-k candidates
# with labels and scores, and precision@k (the fraction of results with the query's label).
# A static gallery (it also shows on GitHub):

# %%
candidate_images, query_images = course.candidate_images, course.query_images
for q in (0, 1):
    view = gallery_view(index, query_embeddings[q], query_images[q], int(query_labels[q]),
                        candidate_images, candidate_labels, k=6, names=label_names)
    figure = t.plotting.plot_gallery(view)

# %% [markdown]
# And live: move the sliders, or upload a photo of your own (it is embedded with the same
# encoder). Green frames share the query's label, red frames do not.

# %%
gallery = QueryGallery(index, query_embeddings, query_images, query_labels, candidate_images, candidate_labels,
                       embed=course.embed, k=6, names=label_names)
gallery.widget

# %% [markdown]
# ## How good is it over all queries?
#
# precision@k says how many of the k results share the query's label. Mean average precision
# (mAP) also rewards putting the right ones *first*. Both judge the embeddings: the index is
# exact, so any mistake here is the encoder's.

# %%
_, ids_10 = index.search(query_embeddings, k=10)
quality = {f"precision@{k}": t.precision_at_k(candidate_labels[ids_10[:, :k]], query_labels) for k in (1, 5, 10)}
quality["mAP@10"] = t.mean_average_precision(candidate_labels[ids_10], query_labels)
for name, value in quality.items():
    print(f"{name:>13}: {value:.3f}")

# %%
assert quality["precision@5"] > 0.6
if course.mode == "offline":
    assert quality["precision@5"] >= 0.85

# %% [markdown]
# ## The original tutorial's way, measured
#
# The tutorial this course grew from searched one query at a time: a Python loop computed a
# cosine per candidate, stored it in a dictionary, and sorted the whole dictionary.
# `t.naive_search` does exactly that. Same answers?

# %%
naive_ids = np.array([t.naive_search(q, candidate_embeddings, range(len(candidate_embeddings)), k=5)[1]
                      for q in query_embeddings])
print("same top-5 as CosineIndex for", int((naive_ids == ids).all(axis=1).sum()), "of", len(ids), "queries")

# %% [markdown]
# Same answers. Now the time for one query (median of several runs, measured here, now):

# %%
naive_time = t.time_call(t.naive_search, query_embeddings[0], candidate_embeddings,
                         range(len(candidate_embeddings)), k=5, repeats=5)
index_time = t.time_call(index.search, query_embeddings[0], k=5, repeats=25)
batch_time = t.time_call(index.search, query_embeddings, k=5, repeats=5)
print(f"naive dict-and-sort: {naive_time['median_s'] * 1e3:8.3f} ms per query")
print(f"CosineIndex:         {index_time['median_s'] * 1e3:8.3f} ms per query "
      f"({naive_time['median_s'] / index_time['median_s']:.0f}x faster)")
print(f"CosineIndex, batch:  {batch_time['median_s'] / len(query_embeddings) * 1e3:8.3f} ms per query "
      f"when all {len(query_embeddings)} queries go in one call")

# %%
assert (naive_ids == ids).mean() > 0.99
assert naive_time["median_s"] > 5 * index_time["median_s"]

# %% [markdown]
# The benchmarks (`make benchmark`) measure the same kind of gap at 1k, 10k and 100k candidates
# (40–60× per query on a 2-core CPU). Yet even this fast exact search touches every candidate for every query:
# at a million images of 768 floats that is 3 GB read per query. The next notebooks trade a
# little exactness for touching only a small fraction.
#
# ## Exercises
#
# **1.** Find the query with the lowest precision@5 and show its gallery. Do you see why the
# encoder was fooled?
#
# **2.** Write top-k with a full `np.argsort` of the score matrix and check it returns the same
# ids as `CosineIndex`. Then time both for all queries.
#
# **3.** Without normalising, rank candidates for query 0 by the plain dot product
# `candidate @ query`, using embeddings made with `normalize=False`. Is the order the same as
# by cosine? Why (not)?
#
# ### Solutions

# %%
# 1.
per_query = (candidate_labels[ids] == query_labels[:, None]).mean(axis=1)
worst = int(np.argmin(per_query))
print(f"query {worst} ({label_names[query_labels[worst]]}): precision@5 = {per_query[worst]:.2f}")
figure = t.plotting.plot_gallery(gallery_view(index, query_embeddings[worst], query_images[worst],
                                              int(query_labels[worst]), candidate_images, candidate_labels, k=5,
                                              names=label_names))

# %%
# 2.
def top_k_by_sorting(queries_, candidates_, k):
    scores_ = queries_ @ candidates_.T
    return np.argsort(-scores_, axis=1)[:, :k]


assert (top_k_by_sorting(query_embeddings, candidate_embeddings, 5) == ids).mean() > 0.99
print("argsort:", round(t.time_call(top_k_by_sorting, query_embeddings, candidate_embeddings, 5)["median_s"] * 1e3, 2), "ms;",
      "CosineIndex:", round(t.time_call(index.search, query_embeddings, k=5)["median_s"] * 1e3, 2), "ms")

# %%
# 3. The dot product of raw vectors also rewards length: a long candidate vector scores high
#    against everything. Ranks agree only where lengths are similar.
raw_candidates = t.embed_images(candidate_images, course.processor, course.model, normalize=False)
raw_query = t.embed_images([query_images[0]], course.processor, course.model, normalize=False)[0]
by_dot = np.argsort(-(raw_candidates @ raw_query))[:5]
print("by dot product:", by_dot, " by cosine:", ids[0], " same order:", bool((by_dot == ids[0]).all()))
