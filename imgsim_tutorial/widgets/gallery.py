"""The query gallery: a query image, its top-k candidates, and how many share its label.

``gallery_view`` (pure) computes everything shown; ``QueryGallery`` only wires controls
(query slider, k slider, upload) to it and renders the result. Tests call both.
"""

from __future__ import annotations

import numpy as np

from ..data.leaves import LABEL_NAMES
from ..evaluation import precision_at_k
from ..index_base import found_mask
from .common import ERROR_COLOUR, UploadableQuery, thumbnail_card

SAME_COLOUR, DIFFERENT_COLOUR = "#2a9d4b", ERROR_COLOUR


def gallery_view(index, query_embedding, query_image, query_label, candidate_images, candidate_labels,
                 k: int = 5, names=LABEL_NAMES) -> dict:
    """What the gallery shows for one query.

    ``query_label`` may be None (an uploaded image has no label): then nothing is marked and
    precision is None. ``candidate_images`` and ``candidate_labels`` are in the order the
    candidates were added: an integer id is a position in them (the default ids 0..n-1); a
    string id (``index.add(embeddings, ids=file_names)``) is found in ``index.ids_``.
    Returns ``{"query": {...}, "results": [...], "precision": float | None}``.
    """
    scores, ids = index.search(np.asarray(query_embedding)[None, :], k)
    results = []
    for score, candidate in zip(scores[0], ids[0]):
        if not found_mask(candidate):  # an approximate index found fewer than k
            continue
        row = _position(index, candidate)
        label = int(candidate_labels[row])
        results.append({"id": candidate.item(), "image": candidate_images[row], "label": names[label],
                        "label_id": label, "score": float(score),
                        "same_label": None if query_label is None else label == query_label})
    precision = None
    if query_label is not None and results:
        precision = precision_at_k([[r["label_id"] for r in results]], [query_label])
    return {"query": {"image": query_image, "label": "uploaded" if query_label is None else names[query_label]},
            "results": results, "precision": precision}


def _position(index, candidate) -> int:
    """Where a found id's image and label are in the candidate lists (see ``gallery_view``)."""
    if not isinstance(candidate, str):
        return int(candidate)
    stored = getattr(index, "ids_", None)
    rows = np.flatnonzero(stored == candidate) if stored is not None else []
    if len(rows) != 1:
        raise ValueError(f"{type(index).__name__} returned the id {str(candidate)!r}, found {len(rows)} times in "
                         "its ids_; the gallery finds a candidate's image by its id, so give every candidate "
                         "one id of its own")
    return int(rows[0])


class QueryGallery(UploadableQuery):
    """Pick a query (or upload an image), choose k, see the top-k candidates.

    In a notebook: ``QueryGallery(index, query_embeddings, query_images, query_labels,
    candidate_images, candidate_labels, embed=course.embed).widget`` (see notebook 02).
    """

    def __init__(self, index, query_embeddings, query_images, query_labels, candidate_images, candidate_labels,
                 embed=None, k: int = 5, names=LABEL_NAMES, thumbnail: int = 96):
        import ipywidgets as w

        self.index, self.embed, self.names, self.thumbnail = index, embed, names, thumbnail
        self.query_embeddings, self.query_images = np.asarray(query_embeddings), query_images
        self.query_labels, self.candidate_images = np.asarray(query_labels), candidate_images
        self.candidate_labels = np.asarray(candidate_labels)
        self.query = w.IntSlider(value=0, min=0, max=len(query_images) - 1, description="query",
                                 continuous_update=False)
        self.k = w.IntSlider(value=k, min=1, max=min(12, len(index)), description="k", continuous_update=False)
        self.upload = w.FileUpload(accept="image/*", multiple=False, description="upload image",
                                   disabled=embed is None)
        self.message = w.HTML()
        self.summary = w.HTML()
        self.cards = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.query.observe(self._on_query, names="value")
        self.k.observe(lambda change: self.refresh(), names="value")
        self.upload.observe(self._on_upload, names="value")
        controls = w.HBox([self.query, self.k, self.upload])
        self.widget = w.VBox([controls, self.message, self.summary, self.cards])
        self.refresh()

    def current_view(self) -> dict:
        if self.uploaded is not None:
            image, embedding = self.uploaded
            return gallery_view(self.index, embedding, image, None, self.candidate_images, self.candidate_labels,
                                self.k.value, self.names)
        q = self.query.value
        return gallery_view(self.index, self.query_embeddings[q], self.query_images[q], int(self.query_labels[q]),
                            self.candidate_images, self.candidate_labels, self.k.value, self.names)

    def refresh(self):
        self.view = view = self.current_view()
        self.cards.children = gallery_cards(view, self.thumbnail)
        self.summary.value = gallery_summary(view)


def gallery_summary(view: dict) -> str:
    """One line of HTML under the controls: precision@k, or why there is none."""
    if view["precision"] is None:
        return f"<b>top-{len(view['results'])}</b> for an uploaded image (it has no label)"
    same = sum(r["same_label"] for r in view["results"])
    return (f"<b>precision@{len(view['results'])} = {view['precision']:.2f}</b> "
            f"({same} of {len(view['results'])} share the query's label)")


def gallery_cards(view: dict, thumbnail: int = 96) -> list:
    """Thumbnail cards for a gallery view: the query first, then each result, framed
    green (same label), red (different label) or grey (no label to compare)."""
    cards = [thumbnail_card(view["query"]["image"], ["query", view["query"]["label"]], "#333333", thumbnail, bold=True)]
    for rank, result in enumerate(view["results"], start=1):
        if result["same_label"] is None:
            colour, mark = "#555555", ""
        else:
            colour, mark = (SAME_COLOUR, "✓ ") if result["same_label"] else (DIFFERENT_COLOUR, "✗ ")
        cards.append(thumbnail_card(result["image"], [f"#{rank} {mark}{result['label']}", f"cos {result['score']:.3f}"],
                                    colour, thumbnail))
    return cards

