"""Prove every exercise's checker inside its own notebook: blank, solved, and wrong.

A *proof notebook* is a stored notebook with cells added after each "Your turn" cell (tagged
``exercise``, ending in ``ex.check(N, ...)``):

1. the stub as the learner finds it must be "not answered yet";
2. the solution file ``notebooks/solutions/NN_exN.py``, run in the notebook, must be right;
3. each plausible wrong answer the exercise lists (``Exercise.wrong``: code run after the
   solution) must be marked wrong by the same check call; then the solution runs again, so the
   cells after it see the state a learner who solved it would have. A mistake that gives the
   right value on this data (hub mode's smaller course can make two settings equally perfect) is
   skipped, as no check could tell; at least one listed mistake must differ and be caught.

Nothing else changes: every stored cell and output stays, so ``pytest --nbval-lax`` on a proof
notebook checks all that it checks on the stored one, plus the exercises. ``make test-notebooks``
runs nbval on proof notebooks (offline); the hub rehearsal executes them in hub mode.

Run:  python tests/exercise_proof.py NOTEBOOK.ipynb [...]   writes .proof_NAME.ipynb beside each
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

CHECK = re.compile(r"^ex\.check\((\d+)\b", re.M)
PREFIX = ".proof_"


def _tags(cell) -> list:
    return cell.get("metadata", {}).get("tags", [])


def exercise_cells(notebook) -> list[tuple[int, int, str]]:
    """``(cell index, exercise number, the check call's code)`` for every exercise cell."""
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or "exercise" not in _tags(cell):
            continue
        match = CHECK.search(cell.source)
        if match is None:
            raise ValueError(f"exercise cell {index} has no `ex.check(N, ...)` call")
        found.append((index, int(match.group(1)), cell.source[match.start():].strip()))
    return found


def proof_cells(stem: str, number: int, check_call: str) -> list[str]:
    """The code of the cells added after exercise ``number``'s cell."""
    solution = f"solutions/{stem[:2]}_ex{number}.py"
    run_solution = f"exec(compile(open({solution!r}).read(), {solution!r}, 'exec'))"
    cells = [f"# proof: exercise {number} blank, then solved\n"
             f"assert ex.last[{number}].status == 'unanswered', ex.last[{number}]\n"
             f"{run_solution}\n"
             f"assert ex.last[{number}].status == 'right', ex.last[{number}]"]
    cells.append(f"# proof: exercise {number}, each listed wrong answer is marked wrong\n"
                 f"assert len(ex[{number}].wrong) >= 2, 'list at least two plausible wrong answers'\n"
                 f"_proof_caught = 0\n"
                 f"for _proof_wrong in ex[{number}].wrong:\n"
                 f"    _proof_right = {{name: value for name, value in globals().items()\n"
                 f"                     if name.startswith('answer')}}\n"
                 f"    exec(_proof_wrong)\n"
                 f"    if _proof_same(_proof_right, globals()):\n"
                 f"        continue  # on this data the mistake gives the right value: no check can tell\n"
                 f"    _proof_verdict = {check_call}\n"
                 f"    assert _proof_verdict.status == 'wrong', (_proof_wrong, _proof_verdict)\n"
                 f"    _proof_caught += 1\n"
                 f"    {run_solution}\n"
                 f"{run_solution}\n"
                 f"assert _proof_caught >= 1, 'no listed wrong answer differs from the right one on this data'\n"
                 f"assert ex.last[{number}].status == 'right', ex.last[{number}]")
    return cells


# Defined in the kernel before the first proof: do the answers after a wrong snippet equal the right ones?
SAME = ("import numpy as _proof_np\n"
        "def _proof_same(right, now):\n"
        "    def equal(a, b):\n"
        "        try:\n"
        "            return bool(_proof_np.array_equal(_proof_np.asarray(a, dtype=object), "
        "_proof_np.asarray(b, dtype=object)))\n"
        "        except Exception:\n"
        "            return a is b\n"
        "    return all(equal(value, now.get(name)) for name, value in right.items())")


BUDGET_MB = 1024  # Binder: 2 GB for two open notebooks (the hub rehearsal's budget too)
# Before the first exercise: the kernel's peak over the lesson. Notebooks 06-08 never read the mode, so the
# hub rehearsal leaves it to this run; for the others it is a first check, offline.
MEMORY = ("# proof: the kernel's peak memory over the lesson (Linux), under Binder's budget per notebook\n"
          "import pathlib as _pathlib, re as _re\n"
          "_status = _pathlib.Path('/proc/self/status')\n"
          "if _status.exists():\n"
          "    _peak_mb = int(_re.search(r'VmHWM:\\s+(\\d+) kB', _status.read_text()).group(1)) / 1024\n"
          f"    assert _peak_mb < {BUDGET_MB}, f'the kernel peaked at {{_peak_mb:.0f}} MB over the lesson, over "
          f"the {BUDGET_MB} MB budget per notebook: free what you no longer need (t.free_memory())'\n")


def proof_notebook(path: Path):
    """The notebook at ``path`` with the proof cells added (outputs of the new cells empty)."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    found = exercise_cells(notebook)
    for index, number, check_call in reversed(found):
        added = [nbformat.v4.new_code_cell(code, id=f"proof-{number}-{part}")
                 for part, code in enumerate(proof_cells(path.stem, number, check_call))]
        notebook.cells[index + 1:index + 1] = added
    if found:
        notebook.cells[found[0][0]:found[0][0]] = [nbformat.v4.new_code_cell(MEMORY, id="proof-memory"),
                                                   nbformat.v4.new_code_cell(SAME, id="proof-helpers")]
    return notebook


def write_proofs(paths) -> list[Path]:
    """Write ``.proof_NAME.ipynb`` beside each notebook that has exercises; returns their paths."""
    import nbformat

    written = []
    for path in map(Path, paths):
        notebook = proof_notebook(path)
        if not any(cell.get("id", "").startswith("proof-") for cell in notebook.cells):
            written.append(path)  # no exercises (00): the notebook itself
            continue
        target = path.with_name(PREFIX + path.name)
        nbformat.write(notebook, target)
        written.append(target)
    return written


if __name__ == "__main__":
    print("\n".join(str(path) for path in write_proofs(sys.argv[1:])))
