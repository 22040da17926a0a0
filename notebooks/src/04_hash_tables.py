# %% [markdown]
# # 04 · Hash tables: locality-sensitive hashing (LSH)
#
# Notebook 03 gave every embedding a short code such that similar embeddings tend to share it.
# Use the code as the key of a hash table and a query only has to look at the candidates in its
# own bucket. This notebook builds such tables **by hand** first (a plain Python dict), checks
# the package's `LSHIndex` against them, measures what LSH misses, separates the two bugs of the
# tutorial this course grew from, and turns the S-curve of many tables into a way to choose the
# settings. Notebook 05 then asks when LSH pays off, and what it costs to run one.

# %%
import sys

if "google.colab" in sys.modules:
    %pip install -q "imgsim-tutorial @ git+https://github.com/imgsim-tutorial/imgsim-tutorial"

# %%
import warnings

import numpy as np

import imgsim_tutorial as t
from imgsim_tutorial import tuning
from imgsim_tutorial.evaluation import time_call
from imgsim_tutorial.teaching import exercise_book, plotting
from imgsim_tutorial.teaching.diagrams import lsh_structure_diagram
from imgsim_tutorial.tuning import measured_s_curve, tradeoff_point
from imgsim_tutorial.widgets import TableBrowser
from imgsim_tutorial.widgets.tables import plot_bucket_sizes, table_view
from imgsim_tutorial.widgets.tradeoffs import plot_s_curves

course = t.load_course()
candidate_embeddings, query_embeddings = course.candidate_embeddings, course.query_embeddings
candidate_labels, query_labels, label_names = course.candidate_labels, course.query_labels, course.label_names
n, dim = candidate_embeddings.shape
exact_index = t.CosineIndex().add(candidate_embeddings)
exact_scores, exact_ids = exact_index.search(query_embeddings, k=10)  # the oracle
print(f"{n} candidates, {len(query_embeddings)} queries, dimension {dim}")

# %% [markdown]
# ## LSH by hand
#
# The original tutorial kept each table as a dict `{code: [ids]}`. That design is right; its bugs
# were elsewhere (one set of hyperplanes for all tables, and a score that ties). Here it is done
# right, in two short functions that read no notebook globals:
#
# 1. every table has **its own** `n_bits` hyperplanes; an item's code is its `n_bits` sides, packed
#    into one integer (bit `j` worth `2**j`, as in notebook 03);
# 2. a query collects the members of its bucket in every table (the **union**), plus one
#    **probe** per table: the neighbouring bucket across the hyperplane that passes closest to
#    the query (the bit it is least sure of);
# 3. the candidates are **re-ranked by exact cosine**.

# %%
def build_tables(embeddings, hyperplanes):
    """One dict {code: [ids]} per table; hyperplanes has shape (n_tables, n_bits, d)."""
    place_values = 2 ** np.arange(hyperplanes.shape[1])  # bit j is worth 2**j
    tables = []
    for planes in hyperplanes:  # every table has its own hyperplanes
        codes = (embeddings @ planes.T > 0) @ place_values  # n_bits sides -> one integer per item
        table = {}
        for item, code in enumerate(codes.tolist()):
            table.setdefault(code, []).append(item)
        tables.append(table)
    return tables


def search_by_hand(query, tables, hyperplanes, embeddings, k=10):
    """Union of the query's buckets plus one probe per table, re-ranked by exact cosine."""
    place_values = 2 ** np.arange(hyperplanes.shape[1])
    candidates = set()
    for table, planes in zip(tables, hyperplanes):
        margins = planes @ query  # which side of each hyperplane, and how far
        code = int((margins > 0) @ place_values)
        least_sure = 1 << int(np.argmin(np.abs(margins)))  # the bit most likely to be wrong
        for probe in (code, code ^ least_sure):  # its own bucket, then the nearest other one
            candidates.update(table.get(probe, []))
    candidates = np.fromiter(sorted(candidates), dtype=np.int64)
    scores = embeddings[candidates] @ query  # exact cosine: the vectors have length 1
    best = np.argsort(-scores, kind="stable")[:k]
    return scores[best], candidates[best]


# %% [markdown]
# `LSHIndex(n_bits, n_tables, n_probes, seed)` does the same with arrays instead of Python loops
# (sorted codes and binary search instead of dicts). Give both the **same hyperplanes** (the
# index's `hyperplanes_`) and they must return the same neighbours:

