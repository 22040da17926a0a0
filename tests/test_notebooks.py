"""The notebooks: in sync with their sources, small, free of machine paths, with Colab badges."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts" / "build_notebooks.py")
build_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_notebooks)


def test_every_source_has_a_notebook():
    sources = {p.stem for p in (ROOT / "notebooks" / "src").glob("*.py")}
    assert sources == {p.stem for p in NOTEBOOKS} and len(sources) >= 6


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_matches_its_source(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    expected = build_notebooks.parse_cells((ROOT / "notebooks" / "src" / f"{notebook.stem}.py").read_text())
    actual = [(cell["cell_type"], "".join(cell["source"])) for cell in cells]
    assert actual == expected, f"run: python scripts/build_notebooks.py {notebook.stem[:2]}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_small_and_portable(notebook):
    text = notebook.read_text()
    assert len(text.encode()) < 2_000_000
    for machine_path in ("/root/", "/home/", "/tmp/", "/work/", "C:\\\\Users"):
        assert machine_path not in text, f"{notebook.name} stores a machine path ({machine_path})"
    assert "colab.research.google.com/github/imgsim-tutorial/imgsim-tutorial/blob/main/notebooks/" + notebook.name in text
    import nbformat

    nbformat.validate(nbformat.reads(text, as_version=4))  # e.g. a markdown cell with outputs is invalid
    cells = json.loads(text)["cells"]
    errors = [o for cell in cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{notebook.name} stores an error output"
