"""A FAISS index inside an index file: what its bytes declare, checked before FAISS reads them.

Builds on ``index_file.py`` (the checked ``.npz`` that carries the bytes). FAISS trusts the
sizes written in its own files: a 200 KB crafted HNSW file once made it allocate 16.8 GB before
it refused. So :func:`read_faiss_index` checks the index's kind, vector count and dimension
against the file's header, every length it declares against the bytes that follow, and for an
HNSW graph or IVF lists that the sizes agree with each other; then FAISS reads the bytes with
its allocation limit lowered to a few times their length.
"""

from __future__ import annotations

import importlib
import struct
import threading

import numpy as np

# FAISS's own format (faiss/impl/index_read.cpp): a four-letter kind, then a fixed header, then
# each vector as its length (uint64) followed by its items. We read the fixed fields and lengths.
_FLOAT_HEADER = struct.Struct("<4siqqq?i")  # kind, d, ntotal, two unused int64s, is_trained, metric
_BINARY_HEADER = struct.Struct("<4siiq?i")  # kind, d, code_size, ntotal, is_trained, metric
_HNSW_KINDS, _IVF_KINDS = {"IHNf", "IHNp", "IHNs"}, {"IwFl", "IwPQ", "IwPf", "IwSq"}
_HNSW_ARRAYS = [("assign_probas", "<f8"), ("cum_nneighbor_per_level", "<i4"), ("levels", "<i4"),
                ("offsets", "<u8"), ("neighbors", "<i4")]
_FAISS_LIMIT = threading.Lock()  # FAISS's allocation limit is one global: one bounded read at a time


def read_faiss_index(blob, *, n: int, dim: int, kinds: set, binary: bool = False, n_lists: int | None = None,
                     hnsw_M: int | None = None):
    """Deserialize FAISS bytes saved in an index file, after checking what they declare.

    Their kind must be one of ``kinds`` (e.g. ``{"IHNf"}``: an ``IndexHNSWFlat``), their vector
    count and dimension must be the header's ``n`` and ``dim``, every length they declare must fit
    in the bytes that follow, and for an HNSW graph (links ``hnsw_M``) or IVF lists (``n_lists``)
    the sizes must agree with each other. Then FAISS reads them with its allocation limit lowered
    to a few times their length. Raises ``ValueError`` naming the first disagreement.
    """
    raw = np.frombuffer(blob, dtype=np.uint8)
    try:
        _check_faiss_bytes(raw, n, dim, kinds, binary, n_lists, hnsw_M)
    except struct.error:
        raise ValueError(f"its FAISS index is cut short ({len(raw)} bytes)") from None
    faiss = importlib.import_module("faiss")
    read = faiss.deserialize_index_binary if binary else faiss.deserialize_index
    if not hasattr(faiss, "set_deserialization_vector_byte_limit"):  # FAISS < 1.14.2: our checks only
        return read(raw)
    with _FAISS_LIMIT:
        previous = faiss.get_deserialization_vector_byte_limit()
        faiss.set_deserialization_vector_byte_limit(max(4 * len(raw), 1 << 26))
        try:
            return read(raw)
        finally:
            faiss.set_deserialization_vector_byte_limit(previous)