# %%
reference = t.LSHIndex(n_bits=8, n_tables=10, n_probes=2, seed=0).add(candidate_embeddings)
hyperplanes = reference.hyperplanes_  # (n_tables, n_bits, d): the same random draws for both
tables = build_tables(candidate_embeddings, hyperplanes)
by_hand = [search_by_hand(query, tables, hyperplanes, candidate_embeddings) for query in query_embeddings]
hand_scores, hand_ids = np.array([s for s, _ in by_hand]), np.array([i for _, i in by_hand])
lsh_scores, lsh_ids = reference.search(query_embeddings, 10)
same_sets = np.mean([set(a) == set(b) for a, b in zip(hand_ids.tolist(), lsh_ids.tolist())])
print(f"table 0 by hand: {len(tables[0])} buckets, the largest holds {max(map(len, tables[0].values()))} items")
print(f"queries with the same top-10 ids by hand and by LSHIndex: {same_sets:.0%}; "
      f"largest score difference {np.abs(hand_scores - lsh_scores).max():.1e}")

# %%
assert np.allclose(hand_scores, lsh_scores, atol=1e-5), "same hyperplanes, same candidates: same cosines"
assert same_sets >= 0.99  # near-tied 10th/11th scores may swap between the two implementations

# %% [markdown]
# Now time all three on the course's images: the dict version, `LSHIndex`, and exact search.

# %%
timed_queries = query_embeddings[:30]
searches = {  # one query at a time, each method in the same rounds, one thread (t.compare_speeds)
    "exact search (CosineIndex)": lambda: [exact_index.search(q, 10) for q in timed_queries],
    "LSH by hand (dicts)": lambda: [search_by_hand(q, tables, hyperplanes, candidate_embeddings)
                                    for q in timed_queries],
    "LSHIndex": lambda: [reference.search(q, 10) for q in timed_queries],
}
speeds = t.compare_speeds(searches, threads=1, rounds=5, per_call=len(timed_queries))
builds = {"exact search (CosineIndex)": lambda: t.CosineIndex().add(candidate_embeddings),
          "LSH by hand (dicts)": lambda: build_tables(candidate_embeddings, hyperplanes),
          "LSHIndex": lambda: t.LSHIndex(n_bits=8, n_tables=10, n_probes=2).add(candidate_embeddings)}
scanned = {"exact search (CosineIndex)": 1.0,
           "LSHIndex": reference.search_with_stats(query_embeddings, 10)[2]["n_candidates"].mean() / n}
print(f"{'method':<28}{'build ms':>9}{'query ms':>10}{'vs exact':>10}{'scanned':>9}")
for name, speed in speeds.items():
    build_ms = time_call(builds[name], repeats=3)["median_s"] * 1e3
    print(f"{name:<28}{build_ms:>9.2f}{speed['median_s'] * 1e3:>10.3f}{speed['speedup']:>9.2f}x"
          f"{f'{scanned[name]:.0%}' if name in scanned else '':>9}")

# %%
assert speeds["LSHIndex"]["speedup"] < 1, "at a few hundred images LSHIndex's fixed costs lose to one matrix product"

# %% [markdown]
# Where each one wins, on a collection this small:
#
# * **exact search** needs no build and scans every image in one matrix product, which costs
#   little at a few hundred images; it never misses anything;
# * **LSH by hand** is the easiest to read, and with few items its dict lookups are cheap: read
#   its speed against exact search's in the table. But its costs grow in Python steps: one per
#   item and table to build, one per candidate and table (`set.update`) to query;
# * **`LSHIndex`** does the same work in a fixed number of array operations per call. That fixed
#   cost (hashing, finding buckets, merging them) is what you see at a few hundred images, where
#   it is slower than exact search (asserted under the table); array operations are what keep it low when
#   the collection, and the candidates per query, grow to many thousands.
#
# So with only a few hundred images, saving scans buys nothing. LSH pays off when scanning
# everything costs more than hashing and looking up; the section "When does LSH pay off?" below
# measures where that happens.
#
# ## The structure at a glance

# %%
figure = lsh_structure_diagram()

# %% [markdown]
# ## Look inside a table
#
# Choose a table and one of its buckets (largest first). Do the images in a bucket share a label?
# The label *purity* of a bucket is the share of its most common label.

