# %% [markdown]
# # 02 · Exact cosine search
#
# We have one vector per image. Now: given a query vector, which candidate vectors are closest?
# This notebook builds the exact answer. Every faster method later in the course is judged
# against it.

# %%
import sys

if "google.colab" in sys.modules:
    %pip install -q "imgsim-tutorial @ git+https://github.com/imgsim-tutorial/imgsim-tutorial"

# %%
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image, ImageDraw

import imgsim_tutorial as t
from imgsim_tutorial.data.leaves import generate_split
from imgsim_tutorial.teaching import exercise_book, plotting
from imgsim_tutorial.widgets import QueryGallery, gallery_view

course = t.load_course()  # encoder, data and the embeddings notebook 01 cached; see course.py
candidate_embeddings, query_embeddings = course.candidate_embeddings, course.query_embeddings
candidate_labels, query_labels, label_names = course.candidate_labels, course.query_labels, course.label_names
print(f"{len(candidate_embeddings)} candidates, {len(query_embeddings)} queries, "
      f"dimension {candidate_embeddings.shape[1]}")

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

# %% tags=["nbval-check-output"]
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
# **A second oracle: FAISS.** [FAISS](https://github.com/facebookresearch/faiss) is the library
# production systems use for this (notebook 09 looks at it closely). Its exact index for cosine is
# `IndexFlatIP`: a flat list of vectors scored by inner product, which on unit vectors *is* the
# cosine. Later notebooks check every index they build against both oracles, so here is the
# first check: FAISS and `CosineIndex` must return the same neighbours.

# %%
import faiss  # noqa: E402  (introduced here)

flat = faiss.IndexFlatIP(candidate_embeddings.shape[1])  # exact: scores every vector
flat.add(candidate_embeddings.astype(np.float32))
faiss_scores, faiss_ids = flat.search(query_embeddings.astype(np.float32), 5)
agree = (faiss_ids == ids).mean()
print(f"FAISS IndexFlatIP and CosineIndex: {agree:.1%} of the top-5 ids agree; largest score gap "
      f"{np.abs(faiss_scores - scores).max():.1e}")
assert agree > 0.99 and np.allclose(faiss_scores, scores, atol=1e-4)  # the same, up to exact ties

# %% [markdown]
# ## See the results
#
# `gallery_view` gathers what there is to show for one query: its image, the top-k candidates
# with labels and scores, and precision@k (the fraction of results with the query's label).
# A static gallery (it also shows on GitHub):

# %%
candidate_images, query_images = course.candidate_images, course.query_images
_, top6 = index.search(query_embeddings, 6)
precision6 = (candidate_labels[top6] == query_labels[:, None]).mean(axis=1)
worst = int(np.argmin(precision6))  # the query whose top 6 hold the fewest of its own class
print(f"precision@6: query 0 {precision6[0]:.2f}; the lowest of all {len(precision6)} queries: query {worst}, "
      f"{precision6[worst]:.2f}")
for q in (0, worst):
    view = gallery_view(index, query_embeddings[q], query_images[q], int(query_labels[q]),
                        candidate_images, candidate_labels, k=6, names=label_names)
    figure = plotting.plot_gallery(view)

# %% [markdown]
# Above: query 0, and the query whose top 6 hold the fewest leaves of its own class (picked by
# the code from every query's precision@6, both printed). When a query finds few of its own
# class, look at why. Offline, the worst query is an angular-leaf-spot leaf with only a few small
# dark lesions, while the healthy leaves it retrieves carry dark specks of dirt of about the same
# size: seen at the encoder's resolution, it looks like a healthy leaf with specks. The label is
# right; the visual evidence for it is faint. Every leaf the package draws offline comes with a
# mask of its lesions, so offline we can measure how faint (the real photos have no such masks:
# in hub mode, look at the worst query's gallery instead):

# %%
if course.mode == "offline":
    _, drawn_labels, lesion_masks = generate_split(len(query_labels), seed=0, split="test", with_masks=True)
    assert (drawn_labels == query_labels).all(), "offline queries are the test split in order"
    lesion_pixels = (lesion_masks > 0).sum(axis=(1, 2))
    same_class = lesion_pixels[query_labels == query_labels[worst]]
    print(f"query {worst}: {lesion_pixels[worst]} lesion pixels; {label_names[query_labels[worst]]} queries: median "
          f"{np.median(same_class):.0f}, fewest {same_class.min()}; query {worst} is at the "
          f"{(same_class < lesion_pixels[worst]).mean():.0%} point of its class")
    assert label_names[query_labels[worst]] == "angular_leaf_spot" and lesion_pixels[worst] < np.median(same_class)
