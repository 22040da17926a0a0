"""The cache heals itself and survives a classroom.

Each cache file kind is damaged the ways a learner's disk gets damaged (a killed kernel, a full
disk, a file deleted by hand, a file from another version) and the next run must report it in
ONE line, rebuild it and return the same result. Three processes start on one empty cache at
once. A read-only cache must still work, with one warning.
"""

import hashlib
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from imgsim_tutorial import embed_dataset
from imgsim_tutorial._support import cache
from imgsim_tutorial._support.cache import CacheWarning, check_manifest, read_embeddings, sweep_leftovers
from imgsim_tutorial.data.beans import offline_beans
from imgsim_tutorial.embeddings import cache_key, unit_rows

SIZES = {"train": 6, "validation": 3, "test": 4}


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("IMGSIM_CACHE", str(tmp_path))
    monkeypatch.setattr(cache, "_warned", set())
    return tmp_path


def course_lines(text):
    return [line for line in text.splitlines() if line.startswith("imgsim_tutorial:")]


def pixels(beans):
    return [np.asarray(row["image"]) for split in ("train", "test") for row in beans[split]]


# ---- embeddings ------------------------------------------------------------------------------

def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _zero(path):
    path.write_bytes(bytes(path.stat().st_size))


def _wrong_shape(path):
    key = path.stem
    cache.write_embeddings(path, key, np.ones((3, 5), np.float32))


def _not_finite(path):
    with np.load(path) as archive:
        vectors = archive["embeddings"].copy()
    vectors[1, 2] = np.nan
    cache.write_embeddings(path, path.stem, vectors)


def _foreign_npy(path):
    with open(path, "wb") as handle:  # a bare .npy array saved under the cache's name
        np.save(handle, np.random.default_rng(0).standard_normal((4, 192)).astype(np.float32))


def _other_key(path):
    with np.load(path) as archive:
        vectors = archive["embeddings"].copy()
    cache.write_embeddings(path, "0123456789abcdef", vectors)


@pytest.mark.parametrize("damage, problem", [(_truncate, "unreadable"), (_zero, "unreadable"),
                                             (_wrong_shape, "expected 4 rows, found 3"),
                                             (_not_finite, "NaN or infinite"), (_foreign_npy, "bare array"),
                                             (_other_key, "another model")])
def test_damaged_embeddings_are_reported_once_and_rebuilt(encoder, beans, fresh_cache, capsys, damage, problem):
    processor, model = encoder
    split = beans["test"].select(range(4))
    first = embed_dataset(split, processor, model)
    path = fresh_cache / "embeddings" / f"{cache_key(split, processor, model)}.npz"
    assert path.exists()
    damage(path)
    capsys.readouterr()
    healed = embed_dataset(split, processor, model)
    lines = course_lines(capsys.readouterr().out)
    assert len(lines) == 1 and "unusable" in lines[0] and problem in lines[0], lines
    np.testing.assert_allclose(healed, first, atol=1e-6)
    assert read_embeddings(path, path.stem, 4) is not None  # the file on disk is sound again
    embed_dataset(split, processor, model)
    assert course_lines(capsys.readouterr().out) == []  # and used silently from now on


# ---- the offline leaves folder ---------------------------------------------------------------

def _delete_arrow(folder):
    next((folder / "train").glob("*.arrow")).unlink()


def _truncate_arrow(folder):
    _truncate(next((folder / "test").glob("*.arrow")))


def _zero_state(folder):
    _zero(folder / "test" / "state.json")


def _foreign_arrow(folder):  # another split's data file under this split's name: loads, but wrong
    source, target = next((folder / "validation").glob("*.arrow")), next((folder / "test").glob("*.arrow"))
    target.write_bytes(source.read_bytes())


def _delete_manifest(folder):
    (folder / "manifest.json").unlink()


@pytest.mark.parametrize("damage", [_delete_arrow, _truncate_arrow, _zero_state, _foreign_arrow, _delete_manifest])
def test_damaged_leaves_are_reported_once_and_drawn_again(fresh_cache, capsys, damage):
    first = offline_beans(seed=2, sizes=SIZES)
    (folder,) = [p for p in fresh_cache.iterdir() if p.name.startswith("leaves-")]
    assert check_manifest(folder) is None
    damage(folder)
    assert check_manifest(folder) is not None
    capsys.readouterr()
    healed = offline_beans(seed=2, sizes=SIZES)
    lines = course_lines(capsys.readouterr().out)
    assert len(lines) == 1 and "offline leaves" in lines[0] and "unusable" in lines[0], lines
    assert all(np.array_equal(a, b) for a, b in zip(pixels(first), pixels(healed)))
    assert check_manifest(folder) is None
    assert [p.name for p in fresh_cache.iterdir()] == [folder.name]  # no leftovers beside it
    offline_beans(seed=2, sizes=SIZES)
    assert course_lines(capsys.readouterr().out) == []


