"""Hub-mode rehearsal: every notebook runs in hub mode against a local stand-in of the Hub.

Colab and Binder run the notebooks in hub mode (the real beans photos, the real checkpoint);
CI cannot reach the Hub. So ``tests/hub_standin.py`` builds what the Hub would serve, in the
Hub's own layouts, and each notebook executes top to bottom in a fresh kernel with:

    IMGSIM_MODE=hub  HF_HUB_OFFLINE=1   hub mode, served from the local Hugging Face cache
    HF_HUB_CACHE=<stand-in>            nateraw/vit-base-beans in the real cache layout
    IMGSIM_BEANS_DATASET=<stand-in>    beans as parquet shards, JPEG bytes, class-grouped rows
    HF_ENDPOINT=127.0.0.1:<closed>     a request that slipped through would fail at once
    IMGSIM_CACHE=<fresh per notebook>  like a fresh Colab runtime: no cache from notebook 01

Two passes, two stand-ins:

- **correctness**: the checkpoint is the shipped small encoder trained on leaves, so every assert
  of every notebook must hold;
- **memory**: the checkpoint is a ViT-base-sized encoder (nateraw/vit-base-beans's architecture,
  86 M random parameters), so the memory is the real one, measured, not estimated. Each kernel's
  peak resident memory (VmHWM, cell by cell) must stay under 1 GB, Binder's budget per notebook
  (2 GB for two open notebooks), and so must each embedding worker the kernel starts
  (``imgsim_tutorial/worker.py``). Asserts that need a trained encoder fail with random weights:
  they are recorded and the notebook runs on.

An earlier version estimated ViT-base from the small encoder's peak plus ViT-base's weights: it
said 1021 MB for notebook 01, where the ViT-base-sized run measured 1190-1320 MB (a random
encoder freed but kept by malloc is invisible at 5 MB).

Run: ``make test-hub`` (part of ``make test``), about 1 + 2 minutes per notebook on 2 cores.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import hub_standin  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BUDGET_MB = int(os.environ.get("IMGSIM_REHEARSAL_BUDGET_MB", 1024))  # Binder: 2 GB for two open notebooks
RESULTS = {"correctness": {}, "memory": {}}  # pass -> notebook -> measurements, reported at the end

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(),
                                reason="peak memory is read from /proc (Linux)")


def build_standin(tmp_path_factory, encoder: str, variable: str) -> dict:
    folder = os.environ.get(variable)  # reuse a built stand-in between runs
    root = Path(folder) if folder else tmp_path_factory.mktemp(f"hub-standin-{encoder}")
    return hub_standin.build_standin(root, encoder=encoder)


@pytest.fixture(scope="session")
def standin(tmp_path_factory):
    """The small trained encoder: every assert must hold."""
    return build_standin(tmp_path_factory, "small", "IMGSIM_STANDIN_DIR")


@pytest.fixture(scope="session")
def vit_base_standin(tmp_path_factory):
    """A ViT-base-sized random encoder: the real memory."""
    return build_standin(tmp_path_factory, "vit-base", "IMGSIM_STANDIN_VIT_DIR")


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


def notebook_for_rehearsal(path: Path):
    """The stored notebook, outputs cleared, with nbval's markers honoured (skip, raises)."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
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
                 timeout: int = 900) -> dict:
    """Execute one notebook in a fresh kernel with ``env``: time, first error, and for every cell the
    kernel's own peak memory and the highest peak of the embedding workers started so far.

    ``random_encoder``: asserts that fail (they need a trained encoder) are recorded, not raised.
    ``extra``: code run as one more cell at the end (what a learner does next, e.g. an upload)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = notebook_for_rehearsal(path)
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
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as failure:
                    if not random_encoder or failure.ename != "AssertionError":
                        raise
                    failed_asserts.append(cell.get("id", index))
                peak = peak_rss_mb(pid)
                probe = nbformat.v4.new_code_cell(PROBE)
                client.execute_cell(probe, len(notebook.cells) - 1)
                printed = "".join(output.get("text", "") for output in probe.outputs)
                workers = json.loads(re.search(r"REHEARSAL_PROBE (\{.*?\})", printed).group(1))["workers_mb"]
                first_line = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
                cells.append({"cell": f"cell {cell.get('id', index)}: {first_line}", "peak_mb": round(peak),
                              "workers_mb": round(workers)})
        except CellExecutionError as failure:
            error = re.sub(r"\x1b\[[0-9;]*m", "", str(failure))[-3000:]  # no terminal colours
        seconds = time.monotonic() - started
        sampler.done.set()
    highest = sorted(cells, key=lambda cell: cell["peak_mb"], reverse=True)[:3]
    return {"seconds": round(seconds, 1), "kernel_peak_mb": max((cell["peak_mb"] for cell in cells), default=0),
            "worker_peak_mb": max((cell["workers_mb"] for cell in cells), default=0),
            "tree_peak_mb": round(sampler.peak_mb), "error": error,
            **({"failed_asserts": failed_asserts} if failed_asserts else {}),
            "highest_cells": {cell["cell"]: cell["peak_mb"] for cell in highest}, "cells": cells}


# Run in the kernel after each cell: the peaks of the embedding workers it has started so far.
PROBE = ("import json as _json, sys as _sys\n"
         "_worker = _sys.modules.get('imgsim_tutorial.worker')\n"
         "print('REHEARSAL_PROBE', _json.dumps({'workers_mb': max(_worker.peaks_mb, default=0) if _worker else 0}))")


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


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_hub_mode(notebook, standin, tmp_path):
    # Matplotlib's default backend in a kernel (inline) closes each cell's figures, as Jupyter does.
    result = run_notebook(notebook, {**standin, "IMGSIM_CACHE": str(tmp_path / "imgsim-cache")})
    RESULTS["correctness"][notebook.stem] = result
    print(f"\n{notebook.stem}: {summary(result)}")
    assert result["error"] is None, f"{notebook.name} failed in hub mode:\n{result['error']}"


# An upload to the gallery (02) or the app (07) embeds it in the kernel: the one time 02-08 load the
# encoder there. Measured as a last cell, with the uploaded photo's bytes decoded as the widget does.
UPLOAD = ("import io\n"
          "buffer = io.BytesIO(); course.query_images[0].save(buffer, format='JPEG')\n"
          "uploaded = course.embed(t.images.open_image_bytes(buffer.getvalue(), 'upload'))")
AFTER = {"02": UPLOAD, "07": UPLOAD}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_stays_under_1_gb_with_vit_base(notebook, vit_base_standin, tmp_path):
    result = run_notebook(notebook, {**vit_base_standin, "IMGSIM_CACHE": str(tmp_path / "imgsim-cache")},
                          random_encoder=True, extra=AFTER.get(notebook.stem[:2]))
    RESULTS["memory"][notebook.stem] = result
    print(f"\n{notebook.stem} with a ViT-base-sized encoder: {summary(result)}")
    assert result["error"] is None, f"{notebook.name} failed with a ViT-base-sized encoder:\n{result['error']}"
    assert result["kernel_peak_mb"] < BUDGET_MB, (
        f"{notebook.name}'s kernel peaks at {result['kernel_peak_mb']} MB with a ViT-base-sized encoder, over "
        f"the {BUDGET_MB} MB budget per notebook (free models and decoded images you no longer need: "
        f"t.free_memory()); the highest cells (MB): {result['highest_cells']}")
    assert result["worker_peak_mb"] < BUDGET_MB, (
        f"{notebook.name}'s embedding worker peaks at {result['worker_peak_mb']} MB, over {BUDGET_MB} MB")


def test_report():
    """Prints every measurement; writes them to $IMGSIM_ARTIFACTS/hub_rehearsal.json when that is set."""
    for name, results in RESULTS.items():
        for notebook, result in results.items():
            print(f"\n  {name} {notebook}: {summary(result)}")
    if os.environ.get("IMGSIM_ARTIFACTS"):
        target = Path(os.environ["IMGSIM_ARTIFACTS"]) / "hub_rehearsal.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(RESULTS, indent=1))