else:
    print(f"hub mode: the real photos have no lesion masks; look at query {worst}'s gallery above instead")

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
# precision@k says how many of the k results share the query's label. **Average precision at k**
# (AP@k) also rewards putting the right ones *first*. With $\mathrm{rel}_i = 1$ when result $i$ is
# relevant (shares the query's label) and $n_\mathrm{rel}$ the number of relevant items in the
# whole collection:
#
# $$\mathrm{AP@}k = \frac{1}{\min(k,\ n_\mathrm{rel})} \sum_{i=1}^{k} \mathrm{rel}_i \cdot \mathrm{precision@}i$$
#
# and mAP@k is its mean over queries. The divisor matters: divide by the hits *found* instead (a
# common slip) and a list with one hit at rank 1 followed by nine misses scores a
# perfect 1.0; with the standard divisor it scores 1/10. Both measures judge the embeddings: the
# index is exact, so any mistake here is the encoder's.

# %% tags=["nbval-check-output"]
one_hit_then_misses = [0] + [1] * 9  # labels of 10 results for a query of label 0
print("AP@10, one hit at rank 1, 10 relevant in the collection:",
      t.average_precision(one_hit_then_misses, 0, n_relevant=10))
print("AP@3 of hits at ranks 1 and 3, 2 relevant:", round(t.average_precision([0, 1, 0], 0, n_relevant=2), 4),
      "= (1/1 + 2/3) / 2")
assert t.average_precision(one_hit_then_misses, 0, n_relevant=10) == 0.1

# %%
_, ids_10 = index.search(query_embeddings, k=10)
quality = {f"precision@{k}": t.precision_at_k(candidate_labels[ids_10[:, :k]], query_labels) for k in (1, 5, 10)}
quality["mAP@10"] = t.mean_average_precision(candidate_labels[ids_10], query_labels, candidate_labels)
for name, value in quality.items():
    print(f"{name:>13}: {value:.3f}")

# %%
assert quality["precision@5"] > 0.6
assert quality["mAP@10"] <= quality["precision@10"] + 1e-9, "AP@k can only lose to precision@k for misplaced hits"
if course.mode == "offline":
    assert quality["precision@5"] >= 0.85

# %% [markdown]
# ## What score means "no match"?
#
# Exact search always returns `k` results, even for a photo of something that is not a bean leaf
# at all. Can the score tell us when to answer "nothing similar"? Measure it: take images that are
# certainly not leaves (noise, stripes, checkerboards and cartoon faces drawn with PIL), embed
# them with the same encoder, and compare their **top-1 cosine** with that of the leaf queries.

