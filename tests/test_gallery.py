"""The query gallery: its pure view function, and the widget driven headless."""

import datetime
import io

import numpy as np
import pytest
from PIL import Image

from imgsim_tutorial import CosineIndex
from imgsim_tutorial.widgets import QueryGallery, gallery_view
from imgsim_tutorial.widgets.common import decode_upload, thumbnail_png


@pytest.fixture(scope="module")
def toy():
    """Six 2-D candidates in three labelled directions, two queries, coloured squares as images."""
    candidates = np.array([[1, 0.1], [1, -0.1], [0.1, 1], [-0.1, 1], [-1, 0.1], [-1, -0.1]], dtype=np.float32)
    labels = np.array([0, 0, 1, 1, 2, 2])
    colours = [(200, 0, 0), (180, 0, 0), (0, 200, 0), (0, 180, 0), (0, 0, 200), (0, 0, 180)]
    images = [Image.new("RGB", (20, 20), colour) for colour in colours]
    queries = np.array([[1, 0], [0.2, 1]], dtype=np.float32)
    return CosineIndex().add(candidates), queries, [images[0], images[2]], np.array([0, 2]), images, labels


def test_view_by_hand(toy):
    index, queries, query_images, query_labels, images, labels = toy
    view = gallery_view(index, queries[0], query_images[0], 0, images, labels, k=3)
    assert [r["id"] for r in view["results"]] == [0, 1, 2]
    assert [r["same_label"] for r in view["results"]] == [True, True, False]
    assert view["precision"] == pytest.approx(2 / 3)
    assert view["query"]["label"] == "angular_leaf_spot"
    assert view["results"][2]["label"] == "bean_rust"
    assert view["results"][0]["score"] == pytest.approx(1 / np.sqrt(1.01), abs=1e-5)


def test_view_of_an_upload_has_no_label(toy):
    index, queries, _, _, images, labels = toy
    view = gallery_view(index, queries[1], images[3], None, images, labels, k=2)
    assert view["precision"] is None and view["query"]["label"] == "uploaded"
    assert all(r["same_label"] is None for r in view["results"])


def test_view_with_string_ids(toy):
    # Before: TypeError ('<' not supported between instances of 'str_' and 'int').
    _, queries, query_images, _, images, labels = toy
    candidates = np.array([[1, 0.1], [1, -0.1], [0.1, 1], [-0.1, 1], [-1, 0.1], [-1, -0.1]], dtype=np.float32)
    names = np.array([f"leaf_{i}.jpg" for i in range(6)])
    by_name = CosineIndex().add(candidates, ids=names)
    view = gallery_view(by_name, queries[0], query_images[0], 0, images, labels, k=3)
    assert [r["id"] for r in view["results"]] == ["leaf_0.jpg", "leaf_1.jpg", "leaf_2.jpg"]
    assert [r["image"] for r in view["results"]] == images[:3]  # each id's own image and label
    assert view["precision"] == pytest.approx(2 / 3)
    gallery = QueryGallery(by_name, queries, query_images, np.array([0, 2]), images, labels, k=2)
    assert "precision@2 = 1.00" in gallery.summary.value
    doubled = CosineIndex().add(candidates, ids=np.array(["same.jpg"] * 6))
    with pytest.raises(ValueError, match="'same.jpg', found 6 times in its ids_.*one id of its own"):
        gallery_view(doubled, queries[0], query_images[0], 0, images, labels, k=1)


def captions(gallery):
    return [card.children[1].value for card in gallery.cards.children]


def test_widget_shows_and_follows_the_controls(toy):
    index, queries, query_images, query_labels, images, labels = toy
    gallery = QueryGallery(index, queries, query_images, query_labels, images, labels, k=2)
    assert len(gallery.cards.children) == 3  # query + 2 results
    assert "precision@2 = 1.00" in gallery.summary.value
    assert "#1 ✓ angular_leaf_spot" in captions(gallery)[1]
    first_image = gallery.cards.children[1].children[0].value
    assert first_image == thumbnail_png(images[0])
    gallery.k.value = 4
    assert len(gallery.cards.children) == 5 and "precision@4 = 0.50" in gallery.summary.value
    gallery.query.value = 1  # label 2 (healthy) but nearest vectors are label 1
    assert "precision@4 = 0.00" in gallery.summary.value
    assert "✗ bean_rust" in captions(gallery)[1]
    assert gallery.upload.disabled  # no embed function given


def png_bytes(colour=(0, 200, 0), size=(30, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_upload_searches_with_the_uploaded_image(toy):
    index, queries, query_images, query_labels, images, labels = toy
    embedded = []

    def embed(image):
        embedded.append(image.getpixel((0, 0)))
        return np.array([0.0, 1.0], dtype=np.float32)

    gallery = QueryGallery(index, queries, query_images, query_labels, images, labels, embed=embed, k=2)
    gallery.upload.value = ({"name": "leaf.png", "type": "image/png", "size": 10, "content": memoryview(png_bytes()),
                             "last_modified": datetime.datetime(2026, 1, 1)},)
    assert embedded == [(0, 200, 0)]
    assert "uploaded" in captions(gallery)[0] and "it has no label" in gallery.summary.value
    assert {r["id"] for r in gallery.view["results"]} == {2, 3}
    gallery.query.value = 1  # picking a test query again leaves the upload
    assert "precision@2" in gallery.summary.value


@pytest.mark.parametrize("content, message", [(b"", "empty"), (b"not an image at all", "not an image"),
                                              (png_bytes()[:40], "not an image")])
def test_bad_uploads_show_a_message_and_keep_working(toy, content, message):
    index, queries, query_images, query_labels, images, labels = toy
    gallery = QueryGallery(index, queries, query_images, query_labels, images, labels,
                           embed=lambda image: np.array([1.0, 0.0]), k=2)
    before = captions(gallery)
    gallery.upload.value = ({"name": "bad.png", "type": "image/png", "size": len(content),
                             "content": memoryview(content), "last_modified": datetime.datetime(2026, 1, 1)},)
    assert message in gallery.message.value
    assert captions(gallery) == before
    gallery.k.value = 3
    assert len(gallery.cards.children) == 4


def test_huge_uploads_are_refused(monkeypatch):
    from imgsim_tutorial.data import images
    from imgsim_tutorial.widgets import common

    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    with pytest.raises(ValueError, match="megapixels"):
        decode_upload(png_bytes(size=(20, 20)))
    monkeypatch.setattr(common, "MAX_UPLOAD_BYTES", 10)
    with pytest.raises(ValueError, match="MB"):
        decode_upload(png_bytes())


def test_static_gallery_draws_one_panel_per_image(toy):
    from imgsim_tutorial.teaching import plotting

    index, queries, query_images, query_labels, images, labels = toy
    figure = plotting.plot_gallery(gallery_view(index, queries[0], query_images[0], 0, images, labels, k=4))
    titles = [axis.get_title() for axis in figure.axes]
    assert len(figure.axes) == 5 and titles[0].startswith("query")
    assert titles[1].startswith("✓") and titles[3].startswith("✗")