def _check_faiss_bytes(raw, n, dim, kinds, binary, n_lists, hnsw_M) -> None:
    kind, d, ntotal, at = _faiss_header(raw, 0, binary)
    if kind not in kinds:
        raise ValueError(f"its FAISS index is of kind {kind!r}, but this class saves {' or '.join(sorted(kinds))}")
    if (ntotal, d) != (n, dim):
        raise ValueError(f"its FAISS index declares {ntotal} vectors of dimension {d}, the header says {n} of "
                         f"dimension {dim}")
    if kind == "IxFI":
        _expect(_length(raw, at, 4, "stored numbers")[0], n * dim, "stored numbers")
    elif kind in _HNSW_KINDS:
        _check_hnsw(raw, at, n, dim, hnsw_M)
    elif kind in _IVF_KINDS:
        (lists,) = struct.unpack_from("<Q", raw, at)
        if n_lists is not None:
            _expect(lists, n_lists, "IVF lists")
        _, quantizer_d, centroids, _ = _faiss_header(raw, at + 16, False)  # after the lists and n_probes
        _expect(centroids, lists, "IVF centroids")
        _expect(quantizer_d, dim, "dimensions in its IVF centroids")
    elif kind == "IBHm":
        _, storage_d, stored, at = _faiss_header(raw, at, True)
        _expect(stored, n, "stored codes")
        _expect(storage_d, dim, "bits per stored code")
        _expect(_length(raw, at, 1, "code bytes")[0], n * dim // 8, "code bytes")


def _faiss_header(raw, at: int, binary: bool) -> tuple:
    """``(kind, d, ntotal, end)`` of the index header at ``at``."""
    if binary:
        kind, d, _, ntotal, _, _ = _BINARY_HEADER.unpack_from(raw, at)
        return kind.decode("latin-1"), d, ntotal, at + _BINARY_HEADER.size
    kind, d, ntotal, _, _, _, metric = _FLOAT_HEADER.unpack_from(raw, at)
    return kind.decode("latin-1"), d, ntotal, at + _FLOAT_HEADER.size + (4 if metric > 1 else 0)


def _length(raw, at: int, itemsize: int, what: str) -> tuple[int, int]:
    """The item count of the vector at ``at`` and where its items start; refused if they cannot fit."""
    (count,) = struct.unpack_from("<Q", raw, at)
    room = len(raw) - at - 8
    if count > room // itemsize:
        raise ValueError(f"its FAISS index declares {count} {what} ({count * itemsize} bytes), but only {room} "
                         "bytes follow")
    return count, at + 8


def _expect(found, expected, what: str) -> None:
    if found != expected:
        raise ValueError(f"its FAISS index declares {found} {what}, where {expected} belong")


def _check_hnsw(raw, at: int, n: int, dim: int, M: int | None) -> None:
    """The graph's sizes: a level per vector, neighbour lists as long as the levels say, in range."""
    graph = {}
    for name, dtype in _HNSW_ARRAYS:
        count, at = _length(raw, at, np.dtype(dtype).itemsize, f"HNSW {name}")
        graph[name] = raw[at:at + count * np.dtype(dtype).itemsize].view(dtype)
        at += count * np.dtype(dtype).itemsize
    entry_point, max_level = struct.unpack_from("<ii", raw, at)
    cum, levels, offsets, neighbors = (graph[name] for name in
                                       ("cum_nneighbor_per_level", "levels", "offsets", "neighbors"))
    _expect(len(levels), n, "HNSW levels")
    _expect(len(offsets), n + 1, "HNSW neighbour-list offsets")
    if len(cum) < 2 or cum[0] != 0 or (np.diff(cum) < 0).any() or levels.min() < 1 or levels.max() >= len(cum):
        raise ValueError("its FAISS index declares HNSW levels that do not fit its neighbour counts")
    if M is not None:
        _expect(int(cum[1]), 2 * M, f"links on HNSW layer 0 (M={M})")
    if offsets[0] != 0 or (np.diff(offsets).astype(np.int64) != cum[levels]).any():
        raise ValueError("its FAISS index declares HNSW neighbour lists whose lengths do not match their levels")
    _expect(len(neighbors), int(offsets[-1]), "HNSW neighbour slots")
    if (len(neighbors) and (neighbors.min() < -1 or neighbors.max() >= n)) or not 0 <= entry_point < n:
        raise ValueError(f"its FAISS index declares HNSW links to vectors outside 0..{n - 1}")
    _expect(max_level, int(levels.max()) - 1, "as the HNSW top level")
    kind, d, stored, at = _faiss_header(raw, at + 20, False)  # the storage: the vectors themselves
    _expect(stored, n, "vectors in its HNSW storage")
    _expect(d, dim, "dimensions in its HNSW storage")
    if kind == "IxFI":
        _expect(_length(raw, at, 4, "stored numbers")[0], n * dim, "stored numbers")
