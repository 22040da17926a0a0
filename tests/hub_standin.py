"""A local stand-in for the Hugging Face Hub, so the course's hub mode can run with no network.

What Colab and Binder meet in hub mode, rebuilt from local files:

- a Hugging Face cache in the Hub's own layout (``models--nateraw--vit-base-beans/`` with
  ``blobs/``, ``refs/main`` and ``snapshots/<commit>/``) holding a ``ViTForImageClassification``
  checkpoint under the id ``nateraw/vit-base-beans``: loaded by the very same
  ``AutoModel.from_pretrained("nateraw/vit-base-beans")`` call, with ``HF_HUB_OFFLINE=1``;
- the ``beans`` dataset in its real layout: parquet files under ``data/``, 500x500 JPEG bytes,
  each split grouped by class like the real one (all ``angular_leaf_spot`` rows first), with the
  real split sizes (train 1034, validation 133, test 128).

The checkpoint must carry label information, because notebook 01 asserts that the "trained"
encoder beats the same ViT with random weights and raw pixels by 0.2 in precision. A randomly
initialised ViT cannot; so the stand-in's weights are the small encoder this repository trained
on drawn leaves (``imgsim_tutorial/assets/leaf-vit-tiny``, 1.3 M parameters, a random
classification head on top), and its images are leaves drawn by the same generator with a
seed of their own, enlarged to 500x500. The small trained encoder checks every assert; a
second stand-in with a ViT-base-sized random encoder measures the real memory
(``tests/test_hub_rehearsal.py``).

Used by ``tests/test_hub_rehearsal.py`` (every notebook in hub mode) and ``tests/test_hub_path.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
from pathlib import Path

HUB_MODEL = "nateraw/vit-base-beans"
# Class counts (angular_leaf_spot, bean_rust, healthy) of the real beans splits, in their order.
REAL_SPLITS = {"train": (345, 348, 341), "validation": (44, 45, 44), "test": (43, 43, 42)}
IMAGE_SIDE = 500
STANDIN_SEED = 7  # not the offline leaves' seed: different images, same generator


def class_grouped_labels(counts) -> list[int]:
    """``(2, 1, 0)`` -> ``[0, 0, 1]``: labels in the order of the real splits (grouped by class).

    >>> class_grouped_labels((2, 1, 3))
    [0, 0, 1, 2, 2, 2]
    """
    return [label for label, count in enumerate(counts) for _ in range(count)]


def beans_split(split: str, counts, seed: int = STANDIN_SEED, side: int = IMAGE_SIDE):
    """One split as a ``datasets.Dataset`` with the beans features, JPEG bytes, class-grouped rows."""
    from datasets import Dataset
    from PIL import Image

    from imgsim_tutorial.data.beans import beans_features
    from imgsim_tutorial.data.leaves import LABEL_NAMES, draw_leaf, leaf_rng

    records = {"image_file_path": [], "image": [], "labels": []}
    for index, label in enumerate(class_grouped_labels(counts)):
        leaf, _ = draw_leaf(label, leaf_rng(seed, split, index))
        buffer = io.BytesIO()
        leaf.resize((side, side), Image.BICUBIC).save(buffer, format="JPEG", quality=90)
        name = f"{LABEL_NAMES[label]}_{split}.{index}.jpg"
        records["image_file_path"].append(f"{split}/{LABEL_NAMES[label]}/{name}")
        records["image"].append({"bytes": buffer.getvalue(), "path": name})
        records["labels"].append(label)
    return Dataset.from_dict(records, features=beans_features())


def write_beans(folder: Path, splits: dict = REAL_SPLITS, seed: int = STANDIN_SEED) -> Path:
    """Write ``folder/data/<split>-00000-of-00001.parquet`` like the Hub's beans repository."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for split, counts in splits.items():
        beans_split(split, counts, seed).to_parquet(str(folder / "data" / f"{split}-00000-of-00001.parquet"))
    return folder