# %%
index = t.LSHIndex(n_bits=8, n_tables=10, seed=0).add(candidate_embeddings)
print(f"{index.n_tables} tables of {index.n_bits} bits ({2 ** index.n_bits} possible buckets each); "
      f"non-empty buckets per table: {[len(index.bucket_sizes(table)) for table in range(index.n_tables)]}")
browser = TableBrowser(index, course.candidate_images, candidate_labels, names=label_names)
browser.widget

# %% [markdown]
# The largest bucket of table 0, statically. The label counts cover every member; the thumbnails
# are 12 members **drawn at random with a seed**, not the first 12 ids: a collection stored
# grouped by class (as the real beans dataset is) would otherwise show one class only.

# %%
largest = table_view(index, table=0, bucket_rank=0, labels=candidate_labels, names=label_names, max_members=12,
                     seed=0)
print(f"largest bucket of table 0: code {largest['code_bits']}, {largest['size']} items, {largest['label_counts']}, "
      f"purity {largest['purity']:.2f}")
figure = plotting.show_images([course.candidate_images[i] for i in largest["members"]],
                                [f"{i}: {label_names[label]}"
                                 for i, label in zip(largest["members"], largest["labels"])],
                                ncols=6, size=1.4)
figure = plot_bucket_sizes(largest)

# %% [markdown]
# ## A query: code → candidates → re-rank
#
# The collision count (in how many tables a candidate shares the query's bucket) is a useful
# *shortlisting* signal, but only the cosine gives a trustworthy order.

# %%
query = query_embeddings[0]
print("query's bucket in each table:", index.query_codes(query))
shortlist = index.candidates(query)
print(f"{len(shortlist)} candidates of {n} to score ({len(shortlist) / n:.0%})")
ids_by_votes, fraction_of_tables = index.collision_counts(query)
print("most votes:", list(zip(ids_by_votes[:5].tolist(), fraction_of_tables[:5].round(2).tolist())))
scores, ids = index.search(query, k=5)
print("LSH top-5:  ", ids[0], scores[0].round(3))
print("exact top-5:", exact_ids[0, :5], exact_scores[0, :5].round(3))

# %% [markdown]
# ## Recall against exact search
#
# **recall@k**: of the true top-k (exact search), what fraction did LSH return? This is the price
# of speed, and the original tutorial never measured it.

# %%
lsh_scores, lsh_ids, stats = index.search_with_stats(query_embeddings, k=10)
recall = t.recall_at_k(lsh_ids, exact_ids)
scanned = stats["n_candidates"].mean() / n
print(f"recall@10 = {recall:.3f}, scanning {scanned:.1%} of the candidates on average")

# %%
# What you should see: most of the true top-10 found while scanning well under all candidates.
assert recall > 0.8, f"recall@10 {recall:.3f}: 10 tables of 8 bits should find most true neighbours"
assert scanned < 0.6, f"scanned {scanned:.0%}: the buckets should spare most of the scan"

# %% [markdown]
# ## A bug worth learning from, one effect at a time
#
# The original tutorial drew **one** set of random hyperplanes and used it for all of its
# "10 tables", and ranked candidates by *collision count ÷ embedding dimension*. Those are two
# bugs. `t.SharedPlanesLSH` rebuilds that design; with `score="cosine"` it keeps the shared
# hyperplanes but re-ranks by true cosine, so each bug can be measured on its own.

# %%
shared = t.SharedPlanesLSH(n_bits=8, n_tables=10).add(candidate_embeddings)
print("shared design, all tables identical:", all(table == shared.tables_[0] for table in shared.tables_))
print("our design, all tables identical:  ", len({codes.tobytes() for codes in index.codes_}) == 1)
shared_scores, shared_ids = shared.search(query, k=5)
print("count/dim scores:", shared_scores, "ids:", shared_ids, f"(10 / {dim} = {10 / dim:.4f})")
assert len(set(shared_scores.tolist())) == 1  # every match collides in all 10 identical tables: a tie


# %%
def recall_one_by_one(model, queries, true_ids, k=10):
    """recall@k of an index that searches one query at a time (short lists padded with -1)."""
    found = [np.pad(model.search(query, k)[1], (0, k), constant_values=-1)[:k] for query in queries]
    return t.recall_at_k(np.array(found), true_ids)


