"""The notebooks: in sync with their sources (read by jupytext), small, portable, navigable."""

import importlib.util
import json
import re
from pathlib import Path

import pytest
from prose_numbers import unsourced_numbers

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts" / "build_notebooks.py")
build_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_notebooks)
SETTING = build_notebooks.repository_setting()


def test_every_source_has_a_notebook():
    sources = {p.stem for p in (ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py")}
    assert sources == {p.stem for p in NOTEBOOKS} and len(sources) >= 7


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_matches_its_source(notebook):
    """Same cells, text, metadata and ids as the build script makes from the source (via jupytext)."""
    stored = json.loads(notebook.read_text())["cells"]
    expected = build_notebooks.notebook_from_source(ROOT / "notebooks" / "src" / f"{notebook.stem}.py").cells
    layout = ("id", "cell_type", "source")
    actual = [tuple(cell[key] if key != "source" else "".join(cell[key]) for key in layout) for cell in stored]
    assert actual == [tuple(cell[key] for key in layout) for cell in expected], \
        f"run: python scripts/build_notebooks.py {notebook.stem[:2]}  (add --links-only to keep outputs)"
    for cell, wanted in zip(stored, expected):  # tags and jupyter flags from `# %% tags=[...]`
        assert {k: v for k, v in cell["metadata"].items() if k != "execution"} == dict(wanted.metadata)


def test_source_metadata_reaches_the_notebook(tmp_path, monkeypatch):
    source = tmp_path / "src" / "01_demo.py"
    source.parent.mkdir()
    source.write_text('# %% [markdown]\n# # 01 · Demo\n#\n# [![Binder](https://mybinder.org/badge_logo.svg)]'
                      '(https://mybinder.org/v2/gh/a/b/main)\n#\n# Text.\n\n'
                      '# %% tags=["solution"] jupyter={"source_hidden": true}\nanswer = 42\n')
    monkeypatch.setattr(build_notebooks, "SOURCES", source.parent)
    notebook = build_notebooks.notebook_from_source(source)
    assert [cell.id for cell in notebook.cells] == ["01-launch", "01-00", "01-01", "01-next"]
    assert notebook.cells[1].source == "# 01 · Demo\n\nText."  # the hand-written badge is dropped
    assert notebook.cells[2].metadata == {"tags": ["solution"], "jupyter": {"source_hidden": True}}
    assert notebook.cells[2].source == "answer = 42"


def test_navigation_links_previous_contents_next():
    stems = ["00_start_here", "01_embeddings", "02_cosine_search"]
    header, footer = build_notebooks.navigation("01_embeddings", stems, "teacher/fork", "main")
    assert "colab.research.google.com/github/teacher/fork/blob/main/notebooks/01_embeddings.ipynb" in header
    assert "mybinder.org/v2/gh/teacher/fork/main?urlpath=lab/tree/notebooks/01_embeddings.ipynb" in header
    assert "nbviewer.org/github/teacher/fork/blob/main/notebooks/01_embeddings.ipynb" in header
    links = re.findall(r"\]\(([^)]+)\)", footer)
    assert links == ["00_start_here.ipynb", "00_start_here.ipynb", "02_cosine_search.ipynb"]
    assert "Shut" in footer and "kernel" in footer
    _, last = build_notebooks.navigation("02_cosine_search", stems, "teacher/fork", "main")
    assert re.findall(r"\]\(([^)]+)\)", last) == ["01_embeddings.ipynb", "00_start_here.ipynb"]  # no next


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_small_and_portable(notebook):
    text = notebook.read_text()
    assert len(text.encode()) < 2_000_000
    for machine_path in ("/root/", "/home/", "/tmp/", "/work/", "C:\\\\Users"):
        assert machine_path not in text, f"{notebook.name} stores a machine path ({machine_path})"
    import nbformat

    nbformat.validate(nbformat.reads(text, as_version=4))  # e.g. a markdown cell with outputs is invalid
    cells = json.loads(text)["cells"]
    errors = [o for cell in cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{notebook.name} stores an error output"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_reads_nothing_outside_the_package(notebook):
    """On Colab the repository's folders do not exist: stored results ship in imgsim_tutorial/assets/."""
    cells = json.loads(notebook.read_text())["cells"]
    code = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    for folder in ("../benchmarks", "benchmarks/results", "../docs", "../tests"):  # a path read, not a hint
        assert folder not in code, f"{notebook.name}'s code reads {folder!r}: ship the file in imgsim_tutorial/assets/"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_number_in_the_prose_comes_from_the_notebook(notebook):
    """A decimal or a number with a unit in the markdown is in the code or an output (tests/prose_numbers.py)."""
    missing = unsourced_numbers(json.loads(notebook.read_text()))
    assert not missing, (f"{notebook.name}: numbers in the prose that no code or output of this run holds "
                         "(print them, or say it without the number):\n  " + "\n  ".join(missing))


def test_the_course_map_is_measured_on_the_notebooks_as_they_are():
    """00's map prints study and run times from assets/measured/course_map.json: one entry per notebook,
    its study time that of the stored notebook (so an edit without a rebuild fails here)."""
    from imgsim_tutorial.teaching import course_map

    measured = course_map.measured_map()["notebooks"]
    assert set(measured) == {p.stem for p in NOTEBOOKS} == set(course_map.SYLLABUS)
    for notebook in NOTEBOOKS:
        times = measured[notebook.stem]
        assert times["study"] == course_map.study_time(json.loads(notebook.read_text())), \
            f"{notebook.name} changed since it was measured: python scripts/build_notebooks.py {notebook.stem[:2]}"
        assert 0 < times["run_s"] < course_map.RUN_BUDGET_S, f"{notebook.name} ran {times['run_s']} s"
    table = course_map.course_map()
    assert all(f"`{p.stem}`" in table for p in NOTEBOOKS) and "min" in table


def test_the_prose_number_check_can_fail():
    notebook = {"cells": [{"cell_type": "markdown", "source": "Exact search takes 8.3 ms; recall 0.93 at 12 bits."},
                          {"cell_type": "code", "source": "n_bits = 12", "outputs": [{"text": "recall 0.93"}]}]}
    assert [line.split("'")[1] for line in unsourced_numbers(notebook)] == ["8.3 ms"]
    exercise = {"cells": [{"cell_type": "markdown", "source": "**Exercise 2.** Use 0.05 and 16 bits."}]}
    assert unsourced_numbers(exercise) == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_starts_with_badges_and_ends_with_links(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    first, last = "".join(cells[0]["source"]), "".join(cells[-1]["source"])
    for name, link in build_notebooks.launch_links(notebook.stem, **SETTING).items():
        assert f"]({link})" in first, f"{notebook.name} lacks its {name} badge"
    assert "[Contents](" in last
    badges = sum("".join(cell["source"]).count("colab-badge.svg") for cell in cells)
    assert badges == 1, f"{notebook.name} has {badges} Colab badges; sources must not carry their own"


def test_links_only_keeps_stored_outputs(tmp_path, monkeypatch, capsys):
    import nbformat

    (tmp_path / "src").mkdir()
    source = tmp_path / "src" / "01_demo.py"
    source.write_text("# %% [markdown]\n# # 01 · Demo\n\n# %%\nprint('https://github.com/old/place')\n")
    monkeypatch.setattr(build_notebooks, "SOURCES", tmp_path / "src")
    monkeypatch.setattr(build_notebooks, "NOTEBOOKS", tmp_path)
    stored = build_notebooks.notebook_from_source(source, setting={"repository": "old/place", "branch": "main"})
    stored.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    stored.cells[2].execution_count = 1
    nbformat.write(stored, tmp_path / "01_demo.ipynb")
    source.write_text(source.read_text().replace("old/place", "new/place"))
    build_notebooks.build(source, execute=False)
    rebuilt = nbformat.read(tmp_path / "01_demo.ipynb", as_version=4)
    assert rebuilt.cells[2].outputs[0]["text"] == "hello\n" and rebuilt.cells[2].execution_count == 1
    assert "new/place" in rebuilt.cells[2].source
    assert "01-01" in capsys.readouterr().out  # it says which cell's code changed since its outputs
    assert "01_demo" not in json.loads(build_notebooks.MEASURED_MAP.read_text())["notebooks"]  # no test data
    with pytest.raises(ValueError, match="without --links-only"):
        build_notebooks.keep_stored_outputs(rebuilt, tmp_path / "missing.ipynb")


def test_nbval_markers_are_tags_not_comments_a_learner_reads():
    """Cells whose output nbval compares carry the tag ``nbval-check-output``; no code cell shows
    a ``# NBVAL_...`` comment (a marker for the test tool, noise for a learner)."""
    visible, tagged = [], 0
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and re.search(r"^\s*#\s*NBVAL_", source, flags=re.M):
                visible.append(path.stem)
            tagged += "nbval-check-output" in cell.get("metadata", {}).get("tags", [])
    assert not visible, f"visible NBVAL comments in {visible}: use the cell tag nbval-check-output"
    assert tagged >= 3, "the hand-checkable cells of 02 and 03 lost their output check"
