"""Embedding in a separate process, so that a notebook's kernel never holds the encoder.

Before it embeds a single image, ViT-base costs a kernel about 650 MB: torch and transformers
(about 340 MB once imported; Python cannot unload them) and the weights (330 MB). Notebooks
02-12 need the embeddings, not the encoder, and Binder gives all open notebooks 2 GB together.
So ``load_course`` and ``Course.embed_images`` run the encoder in a child Python process, this
module run as ``python -m imgsim_tutorial._support.worker FOLDER``: the child's memory goes back to the
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
``result.json`` (+ ``outputs.npz``) out; arrays only, never pickles. It is made in ``TMPDIR`` as
set when the task starts, so a notebook can point it elsewhere; a temporary folder that is full
or not writable is reported as such, with the fix, instead of "no result".
"""

from __future__ import annotations

import codecs
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from . import mode as mode_module

# Errors raised again in the kernel with their own type (anything else becomes a RuntimeError).
KNOWN_ERRORS = {"ValueError": ValueError, "TypeError": TypeError, "OSError": OSError, "FileNotFoundError": OSError,
                "PermissionError": OSError, "RuntimeError": RuntimeError, "MemoryError": MemoryError,
                "HubUnavailableError": mode_module.HubUnavailableError}


peaks_mb: list = []  # each finished worker's peak resident memory in MB (Linux), for the record
NO_ROOM_EXIT = 74  # the worker's exit code when it cannot write its result (EX_IOERR, as in sysexits.h)


class WorkerError(RuntimeError):
    """The embedding process ended without a result (killed, or it crashed)."""


def relay(stream, out) -> None:
    """Copy a child's output to ``out`` as it arrives (progress bars redraw with ``\\r``)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while chunk := os.read(stream.fileno(), 4096):
        out.write(decoder.decode(chunk))
        out.flush()
    out.write(decoder.decode(b"", final=True))


def no_room_error(where, error) -> OSError:
    """The error for a temporary folder the worker cannot use: which folder, why, and how to fix it."""
    reason = getattr(error, "strerror", None) or str(error)
    return OSError(f"the embedding process needs a few MB in the temporary folder {where}, but it is full or not "
                   f"writable ({reason}). Free some space there, or set TMPDIR to a folder with room (in the "
                   "notebook: os.environ['TMPDIR'] = '/a/folder/with/room'), then run this cell again; "
                   "the course's cache is not affected")


def task_folder() -> tempfile.TemporaryDirectory:
    """A private temporary folder for one task, in ``TMPDIR`` as it is now (else the system's)."""
    root = os.environ.get("TMPDIR") or None
    try:
        return tempfile.TemporaryDirectory(prefix="imgsim-worker-", dir=root)
    except OSError as error:  # missing, read-only or full; or no usable one at all (FileNotFoundError)
        raise no_room_error(root or tempfile.tempdir or "(none usable: TMPDIR, /tmp, /var/tmp)", error) from error


def run_task(task: dict, arrays: dict | None = None) -> tuple[dict, dict]:
    """Run ``task`` in a child process; returns its ``(result, arrays)`` or raises its error."""
    with task_folder() as folder:
        folder = Path(folder)
        try:
            (folder / "task.json").write_text(json.dumps({**task, "parent": os.getpid()}))
            if arrays:
                np.savez(folder / "inputs.npz", **arrays)
        except OSError as error:
            raise no_room_error(folder.parent, error) from error
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_MININTERVAL": "2"}
        process = subprocess.Popen([sys.executable, "-m", __name__, str(folder)],
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
        if code == NO_ROOM_EXIT and not result_file.exists():
            raise no_room_error(folder.parent, "the embedding process could not write its result there")
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


def task_function(kind: str):
    """The function a task names, ``"package.module:function"``, looked up inside this package
    only (a task file can name nothing else). The worker knows no task itself: the module that
    asks for the work (``course``) defines it."""
    package = __package__.split(".")[0]  # __name__ is "__main__" in the worker process
    module, _, name = str(kind).partition(":")
    if not module.startswith(package + ".") or not name.isidentifier():
        raise ValueError(f"a worker task names a function as 'module:function' inside {package}, got {kind!r}")
    return getattr(importlib.import_module(module), name)


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
    outputs = {}
    try:
        result, outputs = task_function(task["kind"])(task, inputs)
        result = {"ok": True, **result}
    except Exception as error:  # raised again in the kernel, with its message
        result = {"ok": False, "type": type(error).__name__, "message": str(error),
                  "traceback": traceback.format_exc()}
    result["peak_mb"] = peak_memory_mb()
    try:
        if result["ok"]:
            np.savez(folder / "outputs.npz", **outputs)
        (folder / "result.partial").write_text(json.dumps(result))
        os.replace(folder / "result.partial", folder / "result.json")  # all or nothing
    except OSError:  # the temporary folder is full or not writable: the kernel says so (NO_ROOM_EXIT)
        return NO_ROOM_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
