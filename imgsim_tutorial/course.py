"""What notebooks 02-08 start from: data, candidates, queries, their embeddings, the encoder on demand.

Notebook 01 walks through these steps one by one; the later notebooks only need the result,
so ``load_course`` does them in one call, with the same seeds and the same sizes (smaller on a
CPU in hub mode).

Memory matters on Binder (2 GB for all open notebooks). With ViT-base, a kernel that loads the
encoder holds about 650 MB more for good (torch, transformers and 330 MB of weights), and most
notebooks never run the encoder once the embeddings exist. So the encoder never enters the
kernel unless a notebook asks for it (``course.model``, ``course.embed`` for an upload):

- ``load_course`` reads the course's embeddings from the cache (``IMGSIM_CACHE``); what is not
  there yet, e.g. on a fresh Colab runtime, is embedded in a separate process (``worker.py``) with
  a progress bar, and kept in the cache for the next notebook;
- ``course.embed_images(images)`` embeds a few images the same way;
- photos are decoded when shown (``SplitImages``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ._support.cache import cache_dir, read_embeddings, say, warn_not_writable, write_embeddings
from ._support.memory import free_memory
from ._support.mode import HubUnavailableError, check_mode, fall_back_offline, resolve_mode
from ._support.persistence import atomic_path
from ._support.worker import run_task
from .data.beans import SplitImages, course_sizes, load_beans, seeded_subset
from .data.images import to_rgb
from .embeddings import HUB_CHECKPOINT, OFFLINE_CHECKPOINT, checkpoint_signature, embed_images, load_encoder

COURSE_FORMAT = 1
# ViT-base on 2-core CPUs, measured: 3-7 images/s (3.2 on the slower machine), after about 7 s
# to start a worker (imports, weights): 69 s for the 200 images of the CPU subset there.
SLOW_IMAGES_PER_S, FAST_IMAGES_PER_S, START_S = 3, 7, 7


@dataclass
class Course:
    """The shared starting point. Arrays are row-aligned: row i of ``candidate_embeddings`` is
    ``candidate_images[i]`` with label ``candidate_labels[i]``."""

    mode: str
    candidates: object  # datasets.Dataset (train split, seeded subset on a CPU in hub mode)
    queries: object  # datasets.Dataset (test split, likewise)
    candidate_embeddings: np.ndarray
    query_embeddings: np.ndarray
    candidate_labels: np.ndarray
    query_labels: np.ndarray
    candidate_images: SplitImages  # indexed like a list; each photo decoded when shown
    query_images: SplitImages
    label_names: list
    loaded_model: object = field(default=None, repr=False)  # None until the encoder is needed here
    loaded_processor: object = field(default=None, repr=False)

    @property
    def model(self):
        """The course's encoder, loaded into this kernel on first use (ViT-base: a few seconds
        from the local cache, and about 650 MB of memory until :meth:`release_model`)."""
        if self.loaded_model is None:
            self.loaded_processor, self.loaded_model = load_encoder(mode=self.mode)
        return self.loaded_model

    @property
    def processor(self):
        """The encoder's image processor (loaded with :attr:`model`)."""
        if self.loaded_processor is None:
            self.model  # noqa: B018 (loads both)
        return self.loaded_processor

    def release_model(self) -> None:
        """Let go of the encoder's weights; the next ``course.model`` or ``course.embed`` loads it again."""
        self.loaded_model = self.loaded_processor = None
        free_memory()

    def embed(self, image) -> np.ndarray:
        """One image's embedding with the course's encoder, in this kernel (e.g. for an upload): (d,)."""
        return embed_images([image], self.processor, self.model)[0]

    def embed_images(self, images, normalize: bool = True) -> np.ndarray:
        """Embed PIL images with the course's encoder: ``(n, d)`` float32, like :func:`embed_images`.

        If this kernel holds no encoder, they are embedded in a separate process (about 7 s to
        start with ViT-base on a CPU), so the kernel keeps only the vectors.
        """
        if isinstance(images, Image.Image):
            raise TypeError("embed_images takes a list of images; for one image use course.embed(image), "
                            "or pass [image]")
        images = images if isinstance(images, Sequence) else list(images)  # a generator, say
        if self.loaded_model is not None:
            return embed_images(images, self.processor, self.model, normalize=normalize)
        names = [f"image {i}" for i in range(len(images))]
        if not names:
            raise ValueError("embed_images got no images; pass a non-empty list of PIL images")
        pixels = {f"image_{i}": np.asarray(to_rgb(image, name)) for i, (image, name) in enumerate(zip(images, names))}
        task = {"kind": f"{__name__}:embed_images_task", "mode": self.mode, "names": names, "normalize": normalize}
        _, outputs = run_task(task, pixels)
        return outputs["embeddings"]


def course_rows(beans, sizes: dict):
    """The course's candidates (train split) and queries (test split): seeded subsets of ``sizes``."""
    return (seeded_subset(beans["train"], sizes["n_candidates"], seed=0),
            seeded_subset(beans["test"], sizes["n_queries"], seed=0))


def _record_path(mode: str) -> Path | None:
    """Where the course's sizes are recorded for this mode and encoder (None: encoder not on disk yet)."""
    checkpoint = HUB_CHECKPOINT if mode == "hub" else OFFLINE_CHECKPOINT
    signature = checkpoint_signature(checkpoint)
    return None if signature is None else cache_dir() / "embeddings" / f"course-{mode}-{signature[:16]}.json"


