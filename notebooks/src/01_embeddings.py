# %% [markdown]
# # 01 · Embeddings: one vector per image
#
# To compare two images we first turn each into a list of numbers, an **embedding**, such that
# images that look alike get vectors that point the same way. A vision transformer (ViT) does
# this: it cuts the image into patches, turns each patch into a vector, lets the patches
# exchange information through its layers, and keeps one extra token, `[CLS]`, trained to
# summarise the whole image. That token's final vector is our embedding.

# %%
import sys

if "google.colab" in sys.modules:
    %pip install -q "imgsim-tutorial @ git+https://github.com/imgsim-tutorial/imgsim-tutorial"

# %%
import time

import numpy as np
import torch

import imgsim_tutorial as t
from imgsim_tutorial.teaching import exercise_book, plotting

mode = t.resolve_mode()
device = t.embeddings.default_device()
sizes = t.course_sizes(mode, device)
print(f"device: {device}; sizes: {sizes}")

# %% [markdown]
# ## Load the encoder
#
# `load_encoder()` uses `AutoImageProcessor` and `AutoModel` from 🤗 Transformers. Online it loads
# `nateraw/vit-base-beans` (ViT-base fine-tuned to classify beans); offline, the small ViT this
# repository trained on its generated leaves. We load `AutoModel`, not
# `AutoModelForImageClassification`: we want the vectors *before* the classifier, not three class
# scores.

# %%
processor, model = t.load_encoder()
n_parameters = sum(p.numel() for p in model.parameters())
print(f"{type(model).__name__}: {model.config.num_hidden_layers} layers, hidden size {model.config.hidden_size}, "
      f"{n_parameters / 1e6:.1f} M parameters; "
      f"input images resized to {processor.size['height']}x{processor.size['width']}")

# %% [markdown]
# ## Load the data
#
# The train split gives the **candidates** (the images we will search), the test split the
# **queries**. Both are chosen with a fixed seed so that every run shows the same results (the
# original tutorial picked queries unseeded, so its results could not be repeated). On a CPU in
# hub mode we use a subset: ViT-base embeds about 3-7 images per second on a 2-core CPU (measured),
# so the full train split of 1,034 photos would take about two and a half to six minutes. On a GPU (Colab:
# *Runtime → Change runtime type*) the whole split takes seconds.
#
# A seeded subset is also the only fair subset: the real beans splits are stored **grouped by
# class**, so "the first 100 rows" would all be `angular_leaf_spot`.

# %%
beans = t.load_beans()
candidates = t.seeded_subset(beans["train"], sizes["n_candidates"], seed=0)
queries = t.seeded_subset(beans["test"], sizes["n_queries"], seed=0)
label_names = beans["train"].features["labels"].names
print(f"{candidates.num_rows} candidates, {queries.num_rows} queries")

# %% [markdown]
# ## One embedding, step by step
#
# The processor resizes and normalises the image into a tensor `pixel_values` of shape
# (batch, channels, height, width). The model returns `last_hidden_state`: one vector per token,
# shape (batch, 1 + number of patches, hidden size). Token 0 is `[CLS]`.

# %%
image = queries[0]["image"]
inputs = processor(images=[image], return_tensors="pt").to(device)
with torch.inference_mode():
    hidden = model(**inputs).last_hidden_state
cls_vector = hidden[:, 0]
print("pixel_values:", tuple(inputs["pixel_values"].shape))
print("last_hidden_state:", tuple(hidden.shape), "-> CLS vector:", tuple(cls_vector.shape))
print("first values:", cls_vector[0, :6].cpu().numpy().round(3))

# %% [markdown]
# The package's `embed_images` does the same in batches, converts any image to RGB first, and
# scales each vector to length 1 (why, you will see in notebook 02). Check that it agrees with
# the hand-made version:

# %%
by_hand = torch.nn.functional.normalize(cls_vector, dim=1).cpu().numpy()
from_package = t.embed_images([image], processor, model)
assert np.allclose(by_hand, from_package, atol=1e-5)
print("same vector; its length is", np.linalg.norm(from_package).round(4))

# %% [markdown]
# ## Embed a whole split with `datasets.map`
#
# `Dataset.map(batched=True)` runs a function over batches of examples and stores what it returns
# as new columns. `embedding_function` is such a function: it adds an `embeddings` column.

