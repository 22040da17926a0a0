"""The search pipeline (notebook 00) and the structure of LSH (04), its bucket codes computed from
the hyperplanes it draws.
"""

from __future__ import annotations

import numpy as np

from ._draw import ACCENT, INK, PALE, QUERY, _arrow, _box, _figure


def pipeline_diagram(leaf_image=None):
    """The course in one picture: photos -> encoder -> embeddings -> index; query -> top-k.

    ``leaf_image`` (a PIL image or array), if given, is drawn as the query photo. Returns the Figure.

    >>> pipeline_diagram().get_dpi() >= 100
    True
    """
    figure, axis = _figure(10.5, 4.2)
    stages = [(1.0, "image", "a photo\n(PIL image)"), (3.0, "encoder", "encoder (ViT)\nimage -> [CLS] vector"),
              (5.25, "embedding", "embedding\nd floats, length 1"), (7.45, "index", "index\nCosineIndex, LSH, FAISS"),
              (9.5, "top-k", "top-k\n(scores, ids)")]
    width, height = 1.75, 0.95
    rows = {"build": 3.05, "query": 1.35}
    for x, _, text in stages[:4]:
        _box(axis, x, rows["build"], width, height, text.replace("a photo", "candidate photos"))
    for x, _, text in stages:
        if x == 7.45:
            continue
        _box(axis, x, rows["query"], width, height, text.replace("a photo", "query photo").replace(
            "embedding\nd floats", "query vector\nd floats"), colour="#fdecee" if x != 3.0 else PALE)
    for (x0, _, _), (x1, _, _) in zip(stages[:3], stages[1:4]):
        _arrow(axis, (x0 + width / 2, rows["build"]), (x1 - width / 2, rows["build"]))
    for (x0, _, _), (x1, _, _) in zip(stages[:2], stages[1:3]):
        _arrow(axis, (x0 + width / 2, rows["query"]), (x1 - width / 2, rows["query"]))
    _arrow(axis, (5.25 + width / 2, rows["query"]), (7.45, rows["build"] - height / 2), colour=QUERY)
    _arrow(axis, (7.45, rows["build"] - height / 2), (9.5 - width / 2, rows["query"]), colour=QUERY)
    axis.text(8.3, 2.35, "search(queries, k)", ha="left", fontsize=9, color=QUERY, style="italic")
    axis.text(6.35, rows["build"] + 0.6, "add(embeddings)", ha="center", fontsize=9, color=ACCENT, style="italic")
    axis.text(0.12, rows["build"] + 0.72, "once, offline: build the index", fontsize=10, color=ACCENT, weight="bold")
    axis.text(1.3, rows["query"] - 0.85, "every query: embed it the same way, then search", fontsize=10,
              color=QUERY, weight="bold")
    axis.text(3.0, 2.2, "same encoder,\nsame preprocessing", ha="center", fontsize=8.5, color=INK, style="italic")
    for x, notebook in ((3.0, "01"), (5.25, "01-03"), (7.45, "04-09"), (9.5, "02, 11")):
        axis.text(x, 3.95, f"notebook {notebook}", ha="center", fontsize=8.5, color="#57606a")
    if leaf_image is not None:
        image_axis = figure.add_axes([0.01, 0.01, 0.1, 0.19])
        image_axis.imshow(np.asarray(leaf_image))
        image_axis.set_axis_off()
    return figure


def _hyperplane_glyph(axis, centre, radius, normals, vector):
    """A small circle: hyperplanes as lines through the centre, each with a short arrow (numbered
    like its bit) pointing to its positive side; the query as a red arrow."""
    from matplotlib.patches import Circle

    axis.add_patch(Circle(centre, radius, facecolor="white", edgecolor="#8c959f", linewidth=1))
    centre = np.asarray(centre, dtype=float)
    for number, normal in enumerate(normals, 1):
        along = np.array([-normal[1], normal[0]]) * radius
        axis.plot([centre[0] - along[0], centre[0] + along[0]], [centre[1] - along[1], centre[1] + along[1]],
                  color=ACCENT, linewidth=1.1)
        foot = centre + along * 0.8
        _arrow(axis, tuple(foot), tuple(foot + normal * radius * 0.3), colour=ACCENT, style="->")
        label = foot + normal * radius * 0.45
        axis.text(label[0], label[1], str(number), ha="center", va="center", fontsize=7.5, color=ACCENT)
    tip = np.asarray(centre) + vector * radius * 0.9
    _arrow(axis, centre, tuple(tip), colour=QUERY)


def _readable_normals(rng, n_bits, query):
    """Random unit normals in 2-D, spread out so the lines stay apart in a small drawing and none
    passes so close to the query that its side cannot be seen."""
    while True:
        angles = rng.uniform(0, 2 * np.pi) + np.arange(n_bits) * np.pi / n_bits + rng.uniform(-0.25, 0.25, n_bits)
        angles += np.pi * rng.integers(0, 2, n_bits)  # either side can be the positive one
        normals = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        if np.abs(normals @ query).min() > 0.3:
            return normals


