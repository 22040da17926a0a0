"""Hub-mode rehearsal: every notebook runs in hub mode against a local stand-in of the Hub.

Colab and Binder run the notebooks in hub mode (the real beans photos, the real checkpoint);
CI cannot reach the Hub. So ``tests/hub_standin.py`` builds what the Hub would serve, in the
Hub's own layouts, and each notebook executes top to bottom in a fresh kernel with:

    IMGSIM_MODE=hub  HF_HUB_OFFLINE=1   hub mode, served from the local Hugging Face cache
    HF_HUB_CACHE=<stand-in>            nateraw/vit-base-beans in the real cache layout
    IMGSIM_BEANS_DATASET=<stand-in>    beans as parquet shards, JPEG bytes, class-grouped rows
    HF_ENDPOINT=127.0.0.1:<closed>     a request that slipped through would fail at once
    IMGSIM_CACHE=<one per notebook>    nothing from notebook 01 (below: the course's vectors)

Two passes, two stand-ins:

- **correctness**: the checkpoint is the shipped small encoder trained on leaves, so every assert
  of every notebook must hold;
- **memory**: the checkpoint is a ViT-base-sized encoder (nateraw/vit-base-beans's architecture,
  86 M random parameters), so the memory is the real one, measured, not estimated. Each kernel's
  peak resident memory (VmHWM, cell by cell) must stay under 1 GB, Binder's budget per notebook
  (2 GB for two open notebooks), and so must each embedding worker the kernel starts
  (``imgsim_tutorial/_support/worker.py``). Asserts that need a trained encoder fail with random weights:
  they are recorded and the notebook runs on.

Each notebook has a cache of its own. In each pass the course (``load_course``: the photos notebooks
02-12 search, and their embeddings) is embedded once from an empty cache on its own, by the worker
a notebook would start, and measured; the notebooks that call ``load_course`` start from a copy of that cache.
Embedding the course in each of them (200 photos at 1-3 per second with ViT-base on 2 cores) was most of
the rehearsal's time and measured the same worker again and again; a kernel that reads the vectors from
the cache holds what it holds after receiving them from the worker. See ``prepare_cache``.

A notebook that never holds an encoder (03-10 today) has its memory checked in the correctness pass,
with an allowance for ViT-base's wider vectors, and the memory pass skips it (``holds_no_encoder``).

An earlier version estimated ViT-base from the small encoder's peak plus ViT-base's weights: it
said 1021 MB for notebook 01, where the ViT-base-sized run measured 1190-1320 MB (a random
encoder freed but kept by malloc is invisible at 5 MB).

Run: ``make test-hub`` (part of ``make test``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import exercise_proof  # noqa: E402
import hub_standin  # noqa: E402
from prose_numbers import unsourced_numbers  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BUDGET_MB = int(os.environ.get("IMGSIM_REHEARSAL_BUDGET_MB", 1024))  # Binder: 2 GB for two open notebooks
RESULTS = {"correctness": {}, "memory": {}}  # pass -> notebook -> measurements, reported at the end

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(),
                                reason="peak memory is read from /proc (Linux)")


def build_standin(tmp_path_factory, encoder: str, variable: str, beans: Path | None = None) -> dict:
    folder = os.environ.get(variable)  # reuse a built stand-in between runs
    root = Path(folder) if folder else tmp_path_factory.mktemp(f"hub-standin-{encoder}")
    return hub_standin.build_standin(root, encoder=encoder, beans=beans)


@pytest.fixture(scope="session")
def standin(tmp_path_factory):
    """The small trained encoder: every assert must hold."""
    return build_standin(tmp_path_factory, "small", "IMGSIM_STANDIN_DIR")


@pytest.fixture(scope="session")
def vit_base_standin(standin, tmp_path_factory):
    """A ViT-base-sized random encoder: the real memory. The same beans files as ``standin``.

    Its datasets cache is prepared (parquet to Arrow) here, in a process of its own, as notebook 00
    prepares it for a learner: 00 holds no encoder, so the memory pass skips it, and 00's preparing
    is measured in the correctness pass on the same beans files. Without this, 01 would prepare the
    dataset on top of ViT-base in its kernel, which no learner who starts at 00 meets."""
    built = build_standin(tmp_path_factory, "vit-base", "IMGSIM_STANDIN_VIT_DIR",
                          beans=Path(standin["IMGSIM_BEANS_DATASET"]))
    done = subprocess.run([sys.executable, "-c", "import imgsim_tutorial as t; t.load_beans()"], capture_output=True,
                          text=True, timeout=600, env={**os.environ, **built, "IMGSIM_CACHE": tempfile.mkdtemp()})
    assert done.returncode == 0, f"preparing the stand-in's beans failed:\n{done.stderr[-2000:]}"
    return built


def peak_rss_mb(pid: int) -> float:
    """The high-water mark of a process's resident memory, in MB (Linux ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


