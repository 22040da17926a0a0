"""Images from the wild: phone photos, damaged or closed files, bombs, NaN pixels.

Each case was reproduced first (what a learner saw is in the comment) and now either works or
ends in a ValueError that says what happened and what to do.
"""

import io

import numpy as np
import pytest
from PIL import Image

from imgsim_tutorial import embed_dataset, embed_images, to_rgb
from imgsim_tutorial.data.images import open_image_bytes, upright
from imgsim_tutorial.widgets.common import MAX_UPLOAD_SIDE, decode_upload


def jpeg_bytes(image, orientation=None, quality=95):
    buffer = io.BytesIO()
    extra = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        extra["exif"] = exif
    image.save(buffer, format="JPEG", quality=quality, **extra)
    return buffer.getvalue()


def noise_jpeg(size=(256, 256)):
    pixels = np.random.default_rng(0).integers(0, 255, (*size, 3), dtype=np.uint8)
    return jpeg_bytes(Image.fromarray(pixels))


def sideways(image):
    """What a phone stores for an upright photo: pixels turned, plus Orientation=6 (turn back to view)."""
    return jpeg_bytes(image.transpose(Image.Transpose.ROTATE_90), orientation=6)


def test_exif_orientation_is_applied_before_embedding(encoder, beans):
    # Before: the stored (sideways) pixels were embedded; cosine to the upright photo 0.70-0.99.
    processor, model = encoder
    photos = [beans["test"][i]["image"] for i in range(5)]
    upright_vectors = embed_images([Image.open(io.BytesIO(jpeg_bytes(p))) for p in photos], processor, model)
    from_phone = embed_images([Image.open(io.BytesIO(sideways(p))) for p in photos], processor, model)
    ignoring_exif = embed_images([Image.open(io.BytesIO(jpeg_bytes(p.transpose(Image.Transpose.ROTATE_90))))
                                  for p in photos], processor, model)
    with_exif = (upright_vectors * from_phone).sum(axis=1)
    without = (upright_vectors * ignoring_exif).sum(axis=1)
    print(f"\ncosine to the upright photo: with EXIF {with_exif.min():.4f}, ignoring it {without.mean():.3f}")
    assert with_exif.min() > 0.99
    assert without.mean() < 0.97  # the control: the orientation really matters to the encoder


def test_uploads_apply_exif_orientation_too(beans):
    photo = beans["test"][0]["image"]
    decoded = decode_upload(sideways(photo), "phone.jpg")
    reference = Image.open(io.BytesIO(jpeg_bytes(photo))).convert("RGB")
    assert decoded.size == photo.size
    assert np.abs(np.asarray(decoded, float) - np.asarray(reference, float)).mean() < 4


def test_an_image_without_orientation_is_left_alone():
    image = Image.new("RGB", (4, 3))
    assert upright(image) is image


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_images_with_nan_or_inf_are_refused(bad):
    # Before: silently turned into an all-black image.
    pixels = np.full((8, 8), 0.5, dtype=np.float32)
    pixels[2, 3] = bad
    with pytest.raises(ValueError, match=r"float image with 1 NaN or infinite pixel.*nan_to_num"):
        to_rgb(Image.fromarray(pixels), "scan.tif")
    assert to_rgb(Image.fromarray(np.nan_to_num(pixels, posinf=1, neginf=0))).mode == "RGB"


def bomb_png():
    buffer = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buffer, format="PNG")  # 48 kB that decode to 400 megapixels
    return buffer.getvalue()


def test_decompression_bombs_get_a_message_not_an_exception_name():
    # Before: "upload is not an image PIL can read (DecompressionBombError)".
    with pytest.raises(ValueError, match="bomb.png claims 400 megapixels.*decompression bomb.*resize it") as caught:
        decode_upload(bomb_png(), "bomb.png")
    assert "DecompressionBombError" not in str(caught.value)


