# %% [markdown]
# # 00 · Start here: how image-similarity search really works
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/imgsim-tutorial/imgsim-tutorial/blob/main/notebooks/00_start_here.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/imgsim-tutorial/imgsim-tutorial/main?urlpath=lab/tree/notebooks/00_start_here.ipynb)
#
# Give the computer one photo of a bean leaf and ask: *which of my other photos look most like
# it?* This course builds the answer step by step, and measures every step:
#
# 1. turn each image into a vector (an **embedding**) with a vision transformer;
# 2. compare vectors by **cosine similarity** and search exactly;
# 3. squeeze vectors into a few bits with **random projection**;
# 4. use those bits as keys of **hash tables** (LSH) so a query looks at a small fraction of the data;
# 5. hand the job to **FAISS**, the library used in production;
# 6. put it together in a small **search app**.
#
# The logic lives in a tested Python package, `imgsim_tutorial`; the notebooks call it and show
# what happens. When a notebook builds something by hand to teach it, the next cell checks it
# against the package.

# %%
# On Colab, install the course package first (with `make lab` or on Binder it is already installed).
import sys

if "google.colab" in sys.modules:
    %pip install -q "imgsim-tutorial @ git+https://github.com/imgsim-tutorial/imgsim-tutorial"

# %% [markdown]
# ## Online or offline?
#
# The course runs in two worlds through the same code:
#
# | mode | dataset | encoder | when |
# |---|---|---|---|
# | `hub` | the real [`beans`](https://huggingface.co/datasets/AI-Lab-Makerere/beans) photos | [`nateraw/vit-base-beans`](https://huggingface.co/nateraw/vit-base-beans) (ViT-base fine-tuned on beans) | Colab, Binder, a laptop with network |
# | `offline` | bean leaves the package draws itself, same schema and labels | a small ViT this repository trained and ships | no network, CI, `HF_HUB_OFFLINE=1` |
#
# `resolve_mode()` decides once per session and says which in one line. By default it asks the
# Hub once with a hard 4-second deadline, so a classroom with broken Wi-Fi never waits minutes.
# To choose yourself, set an environment variable **before** starting Jupyter:
# `IMGSIM_MODE=offline` (always offline), `IMGSIM_MODE=hub` (always the Hub) or `IMGSIM_MODE=auto`.

# %%
import imgsim_tutorial as t

mode = t.resolve_mode()
mode

# %% [markdown]
# ## The data
#
# `load_beans()` returns a Hugging Face `DatasetDict` with a `train`, `validation` and `test`
# split. Each example has an `image`, its `image_file_path`, and one of three `labels`:
# `angular_leaf_spot`, `bean_rust` or `healthy`. The train split will be our **candidates**
# (what we search); test images will be our **queries**.

# %%
beans = t.load_beans()
beans

# %%
label_names = beans["train"].features["labels"].names
examples = [row for label in range(3) for row in beans["train"].filter(lambda r: r["labels"] == label).select(range(4))]
figure = t.plotting.show_images([row["image"] for row in examples], [label_names[row["labels"]] for row in examples],
                                ncols=6)

# %% [markdown]
# Angular leaf spot shows angular brown lesions bounded by the veins; bean rust shows many small
# round rust-coloured pustules, each with a pale halo; healthy leaves have neither. Every class
# can also have holes, dirt specks and yellowing, so colour alone does not give the class away.
#
# What you should see (and the next cell checks): three splits, three labels, every class present.

# %%
assert set(beans) == {"train", "validation", "test"}
assert label_names == ["angular_leaf_spot", "bean_rust", "healthy"]
assert len(set(beans["train"]["labels"])) == 3

# %% [markdown]
# ## The map
#
# | notebook | you learn | package module |
# |---|---|---|
# | `00_start_here` | the course, the two modes, the data | `data.py`, `leaves.py`, `mode.py` |
# | `01_embeddings` | what an embedding is; extracting them with `datasets.map`; why a fine-tuned encoder | `embeddings.py` |
# | `02_cosine_search` | cosine similarity, exact top-k search, precision@k, the query gallery | `cosine_search.py`, `evaluation.py` |
# | `03_random_projection` | hyperplanes, sign bits, collision probability: theory vs measurement | `random_projection.py` |
# | `04_hash_tables` | LSH tables, candidates, re-ranking, recall vs exact, the tutorial's bugs | `hash_tables.py`, `baselines.py` |
# | `06_faiss` | FAISS indexes, `datasets.add_faiss_index`, what changes at a billion images | `faiss_index.py` |
# | `07_search_app` | a small search app built from the course's parts | `widgets/app.py` |
#
# ## The vocabulary
#
# `embeddings` are an `(n, d)` array, one row per image; `queries` are `(nq, d)`; a search
# returns the best `k` as `(scores, ids)`, each `(nq, k)`, with **scores higher-is-better**.
# The images we search are the `candidates`; an approximate index scans only some of them for
# each query, and those are that query's candidates. LSH has `n_bits` per table, `n_tables`
# tables and `n_probes` extra buckets per table. `labels` are the classes, used only to judge results.
#
# Next: **01_embeddings**.