class TreeSampler(threading.Thread):
    """Samples the total RSS of a process and its children (e.g. Spark's JVM) every 0.2 s."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_mb, self.done = pid, 0.0, threading.Event()

    def run(self):
        import psutil

        root = psutil.Process(self.pid)
        while not self.done.wait(0.2):
            try:
                processes = [root, *root.children(recursive=True)]
                total = sum(p.memory_info().rss for p in processes if p.is_running())
            except psutil.Error:
                continue
            self.peak_mb = max(self.peak_mb, total / 2**20)


def notebook_for_rehearsal(path: Path, proofs: bool = False):
    """The stored notebook, outputs cleared, with nbval's markers honoured (skip, raises).

    ``proofs``: with the cells that run each exercise blank, solved and wrong (``exercise_proof.py``)."""
    import nbformat

    notebook = exercise_proof.proof_notebook(path) if proofs else nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if "NBVAL_SKIP" in cell.source:
            cell.source = "# skipped, as nbval does (NBVAL_SKIP)"
        if "NBVAL_RAISES_EXCEPTION" in cell.source:
            cell.metadata.setdefault("tags", []).append("raises-exception")
    return notebook


def reset_peak(pid: int) -> None:
    """Start ``VmHWM`` over from the current resident memory (Linux: ``clear_refs`` 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def run_notebook(path: Path, env: dict, random_encoder: bool = False, extra: str | None = None,
                 timeout: int = 900, proofs: bool = False, keep: Path | None = None) -> dict:
    """Execute one notebook in a fresh kernel with ``env``: time, first error, and for every cell the
    kernel's own peak memory and the highest peak of the embedding workers started so far.

    ``random_encoder``: asserts that fail (they need a trained encoder) are recorded, not raised.
    ``extra``: code run as one more cell at the end (what a learner does next, e.g. an upload).
    ``keep``: where to write the lesson's cells as they ran (no proofs), for a reader to check."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = notebook_for_rehearsal(path, proofs)
    if extra:
        notebook.cells.append(nbformat.v4.new_code_cell(extra, id="learner-next"))
    cells_to_run = list(notebook.cells)
    notebook.cells.append(nbformat.v4.new_code_cell(PROBE))  # the slot where each cell's probe runs
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    started, error, cells, failed_asserts = time.monotonic(), None, [], []
    with client.setup_kernel(env={**os.environ, **env}):
        pid = client.km.provisioner.pid
        sampler = TreeSampler(pid)
        sampler.start()
        try:
            for index, cell in enumerate(cells_to_run):
                if cell.cell_type != "code":
                    continue
                reset_peak(pid)
                cell_started = time.monotonic()
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as failure:
                    if not random_encoder or failure.ename != "AssertionError":
                        raise
                    failed_asserts.append(cell.get("id", index))
                cell_seconds = time.monotonic() - cell_started
                peak = peak_rss_mb(pid)
                probe = nbformat.v4.new_code_cell(PROBE)
                client.execute_cell(probe, len(notebook.cells) - 1)
                printed = "".join(output.get("text", "") for output in probe.outputs)
                workers = json.loads(re.search(r"REHEARSAL_PROBE (\{.*?\})", printed).group(1))
                first_line = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
                cells.append({"id": cell.get("id", index), "cell": f"cell {cell.get('id', index)}: {first_line}",
                              "peak_mb": round(peak), "seconds": round(cell_seconds, 1),
                              "workers_mb": round(workers["workers_mb"]), "n_workers": workers["n_workers"],
                              "encoder_libraries": workers["encoder_libraries"]})
        except CellExecutionError as failure:
            error = re.sub(r"\x1b\[[0-9;]*m", "", str(failure))[-3000:]  # no terminal colours
        seconds = time.monotonic() - started
        sampler.done.set()
    highest = sorted(cells, key=lambda cell: cell["peak_mb"], reverse=True)[:3]
    lesson = {"cells": [cell for cell in cells_to_run if not str(cell.get("id", "")).startswith("proof-")]}
    if keep is not None:
        keep.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.from_dict({**notebook, "cells": lesson["cells"]}), keep)
    return {"unsourced_numbers": unsourced_numbers(lesson), "seconds": round(seconds, 1),
            "kernel_peak_mb": max((cell["peak_mb"] for cell in cells), default=0),
            "worker_peak_mb": max((cell["workers_mb"] for cell in cells), default=0),
            "tree_peak_mb": round(sampler.peak_mb), "error": error,
            **({"failed_asserts": failed_asserts} if failed_asserts else {}),
            "highest_cells": {cell["cell"]: cell["peak_mb"] for cell in highest}, "cells": cells}


# Run in the kernel after each cell: how many embedding workers it has started so far, and their highest peak.
WORKER_MODULE = "imgsim_tutorial._support.worker"
PROBE = ("import json as _json, sys as _sys\n"
         f"_peaks = getattr(_sys.modules.get({WORKER_MODULE!r}), 'peaks_mb', [])\n"
         "print('REHEARSAL_PROBE', _json.dumps({'workers_mb': max(_peaks, default=0), 'n_workers': len(_peaks), "
         "'encoder_libraries': 'transformers' in _sys.modules}))")


def test_standin_has_the_hub_layouts(standin):
    from datasets import load_dataset

    hub = Path(standin["HF_HUB_CACHE"]) / "models--nateraw--vit-base-beans"
    commit = (hub / "refs" / "main").read_text()
    assert (hub / "snapshots" / commit / "model.safetensors").resolve().parent == hub / "blobs"
    config = json.loads((hub / "snapshots" / commit / "config.json").read_text())
    assert config["architectures"] == ["ViTForImageClassification"]
    assert config["id2label"] == {"0": "angular_leaf_spot", "1": "bean_rust", "2": "healthy"}
    beans = load_dataset(standin["IMGSIM_BEANS_DATASET"], cache_dir=standin["HF_DATASETS_CACHE"])
    assert {split: beans[split].num_rows for split in beans} == {"train": 1034, "validation": 133, "test": 128}
    labels = beans["train"]["labels"]
    assert labels == sorted(labels), "grouped by class, like the real splits"
    image = beans["test"][0]["image"]
    assert image.size == (500, 500) and image.format == "JPEG"


def test_hub_mode_loads_the_standin_without_network(standin):
    code = ("import imgsim_tutorial as t; print(t.resolve_mode()); p, m = t.load_encoder(); "
            "print(type(m).__name__, m.config.hidden_size)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **standin, "IMGSIM_CACHE": tempfile.mkdtemp()})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "hub mode from the local Hugging Face cache" in done.stdout
    assert done.stdout.strip().splitlines()[-2:] == ["hub", "ViTModel 192"]


def summary(result: dict) -> str:
    return json.dumps({key: value for key, value in result.items() if key != "cells"})


# Where a notebook starts an embedding worker (imgsim_tutorial/course.py, _support/worker.py): in load_course,
# when the course is not in the cache yet, and in course.embed_images (02's non-leaves, 10's grey square, 11's
# copies). 00 and 05 never embed; 01 embeds in its own kernel, from its own empty cache. Each pass embeds the
# course once from an empty cache, on its own (course_cache, vit_base_course_cache), where the worker's peak is
# measured; every notebook that calls load_course starts from a copy of that cache: the same vectors, bit for
# bit, without a minute or two of embedding each. A kernel holds the same vectors whether its worker computed
# them or the cache gave them (embedding them again inside 02 took 165-430 s with ViT-base for no new number).
# An empty cache inside a kernel is what nbval meets (offline: a fresh cache for all notebooks); until 2026-12-03
# the correctness pass also embedded the course inside 02 from nothing, 20-35 s for what those two runs prove.
# What a notebook's first load_course() does on an empty cache, in a process of its own; prints what its
# workers measured.
EMBED_COURSE = ("import json, sys\n"
                "import imgsim_tutorial as t\n"
                "course = t.load_course()\n"
                f"peaks = sys.modules[{WORKER_MODULE!r}].peaks_mb\n"
                "print('REHEARSAL_COURSE', json.dumps({'worker_peak_mb': max(peaks, default=0), "
                "'n_workers': len(peaks), 'shape': course.candidate_embeddings.shape}))")


def embed_course(standin: dict, folder: Path, datasets_cache: Path) -> dict:
    """Fill the course cache ``folder`` as ``load_course`` does; returns the time and the worker's peak.

    With a datasets cache of its own, so that the stand-in's beans are still prepared (parquet to Arrow)
    by the first notebook that loads them, in its kernel, where that memory is measured (00)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", EMBED_COURSE], capture_output=True, text=True, timeout=1800,
                          env={**os.environ, **standin, "IMGSIM_CACHE": str(folder),
                               "HF_DATASETS_CACHE": str(datasets_cache)})
    assert done.returncode == 0, f"load_course failed in hub mode:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    measured = json.loads(re.search(r"REHEARSAL_COURSE (\{.*\})", done.stdout).group(1))
    assert measured["n_workers"] == 1, f"load_course on an empty cache should start one worker: {measured}"
    return {"seconds": round(time.monotonic() - started, 1), **measured}


