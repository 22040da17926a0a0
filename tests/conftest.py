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
def beans(private_cache):
    from imgsim_tutorial import load_beans

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
