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
import imgsim_tutorial as t
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
figure = t.plotting.plot_gallery(view)
print(f"{app.method.value}: {view['time_ms']:.3f} ms per query")

# %%
assert len(view["results"]) == 6 and view["precision"] is not None
