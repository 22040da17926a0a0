"""Pieces every widget shares: thumbnails as PNG bytes, result cards, and safe uploads.

Pure helpers (no widget state) so they can be tested without a browser or a kernel.
"""

from __future__ import annotations

import html
import io

ERROR_COLOUR = "#d1495b"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# Uploads are decoded at most this many pixels on their longer side: the encoder looks at 224 x 224,
# a card at about 100; a 24-megapixel phone photo decoded whole would add about 400 MB to the kernel.
MAX_UPLOAD_SIDE = 1024


def thumbnail_png(image, size: int = 96) -> bytes:
    """A PIL image shrunk to fit ``size`` x ``size``, as PNG bytes for ``ipywidgets.Image``."""
    from ..embeddings import to_rgb

    small = to_rgb(image).copy()
    small.thumbnail((size, size))
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    return buffer.getvalue()


def decode_upload(content: bytes, name: str = "upload"):
    """Bytes from a ``FileUpload`` -> an upright RGB PIL image, or a ValueError a learner can act on.

    The image is at most :data:`MAX_UPLOAD_SIDE` pixels on its longer side, shrunk while it is
    decoded. Size limits, decompression bombs, damaged files and the EXIF orientation of phone
    photos are handled by ``images.open_image_bytes`` and ``images.to_rgb``.
    """
    from ..data.images import open_image_bytes, to_rgb

    if len(content) > MAX_UPLOAD_BYTES:
        raise ValueError(f"{name} is {len(content) / 2**20:.0f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB. "
                         "Resize it or pick a smaller image")
    return to_rgb(open_image_bytes(content, name, max_side=MAX_UPLOAD_SIDE), name)


def uploaded_files(value):
    """``FileUpload.value`` -> list of ``(name, bytes)`` (ipywidgets 8 gives a tuple of dicts)."""
    return [(item.get("name", "upload"), bytes(item.get("content", b""))) for item in (value or ())]


def card_caption(lines, colour: str | None = None, align: str = "center") -> str:
    """HTML for a small caption (under a thumbnail, or a message); ``lines`` are escaped."""
    style = f"color:{colour};" if colour else ""
    body = "<br>".join(html.escape(str(line)) for line in lines)
    return f"<div style='font-size:11px;line-height:1.25;text-align:{align};{style}'>{body}</div>"


def thumbnail_card(image, lines, colour: str | None = None, size: int = 96, bold: bool = False):
    """A thumbnail with a caption under it (a ``VBox``); framed in ``colour`` when one is given."""
    import ipywidgets as w

    border = f"{4 if bold else 3}px solid {colour}" if colour else None
    picture = w.Image(value=thumbnail_png(image, size), format="png",
                      layout=w.Layout(width=f"{size}px", height=f"{size}px", border=border))
    return w.VBox([picture, w.HTML(card_caption(lines, colour))], layout=w.Layout(margin="2px", align_items="center"))


def figure_png(figure) -> bytes:
    """A matplotlib figure as PNG bytes (then closed), for ``ipywidgets.Image``."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()


class UploadableQuery:
    """Mixin for widgets that search with a picked test image or an uploaded one.

    The widget provides ``embed`` (image -> embedding, or None to disable uploads), ``message``
    (an HTML widget) and ``refresh()``; this keeps ``uploaded`` = ``(image, embedding)`` or None.
    A bad upload, one the encoder fails on, or one whose embedding the index refuses (another
    dimension, an all-zero vector) shows a message and changes nothing else.
    """

    uploaded = None

    def _on_query(self, change):
        self.uploaded = None
        self.message.value = ""
        self.refresh()

    def _on_upload(self, change):
        import numpy as np

        files = uploaded_files(change["new"])
        if not files:
            return
        name, content = files[0]
        try:
            image = decode_upload(content, name)
        except ValueError as error:
            self.message.value = card_caption([str(error)], ERROR_COLOUR, align="left")
            return
        try:
            embedding = np.asarray(self.embed(image), dtype=np.float32).ravel()
            if not np.isfinite(embedding).all():
                raise ValueError("the embedding holds NaN or infinite values")
        except Exception as error:  # any encoder failure: say so, keep the current results
            self.message.value = card_caption(
                [f"{name} could not be embedded ({type(error).__name__}: {error}); try another image"],
                ERROR_COLOUR, align="left")
            return
        previous, self.uploaded = self.uploaded, (image, embedding)
        try:
            self.refresh()
        except ValueError as error:  # the index refuses it (another dimension, a zero vector)
            self.uploaded = previous
            self.message.value = card_caption([f"{name} cannot be searched: {error}"], ERROR_COLOUR, align="left")
            return
        self.message.value = card_caption([f"searching with your image {name}"], align="left")
