"""The offline encoder and embed_images: loading, shapes, image modes, errors, quality."""

import io
import json
import stat

import numpy as np
import pytest
from PIL import Image

from imgsim_tutorial import embed_dataset, embed_images, embedding_function, load_encoder, to_rgb
from imgsim_tutorial.embeddings import OFFLINE_CHECKPOINT, pixel_vectors, random_init_like
from imgsim_tutorial.evaluation import label_precision


def test_checkpoint_is_in_hugging_face_format_and_world_readable():
    for name in ("config.json", "model.safetensors", "preprocessor_config.json"):
        path = OFFLINE_CHECKPOINT / name
        assert path.exists(), name
        assert path.stat().st_mode & stat.S_IROTH, f"{name} is not world-readable"
    config = json.loads((OFFLINE_CHECKPOINT / "config.json").read_text())
    assert config["model_type"] == "vit" and config["architectures"] == ["ViTModel"]
    assert not list(OFFLINE_CHECKPOINT.glob("*.bin")) and not list(OFFLINE_CHECKPOINT.glob("*.pkl"))


def test_encoder_loads_through_automodel(encoder):
    processor, model = encoder
    assert type(model).__name__ == "ViTModel" and not model.training
    assert model.config.hidden_size == 192
    assert processor.size == {"height": 64, "width": 64}


def test_embeddings_have_the_right_shape_and_unit_length(encoder, beans):
    processor, model = encoder
    images = beans["test"][:5]["image"]
    vectors = embed_images(images, processor, model, batch_size=2)
    assert vectors.shape == (5, 192) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    raw = embed_images(images, processor, model, normalize=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), vectors, atol=1e-5)


def test_batch_size_does_not_change_the_result(encoder, beans):
    processor, model = encoder
    images = beans["test"][:7]["image"]
    np.testing.assert_allclose(embed_images(images, processor, model, batch_size=3),
                               embed_images(images, processor, model, batch_size=7), atol=1e-5)


def test_dataset_map_path_matches_embed_images(encoder, beans):
    processor, model = encoder
    subset = beans["test"].select(range(6))
    mapped = subset.map(embedding_function(processor, model), batched=True, batch_size=4)
    np.testing.assert_allclose(np.array(mapped["embeddings"]), embed_images(subset["image"], processor, model),
                               atol=1e-5)


def test_embed_dataset_is_cached(encoder, beans, private_cache):
    processor, model = encoder
    subset = beans["validation"].select(range(4))
    first = embed_dataset(subset, processor, model)
    files = list((private_cache / "embeddings").glob("*.npz"))
    assert files
    second = embed_dataset(subset, processor, model)
    np.testing.assert_array_equal(first, second)
    other = embed_dataset(beans["validation"].select(range(1, 5)), processor, model)
    np.testing.assert_allclose(other[:3], first[1:], atol=1e-5)


def test_raw_vectors_come_from_the_same_cache_file(encoder, beans, private_cache, monkeypatch):
    """normalize=False (the raw lengths, notebook 01) is a file read, not a second pass of the model."""
    processor, model = encoder
    subset = beans["validation"].select(range(4))
    unit = embed_dataset(subset, processor, model)
    monkeypatch.setattr("imgsim_tutorial.embeddings.embed_rows", lambda *a, **k: pytest.fail("the model ran again"))
    raw = embed_dataset(subset, processor, model, normalize=False)
    np.testing.assert_allclose(raw, embed_images(subset["image"], processor, model, normalize=False), atol=1e-5)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), unit, atol=1e-6)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1, atol=1e-3)  # they are not unit length already
    np.testing.assert_allclose(unit, embed_images(subset["image"], processor, model), atol=1e-5)


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "1", "I;16", "F", "RGB"])
def test_any_pil_mode_becomes_rgb(encoder, mode):
    processor, model = encoder
    image = Image.new(mode, (50, 70))
    assert to_rgb(image).mode == "RGB"
    assert embed_images([image], processor, model).shape == (1, 192)


def test_any_size_works(encoder):
    processor, model = encoder
    images = [Image.new("RGB", (1, 1)), Image.new("RGB", (1500, 20)), Image.new("RGB", (300, 300))]
    assert embed_images(images, processor, model).shape == (3, 192)


def test_transparent_pixels_become_white():
    clear = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    assert to_rgb(clear).getpixel((0, 0)) == (255, 255, 255)


def test_not_an_image_names_the_item(encoder):
    processor, model = encoder
    with pytest.raises(TypeError, match="image 1 is a ndarray, expected a PIL.Image.Image"):
        embed_images([Image.new("RGB", (8, 8)), np.zeros((8, 8, 3))], processor, model)


def test_corrupt_image_names_the_item(encoder):
    processor, model = encoder
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(buffer, format="PNG")
    truncated = Image.open(io.BytesIO(buffer.getvalue()[:60]))
    with pytest.raises(ValueError, match=r"image 2 is cut off or damaged \(image file is truncated"):
        embed_images([Image.new("RGB", (8, 8))] * 2 + [truncated], processor, model)


