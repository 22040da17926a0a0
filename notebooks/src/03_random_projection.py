# %% [markdown]
# # 03 · Random projection: from vectors to bits
#
# Exact search compares the query with every candidate. To avoid that we need a cheap *key* for
# each embedding such that similar embeddings tend to get the same key. Random hyperplanes give
# exactly that, with a guarantee we can write down and check.

# %%
import sys

if "google.colab" in sys.modules:
    %pip install -q "imgsim-tutorial @ git+https://github.com/imgsim-tutorial/imgsim-tutorial"

# %%
import numpy as np

import imgsim_tutorial as t
from imgsim_tutorial.teaching import exercise_book, plotting
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

# %% tags=["nbval-check-output"]
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
# (The same picture, static, for viewers where widgets do not run. Each wedge is labelled with
# its code, bit 0 last: the right-most digit says which side of line 0 the wedge is on.)

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

table_collisions = {}
for n_bits in (4, 8, 16):  # 32 tables of K bits each from the 512 bits: bits 0..K-1, K..2K-1, ...
    tables = query_bits[:, : n_bits * 32].reshape(len(query_embeddings), 32, n_bits)
    candidate_tables = candidate_bits[:, : n_bits * 32].reshape(len(candidate_embeddings), 32, n_bits)
    collide = (tables[:, None] == candidate_tables[None]).all(axis=3).mean(axis=2).ravel()
    table_collisions[n_bits] = np.array([collide[which == b].mean() for b in np.unique(which)])
figure = plotting.plot_collision_vs_theory(centres, measured, table_collisions)

# %%
worst_gap = np.abs(measured - t.bit_agreement_probability(centres)).max()
print(f"largest gap between theory and measurement: {worst_gap:.3f}")
assert worst_gap < 0.05
shares = [table_collisions[n_bits].mean() for n_bits in (4, 8, 16)]
assert shares[0] > shares[1] > shares[2]  # more bits per table: fewer pairs share a bucket

# %% [markdown]
# The measurements follow the curves (the worst gap is printed and asserted above): each point
# of one bit averages 512 samples per pair, each point of a whole table far fewer (only 32
# tables of K bits fit in 512 bits). The right panel shows the dilemma that hash tables
# (notebook 04) solve: the more bits per table, the lower the chance that even quite similar
# pairs share a bucket.
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
errors = {"projected values (float32 each)": [], "sign bits (1 bit each)": []}
widths = [width for width in (8, 16, 32, 64, 128, 256, 512) if width < dim]
for width in widths:
    both = t.random_projection.gaussian_projection(np.vstack([a, b]), width, seed=2)
    pa, pb = both[: len(a)], both[len(a):]
    estimate = (pa * pb).sum(1) / (np.linalg.norm(pa, axis=1) * np.linalg.norm(pb, axis=1))
    errors["projected values (float32 each)"].append(np.abs(estimate - true_cos).mean())
    sign_planes = t.RandomHyperplanes(width, dim, seed=3)
    differing = (sign_planes.bits(a) != sign_planes.bits(b)).mean(axis=1)  # Hamming distance / width
    errors["sign bits (1 bit each)"].append(np.abs(np.cos(np.pi * differing) - true_cos).mean())
guess_the_mean = np.abs(true_cos - true_cos.mean()).mean()  # the error of knowing nothing about the pair
figure = plotting.plot_lines(widths, errors, "dimensions / bits kept (log scale)", "mean |error| of cosine",
                               title=f"estimating cosine from {dim}-d embeddings", log_x=True,
                               reference={f"no information: guess the mean cosine ({guess_the_mean:.3f})":
                                          guess_the_mean})
for width, value_error, bit_error in zip(widths, *errors.values()):
    print(f"{width:>4} dims or bits: mean cosine error {value_error:.3f} (values), {bit_error:.3f} (sign bits)")

# %%
value_errors, bit_errors = errors.values()
assert value_errors[-1] < value_errors[0] / 2 and bit_errors[-1] < bit_errors[0] / 2
assert max(value_errors + bit_errors) < guess_the_mean  # every width knows more than nothing

