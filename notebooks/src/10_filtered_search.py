# %% [markdown]
# # 10 · Filtered search: only the healthy leaves
#
# "Leaves like this one, but healthy"; "photos like this one, but in stock". A **filter** says
# which items may come back, and the search must return the nearest *allowed* items. The share of
# the items a filter allows is its **selectivity**. Three ways to honour a filter: search the
# allowed items only (**pre-filtering**), search everything and drop what is not allowed
# (**post-filtering**), or filter **inside** the index while it searches. This notebook builds each
# by hand, checks it against the package and FAISS, and measures where each one loses: recall as
# the filter gets selective, or speed. Deleting an item turns out to be a filter too.
#
# **Data.** The course's bean photos first; then, to tell the methods apart,
# `synthetic.realistic_embeddings` (shared mean direction, clusters of unequal size, near-tied
# neighbours), labelled SYNTHETIC wherever it appears.

# %%
import sys

if "google.colab" in sys.modules:
    %pip install -q "imgsim-tutorial @ git+https://github.com/imgsim-tutorial/imgsim-tutorial"

# %%
import copy
import warnings

import faiss
import numpy as np

import imgsim_tutorial as t
from imgsim_tutorial.data.synthetic import embedding_statistics, realistic_embeddings, realistic_labels
from imgsim_tutorial.filtering import FilterPlanner, postfilter_search
from imgsim_tutorial.teaching import exercise_book, plotting
from imgsim_tutorial.widgets import FilterExplorer
from imgsim_tutorial.widgets.filters import filter_view, plot_filter_view

warnings.filterwarnings("ignore", message=".*fewer than k.*")  # short result lists show up as lower recall
faiss.omp_set_num_threads(1)  # FAISS on one thread, like our single-query timings (and kind to a shared machine)
course = t.load_course()
candidate_embeddings, candidate_labels = course.candidate_embeddings, course.candidate_labels
label_names = course.label_names

# %% [markdown]
# ## The nearest healthy leaves
#
# A filter is a boolean **mask**, one entry per item in the order they were added: here, "is this
# leaf healthy?" for every candidate photo. Pre-filtering by hand is exact search over the allowed
# rows only; the positions of the best scores are positions *in the subset*, so map them back:

# %%
healthy = candidate_labels == label_names.index("healthy")
query_row = int(np.flatnonzero(course.query_labels != label_names.index("healthy"))[0])  # a diseased leaf
query = course.query_embeddings[query_row]
allowed_rows = np.flatnonzero(healthy)
by_hand = allowed_rows[np.argsort(-(candidate_embeddings[allowed_rows] @ query), kind="stable")[:6]]
leaf_index = t.CosineIndex().add(candidate_embeddings)
plain_scores, plain_ids = leaf_index.search(query, 6)
filtered_scores, filtered_ids = leaf_index.search(query, 6, allowed=healthy)
print(f"{healthy.sum()} of {len(healthy)} leaves are healthy; by hand = package: "
      f"{by_hand.tolist() == filtered_ids[0].tolist()}")
figure = plotting.show_images(
    [course.query_images[query_row], *[course.candidate_images[i] for i in plain_ids[0]],
     course.query_images[query_row], *[course.candidate_images[i] for i in filtered_ids[0]]],
    [f"query: {label_names[course.query_labels[query_row]]}",
     *[f"{label_names[candidate_labels[i]]}\n{s:.3f}" for i, s in zip(plain_ids[0], plain_scores[0])],
     "query, allowed=healthy", *[f"{label_names[candidate_labels[i]]}\n{s:.3f}"
                                 for i, s in zip(filtered_ids[0], filtered_scores[0])]], ncols=7, size=1.4)

# %%
# What you should see: the plain search returns diseased leaves, the filtered one only healthy leaves,
# the same six as by hand.
assert not healthy[plain_ids[0]].all() and healthy[filtered_ids[0]].all()
assert by_hand.tolist() == filtered_ids[0].tolist()

# %% [markdown]
# A filter can also be a collection of ids (a list, a set, a range): the index turns it into a
# mask. Anything else is refused with a message that says how to fix it, before any search runs:

# %%
healthy_ids = set(np.flatnonzero(healthy).tolist())  # our ids are 0, 1, ... in the order added
assert np.array_equal(leaf_index.search(query, 6, allowed=healthy_ids)[1], filtered_ids)
for what, bad in {"0/1 integers": healthy.astype(int), "a mask one entry short": healthy[:-1],
                  "a file name": ["leaf_0001.png"]}.items():
    try:
        leaf_index.search(query, 6, allowed=bad)
    except ValueError as error:
        print(f"{what}: {error}")