table_counts = [1, 2, 4, 8, 16]
with warnings.catch_warnings():
    # 1 table sometimes finds fewer than k: that shows as lower recall
    warnings.simplefilter("ignore", t.ShortResultWarning)
    effects = {
        "own hyperplanes per table + cosine re-rank": [
            t.recall_at_k(t.LSHIndex(n_bits=8, n_tables=L).add(candidate_embeddings).search(query_embeddings, 10)[1],
                          exact_ids) for L in table_counts],
        "shared hyperplanes + cosine re-rank": [
            recall_one_by_one(t.SharedPlanesLSH(n_bits=8, n_tables=L, score="cosine").add(candidate_embeddings),
                              query_embeddings, exact_ids) for L in table_counts],
        "shared hyperplanes + count/dim score (tutorial)": [
            recall_one_by_one(t.SharedPlanesLSH(n_bits=8, n_tables=L).add(candidate_embeddings), query_embeddings,
                              exact_ids) for L in table_counts],
    }
figure = plotting.plot_lines(table_counts, effects, "n_tables (log scale)", "recall@10",
                               title="8 bits per table: the two bugs separated", log_x=True, ylim=(0, 1.05),
                               reference={"chance: 10 random ids": 10 / n})
for name, values in effects.items():
    print(f"{name:<50}", np.round(values, 3))

# %%
ours, shared_cosine, tutorial = effects.values()
assert ours[-1] > ours[0] + 0.1 and ours[-1] > 0.9  # own hyperplanes: every table adds recall
assert max(shared_cosine) - min(shared_cosine) < 1e-9  # identical tables never add recall...
assert max(tutorial) - min(tutorial) < 1e-9
assert shared_cosine[0] > tutorial[0]  # ...and the count/dim score loses even what the one bucket holds
assert abs(ours[0] - shared_cosine[0]) < 1e-9  # with one table the two cosine designs are the same index

# %% [markdown]
# Read the three lines. With **one** table all three designs use one set of hyperplanes; the
# two cosine lines start at the same recall and the tutorial's line starts lower: that gap is
# the cost of the tied score alone (its "ranking" is the order items were added). Adding
# **shared** tables changes nothing at all (flat lines): that is the cost of the shared
# hyperplanes. Only tables with their own hyperplanes climb.
#
# ## Amplification: the S-curve, measured over seeds
#
# One table of K bits catches a pair at similarity s with probability p(s)^K (notebook 03). With
# L independent tables, the pair is caught if *any* table catches it:
#
# $$P(s) = 1 - \left(1 - p(s)^K\right)^L$$
#
# More bits push the curve right (fewer false candidates); more tables push it up (fewer misses).
# Measure it on all query–candidate pairs, for three seeds (three draws of hyperplanes); the
# error bars are ±1 standard deviation over the seeds. (The theory is compared with the
# measurement averaged over the same pairs of each similarity bin.)

# %%
similarity = query_embeddings @ candidate_embeddings.T
edges = np.linspace(similarity.min(), 1, 14)
curves = [measured_s_curve(candidate_embeddings, query_embeddings, K, L, edges, seeds=(0, 1, 2))
          for K, L in [(8, 1), (8, 10), (16, 10)]]
figure = plot_s_curves(curves)
for curve in curves:
    gap = np.abs(curve["mean"] - curve["theory"])
    print(f"K={curve['n_bits']:>2}, L={curve['n_tables']:>2}: largest |measured - theory| {gap.max():.3f} "
          f"at cosine {curve['centres'][gap.argmax()]:.2f}, where the spread over seeds is "
          f"±{curve['std'][gap.argmax()]:.3f}")

# %%
# What you should see: each measured curve within a few spreads of its theory (averaged over the same pairs).
for curve in curves:
    assert np.all(np.abs(curve["mean"] - curve["theory"]) <= 3 * curve["std"] + 0.03), curve["n_bits"]

# %% [markdown]
# What the figure shows: the measured dots follow their curves, and each curve's largest gap
# (printed above) is within a few error bars of its theory (asserted), the error bar being the
# spread between draws of hyperplanes. The formula describes the average over draws, not any single index; the pairs of
# one query all meet the same few hyperplanes, so one draw can sit well above or below the
# average, most visibly where a curve is steep. More bits shift the curve right (fewer false
# candidates among dissimilar pairs), more tables lift it (fewer misses among similar ones).
#
# ## Choosing `n_bits`, `n_tables`, `n_probes`
#
# The S-curve turns into a recipe. For a recall target, what matters is the similarity of the
# true neighbours (the curve must be high there) and of everything else (the curve should be
# low there, or every query scans it). `tuning.similarity_profile` measures both on a sample,
# `tuning.suggest_lsh_settings` searches all settings for the cheapest one *predicted* to reach
# the target, counting work as candidates to re-rank plus the hashing and bucket lookups.
# Predictions are only predictions: measure what it suggests.

