"""Build the course notebooks from their sources in notebooks/src/ and run them.

Run:  python scripts/build_notebooks.py [names...]               (offline; up to a minute each)
      python scripts/build_notebooks.py --links-only [names...]  (no kernel: keeps stored outputs)

Each ``notebooks/src/NN_name.py`` is a plain Python file in jupytext's "percent" format: ``# %%``
starts a code cell, ``# %% [markdown]`` a markdown cell whose lines are written as ``# text``,
and cell metadata written after the marker (``# %% tags=["solution"]``) reaches the notebook.
The script writes ``notebooks/NN_name.ipynb`` with outputs stored (so they show on GitHub), run
offline in the notebooks folder exactly as ``pytest --nbval-lax`` will run them.

Navigation is generated here and nowhere else: every notebook starts with Colab, Binder and
nbviewer badges and ends with previous / contents / next links, built from the repository
address in ``pyproject.toml`` (``[tool.imgsim]``) and the list of sources. A badge line that a
source still carries by hand is dropped. ``--links-only`` refreshes navigation and cell text
without running anything (after ``scripts/retarget.py``, or when a notebook is added).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "notebooks" / "src"
NOTEBOOKS = ROOT / "notebooks"
# Metadata jupytext uses to round-trip a .py file's layout; it means nothing in a notebook.
LAYOUT_KEYS = {"lines_to_next_cell", "lines_to_end_of_cell_marker", "cell_marker", "region_name", "title"}
BADGE_LINE = re.compile(r"^\s*\[!\[(Open In Colab|Binder|nbviewer|Launch Binder)[^\]]*\]\([^)]*\)\]\([^)]*\)\s*$")
KERNEL_METADATA = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}


def repository_setting(pyproject: Path = ROOT / "pyproject.toml") -> dict:
    """``{"repository": "OWNER/NAME", "branch": ...}`` from ``[tool.imgsim]`` in pyproject.toml.

    The one place the course's GitHub address is written; ``scripts/retarget.py`` changes it.
    """
    text = pyproject.read_text()
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: read the two keys by hand
        section = text.split("[tool.imgsim]", 1)[-1].split("\n[", 1)[0]
        found = dict(re.findall(r'^(\w+)\s*=\s*"([^"]*)"', section, flags=re.M))
    else:
        found = tomllib.loads(text).get("tool", {}).get("imgsim", {})
    if "/" not in found.get("repository", ""):
        raise ValueError(f"{pyproject} needs [tool.imgsim] repository = \"OWNER/NAME\", found {found!r}; "
                         "set it with: python scripts/retarget.py OWNER/NAME")
    return {"repository": found["repository"], "branch": found.get("branch", "main")}


def course_stems() -> list[str]:
    """The notebooks of the course, in order: one per source file."""
    return sorted(path.stem for path in SOURCES.glob("[0-9][0-9]_*.py"))


def title_of(stem: str) -> str:
    """The first heading of a source, e.g. ``"03 · Random projection"``, for navigation links."""
    for line in (SOURCES / f"{stem}.py").read_text().splitlines():
        match = re.match(r"^# #\s+(.+)$", line)
        if match:
            return match.group(1).split(":")[0].strip()
    return stem


def drop_badge_lines(text: str) -> str:
    """Remove hand-written launch badges (navigation is generated) and the blank lines they leave."""
    lines = [line for line in text.splitlines() if not BADGE_LINE.match(line)]
    kept = [line for i, line in enumerate(lines) if line.strip() or (i and lines[i - 1].strip())]
    return "\n".join(kept).strip("\n")


def source_cells(source: Path) -> list:
    """The cells of a percent-format source, read by jupytext, badge lines dropped.

    >>> cells = source_cells(SOURCES / "00_start_here.py"); cells[0].cell_type
    'markdown'
    """
    cells = jupytext.read(source, fmt="py:percent").cells
    for cell in cells:
        for key in LAYOUT_KEYS & set(cell.metadata):
            del cell.metadata[key]
        if cell.cell_type == "markdown":
            cell.source = drop_badge_lines(cell.source)
    return [cell for cell in cells if cell.source.strip() or cell.cell_type == "code"]


def launch_links(stem: str, repository: str, branch: str) -> dict:
    """Where a notebook opens on Colab, Binder and nbviewer."""
    path = f"notebooks/{stem}.ipynb"
    return {"colab": f"https://colab.research.google.com/github/{repository}/blob/{branch}/{path}",
            "binder": f"https://mybinder.org/v2/gh/{repository}/{branch}?urlpath=lab/tree/{path}",
            "nbviewer": f"https://nbviewer.org/github/{repository}/blob/{branch}/{path}"}


def navigation(stem: str, stems: list[str], repository: str, branch: str) -> tuple[str, str]:
    """(header, footer) markdown: launch badges, and previous / contents / next links."""
    links = launch_links(stem, repository, branch)
    header = " ".join([
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({links['colab']})",
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({links['binder']})",
        f"[![nbviewer](https://img.shields.io/badge/render-nbviewer-orange.svg)]({links['nbviewer']})"])
    at = stems.index(stem)
    parts = []
    if at > 0:
        parts.append(f"[← {title_of(stems[at - 1])}]({stems[at - 1]}.ipynb)")
    parts.append("[Contents](00_start_here.ipynb)" if stem != stems[0] else "[Contents](../README.md)")
    if at + 1 < len(stems):
        parts.append(f"[{title_of(stems[at + 1])} →]({stems[at + 1]}.ipynb)")
    footer = ("---\n\n**Done with this notebook?** Shut its kernel down before you open the next one "
              "(*Kernel → Shut Down Kernel*; on Colab, *Runtime → Disconnect and delete runtime*): "
              "on Binder two running notebooks can pass the memory limit they share.\n\n" + " · ".join(parts))
    return header, footer


def notebook_from_source(source: Path, stems: list[str] | None = None, setting: dict | None = None):
    """The notebook of one source, without outputs: badges, the source's cells, navigation.

    Cell ids are stable (``NN-00``, ``NN-01``... for the source's cells, ``NN-launch`` and
    ``NN-next`` for the generated ones) so that rebuilding a notebook keeps its diff small.
    """
    stems = stems or course_stems()
    setting = setting or repository_setting()
    number = source.stem[:2]
    header, footer = navigation(source.stem, stems, setting["repository"], setting["branch"])
    notebook = nbformat.v4.new_notebook(metadata=dict(KERNEL_METADATA))
    notebook.cells.append(nbformat.v4.new_markdown_cell(header, id=f"{number}-launch"))
    for index, cell in enumerate(source_cells(source)):
        make = nbformat.v4.new_markdown_cell if cell.cell_type == "markdown" else nbformat.v4.new_code_cell
        notebook.cells.append(make(cell.source, metadata=dict(cell.metadata), id=f"{number}-{index:02d}"))
    notebook.cells.append(nbformat.v4.new_markdown_cell(footer, id=f"{number}-next"))
    return notebook


def is_progress_bar(output) -> bool:
    text = "".join(output.get("data", {}).get("text/plain", "")) + "".join(output.get("text", ""))
    return "%|" in text or ("it/s]" in text)


def keep_stored_outputs(notebook, target: Path) -> list[str]:
    """Copy outputs of ``target``'s code cells (matched by id) into ``notebook``; ids of changed cells."""
    if not target.exists():
        raise ValueError(f"{target.name} has no stored outputs to keep; build it without --links-only")
    stored = nbformat.read(target, as_version=4)
    by_id = {cell.get("id"): cell for cell in stored.cells if cell.cell_type == "code"}
    changed = []
    for cell in notebook.cells:
        old = by_id.get(cell.get("id"))
        if cell.cell_type != "code" or old is None:
            continue
        cell.outputs, cell.execution_count = old.outputs, old.execution_count
        if "execution" in old.metadata:
            cell.metadata["execution"] = old.metadata["execution"]
        if old.source != cell.source:
            changed.append(cell["id"])
    notebook.metadata = stored.metadata
    return changed