# %% [markdown]
# ## Post-filtering, and why it collapses
#
# Post-filtering asks an index for more than k results and drops the disallowed ones. It needs
# nothing from the index, so it is what one writes first. If a filter allows a share s of the
# items, about s of any result list survives, so ask for 2k / s results. On SYNTHETIC data, with
# an `IVFIndex` (notebook 06) and FAISS's HNSW graph (`HNSWIndex`, notebooks 07 and 09), and random
# filters that allow 50 %, 10 %, 1 % and 0.1 % of the items:

# %%
N, K = 20_000, 10
embeddings, queries = realistic_embeddings(N, 768, n_queries=100, seed=0)
labels, query_labels = realistic_labels(N, n_queries=100, seed=0)  # each item's cluster
stats = embedding_statistics(embeddings, queries, labels=labels, query_labels=query_labels)
print(f"SYNTHETIC {embeddings.shape}: random-pair cosine {stats['random_pair_cosine']:.2f}, top-1 cosine "
      f"{stats['top1_cosine']:.2f}, gap between 10th and 11th neighbour {stats['gap_k_k1']:.4f}, share of the "
      f"top-10 in the query's own cluster {stats['top_k_in_cluster']:.0%}")
exact = t.CosineIndex().add(embeddings)  # exact filtered search: the oracle
ivf = t.IVFIndex(n_lists=140, n_probes=8, seed=0).add(embeddings)
hnsw = t.HNSWIndex(M=16, ef_construction=40, ef_search=32).add(embeddings)
rng = np.random.default_rng(1)
filters = {share: np.isin(np.arange(N), rng.choice(N, int(share * N), replace=False))
           for share in (0.5, 0.1, 0.01, 0.001)}

# %% [markdown]
# Post-filtering by hand at 1 %, checked against the package's `postfilter_search`:

# %%
one_percent = filters[0.01]
_, fetched = ivf.search(queries, int(2 * K / 0.01))  # 2k / s results (fewer if the index finds fewer)
kept = [row[(row >= 0) & one_percent[row]][:K] for row in fetched]  # the allowed ones, in rank order
post_ids = np.array([np.pad(row, (0, K - len(row)), constant_values=-1) for row in kept])
true_ids = exact.search(queries, K, allowed=one_percent)[1]
assert np.array_equal(post_ids, postfilter_search(ivf, queries, K, one_percent)[1])
returned = (fetched >= 0).sum(axis=1).mean()
print(f"asked for {fetched.shape[1]} results, IVF returned {returned:.0f} per query (all its {ivf.n_probes} "
      f"lists hold), {(one_percent[fetched] & (fetched >= 0)).sum(axis=1).mean():.1f} of them allowed")
print(f"recall@10 against exact filtered search: {t.recall_at_k(post_ids, true_ids):.3f}")

# %%
# What you should see: IVF cannot deliver 2k/s results, and the few allowed ones among them fall short.
assert returned < 2 * K / 0.01 and t.recall_at_k(post_ids, true_ids) < 0.9

# %% [markdown]
# The over-fetch assumes the index can rank two thousand items well. IVF scores only its
# 8 nearest lists, so it returns what those hold, and a hundredth of them are allowed: the
# allowed items of the query's own neighbourhood, not the nearest allowed items of the whole
# collection. The more selective the filter, the further away the true answers lie, and the
# less of them any fixed neighbourhood holds.
#
# ## Filtering inside the index
#
# **IVF.** Visit lists nearest first, as before, but score only their *allowed* members, and keep
# visiting lists until as many allowed vectors were scored as the plain search scores in all. By
# hand for query 0 at 10 %:

# %%
ten_percent = filters[0.1]
order = ivf.probed_lists(queries[0], n_probes=ivf.n_lists)[0]  # every list, nearest centroid first
target = min(ten_percent.sum(), ivf.list_sizes()[order[:ivf.n_probes]].sum())  # the plain search's work
shortlist, visited = [], 0
for j in order:
    members = ivf.ids_[ivf.lists_ == j]
    shortlist.extend(members[ten_percent[members]])  # only allowed members are scored
    visited += 1
    if visited >= ivf.n_probes and len(shortlist) >= target:
        break
