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