def test_empty_input_and_bad_batch_size_are_refused(encoder):
    processor, model = encoder
    with pytest.raises(ValueError, match="no images"):
        embed_images([], processor, model)
    with pytest.raises(ValueError, match="batch_size"):
        embed_images([Image.new("RGB", (8, 8))], processor, model, batch_size=0)


def test_offline_encoder_is_genuinely_useful(encoder, beans, leaf_embeddings):
    processor, model = encoder
    (train, train_labels), (test, test_labels) = leaf_embeddings["train"], leaf_embeddings["test"]
    trained = label_precision(train, train_labels, test, test_labels, k=5)
    untrained_model = random_init_like(model)
    random_init = label_precision(embed_images(beans["train"]["image"], processor, untrained_model), train_labels,
                                  embed_images(beans["test"]["image"], processor, untrained_model), test_labels, k=5)
    pixels = label_precision(pixel_vectors(beans["train"]["image"]), train_labels,
                             pixel_vectors(beans["test"]["image"]), test_labels, k=5)
    print(f"\nprecision@5 test vs train: trained {trained:.3f}, random init {random_init:.3f}, raw pixels {pixels:.3f}")
    assert trained >= 0.85
    assert random_init < 0.6 and pixels < 0.6


def test_load_course_gives_aligned_rows(leaf_embeddings):
    from imgsim_tutorial import load_course

    course = load_course("offline")
    assert course.candidate_embeddings.shape == (600, 192) and course.query_embeddings.shape == (100, 192)
    assert len(course.candidate_images) == len(course.candidate_labels) == 600
    np.testing.assert_allclose(course.candidate_embeddings, leaf_embeddings["train"][0], atol=1e-6)
    np.testing.assert_allclose(course.embed(course.query_images[7]), course.query_embeddings[7], atol=1e-5)
    assert course.label_names == ["angular_leaf_spot", "bean_rust", "healthy"]


def test_a_missing_checkpoint_folder_is_named(tmp_path):
    with pytest.raises(ValueError, match="is not a folder; pass a folder in Hugging Face format"):
        load_encoder(tmp_path / "no-such-model")


def test_default_batch_size_is_small_for_a_large_model_on_a_cpu(encoder):
    import torch

    from imgsim_tutorial.embeddings import default_batch_size

    assert default_batch_size(encoder[1].to("cpu")) == 32  # 1.3 M parameters
    assert default_batch_size(torch.nn.Linear(4500, 4500)) == 1  # 20 M: ViT-base-sized, on a CPU one image at a time


def test_dataset_map_names_its_result_without_pickling_the_model(encoder, beans):
    """datasets fingerprints a map by pickling its function: the model's weights must not be pickled."""
    from datasets.fingerprint import Hasher
    from datasets.utils._dill import dumps

    processor, model = encoder
    function = embedding_function(processor, model)
    assert len(dumps(function)) < 5_000, "the identity, not the weights (offline encoder: 5 MB)"
    assert Hasher.hash(function) == Hasher.hash(embedding_function(processor, model))
    assert Hasher.hash(function) != Hasher.hash(embedding_function(processor, random_init_like(model)))
    assert Hasher.hash(function) != Hasher.hash(embedding_function(processor, model, normalize=False))


def test_embed_dataset_never_pickles_the_model(encoder, beans, monkeypatch):
    processor, model = encoder
    pickled = []
    monkeypatch.setattr(type(model), "__reduce_ex__", lambda self, protocol: pickled.append(protocol) or 1 / 0,
                        raising=False)
    vectors = embed_dataset(beans["test"].select(range(3)), processor, model, cache=False)
    assert vectors.shape == (3, 192) and not pickled


def test_random_init_from_a_config_matches_random_init_from_the_model(encoder):
    processor, model = encoder
    from_model, from_config = random_init_like(model, seed=3), random_init_like(model.config, seed=3)
    image = [Image.new("RGB", (64, 64), "green")]
    np.testing.assert_allclose(embed_images(image, processor, from_model), embed_images(image, processor, from_config))


def test_course_frees_its_encoder_and_loads_it_again_when_needed(leaf_embeddings):
    from imgsim_tutorial import load_course

    course = load_course("offline")
    assert course.loaded_model is None, "load_course lets go of the encoder once the embeddings exist"
    np.testing.assert_allclose(course.embed(course.query_images[3]), course.query_embeddings[3], atol=1e-5)
    assert course.loaded_model is course.model
    course.release_model()
    assert course.loaded_model is None


def test_embed_images_takes_split_images_batch_by_batch(encoder, beans):
    from imgsim_tutorial.data.beans import SplitImages

    processor, model = encoder
    subset = beans["test"].select(range(5))
    np.testing.assert_array_equal(embed_images(SplitImages(subset), processor, model, batch_size=2),
                                  embed_images(subset["image"], processor, model, batch_size=2))
