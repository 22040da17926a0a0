"""A full or unwritable temporary folder: named, with the fix, instead of "exit code 1 and no result".

The embedding worker trades its task and results through a private folder in ``TMPDIR``. A course
already in the cache needs no worker, so no temporary folder at all; when the worker is needed and
the folder is missing, full or read-only, the error names the folder and says how to get room.
Tests run as root here, where permissions do not stop a write: a missing folder stands in for a
read-only one, and a file-size limit (``RLIMIT_FSIZE``) for a full disk.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest

from imgsim_tutorial._support.worker import run_task

UPLOAD_TASK = {"kind": "imgsim_tutorial.course:embed_images_task", "mode": "offline", "names": ["image 0"],
               "normalize": True}


def without_temporary_folder(monkeypatch, missing):
    """TMPDIR, and Python's own choice of temporary folder, point at ``missing``, a folder that does not exist."""
    monkeypatch.setenv("TMPDIR", str(missing))
    monkeypatch.setattr(tempfile, "tempdir", str(missing))


def assert_teaches_the_fix(message, folder):
    assert f"temporary folder {folder}" in message and "is full or not writable" in message, message
    assert "Free some space there, or set TMPDIR to a folder with room" in message, message


@pytest.mark.slow
def test_a_cached_course_needs_neither_the_worker_nor_a_temporary_folder(tmp_path, monkeypatch):
    from imgsim_tutorial import load_course

    first = load_course("offline")  # embedded in the worker unless this session's cache has it already
    without_temporary_folder(monkeypatch, tmp_path / "no-such-folder")
    monkeypatch.setattr("imgsim_tutorial.course.run_task", lambda *a, **k: pytest.fail("the worker was started"))
    course = load_course("offline")
    np.testing.assert_array_equal(course.candidate_embeddings, first.candidate_embeddings)
    assert not (tmp_path / "no-such-folder").exists()


def test_a_missing_temporary_folder_is_named_with_the_fix(tmp_path, monkeypatch):
    without_temporary_folder(monkeypatch, tmp_path / "no-such-folder")
    with pytest.raises(OSError) as caught:
        run_task(UPLOAD_TASK, {"image_0": np.zeros((8, 8, 3), dtype=np.uint8)})
    assert_teaches_the_fix(str(caught.value), tmp_path / "no-such-folder")
    assert "No such file or directory" in str(caught.value)


def test_tmpdir_set_in_the_notebook_is_used_at_once(tmp_path, monkeypatch):
    # The fix the message gives, os.environ["TMPDIR"] = ..., works without restarting the kernel,
    # although Python's tempfile chose its folder once already.
    tempfile.gettempdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    result, outputs = run_task(UPLOAD_TASK, {"image_0": np.zeros((8, 8, 3), dtype=np.uint8)})
    assert outputs["embeddings"].shape == (1, 192)
    assert not list(tmp_path.glob("imgsim-worker-*")), "the task's folder is removed afterwards"


def full_disk(limit: int, task: dict, side: int = 8) -> str:
    """Python code: with a file-size limit, writing more than ``limit`` bytes to one file fails
    (EFBIG) the way a full disk fails (ENOSPC); then ``task``, sent ``side`` x ``side`` pixels."""
    return textwrap.dedent(f"""
        import pathlib, resource, signal, tempfile
        import numpy as np
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error, not a signal that kills the process
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))
        from imgsim_tutorial._support.worker import run_task
        try:
            run_task({task!r}, {{"image_0": np.zeros(({side}, {side}, 3), dtype=np.uint8)}})
            print("RESULT no error")
        except OSError as error:
            print("RESULT", error)
        print("LEFT", sorted(path.name for path in pathlib.Path(tempfile.gettempdir()).glob("imgsim-worker-*")))
        """)


def run_limited(code: str, **env) -> str:
    """Run ``code`` in a fresh Python (offline); the message it printed after ``RESULT``."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **env})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "LEFT []" in done.stdout, "the task's folder is removed"
    return done.stdout.split("RESULT ", 1)[1].splitlines()[0]


@pytest.mark.parametrize("side", [64, 8], ids=["kernel cannot write the task", "worker cannot write its result"])
def test_a_full_temporary_folder_is_named_with_the_fix(side, tmp_path):
    # 64x64 pixels: the kernel cannot write the task's inputs (12 KB); 8x8: it can, the worker embeds,
    # then cannot write its 1 KB of outputs: that used to end with "exit code 1 and no result".
    message = run_limited(full_disk(900, UPLOAD_TASK, side), TMPDIR=str(tmp_path))
    assert_teaches_the_fix(message, tmp_path)
    assert ("File too large" if side == 64 else "could not write its result") in message, message


@pytest.mark.slow
def test_what_the_worker_embedded_is_kept_when_it_cannot_write_its_result(beans, private_cache, tmp_path, monkeypatch):
    # The cache is on another disk than the full temporary folder: each of its files stays under the
    # limit (the candidates' embeddings: 460 KB), the worker's outputs (candidates and queries) do not.
    from imgsim_tutorial import load_course

    leaves = next(private_cache.glob("leaves-v*-seed0-600-100-100"))  # drawn by the beans fixture
    shutil.copytree(leaves, tmp_path / "cache" / leaves.name)
    (tmp_path / "tmp").mkdir()
    course_task = {"kind": "imgsim_tutorial.course:embed_course_task", "mode": "offline"}
    message = run_limited(full_disk(500_000, course_task), TMPDIR=str(tmp_path / "tmp"),
                          IMGSIM_CACHE=str(tmp_path / "cache"))
    assert_teaches_the_fix(message, tmp_path / "tmp")
    monkeypatch.setenv("IMGSIM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("imgsim_tutorial.course.run_task", lambda *a, **k: pytest.fail("the embeddings were lost"))
    assert load_course("offline").candidate_embeddings.shape == (600, 192)
