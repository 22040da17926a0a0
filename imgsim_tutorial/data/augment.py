"""Augmented copies of images: near-duplicates whose pairs we know for sure.

Builds on ``leaves.py`` and ``embeddings.py``. To measure a near-duplicate finder
(``neardup.py``) we need a collection in which every duplicate pair is known. Real photo
collections hold the same picture many times over: cropped, slightly rotated, brightened,
saved again as JPEG. This module makes such copies of some images, so that the pairs
``(original, copy)`` and ``(copy, copy of the same original)`` are the ground truth.

Each copy is fully determined by ``(seed, copy number)``, so two machines make the same pixels.
It leaves out heavier edits (flips, collages, overlays of text): those are a harder problem.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageEnhance

AUGMENTATIONS = ("crop", "rotate", "brightness", "jpeg")


def crop(image, keep: float = 0.85, rng=None):
    """Keep a ``keep`` share of width and height at a random place, resized back to the old size."""
    rng = rng or np.random.default_rng(0)
    width, height = image.size
    new_w, new_h = max(1, round(width * keep)), max(1, round(height * keep))
    left, top = int(rng.integers(0, width - new_w + 1)), int(rng.integers(0, height - new_h + 1))
    return image.crop((left, top, left + new_w, top + new_h)).resize(image.size, Image.BILINEAR)


def rotate(image, degrees: float = 10.0):
    """Rotate about the centre; the corners are filled with the image's mean colour."""
    fill = tuple(int(c) for c in np.asarray(image.convert("RGB")).reshape(-1, 3).mean(axis=0))
    return image.convert("RGB").rotate(degrees, resample=Image.BILINEAR, fillcolor=fill)


def brightness(image, factor: float = 1.2):
    """Multiply the brightness by ``factor`` (1 = unchanged)."""
    return ImageEnhance.Brightness(image.convert("RGB")).enhance(factor)


def jpeg(image, quality: int = 30):
    """Save as JPEG at ``quality`` (1-95) and decode again: block artefacts, shifted colours."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def augment(image, kind: str, rng=None):
    """One random edit of ``kind`` (one of :data:`AUGMENTATIONS`), with a random strength.

    >>> copy = augment(Image.new("RGB", (32, 32), "green"), "rotate", np.random.default_rng(0))
    >>> copy.size, copy.mode
    ((32, 32), 'RGB')
    """
    rng = rng or np.random.default_rng(0)
    if kind == "crop":
        return crop(image, keep=float(rng.uniform(0.75, 0.92)), rng=rng)
    if kind == "rotate":
        return rotate(image, degrees=float(rng.choice([-1, 1]) * rng.uniform(4, 15)))
    if kind == "brightness":
        return brightness(image, factor=float(rng.choice([rng.uniform(0.65, 0.85), rng.uniform(1.15, 1.4)])))
    if kind == "jpeg":
        return jpeg(image, quality=int(rng.integers(15, 45)))
    raise ValueError(f"unknown augmentation {kind!r}; choose one of {AUGMENTATIONS}")


def augmented_copies(images, n_sources: int, kinds=AUGMENTATIONS, copies_per_source: int = 1, seed: int = 0):
    """Copies of ``n_sources`` images picked with ``seed``: ``(copies, source_ids, kinds_used)``.

    Copy c is an edit of ``images[source_ids[c]]``; the edits cycle through ``kinds``.

    >>> leaves = [Image.new("RGB", (16, 16), colour) for colour in ("red", "green", "blue")]
    >>> copies, sources, used = augmented_copies(leaves, n_sources=2, seed=0)
    >>> len(copies), sources.tolist(), used
    (2, [1, 2], ['crop', 'rotate'])
    """
    if not hasattr(images, "__getitem__") or not hasattr(images, "__len__"):
        images = list(images)  # a sequence is indexed in place: only the picked images are decoded
    if not 1 <= n_sources <= len(images):
        raise ValueError(f"n_sources must be between 1 and the number of images ({len(images)}), got {n_sources}")
    if copies_per_source < 1:
        raise ValueError(f"copies_per_source must be at least 1, got {copies_per_source}")
    unknown = [kind for kind in kinds if kind not in AUGMENTATIONS]
    if unknown or not len(kinds):
        raise ValueError(f"kinds must be a non-empty list drawn from {AUGMENTATIONS}, got {list(kinds)}")
    sources = np.sort(np.random.default_rng(seed).choice(len(images), size=n_sources, replace=False))
    source_ids = np.repeat(sources, copies_per_source)
    kinds_used = [kinds[c % len(kinds)] for c in range(len(source_ids))]
    copies = [augment(images[source], kind, np.random.default_rng([seed, c]))
              for c, (source, kind) in enumerate(zip(source_ids.tolist(), kinds_used))]
    return copies, source_ids, kinds_used


def known_duplicate_pairs(source_ids, n_originals: int) -> np.ndarray:
    """The true duplicate pairs once the copies are appended after ``n_originals`` images.

    Copy c gets row ``n_originals + c``. Returns int64 (m, 2), each row ``(i, j)`` with i < j:
    every (original, copy) pair and every pair of copies of the same original.

    >>> known_duplicate_pairs([4, 4, 7], n_originals=10).tolist()
    [[4, 10], [4, 11], [7, 12], [10, 11]]
    """
    source_ids = np.asarray(source_ids, dtype=np.int64)
    rows = n_originals + np.arange(len(source_ids))
    pairs = [(int(s), int(r)) for s, r in zip(source_ids, rows)]
    for source in np.unique(source_ids):
        same = rows[source_ids == source]
        pairs += [(int(a), int(b)) for k, a in enumerate(same) for b in same[k + 1:]]
    return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