# %% [markdown]
# Both errors shrink roughly like 1/√(dimensions or bits), and both stay below the
# no-information line (both asserted above). A 64-bit code takes 8 bytes instead of `4 × dim`
# bytes of floats; its error is smaller than knowing nothing, and larger than the gap between a
# query's 1st and 10th neighbour (both printed below, and asserted). So bits are good for
# *shortlisting*, not for the final ranking. That is the design of the next notebook: bits
# choose which candidates to look at; the true cosine ranks them.

# %%
top_scores, _ = t.CosineIndex().add(candidate_embeddings).search(query_embeddings, 10)
print(f"no information (guess the mean cosine): mean error {guess_the_mean:.3f}")
print(f"64 sign bits = 8 bytes instead of {4 * dim}: mean cosine error {bit_errors[widths.index(64)]:.3f}")
print(f"gap between a query's 1st and 10th neighbour: {np.mean(top_scores[:, 0] - top_scores[:, 9]):.3f} on average")
assert guess_the_mean > bit_errors[widths.index(64)] > np.mean(top_scores[:, 0] - top_scores[:, 9])

# %% [markdown]
# ## Your turn
#
# Five exercises, marked by difficulty: ★ one idea, ★★ a few lines, ★★★ build, measure and
# compare. Replace the `None`, run the cell, read the verdict; run `ex.hint(n)` for a hint and
# `ex.hint(n, level=2)` for a closer one. The check works the answer out from your own objects
# and never shows it. Solutions: `%load solutions/03_ex1.py` (and so on) in a new cell.

# %%
ex = exercise_book.notebook("03")
ex

# %% [markdown]
# **Exercise 1 ★.** In 2-D, `n` lines through the origin make at most `2n` regions, never `2^n`.
# Count the regions with `bucket_view(demo_points(), n, seed=0)["n_regions"]` for n = 1 … 8 and
# put the eight counts in a list.

# %% tags=["exercise"]
answer_regions = None  # your code here: eight region counts, for n = 1 ... 8
ex.check(1, answer_regions)

# %% [markdown]
# **Exercise 2 ★.** Two embeddings have cosine similarity 0.8. What is the probability that they
# land in the same bucket of one table of 16 bits? Use the formula, by hand or with numpy.

# %% tags=["exercise"]
answer_same_bucket = None  # your code here: a probability between 0 and 1
ex.check(2, answer_same_bucket)

# %% [markdown]
# **Exercise 3 ★★.** Rank all candidates for query 0 by the Hamming distance of their 64-bit codes
# (`t.RandomHyperplanes(64, dim, seed=4)`, `t.hamming_distance`; break ties by id with
# `np.argsort(..., kind="stable")`). What fraction of the true top-10 (by cosine) is among the
# 10 with the smallest Hamming distance?

# %% tags=["exercise"]
answer_hamming_recall = None  # your code here: recall@10 of the 10 nearest by Hamming distance
ex.check(3, answer_hamming_recall, candidates=candidate_embeddings, queries=query_embeddings)

# %% [markdown]
# **Exercise 4 ★★.** Are the bits *balanced*? For `t.RandomHyperplanes(64, dim, seed=5)`, compute
# for each bit the fraction of candidates on its positive side, and count the share of bits
# that are nearly constant (more than 90% or fewer than 10% ones). Then subtract the mean
# embedding first and count again. Give the two shares as `[raw, centred]`. Why do they differ?

# %% tags=["exercise"]
answer_balance = None  # your code here: [share of nearly constant bits raw, centred]
ex.check(4, answer_balance, candidates=candidate_embeddings)

# %% [markdown]
# **Exercise 5 ★★★ (predict, then measure).** Take pairs of 64-dimensional unit vectors at cosine
# exactly 0.9. *Predict* with the formula the probability that a pair shares a bucket in at least
# one of 4 tables of 12 bits. Then *measure* it: draw 2,000 random unit vectors `a`
# (`np.random.default_rng(0)`), build their partners `b = 0.9 a + sqrt(1 - 0.81) u` with `u` a
# random unit vector orthogonal to `a` (same generator, drawn after `a`), code both with
# `t.RandomHyperplanes(12, 64, seed=t)` for tables t = 0 … 3 and count the share of pairs whose
# codes agree in at least one table. How far is the measurement from the prediction, and is that
# within what 2,000 pairs can resolve?

# %% tags=["exercise"]
answer_predicted = None  # your code here: the formula's probability
answer_measured = None  # your code here: the share of the 2,000 pairs caught
ex.check(5, answer_predicted, answer_measured)

