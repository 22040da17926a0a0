# %% [markdown]
# # 11 · A small image-search app
#
# Everything from the course in one tool: an encoder turns your image into an embedding; exact
# cosine search, LSH tables or a FAISS HNSW graph find its nearest candidates; the gallery shows
# them. Upload a photo of a leaf (or anything: it will find the most similar candidates all the
# same), or pick a test image. Switch the method and watch the query time, and for LSH, the
# buckets the query fell into and how many candidates it scanned.
#
# Run it as a standalone page with `make app` (Voila).

# %%
import sys

if "google.colab" in sys.modules:
    %pip install -q "imgsim-tutorial @ git+https://github.com/imgsim-tutorial/imgsim-tutorial"

# %%
import numpy as np  # noqa: F401  (the exercises' solutions use it)
from PIL import Image

import imgsim_tutorial as t
from imgsim_tutorial.teaching import exercise_book, plotting
from imgsim_tutorial.widgets import SearchApp

course = t.load_course()
app = SearchApp(course.candidate_embeddings, course.candidate_images, course.candidate_labels,
                course.query_embeddings, course.query_images, course.query_labels, embed=course.embed,
                names=course.label_names)
app.widget

# %% [markdown]
# What to try:
#
# * **method = LSH**, then raise `n_bits` to 20 with 1 table: the query's bucket is nearly empty,
#   the app says it found fewer than k. Add tables or probes until it finds k again.
# * compare the query times of the three methods. With a few hundred candidates exact search is
#   one small matrix product, and an approximate index's fixed costs (hashing, lookups, Python)
#   can make it slower, not faster: the times the app prints say which, on your machine. They
#   pay off at scale (notebooks 05-09 and `make benchmark`).
# * upload an image that is not a leaf. Search always returns the *nearest* candidates, however
#   far they are: look at the cosine scores to judge whether a match means anything.
#
# The same search, static, for viewers where widgets do not run:

# %%
view = t.widgets.search_view(app.current_index(), course.query_embeddings[3], course.query_images[3],
                             int(course.query_labels[3]), course.candidate_images, course.candidate_labels, k=6,
                             names=course.label_names)
figure = plotting.plot_gallery(view)
print(f"{app.method.value}: {view['time_ms']:.3f} ms per query")

# %%
assert len(view["results"]) == 6 and view["precision"] is not None

# %% [markdown]
# ## Your turn
#
# Four exercises, marked by difficulty: ★ one idea, ★★ a few lines, ★★★ build, measure and
# compare. Replace the `None`, run the cell, read the verdict; run `ex.hint(n)` for a hint and
# `ex.hint(n, level=2)` for a closer one. The check works the answer out from your own objects
# and never shows it. Solutions: `%load solutions/11_ex1.py` (and so on) in a new cell.

# %%
ex = exercise_book.notebook("11")
ex

# %% [markdown]
# **Exercise 1 ★.** The app's "exact" method is `CosineIndex`. Without the app, find the ids of the
# 5 candidates nearest to query 3 (best first) with `t.CosineIndex`.

# %% tags=["exercise"]
answer_top5 = None  # your code here: five candidate ids, best first
ex.check(1, answer_top5, candidates=course.candidate_embeddings, queries=course.query_embeddings)

# %% [markdown]
# **Exercise 2 ★.** Search always returns the nearest candidates, even for an image that is no leaf
# at all. The cell below embeds a plain grey 128 x 128 image with `course.embed_images([grey])`
# (the encoder runs in a separate process, so this kernel never holds it). Give the grey image's
# best cosine score against the candidates, and the median over the leaf queries
# (`course.query_embeddings`) of each one's best score. Is the grey image's lower?

# %%
grey = Image.new("RGB", (128, 128), (128, 128, 128))
grey_vector = course.embed_images([grey])  # in a separate process: this kernel does not hold the encoder
print("grey image embedded:", grey_vector.shape)

# %% tags=["exercise"]
answer_scores = None  # your code here: [grey image's best score, median best score of the leaf queries]
ex.check(2, answer_scores, grey_vector=grey_vector, candidates=course.candidate_embeddings,
         queries=course.query_embeddings)

# %% [markdown]
# **Exercise 3 ★★.** An LSH index with many bits and one table finds fewer than k candidates for
# some queries. Build `t.LSHIndex(n_bits=16, n_tables=1, seed=0)` on the candidates, run
# `search_with_stats` for all queries with k=6 and count the queries whose `n_candidates` is
# below 6. Count again with `n_tables=8`. Give `[count with 1 table, count with 8 tables]`.

# %% tags=["exercise"]
answer_short = None  # your code here: [queries short of 6 candidates with 1 table, with 8 tables]
ex.check(3, answer_short, candidates=course.candidate_embeddings, queries=course.query_embeddings)

# %% [markdown]
# **Exercise 4 ★★★ (predict, then measure).** How many candidates share a query's bucket in one
# table of 16 bits? *Predict* it from the formula: a candidate at cosine `s` with the query shares
# all 16 bits with probability `p(s) ** 16`, so the expected bucket size is the sum of that over
# the candidates; average it over the queries. Then *measure* it: for seeds 0 to 9, build
# `t.LSHIndex(n_bits=16, n_tables=1, seed=seed)` on the candidates, take the mean `n_candidates`
# of `search_with_stats(course.query_embeddings, k=6)`, and average the ten means. How far apart
# are single draws, and how close is their average to the prediction? Why is the bucket so much
# fuller than the candidates spread evenly over 2**16 codes would suggest?

# %% tags=["exercise"]
answer_predicted = None  # your code here: the expected number of candidates in a query's bucket
answer_measured = None  # your code here: the mean n_candidates over the queries and the 10 seeds
ex.check(4, answer_predicted, answer_measured, candidates=course.candidate_embeddings,
         queries=course.query_embeddings)
