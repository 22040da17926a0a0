"""Images as the encoder needs them: upright, 8-bit RGB, and readable, or a clear reason why not.

Builds on PIL; used by ``embeddings.py`` (every image goes through :func:`to_rgb` before the
encoder) and by the widgets' uploads (:func:`open_image_bytes`). Photos from the wild are
messier than the bean leaves the course draws:

- phone cameras store pixels sideways and an EXIF *Orientation* tag saying how to turn them;
  ignoring it embeds the photo rotated (cosine 0.92 to the upright photo instead of 1.0);
- files can be cut off, closed before PIL read them (PIL decodes lazily), or far too large
  (a *decompression bomb*: a small file that decodes to gigabytes);
- a 24-megapixel phone photo takes 72 MB as RGB pixels, several times that while decoding, but
  the encoder looks at 224 x 224 pixels: uploads are decoded straight to a smaller size;
- 16-bit scans keep their brightness (65535 is white), float images can hold NaN or infinite
  pixels, which have no colour.

Each case ends in a ``ValueError`` that says what happened and what to do.
"""

from __future__ import annotations

import io
import re
import warnings

import numpy as np

ORIENTATION_TAG = 0x0112  # EXIF "Orientation": 1 = upright; 6 = turn 90 degrees clockwise to view
MAX_PIXELS = 40_000_000  # far above any photo the course needs; refused before decoding


def describe_decode_error(name: str, error: BaseException) -> str:
    """A one-sentence explanation of why PIL could not read an image, with what to do."""
    from PIL import Image, UnidentifiedImageError

    reason = str(error).strip()
    if isinstance(error, Image.DecompressionBombError):
        pixels = re.search(r"\((\d+) pixels\)", reason)
        size = f"{int(pixels.group(1)) / 1e6:.0f} megapixels" if pixels else "too many pixels"
        return (f"{name} claims {size}, more than PIL decodes safely (a possible decompression bomb: a small "
                f"file that expands to gigabytes); resize it below {MAX_PIXELS // 10**6} megapixels first")
    if isinstance(error, UnidentifiedImageError):
        return f"{name} is not an image PIL can read; choose a .jpg, .png, .webp or .bmp file"
    if isinstance(error, AssertionError) or "closed" in reason:
        return (f"{name} was closed before its pixels were read (PIL reads lazily); use the image inside "
                "its `with Image.open(...)` block, or call image.load() there")
    if isinstance(error, OSError) or "truncated" in reason.lower():
        return (f"{name} is cut off or damaged ({reason or type(error).__name__}); copy or download the file "
                "again")
    return f"{name} could not be decoded ({type(error).__name__}: {reason or 'no reason given'})"


def open_image_bytes(content: bytes, name: str = "image", max_side: int | None = None):
    """Decode image file bytes into a loaded PIL image, refusing bombs and damaged files.

    With ``max_side``, a larger image is decoded to at most ``max_side`` pixels on its longer
    side (see :func:`shrink_while_decoding`), so its full-size pixels never fill memory.

    >>> from PIL import Image; buffer = io.BytesIO(); Image.new("RGB", (300, 200)).save(buffer, "JPEG")
    >>> open_image_bytes(buffer.getvalue()).size, open_image_bytes(buffer.getvalue(), max_side=30).size
    ((300, 200), (30, 20))
    """
    from PIL import Image

    if not content:
        raise ValueError(f"{name} is empty (0 bytes); choose an image file such as a .jpg or .png")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is lower
            with Image.open(io.BytesIO(content)) as opened:
                if opened.width * opened.height > MAX_PIXELS:
                    raise ValueError(f"{name} is {opened.width}x{opened.height} pixels; the limit is "
                                     f"{MAX_PIXELS // 10**6} megapixels. Resize it first")
                if max_side is not None and max(opened.size) > max_side:
                    shrink_while_decoding(opened, max_side)
                opened.load()
                return opened.copy()
    except ValueError:
        raise
    except Exception as error:
        raise ValueError(describe_decode_error(name, error)) from error