def lsh_code(vector, normals) -> tuple[str, int]:
    """Sign bits of ``vector`` against each hyperplane normal, as a string and as an integer code.

    >>> lsh_code(np.array([1.0, 0.5]), np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]))
    ('101', 5)
    """
    bits = "".join("1" if float(normal @ vector) >= 0 else "0" for normal in normals)
    return bits, int(bits, 2)


def lsh_structure_diagram(n_bits: int = 3, seed: int = 4):
    """How an LSH index answers a query: hyperplanes -> bits -> code -> bucket -> tables -> union -> re-rank.

    Each table has its own ``n_bits`` random hyperplanes (drawn in 2-D so they can be seen); the
    query's bits, codes and the probed neighbour code are computed from them. Returns the Figure.

    >>> figure = lsh_structure_diagram()
    >>> bool(figure.get_dpi() >= 100 and figure.get_size_inches()[0] >= 10)
    True
    """
    if not 2 <= n_bits <= 6:
        raise ValueError(f"n_bits must be between 2 and 6 for a readable diagram, got {n_bits}")
    rng = np.random.default_rng(seed)
    query = np.array([np.cos(0.6), np.sin(0.6)])
    figure, axis = _figure(11.5, 5.6)
    headers = [(0.75, "hyperplanes\n(own per table)"), (2.35, "bits\nsign(h · q)"), (3.7, "code"),
               (5.6, "bucket in the table\n{code: [ids]}"), (8.15, "union of\nthe buckets"),
               (10.3, "exact re-rank\nby cosine")]
    for x, text in headers:
        axis.text(x, 5.25, text, ha="center", va="center", fontsize=9.5, weight="bold", color=INK)
    tables = [(4.0, "table 1"), (2.4, "table 2"), (0.95, "table L")]
    bucket_ids = [[3, 17, 42], [8, 17, 57], [3, 21, 42, 64]]
    for row, ((y, name), ids) in enumerate(zip(tables, bucket_ids)):
        normals = _readable_normals(rng, n_bits, query)
        bits, code = lsh_code(query, normals)
        axis.text(0.06, y + 0.62, name, fontsize=9, color="#57606a", style="italic")
        _hyperplane_glyph(axis, (0.75, y), 0.5, normals, query)
        _arrow(axis, (1.3, y), (1.85, y))
        _box(axis, 2.35, y, 0.9, 0.5, " ".join(bits), fontsize=11, weight="bold")
        _arrow(axis, (2.85, y), (3.3, y))
        _box(axis, 3.7, y, 0.7, 0.5, str(code), fontsize=11, weight="bold")
        _arrow(axis, (4.1, y), (4.6, y))
        _box(axis, 5.6, y, 1.9, 0.5, f"{code}: {ids}", colour="#e6f4ea", fontsize=10)
        if row == 0:  # one probe: the neighbouring bucket, one bit flipped
            flipped = code ^ 1
            _box(axis, 5.6, y - 0.6, 1.9, 0.42, f"probe {flipped}: [5, 29]", colour="white", fontsize=9,
                 style="--")
            axis.text(5.6, y - 0.97, f"(one probe: last bit of {bits} flipped)", ha="center", fontsize=8,
                      color="#57606a")
            _arrow(axis, (6.55, y - 0.6), (7.55, 2.6), colour="#8c959f", linestyle="--")
        _arrow(axis, (6.55, y), (7.55, 2.6))
    axis.text(0.75, 1.68, "⋮", ha="center", va="center", fontsize=16, color=INK)
    axis.text(5.6, 1.68, "⋮", ha="center", va="center", fontsize=16, color=INK)
    union = sorted({i for ids in bucket_ids for i in ids} | {5, 29})
    _box(axis, 8.15, 2.6, 1.2, 1.35, "candidates\n" + "\n".join(
        ", ".join(map(str, union[i:i + 3])) for i in range(0, len(union), 3)), colour="#fff8c5", fontsize=9)
    _arrow(axis, (8.8, 2.6), (9.5, 2.6))
    _box(axis, 10.3, 2.6, 1.45, 1.35, "score each\ncandidate by\ntrue cosine,\nkeep top k\n-> (scores, ids)",
         colour="#fdecee", fontsize=9)
    axis.text(8.15, 1.6, f"{len(union)} of N scored", ha="center", fontsize=8.5, color="#57606a")
    axis.text(0.06, 0.12, f"The query q (red arrow) lies on one side of each of the {n_bits} hyperplanes (blue lines; "
                          "the small arrow marks the positive side, bit 1). The bits, read 1 to "
                          f"{n_bits}, are the bucket code.\nAn item becomes a candidate if it shares a bucket "
                          "with q in ANY table (or in a probed neighbour bucket); only candidates are scored.",
              fontsize=8.5, color=INK, va="bottom")
    return figure
