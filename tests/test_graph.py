"""GraphIndex: a neighbour graph built by hand, checked against exact search and brute force."""

import numpy as np
import pytest

from imgsim_tutorial import CosineIndex, recall_at_k
from imgsim_tutorial.data.synthetic import realistic_embeddings
from imgsim_tutorial.graph import GraphIndex, candidate_neighbors, diverse_neighbors


@pytest.fixture(scope="module")
def data():
    return realistic_embeddings(2000, 48, n_queries=40, seed=2)


@pytest.fixture(scope="module")
def index(data):
    return GraphIndex(n_neighbors=8, ef_search=32).add(data[0])


def test_candidate_lists_equal_brute_force_when_there_are_few_cells(data):
    vectors = data[0][:300]  # fewer than POOL_SIZE points: every pool holds them all, so the lists are exact
    rows, scores = candidate_neighbors(vectors, 5, batch_size=64)
    similarities = vectors @ vectors.T
    np.fill_diagonal(similarities, -np.inf)
    assert np.array_equal(rows, np.argsort(-similarities, axis=1)[:, :5])
    assert np.allclose(scores, np.sort(similarities, axis=1)[:, ::-1][:, :5], atol=1e-6)


def test_candidate_lists_by_cells_find_most_true_neighbours():
    vectors, _ = realistic_embeddings(8000, 32, seed=4)  # each cell searches about half of the 8,000
    rows, scores = candidate_neighbors(vectors, 10)
    sample = np.arange(0, 8000, 16)
    similarities = vectors[sample] @ vectors.T
    similarities[np.arange(len(sample)), sample] = -np.inf
    true_rows = np.argsort(-similarities, axis=1)[:, :10]
    assert recall_at_k(rows[sample], true_rows) >= 0.9
    assert not (rows == np.arange(8000)[:, None]).any()  # never a node itself
    assert np.allclose(scores[sample], np.take_along_axis(vectors[sample] @ vectors.T, rows[sample], 1), atol=1e-6)
    assert (np.diff(scores, axis=1) <= 1e-7).all()  # best first


def test_pruning_rule_by_hand():
    # node 0 at angle 0; candidates at 25, 28 and -37 degrees: 28 is closer to 25 than to the node
    angles = np.radians([0, 25, 28, -37])
    points = np.c_[np.cos(angles), np.sin(angles)]
    assert diverse_neighbors(points, np.array([[1, 2, 3]]), n_keep=3, nodes=[0]).tolist() == [[True, False, True]]
    assert diverse_neighbors(points, np.array([[1, 2, 3]]), n_keep=1, nodes=[0]).tolist() == [[True, False, False]]


def test_links_are_valid_and_every_node_is_reachable(index):
    n = len(index)
    assert index.neighbors_.min() >= 0 and index.neighbors_.max() < n
    assert (index.degrees() >= 1).all()
    # no self links, and at most 2 * n_neighbors links from neighbours + the long links (+ a rare bridge)
    sources = np.repeat(np.arange(n), index.degrees())
    assert not (sources == index.neighbors_).any()
    assert index.degrees().max() <= 2 * index.n_neighbors + index.n_long_links + 2
    reached, frontier = {index.entry_point}, [index.entry_point]
    while frontier:
        node = frontier.pop()
        for link in index.neighbors_[index.neighbor_offsets_[node]:index.neighbor_offsets_[node + 1]].tolist():
            if link not in reached:
                reached.add(link)
                frontier.append(link)
    assert len(reached) == n


def test_a_beam_as_wide_as_the_data_is_exact(data):
    embeddings, queries = data
    exact_scores, exact_ids = CosineIndex().add(embeddings).search(queries, 10)
    index = GraphIndex(n_neighbors=4, ef_search=len(embeddings), n_long_links=0).add(embeddings)
    scores, ids, stats = index.search_with_stats(queries, 10)
    assert recall_at_k(ids, exact_ids) == 1.0 and np.allclose(scores, exact_scores, atol=1e-6)
    assert (stats["n_candidates"] == len(embeddings)).all()  # it scored every node once


def test_recall_at_default_beam_and_scores_are_true_cosines(index, data):
    embeddings, queries = data
    _, exact_ids = CosineIndex().add(embeddings).search(queries, 10)
    scores, ids, stats = index.search_with_stats(queries, 10)
    assert recall_at_k(ids, exact_ids) >= 0.9
    assert stats["n_candidates"].mean() < 0.5 * len(embeddings)
    assert np.allclose(scores, np.einsum("qd,qkd->qk", queries, embeddings[ids]), atol=1e-6)
    assert (np.diff(scores, axis=1) <= 1e-7).all()  # best first


