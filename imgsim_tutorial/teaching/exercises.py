"""Checks a learner runs on their own answer: "✓ right", or exactly what is wrong.

Every notebook from 01 on ends its lessons with "Your turn" exercises; ``exercise_book.py``
holds them (questions out of sight, hints, solutions in files) and calls these checkers with a
reference it works out itself. A check never raises on a wrong or missing answer: it returns a
small :class:`Check` that shows itself as one line (plain text and coloured HTML), so a notebook
with unanswered exercises still runs top to bottom (and under ``pytest --nbval-lax``).

The checkers
------------

``check_array`` (numbers, with a tolerance), ``check_ids`` (integer ids, optionally order-
insensitive per row), ``check_value`` (one number, string or bool) and ``check_true`` (any
condition, with a hint). Each returns a :class:`Check`; ``bool(check)`` is True only when right.
A wrong verdict says what is wrong (a shape, a dtype, which rows, too small or too large)
without printing the value that would be right.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

RIGHT, WRONG, UNANSWERED = "right", "wrong", "unanswered"
_SYMBOLS = {RIGHT: "✓", WRONG: "✗", UNANSWERED: "…"}
_COLOURS = {RIGHT: "#1a7f37", WRONG: "#cf222e", UNANSWERED: "#9a6700"}


@dataclass(frozen=True)
class Check:
    """The verdict on one answer: ``status`` is "right", "wrong" or "unanswered".

    >>> Check("right", "top-5 ids", "right")
    ✓ top-5 ids: right
    >>> bool(Check("wrong", "x", "shape (3,), expected (4,)"))
    False
    """

    status: str
    name: str
    message: str

    def __bool__(self) -> bool:
        return self.status == RIGHT

    @property
    def right(self) -> bool:
        return self.status == RIGHT

    def __str__(self) -> str:
        return f"{_SYMBOLS[self.status]} {self.name}: {self.message}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        from html import escape

        return (f'<div style="color:{_COLOURS[self.status]};font-family:monospace;white-space:pre-wrap">'
                f"<b>{_SYMBOLS[self.status]} {escape(self.name)}</b>: {escape(self.message)}</div>")


def _unanswered(answer) -> bool:
    return answer is None or answer is Ellipsis


def _not_yet(name: str) -> Check:
    return Check(UNANSWERED, name, "not answered yet (replace the None in the cell above the check)")


def _right(name: str, detail: str = "") -> Check:
    return Check(RIGHT, name, "right" + (f" ({detail})" if detail else ""))


def _as_array(answer, name: str):
    try:
        return np.asarray(answer), None
    except (TypeError, ValueError) as error:  # ragged lists and the like
        return None, Check(WRONG, name, f"could not be read as an array ({error}); expected an array")


def _positions(mask: np.ndarray, limit: int = 5) -> str:
    """'rows 0, 3 and 7' / 'positions (0, 1), (2, 2)' for the True entries of mask."""
    if mask.ndim <= 1:
        where = np.flatnonzero(np.atleast_1d(mask))
        shown = ", ".join(str(int(i)) for i in where[:limit])
        return f"position{'s' if len(where) > 1 else ''} {shown}" + (" ..." if len(where) > limit else "")
    rows = np.flatnonzero(mask.reshape(len(mask), -1).any(axis=1))
    shown = ", ".join(str(int(i)) for i in rows[:limit])
    return f"row{'s' if len(rows) > 1 else ''} {shown}" + (" ..." if len(rows) > limit else "")


def check_array(answer, expected, name: str = "answer", atol: float = 1e-6, rtol: float = 0.0,
                check_dtype: bool = False) -> Check:
    """Compare an array answer with the expected one: shape, optionally dtype, then values.

    Says which rows (or positions) differ, by how much at most, and the tolerance used.

    >>> check_array([1.0, 2.0], [1.0, 2.0000001], name="scores")
    ✓ scores: right (2 values within atol=1e-06)
    >>> check_array([[1, 2], [3, 4]], [[1, 2], [3, 5]], name="m")
    ✗ m: 1 of 4 values differ, in row 1; yours are too small there (tolerance atol=1e-06, rtol=0)
    >>> check_array(None, [1.0])
    … answer: not answered yet (replace the None in the cell above the check)
    """
    if _unanswered(answer):
        return _not_yet(name)
    answer, problem = _as_array(answer, name)
    if problem is not None:
        return problem
    expected = np.asarray(expected)
    if answer.shape != expected.shape:
        hint = " (transposed?)" if answer.shape == expected.shape[::-1] and answer.ndim == 2 else ""
        return Check(WRONG, name, f"has shape {answer.shape}, expected {expected.shape}{hint}")
    if check_dtype and answer.dtype != expected.dtype:
        return Check(WRONG, name, f"has dtype {answer.dtype}, expected {expected.dtype}; "
                                  f"convert with .astype(np.{expected.dtype})")
    if not (np.issubdtype(answer.dtype, np.number) or answer.dtype == bool):
        return Check(WRONG, name, f"holds {answer.dtype} values, expected numbers like {expected.dtype}")
    answer_f, expected_f = answer.astype(np.float64), expected.astype(np.float64)
    close = np.isclose(answer_f, expected_f, atol=atol, rtol=rtol, equal_nan=True)
    if close.all():
        return _right(name, f"{expected.size} value{'s' if expected.size != 1 else ''} within atol={atol:g}"
                            + (f", rtol={rtol:g}" if rtol else ""))
    wrong = ~close
    # Say which way it is off, never by how much: with the size of the gap the answer is in sight.
    gap = (answer_f - expected_f)[wrong]
    if np.isnan(gap).all():
        direction = "NaN where a number was expected (or the reverse)"
    else:
        signs = set(np.sign(gap[~np.isnan(gap)]).tolist())
        direction = ("yours are too large there" if signs == {1.0} else "yours are too small there"
                     if signs == {-1.0} else "some of yours are too large, some too small")
    return Check(WRONG, name, f"{int(wrong.sum())} of {expected.size} values differ, in {_positions(wrong)}; "
                              f"{direction} (tolerance atol={atol:g}, rtol={rtol:g})")


def check_ids(answer_ids, expected_ids, name: str = "ids", ordered: bool = True) -> Check:
    """Compare integer ids, (k,) or (nq, k); ``ordered=False`` compares each row as a set.

    >>> check_ids([3, 1, 2], [1, 2, 3], ordered=False)
    ✓ ids: right (3 ids, order ignored)
    >>> check_ids([[1, 2], [5, 6]], [[1, 2], [5, 7]], ordered=False)
    ✗ ids: 1 of 2 rows differ (rows 1); first, row 1: 1 of your ids should not be there
    """
    if _unanswered(answer_ids):
        return _not_yet(name)
    answer, problem = _as_array(answer_ids, name)
    if problem is not None:
        return problem
    expected = np.asarray(expected_ids)
    if answer.shape != expected.shape:
        return Check(WRONG, name, f"has shape {answer.shape}, expected {expected.shape} "
                                  f"({'one row per query, ' if expected.ndim == 2 else ''}k = {expected.shape[-1]})")
    if answer.size and not (np.issubdtype(answer.dtype, np.integer)
                            or (np.issubdtype(answer.dtype, np.floating) and np.all(answer == np.round(answer)))):
        return Check(WRONG, name, f"holds {answer.dtype} values, expected integer ids "
                                  "(did you pass the scores instead of the ids?)")
    if expected.ndim not in (1, 2):
        return Check(WRONG, name, f"expected ids of shape (k,) or (nq, k), but the reference has shape "
                                  f"{expected.shape}")
    # one row per query; a 1-D answer is one row (this also keeps an empty answer () well defined)
    answer_rows = np.atleast_2d(answer).astype(np.int64) if expected.ndim == 2 else answer[None].astype(np.int64)
    expected_rows = np.atleast_2d(expected).astype(np.int64) if expected.ndim == 2 else expected[None].astype(np.int64)
    if ordered:
        same = (answer_rows == expected_rows).all(axis=1)
    else:
        same = np.array([set(a) == set(e) for a, e in zip(answer_rows.tolist(), expected_rows.tolist())])
    order_note = "" if ordered else ", order ignored"
    if same.all():
        return _right(name, f"{expected.size} ids{order_note}")
    bad = np.flatnonzero(~same)
    first = int(bad[0])
    a, e = answer_rows[first].tolist(), expected_rows[first].tolist()
    missing, extra = sorted(set(e) - set(a)), sorted(set(a) - set(e))
    # How many are wrong, never which ids would be right: those are the answer.
    detail = (f"{len(extra)} of your ids should not be there" if missing or extra
              else "the right ids in the wrong order (best first)")
    where = f"{len(bad)} of {len(same)} rows differ (rows {', '.join(map(str, bad[:5].tolist()))}" \
            f"{' ...' if len(bad) > 5 else ''}); first, row {first}: " if expected.ndim == 2 else ""
    return Check(WRONG, name, where + detail)


def check_value(answer, expected, name: str = "answer", atol: float = 1e-6, rtol: float = 1e-6) -> Check:
    """Compare one value: numbers within a tolerance; strings ignoring case and outer spaces; bools exactly.

    >>> check_value(0.3333, 1 / 3, name="chance", atol=1e-3)
    ✓ chance: right
    >>> check_value("Bean_Rust ", "bean_rust")
    ✓ answer: right
    >>> check_value(5, 6, name="k")
    ✗ k: got 5, which is too small (tolerance atol=1e-06, rtol=1e-06)
    """
    if _unanswered(answer):
        return _not_yet(name)
    if isinstance(expected, str):
        if not isinstance(answer, str):
            return Check(WRONG, name, f"got {type(answer).__name__} {answer!r}, expected a string")
        if answer.strip().lower() == expected.strip().lower():
            return _right(name)
        return Check(WRONG, name, f"got {answer!r}, expected another answer")
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(answer, (bool, np.bool_)):
            return Check(WRONG, name, f"got {type(answer).__name__} {answer!r}, expected True or False")
        return _right(name) if bool(answer) == bool(expected) else Check(WRONG, name, f"got {answer}, not right")
    if np.ndim(answer) != 0:
        return Check(WRONG, name, f"got an array of shape {np.shape(answer)}, expected one number "
                                  "(take .mean(), an element, or float(...))")
    try:
        value, target = float(answer), float(expected)
    except (TypeError, ValueError):
        return Check(WRONG, name, f"got {type(answer).__name__} {answer!r}, expected a number")
    if np.isclose(value, target, atol=atol, rtol=rtol):
        return _right(name)
    direction = "too small" if value < target else "too large"
    return Check(WRONG, name, f"got {value:.6g}, which is {direction} (tolerance atol={atol:g}, rtol={rtol:g})")


def check_true(condition, hint: str, name: str = "check") -> Check:
    """Right when ``condition`` is true; otherwise show ``hint`` (say what to look at).

    >>> check_true(2 + 2 == 4, "add again")
    ✓ check: right
    >>> check_true(False, "the scores should be sorted best first", name="order")
    ✗ order: not yet: the scores should be sorted best first
    """
    if _unanswered(condition):
        return _not_yet(name)
    try:
        passed = bool(condition)
    except ValueError:  # an array: "truth value of an array is ambiguous"
        return Check(WRONG, name, "got an array; combine it into one True/False with .all() or .any()")
    return _right(name) if passed else Check(WRONG, name, f"not yet: {hint}")


def known_mistake(answer, mistakes, otherwise: Check, **tolerance) -> Check:
    """The first ``(value, what went wrong)`` in ``mistakes`` that ``answer`` matches, as a wrong
    Check naming the mistake; ``otherwise`` when it matches none. (A wrong Check is falsy: no
    ``or`` here.)

    >>> known_mistake(50.0, [(50.0, "a percentage; give a fraction")], Check("right", "x", "right"))
    ✗ answer: a percentage; give a fraction
    """
    for value, message in mistakes:
        if check_value(answer, value, **tolerance):
            return Check(WRONG, "answer", message)
    return otherwise


# Shared by the checkers of the exercise sets (teaching/exercise_sets/nNN.py).
def wrong(message: str) -> Check:
    """A verdict "wrong" with ``message`` (what is off, never the right answer)."""
    return Check(WRONG, "answer", message)


def one_number(value):
    """``value`` as a float if it is one number, else None (the checker then says what it expected)."""
    if np.ndim(value) != 0 or isinstance(value, (bool, str, np.bool_)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def with_settings(index, **settings):
    """A copy of ``index`` with other query-time settings; the original keeps its own."""
    changed = copy.copy(index)
    for name, value in settings.items():
        setattr(changed, name, value)
    return changed


def exact_top_ids(embeddings, queries, k: int = 10) -> np.ndarray:
    """The true top-``k`` ids of each query (exact search, the oracle every check compares with)."""
    from ..cosine_search import CosineIndex

    return CosineIndex().add(embeddings).search(queries, k)[1]


def recall_with(index, queries, true_ids, k: int = 10, **settings) -> float:
    """recall@``k`` of a copy of ``index`` with other query-time settings (the original keeps its own)."""
    from ..evaluation import recall_at_k

    return recall_at_k(with_settings(index, **settings).search_with_stats(queries, k)[1], true_ids)