shortlist = np.array(shortlist)
by_hand = shortlist[np.argsort(-(embeddings[shortlist] @ queries[0]))[:K]]
_, inside_ids, inside_stats = ivf.search_with_stats(queries[0], K, allowed=ten_percent, plan="inside")
true_ten = exact.search(queries[0], K, allowed=ten_percent)[1][0]
print(f"visited {visited} of {ivf.n_lists} lists (the plain search: {ivf.n_probes}), scored {len(shortlist)} "
      f"allowed vectors; by hand and IVFIndex agree on {len(set(by_hand) & set(inside_ids[0]))} of {K}; "
      f"{len(set(by_hand) & set(true_ten))} of the true {K}")
assert visited > ivf.n_probes  # a filter makes IVF visit more lists
assert len(set(by_hand) & set(inside_ids[0])) >= K - 1 and len(set(by_hand) & set(true_ten)) >= K - 1

# %% [markdown]
# **FAISS** takes a filter as an `IDSelector` inside the search parameters of one call: here an
# `IDSelectorBitmap`, one bit per item (FAISS numbers items 0, 1, ... in the order added, as we
# do). Its IVF (`IndexIVFFlat`, built on our centroids as in notebook 06) skips disallowed items
# but stops after `nprobe` lists, whatever the filter. Its HNSW walk steps through disallowed
# nodes, because they are the roads between allowed ones, but only allowed nodes enter the
# results; the beam keeps `efSearch` places, and with few allowed nodes it fills with disallowed
# ones and stops early, its result list short. `HNSWIndex` passes the same selector, but first
# looks at the query's plain neighbourhood and widens `efSearch` by the share it found allowed,
# or scans the allowed rows exactly when that is cheaper. Every method, every filter:

# %%
def faiss_selector(mask):
    """FAISS's filter: one bit per item in add order. Keep ``bits`` alive while FAISS reads it."""
    bits = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)), bits


def filtered_ids(mask, batch, k, ivf, hnsw, faiss_ivf):
    """Each strategy's top-k ids for the queries ``batch`` under the filter ``mask``."""
    selector, bits = faiss_selector(mask)
    ivf_settings = faiss.SearchParametersIVF(nprobe=ivf.n_probes, sel=selector)
    hnsw_settings = faiss.SearchParametersHNSW(efSearch=hnsw.ef_search, sel=selector)
    return {"post-filter IVFIndex": postfilter_search(ivf, batch, k, mask)[1],
            "FAISS IVF + IDSelector": faiss_ivf.search(batch, k, params=ivf_settings)[1],
            "FAISS HNSW + IDSelector": hnsw.index_.search(batch, k, params=hnsw_settings)[1],
            "IVFIndex, inside": ivf.search_with_stats(batch, k, allowed=mask, plan="inside")[1],
            "HNSWIndex, inside": hnsw.search_with_stats(batch, k, allowed=mask, plan="inside")[1]}


quantizer = faiss.IndexFlatIP(768)
quantizer.add(ivf.centroids_)
faiss_ivf = faiss.IndexIVFFlat(quantizer, 768, ivf.n_lists, faiss.METRIC_INNER_PRODUCT)
faiss_ivf.is_trained = True
faiss_ivf.add(embeddings)
recalls, empty = {}, {}
for share, mask in filters.items():
    truth = exact.search(queries, K, allowed=mask)[1]
    found = filtered_ids(mask, queries, K, ivf, hnsw, faiss_ivf)
    for name, ids in found.items():
        recalls.setdefault(name, []).append(t.recall_at_k(ids, truth))
    empty[share] = (found["FAISS HNSW + IDSelector"] < 0).mean()
    print(f"{share:6.1%} allowed: " + ", ".join(f"{name} {values[-1]:.3f}" for name, values in recalls.items())
          + f"; FAISS HNSW's result places left empty: {empty[share]:.0%}")
figure, (axis,) = plotting.subplots(1, width=6.4, height=3.8)
for (name, values), style in zip(recalls.items(), ("o-", "s--", "^-", "v-", "D:")):
    axis.plot([100 * share for share in filters], values, style, label=name, ms=9 if "post" in name else 5)
axis.set(xscale="log", xlabel="share of items the filter allows, % (log scale; more selective to the right)",
         ylabel="recall@10 against exact filtered search", ylim=(0, 1.03),
         title=f"SYNTHETIC {N:,} x 768, random filters")
