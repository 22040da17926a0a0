# %% [markdown]
# # 00 · Start here: how image-similarity search really works
#
# Give the computer one photo of a bean leaf and ask: *which of my other photos look most like
# it?* This course builds the answer step by step, and measures every step:
#
# 1. turn each image into a vector (an **embedding**) with a vision transformer;
# 2. compare vectors by **cosine similarity** and search exactly;
# 3. squeeze vectors into a few bits with **random projection**;
# 4. use those bits as keys of **hash tables** (LSH) so a query looks at a small fraction of the data;
# 5. learned buckets, graphs and compression (IVF, HNSW, PQ), each built by hand;
# 6. hand the job to **FAISS**, the library used in production;
# 7. put it together in a small **search app**, then go past one machine.
#
# The logic lives in a tested Python package, `imgsim_tutorial`; the notebooks call it and show
# what happens. When a notebook builds something by hand to teach it, the next cell checks it
# against the package.
#
# ## The whole pipeline in one picture
#
# Two paths share one encoder. Once, ahead of time, every photo we want to search (the
# **candidates**) goes through the encoder, and the resulting vectors go into an **index**. Then,
# for every query, the query photo goes through *the same* encoder with the same preprocessing,
# and the index returns the `k` candidates whose vectors are closest: the **top-k**, as
# `(scores, ids)`. Notebooks 01-03 are about the top row, 04-09 about making the index fast.

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
import numpy as np

import imgsim_tutorial as t
from imgsim_tutorial.teaching import diagrams, plotting

figure = diagrams.pipeline_diagram(t.draw_leaf(1, np.random.default_rng(3))[0])

# %%
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

# %% [markdown]
# To show four photos of each class we read the **label column only** and pick rows from it with
# a fixed seed, then decode just those twelve images. (Filtering the dataset row by row would
# decode every photo in the split just to look at its label: on the real beans data that takes
# seconds and over a gigabyte of memory. The real splits are also stored grouped by class, so
# "the first rows" would all be one class; a seeded pick avoids both traps.)

# %%
label_names = beans["train"].features["labels"].names
train_labels = np.array(beans["train"]["labels"])  # one small integer per photo; no image is decoded
rng = np.random.default_rng(0)
sample_rows = [int(row) for label in range(3) for row in rng.choice(np.flatnonzero(train_labels == label), 4,
                                                                     replace=False)]
samples = beans["train"].select(sample_rows)
figure = plotting.show_images(samples["image"], [label_names[label] for label in samples["labels"]], ncols=6)
print("photos per class in train:", dict(zip(label_names, np.bincount(train_labels, minlength=3).tolist())))

# %% [markdown]
# Angular leaf spot shows angular brown lesions bounded by the veins; bean rust shows many small
# round rust-coloured pustules, each with a pale halo; healthy leaves have neither. Every class
# can also have holes, dirt specks and yellowing, so colour alone does not give the class away.
#
# What you should see (and the next cell checks): three splits, three labels, every class
# present, and four samples of each class in the grid above.

# %%
assert set(beans) == {"train", "validation", "test"}
assert label_names == ["angular_leaf_spot", "bean_rust", "healthy"]
assert (np.bincount(train_labels, minlength=3) > 0).all(), "every class has photos in the train split"
assert np.bincount(samples["labels"], minlength=3).tolist() == [4, 4, 4], "four samples per class"

# %% [markdown]
# ## The map
#
# The table is printed from measurements stored with the package: the **run** time is the whole
# notebook, offline, on the machine that built the course (its cores are named under the
# table), with the leaves already drawn and notebook 01's embeddings cached. The **study** time
# reads the prose at 150 words a minute, allows 6 s per line of lesson code and 4 minutes per
# exercise; a notebook that needs more than one sitting of 45 minutes says so. In hub mode on a CPU, ViT-base embeds a few images per second: notebook 01 pays
# for that, and notebooks 02-12 never load the encoder into their own kernel. They read the
# vectors from the cache, and what is not there (a fresh Colab runtime) is embedded once in a
# separate process, with a progress bar and its expected time printed, then kept for the next
# notebook.

# %%
from IPython.display import Markdown

from imgsim_tutorial.teaching import course_map

measured = course_map.measured_map()
pace = measured["measured"]["study"]
print(f"run: {measured['measured']['run']}\nstudy: {pace['words_per_minute']} words a minute, "
      f"{pace['seconds_per_code_line']} s per line of lesson code, {pace['minutes_per_exercise']} minutes per "
      f"exercise; one sitting: {course_map.STUDY_BUDGET_MINUTES} minutes")
Markdown(course_map.course_map(measured))

# %%
slow = {stem: times["run_s"] for stem, times in measured["notebooks"].items()
        if times.get("run_s", 0) >= course_map.RUN_BUDGET_S}
assert not slow, f"over the {course_map.RUN_BUDGET_S} s budget: {slow}"

# %% [markdown]
# ## The vocabulary
#
# `embeddings` are an `(n, d)` array, one row per image; `queries` are `(nq, d)`; a search
# returns the best `k` as `(scores, ids)`, each `(nq, k)`, with **scores higher-is-better**.
# The images we search are the `candidates`; an approximate index scans only some of them for
# each query, and those are that query's candidates. LSH has `n_bits` per table, `n_tables`
# tables and `n_probes` buckets visited per table (its own included). `labels` are the classes, used only to judge results.
#
# Every notebook from 01 on has **Your turn** exercises, marked ★ (one idea), ★★ (a few lines)
# or ★★★ (build, measure, compare): a cell with `answer = None` and a check, `ex.check(n, ...)`,
# that says "not answered yet", "✓ right", or what is wrong without giving the answer away.
# `ex.hint(n)` gives a hint and `ex.hint(n, level=2)` a closer one; a solution loads on request
# with `%load solutions/NN_exM.py` in a new cell.
