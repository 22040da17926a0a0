"""Near-duplicate pairs (LSH candidates + exact verification) against the brute-force oracle,
and the augmented copies that give offline leaves a known ground truth."""

import numpy as np
import pytest
from PIL import Image

from imgsim_tutorial.data.augment import AUGMENTATIONS, augment, augmented_copies, known_duplicate_pairs
from imgsim_tutorial.data.synthetic import realistic_embeddings
from imgsim_tutorial.neardup import (
    COSINE_TOLERANCE,
    brute_force_pairs,
    compare_pairs,
    near_duplicate_pairs,
    pairs_in_buckets,
    plant_near_copies,
)

RECALL_FLOOR = 0.9  # near_duplicate_pairs vs brute force on realistic data with planted copies


@pytest.fixture(scope="module")
def planted():
    embeddings, _ = realistic_embeddings(3000, 128, seed=3)
    return plant_near_copies(embeddings, 60, seed=4)


def numpy_all_pairs(vectors, threshold):
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = vectors @ vectors.T
    i, j = np.nonzero(np.triu(scores >= threshold - COSINE_TOLERANCE, k=1))  # the documented rule
    return {(a, b) for a, b in zip(i.tolist(), j.tolist())}, scores


def test_brute_force_matches_numpy_in_any_block_size(rng):
    vectors = rng.standard_normal((300, 16)).astype(np.float32)
    expected, scores = numpy_all_pairs(vectors, 0.5)
    for memory_mb in (64, 0.001):  # one block, then one row per block
        pairs = brute_force_pairs(vectors, 0.5, memory_mb=memory_mb)
        assert set(map(tuple, pairs.as_array().tolist())) == expected
        assert (pairs.i < pairs.j).all() and (np.diff(pairs.cosine) <= 0).all()
        np.testing.assert_allclose(pairs.cosine, scores[pairs.i, pairs.j], atol=1e-5)
    assert len(expected) > 10


def test_pairs_in_buckets_by_hand_and_against_a_loop(rng):
    i, j, oversized = pairs_in_buckets(np.array([7, 3, 7, 7, 3]))
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 2), (0, 3), (1, 4), (2, 3)] and oversized == []
    codes = rng.integers(0, 20, size=500)
    i, j, _ = pairs_in_buckets(codes)
    loop = {(a, b) for a in range(500) for b in range(a + 1, 500) if codes[a] == codes[b]}
    assert set(zip(i.tolist(), j.tolist())) == loop and len(i) == len(loop)


def test_lsh_pairs_are_verified_and_find_most_pairs(planted):
    collection, truth = planted
    reference = brute_force_pairs(collection, 0.9)
    found = near_duplicate_pairs(collection, 0.9, n_bits=16, n_tables=16, seed=0)
    quality = compare_pairs(found, reference)
    assert quality["precision"] == 1.0  # every returned pair was checked by its exact cosine
    assert quality["recall"] >= RECALL_FLOOR, quality
    assert compare_pairs(found, truth)["recall"] >= RECALL_FLOOR
    assert (found.cosine >= 0.9 - COSINE_TOLERANCE).all() and (np.diff(found.cosine) <= 0).all()
    assert found.stats["share_compared"] < 0.05  # far fewer pairs than brute force


def test_threshold_one_finds_every_exact_copy():
    # Before: near_duplicate_pairs found 858 of 1,000 exact copies, brute_force_pairs 693, and
    # reported cosines up to 1.0000005 (float32 rounding of a unit vector times itself).
    embeddings, _ = realistic_embeddings(4000, 128, seed=1)
    sources = np.random.default_rng(0).choice(len(embeddings), 1000, replace=False)
    collection = np.vstack([embeddings, embeddings[sources]])
    truth = np.stack([sources, len(embeddings) + np.arange(1000)], axis=1)
    for pairs in (brute_force_pairs(collection, 1.0), near_duplicate_pairs(collection, 1.0, n_bits=16, n_tables=8)):
        assert compare_pairs(pairs, truth)["recall"] == 1.0
        assert pairs.cosine.max() <= 1.0 and (pairs.cosine >= 1.0 - COSINE_TOLERANCE).all()


