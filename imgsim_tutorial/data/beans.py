"""The beans data: from the Hub, or generated offline with the same schema.

Builds on ``_support/mode.py`` (which world we are in), ``leaves.py`` (how offline leaves are
drawn) and ``_support/cache.py`` (the drawn leaves are kept on disk, checked file by file on
every read).
Both worlds return a ``datasets.DatasetDict`` with splits ``train``/``validation``/``test`` and
the features ``image_file_path`` (string), ``image`` (Image) and ``labels`` (ClassLabel
``angular_leaf_spot``, ``bean_rust``, ``healthy``), so every later notebook is written once.

It also picks, with a fixed seed, which images are ``candidates`` (what we search) and which
are queries, because the original tutorial's unseeded choice made its results unrepeatable.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._support.cache import cache_dir, check_manifest, say, sweep_leftovers, warn_not_writable, write_manifest
from .._support.hub_deadline import hub_load, local_cache_only
from .._support.memory import free_memory
from .._support.mode import HubUnavailableError, check_mode, fall_back_offline
from .._support.persistence import atomic_path
from .leaves import LABEL_NAMES, generate_split

HUB_DATASET = "AI-Lab-Makerere/beans"  # the `beans` dataset's home on the Hub
OFFLINE_SIZES = {"train": 600, "validation": 100, "test": 100}
LEAVES_VERSION = 1


def beans_features():
    """The ``datasets.Features`` of ``beans``: image path, image, and a 3-class label."""
    from datasets import ClassLabel, Features, Image, Value

    return Features({"image_file_path": Value("string"), "image": Image(),
                     "labels": ClassLabel(names=list(LABEL_NAMES))})


def generate_beans(seed: int = 0, sizes: dict | None = None):
    """Draw the offline dataset in memory (about 5 s for 800 images); see ``leaves.py``."""
    from datasets import Dataset, DatasetDict

    splits = {}
    for split, n in (sizes or OFFLINE_SIZES).items():
        images, labels = generate_split(n, seed=seed, split=split)
        records = {"image_file_path": [], "image": [], "labels": []}
        for index, (image, label) in enumerate(zip(images, labels)):
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            name = f"{LABEL_NAMES[label]}_{split}.{index}.png"
            records["image_file_path"].append(f"leaves/{split}/{LABEL_NAMES[label]}/{name}")
            records["image"].append({"bytes": buffer.getvalue(), "path": name})
            records["labels"].append(int(label))
        splits[split] = Dataset.from_dict(records, features=beans_features())
    return DatasetDict(splits)


def _read_leaves(folder: Path, sizes: dict):
    """``(DatasetDict, None)`` if the cached folder is complete and intact, else ``(None, problem)``."""
    from datasets import load_from_disk

    problem = check_manifest(folder)
    if problem:
        return None, problem
    try:
        # In memory, so that later .map() calls never write cache files next to the data.
        beans = load_from_disk(str(folder), keep_in_memory=True)
    except Exception as error:
        return None, f"it cannot be loaded ({type(error).__name__})"
    rows = {split: beans[split].num_rows for split in beans}
    if rows != sizes or any(beans[split].features != beans_features() for split in beans):
        return None, f"it holds splits {rows}, expected {sizes} with the beans features"
    return beans, None


def offline_beans(seed: int = 0, sizes: dict | None = None):
    """The generated leaves, drawn once and cached; the cache is checked on every read.

    A damaged cache (a file deleted, truncated or changed) is reported in one line and drawn
    again; a read-only one gives the leaves from memory after one warning.
    """
    sizes = dict(sizes or OFFLINE_SIZES)
    folder = cache_dir() / f"leaves-v{LEAVES_VERSION}-seed{seed}-{'-'.join(str(n) for n in sizes.values())}"
    sweep_leftovers(folder.parent)
    if folder.exists():
        beans, problem = _read_leaves(folder, sizes)
        if beans is not None:
            return beans
        say(f"the cached offline leaves in {folder.name}/ are unusable ({problem}); drawing them again (about 10 s).")
    else:
        print(f"Drawing the offline bean leaves once (about 10 s); cached in {folder.name}/")
    drawn = generate_beans(seed, sizes)
    if folder.exists():  # another kernel may have finished while we drew: use its copy
        beans, _ = _read_leaves(folder, sizes)
        if beans is not None:
            return beans
    try:
        with atomic_path(folder, directory=True) as temporary:
            drawn.save_to_disk(str(temporary))
            write_manifest(temporary)
    except OSError as error:
        warn_not_writable(folder.parent, error)
        return drawn
    beans, _ = _read_leaves(folder, sizes)  # every kernel then works from the same files
    return beans if beans is not None else drawn


def load_beans(mode: str | None = None, seed: int = 0):
    """Load the beans ``DatasetDict`` for ``mode`` (``None``: the process-wide mode).

    In hub mode a Hub that stops answering fails the load within ``HUB_DEADLINE_S`` (20 s), saying
    how to go offline; when the mode was decided automatically, the course goes offline instead.

    >>> beans = load_beans("offline"); beans["train"].features["labels"].names
    ['angular_leaf_spot', 'bean_rust', 'healthy']
    """
    if check_mode(mode) == "hub":
        try:
            beans = hub_beans()
        except HubUnavailableError as error:
            if mode is None and fall_back_offline(error):
                return offline_beans(seed)
            raise
        # Preparing the shards the first time leaves 110-120 MB in Arrow's pool; give it back.
        free_memory()
        return beans
    return offline_beans(seed)


def hub_beans():
    """The Hub's beans ``DatasetDict``: from the local cache with no network if it was loaded before,
    else downloaded; errors of the network as :class:`HubUnavailableError`."""
    from datasets import load_dataset

    # IMGSIM_BEANS_DATASET lets tests point the hub path at a local copy in the same layout.
    name = os.environ.get("IMGSIM_BEANS_DATASET", HUB_DATASET)
    if Path(name).is_dir():
        return load_dataset(name)
    cached = _cached_hub_beans(name)
    if cached is not None:
        return cached
    with hub_load(f"the dataset {name!r}"):
        return load_dataset(name)


def _cached_hub_beans(name: str):
    """The dataset ``name`` from datasets' local cache, or None if it was never loaded here."""
    from datasets import load_dataset
    from datasets.utils import logging as datasets_logging

    verbosity = datasets_logging.get_verbosity()
    datasets_logging.set_verbosity_error()  # hush "using the latest cached version": that is the point here
    try:
        with local_cache_only():
            return load_dataset(name)
    except OSError:  # datasets' "not cached" (ConnectionError, FileNotFoundError): the caller downloads it
        return None
    finally:
        datasets_logging.set_verbosity(verbosity)