def shrink_while_decoding(image, max_side: int) -> None:
    """Decode a not-yet-loaded ``image`` to at most ``max_side`` pixels on its longer side, in place.

    ``draft`` makes the JPEG decoder itself scale by 1/2, 1/4 or 1/8 (6000x4000 -> 1500x1000
    for ``max_side=1024``), so the full-size pixels are never decoded; ``thumbnail`` then
    resizes to the exact size. Other formats are decoded at full size, then resized.
    """
    scale = max_side / max(image.size)
    image.draft(None, (max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    # Pillow cannot reduce() 16-bit images on the way down: those are resized in one step
    image.thumbnail((max_side, max_side), reducing_gap=None if image.mode.startswith("I;16") else 2.0)


def upright(image):
    """``image`` turned as its EXIF Orientation tag says (the same image if there is none)."""
    from PIL import ImageOps

    try:
        orientation = image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # an unreadable EXIF block: nothing to apply
        return image
    return ImageOps.exif_transpose(image) if orientation not in (None, 1) else image


def _scaled_to_bytes(image, name: str):
    """A 16-bit or float grayscale image as 8 bits.

    16-bit pixels are scaled by the whole 16-bit range (65535 -> 255), so a dark scan stays dark;
    stretching its darkest..brightest pixels to 0..255 would turn it mid-grey. Float pixels have
    no fixed range and are stretched; NaN/inf pixels are refused.
    """
    from PIL import Image

    values = np.asarray(image, dtype=np.float64)
    if image.mode != "F":  # "I;16..." or "I" (32-bit integers, as which 16-bit files often open)
        if values.min() < 0 or values.max() > 65535:
            raise ValueError(f"{name} is an integer image with values from {values.min():.0f} to {values.max():.0f}, "
                             "outside the 16-bit range 0-65535; scale it to 8 bits first, e.g. "
                             "Image.fromarray((pixels / pixels.max() * 255).astype(np.uint8))")
        return Image.fromarray(np.round(values * (255 / 65535)).astype(np.uint8))
    bad = int((~np.isfinite(values)).sum())
    if bad:
        raise ValueError(f"{name} is a float image with {bad} NaN or infinite pixel(s), which have no colour; "
                         "replace them first, e.g. Image.fromarray(np.nan_to_num(pixels))")
    low, span = values.min(), values.max() - values.min()
    return Image.fromarray(((values - low) / (span if span > 0 else 1) * 255).astype(np.uint8))


def to_rgb(image, name: str = "image"):
    """Any PIL image as upright 8-bit RGB; transparent areas become white. Clear errors otherwise.

    >>> from PIL import Image; to_rgb(Image.new("LA", (4, 4))).mode
    'RGB'
    """
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise TypeError(f"{name} is a {type(image).__name__}, expected a PIL.Image.Image; "
                        "open files with PIL.Image.open(path)")
    if image.width * image.height > MAX_PIXELS:  # checked before load(): a lazily opened file is not decoded yet
        raise ValueError(f"{name} is {image.width}x{image.height} pixels ({image.width * image.height / 1e6:.0f} "
                         f"megapixels), more than the {MAX_PIXELS // 10**6} megapixels this course decodes (a "
                         "possible decompression bomb: a small file that expands to gigabytes); shrink it first, "
                         "e.g. image.thumbnail((1024, 1024))")
    try:
        image.load()  # PIL decodes lazily: a truncated, corrupt or closed file only fails here
    except Exception as error:
        raise ValueError(describe_decode_error(name, error)) from error
    if image.width < 1 or image.height < 1:
        raise ValueError(f"{name} has size {image.size}; an image needs at least 1x1 pixels")
    image = upright(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit or float grayscale
        image = _scaled_to_bytes(image, name)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(canvas, image.convert("RGBA"))
    return image.convert("RGB")
