"""The two course diagrams draw, are sharp enough for a notebook, and show codes computed from their hyperplanes."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from imgsim_tutorial.teaching import diagrams


def _texts(figure):
    return [text.get_text() for axis in figure.axes for text in axis.texts]


def test_pipeline_diagram_names_every_stage_and_is_sharp(tmp_path):
    figure = diagrams.pipeline_diagram(np.zeros((8, 8, 3), dtype=np.uint8))
    assert figure.get_dpi() >= 100 and figure.get_size_inches()[0] >= 9
    shown = " ".join(_texts(figure))
    for stage in ("photo", "encoder", "embedding", "index", "top-k", "search(queries, k)", "add(embeddings)"):
        assert stage in shown, f"the pipeline diagram does not show {stage!r}"
    assert len(figure.axes) == 2  # the diagram and the query photo
    figure.savefig(tmp_path / "pipeline.png")
    assert (tmp_path / "pipeline.png").stat().st_size > 10_000


def test_lsh_code_reads_the_sign_bits_left_to_right():
    normals = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    assert diagrams.lsh_code(np.array([0.6, -0.8]), normals) == ("101", 5)
    assert diagrams.lsh_code(np.array([-0.6, 0.8]), normals) == ("010", 2)


def test_lsh_structure_diagram_shows_codes_that_match_its_bits(tmp_path):
    figure = diagrams.lsh_structure_diagram(n_bits=3, seed=4)
    assert figure.get_dpi() >= 100 and figure.get_size_inches()[0] >= 10
    shown = _texts(figure)
    for step in ("hyperplanes", "bits", "code", "bucket", "union", "re-rank", "table 1", "table L", "probe"):
        assert any(step in text for text in shown), f"the LSH diagram does not show {step!r}"
    bit_strings = [text.replace(" ", "") for text in shown if len(text) == 5 and set(text) <= {"0", "1", " "}]
    assert len(bit_strings) == 3  # one code per drawn table
    for bits in bit_strings:
        assert str(int(bits, 2)) in shown, f"code of {bits} is missing"
        assert any(text.startswith(f"{int(bits, 2)}: [") for text in shown), f"no bucket labelled {int(bits, 2)}"
    figure.savefig(tmp_path / "lsh.png")
    assert (tmp_path / "lsh.png").stat().st_size > 10_000


def test_lsh_structure_diagram_refuses_unreadable_sizes():
    with pytest.raises(ValueError, match="n_bits must be between 2 and 6"):
        diagrams.lsh_structure_diagram(n_bits=12)


# -- the structure diagrams: each drawn from a real index, checked against that index -------------

def test_cosine_cell_holds_exactly_the_points_nearest_its_centroid():
    from matplotlib.path import Path

    centroids = diagrams.cap_points(6, seed=3, gap=0.2)
    spots = np.random.default_rng(0).uniform(-1, 1, (2000, 2))
    nearest = np.argmax(diagrams.lift(spots) @ centroids.T, axis=1)
    for j in range(len(centroids)):
        inside = Path(diagrams.cosine_cell(centroids, j, limit=1.0)).contains_points(spots)
        assert np.array_equal(inside, nearest == j), f"cell {j} disagrees with the nearest centroid"


def test_gnomonic_undoes_lift_and_draws_great_circles_straight():
    plane = np.random.default_rng(1).uniform(-1, 1, (5, 2))
    assert np.allclose(diagrams.gnomonic(diagrams.lift(plane)), plane, atol=1e-6)
    a, b = diagrams.lift(plane[:2])  # points of the great circle through a and b project onto one line
    arc = diagrams.gnomonic(np.array([np.cos(t) * a + np.sin(t) * b for t in np.linspace(0, 0.3, 7)]))
    assert np.linalg.matrix_rank(np.c_[arc, np.ones(len(arc))], tol=1e-6) == 2


def test_ivf_diagram_colours_points_by_the_index_lists_and_outlines_the_probed_cells(tmp_path):
    from matplotlib.colors import to_hex
    from matplotlib.path import Path

    figure = diagrams.ivf_diagram(n_points=160, n_lists=8, n_probes=3, seed=2)
    index, query = figure.structure["index"], figure.structure["query"][0]
    map_axis = figure.axes[0]
    shown = {tuple(np.round(xy, 6)): to_hex(colour) for collection in map_axis.collections[:2]
             for xy, colour in zip(collection.get_offsets(), collection.get_facecolors())}
    expected = {tuple(np.round(xy, 6)): diagrams.CELL_COLOURS[j]
                for xy, j in zip(diagrams.gnomonic(index.vectors_), index.lists_)}
    assert shown == expected, "a point is drawn in a colour other than its inverted list's"
    nearest_three = set(np.argsort(-(index.centroids_ @ query))[:3].tolist())  # brute force
    outlined = [patch for patch in map_axis.patches if patch.get_linewidth() > 2]
    assert len(outlined) == 3
    cells = [diagrams.cosine_cell(index.centroids_, j) for j in sorted(nearest_three)]
    for patch in outlined:
        corners = patch.get_xy()[:-1]  # a closed polygon repeats its first corner
        assert any(cell.shape == corners.shape and np.allclose(cell, corners) for cell in cells), \
            "an outlined cell is not one of the query's 3 nearest"
    for j, xy in zip(index.lists_, diagrams.gnomonic(index.vectors_)):
        assert Path(diagrams.cosine_cell(index.centroids_, j)).contains_point(xy), "a point lies outside its cell"
    in_probed = index.ids_[np.isin(index.lists_, list(nearest_three))]
    assert set(figure.structure["scanned_ids"].tolist()) == set(in_probed.tolist())
    assert f"scanned: {len(in_probed)} of 160 items" in " ".join(_texts(figure))
    for j, size in enumerate(index.list_sizes()):
        assert str(size) in _texts(figure), f"list {j}'s size {size} is not shown"
    figure.savefig(tmp_path / "ivf.png")


def test_graph_walk_diagram_draws_the_path_the_index_walked(tmp_path):
    figure = diagrams.graph_walk_diagram(seed=1)
    index, query, path = (figure.structure[name] for name in ("index", "query", "path"))
    assert path == index.walk(query, k=1)["path"]
    assert path[-1] == index.search(query, k=1)[1][0, 0] == np.argmax(index.vectors_ @ query[0])  # exact here
    for start, end in zip(path, path[1:]):
        links = index.neighbors_[index.neighbor_offsets_[start]:index.neighbor_offsets_[start + 1]]
        assert end in links, f"hop {start} -> {end} is not a link of the graph"
    labels = {text.get_text(): text.get_position() for text in figure.axes[0].texts}
    points = diagrams.gnomonic(index.vectors_)
    for hop, node in enumerate(path):
        assert np.allclose(labels[str(hop)], points[node]), f"hop {hop} is not drawn at node {node}"
    figure.savefig(tmp_path / "graph.png")


def test_hnsw_descent_by_hand():
    # Five points on a line of angles; node 4 alone on layer 1 (the entry point), links written out.
    angles = np.array([0.0, 0.3, 0.6, 0.9, 1.2])
    vectors = np.c_[np.cos(angles), np.sin(angles), np.zeros(5)]
    layers = [{0: [1], 1: [0, 2], 2: [1, 3], 3: [2, 4], 4: [3]}, {4: []}]
    query = np.array([np.cos(0.05), np.sin(0.05), 0.0])
    assert diagrams.hnsw_descent(layers, vectors, query, entry_point=4, ef_search=2) == [[4], [4, 3, 2, 1, 0]]


def test_hnsw_layers_diagram_draws_faiss_own_levels_and_links(tmp_path):
    import faiss

    figure = diagrams.hnsw_layers_diagram(seed=0)
    index, query, layers, paths = (figure.structure[name] for name in ("index", "query", "layers", "paths"))
    levels = faiss.vector_to_array(index.hnsw.levels) - 1
    assert np.array_equal(figure.structure["levels"], levels)
    assert len(layers) == index.hnsw.max_level + 1 and paths[0][0] == index.hnsw.entry_point
    for layer, links in enumerate(layers):
        assert set(links) == set(np.flatnonzero(levels >= layer).tolist())
        assert f"layer {layer}\n{len(links)} node" in " ".join(_texts(figure))
    vectors = index.reconstruct_n(0, index.ntotal)
    for layer, path in zip(range(len(layers) - 1, -1, -1), paths):
        assert all(end in layers[layer][start] for start, end in zip(path, path[1:])), f"layer {layer}: no such link"
    for links, path in zip(layers[:0:-1], paths):  # greedy: where it stops, no neighbour is closer
        assert all(vectors[link] @ query <= vectors[path[-1]] @ query for link in links[path[-1]])
    assert paths[-1][-1] == figure.structure["found"] == index.search(query[None], 1)[1][0, 0]
    figure.savefig(tmp_path / "hnsw.png")


def test_pq_diagram_adds_the_outlined_table_entries_to_the_index_score(tmp_path):
    figure = diagrams.pq_diagram(seed=3)
    index, query, item, code = (figure.structure[name] for name in ("index", "query", "item", "code"))
    assert np.array_equal(code, index.codes_[item])
    table = index.distance_table(query)
    assert np.allclose(figure.structure["table"], table)
    score = index.approximate_scores(query)[item]
    assert np.isclose(figure.structure["score"], score, atol=1e-5)
    assert np.isclose(sum(table[j, c] for j, c in enumerate(code)), score, atol=1e-5)
    assert f"= {score:.3f}" in " ".join(_texts(figure) + [text.get_text() for text in figure.texts])
    table_axis = figure.axes[-1]
    outlined = sorted((round(patch.get_y() + 0.5), round(patch.get_x() + 0.5)) for patch in table_axis.patches)
    assert outlined == list(enumerate(code.tolist())), "the outlined table cells are not the item's code"
    figure.savefig(tmp_path / "pq.png")


def test_structure_diagrams_refuse_unreadable_sizes():
    with pytest.raises(ValueError, match="n_lists must be between 2 and"):
        diagrams.ivf_diagram(n_lists=40)
    with pytest.raises(ValueError, match="n_probes counts the cells visited"):
        diagrams.ivf_diagram(n_lists=4, n_probes=5)
    with pytest.raises(ValueError, match="readable diagram"):
        diagrams.pq_diagram(n_bits=8)