def test_wider_beam_more_recall_and_long_links_matter(data):
    embeddings, queries = data
    _, exact_ids = CosineIndex().add(embeddings).search(queries, 10)
    recalls = []
    for ef in (10, 40):
        _, ids = GraphIndex(n_neighbors=8, ef_search=ef).add(embeddings).search(queries, 10)
        recalls.append(recall_at_k(ids, exact_ids))
    assert recalls[0] <= recalls[1]
    _, islands = GraphIndex(n_neighbors=8, ef_search=10, n_long_links=0).add(embeddings).search(queries, 10)
    assert recall_at_k(islands, exact_ids) < recalls[0]


def test_walk_goes_from_the_entry_point_to_the_best_result(index, data):
    walk = index.walk(data[1][0], k=5)
    assert walk["path"][0] == index.entry_point and walk["path"][-1] == walk["rows"][0]
    for a, b in zip(walk["path"], walk["path"][1:]):  # every step follows a link
        assert b in index.neighbors_[index.neighbor_offsets_[a]:index.neighbor_offsets_[a + 1]]
    assert walk["expanded"][0] == index.entry_point and set(walk["path"]) <= set(walk["scored"].tolist())
    assert np.array_equal(walk["ids"], index.search(data[1][0], 5)[1][0])


def test_add_twice_gives_the_graph_of_one_add(data, index):
    twice = GraphIndex(n_neighbors=8, ef_search=32).add(data[0][:1200]).add(data[0][1200:])
    assert len(twice) == 2000
    assert np.array_equal(twice.knn_, index.knn_)
    assert np.array_equal(twice.neighbors_, index.neighbors_)
    assert np.array_equal(twice.search(data[1], 10)[1], index.search(data[1], 10)[1])


def test_save_load_round_trip(index, data, tmp_path):
    loaded = GraphIndex.load(index.save(tmp_path / "graph.npz"))
    assert np.array_equal(loaded.neighbors_, index.neighbors_) and loaded.entry_point == index.entry_point
    for a, b in zip(loaded.search(data[1], 10), index.search(data[1], 10)):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("settings, message", [
    ({"n_neighbors": 1}, "n_neighbors must be between 2 and 256"), ({"ef_search": 0}, "ef_search"),
    ({"n_long_links": -1}, "n_long_links"), ({"n_neighbors": "8"}, "whole number"), ({"seed": -2}, "seed"),
])
def test_bad_settings_are_rejected(settings, message):
    with pytest.raises(ValueError, match=message):
        GraphIndex(**settings)


def test_too_small_and_wrong_dimension(index):
    with pytest.raises(ValueError, match="at least 2"):
        GraphIndex().add(np.ones((1, 8)))
    with pytest.raises(ValueError, match="at least 2"):
        GraphIndex().add(np.ones(8))  # one vector, given as 1-D
    with pytest.raises(ValueError, match="dimension"):
        index.search(np.ones(5), 3)
    with pytest.raises(ValueError, match="dimension"):
        index.add(np.ones((2, 5)))


@pytest.mark.parametrize("batch_size", [1, 7, 256, 10_000])
def test_row_scores_in_blocks_equal_one_gather(batch_size):
    from imgsim_tutorial.graph import row_scores

    data, _ = realistic_embeddings(600, 48, seed=9)
    lists = np.random.default_rng(9).integers(0, 600, size=(600, 12))
    one_by_one = row_scores(data, lists, batch_size=1)  # the same products, however they are blocked
    np.testing.assert_array_equal(row_scores(data, lists, batch_size=batch_size), one_by_one)
    np.testing.assert_allclose(one_by_one, np.einsum("nd,nmd->nm", data, data[lists]), atol=1e-6)


def beam_by_hand(index, query, k, ef):
    """The textbook walk, written plainly: one node per step, a set for visited, CSR links."""
    import heapq

    links_of = lambda node: index.neighbors_[index.neighbor_offsets_[node]:index.neighbor_offsets_[node + 1]]
    start = index.entry_point
    score = float(index.vectors_[start] @ query)
    frontier, best, visited = [(-score, start)], [(score, start)], {start}
    while frontier:
        negative, node = heapq.heappop(frontier)
        if len(best) >= ef and -negative < best[0][0]:
            break
        for link in links_of(node).tolist():
            if link in visited:
                continue
            visited.add(link)
            score = float(index.vectors_[link] @ query)
            if len(best) < ef or score > best[0][0]:
                heapq.heappush(frontier, (-score, link))
                heapq.heappush(best, (score, link))
                if len(best) > ef:
                    heapq.heappop(best)
    top = sorted(best, reverse=True)[:k]
    return [row for _, row in top], len(visited)