# %%
rng = np.random.default_rng(0)
size = query_images[0].size[0]
non_leaves, non_leaf_kinds = [], []
for i in range(6):
    colours = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(2)]
    non_leaves.append(Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)))
    stripes = Image.new("RGB", (size, size), colours[0])
    width, slant = size // int(rng.integers(8, 24)), size * (i % 3 - 1)
    for x in range(-size, 2 * size, 2 * width):
        ImageDraw.Draw(stripes).polygon([(x, 0), (x + width, 0), (x + width + slant, size), (x + slant, size)],
                                        fill=colours[1])
    board = (np.indices((size, size)) // max(1, size // int(rng.integers(4, 12)))).sum(axis=0) % 2
    face = Image.new("RGB", (size, size), colours[0])
    draw = ImageDraw.Draw(face)
    draw.ellipse([size * 0.15, size * 0.1, size * 0.85, size * 0.9], fill=(230, 180, 140), outline=(60, 40, 30))
    for eye_x in (0.35, 0.65):
        draw.ellipse([size * (eye_x - 0.05), size * 0.38, size * (eye_x + 0.05), size * 0.47], fill=(40, 30, 30))
    draw.arc([size * 0.33, size * 0.55, size * 0.67, size * 0.75], 20, 160, fill=(120, 30, 30), width=3)
    non_leaves += [stripes, Image.fromarray(np.array(colours, dtype=np.uint8)[board]), face]
    non_leaf_kinds += ["noise", "stripes", "checkerboard", "face"]
non_leaf_kinds = np.array(non_leaf_kinds)
figure = plotting.show_images(non_leaves[:8], non_leaf_kinds[:8].tolist(), ncols=8, size=1.2)

# %%
leaf_top1 = index.search(query_embeddings, k=1)[0][:, 0]
non_leaf_top1 = index.search(course.embed_images(non_leaves), k=1)[0][:, 0]  # embedded in a separate process
threshold = float(np.percentile(leaf_top1, 5))  # keep 95 % of real queries
print(f"top-1 cosine of {len(leaf_top1)} leaf queries:     min {leaf_top1.min():.3f}, "
      f"5th percentile {threshold:.3f}, median {np.median(leaf_top1):.3f}")
print(f"top-1 cosine of {len(non_leaf_top1)} non-leaf images: max {non_leaf_top1.max():.3f}, "
      f"median {np.median(non_leaf_top1):.3f}")
for kind in np.unique(non_leaf_kinds):
    print(f"{kind:>14}: {np.sort(non_leaf_top1[non_leaf_kinds == kind]).round(3)}")
print(f"threshold {threshold:.3f}: keeps {(leaf_top1 >= threshold).mean():.0%} of leaf queries, "
      f"rejects {(non_leaf_top1 < threshold).mean():.0%} of non-leaf images")

# %%
figure, axis = plt.subplots(figsize=(7, 2.8), dpi=100)
bins = np.linspace(min(leaf_top1.min(), non_leaf_top1.min()) - 0.01, 1, 40)
axis.hist(leaf_top1, bins=bins, alpha=0.7, label="leaf queries (test split)", color="#3a8f3a")
axis.hist(non_leaf_top1, bins=bins, alpha=0.7, label="non-leaf images (drawn)", color="#d1495b")
axis.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3f}")
axis.set_xlabel("top-1 cosine similarity to the candidates")
axis.set_ylabel("images")
axis.yaxis.get_major_locator().set_params(integer=True)
axis.legend(fontsize=8, loc="upper left")
figure.tight_layout()

# %% [markdown]
# The printout and the histogram show both sides. In the median the leaf queries match better
# than the drawn images (the asserts below check it), yet the encoder, which has never seen a
# face or a checkerboard, maps each of them *somewhere* among the leaves, and exact search
# dutifully returns its nearest neighbours: every input gets a top-1 answer, whatever it is. A
# threshold at the leaf queries' 5th percentile keeps 95 % of real queries by construction; the
# share of drawn images it rejects is printed above. That is the trade-off to choose.
#
# Two cautions. Images *near* the domain (leaves of other plants, a bean leaf photographed from
# far away) can score as high as real queries, so measure with the kind of wrong input you
# expect. And a threshold belongs to one encoder and one collection: recompute it when either
# changes.

# %%
assert np.median(non_leaf_top1) < np.median(leaf_top1), "non-leaf images score lower than leaf queries, typically"
assert (non_leaf_top1 < threshold).mean() >= 0.5, "the threshold rejects most non-leaf images"
if course.mode == "offline":
    assert (non_leaf_top1 < threshold).mean() >= 0.9

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
# Same answers. Now the time per query, measured the way every speed in this course is measured:
# `t.compare_speeds` runs the methods in interleaved rounds with NumPy's BLAS and FAISS pinned to
# one thread, and reports each one's speed-up over the first *from the same rounds*. (Two runs of
# the same code on a shared machine can differ several times over; two methods timed in the same
# rounds differ by what they do.) Each method answers every query: the naive loop and
# `CosineIndex` one query per call, then `CosineIndex` with all of them in one call.

# %%
everything = range(len(candidate_embeddings))
speeds = t.compare_speeds({
    "naive dict-and-sort": lambda: [t.naive_search(q, candidate_embeddings, everything, k=5) for q in query_embeddings],
    "CosineIndex, one query per call": lambda: [index.search(q, k=5) for q in query_embeddings],
    "CosineIndex, one call for all": lambda: index.search(query_embeddings, k=5),
}, rounds=5, per_call=len(query_embeddings))
print(t.speed_table(speeds))

