"""The course map of notebook 00: what each notebook teaches, how long it takes to study and to run.

Both times are measured, not guessed. ``scripts/build_notebooks.py`` runs every notebook and writes
``assets/measured/course_map.json``: the seconds its run took and its study time by one fixed pace,
:data:`STUDY_PACE` (prose read at 150 words a minute, 6 s per line of lesson code, 4 minutes per
exercise). :func:`course_map` turns that file into the table notebook 00 shows.
"""

from __future__ import annotations

import json
import re
from importlib import resources

STUDY_PACE = {"words_per_minute": 150, "seconds_per_code_line": 6, "minutes_per_exercise": 4}
STUDY_BUDGET_MINUTES = 45  # one sitting
RUN_BUDGET_S = 90  # every notebook, top to bottom, on a 2-core CPU

# What each notebook teaches, and the package modules behind it (in course order).
SYLLABUS = {
    "00_start_here": ("the pipeline, the two modes, the data", "data/beans.py, data/leaves.py, mode"),
    "01_embeddings": ("what an embedding is; `datasets.map`; which encoder for your photos", "embeddings.py"),
    "02_cosine_search": ("cosine similarity, exact top-k, precision@k and AP@k, when \"no match\"",
                         "cosine_search.py, evaluation.py"),
    "03_random_projection": ("hyperplanes, sign bits, collision probability: theory vs measurement",
                             "random_projection.py"),
    "04_hash_tables": ("LSH built by hand, then `LSHIndex`; the tutorial's two bugs; the S-curve; choosing settings",
                       "hash_tables.py, tuning.py"),
    "05_lsh_in_practice": ("when LSH beats exact search; counting collisions; recall-vs-speed curves; storing, "
                           "updating and saving an index", "hash_tables.py, tuning.py"),
    "06_ivf": ("learned buckets: k-means cells by hand, `IVFIndex` checked against FAISS; where learning loses",
               "ivf.py"),
    "07_graphs": ("a walk on a proximity graph, long links, the beam; HNSW's layers and knobs", "graph.py"),
    "08_pq_and_choosing": ("product quantisation by hand, IVF-PQ, every method side by side; choosing an index",
                           "pq.py, faiss_factory.py, choose.py"),
    "09_faiss": ("FAISS indexes, search inside a 🤗 dataset, recall-vs-speed curves", "faiss_index.py"),
    "10_filtered_search": ("only the healthy leaves: filters inside every index, post-filtering's collapse, a "
                           "planner; deletes and updates", "filtering.py, index_base.py"),
    "11_search_app": ("a small search app built from the course's parts", "widgets/app.py"),
    "12_at_scale": ("near-duplicates, the same LSH on Apache Spark, a billion images on paper",
                    "neardup.py, spark.py"),
}


def _text(cell) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def study_time(notebook) -> dict:
    """Minutes to study a notebook (a dict read from its JSON, or nbformat's) at :data:`STUDY_PACE`.

    Prose is every markdown cell but the exercise statements; lesson code is every non-blank line
    of the code cells not tagged ``exercise``; each exercise cell counts its fixed minutes.

    >>> cell = lambda kind, text, tags=(): {"cell_type": kind, "source": text, "metadata": {"tags": list(tags)}}
    >>> study_time({"cells": [cell("markdown", "word " * 300), cell("code", "a = 1\\n\\nb = 2"),
    ...                       cell("code", "answer = None", ["exercise"])]})["minutes"]
    6.2
    """
    words = code_lines = exercises = 0
    for cell in notebook["cells"]:
        text, tags = _text(cell), cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "markdown" and not re.match(r"\s*\*\*Exercise \d", text):
            words += len(re.findall(r"\w+", text))
        elif cell["cell_type"] == "code" and "exercise" in tags:
            exercises += 1
        elif cell["cell_type"] == "code":
            code_lines += sum(1 for line in text.splitlines() if line.strip())
    minutes = (words / STUDY_PACE["words_per_minute"] + code_lines * STUDY_PACE["seconds_per_code_line"] / 60
               + exercises * STUDY_PACE["minutes_per_exercise"])
    return {"minutes": round(minutes, 1), "words": words, "code_lines": code_lines, "exercises": exercises}


def measured_map() -> dict:
    """The stored measurements, ``{"measured": ..., "notebooks": {stem: {...}}}``, as the build wrote them."""
    path = resources.files("imgsim_tutorial") / "assets" / "measured" / "course_map.json"
    return json.loads(path.read_text())


def course_map(measured: dict | None = None) -> str:
    """The course map as a Markdown table, every time read from the measured file."""
    measured = measured_map() if measured is None else measured
    rows = ["| notebook | you learn | package | study | run |", "|---|---|---|---|---|"]
    for stem, (learn, modules) in SYLLABUS.items():
        times = measured["notebooks"].get(stem)
        if times is None or "run_s" not in times:  # a notebook not built yet
            rows.append(f"| `{stem}` | {learn} | {modules} | not measured yet | not measured yet |")
            continue
        study = times["study"]
        sittings = " (two sittings)" if study["minutes"] > STUDY_BUDGET_MINUTES else ""
        rows.append(f"| `{stem}` | {learn} | {modules} | {study['minutes']:.0f} min{sittings}, "
                    f"{study['exercises']} exercises | {times['run_s']:.0f} s |")
    return "\n".join(rows)