def course_sizes(mode: str | None = None, device: str = "cpu") -> dict:
    """How many candidates and queries the notebooks use by default.

    ViT-base embeds only about 3-7 images/s on a 2-core CPU (measured on two machines), so the hub
    mode on a CPU searches a subset: 160 candidates and 40 queries embed in about 30-70 s. On a
    GPU, or offline, the whole train split.
    ``n_baseline`` caps the candidates embedded again by the untrained baseline in notebook 01 (it
    embeds a third as many queries).
    None means "all of them".
    """
    if check_mode(mode) == "hub" and device == "cpu":
        return {"n_candidates": 160, "n_queries": 40, "n_baseline": 48}
    return {"n_candidates": None, "n_queries": None, "n_baseline": None}


def seeded_subset(split, n: int | None, seed: int = 0):
    """``n`` rows of a dataset split chosen with a fixed seed (all rows, in order, if n is None).

    >>> seeded_subset(load_beans("offline")["test"], 5, seed=1).num_rows
    5
    """
    if n is None or n >= split.num_rows:
        return split
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rows = np.sort(np.random.default_rng(seed).choice(split.num_rows, size=n, replace=False))
    return split.select(rows.tolist())


class SplitImages(Sequence):
    """The images of a dataset split, each decoded only when asked for: ``images[i]`` is row i's.

    A list of decoded photos holds every pixel for as long as the kernel runs (a 500x500 beans
    photo is 0.75 MB decoded, 40 KB as the JPEG the split stores); this view holds nothing
    decoded, and gives the same pixels. Galleries and widgets index it like a list.

    >>> images = SplitImages(load_beans("offline")["test"]); len(images), images[0].mode
    (100, 'RGB')
    """

    def __init__(self, split, column: str = "image"):
        if column not in split.column_names:
            raise ValueError(f"the split has no column {column!r}, only {split.column_names}; pass the "
                             "name of its image column")
        self._rows, self._column = split.select_columns([column]), column

    def __len__(self) -> int:
        return self._rows.num_rows

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(len(self))[i]]
        return self._rows[range(len(self))[i]][self._column]  # range() checks the bounds, allows -1

    def __repr__(self) -> str:
        return f"SplitImages({len(self)} images, decoded when used)"
