"""Product quantisation (notebook 08), drawn from a fitted ``PQIndex``: one item split into pieces,
the codebooks, its code, and the distance table whose entries add up to the score ``search`` returns.
"""

from __future__ import annotations

import numpy as np

from ._draw import ACCENT, DPI, INK, QUERY


def _diverging():
    """Blue (negative) - white (0) - red (positive), from the module's colours."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("accent_query", [ACCENT, "white", QUERY])


def pq_diagram(*, dim: int = 16, n_subvectors: int = 4, n_bits: int = 4, n_items: int = 400, seed: int = 0):
    """Product quantisation with a fitted ``PQIndex``: one vector split into pieces, each piece's codebook,
    the code, and the distance table of a query, whose entries at the code add up to the index's score.

    The codebooks, the code and the table are the index's own (``codebooks_``, ``codes_``,
    ``distance_table``); the sum is checked against ``index.search`` (no re-ranking, so it returns
    exactly that estimate) before it is printed. Returns the Figure; ``figure.structure`` holds the numbers.

    >>> pq_diagram().get_dpi() >= 100
    True
    """
    import matplotlib.pyplot as plt

    from ...pq import PQIndex

    if n_bits > 5 or n_subvectors > 8 or dim % n_subvectors:
        raise ValueError(f"for a readable diagram use n_bits <= 5, n_subvectors <= 8 dividing dim={dim}, "
                         f"got n_bits={n_bits}, n_subvectors={n_subvectors}")
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((n_items, dim)).astype(np.float32)
    index = PQIndex(n_subvectors=n_subvectors, n_bits=n_bits, seed=seed).add(data)
    query = data[:1] + 0.5 * rng.standard_normal((1, dim)).astype(np.float32)
    query /= np.linalg.norm(query)
    scores, ids = index.search(query, k=1)
    item = int(ids[0, 0])
    code, table = index.codes_[item].astype(int), index.distance_table(query[0])
    picked = table[np.arange(n_subvectors), code]
    if not np.isclose(picked.sum(), scores[0, 0], atol=1e-5):
        raise RuntimeError(f"the table entries add up to {picked.sum():.4f} but the index scores {scores[0, 0]:.4f}")
    vector = data[item] / np.linalg.norm(data[item])
    figure = plt.figure(figsize=(12, 8.2), dpi=DPI)
    figure.suptitle(f"Product quantisation (PQIndex): {dim} numbers -> {n_subvectors} pieces -> a code of "
                    f"{n_subvectors} centroid numbers", x=0.02, ha="left", fontsize=12.5, weight="bold", color=INK)
    limit = float(np.abs(index.codebooks_).max())
    headings = {0.885: f"1. split item {item} (unit length, {dim} numbers) into {n_subvectors} pieces of "
                       f"{dim // n_subvectors}; the query is split the same way",
                0.6: f"2. each piece's codebook: {2 ** n_bits} centroids of {dim // n_subvectors} numbers (one per "
                     "column), learned by k-means on that piece of every item",
                0.275: f"3. item {item} is stored as the number of each piece's nearest centroid (outlined above): "
                       f"code = {code.tolist()}, {n_subvectors * n_bits // 8} bytes instead of {4 * dim}"}
    for y, heading in headings.items():
        figure.text(0.04, y, heading, fontsize=10.5, weight="bold", color=INK)
    _pq_strip(figure, [0.06, 0.77, 0.62, 0.05], vector, n_subvectors, f"item {item}", limit)
    _pq_strip(figure, [0.06, 0.67, 0.62, 0.05], query[0], n_subvectors, "query q (kept exact)", limit)
    for j in range(n_subvectors):
        width = 0.9 / n_subvectors
        _pq_codebook(figure, [0.06 + j * width, 0.37, width - 0.035, 0.17], index.codebooks_[j], code[j], j, limit)
    _pq_table(figure, [0.06, 0.055, 0.6, 0.16], table, code)
    _pq_sum(figure, picked, code, scores[0, 0], float(vector @ query[0]), item)
    figure.structure = {"index": index, "query": query[0], "item": item, "code": code, "table": table,
                        "picked": picked, "score": float(picked.sum()), "index_score": float(scores[0, 0])}
    return figure


def _two_places(value) -> str:
    """``-0.004`` -> ``'0.00'``: no minus sign on a number that rounds to zero."""
    return f"{value:.2f}".replace("-0.00", "0.00")


def _pq_strip(figure, rect, values, n_subvectors, title, limit):
    """One vector as a row of coloured cells with their values, thick white gaps between its pieces."""
    axis = figure.add_axes(rect)
    axis.imshow(values[None], cmap=_diverging(), vmin=-limit, vmax=limit, aspect="auto")
    size = len(values) // n_subvectors
    for i, value in enumerate(values):
        axis.text(i, 0, _two_places(value), ha="center", va="center", fontsize=8, color=INK)
    for j in range(1, n_subvectors):
        axis.axvline(j * size - 0.5, color="white", linewidth=5)
    axis.set_xticks([j * size + (size - 1) / 2 for j in range(n_subvectors)],
                    [f"piece {j + 1}" for j in range(n_subvectors)], fontsize=9)
    axis.xaxis.tick_top()
    axis.tick_params(length=0)
    axis.set_yticks([])
    axis.set_ylabel(title, rotation=0, ha="left", va="center", fontsize=10, color=INK, labelpad=0)
    axis.yaxis.set_label_coords(1.02, 0.5)


def _pq_codebook(figure, rect, codebook, chosen, j, limit):
    """Codebook ``j`` (centroids, sub) drawn with one column per centroid; the chosen centroid outlined."""
    from matplotlib.patches import Rectangle

    axis = figure.add_axes(rect)
    axis.imshow(codebook.T, cmap=_diverging(), vmin=-limit, vmax=limit, aspect="auto")
    axis.add_patch(Rectangle((chosen - 0.5, -0.5), 1, codebook.shape[1], fill=False, edgecolor=INK, linewidth=2.2))
    axis.set_title(f"codebook {j + 1}", fontsize=9.5, color=INK)
    axis.set_xticks(sorted({chosen} | {end for end in (0, len(codebook) - 1) if abs(end - chosen) > 1}))
    axis.tick_params(labelsize=8, length=2)
    axis.set_yticks([])
    axis.set_xlabel(f"piece {j + 1} -> centroid {chosen}", fontsize=9.5, color=INK, weight="bold")


def _pq_table(figure, rect, table, code):
    """The query's distance table (pieces x centroids) with its values; the item's code cells outlined."""
    from matplotlib.patches import Rectangle

    axis = figure.add_axes(rect)
    limit = float(np.abs(table).max())
    axis.imshow(table, cmap=_diverging(), vmin=-limit, vmax=limit, aspect="auto")
    for (row, column), value in np.ndenumerate(table):
        axis.text(column, row, _two_places(value), ha="center", va="center", fontsize=7.5, color=INK,
                  weight="bold" if column == code[row] else "normal")
    for row, column in enumerate(code):
        axis.add_patch(Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, edgecolor=INK, linewidth=2.2))
    axis.set_yticks(range(len(table)), [f"piece {row + 1}" for row in range(len(table))], fontsize=9)
    axis.set_xticks(range(table.shape[1]))
    axis.tick_params(labelsize=8, length=0)
    axis.set_xlabel("centroid", fontsize=9, color=INK)
    axis.set_title("4. once per query, the distance table T[j, c] = (piece j of q) · (centroid c of codebook j)",
                   fontsize=10.5, weight="bold", color=INK, loc="left", x=-0.033, pad=8)


def _pq_sum(figure, picked, code, index_score, exact, item):
    """The approximate score written out: one table entry per piece, added, beside what the index returned."""
    terms = " + ".join(f"T[{j + 1}, {c}]" for j, c in enumerate(code))
    values = " + ".join(f"{value:.3f}" for value in picked).replace("+ -", "- ")
    figure.text(0.7, 0.2, f"score of item {item}, from {len(code)} look-ups:\n{terms}\n= {values}\n"
                f"= {picked.sum():.3f}", fontsize=10, color=INK, va="top", linespacing=1.5)
    figure.text(0.7, 0.075, f"index.search(q, k=1) -> {index_score:.3f}: the same\n"
                f"exact cosine of q and item {item}: {exact:.3f}", fontsize=10, color=QUERY, va="top",
                linespacing=1.5)
