"""Procedural bean leaves: the offline stand-in for the `beans` dataset.

The real `beans` dataset (photos of bean leaves from Uganda) needs the Hugging Face Hub. With no
network the course draws its own leaves instead, with the same three classes:

- ``angular_leaf_spot``: angular brown lesions whose straight edges stop at the veins;
- ``bean_rust``: many small round orange-brown pustules, each with a pale halo;
- ``healthy``: no lesions.

Every leaf also gets distractors (holes, dark specks, yellowing) so that colour alone does not
decide the class, and a random pose, size, colour, lighting and background. Each image is fully
determined by ``(seed, split, index)``, so two machines draw the same pixels.

Alongside each image the generator returns a lesion mask (0 = none, 1 = angular spot,
2 = rust); ``scripts/train_offline_encoder.py`` uses it as an auxiliary training signal.
This module only draws; ``data.py`` turns the drawings into a ``datasets.DatasetDict``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

LABEL_NAMES = ("angular_leaf_spot", "bean_rust", "healthy")
SPLIT_IDS = {"train": 0, "validation": 1, "test": 2}
IMAGE_SIZE = 128


def leaf_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random generator for one image, e.g. ``leaf_rng(0, "train", 5)``."""
    return np.random.default_rng([seed, SPLIT_IDS.get(split, 3), index])


def _background(rng, size):
    """A soft two-colour gradient with noise: soil, stone, or a pale tray."""
    palettes = [((92, 70, 50), (140, 110, 80)), ((120, 120, 110), (170, 165, 150)),
                ((200, 195, 180), (235, 230, 220)), ((60, 75, 55), (95, 110, 80))]
    low, high = (np.array(c, float) for c in palettes[rng.integers(len(palettes))])
    low, high = low * rng.uniform(0.85, 1.15), high * rng.uniform(0.85, 1.15)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / size
    t = (np.cos(angle) * xx + np.sin(angle) * yy + 1) / 2
    pixels = low + (high - low) * t[..., None] + rng.normal(0, 6, (size, size, 3))
    return np.clip(pixels, 0, 255)


def _leaf_outline(rng, size):
    """Polygon of an ovate leaf with a pointed tip, plus its centre, axis and half-length."""
    half_length = size * rng.uniform(0.36, 0.46)
    width_ratio = rng.uniform(0.55, 0.8)
    theta = np.linspace(0, 2 * np.pi, 90, endpoint=False)
    # Along the axis the leaf is widest behind the middle and tapers to a tip at +x.
    along = np.cos(theta)
    across = np.sin(theta) * width_ratio * (1 - 0.35 * along) * (1 - 0.25 * along ** 8)
    angle = rng.uniform(0, 2 * np.pi)
    axis = np.array([np.cos(angle), np.sin(angle)])
    normal = np.array([-axis[1], axis[0]])
    centre = size / 2 + rng.uniform(-0.06, 0.06, 2) * size
    points = centre + half_length * (along[:, None] * axis + across[:, None] * normal)
    return points, centre, axis, normal, half_length


def _veins(centre, axis, normal, half_length, rng):
    """Line segments of the midrib and the paired lateral veins."""
    base, tip = centre - half_length * axis, centre + half_length * 0.95 * axis
    segments = [(base, tip)]
    for t in np.linspace(-0.6, 0.65, rng.integers(4, 7)):
        start = centre + t * half_length * axis
        for side in (-1, 1):
            reach = half_length * 0.55 * (1 - 0.45 * t ** 2)
            end = start + reach * (0.6 * axis + side * 0.8 * normal)
            segments.append((start, end))
    return segments


def _inside(polygon_mask, point):
    x, y = int(round(point[0])), int(round(point[1]))
    return 0 <= x < polygon_mask.shape[1] and 0 <= y < polygon_mask.shape[0] and polygon_mask[y, x]


def _angular_spots(draw, mask_draw, rng, leaf_mask, veins):
    """Brown polygons with straight edges, sitting between two neighbouring veins."""
    for _ in range(rng.integers(5, 12)):
        start, end = veins[rng.integers(1, len(veins))]
        t = rng.uniform(0.2, 0.8)
        centre = start + t * (end - start)
        direction = (end - start) / (np.linalg.norm(end - start) + 1e-9)
        # Step off the vein sideways, so the lesion sits in the area a vein bounds.
        centre = centre + np.array([-direction[1], direction[0]]) * rng.uniform(2.5, 5) * rng.choice([-1, 1])
        if not _inside(leaf_mask, centre):
            continue
        radius = rng.uniform(2.5, 5.5)
        corners = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(4, 7)))
        # Squash along the vein so edges run parallel to it, like lesions stopped by veins.
        polygon = [tuple(centre + radius * (np.cos(a) * direction * 1.4
                                            + np.sin(a) * np.array([-direction[1], direction[0]]) * 0.8))
                   for a in corners]
        shade = rng.uniform(0.7, 1.1)
        draw.polygon(polygon, fill=tuple(int(c * shade) for c in (105, 75, 45)))
        mask_draw.polygon(polygon, fill=1)


