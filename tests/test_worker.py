"""The embedding worker: load_course and Course.embed_images keep the encoder out of the kernel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgsim_tutorial._support import worker
from imgsim_tutorial._support.worker import WorkerError, run_task

COURSE_TASK = "imgsim_tutorial.course:embed_course_task"


def run_python(code: str, cache) -> subprocess.CompletedProcess:
    environment = {**os.environ, "IMGSIM_CACHE": str(cache), "IMGSIM_MODE": "offline", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, env=environment)


LOAD = """
    import json, sys
    import imgsim_tutorial as t
    course = t.load_course()
    print("RESULT", json.dumps({"torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules,
                                "shape": course.candidate_embeddings.shape,
                                "first": course.query_embeddings[0, :4].tolist()}))
"""


def result_of(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.split("RESULT ", 1)[1])


@pytest.fixture(scope="module")
def embedded_course(tmp_path_factory):
    """One load_course from an empty cache, in a process of its own: ``(cache folder, its run)``.

    Embedding the offline course takes 15-20 s on 2 cores; the tests that only need it cached start from
    a copy of this cache, so that the file embeds it three times (here, an unwritable cache, a damaged
    record), not eight."""
    folder = tmp_path_factory.mktemp("embedded-course")
    return folder, run_python(LOAD, folder)


@pytest.fixture
def cached_course(embedded_course, tmp_path, monkeypatch):
    """A private copy of the embedded course's cache, set as IMGSIM_CACHE for this test."""
    copy = tmp_path / "cache"
    shutil.copytree(embedded_course[0], copy)
    monkeypatch.setenv("IMGSIM_CACHE", str(copy))
    return copy


def test_load_course_never_imports_the_encoder_into_the_kernel(embedded_course, cached_course, leaf_embeddings):
    first = embedded_course[1]  # nothing cached: embedded in the worker
    assert "embedding the course's images in a separate process" in first.stdout
    second = run_python(LOAD, cached_course)  # cached: no worker at all
    assert "separate process" not in second.stdout
    for done in (first, second):
        found = result_of(done)
        assert not found["torch"] and not found["transformers"], "the kernel imported the encoder's libraries"
        assert found["shape"] == [600, 192]
        np.testing.assert_allclose(found["first"], leaf_embeddings["test"][0][0, :4], atol=1e-6)


def test_the_worker_reports_progress_in_the_notebook_as_it_comes(embedded_course):
    assert "embedding: 100%" in embedded_course[1].stdout, "the worker's progress bar reaches the kernel's output"


def test_course_embed_images_in_the_worker_equals_the_kernel(cached_course, leaf_embeddings):
    from imgsim_tutorial import load_course

    course = load_course("offline")
    images = [course.query_images[5], Image.new("RGB", (50, 30), "orange")]
    in_worker = course.embed_images(images)
    assert course.loaded_model is None, "embedded in a separate process"
    course.model  # noqa: B018 (load the encoder here)
    np.testing.assert_allclose(in_worker, course.embed_images(images), atol=1e-5)
    np.testing.assert_allclose(in_worker[0], course.query_embeddings[5], atol=1e-5)


def test_a_cached_course_is_read_without_a_worker_and_a_damaged_record_is_rebuilt(cached_course, monkeypatch):
    from imgsim_tutorial import load_course

    with monkeypatch.context() as patched:
        patched.setattr("imgsim_tutorial.course.run_task", lambda *a, **k: pytest.fail("the cache was not used"))
        first = load_course("offline")
    record = next((cached_course / "embeddings").glob("course-offline-*.json"))
    record.write_text("{not json")
    np.testing.assert_array_equal(load_course("offline").candidate_embeddings, first.candidate_embeddings)
    assert json.loads(record.read_text())["sizes"]["n_candidates"] is None, "rebuilt"


def test_an_error_in_the_worker_is_raised_in_the_kernel_with_its_type_and_message():
    with pytest.raises(ValueError, match=r"image 0 has size \(5, 0\)") as caught:
        run_task({"kind": "imgsim_tutorial.course:embed_images_task", "mode": "offline", "names": ["image 0"],
                  "normalize": True},
                 {"image_0": np.zeros((0, 5, 3), dtype=np.uint8)})
    assert "Traceback" not in str(caught.value)  # a known error keeps its clean message; the traceback apart
    assert "ValueError: image 0 has size (5, 0)" in caught.value.worker_traceback


def test_the_worker_runs_only_functions_of_the_package():
    with pytest.raises(ValueError, match="'module:function' inside imgsim_tutorial"):
        run_task({"kind": "os:system", "mode": "offline"})


def test_an_unexpected_error_in_the_worker_brings_its_traceback():
    with pytest.raises(RuntimeError, match=r"AttributeError in the embedding process: .*no_such_task") as caught:
        run_task({"kind": "imgsim_tutorial.course:no_such_task", "mode": "offline"})
    assert "The embedding process's traceback:" in str(caught.value)
    assert 'worker.py", line' in str(caught.value) and "task_function" in str(caught.value)
    assert caught.value.worker_traceback.startswith("Traceback (most recent call last)")


