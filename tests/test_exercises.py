"""The exercise checkers say right and wrong correctly, and every notebook from 01 follows the convention.

The convention is written at the top of ``imgsim_tutorial/exercises.py``: "Your turn" cells tagged
``exercise`` that call a checker, solutions tagged ``solution``, collapsed, under "## Solutions" at the end.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from imgsim_tutorial.exercises import Check, check_array, check_ids, check_true, check_value

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [p for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if p.stem[:2].isdigit() and int(p.stem[:2]) >= 1]
CHECK_CALL = re.compile(r"\bcheck_(array|ids|value|true)\s*\(")


# --- the checkers ---------------------------------------------------------------------------

def test_check_array_right_within_tolerance():
    result = check_array(np.array([0.5, 0.25], dtype=np.float32), [0.5, 0.2500001], name="scores", atol=1e-5)
    assert result and result.status == "right" and "✓ scores: right" in str(result)


def test_check_array_names_the_rows_that_differ_and_the_tolerance():
    expected = np.zeros((4, 3))
    answer = expected.copy()
    answer[1, 2], answer[3, 0] = 0.5, -0.01
    result = check_array(answer, expected, name="m", atol=1e-3)
    assert not result and result.status == "wrong"
    assert "2 of 12 values differ" in result.message and "rows 1, 3" in result.message
    assert "largest difference 0.5" in result.message and "atol=0.001" in result.message


def test_check_array_reports_shape_transpose_and_dtype():
    assert "shape (3, 2), expected (2, 3) (transposed?)" in check_array(np.ones((3, 2)), np.ones((2, 3))).message
    result = check_array(np.ones(3), np.ones(3, dtype=np.int64), check_dtype=True)
    assert not result and "dtype float64, expected int64" in result.message
    assert not check_array(["a", "b"], [1.0, 2.0])
    assert not check_array([[1, 2], [3]], [[1, 2], [3, 4]])  # ragged: wrong, not an exception


def test_check_array_nan_must_match_nan():
    assert check_array([np.nan, 1.0], [np.nan, 1.0])
    assert not check_array([0.0, 1.0], [np.nan, 1.0])


@pytest.mark.parametrize("checker, args", [(check_array, ([1.0],)), (check_ids, ([1],)), (check_value, (1.0,)),
                                           (check_true, ("hint",))])
def test_an_unanswered_stub_says_so_without_raising(checker, args):
    for stub in (None, ...):
        result = checker(stub, *args)
        assert result.status == "unanswered" and not result and "not answered yet" in str(result)


def test_check_ids_ordered_and_unordered():
    assert check_ids([[4, 2, 9]], [[4, 2, 9]])
    unordered = check_ids([9, 4, 2], [4, 2, 9])
    assert not unordered and "same ids, wrong order" in unordered.message
    assert check_ids([9, 4, 2], [4, 2, 9], ordered=False)
    result = check_ids([[1, 2], [5, 6], [7, 8]], [[1, 2], [5, 7], [7, 8]], ordered=False)
    assert not result and "1 of 3 rows differ (rows 1)" in result.message
    assert "missing [7], not expected [6]" in result.message


def test_check_ids_catches_scores_passed_as_ids_and_wrong_k():
    assert "expected integer ids" in check_ids([0.9, 0.8, 0.7], [3, 1, 2]).message
    assert "shape (2, 4), expected (2, 5)" in check_ids(np.zeros((2, 4), int), np.zeros((2, 5), int)).message
    assert check_ids(np.array([3.0, 1.0]), [3, 1])  # float ids that are whole numbers are fine


def test_check_ids_empty_answers():
    assert check_ids(np.array([], dtype=int), np.array([], dtype=int), ordered=False)
    assert check_ids([], np.flatnonzero([False, False]), ordered=False)  # np.asarray([]) is float: still fine
    result = check_ids([], [4], ordered=False)
    assert not result and "shape (0,), expected (1,)" in result.message
    assert not check_ids([4], np.array([], dtype=int))


def test_check_value_numbers_strings_bools():
    assert check_value(np.float32(0.333), 1 / 3, atol=1e-3)
    too_small = check_value(0.30, 1 / 3, name="chance")
    assert not too_small and "too small" in too_small.message and "0.3" in too_small.message
    assert "too large" in check_value(2, 1).message
    assert check_value(" Healthy", "healthy")
    assert not check_value("bean_rust", "healthy")
    assert not check_value(3, "healthy")
    assert check_value(True, True) and not check_value(False, True)
    assert "expected True or False" in check_value(1, True).message
    assert "expected one number" in check_value(np.ones(3), 1.0).message
    assert not check_value("abc", 1.0)


def test_check_true_and_arrays():
    assert check_true(1 < 2, "hint")
    assert "not yet: look at the labels" in check_true(False, "look at the labels").message
    assert ".all() or .any()" in check_true(np.array([True, False]), "hint").message


def test_a_check_renders_as_text_and_html():
    result = Check("wrong", "top<5>", "shape (3,), expected (5,)")
    assert repr(result) == "✗ top<5>: shape (3,), expected (5,)"
    html = result._repr_html_()
    assert "&lt;5&gt;" in html and "✗" in html


# --- the notebook convention -----------------------------------------------------------------

def _cells(notebook):
    return json.loads(notebook.read_text())["cells"]


def _text(cell):
    return "".join(cell["source"])


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def _output_text(cell):
    parts = []
    for output in cell.get("outputs", []):
        parts.append("".join(output.get("text", "")))
        parts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def _solutions_heading(cells):
    headings = [i for i, cell in enumerate(cells) if cell["cell_type"] == "markdown"
                and re.search(r"^##\s+Solutions\s*$", _text(cell), re.MULTILINE)]
    return headings


def test_there_are_notebooks_to_check():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_at_least_three_exercises_each_with_a_check_one_needing_code(notebook):
    exercises = [cell for cell in _cells(notebook) if cell["cell_type"] == "code" and "exercise" in _tags(cell)]
    assert len(exercises) >= 3, f"{notebook.name}: {len(exercises)} cells tagged 'exercise', expected >= 3"
    without = [_text(cell)[:60] for cell in exercises if not CHECK_CALL.search(_text(cell))]
    assert not without, f"{notebook.name}: exercise cells without a check_* call: {without}"
    assert any("your code" in _text(cell).lower() for cell in exercises), \
        f"{notebook.name}: no exercise needs code (mark the stub with '# your code here')"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_solutions_are_tagged_hidden_and_after_the_solutions_heading(notebook):
    cells = _cells(notebook)
    headings = _solutions_heading(cells)
    assert len(headings) == 1, f"{notebook.name}: expected one '## Solutions' heading, found {len(headings)}"
    start = headings[0]
    solutions = [i for i, cell in enumerate(cells) if "solution" in _tags(cell)]
    assert solutions, f"{notebook.name}: no cell tagged 'solution'"
    early = [i for i in solutions if i < start]
    assert not early, f"{notebook.name}: solution cells {early} come before the Solutions heading (cell {start})"
    for i in solutions:
        hidden = cells[i].get("metadata", {}).get("jupyter", {})
        assert hidden.get("source_hidden") is True and hidden.get("outputs_hidden") is True, \
            f"{notebook.name}: solution cell {i} is not collapsed (jupyter.source_hidden/outputs_hidden)"
    # Among the solutions every code cell is one (an untagged one would show its answer); after the
    # last solution a clean-up cell (stop Spark, free memory) may follow.
    untagged = [i for i, cell in enumerate(cells[start:solutions[-1]], start) if cell["cell_type"] == "code"
                and "solution" not in _tags(cell)]
    assert not untagged, f"{notebook.name}: code cells {untagged} among the solutions are not tagged 'solution'"
    exercises = [i for i, cell in enumerate(cells) if "exercise" in _tags(cell)]
    assert all(i < start for i in exercises), f"{notebook.name}: an exercise cell sits among the solutions"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_show_stubs_unanswered_and_solutions_right(notebook):
    cells = _cells(notebook)
    if not any(cell.get("execution_count") for cell in cells if cell["cell_type"] == "code"):
        pytest.skip(f"{notebook.name} has no stored outputs")
    for i, cell in enumerate(cells):
        shown = _output_text(cell)
        if "exercise" in _tags(cell):
            assert "✓" not in shown, f"{notebook.name}: exercise cell {i} is already right: the stub gives it away"
        if "solution" in _tags(cell) and CHECK_CALL.search(_text(cell)):
            assert "✓" in shown and "✗" not in shown and "not answered" not in shown, \
                f"{notebook.name}: solution cell {i} does not pass its own check: {shown[-200:]!r}"