@pytest.fixture(scope="session")
def course_cache(standin, tmp_path_factory):
    """The course embedded once with the small trained encoder: ``(cache folder, measurements)``."""
    folder = tmp_path_factory.mktemp("course-cache")
    return folder, embed_course(standin, folder, tmp_path_factory.mktemp("course-datasets-cache"))


@pytest.fixture(scope="session")
def vit_base_course_cache(vit_base_standin, tmp_path_factory):
    """The course embedded once with the ViT-base-sized encoder: ``(cache folder, measurements)``."""
    folder = tmp_path_factory.mktemp("vit-base-course-cache")
    return folder, embed_course(vit_base_standin, folder, tmp_path_factory.mktemp("vit-base-course-datasets-cache"))


def load_course_cell(path: Path) -> str | None:
    """The id of the first code cell that calls ``load_course``, None if no cell does."""
    return next((cell.id for cell in notebook_for_rehearsal(path).cells
                 if cell.cell_type == "code" and "load_course(" in cell.source), None)


def prepare_cache(notebook: Path, cache: Path, request, course_fixture: str) -> str | None:
    """Give ``notebook`` its own course cache at ``cache``: a copy of the pass's embedded course if it calls
    ``load_course``, so that nothing one notebook writes reaches the next; else nothing (an empty cache).
    Returns the id of the cell whose ``load_course`` must then read the copy, or None."""
    course_cell = load_course_cell(notebook)
    if course_cell is None:
        return None
    # Requested here, not as an argument, so that running only 00, 01 or 05 never embeds the course.
    shutil.copytree(request.getfixturevalue(course_fixture)[0], cache)
    return course_cell