# %%
few = t.seeded_subset(candidates, 8, seed=2)  # 8 rows drawn with a seed, not the first 8
with_vectors = few.map(t.embedding_function(processor, model), batched=True, batch_size=2)  # small batches: less memory
print(with_vectors)
print("labels of these rows:", [label_names[label] for label in few["labels"]])
print("embeddings of the first example:", np.array(with_vectors[0]["embeddings"]).shape)

# %%
assert np.array(with_vectors["embeddings"]).shape == (8, model.config.hidden_size)
assert len(set(few["labels"])) > 1, "a seeded pick mixes the classes; the first rows of a class-grouped split would not"

# %% [markdown]
# For the full candidate and query sets we call `embed_dataset`, which does the same `map` and
# then **caches the result on disk**, keyed by model, data and preprocessing. The next notebooks
# call it again and get the vectors back instantly instead of re-running the model. (On a fresh
# Colab runtime the cache is empty again: notebook 02 then re-embeds, with a progress bar, which
# takes as long as it does here the first time.)

# %%
candidate_embeddings = t.embed_dataset(candidates, processor, model)
query_embeddings = t.embed_dataset(queries, processor, model)
t.free_memory()  # hand back what the two passes freed (Binder gives a notebook about 1 GB)
candidate_labels, query_labels = np.array(candidates["labels"]), np.array(queries["labels"])
print("candidate embeddings:", candidate_embeddings.shape, candidate_embeddings.dtype)
print("query embeddings:", query_embeddings.shape)

# %%
assert candidate_embeddings.shape == (candidates.num_rows, model.config.hidden_size)
assert np.allclose(np.linalg.norm(candidate_embeddings, axis=1), 1, atol=1e-4)

# %% [markdown]
# Every vector now has length 1: `embed_dataset` scaled each raw CLS vector to length 1. Is its
# length a loss? Exercise 3 asks whether the length alone tells the label. The cache keeps the raw
# vectors and scales them on the way out, so `normalize=False` hands them back from disk without
# running the model again.

# %%
candidate_lengths = np.linalg.norm(t.embed_dataset(candidates, processor, model, normalize=False), axis=1)
query_lengths = np.linalg.norm(t.embed_dataset(queries, processor, model, normalize=False), axis=1)
length_labels = candidate_labels
print(f"raw lengths of {len(candidate_lengths)} candidates: {candidate_lengths.min():.3f} to "
      f"{candidate_lengths.max():.3f}; of {len(query_lengths)} queries: {query_lengths.min():.3f} to "
      f"{query_lengths.max():.3f}")

# %% [markdown]
# ## A picture of the embedding space
#
# Each embedding has hundreds of numbers. To look at them we project onto the two directions
# along which they vary most (PCA). If the encoder has learned anything about leaves, the three
# labels should form separate clouds.

# %%
figure = plotting.plot_embeddings_2d(candidate_embeddings, candidate_labels, label_names,
                                       title=f"{candidates.num_rows} candidate embeddings, PCA to 2-D")

# %% [markdown]
# ## Why a fine-tuned checkpoint?
#
# The original tutorial says a model fine-tuned on the dataset "understands" it better than a
# generalist one. Let us measure instead. For each query we find the 5 nearest candidates by
# cosine similarity and count how many share its label: **precision@5**. We compare
#
# * the trained encoder,
# * the *same architecture with random weights* (what training bought us; on a seeded subset),
# * raw pixels as vectors (no model at all).
#
# With three balanced classes, guessing gives about one in three.