def test_fast_walk_expanding_one_node_per_step_equals_the_walk_by_hand(index, data, monkeypatch):
    import imgsim_tutorial.graph as graph

    monkeypatch.setattr(graph, "EXPAND_PER_STEP", 1)
    for query in data[1][:20]:
        top, n_scored = index._beam(query, 10, 32)
        by_hand, n_visited = beam_by_hand(index, query, 10, 32)
        assert [row for _, row in top] == by_hand and n_scored == n_visited


def test_expanding_several_nodes_per_step_keeps_recall(index, data, monkeypatch):
    import imgsim_tutorial.graph as graph

    _, exact_ids = CosineIndex().add(data[0]).search(data[1], 10)
    recalls = {}
    for per_step in (1, graph.EXPAND_PER_STEP):
        monkeypatch.setattr(graph, "EXPAND_PER_STEP", per_step)
        recalls[per_step] = recall_at_k(index.search(data[1], 10)[1], exact_ids)
    assert recalls[graph.EXPAND_PER_STEP] >= recalls[1] - 0.02


def test_entry_points_start_the_walk_near_the_query(data):
    embeddings, queries = data
    _, exact_ids = CosineIndex().add(embeddings).search(queries, 10)
    one = GraphIndex(n_neighbors=8, ef_search=10).add(embeddings)
    many = GraphIndex(n_neighbors=8, ef_search=10, n_entry_points=40).add(embeddings)
    assert np.array_equal(one.neighbors_, many.neighbors_)  # same graph, other starting points
    assert len(many._entries) == 40 and many._entries[0] == many.entry_point
    many_recall = recall_at_k(many.search(queries, 10)[1], exact_ids)
    assert many_recall >= recall_at_k(one.search(queries, 10)[1], exact_ids) - 0.02
    steps = {}
    for name, index in (("one", one), ("many", many)):
        walks = [index.walk(query, k=5) for query in queries]
        steps[name] = np.mean([len(walk["path"]) - 1 for walk in walks])
        for query, walk in zip(queries, walks):  # the walk starts at the entry point nearest the query
            start = index._entries[np.argmax(index._entry_vectors @ query)]
            assert walk["path"][0] == walk["entry_point"] == start
    assert steps["many"] < steps["one"]  # it starts nearer, so the path to the best result is shorter


def test_grouped_entry_points_find_nearly_the_best_start_for_a_fraction_of_the_products(data):
    embeddings, queries = data
    grouped = GraphIndex(n_neighbors=8, ef_search=16, n_entry_points=400).add(embeddings)
    assert grouped._entry_centres is not None and grouped._entries[0] == grouped.entry_point
    assert sorted(grouped._entries.tolist()) == sorted(set(grouped._entries.tolist()))  # each entry point once
    assert np.array_equal(grouped._entry_vectors, embeddings[grouped._entries] / np.linalg.norm(
        embeddings[grouped._entries], axis=1, keepdims=True))
    best_any = (grouped._entry_vectors @ queries.T).max(axis=0)
    starts = [grouped._start(query) for query in queries]
    found = np.array([grouped.vectors_[start] @ query for (start, _), query in zip(starts, queries)])
    assert (found <= best_any + 1e-6).all() and np.mean(found >= best_any - 1e-6) >= 0.8
    assert max(n_scored for _, n_scored in starts) < 400 / 2  # the centres and a few groups, not every entry
    flat = GraphIndex(n_neighbors=8, ef_search=16, n_entry_points=400).add(embeddings)
    flat._entry_centres = None  # the same entry points, all of them scored
    _, exact_ids = CosineIndex().add(embeddings).search(queries, 10)
    assert recall_at_k(grouped.search(queries, 10)[1], exact_ids) >= recall_at_k(flat.search(queries, 10)[1],
                                                                                  exact_ids) - 0.03


def test_visited_marks_start_again_when_the_stamps_run_out(index, data):
    from imgsim_tutorial.graph import SCRATCH

    expected = index.search(data[1][:3], 10)
    SCRATCH.stamp = 2**31 - 1
    np.testing.assert_array_equal(index.search(data[1][:3], 10)[1], expected[1])
    assert SCRATCH.stamp == 3
