"""The package's shape: no import cycle, imports that run one way, a listing that reads like the
syllabus. Read from the source (every ``import``, also inside functions), not by importing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "imgsim_tutorial"
FOLDERS = {"data", "teaching", "widgets", "_support"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Package modules that ``path`` imports, resolved to full names (``from . import x`` included)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("imgsim_tutorial")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("imgsim_tutorial"):
                target = node.module
            else:
                continue
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}  # `from . import cache`
    return {module for module in found if module in MODULES}


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}
GRAPH = {name: imported_modules(path) - {name} for name, path in MODULES.items()}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FOLDERS else "lesson" if len(parts) == 2 else "package"


def test_no_import_cycle():
    """Depth-first search for a back edge; the package's __init__ (lazy names) is left out."""
    graph = {name: {target for target in targets if target != "imgsim_tutorial"} for name, targets in GRAPH.items()}
    state, cycles = {}, []

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("low, high", [("_support", "lesson"), ("_support", "widgets"), ("_support", "teaching"),
                                       ("lesson", "widgets"), ("data", "widgets"), ("data", "teaching")])
def test_imports_run_one_way(low, high):
    wrong = {name: sorted(target for target in targets if layer(target) == high)
             for name, targets in GRAPH.items() if layer(name) == low}
    wrong = {name: targets for name, targets in wrong.items() if targets}
    assert not wrong, f"{low} modules must not import {high} modules: {wrong}"


def test_the_top_level_lists_at_most_24_entries():
    entries = sorted(path.name for path in PACKAGE.iterdir() if path.name != "__pycache__")
    assert len(entries) <= 24, f"{len(entries)} entries at the top of imgsim_tutorial/: {entries}"
    assert FOLDERS <= set(entries) and "assets" in entries


def test_every_public_name_resolves():
    import imgsim_tutorial as t

    missing = [name for name in t.__all__ if getattr(t, name, None) is None]
    assert not missing, missing


def index_classes():
    """Every index class of the package (its modules imported; Spark's needs no session to build)."""
    import importlib

    import imgsim_tutorial as t
    from imgsim_tutorial.index_base import IndexBase

    for module in set(t._LAZY.values()):
        importlib.import_module(f"imgsim_tutorial.{module}")
    found, stack = [], [IndexBase]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if sub.__module__.startswith("imgsim_tutorial") and not sub.__name__.endswith("Base"):
                found.append(sub)
    return found


def test_one_vocabulary_for_every_index():
    """n_probes counts what a query visits, its own bucket/cell included (>= 1, as FAISS's nprobe);
    n_rerank counts candidates re-ranked with full vectors; no other names for the same things."""
    import inspect

    classes = index_classes()
    assert len(classes) >= 10, [cls.__name__ for cls in classes]
    for cls in classes:
        settings = inspect.signature(cls.__init__).parameters
        old = {"rerank", "shortlist", "nprobe", "n_probe"} & set(settings)
        assert not old, f"{cls.__name__} takes {old}: use n_rerank / n_probes"
        if "n_probes" in settings:
            with pytest.raises(ValueError, match="n_probes"):
                cls(n_probes=0)


def test_no_function_over_60_lines():
    """A function a reader cannot see whole on one screen is split by what it does."""
    root = Path(__file__).resolve().parents[1]
    long = []
    for path in [*root.glob("imgsim_tutorial/**/*.py"), *root.glob("benchmarks/*.py"), *root.glob("scripts/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})")
    assert not long, f"functions over 60 lines: {long}"