@pytest.mark.parametrize("scale", [1e30, 1e-25])
def test_huge_and_tiny_values_give_the_same_pairs(planted, scale):
    # Before: at 1e30 the float32 squares overflowed, every row became a zero vector and no pair
    # was found; at 1e-25 they vanished and every row was refused as "zero length".
    from imgsim_tutorial.vectors import normalize

    np.testing.assert_allclose(normalize([[scale, scale]]), [[0.5**0.5, 0.5**0.5]], rtol=1e-6)
    collection, _ = planted
    expected = brute_force_pairs(collection, 0.9).as_array()
    np.testing.assert_array_equal(brute_force_pairs(collection * np.float32(scale), 0.9).as_array(), expected)
    scaled = near_duplicate_pairs(collection * np.float32(scale), 0.9, n_bits=16, n_tables=16)
    np.testing.assert_array_equal(scaled.as_array(), near_duplicate_pairs(collection, 0.9, n_bits=16,
                                                                          n_tables=16).as_array())


def test_one_long_table_misses_pairs(planted):
    """The recall floor above can fail: one table of 32 bits almost never lets two copies meet."""
    collection, _ = planted
    reference = brute_force_pairs(collection, 0.9)
    sparse = near_duplicate_pairs(collection, 0.9, n_bits=32, n_tables=1)
    assert compare_pairs(sparse, reference)["recall"] < RECALL_FLOOR


def test_oversized_buckets_are_scanned_or_reported(planted):
    collection, _ = planted
    settings = dict(n_bits=6, n_tables=4, seed=1)
    uncapped = near_duplicate_pairs(collection, 0.9, max_bucket_size=len(collection), **settings)
    scanned = near_duplicate_pairs(collection, 0.9, max_bucket_size=50, **settings)
    assert scanned.stats["n_oversized_buckets"] > 0 and scanned.stats["n_scanned_in_big_buckets"] > 0
    assert scanned.stats["share_compared"] >= scanned.stats["n_candidate_pairs"] / (len(collection) ** 2 / 2)
    assert set(map(tuple, scanned.as_array().tolist())) == set(map(tuple, uncapped.as_array().tolist()))
    with pytest.warns(UserWarning, match="not examined"):
        skipped = near_duplicate_pairs(collection, 0.9, max_bucket_size=50, oversized="skip", **settings)
    assert skipped.stats["n_pairs_skipped"] > 0 and len(skipped) < len(uncapped)


def test_planted_copies_have_the_cosines_asked_for(rng):
    collection, truth = plant_near_copies(rng.standard_normal((200, 64)), 20, cosine_range=(0.93, 0.97), seed=0)
    cosines = np.sum(collection[truth[:, 0]] * collection[truth[:, 1]], axis=1)
    assert collection.shape == (220, 64) and (truth[:, 1] >= 200).all()
    assert cosines.min() >= 0.93 - 1e-4 and cosines.max() <= 0.97 + 1e-4


@pytest.mark.parametrize("call, match", [
    (lambda x: near_duplicate_pairs(x, 1.5), "threshold"),
    (lambda x: near_duplicate_pairs(x, 0.9, n_bits=0), "n_bits"),
    (lambda x: near_duplicate_pairs(x, 0.9, n_bits=8.5), "n_bits"),
    (lambda x: near_duplicate_pairs(x, 0.9, n_tables=0), "n_tables"),
    (lambda x: near_duplicate_pairs(x, 0.9, max_bucket_size=1), "max_bucket_size"),
    (lambda x: near_duplicate_pairs(x, 0.9, oversized="drop"), "oversized"),
    (lambda x: near_duplicate_pairs(x, 0.9, n_bits=1, n_tables=1, max_bucket_size=10**6), "candidate pairs"),
    (lambda x: brute_force_pairs(x, -2), "threshold"),
    (lambda x: plant_near_copies(x, 10**6), "n_copies"),
    (lambda x: plant_near_copies(x, 3, cosine_range=(0.9, 1.0)), "cosine_range"),
])
def test_bad_settings_are_rejected(call, match, monkeypatch):
    import imgsim_tutorial.neardup as neardup

    monkeypatch.setattr(neardup, "MAX_CANDIDATE_PAIRS", 1000)
    with pytest.raises(ValueError, match=match):
        call(np.random.default_rng(0).standard_normal((200, 8)))


