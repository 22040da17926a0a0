"""The search app: the course's parts assembled into one small image-search tool.

Pick a test image or upload your own, choose the method (exact cosine, LSH with its settings,
FAISS HNSW) and k; see the results, the query time, and for LSH which bucket the query fell
into in every table and how many candidates it scanned. ``search_view`` (pure) computes all of
it; ``SearchApp`` wires the controls. It runs in a notebook and, with ``make app``, as a
standalone Voila page.
"""

from __future__ import annotations

import html

import numpy as np

from ..cosine_search import CosineIndex
from ..data.leaves import LABEL_NAMES
from ..evaluation import time_call
from ..hash_tables import LSHIndex
from ..index_base import ShortResultWarning
from .common import UploadableQuery
from .gallery import gallery_cards, gallery_summary, gallery_view

METHODS = ("exact (CosineIndex)", "LSH (LSHIndex)", "FAISS HNSW")


def build_index(method: str, embeddings, n_bits: int = 8, n_tables: int = 10, n_probes: int = 1):
    """An index for one of :data:`METHODS`, fitted on ``embeddings``."""
    if method == METHODS[0]:
        return CosineIndex().add(embeddings)
    if method == METHODS[1]:
        return LSHIndex(n_bits=n_bits, n_tables=n_tables, n_probes=n_probes).add(embeddings)
    if method == METHODS[2]:
        from ..faiss_index import HNSWIndex

        return HNSWIndex().add(embeddings)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def search_view(index, query_embedding, query_image, query_label, candidate_images, candidate_labels,
                k: int = 5, names=LABEL_NAMES) -> dict:
    """The gallery view plus ``time_ms`` (median of 3 searches) and, for LSH, ``lsh`` details."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortResultWarning)  # fewer than k candidates: the view shows fewer results
        view = gallery_view(index, query_embedding, query_image, query_label, candidate_images, candidate_labels,
                            k, names)
        timing = time_call(index.search, query_embedding, k, repeats=3, warmup=0)
    view["time_ms"] = timing["median_s"] * 1e3
    view["lsh"] = None
    if isinstance(index, LSHIndex):
        codes = index.query_codes(query_embedding)
        view["lsh"] = {"codes": [format(int(code), f"0{index.n_bits}b") for code in codes],
                       "bucket_sizes": [len(index.bucket_members(t, code)) for t, code in enumerate(codes)],
                       "n_candidates": int(len(index.candidates(query_embedding))), "n_items": len(index)}
    return view


def lsh_summary(details: dict) -> str:
    """HTML: the query's bucket in each table and how much of the data it scanned."""
    cells = "".join(f"<span>table {t}: <code>{code}</code> ({size} items)</span>"
                    for t, (code, size) in enumerate(zip(details["codes"], details["bucket_sizes"])))
    share = details["n_candidates"] / details["n_items"]
    grid = "display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:2px 12px;font-size:11px"
    return (f"<div style='font-size:12px'>scanned <b>{details['n_candidates']}</b> of {details['n_items']} "
            f"candidates ({share:.1%}); the query's bucket in each table:<div style='{grid}'>{cells}</div></div>")


class SearchApp(UploadableQuery):
    """Upload or pick a query, choose a method and k, and search."""

    def __init__(self, candidate_embeddings, candidate_images, candidate_labels, query_embeddings, query_images,
                 query_labels, embed=None, names=LABEL_NAMES, thumbnail: int = 104):
        import ipywidgets as w

        self.candidate_embeddings = np.asarray(candidate_embeddings)
        if len(self.candidate_embeddings) < 1 or len(query_images) < 1:
            raise ValueError(f"SearchApp needs at least 1 candidate and 1 query, got {len(self.candidate_embeddings)} "
                             f"candidates and {len(query_images)} queries")
        self.candidate_images, self.candidate_labels = candidate_images, np.asarray(candidate_labels)
        self.query_embeddings, self.query_images = np.asarray(query_embeddings), query_images
        self.query_labels, self.embed, self.names, self.thumbnail = np.asarray(query_labels), embed, names, thumbnail
        self.indexes = {}
        slider = dict(continuous_update=False, style={"description_width": "70px"})
        self.method = w.Dropdown(options=METHODS, value=METHODS[0], description="method")
        most = min(12, len(self.candidate_embeddings))  # k can never exceed the candidates there are
        self.k = w.IntSlider(value=min(6, most), min=1, max=most, description="k", **slider)
        self.n_bits = w.IntSlider(value=8, min=2, max=24, description="n_bits", **slider)
        self.n_tables = w.IntSlider(value=10, min=1, max=32, description="n_tables", **slider)
        self.n_probes = w.IntSlider(value=1, min=1, max=17, description="n_probes", **slider)
        self.lsh_controls = w.HBox([self.n_bits, self.n_tables, self.n_probes])
        self.query = w.IntSlider(value=0, min=0, max=len(query_images) - 1, description="test image", **slider)
        self.upload = w.FileUpload(accept="image/*", multiple=False, description="upload image",
                                   disabled=embed is None)
        self.message, self.summary, self.lsh_info = w.HTML(), w.HTML(), w.HTML()
        self.cards = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        for control in (self.method, self.n_bits, self.n_tables, self.n_probes):
            control.observe(lambda change: self.refresh(), names="value")
        self.k.observe(lambda change: self.refresh(), names="value")
        self.query.observe(self._on_query, names="value")
        self.upload.observe(self._on_upload, names="value")
        title = w.HTML("<h3 style='margin:4px 0'>Bean leaf image search</h3>")
        self.widget = w.VBox([title, w.HBox([self.query, self.upload]), w.HBox([self.method, self.k]),
                              self.lsh_controls, self.message, self.summary, self.cards, self.lsh_info])
        self.refresh()

    def current_index(self):
        key = (self.method.value,) + ((self.n_bits.value, self.n_tables.value, self.n_probes.value)
                                      if self.method.value == METHODS[1] else ())
        if key not in self.indexes:
            self.indexes[key] = build_index(self.method.value, self.candidate_embeddings, *key[1:])
        return self.indexes[key]

    def refresh(self):
        self.lsh_controls.layout.display = "flex" if self.method.value == METHODS[1] else "none"
        index = self.current_index()
        if self.uploaded is not None:
            image, embedding = self.uploaded
            label = None
        else:
            q = self.query.value
            image, embedding, label = self.query_images[q], self.query_embeddings[q], int(self.query_labels[q])
        self.view = view = search_view(index, embedding, image, label, self.candidate_images, self.candidate_labels,
                                       self.k.value, self.names)
        self.cards.children = gallery_cards(view, self.thumbnail)
        found = len(view["results"])
        short = f" (only {found} found: add tables or probes)" if found < self.k.value else ""
        self.summary.value = (f"{gallery_summary(view)} &nbsp;·&nbsp; {html.escape(self.method.value)}: "
                              f"<b>{view['time_ms']:.2f} ms</b> per query{short}")
        self.lsh_info.value = lsh_summary(view["lsh"]) if view["lsh"] else ""
