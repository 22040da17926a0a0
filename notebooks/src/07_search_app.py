# %% [markdown]
# # 07 · A small image-search app
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
import numpy as np
from PIL import Image

import imgsim_tutorial as t
from imgsim_tutorial.teaching import exercises, plotting
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
# * compare the query times of the three methods. With a few hundred candidates exact search
#   already takes well under a millisecond, and the approximate indexes barely beat it, if at
#   all: they pay off at scale (notebooks 05-06 and `make benchmark`).
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
# Three exercises: write the answer in the cell, run it, read the verdict. Solutions are at the
# end of the notebook.
#
# **Exercise 1.** The app's "exact" method is `CosineIndex`. Without the app, find the ids of the
# 5 candidates nearest to query 3 (best first) with `t.CosineIndex`.

# %%
expected_top5 = t.CosineIndex().add(course.candidate_embeddings).search(course.query_embeddings[3], k=5)[1][0]

# %% tags=["exercise"]
answer_top5 = None  # your code here: five candidate ids, best first
exercises.check_ids(answer_top5, expected_top5, name="top-5 ids of query 3")

# %% [markdown]
# **Exercise 2.** Search always returns the nearest candidates, even for an image that is no leaf
# at all. The cell below embeds a plain grey 128 x 128 image with `course.embed_images([grey])`
# (the encoder runs in a separate process, so this kernel never holds it). Give the grey image's
# best cosine score against the candidates. Is it lower than the best score of a real leaf query?

# %%
grey = Image.new("RGB", (128, 128), (128, 128, 128))
leaf_best = t.CosineIndex().add(course.candidate_embeddings).search(course.query_embeddings, k=1)[0][:, 0]
grey_vector = course.embed_images([grey])  # in a separate process: this kernel does not hold the encoder
expected_grey = float(t.CosineIndex().add(course.candidate_embeddings).search(grey_vector, k=1)[0][0, 0])
print(f"real leaf queries: median best score {np.median(leaf_best):.3f}")

# %% tags=["exercise"]
answer_grey = None  # your code here: the grey image's best cosine score (one number)
exercises.check_value(answer_grey, expected_grey, name="best score of a grey image", atol=1e-4)

# %% [markdown]
# **Exercise 3.** An LSH index with many bits and one table finds fewer than k candidates for
# some queries. Build `t.LSHIndex(n_bits=16, n_tables=1, seed=0)` on the candidates, run
# `search_with_stats` for all queries with k=6 and give the number of queries whose
# `n_candidates` is below 6. Then check that adding tables makes that number smaller.

# %%
short_queries = int((t.LSHIndex(n_bits=16, n_tables=1, seed=0).add(course.candidate_embeddings)
                     .search_with_stats(course.query_embeddings, k=6)[2]["n_candidates"] < 6).sum())

# %% tags=["exercise"]
answer_short = None  # your code here: how many queries scanned fewer than 6 candidates
exercises.check_value(answer_short, short_queries, name="queries with fewer than 6 candidates")

# %% [markdown]
# ## Solutions
#
# Try the exercises first; each solution cell is collapsed (click it to open) and re-runs its check.

# %% tags=["solution"] jupyter={"source_hidden": true, "outputs_hidden": true}
# Solution 1. The app does exactly this when its method is "exact".
answer_top5 = t.CosineIndex().add(course.candidate_embeddings).search(course.query_embeddings[3], k=5)[1][0]
exercises.check_ids(answer_top5, expected_top5, name="top-5 ids of query 3")

# %% tags=["solution"] jupyter={"source_hidden": true, "outputs_hidden": true}
# Solution 2. A grey image still has a nearest candidate; only its score says the match is poor.
answer_grey = float(t.CosineIndex().add(course.candidate_embeddings).search(grey_vector, k=1)[0][0, 0])
print(f"grey image: {answer_grey:.3f}; lower than the median leaf query: {answer_grey < np.median(leaf_best)}")
exercises.check_value(answer_grey, expected_grey, name="best score of a grey image", atol=1e-4)

# %% tags=["solution"] jupyter={"source_hidden": true, "outputs_hidden": true}
# Solution 3. 16 bits split a few hundred candidates into many tiny buckets; more tables help.
one_table = t.LSHIndex(n_bits=16, n_tables=1, seed=0).add(course.candidate_embeddings)
eight_tables = t.LSHIndex(n_bits=16, n_tables=8, seed=0).add(course.candidate_embeddings)
answer_short = int((one_table.search_with_stats(course.query_embeddings, k=6)[2]["n_candidates"] < 6).sum())
short_with_8 = int((eight_tables.search_with_stats(course.query_embeddings, k=6)[2]["n_candidates"] < 6).sum())
print(f"queries short of 6 candidates: 1 table {answer_short}, 8 tables {short_with_8}")
exercises.check_value(answer_short, short_queries, name="queries with fewer than 6 candidates")
