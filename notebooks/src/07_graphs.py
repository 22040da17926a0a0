# %% [markdown]
# # 07 · Graphs: walk to the query
#
# IVF (notebook 06) sorts embeddings into cells. A graph index links every embedding to a few of
# its near neighbours and answers a query by *walking*: from an entry point, step to whichever
# neighbour is closer to the query, until no step helps. This notebook builds such a graph by
# hand-sized pieces (`GraphIndex`), shows why clustered data needs long links, measures the beam
# width `ef_search` against exact search, and then looks at what FAISS's HNSW adds: layers.
#
# **Data.** Differences between methods only show on data that looks like real embeddings: we
# use `synthetic.realistic_embeddings` (shared mean direction, clusters of unequal size,
# near-tied neighbours), labelled SYNTHETIC wherever it appears: 10,000 x 768 here, so that the
# notebook stays quick.

# %%
import sys

if "google.colab" in sys.modules:
    %pip install -q "imgsim-tutorial @ git+https://github.com/imgsim-tutorial/imgsim-tutorial"

# %%
import copy
import json
import warnings
from importlib import resources

import faiss
import numpy as np

import imgsim_tutorial as t
from imgsim_tutorial.data.synthetic import embedding_statistics, realistic_embeddings
from imgsim_tutorial.faiss_factory import hnsw_index, hnsw_search
from imgsim_tutorial.graph import GraphIndex
from imgsim_tutorial.teaching import exercise_book, plotting
from imgsim_tutorial.teaching.diagrams import graph_walk_diagram, hnsw_layers_diagram
from imgsim_tutorial.widgets import GraphWalk

warnings.filterwarnings("ignore", message=".*fewer than k.*")  # short result lists show up as lower recall
faiss.omp_set_num_threads(1)  # FAISS on one thread, like our single-query timings (and kind to a shared machine)
N, K = 10_000, 10
embeddings, queries = realistic_embeddings(N, 768, n_queries=100, seed=0)
exact = t.CosineIndex().add(embeddings)
exact_scores, exact_ids = exact.search(queries, K)  # the oracle
stats = embedding_statistics(embeddings, queries)
print(f"SYNTHETIC {embeddings.shape}: random-pair cosine {stats['random_pair_cosine']:.2f}, top-1 cosine "
      f"{stats['top1_cosine']:.2f}, gap between 10th and 11th neighbour {stats['gap_k_k1']:.4f}")

# %% [markdown]
# ## A walk on a graph
#
# Link every embedding to a few near neighbours. A search starts at an *entry point* and keeps
# stepping to whichever linked node is closest to the query; a *beam* keeps the `ef_search`
# best nodes seen so far, so one dead end does not stop the walk. `GraphWalk` shows it on 2-D
# points (each point stands for a unit vector; see the widget's docstring): the red path is the
# walk, dark points are every node whose cosine was computed.

# %%
walk = GraphWalk(n_neighbors=4, ef_search=1)
walk.widget

# %% [markdown]
# The same idea as a still picture (for readers where widgets do not run): a `GraphIndex` on 90
# points of a patch of the sphere, four neighbours per node, and the path its own `walk` took,
# hop by hop, to the query's nearest neighbour.

# %%
figure = graph_walk_diagram()

# %% [markdown]
# `GraphIndex` builds the graph from neighbour lists (exact below 4,096 points, approximate above:
# each point compared with the points of the nearest k-means cells), prunes each list for *diversity*
# (the HNSW rule: drop a neighbour that is closer to an already kept neighbour than to the
# node), adds reverse links, and a few random **long links**. Without them the graph of
# clustered data falls into islands, and a walk that starts in the wrong island stays there:

