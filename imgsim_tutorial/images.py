"""Images as the encoder needs them: upright, 8-bit RGB, and readable, or a clear reason why not.

Builds on PIL; used by ``embeddings.py`` (every image goes through :func:`to_rgb` before the
encoder) and by the widgets' uploads (:func:`open_image_bytes`). Photos from the wild are
messier than the bean leaves the course draws:

- phone cameras store pixels sideways and an EXIF *Orientation* tag saying how to turn them;
  ignoring it embeds the photo rotated (cosine 0.92 to the upright photo instead of 1.0);
- files can be cut off, closed before PIL read them (PIL decodes lazily), or far too large
  (a *decompression bomb*: a small file that decodes to gigabytes);
- float images can hold NaN or infinite pixels, which have no colour.

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


def open_image_bytes(content: bytes, name: str = "image"):
    """Decode image file bytes into a loaded PIL image, refusing bombs and damaged files.

    >>> from PIL import Image; buffer = io.BytesIO(); Image.new("RGB", (3, 2)).save(buffer, "PNG")
    >>> open_image_bytes(buffer.getvalue()).size
    (3, 2)
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
                opened.load()
                return opened.copy()
    except ValueError:
        raise
    except Exception as error:
        raise ValueError(describe_decode_error(name, error)) from error


def upright(image):
    """``image`` turned as its EXIF Orientation tag says (the same image if there is none)."""
    from PIL import ImageOps

    try:
        orientation = image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # an unreadable EXIF block: nothing to apply
        return image
    return ImageOps.exif_transpose(image) if orientation not in (None, 1) else image


def _scaled_to_bytes(image, name: str):
    """A 16-bit or float grayscale image stretched to 8 bits; NaN/inf pixels are refused."""
    from PIL import Image

    values = np.asarray(image, dtype=np.float64)
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
