"""Embedding in a separate process, so that a notebook's kernel never holds the encoder.

Before it embeds a single image, ViT-base costs a kernel about 650 MB: torch and transformers
(about 340 MB once imported; Python cannot unload them) and the weights (330 MB). Notebooks
02-08 need the embeddings, not the encoder, and Binder gives all open notebooks 2 GB together.
So ``load_course`` and ``Course.embed_images`` run the encoder in a child Python process, this
module run as ``python -m imgsim_tutorial.worker FOLDER``: the child's memory goes back to the
system when it ends and the kernel keeps only the vectors (a few hundred KB).

What the learner sees and what can go wrong:

- the child inherits the kernel's environment (mode, ``IMGSIM_CACHE``, Hugging Face settings),
  and its messages and progress bars appear in the notebook as they are printed;
- an error in the child is raised in the kernel with its own type and message; the child's
  traceback travels with it (``error.worker_traceback``) and is printed for an unexpected error,
  one that is not a known type (a bug: the traceback is what to report);
- interrupting the kernel (the stop button) stops the child too;
- a child killed from outside, e.g. for memory, is reported with what to do about it.

Task and results travel through a private temporary folder: ``task.json`` (+ ``inputs.npz``) in,
``result.json`` (+ ``outputs.npz``) out; arrays only, never pickles.
"""

from __future__ import annotations

import codecs
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
import threading
import time
from pathlib import Path

import numpy as np

from . import mode as mode_module

# Errors raised again in the kernel with their own type (anything else becomes a RuntimeError).
KNOWN_ERRORS = {"ValueError": ValueError, "TypeError": TypeError, "OSError": OSError, "FileNotFoundError": OSError,
                "PermissionError": OSError, "RuntimeError": RuntimeError, "MemoryError": MemoryError,
                "HubUnavailableError": mode_module.HubUnavailableError}


peaks_mb: list = []  # each finished worker's peak resident memory in MB (Linux), for the record


class WorkerError(RuntimeError):
    """The embedding process ended without a result (killed, or it crashed)."""


def relay(stream, out) -> None:
    """Copy a child's output to ``out`` as it arrives (progress bars redraw with ``\\r``)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while chunk := os.read(stream.fileno(), 4096):
        out.write(decoder.decode(chunk))
        out.flush()
    out.write(decoder.decode(b"", final=True))


def run_task(task: dict, arrays: dict | None = None) -> tuple[dict, dict]:
    """Run ``task`` in a child process; returns its ``(result, arrays)`` or raises its error."""
    with tempfile.TemporaryDirectory(prefix="imgsim-worker-") as folder:
        folder = Path(folder)
        (folder / "task.json").write_text(json.dumps({**task, "parent": os.getpid()}))
        if arrays:
            np.savez(folder / "inputs.npz", **arrays)
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_MININTERVAL": "2"}
        process = subprocess.Popen([sys.executable, "-m", "imgsim_tutorial.worker", str(folder)],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment)
        try:
            relay(process.stdout, sys.stdout)
            code = process.wait()
        except BaseException:  # KeyboardInterrupt from the kernel's stop button included
            process.kill()
            process.wait()
            raise
        finally:
            process.stdout.close()
        result_file = folder / "result.json"
        if not result_file.exists():
            killed = code < 0 and -code in (9, 15)
            raise WorkerError(
                f"the embedding process ended with {'signal ' + str(-code) if code < 0 else 'exit code ' + str(code)} "
                "and no result" + (": most likely it ran out of memory. Shut down the kernels of notebooks you "
                                   "are not using (Kernel > Shut Down Kernel) and run this cell again" if killed
                                   else "; its output above says why"))
        result = json.loads(result_file.read_text())
        if result.get("peak_mb") is not None:
            peaks_mb.append(result["peak_mb"])
        if not result["ok"]:
            error_type = KNOWN_ERRORS.get(result["type"])
            child_traceback = result.get("traceback", "")
            if error_type is None:
                error = RuntimeError(f"{result['type']} in the embedding process: {result['message']}\n\n"
                                     f"The embedding process's traceback:\n{child_traceback}")
            else:
                error = error_type(result["message"])
            error.worker_traceback = child_traceback
            raise error
        outputs = {}
        if (folder / "outputs.npz").exists():
            with np.load(folder / "outputs.npz", allow_pickle=False) as archive:
                outputs = {name: archive[name] for name in archive.files}
        return result, outputs


def peak_memory_mb() -> float | None:
    """This process's peak resident memory so far, MB (Linux), for the record in ``result.json``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def embed_course_task(task: dict, inputs: dict) -> tuple[dict, dict]:
    from .course import course_rows, remember_course
    from .data import course_sizes, load_beans
    from .embeddings import embed_dataset, load_encoder

    processor, model = load_encoder(mode=task["mode"])
    sizes = course_sizes(task["mode"], next(model.parameters()).device.type)
    candidates, queries = course_rows(load_beans(task["mode"]), sizes)
    vectors = {"candidates": embed_dataset(candidates, processor, model),
               "queries": embed_dataset(queries, processor, model)}
    remember_course(task["mode"], sizes, candidates, queries, vectors)
    return {"sizes": sizes}, vectors


def embed_images_task(task: dict, inputs: dict) -> tuple[dict, dict]:
    from PIL import Image

    from .embeddings import embed_images, load_encoder

    processor, model = load_encoder(mode=task["mode"])
    images = [Image.fromarray(inputs[f"image_{i}"]) for i in range(len(task["names"]))]
    return {}, {"embeddings": embed_images(images, processor, model, normalize=task["normalize"],
                                           names=task["names"])}


TASKS = {"course": embed_course_task, "images": embed_images_task}


def exit_with_parent(parent: int, folder: Path) -> None:
    """End this worker, and remove its folder, if its kernel dies: nobody would read the result."""

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def main(folder: str) -> int:
    folder = Path(folder)
    task = json.loads((folder / "task.json").read_text())
    exit_with_parent(task["parent"], folder)
    inputs = {}
    if (folder / "inputs.npz").exists():
        with np.load(folder / "inputs.npz", allow_pickle=False) as archive:
            inputs = {name: archive[name] for name in archive.files}
    try:
        result, outputs = TASKS[task["kind"]](task, inputs)
        np.savez(folder / "outputs.npz", **outputs)
        result = {"ok": True, **result}
    except Exception as error:  # raised again in the kernel, with its message
        result = {"ok": False, "type": type(error).__name__, "message": str(error),
                  "traceback": traceback.format_exc()}
    result["peak_mb"] = peak_memory_mb()
    (folder / "result.partial").write_text(json.dumps(result))
    os.replace(folder / "result.partial", folder / "result.json")  # all or nothing
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