axis.set_xticks([50, 10, 1, 0.1], ["50", "10", "1", "0.1"])
axis.minorticks_off()
axis.invert_xaxis()
axis.legend(fontsize=7, loc="lower left")
figure.tight_layout()

# %%
# What you should see: from 50 % to 1 % allowed, post-filtering and FAISS's IVF lose recall together,
# FAISS's filtered HNSW walk collapses, and filtering inside IVFIndex and HNSWIndex keeps recall@10 >= 0.9.
assert recalls["post-filter IVFIndex"][2] < recalls["post-filter IVFIndex"][0] - 0.2
assert all(abs(a - b) <= 0.05 for a, b in zip(recalls["post-filter IVFIndex"], recalls["FAISS IVF + IDSelector"]))
assert recalls["FAISS HNSW + IDSelector"][2] < 0.5 and recalls["FAISS HNSW + IDSelector"][3] < 0.2
assert empty[0.001] > 0.5  # its result lists come back short
assert min(recalls["IVFIndex, inside"] + recalls["HNSWIndex, inside"]) >= 0.9

# %% [markdown]
# Where each loses: post-filtering and FAISS's IVF look only where the plain search looks, so their
# recall falls as the filter gets selective. FAISS's filtered walk gets stuck. Filtering inside
# keeps recall by doing more work: IVF visits more lists, the graph a wider beam, and at the low
# end both simply scan the allowed rows. Post-filtering the *graph* keeps recall too, by asking
# for 2k / s results, which at 0.1 % means walking nearly the whole graph. The explorer shows the
# work next to the recall, on a smaller SYNTHETIC set: move the selectivity, pick the index.
# Below it, the same view as a still picture, for readers where widgets do not run.

# %%
explorer = FilterExplorer()
explorer.widget

# %%
post_graph = filter_view(explorer.demo, "HNSWIndex", 0.001)["rows"]["post-filter"]
print(f"SYNTHETIC {explorer.demo['embeddings'].shape}, post-filtering HNSWIndex at 0.1 %: recall "
      f"{post_graph['recall']:.2f}, scoring {post_graph['scanned']:.0%} of the items per query")
assert post_graph["recall"] >= 0.9 and post_graph["scanned"] > 0.5
figure = plot_filter_view(explorer.view)

# %% [markdown]
# **The hard case: the query's own cluster excluded.** A random filter leaves a little of every
# neighbourhood. "Anything but this query's own kind" allows most of the collection, yet none of
# the query's neighbourhood, so a search that starts near the query finds nothing allowed there:

# %%
own = {}
for q in range(50):  # each query its own filter: half the queries keep this cell quick
    mask = labels != query_labels[q]
    truth = exact.search(queries[q], K, allowed=mask)[1]
    for name, ids in filtered_ids(mask, queries[q:q + 1], K, ivf, hnsw, faiss_ivf).items():
        own.setdefault(name, []).append(t.recall_at_k(ids, truth))
own = {name: float(np.mean(values)) for name, values in own.items()}
print(f"the filter allows {np.mean(labels[None, :] != query_labels[:50, None]):.0%} of the items on average; "
      "recall@10: " + ", ".join(f"{name} {recall:.3f}" for name, recall in own.items()))

# %%
# What you should see: post-filtering collapses (it over-fetches for a filter that allows most items),
# FAISS's filtered walk loses some, and IVFIndex and HNSWIndex stay at 0.9 or above.
assert own["post-filter IVFIndex"] < 0.5 and own["FAISS HNSW + IDSelector"] < own["IVFIndex, inside"]
assert own["IVFIndex, inside"] >= 0.9 and own["HNSWIndex, inside"] >= 0.9
assert stats["top_k_in_cluster"] > 0.5  # a query's nearest items are mostly its own kind

# %% [markdown]
# Post-filtering asked for about 2k results, as a filter that allows nearly everything suggests,
# but a query's nearest items are mostly its own kind (the share printed with the data's
# statistics), so few of them survive. FAISS's walk starts among the query's own kind, every node
# there disallowed. The package's indexes first look at how much of the query's plain
# neighbourhood the filter allows; when that is far below the filter's share of all items, they
# scan the allowed rows exactly for that query (`FILTERED_AWAY` in `index_base.py`).
#
# ## Speed: a selective filter is a small scan
#
# At 1 % the allowed rows are two hundred vectors. Time one query at a time, one thread, every
# strategy against a plain NumPy scan of those rows, in the same rounds (`compare_speeds`):