def _course_key(record: Path, candidates, queries) -> str:
    parts = {"format": COURSE_FORMAT, "record": record.stem, "candidates": candidates._fingerprint,
             "queries": queries._fingerprint, "normalize": True}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def remember_course(mode: str, sizes: dict, candidates, queries, vectors: dict) -> None:
    """Keep the course's embeddings in the cache, so that the next ``load_course`` reads them."""
    record = _record_path(mode)
    if record is None:
        return
    key = _course_key(record, candidates, queries)
    for part in ("candidates", "queries"):
        if not write_embeddings(record.with_name(f"course-{key}-{part}.npz"), f"{key}-{part}", vectors[part]):
            return  # not writable: warned once; the kernel gets the vectors anyway
    try:
        with atomic_path(record) as temporary:
            temporary.write_text(json.dumps({"format": COURSE_FORMAT, "sizes": sizes}))
    except OSError as error:
        warn_not_writable(record.parent, error)


def _cached_course(mode: str, beans):
    """``(sizes, candidates, queries, vectors)`` from the cache, or None if anything is missing."""
    record = _record_path(mode)
    if record is None or not record.exists():
        return None
    try:
        stored = json.loads(record.read_text())
        sizes = {name: stored["sizes"][name] for name in ("n_candidates", "n_queries", "n_baseline")}
        if stored["format"] != COURSE_FORMAT:
            raise ValueError("another format")
        if not all(size is None or (type(size) is int and size >= 1) for size in sizes.values()):
            raise ValueError(f"sizes must be whole numbers >= 1 or null, found {sizes}")
        candidates, queries = course_rows(beans, sizes)
    except (OSError, ValueError, KeyError, TypeError) as error:
        say(f"the course record {record.name} is unusable ({error}); embedding again.")
        return None
    key = _course_key(record, candidates, queries)
    vectors = {}
    for part, split in (("candidates", candidates), ("queries", queries)):
        vectors[part] = read_embeddings(record.with_name(f"course-{key}-{part}.npz"), f"{key}-{part}", split.num_rows)
        if vectors[part] is None:
            return None
    return sizes, candidates, queries, vectors


def load_course(mode: str | None = None) -> Course:
    """Load everything notebooks 02-08 need: about 5 s offline, or with the embeddings cached.

    Embeddings that are not cached yet are computed in a separate process (see the module notes):
    with ViT-base on a CPU about 7 s to start, then 200 images at 3-7 images/s: 35-75 s.
    If the Hub stops answering (``HUB_DEADLINE_S``), hub mode fails saying how to go offline; when
    the mode was decided automatically, the course goes offline instead, saying so in one line.
    """
    chosen = check_mode(mode or resolve_mode())
    try:
        return _assemble_course(chosen)
    except HubUnavailableError as error:
        if mode is not None or not fall_back_offline(error):
            raise
        return _assemble_course("offline")


def _assemble_course(mode: str) -> Course:
    beans = load_beans(mode)
    cached = _cached_course(mode, beans)
    if cached is None:
        say("embedding the course's images in a separate process, so that this kernel does not hold the "
            f"encoder ({_expected_time(mode, beans)}); kept in the cache for the next notebook.")
        result, vectors = run_task({"kind": f"{__name__}:embed_course_task", "mode": mode})
        sizes = result["sizes"]
        candidates, queries = course_rows(beans, sizes)
    else:
        sizes, candidates, queries, vectors = cached
    return Course(mode=mode, candidates=candidates, queries=queries,
                  candidate_embeddings=vectors["candidates"], query_embeddings=vectors["queries"],
                  candidate_labels=np.array(candidates["labels"]), query_labels=np.array(queries["labels"]),
                  candidate_images=SplitImages(candidates), query_images=SplitImages(queries),
                  label_names=beans["train"].features["labels"].names)


def _expected_time(mode: str, beans) -> str:
    if mode != "hub":
        return "about 20 s with the small offline encoder on 2 cores, measured"
    cpu = course_sizes(mode, "cpu")
    n = cpu["n_candidates"] + cpu["n_queries"]
    return (f"with ViT-base on a CPU {START_S + n // FAST_IMAGES_PER_S}-{START_S + n // SLOW_IMAGES_PER_S} s: "
            f"about {START_S} s to start, then {n} images at {SLOW_IMAGES_PER_S}-{FAST_IMAGES_PER_S} images/s; "
            f"on a GPU all "
            f"{beans['train'].num_rows + beans['test'].num_rows}, faster")


# -- tasks the embedding worker runs (_support/worker.py), in a separate process ------------------
def embed_course_task(task: dict, inputs: dict) -> tuple[dict, dict]:
    """Embed the course's candidates and queries and remember them in the cache."""
    from .embeddings import embed_dataset

    processor, model = load_encoder(mode=task["mode"])
    sizes = course_sizes(task["mode"], next(model.parameters()).device.type)
    candidates, queries = course_rows(load_beans(task["mode"]), sizes)
    vectors = {"candidates": embed_dataset(candidates, processor, model),
               "queries": embed_dataset(queries, processor, model)}
    remember_course(task["mode"], sizes, candidates, queries, vectors)
    return {"sizes": sizes}, vectors


def embed_images_task(task: dict, inputs: dict) -> tuple[dict, dict]:
    """Embed the images sent as arrays ``image_0``, ``image_1``... (an upload)."""
    processor, model = load_encoder(mode=task["mode"])
    images = [Image.fromarray(inputs[f"image_{i}"]) for i in range(len(task["names"]))]
    return {}, {"embeddings": embed_images(images, processor, model, normalize=task["normalize"],
                                           names=task["names"])}