def test_truncated_files_keep_the_reason():
    # Before, uploads: "a.jpg is not an image PIL can read (OSError)" (the reason dropped).
    content = noise_jpeg()
    with pytest.raises(ValueError, match=r"a\.jpg is cut off or damaged \(image file is truncated.*download"):
        decode_upload(content[: len(content) // 2], "a.jpg")
    with pytest.raises(ValueError, match=r"photo is cut off or damaged \(image file is truncated"):
        to_rgb(Image.open(io.BytesIO(content[: len(content) // 2])), "photo")


def test_closed_files_say_what_happened(tmp_path):
    # Before: "image could not be decoded (); is the file a complete image?"
    path = tmp_path / "leaf.jpg"
    path.write_bytes(noise_jpeg())
    with Image.open(path) as image:
        pass
    with pytest.raises(ValueError, match=r"leaf was closed before its pixels were read.*with Image.open") as caught:
        to_rgb(image, "leaf")
    assert "()," not in str(caught.value) and "(); " not in str(caught.value)
    with open(path, "rb") as handle:
        lazy = Image.open(handle)
    with pytest.raises(ValueError, match="closed before its pixels were read"):
        to_rgb(lazy, "leaf")


def test_garbage_and_empty_bytes():
    with pytest.raises(ValueError, match="not an image PIL can read"):
        open_image_bytes(b"%PDF-1.4", "notes.pdf")
    with pytest.raises(ValueError, match="empty"):
        open_image_bytes(b"", "nothing.png")


def test_embed_dataset_errors_name_the_dataset_row(encoder, beans):
    # Before: "image 3 could not be decoded" for row 7 (its position inside the second batch of 4).
    from datasets import Dataset

    processor, model = encoder
    from datasets import Image as ImageFeature

    rows = beans["test"].select(range(10)).cast_column("image", ImageFeature(decode=False))
    images = list(rows["image"])
    images[7] = {"bytes": noise_jpeg()[:3000], "path": "leaf7.jpg"}
    damaged = Dataset.from_dict({"image_file_path": list(rows["image_file_path"]), "image": images,
                                 "labels": list(rows["labels"])}, features=beans["test"].features)
    with pytest.raises(ValueError, match=r"dataset row 7 is cut off or damaged"):
        embed_dataset(damaged, processor, model, batch_size=4, cache=False)


# -- large photos, 16-bit scans ----------------------------------------------------------------
PEAK_MEMORY_SCRIPT = """
import resource, sys
from imgsim_tutorial.widgets.common import decode_upload
content = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
image = decode_upload(content, "phone.jpg")
print(image.size[0], image.size[1], (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_a_24_megapixel_upload_is_decoded_small(tmp_path):
    # Before: decoded at 6000x4000, peak memory +185 MB for the decode alone (+414 MB with the
    # encoder and the thumbnail), 92 MB kept; now 1024x683, +14 MB. PIL's buffers are invisible
    # to tracemalloc, so a fresh process reports its peak resident memory (ru_maxrss).
    import subprocess
    import sys

    path = tmp_path / "phone.jpg"
    Image.new("RGB", (6000, 4000), (90, 140, 60)).save(path, quality=90)
    done = subprocess.run([sys.executable, "-c", PEAK_MEMORY_SCRIPT, str(path)], capture_output=True, text=True,
                          timeout=120, check=True)
    width, height, added_mb = map(int, done.stdout.split())
    assert (width, height) == (MAX_UPLOAD_SIDE, 683)
    assert added_mb < 40, f"decoding a 24-megapixel upload added {added_mb} MB at its peak"


def test_a_large_sideways_upload_is_shrunk_and_turned_upright():
    photo = Image.linear_gradient("L").resize((3000, 2000)).convert("RGB")  # dark top, bright bottom
    decoded = decode_upload(sideways(photo), "phone.jpg")
    assert decoded.size == (MAX_UPLOAD_SIDE, 683)
    pixels = np.asarray(decoded.convert("L"), dtype=float)
    assert pixels[:50].mean() < pixels[-50:].mean() - 100  # upright: still dark at the top
    png = io.BytesIO()
    photo.save(png, format="PNG")  # formats without draft() are decoded whole, then shrunk
    assert decode_upload(png.getvalue(), "scan.png").size == (MAX_UPLOAD_SIDE, 683)


def test_images_in_memory_over_the_pixel_limit_are_refused(monkeypatch, tmp_path):
    # Before: only uploads had a pixel limit; to_rgb decoded and converted any image.
    from imgsim_tutorial.data import images

    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    with pytest.raises(ValueError, match=r"big is 50x40 pixels.*decompression bomb.*thumbnail"):
        to_rgb(Image.new("RGB", (50, 40)), "big")
    path = tmp_path / "lazy.png"
    Image.new("RGB", (50, 40)).save(path)
    with Image.open(path) as lazy, pytest.raises(ValueError, match="megapixels"):
        to_rgb(lazy, "lazy.png")  # refused before its pixels are decoded
    assert to_rgb(Image.new("RGB", (30, 30))).size == (30, 30)


@pytest.mark.parametrize("mode", ["I;16", "I"])
def test_dark_16_bit_images_stay_dark(mode, tmp_path):
    # Before: stretched from darkest to brightest pixel, so a dark scan (values 0-2000 of 65535)
    # became 0-255, i.e. mid-grey on average.
    pixels = np.tile(np.linspace(0, 2000, 64), (16, 1)).astype(np.uint16)
    image = Image.fromarray(pixels if mode == "I;16" else pixels.astype(np.int32))
    assert image.mode == mode
    rgb = np.asarray(to_rgb(image), dtype=float)
    np.testing.assert_allclose(rgb[..., 0], np.round(pixels.astype(float) * 255 / 65535), atol=0.5)
    assert rgb.max() <= 8  # 2000 / 65535 of white
    path = tmp_path / "scan.png"
    Image.fromarray(pixels).save(path)  # a 16-bit PNG file, as a scanner writes it
    assert np.asarray(to_rgb(Image.open(path))).max() <= 8
    white = Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16))
    assert np.asarray(to_rgb(white)).min() == 255


def test_integer_images_outside_16_bits_are_refused():
    with pytest.raises(ValueError, match=r"values from -5 to 70000, outside the 16-bit range.*astype\(np.uint8\)"):
        to_rgb(Image.fromarray(np.array([[-5, 70000]], dtype=np.int32)), "depth map")