# %%
profile = tuning.similarity_profile(candidate_embeddings, k=10, n_sample_queries=100, seed=0)
print(f"true top-10 cosine: median {np.median(profile['neighbour_similarity']):.3f}; "
      f"random pairs: median {np.median(profile['pair_similarity']):.3f}")
checked = []
for target in (0.9, 0.95):
    best = tuning.suggest_lsh_settings(n, target, profile)[0]
    measured = tradeoff_point(candidate_embeddings, query_embeddings, (exact_scores, exact_ids), best["n_bits"],
                              best["n_tables"], best["n_probes"], center=best["center"],
                              min_collisions=best["min_collisions"])
    checked.append((target, best, measured))
    print(f"target {target}: n_bits={best['n_bits']}, n_tables={best['n_tables']}, n_probes={best['n_probes']}, "
          f"center={best['center']}, min_collisions={best['min_collisions']} "
          f"-> predicted recall {best['predicted_recall']:.3f}, measured {measured['recall']:.3f}; "
          f"predicted scan {best['fraction_scanned']:.1%}, measured {measured['fraction_scanned']:.1%}; "
          f"{measured['speedup']:.2f}x exact search's speed")

# %%
for target, _best, measured in checked:  # what you should see: the suggestion meets its target when measured
    assert measured["recall"] >= target - 0.03, (target, measured["recall"])
    assert measured["fraction_scanned"] < 0.6, "and it spares a good part of the scan"

# %% [markdown]
# Read the two lines: the measured recall comes within 0.03 of the target or above it (asserted). The predicted share scanned is an
# average over all possible draws of hyperplanes; an index is one draw, and with few tables over
# data in a few tight clouds (as these leaves are) one draw can scan noticeably more or less
# than the average. With probes the recall prediction is a lower bound: it assumes random bits
# are flipped, while the index flips the bits the query is least sure about.

# %% [markdown]
# ## Your turn
#
# Three exercises, marked by difficulty: ★ one idea, ★★ a few lines, ★★★ build, measure and
# compare. Replace the `None`, run the cell, read the verdict; run `ex.hint(n)` for a hint and
# `ex.hint(n, level=2)` for a closer one. The check works the answer out from your own objects
# and never shows it. Solutions: `%load solutions/04_ex1.py` (and so on) in a new cell.

# %%
ex = exercise_book.notebook("04")
ex

# %% [markdown]
# **Exercise 1 ★★.** With `n_bits=8` (one probe and seed 0, the defaults), what is the
# **smallest** `n_tables` that reaches recall@10 ≥ 0.95 against `exact_ids` on the course's
# images? Write a loop.

# %% tags=["exercise"]
answer_tables = None  # your code here: the smallest n_tables
ex.check(1, answer_tables, embeddings=candidate_embeddings, queries=query_embeddings)

# %% [markdown]
# **Exercise 2 ★★★ (predict, then measure).** *Predict* the recall@10 of
# `LSHIndex(n_bits=12, n_tables=8)` (one probe, seed 0) on the course's images with
# `tuning.predict_lsh` and the `profile` measured above, before building anything. Then build the
# index, *measure* its recall@10 against `exact_ids`, and compare: are the two within 0.05 of each
# other? If not, which way is the measurement off, and why can one draw of hyperplanes differ from
# what the formula predicts?

# %% tags=["exercise"]
answer_predicted = None  # your code here: the recall predict_lsh expects
answer_measured = None  # your code here: the recall measured on the built index
ex.check(2, answer_predicted, answer_measured, profile=profile, embeddings=candidate_embeddings,
         queries=query_embeddings)

# %% [markdown]
# **Exercise 3 ★★.** Union, not sum. With the dicts built by hand (`tables`, `hyperplanes`), look
# up query 0's own bucket in each of the 10 tables (no probe). Give `[the sum of the 10 bucket
# sizes, the number of distinct ids among them]`. Why is the second smaller, and which items are
# counted more than once?

# %% tags=["exercise"]
answer_buckets = None  # your code here: [sum of the bucket sizes, distinct ids]
ex.check(3, answer_buckets, hyperplanes=hyperplanes, embeddings=candidate_embeddings, queries=query_embeddings)