# %%
# The random network embeds a seeded subset only: it saves time, and its answer stays far below the trained one.
baseline_candidates = t.seeded_subset(candidates, sizes["n_baseline"] or 300, seed=1)
baseline_queries = t.seeded_subset(queries, (sizes["n_baseline"] or 300) // 3, seed=1)
# One encoder in memory at a time (Binder gives all open notebooks 2 GB together; ViT-base's weights
# take 330 MB): free the trained one (from here on the notebook needs only its vectors), then build the
# random one from its config.
config = model.config
del model
t.free_memory()  # collect garbage and hand the freed memory back to the system (see memory.py)
untrained = t.embeddings.random_init_like(config)
results = {
    "trained encoder": t.evaluation.label_precision(candidate_embeddings, candidate_labels,
                                                    query_embeddings, query_labels, k=5),
    "same ViT, random weights": t.evaluation.label_precision(
        # SplitImages decodes a batch at a time, where candidates["image"] decodes every photo at once
        t.embed_images(t.SplitImages(baseline_candidates), processor, untrained), baseline_candidates["labels"],
        t.embed_images(t.SplitImages(baseline_queries), processor, untrained), baseline_queries["labels"], k=5),
    "raw pixels": t.evaluation.label_precision(
        t.embeddings.pixel_vectors(t.SplitImages(candidates)), candidate_labels,
        t.embeddings.pixel_vectors(t.SplitImages(queries)), query_labels, k=5),
}
del untrained
t.free_memory()
chance = np.bincount(query_labels).max() / len(query_labels)  # always guessing the most common class
figure = plotting.plot_bars(results, "precision@5, test queries vs train candidates")
figure.axes[0].axvline(chance, color="grey", linestyle="--", label=f"chance {chance:.2f}")
figure.axes[0].legend(fontsize=8, loc="lower right")
for name, value in results.items():
    print(f"{name:>26}: precision@5 = {value:.3f}")

# %%
assert results["trained encoder"] > results["same ViT, random weights"] + 0.2
assert results["trained encoder"] > results["raw pixels"] + 0.2
if mode == "offline":
    assert results["trained encoder"] >= 0.85

# %% [markdown]
# Training is what makes the vectors useful: the random network and raw pixels score far below
# the trained encoder (the asserts above), because leaves in different poses, colours and light
# differ more in pixels than a small lesion does. The trained encoder has learned to look at the lesions.
#
# ## Which encoder for my photos?
#
# The encoder decides what "similar" means. Four kinds of checkpoint, all loaded with the same
# `load_encoder(checkpoint)` call (the same `AutoImageProcessor` + `AutoModel` pair):
#
# | kind | example checkpoint | trained on | "similar" means | a good start when |
# |---|---|---|---|---|
# | fine-tuned | `nateraw/vit-base-beans` | beans photos *with their labels* | same disease | your notion of similar is your labels, and you have labels |
# | generalist, supervised | `google/vit-base-patch16-224-in21k` | ImageNet-21k (14 M photos, 21k labels) | same everyday object class | your photos look like the web's; a baseline |
# | self-supervised | `facebook/dinov2-small` | 142 M photos, **no labels** (DINOv2) | same visual content, fine detail | you have no labels: the usual default for retrieval |
# | language-supervised | `openai/clip-vit-base-patch32` (vision tower) | 400 M photos with captions | same caption | you also want to search by text |
#
# Fine-tuning only pays when your labels are the similarity you want; a self-supervised encoder
# needs no labels and usually transfers best to photos nobody labelled. Do not trust the table,
# measure on your own photos: the cell below runs each checkpoint on the same seeded candidates
# and queries and reports precision@5 and speed. It needs the Hub (about 1.3 GB of downloads), so
# it runs by itself only in hub mode on a GPU; on a CPU set `compare_encoders = True` (about two
# minutes), and offline it says why it skips.

# %%
CHECKPOINTS = {
    "fine-tuned": "nateraw/vit-base-beans",
    "generalist (ImageNet-21k)": "google/vit-base-patch16-224-in21k",
    "self-supervised (DINOv2)": "facebook/dinov2-small",
    "language-supervised (CLIP)": "openai/clip-vit-base-patch32",
}
compare_encoders = mode == "hub" and device == "cuda"


def load_any_encoder(checkpoint, device):
    """``load_encoder``, except for CLIP: its AutoModel holds a text tower too; keep the vision tower."""
    if "clip" not in checkpoint:
        return t.load_encoder(checkpoint, device=device)
    from transformers import AutoImageProcessor, CLIPVisionModel

    return AutoImageProcessor.from_pretrained(checkpoint), CLIPVisionModel.from_pretrained(checkpoint).eval().to(device)


# %%
encoder_results = {}
if mode != "hub":
    print("Skipped: offline mode, and these checkpoints live on the Hugging Face Hub. In hub mode "
          "(IMGSIM_MODE=hub, with network) this cell compares them.")
elif not compare_encoders:
    print("Skipped on a CPU to keep this notebook quick: set compare_encoders = True above and run again "
          "(about 1.3 GB of downloads and two minutes).")
else:
    compare_candidates = t.seeded_subset(candidates, 200, seed=3)
    compare_queries = t.seeded_subset(queries, 100, seed=3)
    for kind, checkpoint in CHECKPOINTS.items():
        try:
            other_processor, other_model = load_any_encoder(checkpoint, device)
        except OSError as error:  # includes the course's HubUnavailableError: say so and go on
            print(f"{kind}: {checkpoint} skipped ({str(error)[:120]})")
            continue
        started = time.perf_counter()
        vectors = t.embed_images(compare_candidates["image"], other_processor, other_model)
        images_per_s = compare_candidates.num_rows / (time.perf_counter() - started)
        precision = t.evaluation.label_precision(vectors, compare_candidates["labels"],
                                                 t.embed_images(compare_queries["image"], other_processor,
                                                                other_model), compare_queries["labels"], k=5)
        encoder_results[kind] = precision
        print(f"{kind:>28}: precision@5 = {precision:.3f}, {images_per_s:.0f} images/s, "
              f"dimension {vectors.shape[1]}  ({checkpoint})")
        del other_model, other_processor  # one extra model in memory at a time (Binder has 2 GB)
        t.free_memory()
if encoder_results:
    figure = plotting.plot_bars(encoder_results, "precision@5 by encoder (same seeded images)")

# %% [markdown]
# ## Your turn
#
# Five exercises, marked by difficulty: ★ one idea, ★★ a few lines, ★★★ build, measure and
# compare. Replace the `None`, run the cell, read the verdict; run `ex.hint(n)` for a hint and
# `ex.hint(n, level=2)` for a closer one. The check works the answer out from your own objects
# and never shows it. Solutions: `%load solutions/01_ex1.py` (and so on) in a new cell.

# %%
ex = exercise_book.notebook("01")
ex

# %% [markdown]
# **Exercise 1 ★.** Which two *candidates* are most alike? Find the pair of row numbers `(i, j)`
# of `candidate_embeddings` with the highest cosine similarity, leaving out every image paired
# with itself.

# %% tags=["exercise"]
answer_pair = None  # your code here: a pair (i, j) of candidate row numbers
ex.check(1, answer_pair, embeddings=candidate_embeddings)

# %% [markdown]
# **Exercise 2 ★★.** Compute precision@k **by hand** for k = 1, 5, 20 and 50: search the
# candidates with `t.CosineIndex().add(candidate_embeddings)` and compare the labels of the
# returned ids with the query labels. Put the four numbers in an array, in that order. Then look
# at them: does precision fall as k grows, and by how much? (Reaching further from the query
# reaches towards the other classes' clouds; how far that is depends on how well the clouds are
# separated.)

# %% tags=["exercise"]
answer_precisions = None  # your code here: precision@1, @5, @20, @50
ex.check(2, answer_precisions, embeddings=candidate_embeddings, labels=candidate_labels,
         queries=query_embeddings, query_labels=query_labels)

# %% [markdown]
# **Exercise 3 ★★.** Does the length of a raw CLS vector alone tell the label? Earlier we kept
# the raw lengths of the candidates (`candidate_lengths`, their labels `length_labels`) and of
# the queries (`query_lengths`). Classify each query as the class whose *mean candidate length*
# is nearest to the query's length, and give the share of queries it labels right (0 to 1).
# Compare it with `chance` and with precision@1 of cosine search: what does normalising to length
# 1 throw away, and what does it keep?

# %% tags=["exercise"]
answer_length_accuracy = None  # your code here: accuracy of the nearest-mean-length rule
ex.check(3, answer_length_accuracy, lengths=candidate_lengths, labels=length_labels,
         query_lengths=query_lengths, query_labels=query_labels)

# %% [markdown]
# **Exercise 4 ★.** ViT-base embeds 3-7 images per second on a 2-core CPU (measured). At 6 images
# per second, about how many **minutes** does embedding the full beans train split (1,034 photos)
# take? This is why the course caches embeddings and uses a subset on CPUs.

# %% tags=["exercise"]
answer_minutes = None  # your code here: a number of minutes
ex.check(4, answer_minutes)

# %% [markdown]
# **Exercise 5 ★★★ (predict, then measure).** An encoder that learned nothing would give each
# image a random vector. *Predict* precision@5 of exact search over such vectors: how often does
# a result share its query's label, given how the labels are spread over `candidate_labels`?
# Then *measure* it: with `rng = np.random.default_rng(0)` draw standard normal vectors of the
# candidates' shape, then of the queries' shape (in that order), and compute
# `t.evaluation.label_precision(...)` with `k=5` and the course's labels. How far is the
# measurement from the prediction? Compare both with the dashed *chance* line (always guessing
# the most common class) and with the "same ViT, random weights" bar: what did the untrained
# network already get right?

# %% tags=["exercise"]
answer_predicted = None  # your code here: the precision@5 you expect from random vectors
answer_measured = None  # your code here: the precision@5 measured with random vectors
ex.check(5, answer_predicted, answer_measured, embeddings=candidate_embeddings, labels=candidate_labels,
         queries=query_embeddings, query_labels=query_labels)
