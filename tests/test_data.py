"""The offline beans dataset: same schema as the Hub's, balanced, deterministic, drawn well."""

import numpy as np
import pytest

from imgsim_tutorial import LABEL_NAMES, draw_leaf, generate_beans, load_beans, seeded_subset
from imgsim_tutorial.data.leaves import leaf_rng


def test_schema_matches_the_hub_beans(beans):
    assert set(beans) == {"train", "validation", "test"}
    assert {split: beans[split].num_rows for split in beans} == {"train": 600, "validation": 100, "test": 100}
    features = beans["train"].features
    assert features["labels"].names == ["angular_leaf_spot", "bean_rust", "healthy"]
    assert features["image_file_path"].dtype == "string"
    assert type(features["image"]).__name__ == "Image"


def test_splits_are_balanced_and_images_are_rgb(beans):
    for split in beans.values():
        counts = np.bincount(split["labels"], minlength=3)
        assert counts.max() - counts.min() <= 1
    image = beans["test"][0]["image"]
    assert image.mode == "RGB" and min(image.size) >= 96


def test_generation_is_deterministic():
    first = generate_beans(seed=3, sizes={"test": 4})["test"]
    second = generate_beans(seed=3, sizes={"test": 4})["test"]
    other = generate_beans(seed=4, sizes={"test": 4})["test"]
    pixels = [np.asarray(row["image"]) for row in first]
    assert all(np.array_equal(a, np.asarray(b["image"])) for a, b in zip(pixels, second))
    assert not all(np.array_equal(a, np.asarray(b["image"])) for a, b in zip(pixels, other))


def test_cached_dataset_is_reused(beans, private_cache):
    folders = [p.name for p in private_cache.iterdir() if p.name.startswith("leaves-")]
    assert folders == ["leaves-v1-seed0-600-100-100"]
    again = load_beans("offline")
    assert np.array_equal(np.asarray(again["test"][5]["image"]), np.asarray(beans["test"][5]["image"]))


@pytest.mark.parametrize("label", [0, 1, 2])
def test_lesion_masks_match_the_class(label):
    masks = [draw_leaf(label, leaf_rng(0, "train", i))[1] for i in range(5)]
    painted = {int(v) for mask in masks for v in np.unique(mask)} - {0}
    assert painted == ({1} if label == 0 else {2} if label == 1 else set())


def test_classes_are_not_separable_by_mean_colour(beans):
    # Distractors (yellowing, specks, holes) and random greens: colour alone must not decide.
    images = beans["train"].select(range(300))
    colour = np.array([np.asarray(row["image"], dtype=float).mean(axis=(0, 1)) for row in images])
    labels = np.array(images["labels"])
    nearest = np.argsort(((colour[:, None] - colour[None]) ** 2).sum(-1), axis=1)[:, 1:6]
    assert (labels[nearest] == labels[:, None]).mean() < 0.6


def test_bad_label_is_refused():
    with pytest.raises(ValueError, match="label must be 0, 1 or 2"):
        draw_leaf(3, leaf_rng(0, "train", 0))


def test_seeded_subset_is_reproducible(beans):
    a = seeded_subset(beans["train"], 10, seed=7)
    b = seeded_subset(beans["train"], 10, seed=7)
    assert a["image_file_path"] == b["image_file_path"] and a.num_rows == 10
    assert seeded_subset(beans["train"], None) is beans["train"]
    with pytest.raises(ValueError, match="at least 1"):
        seeded_subset(beans["train"], 0)


def test_label_names_are_the_beans_names():
    assert LABEL_NAMES == ("angular_leaf_spot", "bean_rust", "healthy")


def test_split_images_decode_on_demand_the_same_pixels(beans):
    from imgsim_tutorial.data.beans import SplitImages

    subset = seeded_subset(beans["test"], 9, seed=4)
    images = SplitImages(subset)
    assert len(images) == 9 and "9 images" in repr(images)
    expected = [np.asarray(image) for image in subset["image"]]
    assert all(np.array_equal(np.asarray(image), pixels) for image, pixels in zip(images, expected))
    assert np.array_equal(np.asarray(images[-1]), expected[-1])
    assert np.array_equal(np.asarray(images[np.int64(2)]), expected[2])
    assert [np.asarray(image).sum() for image in images[1:3]] == [pixels.sum() for pixels in expected[1:3]]
    with pytest.raises(IndexError):
        images[9]
    with pytest.raises(ValueError, match="no column 'photo'"):
        SplitImages(subset, column="photo")