def classifier_checkpoint(folder: Path) -> Path:
    """Save the shipped leaf encoder as a ``ViTForImageClassification`` (random head) in ``folder``."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTModel

    from imgsim_tutorial.embeddings import OFFLINE_CHECKPOINT

    encoder = ViTModel.from_pretrained(OFFLINE_CHECKPOINT, add_pooling_layer=False)
    config = ViTConfig.from_pretrained(OFFLINE_CHECKPOINT, architectures=["ViTForImageClassification"])
    torch.manual_seed(0)
    classifier = ViTForImageClassification(config)
    classifier.vit.load_state_dict(encoder.state_dict())
    classifier.save_pretrained(folder)
    shutil.copy(Path(OFFLINE_CHECKPOINT) / "preprocessor_config.json", folder / "preprocessor_config.json")
    return folder


def vit_base_checkpoint(folder: Path) -> Path:
    """A ``ViTForImageClassification`` of ViT-base's size (``ViTConfig()`` defaults), random weights.

    For measuring memory only: it has nateraw/vit-base-beans's architecture, input size and labels,
    so a notebook's peak with it is the real one, but no label information (asserts that need a
    trained encoder fail with it).
    """
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    from imgsim_tutorial.data.leaves import LABEL_NAMES
    from imgsim_tutorial.embeddings import OFFLINE_CHECKPOINT

    labels = dict(enumerate(LABEL_NAMES))
    config = ViTConfig(architectures=["ViTForImageClassification"], id2label=labels,
                       label2id={name: label for label, name in labels.items()})
    torch.manual_seed(0)
    ViTForImageClassification(config).save_pretrained(folder)
    preprocessor = json.loads((Path(OFFLINE_CHECKPOINT) / "preprocessor_config.json").read_text())
    preprocessor["size"] = {"height": config.image_size, "width": config.image_size}
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2))
    return folder


def add_to_hub_cache(hub_cache: Path, repo_id: str, files: Path, kind: str = "model") -> Path:
    """Place the files of ``files/`` in a Hugging Face cache as ``repo_id``'s ``main`` revision.

    The layout is the Hub client's: content-addressed ``blobs/``, ``refs/main`` naming a commit,
    ``snapshots/<commit>/<file>`` as relative links to the blobs. Returns the snapshot folder.
    """
    repo = hub_cache / f"{kind}s--{repo_id.replace('/', '--')}"
    digests = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(files.iterdir())}
    commit = hashlib.sha1(json.dumps(digests, sort_keys=True).encode()).hexdigest()
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for name, digest in digests.items():
        blob = repo / "blobs" / digest
        if not blob.exists():
            shutil.copyfile(files / name, blob)
        link = snapshot / name
        if not link.exists():
            try:
                link.symlink_to(os.path.relpath(blob, snapshot))
            except OSError:  # no symlinks (some Windows setups): the Hub client copies too
                shutil.copyfile(blob, link)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build_standin(root: Path, splits: dict = REAL_SPLITS, encoder: str = "small", beans: Path | None = None) -> dict:
    """Build the stand-in under ``root``; returns the environment that makes notebooks use it.

    ``encoder="small"``: the shipped leaf encoder (fast, carries label information);
    ``encoder="vit-base"``: a random ViT-base (to measure real memory; give it its own ``root``).
    ``beans``: the beans folder of another stand-in, shared instead of drawn again (1295 photos);
    the Hugging Face caches stay this stand-in's own.

    ``IMGSIM_MODE=hub`` with ``HF_HUB_OFFLINE=1`` is the course's "hub mode served from the local
    Hugging Face cache"; ``HF_ENDPOINT`` points at a closed local port as a second guard, so a
    request that slipped through would fail at once instead of leaving the machine.
    """
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "hub" / f"models--{HUB_MODEL.replace('/', '--')}" / "refs" / "main").exists():
        if encoder not in ("small", "vit-base"):
            raise ValueError(f"encoder must be 'small' or 'vit-base', got {encoder!r}")
        build = classifier_checkpoint if encoder == "small" else vit_base_checkpoint
        checkpoint = build(root / "checkpoint")
        add_to_hub_cache(root / "hub", HUB_MODEL, checkpoint)
        shutil.rmtree(checkpoint)
    if beans is None:
        beans = root / "beans"
        if not (beans / "data" / "test-00000-of-00001.parquet").exists():
            write_beans(beans, splits)
    return {"IMGSIM_MODE": "hub", "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(root / "hub"),
            "HF_HOME": str(root / "hf-home"), "HF_DATASETS_CACHE": str(root / "datasets-cache"),
            "IMGSIM_BEANS_DATASET": str(beans), "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}"}