def _rust_pustules(draw, mask_draw, rng, leaf_points):
    """Many small round orange-brown pustules, each inside a paler halo."""
    lo, hi = leaf_points.min(0), leaf_points.max(0)
    count = rng.integers(15, 50)
    centres = rng.uniform(lo, hi, (count * 3, 2))
    leaf_path = ImageDraw.Image.new("1", (IMAGE_SIZE, IMAGE_SIZE))
    ImageDraw.Draw(leaf_path).polygon([tuple(p) for p in leaf_points], fill=1)
    inside = np.asarray(leaf_path)
    kept = [c for c in centres if _inside(inside, c)][:count]
    for x, y in kept:
        r = rng.uniform(1.0, 2.0)
        halo = r + rng.uniform(1.0, 1.8)
        draw.ellipse((x - halo, y - halo, x + halo, y + halo), fill=(190, 180, 90))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(int(rng.uniform(150, 190)), 85, 35))
        mask_draw.ellipse((x - halo, y - halo, x + halo, y + halo), fill=2)


def _distractors(draw, rng, leaf_points, background_colour):
    """Holes, dark specks and yellowing that every class may have."""
    lo, hi = leaf_points.min(0), leaf_points.max(0)
    for _ in range(rng.integers(0, 3)):  # insect holes show the background through the leaf
        x, y = rng.uniform(lo, hi)
        r = rng.uniform(1.5, 3.5)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=background_colour)
    for _ in range(rng.integers(0, 8)):  # dirt specks: small, dark, no halo
        x, y = rng.uniform(lo, hi)
        r = rng.uniform(0.6, 1.4)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(50, 45, 35))


def draw_leaf(label: int, rng: np.random.Generator, size: int = IMAGE_SIZE):
    """Draw one leaf of class ``label``; returns ``(PIL RGB image, uint8 lesion mask (size, size))``.

    >>> image, mask = draw_leaf(1, leaf_rng(0, "train", 0)); image.size, int(mask.max())
    ((128, 128), 2)
    """
    if label not in (0, 1, 2):
        raise ValueError(f"label must be 0, 1 or 2 ({', '.join(LABEL_NAMES)}), got {label!r}")
    background = _background(rng, size)
    points, centre, axis, normal, half_length = _leaf_outline(rng, size)
    leaf_layer = Image.new("L", (size, size))
    ImageDraw.Draw(leaf_layer).polygon([tuple(p) for p in points], fill=255)
    leaf_mask = np.asarray(leaf_layer) > 0

    # Leaf colour: a random green with a lighting gradient across the blade.
    green = np.array([rng.uniform(55, 95), rng.uniform(115, 165), rng.uniform(35, 70)])
    light_angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / size - 0.5
    light = 1 + rng.uniform(0.1, 0.3) * (np.cos(light_angle) * xx + np.sin(light_angle) * yy) * 2
    blade = np.clip(green * light[..., None] + rng.normal(0, 4, (size, size, 3)), 0, 255)
    if rng.random() < 0.5:  # yellowing: a large soft patch, on any class
        cy, cx = rng.uniform(0.25, 0.75, 2) - 0.5
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * rng.uniform(0.01, 0.03)))
        blade = blade + blob[..., None] * np.array([90, 40, -10]) * rng.uniform(0.5, 1)
    pixels = np.where(leaf_mask[..., None], np.clip(blade, 0, 255), background)
    image = Image.fromarray(pixels.astype(np.uint8))
    draw = ImageDraw.Draw(image)

    veins = _veins(centre, axis, normal, half_length, rng)
    vein_colour = tuple(int(min(255, c * 1.35 + 20)) for c in green)
    for i, (start, end) in enumerate(veins):
        draw.line([tuple(start), tuple(end)], fill=vein_colour, width=2 if i == 0 else 1)
    # Keep veins on the blade: re-paint the background over anything drawn outside the leaf.
    image = Image.fromarray(np.where(leaf_mask[..., None], np.asarray(image), background.astype(np.uint8)))
    draw = ImageDraw.Draw(image)

    mask = Image.new("L", (size, size))
    mask_draw = ImageDraw.Draw(mask)
    if label == 0:
        _angular_spots(draw, mask_draw, rng, leaf_mask, veins)
    elif label == 1:
        _rust_pustules(draw, mask_draw, rng, points)
    _distractors(draw, rng, points, tuple(int(c) for c in background[size // 2, 0]))
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 0.6)))
    lesions = np.asarray(mask).copy()
    lesions[~leaf_mask] = 0
    return image, lesions


def split_labels(n: int, seed: int, split: str) -> np.ndarray:
    """Balanced labels for a split, shuffled deterministically: ``split_labels(6, 0, "test")``."""
    labels = np.arange(n) % len(LABEL_NAMES)
    np.random.default_rng([seed, SPLIT_IDS.get(split, 3), 10**6]).shuffle(labels)
    return labels


def generate_split(n: int, seed: int = 0, split: str = "train", with_masks: bool = False):
    """Draw ``n`` balanced leaves; returns ``(images, labels)`` or ``(images, labels, masks)``."""
    labels = split_labels(n, seed, split)
    images, masks = [], []
    for index, label in enumerate(labels):
        image, lesions = draw_leaf(int(label), leaf_rng(seed, split, index))
        images.append(image)
        masks.append(lesions)
    if with_masks:
        return images, labels, np.stack(masks)
    return images, labels