def check_course_was_read(notebook: Path, result: dict, course_cell: str | None) -> None:
    """A notebook given a copy of the course cache must not embed the course again (a worker in its
    ``load_course`` cell): that would measure nothing new and cost a minute or two."""
    if course_cell is None:
        return
    workers = next(cell["n_workers"] for cell in result["cells"] if cell["id"] == course_cell)
    assert workers == 0, (f"{notebook.name}'s load_course embedded the course again instead of reading the copied "
                          "cache: has the course's cache key changed (imgsim_tutorial/course.py)?")


# A notebook that never holds an encoder (03, 04, 06 read the course's vectors from the cache; 05 works on
# synthetic vectors) measures the same with either stand-in, but for the course's vectors: 768 numbers per
# image with ViT-base, 192 with the small encoder. Its memory is checked in the correctness pass, with
# VECTORS_ALLOWANCE_MB added for the wider vectors, and the memory pass skips it. Two guards keep that true:
# its code calls nothing that loads or runs an encoder (ENCODER_CALLS), and at its end the kernel has
# started no embedding worker and imported no transformers.
ENCODER_CALLS = re.compile(r"load_encoder|embed_images|embed_dataset|course\.embed\b|\.embed\(|from_pretrained|"
                           r"random_init|QueryGallery|SearchApp")
