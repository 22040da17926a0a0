"""Build the course notebooks from their sources in notebooks/src/ and run them.

Run:  python scripts/build_notebooks.py [names...]     (offline; about a minute per notebook)

Each ``notebooks/src/NN_name.py`` is a plain Python file in "percent" format: ``# %%`` starts a
code cell, ``# %% [markdown]`` a markdown cell whose lines are written as ``# text``. The
script writes ``notebooks/NN_name.ipynb`` with outputs stored (so they show on GitHub), run
offline in the notebooks folder exactly as ``pytest --nbval-lax`` will run them.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "notebooks" / "src"


def parse_cells(text: str):
    """Percent-format text -> list of (kind, source)."""
    cells, kind, lines = [], None, []
    for line in text.splitlines():
        marker = re.match(r"^# %%( \[markdown\])?\s*$", line)
        if marker:
            if kind is not None:
                cells.append((kind, lines))
            kind, lines = ("markdown" if marker.group(1) else "code"), []
            continue
        if kind == "markdown":
            line = line[2:] if line.startswith("# ") else line.lstrip("#")
        lines.append(line)
    if kind is not None:
        cells.append((kind, lines))
    return [(kind, "\n".join(lines).strip("\n")) for kind, lines in cells]


def is_progress_bar(output) -> bool:
    text = "".join(output.get("data", {}).get("text/plain", "")) + "".join(output.get("text", ""))
    return "%|" in text or ("it/s]" in text)


def build(source: Path, execute: bool = True) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"}}
    for kind, text in parse_cells(source.read_text()):
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        notebook.cells.append(make(text))
    for number, cell in enumerate(notebook.cells):
        cell["id"] = f"{source.stem[:2]}-{number:02d}"  # stable ids keep diffs small
    target = ROOT / "notebooks" / f"{source.stem}.ipynb"
    if execute:
        started = time.time()
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(target.parent)}}).execute()
        print(f"{target.name}: ran in {time.time() - started:.0f} s")
        for cell in notebook.cells:  # progress bars are noise in stored outputs
            if cell.cell_type == "code":
                cell.outputs = [output for output in cell.outputs if not is_progress_bar(output)]
    nbformat.validate(notebook)
    nbformat.write(notebook, target)
    return target


def main(names):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("IMGSIM_MODE", "offline")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    sources = sorted(SOURCES.glob("*.py"))
    for source in sources:
        if not names or any(name in source.stem for name in names):
            build(source)


if __name__ == "__main__":
    main(sys.argv[1:])
