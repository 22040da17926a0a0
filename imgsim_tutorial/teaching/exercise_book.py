"""A notebook's exercises, kept out of the notebook: questions marked by difficulty, two hints
each, a checker that works out the right answer from the learner's own objects, and solutions
in files beside the notebooks.

Builds on ``exercises.py`` (the ``check_*`` functions and their one-line verdicts). What it adds
is that nothing a learner sees gives an answer away: the notebook cell holds only a stub and a
call such as ``ex.check(3, answer, index=index, queries=queries)``; the reference is computed
here, inside the check, and never shown; the verdict says *what* is wrong (a shape, a factor, a
metric) without the value that would be right.

One notebook's exercises are a list of :class:`Exercise`, defined in
``teaching/exercise_sets/nNN.py`` (``nNN`` = the notebook's number) and opened with
:func:`notebook`::

    from imgsim_tutorial.teaching import exercise_book
    ex = exercise_book.notebook("03")
    ex                                    # the table: number, difficulty, title
    ex.hint(2)                            # a first hint; ex.hint(2, level=2) a second, closer one
    answer = None                         # your code here
    ex.check(2, answer)                   # ✓ right / ✗ what is wrong / … not answered yet

Difficulty: ★ one idea, a line or two; ★★ a few lines that combine what the notebook built;
★★★ build, measure and compare, several lines. An exercise marked ``predict`` asks for a number
before measuring it; its check compares the prediction with theory and the measurement with a
measurement it makes itself, so a copied prediction is caught.

Solutions live in ``notebooks/solutions/NN_exM.py``; a notebook cell loads one on request with
``%load solutions/NN_exM.py``. The tests run every exercise blank, solved and with the plausible
wrong answers each :class:`Exercise` lists (``tests/exercise_proof.py``), offline and in hub mode.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from .exercises import Check, _not_yet, _unanswered

STARS = {1: "★", 2: "★★", 3: "★★★"}


@dataclass(frozen=True)
class Exercise:
    """One question: its number in the notebook, difficulty (1-3 stars), title, two hints.

    ``verdict(answer, **objects)`` returns a :class:`Check`; it receives the learner's answer and
    the objects the notebook passes to ``check`` (an index, queries, data) and works out the
    right answer from them. ``wrong``: code that, run in the notebook after the solution, turns
    its answer into a plausible wrong one (off by a factor, the wrong metric, a copied
    prediction); the tests check that each one is marked wrong. ``predict``: asks for a number
    before measuring it.
    """

    number: int
    stars: int
    title: str
    hints: tuple[str, str]
    verdict: Callable[..., Check] = field(repr=False)
    wrong: tuple[str, ...] = ()
    predict: bool = False

    def __post_init__(self):
        if self.stars not in STARS:
            raise ValueError(f"exercise {self.number}: stars must be 1, 2 or 3, got {self.stars!r}")
        if len(self.hints) != 2 or not all(isinstance(hint, str) and hint for hint in self.hints):
            raise ValueError(f"exercise {self.number}: give exactly two hints, a first and a closer one")

    @property
    def mark(self) -> str:
        return STARS[self.stars] + (" (predict, then measure)" if self.predict else "")


class Hint(str):
    """A hint that shows as itself (no quotes) in a notebook."""

    def __repr__(self) -> str:
        return str(self)


class ExerciseBook:
    """The exercises of one notebook, with the last verdict of each (``last[number]``)."""

    def __init__(self, notebook: str, exercises: list[Exercise]):
        self.notebook, self.exercises = notebook, {exercise.number: exercise for exercise in exercises}
        self.last: dict[int, Check] = {}

    def __getitem__(self, number: int) -> Exercise:
        if number not in self.exercises:
            raise KeyError(f"notebook {self.notebook} has exercises {sorted(self.exercises)}, not {number!r}")
        return self.exercises[number]

    def __iter__(self):
        return iter(self.exercises.values())

    def __len__(self) -> int:
        return len(self.exercises)

    def check(self, number: int, answer, *more_answers, **objects) -> Check:
        """The verdict on ``answer`` (and, for a predict-then-measure exercise, the measurement)."""
        exercise = self[number]
        name = f"exercise {number} {STARS[exercise.stars]}"
        if all(_unanswered(value) for value in (answer, *more_answers)):
            verdict = _not_yet(name)
        else:
            verdict = exercise.verdict(answer, *more_answers, **objects)
            verdict = Check(verdict.status, name, verdict.message)
        self.last[number] = verdict
        return verdict

    def hint(self, number: int, level: int = 1) -> Hint:
        """Hint 1 points the way; hint 2 names the function or the step. Neither is the answer."""
        if level not in (1, 2):
            raise ValueError(f"level must be 1 (a first hint) or 2 (a closer one), got {level!r}")
        return Hint(f"hint {level} for exercise {number}: {self[number].hints[level - 1]}")

    def __repr__(self) -> str:
        rows = [f"{exercise.number}. {exercise.mark:<28} {exercise.title}" for exercise in self]
        return f"exercises of notebook {self.notebook} (hints: ex.hint(n), ex.hint(n, level=2))\n" + "\n".join(rows)


def notebook(number: str) -> ExerciseBook:
    """The exercises of notebook ``number`` ("03" or "03_random_projection").

    >>> book = notebook("03"); len(book) >= 3 and all(1 <= exercise.stars <= 3 for exercise in book)
    True
    """
    key = str(number)[:2]
    try:
        module = importlib.import_module(f"{__package__}.exercise_sets.n{key}")
    except ModuleNotFoundError:
        raise ValueError(f"no exercises for notebook {number!r}; notebooks 01-08 have them") from None
    return ExerciseBook(key, module.EXERCISES)
