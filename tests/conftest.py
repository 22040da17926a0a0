"""Shared fixtures: offline mode, a private cache, and the offline data and embeddings."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("IMGSIM_MODE", "offline")

import importlib.util  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def load_benchmark(name: str):
    """``benchmarks/<name>.py`` imported as a module (benchmarks/ is a folder of scripts, not a package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def drawn_leaves(tmp_path_factory) -> Path:
    """The offline leaves (``leaves-v*``), drawn once for the whole run, however many processes run it.

    ``make test`` runs the unit tests in 3 processes (pytest-xdist); each drew the same 800 leaves into
    its own cache (11 s each on 2 cores, more beside the other two). The first process to get here draws
    them into a folder all of them share (xdist's processes share ``getbasetemp().parent``), under a
    file lock; every process copies them into its private cache."""
    import fcntl
    import subprocess
    import sys

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    shared = tmp_path_factory.getbasetemp()
    shared = (shared.parent if worker else shared) / "drawn-leaves"
    shared.mkdir(parents=True, exist_ok=True)
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the others wait here while the first one draws
        drawn = sorted(shared.glob("leaves-v*"))
        if not drawn:
            environment = {**os.environ, "IMGSIM_CACHE": str(shared), "IMGSIM_MODE": "offline", "HF_HUB_OFFLINE": "1"}
            done = subprocess.run([sys.executable, "-c", "import imgsim_tutorial as t; t.load_beans('offline')"],
                                  capture_output=True, text=True, timeout=600, env=environment)
            assert done.returncode == 0, f"drawing the offline leaves failed:\n{done.stderr[-2000:]}"
            drawn = sorted(shared.glob("leaves-v*"))
    assert len(drawn) == 1, f"expected one folder of drawn leaves in {shared}, found {drawn}"
    return drawn[0]


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Tests never read or write the learner's cache (or the working directory)."""
    folder = tmp_path_factory.mktemp("imgsim-cache")
    previous = os.environ.get("IMGSIM_CACHE")
    os.environ["IMGSIM_CACHE"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("IMGSIM_CACHE", None)
    else:
        os.environ["IMGSIM_CACHE"] = previous


@pytest.fixture(scope="session")
def beans(private_cache, tmp_path_factory):
    """The offline dataset, from the leaves drawn once for the run (``drawn_leaves``), copied into this
    process's cache; tests that must draw from nothing use a cache folder of their own."""
    import shutil

    from imgsim_tutorial import load_beans

    leaves = drawn_leaves(tmp_path_factory)
    if not (private_cache / leaves.name).exists():
        shutil.copytree(leaves, private_cache / leaves.name)
    return load_beans("offline")


@pytest.fixture(scope="session")
def encoder():
    from imgsim_tutorial import load_encoder

    return load_encoder(mode="offline", device="cpu")


@pytest.fixture(scope="session")
def leaf_embeddings(beans, encoder):
    """Offline train (candidates) and test (queries) embeddings with their labels."""
    from imgsim_tutorial import embed_dataset

    processor, model = encoder
    return {split: (embed_dataset(beans[split], processor, model), np.array(beans[split]["labels"]))
            for split in ("train", "test")}


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def clustered(n, dim, n_clusters=20, spread=0.3, seed=0):
    """Unit vectors around random cluster centres: like real embeddings, not uniform noise."""
    from imgsim_tutorial.evaluation import clustered_vectors

    return clustered_vectors(n, dim, n_clusters=n_clusters, spread=spread, seed=seed)
