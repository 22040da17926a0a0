"""Static matplotlib figures: they show on GitHub and nbviewer, where widgets do not.

Every function returns the ``Figure`` (so tests can inspect it and notebooks can save it) and
draws nothing interactive. The widgets in ``widgets/`` show the same things, live. Figures are
drawn at ``DPI`` (>= 100, sharp at notebook width), every axis says what it measures, counts get
integer ticks, and a reference line (chance, exact search, the recall target) is drawn where
one helps to read the measurement.
"""

from __future__ import annotations

import numpy as np

from ..data.leaves import LABEL_NAMES

LABEL_COLOURS = ("#c26a2e", "#b8336a", "#3a8f3a")  # angular leaf spot, bean rust, healthy
SAME, DIFFERENT = "#2a9d4b", "#d1495b"
DPI = 100
REFERENCE = "#777777"  # reference lines: chance, exact search, the target


def readable_bytes(nbytes: float) -> str:
    """A size in the largest decimal unit that keeps it at 1 or more, as people say it.

    >>> readable_bytes(3072), readable_bytes(768 * 4 * 1e6), readable_bytes(32e9), readable_bytes(3.07e12)
    ('3.1 kB', '3.1 GB', '32 GB', '3.1 TB')
    """
    if nbytes < 0:
        raise ValueError(f"a size cannot be negative, got {nbytes}")
    units = ["B", "kB", "MB", "GB", "TB"]
    while nbytes >= 1000 and len(units) > 1:
        nbytes, units = nbytes / 1000, units[1:]
    return f"{nbytes:.0f} {units[0]}" if units[0] == "B" or nbytes >= 10 else f"{nbytes:.1f} {units[0]}"


def _figure(width, height):
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(width, height), dpi=DPI)
    return figure


def subplots(ncols: int = 1, width: float = 5.0, height: float = 3.4):
    """``(figure, axes)`` with ``ncols`` panels side by side at the course's DPI (axes always a list)."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, ncols, figsize=(width, height), dpi=DPI, squeeze=False)
    return figure, list(axes[0])


def log_axis(axis, which: str = "x"):
    """A log scale with labelled ticks at 1, 2 and 5 x 10^k, readable even within one decade."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    getattr(axis, f"set_{which}scale")("log")
    ruler = getattr(axis, f"{which}axis")
    ruler.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ruler.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ruler.set_minor_formatter(NullFormatter())


def integer_ticks(axis, which: str = "y"):
    """Only whole numbers on the ``which`` axis ("x", "y" or "both"): for counts."""
    from matplotlib.ticker import MaxNLocator

    for name in ("x", "y") if which == "both" else (which,):
        getattr(axis, f"{name}axis").set_major_locator(MaxNLocator(integer=True))