def test_compare_pairs_counts():
    assert compare_pairs(np.array([[0, 1], [2, 3]]), np.array([[0, 1], [4, 5]]))["recall"] == 0.5
    assert compare_pairs(np.zeros((0, 2)), np.zeros((0, 2)))["precision"] == 1.0


# -- augmented copies ---------------------------------------------------------------------------
def test_each_augmentation_changes_pixels_and_is_reproducible():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    for kind in AUGMENTATIONS:
        first = augment(image, kind, np.random.default_rng(5))
        again = augment(image, kind, np.random.default_rng(5))
        assert first.size == image.size and first.mode == "RGB"
        assert np.array_equal(np.asarray(first), np.asarray(again))
        assert not np.array_equal(np.asarray(first), np.asarray(image)), kind
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment(image, "flip")


def test_known_pairs_and_bad_requests():
    assert known_duplicate_pairs([2, 2], n_originals=5).tolist() == [[2, 5], [2, 6], [5, 6]]
    images = [Image.new("RGB", (8, 8), (i, i, i)) for i in range(4)]
    copies, sources, kinds = augmented_copies(images, 2, copies_per_source=2, seed=1)
    assert len(copies) == 4 and len(set(sources.tolist())) == 2 and kinds == list(AUGMENTATIONS)
    with pytest.raises(ValueError, match="n_sources"):
        augmented_copies(images, 5)
    with pytest.raises(ValueError, match="kinds"):
        augmented_copies(images, 2, kinds=["blur"])


def test_leaf_copies_are_found_through_the_encoder(beans, encoder):
    """Offline leaves + their augmented copies: LSH finds what brute force finds at the same
    threshold, and most JPEG/brightness copies sit above it (they keep the leaf's pixels)."""
    from imgsim_tutorial import embed_images

    processor, model = encoder
    leaves = list(beans["train"].select(range(120))["image"])
    copies, sources, kinds = augmented_copies(leaves, 24, seed=0)
    embeddings = embed_images(leaves + copies, processor, model)
    truth = known_duplicate_pairs(sources, len(leaves))
    reference = brute_force_pairs(embeddings, 0.97)
    found = near_duplicate_pairs(embeddings, 0.97, n_bits=12, n_tables=16, center=True)
    assert compare_pairs(found, reference)["recall"] >= RECALL_FLOOR
    pixel_kept = np.isin(kinds, ["jpeg", "brightness"])
    original_copy = {tuple(pair) for pair in truth[truth[:, 1] >= len(leaves)].tolist()}
    found_set = set(map(tuple, reference.as_array().tolist()))
    hits = [(int(s), len(leaves) + c) in found_set for c, s in enumerate(sources) if pixel_kept[c]]
    assert np.mean(hits) >= 0.5 and original_copy


def test_augmented_copies_opens_only_the_images_it_copies():
    class Counting:  # a sequence that records which images were opened
        def __init__(self, n):
            self.n, self.opened = n, []

        def __len__(self):
            return self.n

        def __getitem__(self, row):
            self.opened.append(row)
            return Image.new("RGB", (16, 16), (row % 256, 0, 0))

    images = Counting(50)
    copies, sources, _ = augmented_copies(images, n_sources=3, seed=1)
    assert len(copies) == 3 and sorted(set(images.opened)) == sorted(set(sources.tolist()))
