# %% [markdown]
# # 06 · A small image-search app
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/imgsim-tutorial/imgsim-tutorial/blob/main/notebooks/06_search_app.ipynb)
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

import imgsim_tutorial as t
from imgsim_tutorial.widgets import SearchApp

mode = t.resolve_mode()
sizes = t.course_sizes(mode, t.embeddings.default_device())
processor, model = t.load_encoder()
beans = t.load_beans()
candidates = t.seeded_subset(beans["train"], sizes["n_candidates"], seed=0)
queries = t.seeded_subset(beans["test"], sizes["n_queries"], seed=0)
candidate_embeddings = t.embed_dataset(candidates, processor, model)
query_embeddings = t.embed_dataset(queries, processor, model)
label_names = beans["train"].features["labels"].names


def embed_one(image):
    """Embed an uploaded image with the course's encoder."""
    return t.embed_images([image], processor, model)[0]


# %%
app = SearchApp(candidate_embeddings, list(candidates["image"]), candidates["labels"], query_embeddings,
                list(queries["image"]), queries["labels"], embed=embed_one, names=label_names)
app.widget

# %% [markdown]
# What to try:
#
# * **method = LSH**, then raise `n_bits` to 20 with 1 table: the query's bucket is nearly empty,
#   the app says it found fewer than k. Add tables or probes until it finds k again.
# * compare the query times of the three methods. With a few hundred candidates exact search is
#   fastest: approximate indexes pay off only at scale (notebook 05 and `make benchmark`).
# * upload an image that is not a leaf. Search always returns the *nearest* candidates, however
#   far they are: look at the cosine scores to judge whether a match means anything.
#
# The same search, static, for viewers where widgets do not run:

# %%
view = t.widgets.search_view(app.current_index(), query_embeddings[3], queries[3]["image"], int(queries[3]["labels"]),
                             list(candidates["image"]), candidates["labels"], k=6, names=label_names)
figure = t.plotting.plot_gallery(view)
print(f"{app.method.value}: {view['time_ms']:.3f} ms per query")

# %%
assert len(view["results"]) == 6 and view["precision"] is not None
