"""Numbers in a notebook's prose must come from the notebook: from its code or from an output.

A sentence that quotes a measurement ("median 0.987", "13 s", "60 MB") is true only in the run it was
copied from: in hub mode, on another machine or after a change of data it silently goes stale. So every
number written with a decimal point or a unit in a markdown cell must also appear, as a whole number
token, in the code of the same notebook (a constant, a parameter) or in one of its outputs (printed
by the run being read). ``tests/test_notebooks.py`` checks the stored (offline) notebooks; the hub
rehearsal checks each notebook as it ran in hub mode.

Left out: exercise statements (``**Exercise N``: their numbers are the task's parameters, which the
learner's code will hold), inline code and links, and dotted IP addresses.
"""

from __future__ import annotations

import re

UNIT = (r"(?:ms|µs|us|s|min|minutes?|seconds?|hours?|[kKMGT]i?B|B|%|x|×|images?/s|bits?|bytes?|"
        r"MB/s|GB/s|dimensions?|-d)")
NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s?(" + UNIT + r")(?!\w)(?!\s*\d)"  # a number with a unit
                    r"|(?<![\w.])(\d+\.\d+)(?![\w.])")  # or with a decimal point
SKIPPED = re.compile(r"`[^`]*`|\]\([^)]*\)|https?://\S+|\b\d+\.\d+\.\d+\.\d+\b")  # code, links, IPs
EXERCISE = re.compile(r"^\s*\*\*Exercise \d")


def notebook_texts(notebook) -> tuple[list[str], str, str]:
    """``(markdown cells, code, outputs)`` of a notebook (a dict as read from JSON, or nbformat's)."""
    prose, code, outputs = [], [], []
    for cell in notebook["cells"]:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            prose.append(source)
            continue
        if cell["cell_type"] != "code":
            continue
        code.append(source)
        for output in cell.get("outputs", []):
            if "text" in output:
                outputs.append(output["text"] if isinstance(output["text"], str) else "".join(output["text"]))
            for kind, value in output.get("data", {}).items():
                if kind.startswith("text/"):
                    outputs.append(value if isinstance(value, str) else "".join(value))
    return prose, "\n".join(code), "\n".join(outputs)


def _found(number: str, unit: str | None, code: str, outputs: str) -> bool:
    """A decimal: the same digits as a token in the code or an output. A whole number with a unit
    ("27 s"): with a unit after it (rounding allowed: "27.3 s") in the code or an output, or alone as
    a token in the code (a parameter set there); a bare 27 somewhere in an output proves nothing."""
    spellings = {number, number.replace(",", "")}
    if unit is None or "." in number:
        return any(re.search(rf"(?<![\d.]){re.escape(spelling)}(?!\d)", text)
                   for spelling in spellings for text in (code, outputs))
    with_unit = [rf"(?<![\d.]){re.escape(spelling)}(?:\.\d+)?\s?{re.escape(unit)}(?!\w)" for spelling in spellings]
    return (any(re.search(pattern, text) for pattern in with_unit for text in (code, outputs))
            or any(re.search(rf"(?<![\w.]){re.escape(spelling)}(?![\w.])", code) for spelling in spellings))


def unsourced_numbers(notebook) -> list[str]:
    """Each prose number found nowhere in the notebook's code or outputs, with its context."""
    prose, code, outputs = notebook_texts(notebook)
    missing = []
    for text in prose:
        if EXERCISE.match(text):
            continue
        text = SKIPPED.sub(" ", text)
        for found in NUMBER.finditer(text):
            number, unit = (found.group(1), found.group(2)) if found.group(1) else (found.group(3), None)
            if not _found(number, unit, code, outputs):
                context = text[max(0, found.start() - 60):found.end() + 20].replace("\n", " ")
                missing.append(f"{found.group(0)!r} in '...{context}...'")
    return missing
