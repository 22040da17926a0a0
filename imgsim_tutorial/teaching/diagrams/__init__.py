"""Pictures of the course's machinery, drawn from the real structures: the search pipeline (00),
LSH (04), IVF cells (06), a neighbour graph's walk and HNSW's layers (07), product quantisation (08).

``plotting.py`` draws measurements; this module draws the *ideas* those measurements are about,
as static matplotlib figures so they also show on GitHub and nbviewer, where widgets do not run.
Where it matters they are drawn from real numbers, so a learner can check the picture by eye:

- :func:`lsh_structure_diagram`: bits and bucket codes computed from the hyperplanes it draws;
- :func:`ivf_diagram`: a fitted ``IVFIndex``: its cells, lists, probed cells and scanned items;
- :func:`graph_walk_diagram`: a ``GraphIndex`` and the path its traced search (``walk``) took;
- :func:`hnsw_layers_diagram`: FAISS's ``IndexHNSWFlat``, its layers read from ``index.hnsw``;
- :func:`pq_diagram`: a ``PQIndex``'s codebooks, one code and a query's distance table, whose
  entries add up to the score ``search`` returns.

The point sets are unit vectors in 3-D near one pole, drawn in *gnomonic* projection (x/z, y/z):
seen from the sphere's centre, great circles are straight lines, so the borders where two
centroids are equally close by cosine are straight and each IVF cell is an exact polygon.
Each figure keeps what it drew in ``figure.structure``, for the tests and for curious learners.

One module per picture: ``pipeline`` (00, 04), ``ivf`` (06), ``graphs`` (07), ``pq`` (08); ``_draw``
holds what they share.
"""

from __future__ import annotations

from ._draw import CELL_COLOURS, cap_points, cosine_cell, gnomonic, lift
from .graphs import graph_walk_diagram, hnsw_descent, hnsw_layers_diagram, hnsw_links
from .ivf import ivf_diagram
from .pipeline import lsh_code, lsh_structure_diagram, pipeline_diagram
from .pq import pq_diagram

__all__ = [
    "CELL_COLOURS",
    "cap_points",
    "cosine_cell",
    "gnomonic",
    "graph_walk_diagram",
    "hnsw_descent",
    "hnsw_layers_diagram",
    "hnsw_links",
    "ivf_diagram",
    "lift",
    "lsh_code",
    "lsh_structure_diagram",
    "pipeline_diagram",
    "pq_diagram",
]