def build(source: Path, execute: bool = True) -> Path:
    """Write ``notebooks/<source>.ipynb``: run it (``execute``) or keep its stored outputs."""
    from nbclient import NotebookClient

    notebook = notebook_from_source(source)
    target, run_s = NOTEBOOKS / f"{source.stem}.ipynb", None
    if execute:
        started = time.time()
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(target.parent)}}).execute()
        run_s = time.time() - started
        print(f"{target.name}: ran in {run_s:.0f} s")
        for cell in notebook.cells:  # progress bars are noise in stored outputs
            if cell.cell_type == "code":
                cell.outputs = [output for output in cell.outputs if not is_progress_bar(output)]
    else:
        changed = keep_stored_outputs(notebook, target)
        note = f" (code changed in {', '.join(changed)}: run without --links-only to refresh)" if changed else ""
        print(f"{target.name}: navigation and text refreshed, outputs kept{note}")
    nbformat.validate(notebook)
    nbformat.write(notebook, target)
    if target.parent == ROOT / "notebooks":  # the course's own notebooks, not a test's
        record_times(source.stem, notebook, run_s)
    return target


MEASURED_MAP = ROOT / "imgsim_tutorial" / "assets" / "measured" / "course_map.json"


def record_times(stem: str, notebook, run_s: float | None, path: Path = MEASURED_MAP) -> None:
    """Store a notebook's study time and, when it ran, its run time: notebook 00's course map reads them."""
    from imgsim_tutorial.teaching.course_map import STUDY_PACE, study_time

    stored = json.loads(path.read_text()) if path.exists() else {"notebooks": {}}
    stored["measured"] = {"run": f"offline, whole notebook, on {os.cpu_count()} cores, cache warm (the leaves "
                                 "drawn, 01's embeddings cached), by scripts/build_notebooks.py",
                          "study": STUDY_PACE}
    stems = set(course_stems())  # a notebook that was renamed or split leaves the map
    stored["notebooks"] = {name: times for name, times in stored["notebooks"].items() if name in stems}
    entry = stored["notebooks"].setdefault(stem, {})
    entry["study"] = study_time(notebook)
    if run_s is not None:
        entry.update(run_s=round(run_s, 1), ran_on=time.strftime("%Y-%m-%d"))
    path.write_text(json.dumps(stored, indent=1, ensure_ascii=False) + "\n")


def main(arguments):
    execute = not ({"--links-only", "--no-execute"} & set(arguments))
    names = [name for name in arguments if not name.startswith("--")]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("IMGSIM_MODE", "offline")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    chosen = [stem for stem in course_stems() if not names or any(name in stem for name in names)]
    # 00 prints the course map from the run times the others store: it runs after them.
    for stem in sorted(chosen, key=lambda stem: stem.startswith("00")):
        build(SOURCES / f"{stem}.py", execute=execute)


if __name__ == "__main__":
    main(sys.argv[1:])