def fake_python(tmp_path, script: str, monkeypatch):
    program = tmp_path / "python"
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(0o755)
    monkeypatch.setattr(worker.sys, "executable", str(program))


def test_a_worker_killed_for_memory_says_what_to_do(tmp_path, monkeypatch):
    fake_python(tmp_path, "kill -9 $$", monkeypatch)
    with pytest.raises(WorkerError, match=r"signal 9 and no result: most likely it ran out of memory\. Shut down"):
        run_task({"kind": COURSE_TASK, "mode": "offline"})


def test_a_worker_that_crashes_points_at_its_output(tmp_path, monkeypatch, capsys):
    fake_python(tmp_path, "echo 'Fatal Python error: Segmentation fault'; exit 3", monkeypatch)
    with pytest.raises(WorkerError, match="exit code 3 and no result; its output above says why"):
        run_task({"kind": COURSE_TASK, "mode": "offline"})
    assert "Segmentation fault" in capsys.readouterr().out


def test_interrupting_the_kernel_stops_the_worker(tmp_path, monkeypatch):
    fake_python(tmp_path, "sleep 60", monkeypatch)
    started = []
    popen = subprocess.Popen

    def remember(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        return started[-1]

    def interrupted(stream, out):
        raise KeyboardInterrupt  # what the kernel's stop button raises

    monkeypatch.setattr(worker.subprocess, "Popen", remember)
    monkeypatch.setattr(worker, "relay", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_task({"kind": COURSE_TASK, "mode": "offline"})
    assert started[0].poll() == -9, "the worker was killed, not left running"


def test_an_unwritable_cache_still_gives_the_course(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    # IMGSIM_CACHE under a plain file: nothing can be written there
    code = LOAD.replace("import imgsim_tutorial as t",
                        "import imgsim_tutorial as t, os; os.environ['IMGSIM_CACHE'] += '/c'")
    done = run_python(code, blocker)
    assert result_of(done)["shape"] == [600, 192]
    assert "cannot be written" in done.stdout + done.stderr, "one warning says the results are not kept"


def test_a_worker_whose_kernel_is_killed_stops_and_cleans_up(tmp_path):
    import psutil

    code = (f"import os; os.environ['IMGSIM_CACHE'] = {str(tmp_path)!r}\n"
            "from imgsim_tutorial._support.worker import run_task\n"
            "run_task({'kind': 'imgsim_tutorial.course:embed_course_task', 'mode': 'offline'})")
    kernel = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        for _ in range(100):
            children = psutil.Process(kernel.pid).children()
            if children:
                break
            time.sleep(0.1)
        assert children, "the worker did not start"
        worker_process = children[0]
        folders = [Path(part) for part in worker_process.cmdline() if "imgsim-worker-" in part]
        kernel.kill()  # the kernel dies; no KeyboardInterrupt, no finally
        kernel.wait()
        worker_process.wait(timeout=10)  # the worker notices within about a second
        assert folders and not folders[0].exists(), "its temporary folder was removed"
    finally:
        kernel.kill()


def test_a_course_record_with_bad_sizes_is_rebuilt_not_fatal(cached_course, beans, capsys):
    """Each bad record is refused with its reason; what load_course then does (embed again) is the
    damaged record's test above."""
    from imgsim_tutorial.course import _cached_course

    record = next((cached_course / "embeddings").glob("course-offline-*.json"))
    for bad in (0, -3, "5", 5.5, True, [1]):
        record.write_text(json.dumps({"format": 1, "sizes": {"n_candidates": bad, "n_queries": None,
                                                               "n_baseline": None}}))
        assert _cached_course("offline", beans) is None, f"n_candidates={bad!r} was accepted"
        assert "is unusable (sizes must be whole numbers" in capsys.readouterr().out


def test_course_embed_images_takes_a_generator_and_names_a_lone_image(cached_course):
    from imgsim_tutorial import load_course

    course = load_course("offline")
    vectors = course.embed_images(course.query_images[i] for i in (1, 2))
    np.testing.assert_allclose(vectors, course.query_embeddings[1:3], atol=1e-5)
    with pytest.raises(TypeError, match=r"for one image use course.embed\(image\), or pass \[image\]"):
        course.embed_images(course.query_images[1])


def test_new_weights_with_the_same_config_are_not_served_old_vectors(encoder, beans):
    from imgsim_tutorial.embeddings import cache_key, random_init_like

    processor, model = encoder
    split = beans["test"].select(range(3))
    assert cache_key(split, processor, model) != cache_key(split, processor, random_init_like(model))
    assert cache_key(split, processor, model) == cache_key(split, processor, model)
