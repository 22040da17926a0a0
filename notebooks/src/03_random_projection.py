# %% [markdown]
# # 03 · Random projection: from vectors to bits
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/imgsim-tutorial/imgsim-tutorial/blob/main/notebooks/03_random_projection.ipynb)
#
# Exact search compares the query with every candidate. To avoid that we need a cheap *key* for
# each embedding such that similar embeddings tend to get the same key. Random hyperplanes give
# exactly that, with a guarantee we can write down and check.

# %%
import sys

if "google.colab" in sys.modules:
    %pip install -q "imgsim-tutorial @ git+https://github.com/imgsim-tutorial/imgsim-tutorial"

# %%
import matplotlib.pyplot as plt
import numpy as np

import imgsim_tutorial as t
from imgsim_tutorial.widgets import BucketExplorer
from imgsim_tutorial.widgets.buckets import bucket_view, demo_points, plot_buckets

course = t.load_course()
candidate_embeddings, query_embeddings = course.candidate_embeddings, course.query_embeddings
dim = candidate_embeddings.shape[1]

# %% [markdown]
# ## One hyperplane, one bit
#
# A hyperplane through the origin is described by its *normal* vector `w`. A vector `x` is on
# its positive side when `w · x > 0`. That yes/no answer is one **bit**. In 2-D a "hyperplane" is
# a line. A hand-checkable example: with `w = (1, -1)` the line is the diagonal `y = x`.

# %%
# NBVAL_CHECK_OUTPUT
normal = np.array([1.0, -1.0])
points = np.array([[2.0, 1.0], [1.0, 2.0], [-1.0, -3.0]])
print("w . x =", points @ normal, "-> bits", (points @ normal > 0).astype(int))

# %% [markdown]
# With several random lines, every point gets one bit per line; the bits together are its
# **code**, and points with the same code share a **bucket**: a wedge between lines. Move the
# sliders: more hyperplanes make smaller buckets; another seed draws other lines.

# %%
explorer = BucketExplorer(n_planes=3)
explorer.widget

# %% [markdown]
# (The same picture, static, for viewers where widgets do not run:)

# %%
figure = plot_buckets(bucket_view(demo_points(), n_planes=3, seed=0))

# %% [markdown]
# Note: `n` lines through the origin in 2-D make only `2n` wedges, not `2^n`: most codes can
# never occur in 2-D. In the 192- or 768-dimensional embedding space almost all of them can.
#
# ## Bits and codes of real embeddings
#
# `RandomHyperplanes(n_bits, dim, seed)` draws `n_bits` normals with Gaussian entries (so every
# direction is equally likely). `bits` gives the sides; `codes` packs the bits into one integer,
# bit `j` worth `2**j`.

# %%
planes = t.RandomHyperplanes(n_bits=8, dim=dim, seed=0)
bits = planes.bits(query_embeddings[:3])
codes = planes.codes(query_embeddings[:3])
for row, code in zip(bits, codes):
    print("bits", row.astype(int), "-> code", int(code), f"(binary, bit 0 last: {int(code):08b})")

# %%
by_hand = (bits * 2 ** np.arange(8)).sum(axis=1)
assert np.array_equal(by_hand, codes)

# %% [markdown]
# ## How often do two vectors get the same bit? Theory
#
# Two vectors at angle θ are separated by a random hyperplane exactly when the hyperplane falls
# inside the angle between them, which happens with probability θ/π. So one bit agrees with
# probability
#
# $$p(s) = 1 - \frac{\arccos s}{\pi}$$
#
# where `s` is their cosine similarity. All `K` independent bits of one table agree (the two
# land in the same bucket) with probability `p(s)^K`. That is the promise of LSH: the
# collision probability *rises steeply with similarity*.
#
# ## ...and measurement
#
# Take pairs of embeddings (each query with every candidate), draw 512 hyperplanes, and count
# the fraction of bits on which each pair agrees. Group pairs by cosine similarity and compare
# with the formula.