# ---- a read-only cache -----------------------------------------------------------------------

def refuse_writes(monkeypatch):
    """Simulate a read-only folder. The tests run as root, which ignores permission bits (chmod
    a-w changes nothing for root), so creating files in the cache raises PermissionError instead."""
    import tempfile

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    monkeypatch.setattr(tempfile, "mkdtemp", denied)


def test_a_read_only_cache_works_in_memory_with_one_warning(encoder, beans, fresh_cache, monkeypatch):
    processor, model = encoder
    split = beans["test"].select(range(4))
    expected = embed_dataset(split, processor, model, cache=False)
    refuse_writes(monkeypatch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        leaves = offline_beans(seed=4, sizes=SIZES)
        first = embed_dataset(split, processor, model)
        second = embed_dataset(beans["test"].select(range(1, 5)), processor, model)
    messages = [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]
    assert len(messages) == 1, messages
    assert "cannot be written (Permission denied)" in messages[0] and "IMGSIM_CACHE" in messages[0]
    assert leaves["train"].num_rows == 6
    np.testing.assert_allclose(first, expected, atol=1e-6)
    np.testing.assert_allclose(second[:3], expected[1:], atol=1e-5)
    assert not any(fresh_cache.rglob("*.npz"))


def test_a_read_only_cache_with_a_damaged_file_still_works(encoder, beans, fresh_cache, monkeypatch, capsys):
    processor, model = encoder
    split = beans["test"].select(range(4))
    expected = embed_dataset(split, processor, model)
    _zero(next((fresh_cache / "embeddings").glob("*.npz")))
    refuse_writes(monkeypatch)
    with pytest.warns(CacheWarning, match="cannot be written"):
        again = embed_dataset(split, processor, model)
    np.testing.assert_allclose(again, expected, atol=1e-6)
    assert len(course_lines(capsys.readouterr().out)) == 1


# ---- leftovers from killed processes ---------------------------------------------------------

def test_leftovers_of_dead_processes_are_swept(fresh_cache):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    old = time.time() - 3600
    names = {"dead_old": f".leaves-v1-seed0.partial-{dead_pid}-1-abc", "alive_old": f".x.npz.partial-{os.getpid()}-1-q",
             "dead_recent": f".y.partial-{dead_pid}-2-r", "previous_version": f"leaves-v1-seed0.partial-{dead_pid}",
             "moved_aside": ".leaves-v1.old-k2j3", "learner_file": "notes.partial.txt"}
    for kind, name in names.items():
        path = fresh_cache / name
        path.mkdir() if "leaves" in name else path.write_bytes(b"x")
        if kind != "dead_recent":
            os.utime(path, (old, old))
    removed = sweep_leftovers(fresh_cache)
    assert sorted(removed) == sorted([names["dead_old"], names["previous_version"], names["moved_aside"]])
    assert {p.name for p in fresh_cache.iterdir()} == {names["alive_old"], names["dead_recent"], names["learner_file"]}


# ---- three kernels, one empty cache ----------------------------------------------------------

KERNEL = """
import hashlib, imgsim_tutorial as t
from imgsim_tutorial.data.beans import offline_beans
beans = offline_beans(seed=7, sizes={"train": 6, "validation": 3, "test": 24})
processor, model = t.load_encoder(mode="offline", device="cpu")
vectors = t.embed_dataset(beans["test"], processor, model, batch_size=4)
print("DIGEST", hashlib.sha256(vectors.tobytes()).hexdigest(), vectors.shape)
"""


@pytest.mark.slow
def test_three_processes_on_one_empty_cache(tmp_path):
    env = {**os.environ, "IMGSIM_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1", "IMGSIM_MODE": "offline",
           "OMP_NUM_THREADS": "1"}
    kernels = [subprocess.Popen([sys.executable, "-c", KERNEL], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [kernel.communicate(timeout=300) for kernel in kernels]
    for kernel, (_, err) in zip(kernels, outputs):
        assert kernel.returncode == 0, err[-2000:]
    digests = {line for out, _ in outputs for line in out.splitlines() if line.startswith("DIGEST")}
    assert len(digests) == 1, digests  # identical results
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith("leaves-")]
    assert check_manifest(folder) is None  # a valid cache ...
    assert {p.name for p in tmp_path.iterdir()} == {folder.name, "embeddings"}  # ... with no leftovers
    files = list((tmp_path / "embeddings").iterdir())
    assert files and all(p.suffix == ".npz" and read_embeddings(p, p.stem, 24) is not None for p in files)
    digest = digests.pop().split()[1]
    # The file holds the raw vectors; embed_dataset scales them to unit length on the way out.
    assert any(hashlib.sha256(unit_rows(np.load(p)["embeddings"]).tobytes()).hexdigest() == digest for p in files)
