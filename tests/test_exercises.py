"""The exercise checkers say right and wrong correctly, and every notebook from 01 follows the convention.

The convention is written at the top of ``imgsim_tutorial/teaching/exercise_book.py``: "Your turn" cells
tagged ``exercise`` end in ``ex.check(N, answer, objects...)``; the reference is computed in the package
(``teaching/exercise_sets/nNN.py``), never in the notebook; solutions are files in
``notebooks/solutions/``. That every solution passes and every listed wrong answer fails is proven by
running the notebooks (``tests/exercise_proof.py``, in ``make test-notebooks`` and the hub rehearsal).
"""

import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest

from imgsim_tutorial.teaching.exercise_book import Exercise
from imgsim_tutorial.teaching.exercise_book import notebook as exercise_notebook
from imgsim_tutorial.teaching.exercises import Check, check_array, check_ids, check_true, check_value

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = [p for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if p.stem[:2].isdigit() and int(p.stem[:2]) >= 1]
CHECK_CALL = re.compile(r"^ex\.check\((\d+)\b", re.M)
SOLUTIONS = ROOT / "notebooks" / "solutions"


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
    assert "some of yours are too large, some too small" in result.message and "atol=0.001" in result.message
    assert "0.5" not in result.message  # which way, never by how much


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
    assert not unordered and "the right ids in the wrong order" in unordered.message
    assert check_ids([9, 4, 2], [4, 2, 9], ordered=False)
    result = check_ids([[1, 2], [5, 6], [7, 8]], [[1, 2], [5, 7], [7, 8]], ordered=False)
    assert not result and "1 of 3 rows differ (rows 1)" in result.message
    assert "1 of your ids should not be there" in result.message and "7" not in result.message


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


def _exercise_cells(notebook):
    return [cell for cell in _cells(notebook) if cell["cell_type"] == "code" and "exercise" in _tags(cell)]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_graded_exercises_with_hints_one_hard_one_predicting(notebook):
    book = exercise_notebook(notebook.stem[:2])
    assert len(book) >= 3, f"{notebook.name}: {len(book)} exercises, expected at least 3"
    assert any(exercise.stars == 3 for exercise in book), f"{notebook.name}: no ★★★ exercise"
    assert any(exercise.predict for exercise in book), f"{notebook.name}: no predict-then-measure exercise"
    for exercise in book:
        assert len(exercise.wrong) >= 2, f"{notebook.name} exercise {exercise.number}: list >= 2 wrong answers"
        assert str(book.hint(exercise.number, 1)) != str(book.hint(exercise.number, 2))
    numbers = [int(CHECK_CALL.search(_text(cell)).group(1)) for cell in _exercise_cells(notebook)
               if CHECK_CALL.search(_text(cell))]
    assert sorted(numbers) == sorted(exercise.number for exercise in book), \
        f"{notebook.name}: exercise cells check {sorted(numbers)}, the book has {[e.number for e in book]}"
    assert all("your code" in _text(cell).lower() for cell in _exercise_cells(notebook)), \
        f"{notebook.name}: mark every stub with '# your code here'"
    marks = [cell for cell in _cells(notebook) if cell["cell_type"] == "markdown"
             and re.search(r"\*\*Exercise \d+ ★", _text(cell))]
    assert len(marks) >= len(book), f"{notebook.name}: every question shows its difficulty (★)"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_answer_in_sight(notebook):
    """No solutions and no reference in the notebook; a check call passes names, never arithmetic."""
    cells = _cells(notebook)
    assert not [i for i, cell in enumerate(cells) if "solution" in _tags(cell)], f"{notebook.name}: solution cells"
    assert not _solutions_heading(cells), f"{notebook.name}: a '## Solutions' section: solutions are files now"
    for cell in cells:
        if cell["cell_type"] == "code":
            assigned = re.findall(r"^(reference_\w+|expected_\w+)\s*=", _text(cell), re.M)
            assert not assigned, f"{notebook.name}: a visible cell computes {assigned}"
    for cell in _exercise_cells(notebook):
        source = _text(cell)
        call = ast.parse(source[CHECK_CALL.search(source).start():]).body[0].value
        values = call.args[1:] + [keyword.value for keyword in call.keywords]
        plain = (ast.Name, ast.Attribute, ast.Subscript)
        assert all(isinstance(value, plain) for value in values), \
            f"{notebook.name}: pass only names to ex.check, no arithmetic or literals: {ast.unparse(call)}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_has_a_solution_file_that_runs_its_check(notebook):
    for cell in _exercise_cells(notebook):
        source = _text(cell)
        match = CHECK_CALL.search(source)
        solution = SOLUTIONS / f"{notebook.stem[:2]}_ex{match.group(1)}.py"
        assert solution.exists(), f"{notebook.name}: no {solution.relative_to(ROOT)}"
        assert source[match.start():].strip() in solution.read_text(), \
            f"{solution.name} must end with the exercise's own check call"


def test_an_exercise_needs_stars_and_two_hints():
    with pytest.raises(ValueError, match="stars"):
        Exercise(1, 4, "x", ("a", "b"), lambda answer: Check("right", "x", "right"))
    with pytest.raises(ValueError, match="two hints"):
        Exercise(1, 2, "x", ("a",), lambda answer: Check("right", "x", "right"))


def test_the_book_records_verdicts_and_never_calls_a_checker_on_a_blank():
    book = exercise_notebook("03")
    assert "not answered yet" in str(book.check(2, None)) and book.last[2].status == "unanswered"
    assert book.check(2, 0.8 ** 16).status == "wrong" and "0.028" in book.last[2].message
    with pytest.raises(KeyError, match="not 99"):
        book.check(99, 1.0)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_show_stubs_unanswered(notebook):
    cells = _cells(notebook)
    if not any(cell.get("execution_count") for cell in cells if cell["cell_type"] == "code"):
        pytest.skip(f"{notebook.name} has no stored outputs")
    for i, cell in enumerate(cells):
        if "exercise" in _tags(cell):
            shown = _output_text(cell)
            assert "not answered yet" in shown and "✓" not in shown, \
                f"{notebook.name}: exercise cell {i} should show 'not answered yet': {shown[-200:]!r}"