# %%
timed = queries[:50]
allowed_rows = np.flatnonzero(one_percent)
speeds = t.compare_speeds({
    "NumPy scan of the allowed rows": lambda: [allowed_rows[np.argsort(-(embeddings[allowed_rows] @ query))[:K]]
                                               for query in timed],
    "post-filter IVFIndex": lambda: [postfilter_search(ivf, query, K, one_percent) for query in timed],
    "IVFIndex, inside": lambda: [ivf.search_with_stats(query, K, allowed=one_percent, plan="inside")
                                 for query in timed],
    "HNSWIndex, inside": lambda: [hnsw.search_with_stats(query, K, allowed=one_percent, plan="inside")
                                  for query in timed],
    "IVFIndex, auto (plans a scan)": lambda: [ivf.search(query, K, allowed=one_percent) for query in timed],
}, threads=1, rounds=7, per_call=len(timed))  # 7 rounds: the scan's are short, so a busy moment weighs more
for name, speed in speeds.items():
    print(f"{name:32s} {speed['median_s'] * 1e3:6.3f} ms per query, {speed['speedup']:5.2f}x the scan's speed")

# %%
# What you should see: at 1 % the plain scan beats every index.
assert all(speed["speedup"] < 1 for name, speed in speeds.items() if name != "NumPy scan of the allowed rows")

# %% [markdown]
# Two hundred vectors are one small matrix product; every index adds its bookkeeping (checking the
# filter, ordering lists, walking a graph) to that. Every search takes `plan="auto"` by default: it
# scans the allowed rows exactly when they are fewer than the index would score inside, an
# estimate. `FilterPlanner` *measures* instead: it times both plans at a range of selectivities on
# your index and machine, and scans exactly at and below the largest selectivity where the scan
# won, its **crossover**. It moves with the index's settings, the collection and the machine:

# %%
# 60 queries a round: with 20, a round at 1 % lasted 2 ms, and one busy moment of the machine reversed the order.
planner = FilterPlanner(ivf, selectivities=(0.5, 0.2, 0.1, 0.05, 0.02, 0.01), rounds=5).fit(queries[:60])
for share, seconds in planner.timings_.items():
    print(f"{share:4.0%} allowed: inside {seconds['inside'] * 1e3:.3f} ms, exact scan {seconds['exact'] * 1e3:.3f} ms")
print(f"measured crossover: {planner.crossover_:.0%}; plan for the 10 % filter: {planner.plan(ten_percent)!r}, "
      f"for the 1 % filter: {planner.plan(one_percent)!r}")
assert planner.timings_[0.5]["inside"] < planner.timings_[0.5]["exact"]  # a loose filter: the index wins
assert planner.timings_[0.01]["exact"] < planner.timings_[0.01]["inside"]  # a selective one: the scan wins

# %% [markdown]
# ## Deletes and updates
#
# `index.remove(ids)` leaves a **tombstone**: the items are marked removed and every search treats
# the mark as a filter, but their memory stays until `compact()` rebuilds the index without them.
# FAISS's HNSW cannot remove a node at all (it would cut the links that route walks through it),
# so for a graph tombstones are the only way. What they cost as they accumulate:

# %%
tombstoned = copy.deepcopy(hnsw)
removal_order = np.random.default_rng(2).permutation(N)
for share in (0.1, 0.3, 0.5):
    tombstoned.remove(removal_order[:int(share * N)])
    kept = np.ones(N, dtype=bool)
    kept[removal_order[:int(share * N)]] = False
    recall = t.recall_at_k(tombstoned.search(queries, K)[1], exact.search(queries, K, allowed=kept)[1])
    print(f"{tombstoned.n_removed():6,} removed: recall@10 {recall:.3f}, memory "
          f"{plotting.readable_bytes(sum(tombstoned.memory_bytes().values()))}")
compacted = copy.deepcopy(tombstoned).compact()  # a rebuild from the kept vectors
memory = {name: sum(index.memory_bytes().values()) for name, index in (("fresh", hnsw), ("compacted", compacted))}
print(f"compacted: {len(compacted):,} items, {plotting.readable_bytes(memory['compacted'])} "
      f"(fresh: {plotting.readable_bytes(memory['fresh'])})")
speeds = t.compare_speeds({name: lambda index=index: [index.search(query, K) for query in timed]
                           for name, index in (("fresh", hnsw), ("half removed, tombstones", tombstoned),
                                               ("half removed, compacted", compacted))},
                          threads=1, rounds=3, per_call=len(timed))
