"""Figures are readable: >= 100 dpi, labelled axes, integer ticks for counts, reference lines, named wedges."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from imgsim_tutorial import LSHIndex  # noqa: E402
from imgsim_tutorial.teaching import plotting
from imgsim_tutorial.tuning import measured_s_curve  # noqa: E402
from imgsim_tutorial.widgets.buckets import bucket_view, demo_points, plot_buckets, region_centres  # noqa: E402
from imgsim_tutorial.widgets.tables import plot_bucket_sizes, table_view  # noqa: E402
from imgsim_tutorial.widgets.tradeoffs import plot_s_curves  # noqa: E402


def labelled(figure):
    """Every axis with data on it names both of its axes."""
    for axis in figure.axes:
        if axis.lines or axis.collections or axis.patches:
            assert axis.get_xlabel() and axis.get_ylabel(), f"unlabelled axis: {axis.get_title()!r}"
    return True


def whole_numbers(ticks):
    values = [float(tick.get_text().replace("−", "-")) for tick in ticks if tick.get_text()]
    return bool(values) and all(value == int(value) for value in values)


def test_collision_figure_has_theory_measurement_and_a_coin_flip_line():
    centres = np.linspace(-0.5, 0.9, 8)
    figure = plotting.plot_collision_vs_theory(centres, 1 - np.arccos(centres) / np.pi,
                                               {4: centres ** 2, 8: centres ** 4})
    assert figure.get_dpi() >= 100 and labelled(figure)
    left, right = figure.axes
    assert any(np.allclose(line.get_ydata(), 0.5) for line in left.lines)  # chance: unrelated pairs agree half the time
    assert [text.get_text() for text in right.get_legend().get_texts()] == ["theory K=4", "theory K=8"]


def test_recall_vs_speed_draws_curves_exact_time_and_target():
    curves = {"K=8": [{"latency_ms": 0.4, "recall": 0.7, "label": "L=4"},
                      {"latency_ms": 0.2, "recall": 0.5, "label": "L=2"}]}
    figure = plotting.plot_recall_vs_speed(curves, exact_ms=1.5, target=0.9)
    axis = figure.axes[0]
    assert figure.get_dpi() >= 100 and labelled(figure) and axis.get_xscale() == "log"
    drawn = axis.lines[0]
    assert list(drawn.get_xdata()) == [0.4, 0.2]  # joined in the order of the knob swept, not re-sorted
    assert any(np.allclose(line.get_xdata(), 1.5) for line in axis.lines[1:])
    assert any(np.allclose(line.get_ydata(), 0.9) for line in axis.lines[1:])
    assert {text.get_text() for text in axis.texts} == {"L=4", "L=2"}


def test_plot_lines_with_error_bars_references_and_integer_x():
    figure = plotting.plot_lines([1, 2, 4, 8], {"a": [0.1, 0.2, 0.4, 0.8]}, "n_tables", "recall@10",
                                 reference={"chance": 0.05}, errors={"a": [0.01] * 4}, integer_x=True)
    axis = figure.axes[0]
    figure.canvas.draw()
    assert labelled(figure) and whole_numbers(axis.get_xticklabels())
    assert any(np.allclose(line.get_ydata(), 0.05) for line in axis.lines)
    assert axis.containers and axis.containers[0].has_yerr


def test_bucket_wedges_are_named_by_their_codes():
    view = bucket_view(demo_points(), n_planes=3, seed=0)
    centres = region_centres(view)
    assert len(centres) == view["n_regions"] == 6
    low, high = view["extent"]
    grid = np.linspace(low, high, view["region_codes"].shape[0])
    for code, (x, y) in centres.items():  # each label sits inside its own wedge
        assert view["region_codes"][np.abs(grid - y).argmin(), np.abs(grid - x).argmin()] == code
    figure = plot_buckets(view)
    left, right = figure.axes
    assert figure.get_dpi() >= 100 and labelled(figure)
    assert {text.get_text() for text in left.texts} == {format(code, "03b") for code in centres}
    figure.canvas.draw()
    assert whole_numbers(right.get_xticklabels())  # points per bucket are counts


def test_bucket_size_histogram_counts_in_whole_numbers():
    data = np.random.default_rng(0).standard_normal((400, 8))
    index = LSHIndex(n_bits=5, n_tables=1).add(data)
    figure = plot_bucket_sizes(table_view(index, 0, 0, labels=np.zeros(400, dtype=int), names=["a"]))
    figure.canvas.draw()
    axis = figure.axes[0]
    assert figure.get_dpi() >= 100 and labelled(figure)
    assert whole_numbers(axis.get_xticklabels()) and whole_numbers(axis.get_yticklabels())
    assert sum(patch.get_height() for patch in axis.patches) == len(index.bucket_sizes(0))


def test_measured_s_curve_follows_theory_with_spread_over_seeds():
    rng = np.random.default_rng(1)
    embeddings = rng.standard_normal((400, 24))
    queries = embeddings[:40] + 0.6 * rng.standard_normal((40, 24))
    curve = measured_s_curve(embeddings, queries, n_bits=4, n_tables=2, edges=np.linspace(-1, 1, 11), seeds=(0, 1, 2))
    assert curve["mean"].shape == curve["std"].shape == curve["centres"].shape and curve["std"].max() > 0
    assert np.abs(curve["mean"] - curve["theory"]).max() < 0.15
    figure = plot_s_curves([curve])
    assert labelled(figure) and "3 seeds" in figure.axes[0].get_title()
    with pytest.raises(ValueError, match="queries have dimension 5 but embeddings 24"):
        measured_s_curve(embeddings, queries[:, :5], 4, 2, edges=np.linspace(-1, 1, 5))