def show_images(images, titles=None, ncols: int = 6, size: float = 1.6):
    """A grid of thumbnails with optional titles."""
    images = list(images)
    nrows = max(1, -(-len(images) // ncols))
    figure = _figure(ncols * size, nrows * (size + 0.25))
    for i, image in enumerate(images):
        axis = figure.add_subplot(nrows, ncols, i + 1)
        axis.imshow(image)
        axis.set_axis_off()
        if titles is not None:
            axis.set_title(titles[i], fontsize=8)
    figure.tight_layout()
    return figure


def project_2d(embeddings) -> np.ndarray:
    """PCA to two dimensions: (n, d) -> (n, 2), the directions of largest variance."""
    centred = np.asarray(embeddings, dtype=np.float64) - np.mean(embeddings, axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    return centred @ directions[:2].T


def plot_embeddings_2d(embeddings, labels, names=LABEL_NAMES, title: str = "embeddings, PCA to 2-D", axis=None):
    """Scatter of the 2-D PCA of embeddings, one colour per label."""
    points, labels = project_2d(embeddings), np.asarray(labels)
    figure = None
    if axis is None:
        figure = _figure(4.6, 3.8)
        axis = figure.add_subplot(1, 1, 1)
    for label, name in enumerate(names):
        chosen = labels == label
        axis.scatter(points[chosen, 0], points[chosen, 1], s=12, alpha=0.7, color=LABEL_COLOURS[label % 3], label=name)
    axis.set_title(title, fontsize=10)
    axis.set_xticks([])
    axis.set_yticks([])
    axis.legend(fontsize=7, loc="best")
    return figure or axis.figure


def plot_gallery(view: dict, size: float = 1.7):
    """Query and its top-k results from a gallery view (see ``widgets.gallery.gallery_view``).

    Results with the query's label get a green frame and a check mark; others a red frame.
    """
    results = view["results"]
    figure = _figure((len(results) + 1) * size, size + 0.7)
    axis = figure.add_subplot(1, len(results) + 1, 1)
    axis.imshow(view["query"]["image"])
    axis.set_title(f"query\n{view['query']['label']}", fontsize=8, fontweight="bold")
    axis.set_xticks([])
    axis.set_yticks([])
    for position, result in enumerate(results, start=2):
        axis = figure.add_subplot(1, len(results) + 1, position)
        axis.imshow(result["image"])
        colour = SAME if result["same_label"] else DIFFERENT
        mark = "✓" if result["same_label"] else "✗"
        axis.set_title(f"{mark} {result['label']}\ncos {result['score']:.3f}", fontsize=8, color=colour)
        for spine in axis.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(3)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(f"precision@{len(results)} = {view['precision']:.2f}", fontsize=9, y=0.02, va="bottom")
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    return figure


def plot_bars(values: dict, title: str, xlabel: str = "", fmt: str = "{:.2f}"):
    """Horizontal bars with their values written on them."""
    figure = _figure(5, 0.45 * len(values) + 0.8)
    axis = figure.add_subplot(1, 1, 1)
    names, numbers = list(values), list(values.values())
    bars = axis.barh(names, numbers, color="#4c72b0")
    axis.invert_yaxis()
    for bar, number in zip(bars, numbers):
        axis.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + fmt.format(number), va="center",
                  fontsize=8)
    axis.set_title(title, fontsize=10)
    axis.set_xlabel(xlabel)
    axis.set_xlim(0, max(numbers) * 1.2 if max(numbers) > 0 else 1)
    figure.tight_layout()
    return figure


def plot_recall_vs_latency(panels: dict, note: str | None = None):
    """Recall vs single-query latency, one panel per dataset, from ``compare_indexes`` rows.

    A method keeps its colour and marker in every panel (rows must come in the same order);
    a shared legend names each once, instead of labels that overlap where methods crowd.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    markers = "os^vDPX*<>ph"
    figure, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 3.4), dpi=DPI, squeeze=False)
    for axis, (title, rows) in zip(axes[0], panels.items()):
        for position, row in enumerate(rows):
            axis.scatter(row["latency_ms"], row["recall"], s=42, color=plt.cm.tab10(position % 10),
                         marker=markers[position % len(markers)], label=row["method"], edgecolors="black",
                         linewidths=0.4)
        axis.set(xscale="log", xlabel="single-query latency, ms (log)", ylabel="recall@10", title=title,
                 ylim=(-0.03, 1.05))
        axis.xaxis.set_minor_formatter(NullFormatter())
    handles, labels = axes[0][-1].get_legend_handles_labels()
    n_rows = -(-len(labels) // 4)
    figure.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False, title=note, title_fontsize=8)
    figure.tight_layout(rect=(0, 0.08 * n_rows + (0.05 if note else 0), 1, 1))
    return figure


def plot_collision_vs_theory(centres, bit_agreement, table_collisions: dict):
    """Notebook 03's check of the theory: measured dots on the formulas' curves.

    ``centres`` (b,): mean cosine of each bin of pairs; ``bit_agreement`` (b,): measured share
    of agreeing bits; ``table_collisions``: ``{K: (b,) measured share of pairs sharing all K bits}``.
    """
    from ..random_projection import bit_agreement_probability, table_collision_probability

    grid = np.linspace(-1, 1, 200)
    figure, (left, right) = subplots(2, width=9.6, height=3.6)
    left.plot(grid, bit_agreement_probability(grid), label="theory: 1 - arccos(s)/π")
    left.scatter(centres, bit_agreement, color=DIFFERENT, zorder=3, s=18, label="measured")
    left.axhline(0.5, color=REFERENCE, ls=":", lw=1, label="coin flip (unrelated, s = 0)")
    left.set(xlabel="cosine similarity s of the pair", ylabel="P(one bit agrees)", title="one random hyperplane")
    for (n_bits, measured), colour in zip(table_collisions.items(), ("#4c72b0", "#55a868", "#8172b2", "#c44e52")):
        right.plot(grid, table_collision_probability(grid, n_bits), color=colour, label=f"theory K={n_bits}")
        right.scatter(centres, measured, color=colour, s=14)
    right.set(xlabel="cosine similarity s of the pair", ylabel="P(same bucket)",
              title="one table of K bits (dots: measured)")
    for axis in (left, right):
        axis.legend(fontsize=7)
    figure.tight_layout()
    return figure


def plot_lines(x, lines: dict, xlabel: str, ylabel: str, title: str = "", reference: dict | None = None,
               log_x: bool = False, integer_x: bool = False, ylim=None, errors: dict | None = None,
               log_y: bool = False):
    """One line per entry of ``lines`` (``{label: y values}``) over ``x``, with optional error bars.

    ``reference``: ``{label: y}`` drawn as dotted horizontal lines (chance, a target, exact
    search); ``errors``: ``{label: (n,) half-widths}`` drawn as error bars on the matching line.
    """
    figure, (axis,) = subplots(1, width=5.4, height=3.5)
    markers = "os^vD*"
    for position, (label, values) in enumerate(lines.items()):
        style = {"marker": markers[position % len(markers)], "label": label, "capsize": 3}
        axis.errorbar(x, values, yerr=None if errors is None else errors.get(label), **style)
    for position, (label, value) in enumerate((reference or {}).items()):
        axis.axhline(value, color=REFERENCE, ls=(":", "--")[position % 2], lw=1, label=label)
    axis.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if log_x:
        axis.set_xscale("log")
        axis.set_xticks(list(x), [f"{value:,}" for value in x])
        axis.minorticks_off()
    if integer_x:
        integer_ticks(axis, "x")
    if log_y:
        log_axis(axis, "y")
    if ylim is not None:
        axis.set_ylim(*ylim)
    axis.legend(fontsize=7)
    figure.tight_layout()
    return figure


def plot_recall_vs_speed(curves: dict, exact_ms: float | None = None, target: float | None = None,
                         title: str = "", note: str | None = None):
    """Recall@k against time per query for parameter sweeps: one line per family of settings.

    ``curves`` maps a family name to a list of points ``{"latency_ms", "recall", "label"}`` in
    the order of the knob swept (the line joins them in that order; the label, e.g. "L=8", is
    written beside its point). ``exact_ms`` draws exact search's time as a
    vertical line (recall 1 there); ``target`` the recall target as a horizontal line. A point
    up and to the left of another is better on both counts.
    """
    figure, (axis,) = subplots(1, width=6.4, height=4.0)
    markers = "os^vDPX*"
    for position, (name, points) in enumerate(curves.items()):
        xs, ys = [p["latency_ms"] for p in points], [p["recall"] for p in points]
        line, = axis.plot(xs, ys, marker=markers[position % len(markers)], label=name, ms=5)
        for point in points:
            if point.get("label"):
                axis.annotate(point["label"], (point["latency_ms"], point["recall"]), fontsize=6,
                              color=line.get_color(), xytext=(3, -8), textcoords="offset points")
    if exact_ms is not None:
        axis.axvline(exact_ms, color=REFERENCE, ls="--", lw=1, label=f"exact search: {exact_ms:.2f} ms")
    if target is not None:
        axis.axhline(target, color=REFERENCE, ls=":", lw=1, label=f"target recall {target:g}")
    log_axis(axis, "x")
    axis.set(xlabel="time per query, ms (log scale; left is faster)", ylabel="recall@10 (up is better)",
             ylim=(-0.02, 1.03), title=title)
    axis.legend(fontsize=7, loc="lower right", title=note, title_fontsize=7)
    figure.tight_layout()
    return figure


def hnsw_knobs_figure(result: dict):
    """Why HNSW's recall stops short of 1 however large efSearch grows: the ceiling is built in.

    ``result``: the dict stored by ``benchmarks/index_knobs.py`` (``assets/measured/index_knobs.json``);
    ``result["hnsw"]`` holds ``M``, ``ef_construction``, ``ef_search``, ``target`` and ``rows``, each
    with ``M``, ``ef_construction``, ``recall`` (one per efSearch), ``ceiling`` (recall at the largest
    efSearch), ``build_cpu_s`` and ``link_bytes_per_vector``. Left: recall against efSearch, one line per
    build (colour: M, line style: efConstruction). Right: each build's ceiling against efConstruction,
    one line per M (marker: efConstruction), against the time the build took.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    hnsw = result["hnsw"]
    m_values, ef_construction, ef_search = hnsw["M"], hnsw["ef_construction"], hnsw["ef_search"]
    colours = plt.cm.viridis(np.linspace(0.0, 0.82, len(m_values)))
    styles, markers = ("-", "--", "-.", ":"), "os^D"
    figure, (left, right) = subplots(2, width=11.0, height=4.4)
    for row in hnsw["rows"]:
        build = ef_construction.index(row["ef_construction"]) % len(styles)
        left.plot(ef_search, row["recall"], color=colours[m_values.index(row["M"])], ls=styles[build],
                  marker=markers[build], ms=3.5, lw=1.2)
    for M, colour in zip(m_values, colours):
        mine = sorted((row for row in hnsw["rows"] if row["M"] == M), key=lambda row: row["ef_construction"])
        right.plot([row["build_cpu_s"] for row in mine], [row["ceiling"] for row in mine], color=colour, lw=1.2)
        for row in mine:
            build = ef_construction.index(row["ef_construction"]) % len(styles)
            right.plot(row["build_cpu_s"], row["ceiling"], color=colour, marker=markers[build], ms=5, ls="")
    left.set_xscale("log")
    left.set_xticks(list(ef_search), [str(ef) for ef in ef_search])
    left.minorticks_off()
    log_axis(right, "x")
    for axis in (left, right):
        axis.axhline(hnsw["target"], color=REFERENCE, ls=":", lw=1)
        axis.grid(alpha=0.25)
    left.set(xlabel="efSearch (log scale): candidates kept while searching", ylabel="recall@10",
             title="a query-time knob: recall climbs toward a ceiling")
    right.set(xlabel="build time, CPU seconds (log scale; one thread)",
              ylabel=f"ceiling: recall@10 at efSearch {ef_search[-1]}",
              title="the ceiling is set at build time, and costs build time")
    links = {row["M"]: row["link_bytes_per_vector"] for row in hnsw["rows"]}
    colour_key = [Line2D([], [], color=colour, lw=2, label=f"M = {M} ({readable_bytes(links[M])} of links/vector)")
                  for M, colour in zip(m_values, colours)]
    style_key = [Line2D([], [], color="#444444", ls=styles[i % 4], marker=markers[i % 4], ms=3.5,
                        label=f"efConstruction = {value}") for i, value in enumerate(ef_construction)]
    style_key.append(Line2D([], [], color=REFERENCE, ls=":", label=f"target recall {hnsw['target']:g}"))
    for height, key in ((0.06, colour_key), (0.01, style_key)):
        figure.add_artist(figure.legend(handles=key, loc="lower center", bbox_to_anchor=(0.5, height),
                                        ncol=len(key), fontsize=7.5, frameon=False))
    figure.tight_layout(rect=(0, 0.12, 1, 1))
    return figure


def pq_fastscan_figure(result: dict):
    """Where PQ is fast: plain 8-bit PQ against 4-bit fast-scan PQ, with and without re-ranking.

    ``result``: the dict stored by ``benchmarks/index_knobs.py``; ``result["pq"]["rows"]`` each have
    ``variant``, ``family``, ``recall``, ``speedup`` (single queries, over exact search in the same
    rounds), ``batch_speedup`` (one call with ``result["pq"]["batch"]`` queries) and ``bytes_per_vector``
    (codes, codebooks and any re-rank vectors). One row per variant, read across like a table: its
    recall on the left; its two speed-ups on the right, with its memory per vector written beside them.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows, batch = result["pq"]["rows"], result["pq"]["batch"]
    families = list(dict.fromkeys(row["family"] for row in rows))
    colours = [plt.cm.tab10(families.index(row["family"])) for row in rows]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11.0, 0.34 * len(rows) + 1.9), dpi=DPI, sharey=True,
                                         gridspec_kw={"width_ratios": (1, 2.3)})
    positions = np.arange(len(rows))
    left.barh(positions, [row["recall"] for row in rows], color=colours, height=0.7)
    for position, row in zip(positions, rows):
        left.text(row["recall"] + 0.02, position, f"{row['recall']:.2f}", va="center", fontsize=7)
    left.set(xlim=(0, 1.18), xlabel="recall@10", ylabel="variant", title="how good")
    left.set_yticks(positions, [row["variant"] for row in rows], fontsize=7)
    left.invert_yaxis()
    for offset, key, alpha in ((-0.2, "speedup", 1.0), (0.2, "batch_speedup", 0.4)):
        right.barh(positions + offset, [row[key] for row in rows], height=0.38, alpha=alpha, color=colours)
    fastest = max(max(row["speedup"], row["batch_speedup"]) for row in rows)
    for position, row in zip(positions, rows):
        right.text(max(row["speedup"], row["batch_speedup"]) * 1.12, position,
                   f"{row['speedup']:.1f}x / {row['batch_speedup']:.1f}x, {readable_bytes(row['bytes_per_vector'])}"
                   " per vector", va="center", fontsize=7)
    right.axvline(1, color=REFERENCE, ls="--", lw=1)
    log_axis(right, "x")
    right.set_xlim(right=fastest * 12)  # room for the text
    right.set(xlabel="speed-up over exact search (log scale; dashed line: as fast as exact)",
              title=f"how fast (solid: single queries / pale: a batch of {batch:,})")
    legend = [Patch(color=plt.cm.tab10(position), label=name) for position, name in enumerate(families)]
    figure.legend(handles=legend, loc="lower center", ncol=len(legend), fontsize=7.5, frameon=False)
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    return figure