# 200 hub-mode images (course_sizes on a CPU) x 576 more float32 numbers, counted 16 times over (copies,
# normalised copies, indexes, score matrices): 7 MB.
VECTORS_ALLOWANCE_MB = 200 * (768 - 192) * 4 * 16 / 2**20


def holds_no_encoder(notebook: Path) -> bool:
    code = "\n".join(cell.source for cell in notebook_for_rehearsal(notebook).cells if cell.cell_type == "code")
    return ENCODER_CALLS.search(code) is None


def check_budget(notebook: Path, result: dict, encoder: str, allowance_mb: float = 0) -> None:
    """The kernel's peak over the lesson's cells (and a learner's next step), and every worker's, under budget.

    The exercise proofs (cells ``proof-*``, correctness pass) are left out: they run every exercise's
    solution and each listed wrong answer one after another in a kernel that already holds the whole
    lesson, which no learner does (06 measured 890 MB over its lesson, 1000 MB after its proofs)."""
    kernel_mb = max((cell["peak_mb"] for cell in result["cells"] if not str(cell["id"]).startswith("proof-")),
                    default=0)
    assert kernel_mb + allowance_mb < BUDGET_MB, (
        f"{notebook.name}'s kernel peaks at {kernel_mb} MB (+{allowance_mb:.0f}) with {encoder}, over "
        f"the {BUDGET_MB} MB budget per notebook (free models and decoded images you no longer need: "
        f"t.free_memory()); the highest cells (MB): {result['highest_cells']}")
    assert result["worker_peak_mb"] < BUDGET_MB, (
        f"{notebook.name}'s embedding worker peaks at {result['worker_peak_mb']} MB, over {BUDGET_MB} MB")


# A notebook whose code reads no mode, no course, no beans and no encoder (05: synthetic vectors only) runs
# the same in both modes: nbval runs it offline with its proofs, and its proof notebook checks the kernel's
# peak memory (tests/exercise_proof.py). Rerunning it here measured nothing new and cost 45-90 s.
MODE_CALLS = re.compile(r"load_course|load_beans|resolve_mode|course_sizes|IMGSIM_MODE|\bmode\b|HF_")