# %%
many_planes = t.RandomHyperplanes(n_bits=512, dim=dim, seed=1)
query_bits, candidate_bits = many_planes.bits(query_embeddings), many_planes.bits(candidate_embeddings)
similarity = (query_embeddings @ candidate_embeddings.T).ravel()
agreement = (query_bits[:, None, :] == candidate_bits[None, :, :]).mean(axis=2).ravel()
edges = np.linspace(similarity.min(), 1, 16)
which = np.digitize(similarity, edges)
centres = np.array([similarity[which == b].mean() for b in np.unique(which)])
measured = np.array([agreement[which == b].mean() for b in np.unique(which)])

grid = np.linspace(-1, 1, 200)
figure, axes = plt.subplots(1, 2, figsize=(9, 3.4), dpi=80)
axes[0].plot(grid, t.bit_agreement_probability(grid), label="theory: 1 - arccos(s)/π")
axes[0].scatter(centres, measured, color="#d1495b", zorder=3, s=18, label="measured, 512 bits")
axes[0].set(xlabel="cosine similarity s", ylabel="P(one bit agrees)", title="one bit")
for n_bits, colour in ((4, "#4c72b0"), (8, "#55a868"), (16, "#8172b2")):
    tables = many_planes.bits(query_embeddings)[:, : n_bits * 32].reshape(len(query_embeddings), 32, n_bits)
    candidate_tables = candidate_bits[:, : n_bits * 32].reshape(len(candidate_embeddings), 32, n_bits)
    collide = (tables[:, None] == candidate_tables[None]).all(axis=3).mean(axis=2).ravel()
    axes[1].plot(grid, t.table_collision_probability(grid, n_bits), color=colour, label=f"theory K={n_bits}")
    axes[1].scatter(centres, [collide[which == b].mean() for b in np.unique(which)], color=colour, s=14)
axes[1].set(xlabel="cosine similarity s", ylabel="P(same bucket)", title="one table of K bits (dots: measured)")
for axis in axes:
    axis.legend(fontsize=7)
figure.tight_layout()

# %%
worst_gap = np.abs(measured - t.bit_agreement_probability(centres)).max()
print(f"largest gap between theory and measurement: {worst_gap:.3f}")
assert worst_gap < 0.05

# %% [markdown]
# The measurements sit on the curves. The right panel shows the dilemma that hash tables
# (notebook 04) solve: with many bits per table, even quite similar pairs rarely share a bucket.
#
# ## Random projection as dimension reduction
#
# The original tutorial presents random projection as *dimension reduction*: project 768 numbers
# down to a few while roughly keeping the angles. Two versions:
#
# * keep the projected **values** (a Gaussian random projection, the Johnson–Lindenstrauss lemma):
#   cosine of the projections ≈ cosine of the originals;
# * keep only their **signs** (the bits above): the fraction of differing bits `h` estimates the
#   angle, so `cos(π h)` estimates the cosine.
#
# How good are these estimates as the number of dimensions (or bits) shrinks?

# %%
rng = np.random.default_rng(0)
pairs = rng.integers(len(candidate_embeddings), size=(2000, 2))
a, b = candidate_embeddings[pairs[:, 0]], candidate_embeddings[pairs[:, 1]]
true_cos = (a * b).sum(axis=1)
errors = {"projected values": [], "sign bits": []}
widths = [width for width in (8, 16, 32, 64, 128, 256, 512) if width < dim]
for width in widths:
    both = t.random_projection.gaussian_projection(np.vstack([a, b]), width, seed=2)
    pa, pb = both[: len(a)], both[len(a):]
    estimate = (pa * pb).sum(1) / (np.linalg.norm(pa, axis=1) * np.linalg.norm(pb, axis=1))
    errors["projected values"].append(np.abs(estimate - true_cos).mean())
    sign_planes = t.RandomHyperplanes(min(width, 64), dim, seed=3) if width <= 64 else None
    if sign_planes is not None:
        hamming = t.hamming_distance(sign_planes.codes(a), sign_planes.codes(b)) / width
        errors["sign bits"].append(np.abs(np.cos(np.pi * hamming) - true_cos).mean())