# %%
assert (naive_ids == ids).mean() > 0.99
assert speeds["CosineIndex, one query per call"]["speedup"] > 5
assert speeds["CosineIndex, one call for all"]["speedup"] > speeds["CosineIndex, one query per call"]["speedup"]

# %% [markdown]
# Times are per query (median, and the range over rounds); the last column is the speed-up over
# the naive loop. The naive loop pays Python's price for every candidate; `CosineIndex` pays a
# fixed price per call (checks, one matrix product, a partial sort) and scans at the speed of
# NumPy, and one call for all queries shares that fixed price among them, which is why batches
# are faster still. Yet even this fast exact search touches every candidate for every query:
# at a million images of 768 floats that is 3 GB read per query. The next notebooks trade a
# little exactness for touching only a small fraction.

# %% [markdown]
# ## Your turn
#
# Five exercises, marked by difficulty: ★ one idea, ★★ a few lines, ★★★ build, measure and
# compare. Replace the `None`, run the cell, read the verdict; run `ex.hint(n)` for a hint and
# `ex.hint(n, level=2)` for a closer one. The check works the answer out from your own objects
# and never shows it. Solutions: `%load solutions/02_ex1.py` (and so on) in a new cell.

# %%
ex = exercise_book.notebook("02")
ex

# %% [markdown]
# **Exercise 1 ★.** Which queries does the encoder get mostly wrong? Give the ids of all queries
# whose precision@5 is **below 0.5**, as an array (use `ids`, the top-5 from above, and the
# labels). Then look at a few of them with `gallery_view`: what do they have in common?

# %% tags=["exercise"]
answer_bad_queries = None  # your code here: an array of query ids
ex.check(1, answer_bad_queries, index=index, queries=query_embeddings, labels=candidate_labels,
         query_labels=query_labels)

# %% [markdown]
# **Exercise 2 ★★.** Write top-k with a full `np.argsort` of the score matrix (all queries against
# all candidates) and keep the best 5 per query, best first. It must find the same neighbours as
# `CosineIndex`. Then time both with `t.time_call`: which is faster here, which would win at
# 100,000 candidates, and why?

# %% tags=["exercise"]
answer_top5 = None  # your code here: ids of shape (number of queries, 5), best first
ex.check(2, answer_top5, embeddings=candidate_embeddings, queries=query_embeddings)

# %% [markdown]
# **Exercise 3 ★.** Compute AP@5 by hand, with the formula above, for a query of label 1 whose
# five results have labels `[0, 1, 1, 0, 1]`, when the collection holds **4** items of label 1.
# (Which ranks are hits? What is precision@i at each hit? What do you divide by?)

# %% tags=["exercise"]
answer_ap = None  # your code here: a number
ex.check(3, answer_ap)

# %% [markdown]
# **Exercise 4 ★★.** Choose your own "no match" threshold from the two sets of top-1 scores above
# (`leaf_top1`, `non_leaf_top1`): a cosine that rejects **at least 80 %** of the non-leaf images
# while keeping **at least 90 %** of the leaf queries. Is there one? If the two histograms overlap
# too much there is not: then answer `False`, because the cosine alone cannot say "no match" and
# you would need more than one number.

# %% tags=["exercise"]
answer_threshold = None  # your code here: a cosine similarity (or False if none meets both targets)
ex.check(4, answer_threshold, leaf_scores=leaf_top1, non_leaf_scores=non_leaf_top1)

# %% [markdown]
# **Exercise 5 ★★★ (predict, then measure).** How far does noise turn a query? Add to each query
# `q` (a unit vector of dimension d) a noise vector `e` whose d numbers are independent, normal,
# with standard deviation σ = 0.05. *Predict*, before measuring, the typical cosine between `q`
# and `q + e` for the course's d: how long is `e`, and at what angle does it meet `q`? Then
# *measure* it: `rng = np.random.default_rng(0)`, `noisy = query_embeddings + 0.05 *
# rng.standard_normal(query_embeddings.shape)`, and the mean over the queries of
# cos(q, noisy copy of q). Last, search the candidates with the noisy queries: does precision@5
# drop as much as the cosine did?

# %% tags=["exercise"]
answer_predicted = None  # your code here: the cosine you expect
answer_measured = None  # your code here: the mean cosine measured over the queries
ex.check(5, answer_predicted, answer_measured, queries=query_embeddings)