def same_in_both_modes(notebook: Path) -> bool:
    code = "\n".join(cell.source for cell in notebook_for_rehearsal(notebook).cells if cell.cell_type == "code")
    return MODE_CALLS.search(code) is None and ENCODER_CALLS.search(code) is None


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_hub_mode(notebook, standin, tmp_path, request):
    if same_in_both_modes(notebook):
        pytest.skip("reads no mode, course, beans or encoder: the same in both modes, run by nbval offline, "
                    "where its proof notebook checks its memory")
    cache = tmp_path / "imgsim-cache"
    course_cell = prepare_cache(notebook, cache, request, "course_cache")
    # Matplotlib's default backend in a kernel (inline) closes each cell's figures, as Jupyter does.
    # With the exercise proofs: every checker is proven on hub-mode data too (blank, solved, wrong).
    artifacts = os.environ.get("IMGSIM_ARTIFACTS")
    result = run_notebook(notebook, {**standin, "IMGSIM_CACHE": str(cache)}, proofs=True,
                          keep=Path(artifacts) / "hub_notebooks" / notebook.name if artifacts else None)
    RESULTS["correctness"][notebook.stem] = result
    print(f"\n{notebook.stem}: {summary(result)}")
    assert result["error"] is None, f"{notebook.name} failed in hub mode:\n{result['error']}"
    assert not result["unsourced_numbers"], (f"{notebook.name} in hub mode: numbers in the prose that no code or "
                                             "output of this run holds:\n  " + "\n  ".join(result["unsourced_numbers"]))
    check_course_was_read(notebook, result, course_cell)
    if holds_no_encoder(notebook):
        last = result["cells"][-1]
        assert last["n_workers"] == 0 and not last["encoder_libraries"], (
            f"{notebook.name} started an embedding worker or imported transformers, through no call that "
            "ENCODER_CALLS knows: add that call there, so that the memory pass measures it with ViT-base")
        check_budget(notebook, result, "the small encoder (it holds no encoder; wider vectors allowed for)",
                     allowance_mb=VECTORS_ALLOWANCE_MB)


# An upload to the gallery (02) or the app (11) embeds it in the kernel: the one time 02-12 load the
# encoder there. Measured as a last cell, with the uploaded photo's bytes decoded as the widget does.
UPLOAD = ("import io\n"
          "buffer = io.BytesIO(); course.query_images[0].save(buffer, format='JPEG')\n"
          "from imgsim_tutorial.data.images import open_image_bytes\n"
          "uploaded = course.embed(open_image_bytes(buffer.getvalue(), 'upload'))")
AFTER = {"02": UPLOAD, "11": UPLOAD}


def test_embedding_the_course_with_vit_base_stays_under_1_gb(vit_base_course_cache):
    _, measured = vit_base_course_cache
    RESULTS["memory"]["load_course on an empty cache"] = measured
    print(f"\nload_course with a ViT-base-sized encoder: {summary(measured)}")
    assert measured["worker_peak_mb"] < BUDGET_MB, (
        f"load_course's embedding worker peaks at {measured['worker_peak_mb']} MB, over {BUDGET_MB} MB")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_stays_under_1_gb_with_vit_base(notebook, vit_base_standin, tmp_path, request):
    if holds_no_encoder(notebook):
        pytest.skip("holds no encoder: its memory is checked in test_notebook_runs_in_hub_mode")
    cache = tmp_path / "imgsim-cache"
    course_cell = prepare_cache(notebook, cache, request, "vit_base_course_cache")
    result = run_notebook(notebook, {**vit_base_standin, "IMGSIM_CACHE": str(cache)},
                          random_encoder=True, extra=AFTER.get(notebook.stem[:2]))
    RESULTS["memory"][notebook.stem] = result
    print(f"\n{notebook.stem} with a ViT-base-sized encoder: {summary(result)}")
    assert result["error"] is None, f"{notebook.name} failed with a ViT-base-sized encoder:\n{result['error']}"
    check_course_was_read(notebook, result, course_cell)
    check_budget(notebook, result, "a ViT-base-sized encoder")


def test_report():
    """Prints every measurement; writes them to $IMGSIM_ARTIFACTS/hub_rehearsal.json when that is set."""
    for name, results in RESULTS.items():
        for notebook, result in results.items():
            print(f"\n  {name} {notebook}: {summary(result)}")
    if os.environ.get("IMGSIM_ARTIFACTS"):
        target = Path(os.environ["IMGSIM_ARTIFACTS"]) / "hub_rehearsal.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(RESULTS, indent=1))