figure, axis = plt.subplots(figsize=(5, 3.2), dpi=80)
axis.plot(widths, errors["projected values"], "o-", label="projected values (float32 each)")
axis.plot(widths[: len(errors["sign bits"])], errors["sign bits"], "s-", label="sign bits (1 bit each)")
axis.set(xscale="log", xlabel="dimensions / bits kept", ylabel="mean |error| of cosine",
         title=f"estimating cosine from {dim}-d embeddings")
axis.legend(fontsize=8)
figure.tight_layout()
for width, error in zip(widths, errors["projected values"]):
    print(f"{width:>4} dims: mean cosine error {error:.3f}")

# %%
assert errors["projected values"][-1] < errors["projected values"][0]
assert errors["sign bits"][-1] < errors["sign bits"][0]

# %% [markdown]
# The error shrinks roughly like 1/√(dimensions). A 64-bit code takes 8 bytes instead of
# `4 × dim` bytes of floats, and estimates cosine to within about 0.1 on average (the plot above):
# good enough for *shortlisting*, not for the final ranking. That is the design of the next notebook: bits choose
# which candidates to look at; the true cosine ranks them.
#
# ## Exercises
#
# **1.** In 2-D, `n` lines through the origin make at most `2n` buckets. Check it with
# `bucket_view` for n = 1…8. How many of the `2^8` codes occur?
#
# **2.** Rank all candidates for query 0 by Hamming distance of 64-bit codes. What fraction of the
# true top-10 (by cosine) is among the 10 with the smallest Hamming distance?
#
# **3.** Are the bits *balanced*? For 64 hyperplanes, compute the fraction of candidates on the
# positive side of each. Then subtract the mean embedding first and compute it again. Why does
# it change?
#
# ### Solutions

# %%
# 1.
for n in range(1, 9):
    print(n, "lines ->", bucket_view(demo_points(), n, seed=0)["n_regions"], "regions")

# %%
# 2.
code_planes = t.RandomHyperplanes(64, dim, seed=4)
distances = t.hamming_distance(code_planes.codes(candidate_embeddings), code_planes.codes(query_embeddings[:1]))
by_hamming = np.argsort(distances, kind="stable")[:10]
_, true_top = t.CosineIndex().add(candidate_embeddings).search(query_embeddings[0], 10)
print("recall@10 of the 10 nearest by Hamming:", t.recall_at_k(by_hamming[None], true_top))
shortlist = np.argsort(distances, kind="stable")[:100]
print("true top-10 inside the 100 nearest by Hamming:", t.recall_at_k(shortlist[None], true_top))
# Within a tight class cloud dozens of candidates are almost equally similar, and 64 bits cannot
# order them: the Hamming ranking is a good *shortlist* and a poor *ranking*. Re-rank by cosine.

# %%
# 3. Embeddings share a common direction (their mean is far from zero), so many hyperplanes
#    see almost all of them on one side: those bits carry little information. Centring fixes it.
balance_planes = t.RandomHyperplanes(64, dim, seed=5)
raw_balance = balance_planes.bits(candidate_embeddings).mean(axis=0)
centred_balance = balance_planes.bits(candidate_embeddings - candidate_embeddings.mean(axis=0)).mean(axis=0)
print(f"length of the mean embedding: {np.linalg.norm(candidate_embeddings.mean(axis=0)):.2f}")
print(f"bits with > 90% or < 10% ones: raw {np.mean((raw_balance > 0.9) | (raw_balance < 0.1)):.2f}, "
      f"centred {np.mean((centred_balance > 0.9) | (centred_balance < 0.1)):.2f}")