for name, speed in speeds.items():
    print(f"{name:26s} {speed['median_s'] * 1e3:.3f} ms per query, {speed['speedup']:.2f}x the fresh index's speed")

# %%
# What you should see: tombstones keep recall and memory and cost speed; compact() frees the memory, and
# the compacted index is faster than the one with tombstones.
assert recall >= 0.9 and sum(tombstoned.memory_bytes().values()) >= memory["fresh"]
assert memory["compacted"] < 0.6 * memory["fresh"]
assert speeds["half removed, tombstones"]["speedup"] < min(1, speeds["half removed, compacted"]["speedup"])

# %% [markdown]
# An index that only shifts later items down can remove for real: FAISS's flat index does it with
# `remove_ids`, which `FlatIPIndex.compact()` calls. HNSW refuses. And an **update** is a remove
# plus an add under the same id: the old vector stays as a tombstone until the next `compact()`.

# %%
flat = t.FlatIPIndex().add(embeddings[:1000])
flat.remove([3, 4, 5]).compact()
print(f"FlatIPIndex after remove_ids: {len(flat)} items, FAISS holds {flat.index_.ntotal}")
try:
    hnsw.index_.remove_ids(faiss.IDSelectorBatch(np.array([3], dtype=np.int64)))
except RuntimeError as error:
    print("IndexHNSWFlat.remove_ids:", str(error).strip().split(": ")[-1])
changed = (embeddings[5] + embeddings[6]) / np.linalg.norm(embeddings[5] + embeddings[6])  # item 7's new vector
compacted.remove([7]).add(changed[None], ids=[7])
scores, ids = compacted.search(changed, 1)
print(f"after the update: {len(compacted):,} items held, {compacted.n_removed()} tombstone; the new vector's "
      f"nearest is id {ids[0, 0]} at cosine {scores[0, 0]:.3f}")
assert len(flat) == flat.index_.ntotal == 997 and ids[0, 0] == 7

# %% [markdown]
# ## Your turn
#
# Three exercises, marked by difficulty: ★ one idea, ★★ a few lines, ★★★ build, measure and
# compare. Replace the `None`, run the cell, read the verdict; run `ex.hint(n)` for a hint and
# `ex.hint(n, level=2)` for a closer one. The check works the answer out from your own objects
# and never shows it. Solutions: `%load solutions/10_ex1.py` (and so on) in a new cell.

# %%
ex = exercise_book.notebook("10")
ex

# %% [markdown]
# **Exercise 1 ★.** Back to the bean photos: the ids of the 5 candidate leaves nearest to `query`
# among those labelled `bean_rust` (ids of the whole collection, as `leaf_index.search` returns them).

# %% tags=["exercise"]
answer_ids = None  # your code here: 5 ids, nearest first
ex.check(1, answer_ids, embeddings=candidate_embeddings, labels=candidate_labels, names=label_names, query=query)

# %% [markdown]
# **Exercise 2 ★★ (predict, then measure).** Post-filtering with a fixed over-fetch: ask `ivf` for
# 100 results per query and keep those `two_percent` allows. *Predict* how many of the 100 are
# allowed, on average. Then *measure* it: the mean over all `queries` of the number of allowed ids
# among `ivf.search(queries, 100)`. What recall@10 can such a post-filter reach?

# %% tags=["exercise"]
two_percent = np.random.default_rng(7).random(N) < 0.02  # a filter that allows about 2 % of the items
answer_predicted = None  # your code here: allowed results expected among 100
answer_measured = None  # your code here: the mean count over all queries
ex.check(2, answer_predicted, answer_measured, index=ivf, queries=queries, allowed=two_percent)

# %% [markdown]
# **Exercise 3 ★★★.** FAISS's IVF stops after `nprobe` lists, whatever the filter. With the 1 %
# filter `one_percent`, find the smallest `nprobe` among 8, 16, 32, 64 and 140 at which `faiss_ivf`
# (searched with `faiss_selector(one_percent)` in `faiss.SearchParametersIVF`) reaches recall@10
# ≥ 0.95 against exact filtered search on `queries`. What share of the collection does it then scan,
# and how does that compare with scanning the allowed rows?

# %% tags=["exercise"]
answer_nprobe = None  # your code here: one of 8, 16, 32, 64, 140
ex.check(3, answer_nprobe, faiss_index=faiss_ivf, embeddings=embeddings, queries=queries, allowed=one_percent)