# %%
graph = GraphIndex(n_neighbors=16, ef_search=32).add(embeddings)
islands = copy.deepcopy(graph)
islands.n_long_links = 0
islands.relink()  # same neighbour lists, links rebuilt without the long ones
shares = {}
for name, index in (("with long links", graph), ("without", islands)):
    _, ids, found = index.search_with_stats(queries, K)
    shares[name] = found["n_candidates"].mean() / N
    per_query = np.array([len(set(a) & set(b)) for a, b in zip(ids.tolist(), exact_ids.tolist())]) / K
    print(f"{name:16s}: recall@10 {per_query.mean():.3f}, queries that found none of their top-10: "
          f"{(per_query == 0).mean():.0%}, scored {shares[name]:.1%} of the data")
assert shares["with long links"] < 1 / 6  # a query scores a small share of the data

# %% [markdown]
# The beam width `ef_search` is the one knob at query time: a wider beam scores more nodes and
# finds more. As a curve, against time per query:

# %%
timed = queries[:30]
graph_curve, speed_methods = [], {"exact": lambda: [exact.search(query, K) for query in timed]}
for ef_search in (10, 16, 32, 64, 128):
    walker = copy.copy(graph)  # the same graph, its own beam width: each timed method keeps its setting
    walker.ef_search = ef_search
    _, ids = walker.search(queries, K)
    graph_curve.append({"recall": t.recall_at_k(ids, exact_ids), "label": f"ef={ef_search}"})
    speed_methods[f"ef={ef_search}"] = lambda walker=walker: [walker.search(query, K) for query in timed]
speeds = t.compare_speeds(speed_methods, threads=1, rounds=3, per_call=len(timed))
for point in graph_curve:
    point["latency_ms"] = speeds[point["label"]]["median_s"] * 1e3
exact_ms = speeds["exact"]["median_s"] * 1e3
figure = plotting.plot_recall_vs_speed({"GraphIndex (ef_search)": graph_curve}, exact_ms=exact_ms, target=0.9,
                                         title=f"SYNTHETIC {N:,} x 768, one query at a time, one thread")
graph_recall = {point["label"]: point["recall"] for point in graph_curve}
print(f"exact search {exact_ms:.2f} ms per query; GraphIndex: " + ", ".join(
    f"{point['label']} recall {point['recall']:.3f} at {speeds[point['label']]['speedup']:.2f}x exact's speed"
    for point in graph_curve))
assert graph_recall["ef=64"] >= 0.9

# %% [markdown]
# Each query scores a small share of the data (printed above). The speed-ups (measured in the same rounds
# as exact search, one thread for both) show what that buys at 10,000 on this machine: our walk
# is a Python loop, a few hundred heap operations per query, while exact search is one matrix
# product over a collection this small. The walk's work grows with the logarithm of the
# collection, the scan's with the collection itself: notebook 08's stored measurements at 50,000
# show the gap at a larger size.
#
# **What HNSW's layers add.** FAISS's `IndexHNSWFlat` puts each node on a random number of
# *layers*: the upper layers are sparse graphs for long jumps, the bottom layer is a graph like
# ours. Build it twice, with layers and with every node on the bottom layer only
# (`hnsw_index(layers=False)`), and count the cosines each query computes. First, the layers
# themselves, read from a real `faiss.IndexHNSWFlat` on 50 points: each node's top layer is
# drawn at random (geometrically fewer nodes per layer), a query descends greedily from the
# entry point on the top layer, and the beam search runs only on layer 0:

# %%
figure = hnsw_layers_diagram()

# %% [markdown]
# Now at 10,000 points, with layers and without:

# %%
hnsw_rows = []
for layered in (True, False):
    hnsw = hnsw_index(embeddings, M=16, ef_construction=40, layers=layered)
    for ef_search in (10, 16, 32, 64):
        _, rows, distances = hnsw_search(hnsw, queries, K, ef_search)
        hnsw_rows.append((layered, ef_search, t.recall_at_k(rows, exact_ids), distances))
    print(f"layers={layered}: max level {hnsw.hnsw.max_level}; " + ", ".join(
        f"ef={ef}: recall {recall:.3f} with {distances:.0f} cosines" for on, ef, recall, distances in hnsw_rows
        if on == layered))

