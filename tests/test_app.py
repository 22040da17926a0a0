"""The search app: pure view, every method, uploads good and bad, and the controls."""

import datetime
import io

import numpy as np
import pytest
from conftest import clustered
from PIL import Image

from imgsim_tutorial import CosineIndex, LSHIndex
from imgsim_tutorial.widgets.app import METHODS, SearchApp, build_index, search_view
from imgsim_tutorial.widgets.common import ERROR_COLOUR


@pytest.fixture(scope="module")
def parts():
    data = clustered(400, 16, n_clusters=3, spread=0.3, seed=5)
    labels = np.argmax(data @ np.random.default_rng(1).standard_normal((16, 3)), axis=1)
    images = [Image.new("RGB", (12, 12), (int(40 * label), 100, 30)) for label in labels]
    return data[40:], images[40:], labels[40:], data[:40], images[:40], labels[:40]


def upload_value(content, name="x.png"):
    """What ``FileUpload.value`` holds after one file was picked (ipywidgets 8)."""
    return ({"name": name, "type": "image/png", "size": len(content), "content": memoryview(content),
             "last_modified": datetime.datetime(2026, 1, 1)},)


def upload(app, content, name="x.png"):
    app.upload.value = upload_value(content, name)


def png(colour=(10, 120, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("method", METHODS)
def test_every_method_finds_the_exact_top_result(parts, method):
    candidates, images, labels, queries, *_ = parts
    index = build_index(method, candidates, n_bits=4, n_tables=8, n_probes=5)
    view = search_view(index, queries[0], images[0], int(labels[0]), images, labels, k=5)
    _, exact = CosineIndex().add(candidates).search(queries[0], 5)
    assert view["results"][0]["id"] == exact[0, 0] and view["time_ms"] > 0
    assert (view["lsh"] is not None) == (method == METHODS[1])


def test_lsh_details_match_the_index(parts):
    candidates, images, labels, queries, *_ = parts
    index = LSHIndex(n_bits=6, n_tables=3).add(candidates)
    details = search_view(index, queries[1], images[0], None, images, labels, k=3)["lsh"]
    codes = index.query_codes(queries[1])
    assert details["codes"] == [format(int(c), "06b") for c in codes]
    assert details["bucket_sizes"] == [int((index.codes_[t] == c).sum()) for t, c in enumerate(codes)]
    assert details["n_candidates"] == len(index.candidates(queries[1]))


def test_unknown_method_is_refused(parts):
    with pytest.raises(ValueError, match="method must be one of"):
        build_index("annoy", parts[0])


def test_app_controls(parts):
    app = SearchApp(*parts, embed=lambda image: np.ones(16, dtype=np.float32))
    assert app.lsh_controls.layout.display == "none" and "exact (CosineIndex)" in app.summary.value
    assert len(app.cards.children) == 7  # query + k=6
    app.method.value = METHODS[1]
    assert app.lsh_controls.layout.display == "flex" and "scanned" in app.lsh_info.value
    app.n_bits.value = 24
    app.n_tables.value = 1  # far too selective: fewer than k found, and the app says so
    assert "only" in app.summary.value and len(app.cards.children) < 7
    app.method.value = METHODS[2]
    assert app.lsh_info.value == "" and "FAISS HNSW" in app.summary.value
    app.k.value = 3
    assert len(app.cards.children) == 4


@pytest.mark.parametrize("content, message", [(b"", "empty"), (b"GIF89a broken", "not an image"),
                                              (b"%PDF-1.4 not an image", "not an image")])
def test_bad_uploads_keep_the_app_working(parts, content, message):
    app = SearchApp(*parts, embed=lambda image: np.ones(16, dtype=np.float32))
    before = app.view["results"]
    upload(app, content)
    assert message in app.message.value and app.view["results"] == before
    upload(app, png())
    assert "searching with your image" in app.message.value and app.view["precision"] is None
    app.query.value = 2
    assert app.message.value == "" and app.view["precision"] is not None


@pytest.mark.parametrize("method", METHODS)
def test_fewer_candidates_than_the_default_k(parts, method):
    candidates, images, labels, queries, query_images, query_labels = parts
    app = SearchApp(candidates[:3], images[:3], labels[:3], queries, query_images, query_labels)
    app.method.value = method
    assert app.k.max == 3 and app.k.value == 3
    assert 1 <= len(app.view["results"]) <= 3 and all(r["id"] < 3 for r in app.view["results"])
    app.k.value = 12  # the slider clamps it: never more than there are candidates
    assert app.k.value == 3


def test_no_candidates_is_a_clear_error(parts):
    with pytest.raises(ValueError, match="at least 1 candidate"):
        SearchApp(parts[0][:0], [], parts[2][:0], *parts[3:])


def test_an_upload_the_encoder_fails_on_keeps_the_app_working(parts):
    calls = []

    def embed(image):
        calls.append(image.size)
        if len(calls) == 1:
            raise RuntimeError("CUDA out of memory")
        return np.ones(16, dtype=np.float32)

    app = SearchApp(*parts, embed=embed)
    before = app.view["results"]
    upload(app, png())
    assert "could not be embedded (RuntimeError: CUDA out of memory)" in app.message.value
    assert app.view["results"] == before and app.uploaded is None
    upload(app, png((200, 10, 10)))
    assert "searching with your image" in app.message.value and app.view["precision"] is None


@pytest.mark.parametrize("embedding, message", [
    (np.ones(8, dtype=np.float32), "dimension 8, but the index was built with dimension 16"),
    (np.zeros(16, dtype=np.float32), "zero length"),
])
def test_the_view_refuses_an_embedding_the_index_cannot_search(parts, embedding, message):
    candidates, images, labels, *_ = parts
    for method in METHODS:
        with pytest.raises(ValueError, match=message):
            search_view(build_index(method, candidates), embedding, images[0], None, images, labels, k=3)


@pytest.mark.parametrize("embedding, message", [
    (np.ones(8, dtype=np.float32), "dimension 8, but the index was built with dimension 16"),
    (np.zeros(16, dtype=np.float32), "zero length"),
])
def test_an_upload_the_index_refuses_shows_why_and_the_app_keeps_working(parts, embedding, message):
    # Before: the ValueError escaped the upload handler and every control raised it until a test
    # image was picked. The handlers are called directly: ipywidgets would swallow the error.
    returned = iter([np.ones(16, dtype=np.float32), embedding])
    app = SearchApp(*parts, embed=lambda image: next(returned))
    app._on_upload({"new": upload_value(png(), "good.png")})
    good, shown = app.uploaded, app.view["results"]
    app._on_upload({"new": upload_value(png(), "bad.png")})
    assert "bad.png cannot be searched" in app.message.value and message in app.message.value
    assert ERROR_COLOUR in app.message.value  # styled as the other errors
    assert app.uploaded is good and app.view["results"] == shown  # the good upload is still searched
    app.k.value = 3
    assert len(app.cards.children) == 4 and "it has no label" in app.summary.value
    app.method.value = METHODS[1]
    assert "scanned" in app.lsh_info.value
    app._on_query({"new": 2})
    assert app.message.value == "" and app.uploaded is None and app.view["precision"] is not None
