"""Static matplotlib figures: they show on GitHub and nbviewer, where widgets do not.

Every function returns the ``Figure`` (so tests can inspect it and notebooks can save it) and
draws nothing interactive. The widgets in ``widgets/`` show the same things, live.
"""

from __future__ import annotations

import numpy as np

from .leaves import LABEL_NAMES

LABEL_COLOURS = ("#c26a2e", "#b8336a", "#3a8f3a")  # angular leaf spot, bean rust, healthy
SAME, DIFFERENT = "#2a9d4b", "#d1495b"


def _figure(width, height):
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(width, height), dpi=80)
    return figure


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
        axis.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + fmt.format(number), va="center", fontsize=8)
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
    figure, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 3.4), dpi=80, squeeze=False)
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