# %%
# What you should see: at every ef_search the layered graph finds more (or as much) with fewer cosines.
by_setting = {(layered, ef): (recall, distances) for layered, ef, recall, distances in hnsw_rows}
for ef in (10, 16, 32, 64):
    (recall_on, cost_on), (recall_off, cost_off) = by_setting[True, ef], by_setting[False, ef]
    print(f"ef={ef}: recall {recall_on:.3f} vs {recall_off:.3f} one layer; cosines {cost_on:.0f} vs {cost_off:.0f}")
assert all(by_setting[True, ef][0] >= by_setting[False, ef][0] - 0.01
           and by_setting[True, ef][1] < by_setting[False, ef][1]
           for ef in (10, 16, 32, 64))

# %% [markdown]
# The layers pay twice: fewer cosines per query *and* more recall at the same beam width,
# most of all at small `ef_search`. The bottom-layer-only walk starts from a fixed entry point
# and spends its first steps crossing the collection; the upper layers (a few per cent of the
# nodes, linked over long distances) make that crossing in a few jumps and hand the beam a
# starting point already near the query. Our `GraphIndex`'s random long links do the same job
# more crudely, and `GraphIndex(n_entry_points=...)` starts each walk from the nearest of many
# entry points instead, a stand-in for the upper layers (from 256 entry points on, grouped by k-means:
# a query scores the groups' centres, then the entry points of its 3 nearest groups). The recall gap grows with the
# collection, because the crossing gets longer; the saving in cosines need not (read both
# columns in notebook 08's stored lines at 50,000).

# %% [markdown]
# ## HNSW's knobs: where the recall ceiling comes from
#
# `efSearch` is the knob at query time, and raising it buys recall, but only up to a point: the
# curve flattens short of perfect recall however wide the beam. That ceiling is set when the graph is built,
# by two settings: `M`, the number of links per node (twice that on the bottom layer), and
# `efConstruction`, the beam each insertion searches with to find its neighbours. Varying
# them takes minutes at 50,000 (16 builds), so the numbers below come from a stored run of
# `benchmarks/index_knobs.py` on the same kind of SYNTHETIC data: raw `faiss.IndexHNSWFlat`,
# one thread, single queries timed against exact search in the same rounds.

# %%
knobs_file = resources.files("imgsim_tutorial") / "assets" / "measured" / "index_knobs.json"
knobs = json.loads(knobs_file.read_text())
builds = {(row["M"], row["ef_construction"]): row for row in knobs["hnsw"]["rows"]}
print(f"STORED, {knobs['data']}, n={knobs['n']:,}, measured {knobs['measured_at']}, faiss {knobs['faiss_version']}")
print("recall@10 at efSearch 1024 (the ceiling); rows M, columns efConstruction "
      + " ".join(f"{ef:>6}" for ef in knobs["hnsw"]["ef_construction"]))
for M in knobs["hnsw"]["M"]:
    print(f"  M={M:<3} ({plotting.readable_bytes(builds[M, 40]['link_bytes_per_vector'])} of links per vector) "
          + " ".join(f"{builds[M, ef]['ceiling']:6.3f}" for ef in knobs["hnsw"]["ef_construction"]))
course, better = builds[16, 40], builds[16, 100]
print(f"the course's M=16, efConstruction=40: ceiling {course['ceiling']:.4f}, built in {course['build_cpu_s']:.1f} "
      f"CPU s; efConstruction=100: ceiling {better['ceiling']:.4f} in {better['build_cpu_s']:.1f} CPU s "
      f"({better['build_cpu_s'] / course['build_cpu_s']:.1f}x)")
figure = plotting.hnsw_knobs_figure(knobs)

# %%
# What you should see: the ceiling is below 1 for the course's setting, and more build effort
# (a larger efConstruction) raises it for every M, at a cost in build time.
assert course["ceiling"] < 0.995 < better["ceiling"] and better["build_cpu_s"] > course["build_cpu_s"]
for M in knobs["hnsw"]["M"]:
    ceilings = [builds[M, ef]["ceiling"] for ef in knobs["hnsw"]["ef_construction"]]
    assert ceilings[-1] > ceilings[0], (M, ceilings)
links = [builds[M, 40]["link_bytes_per_vector"] for M in knobs["hnsw"]["M"]]
assert links == sorted(links)  # more links per node, more bytes per vector

# %% [markdown]
# Read the left panel: every line climbs as `efSearch` grows, and the well-built ones flatten
# near the top. Lines with few links (M = 8) or a hasty build (efConstruction = 16) end lowest:
# the walk through the graph that was built does not reach some true neighbours, and no beam
# width at query time can repair links that were never made. The right panel puts the
# price next to it: a larger `efConstruction` costs build time (printed above for M = 16), a
# larger `M` costs memory per vector, on top of the vector itself. So the recipe is to choose
# `M` and `efConstruction` for the ceiling you need (with room above your recall target), and
# then the smallest `efSearch` that reaches the target.

# %% [markdown]
# ## Your turn
#
# Three exercises, marked by difficulty: ★ one idea, ★★ a few lines, ★★★ build, measure and
# compare. Replace the `None`, run the cell, read the verdict; run `ex.hint(n)` for a hint and
# `ex.hint(n, level=2)` for a closer one. The check works the answer out from your own objects
# and never shows it. Solutions: `%load solutions/07_ex1.py` (and so on) in a new cell.

# %%
ex = exercise_book.notebook("07")
ex

# %% [markdown]
# **Exercise 1 ★★.** Find the smallest `ef_search` among 8, 12, 16, 24, 32, 48 and 64 at which
# `graph` reaches recall@10 of at least 0.95 on `queries` (set `graph.ef_search`, search, compare
# with `exact_ids`).

# %% tags=["exercise"]
answer_ef = None  # your code here: one of 8, 12, 16, 24, 32, 48, 64
ex.check(1, answer_ef, index=graph, embeddings=embeddings, queries=queries)

# %% [markdown]
# **Exercise 2 ★★ (predict, then measure).** FAISS sends each node of an HNSW index up one more
# layer with probability 1/M. *Predict* how many of the N nodes of
# `hnsw_index(embeddings, M=16, ef_construction=40)` reach layer 1 or above. Then build it (the
# loop above left the one-layer index in `hnsw`) and *measure*:
# `faiss.vector_to_array(layered.hnsw.levels)` holds, per node, how many layers it is on
# (1 = the bottom layer only). Why is the count not exactly the prediction?

# %% tags=["exercise"]
answer_predicted = None  # your code here: nodes above the bottom layer, from the chance 1/M
layered = None  # your code here: the layered FAISS HNSW index
answer_measured = None  # your code here: nodes above the bottom layer, counted
ex.check(2, answer_predicted, answer_measured, index=layered)

# %% [markdown]
# **Exercise 3 ★★★.** Many entry points instead of long links. `islands` has no long links, and
# some of its walks never leave the wrong island. Make a deep copy of it with
# `n_entry_points = 400` (N / 25), rebuild its links with `relink()`, and measure at
# `ef_search = 32` its recall@10 against `exact_ids` and the mean share of the data a query
# scores. Give `[recall@10, share scored]`. Compare with `graph` (long links) and `islands`
# (neither) at the same beam: which fixes the islands, and which scores fewer nodes?

# %% tags=["exercise"]
entries = None  # your code here: a deep copy of islands with 400 entry points, relinked
answer_entries = None  # your code here: [recall@10, share of the data scored]
ex.check(3, answer_entries, index=entries, embeddings=embeddings, queries=queries)
