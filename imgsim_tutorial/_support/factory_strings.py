"""Which FAISS factory strings the course builds, checked before FAISS sees them.

Plumbing for ``faiss_factory.py``. FAISS hands a factory string straight to C++, and some
strings kill the kernel: ``'HNSW1,Flat'`` segfaults, ``'HNSW0,Flat'`` aborts, ``'NSG0,Flat'``
hangs and ignores Ctrl-C, the 0 in ``'OPQ4_0'`` or ``'PQ4x0'`` divides by zero. So every string
is parsed here first, against the small grammar the course uses (``FACTORY_GRAMMAR``); FAISS
only ever sees strings that passed. Each refusal names the component, what is allowed and a
working example.
"""

from __future__ import annotations

import re

FACTORY_GRAMMAR = ("[OPQ<m>[_<d>],] [IVF<n>[_HNSW<M>], | HNSW<M>,] Flat | PQ<m>[x<bits>] | PQ<m>x4fs | SQ4 | SQ6 "
                   "| SQ8 | SQfp16 [,RFlat]")
_EXAMPLES = "e.g. 'IVF256,PQ16', 'HNSW32,Flat' or 'OPQ16,IVF256,PQ16,RFlat'"
_STAGES = ["rotation", "cells", "codes", "refine"]  # in this order, each at most once; codes required
_COMPONENTS = [(stage, re.compile(pattern)) for stage, pattern in [
    ("rotation", r"OPQ(?P<opq_m>\d+)(?:_(?P<opq_d>\d+))?"),
    ("cells", r"IVF(?P<lists>\d+)(?:_HNSW(?P<quantizer_M>\d+))?"),
    ("cells", r"HNSW(?P<M>\d+)"),
    ("codes", r"Flat|SQ(?:4|6|8|fp16)|PQ(?P<pq_m>\d+)(?:x(?P<bits>\d+))?(?P<fast_scan>fs)?"),
    ("refine", r"RFlat"),
]]
_RANGES = {  # number: (its name in the grammar, low, high, what it is, a working example)
    "opq_m": ("m", 1, 1024, "OPQ's pieces", "'OPQ16,IVF256,PQ16'"),
    "opq_d": ("d", 1, 1 << 16, "OPQ's output dimension", "'OPQ16_64,IVF256,PQ16'"),
    "lists": ("n", 1, 65536, "the IVF lists", "'IVF256,PQ16'"),
    "quantizer_M": ("M", 2, 512, "the links of the HNSW that finds IVF cells (FAISS crashes on M < 2)",
                    "'IVF4096_HNSW32,PQ16'"),
    "M": ("M", 2, 512, "HNSW's links per node (FAISS crashes on M < 2)", "'HNSW32,Flat'"),
    "pq_m": ("m", 1, 1024, "PQ's pieces", "'IVF256,PQ16'"),
    "bits": ("bits", 1, 12, "PQ's bits per piece", "'IVF256,PQ16x8'"),
}


def parse_factory(factory) -> dict:
    """What a factory string asks for, once each component fits the course's grammar: its
    ``cells`` ("IVF", "HNSW" or none), ``codes`` ("Flat", "PQ", "PQfs" or "SQ") and numbers.

    >>> parse_factory("IVF256,PQ16x8")
    {'cells': 'IVF', 'lists': 256, 'codes': 'PQ', 'pq_m': 16, 'bits': 8}
    """
    if not isinstance(factory, str) or not factory:
        raise ValueError(f"factory must be a FAISS factory string such as 'IVF256,PQ16', got {factory!r}")
    settings, stage = {}, -1
    for component in factory.split(","):
        found = next(((name, match) for name, pattern in _COMPONENTS if (match := pattern.fullmatch(component))),
                     None)
        if found is None:
            why = " (FAISS hangs building NSG graphs)" if component.startswith("NSG") else ""
            raise ValueError(f"factory {factory!r}: {component!r} is not a component the course supports{why}; "
                             f"allowed: {FACTORY_GRAMMAR}; {_EXAMPLES}")
        name, match = found
        if _STAGES.index(name) <= stage:
            raise ValueError(f"factory {factory!r}: {component!r} cannot come there; components go in this order: "
                             f"{FACTORY_GRAMMAR}; {_EXAMPLES}")
        stage = _STAGES.index(name)
        settings[name] = next(word for word in ("OPQ", "IVF", "HNSW", "PQ", "SQ", "Flat", "RFlat")
                              if component.startswith(word))
        for key, text in match.groupdict().items():
            if key in _RANGES and text is not None:
                symbol, low, high, what, example = _RANGES[key]
                if not low <= int(text) <= high:
                    raise ValueError(f"factory {factory!r}: {component!r} asks for {symbol}={int(text)}; {what} "
                                     f"must be between {low} and {high}; e.g. {example}")
                settings[key] = int(text)
        if match.groupdict().get("fast_scan"):
            if settings.get("bits") != 4 or settings.get("cells") == "HNSW":
                raise ValueError(f"factory {factory!r}: {component!r}: fast-scan PQ ('fs') takes 4 bits per piece "
                                 "and IVF cells or none (not HNSW); e.g. 'IVF256,PQ32x4fs'")
            settings["codes"] = "PQfs"
    if "codes" not in settings:
        raise ValueError(f"factory {factory!r} does not say how to store the vectors; end it with codes such as "
                         f"',Flat' or ',PQ16' (allowed: {FACTORY_GRAMMAR}); {_EXAMPLES}")
    return settings


def check_factory(factory, dim: int | None = None) -> str:
    """A factory string the course supports (and, given ``dim``, FAISS builds), else a ValueError.

    >>> check_factory("IVF64,PQ8", 64)
    'IVF64,PQ8'
    """
    settings = parse_factory(factory)
    if dim is None:
        return factory
    rotated = settings.get("opq_d", dim)
    if rotated > dim:
        raise ValueError(f"factory {factory!r}: OPQ cannot raise the dimension from {dim} to {rotated}; "
                         f"e.g. 'OPQ16_{min(dim, 64)},IVF256,PQ16'")
    for key, component, size in (("opq_m", "OPQ", rotated), ("pq_m", "PQ", rotated)):
        pieces = settings.get(key)
        if pieces is not None and size % pieces:
            divisors = [m for m in range(1, size + 1) if size % m == 0]
            closest = min(divisors, key=lambda m: abs(m - pieces))
            name = next(part for part in factory.split(",") if part.startswith(f"{component}{pieces}"))
            raise ValueError(f"factory {factory!r}: {name!r} splits {size} dimensions into {pieces} pieces, but "
                             f"the pieces must divide {size}; choose one of {divisors}, e.g. '{component}{closest}'")
    bits = settings.get("bits", 8)
    if settings["codes"] == "PQ" and "cells" not in settings and rotated == 2 * settings["pq_m"] and bits < 3:
        raise ValueError(f"factory {factory!r}: a plain PQ with 2 dimensions per piece needs at least 3 bits per "
                         f"piece in FAISS; e.g. 'PQ{settings['pq_m']}x4' or 'PQ{settings['pq_m'] // 2}x{bits}'")
    import faiss

    try:
        faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "unknown"
        raise ValueError(f"FAISS cannot build {factory!r} in dimension {dim} ({reason}); {_EXAMPLES}") from None
    return factory


_KINDS = {  # (cells, codes) -> the four letters FAISS writes first for that index (inner product)
    (None, "Flat"): "IxFI", (None, "PQ"): "IxPq", (None, "PQfs"): "IPfs", (None, "SQ"): "IxSQ",
    ("IVF", "Flat"): "IwFl", ("IVF", "PQ"): "IwPQ", ("IVF", "PQfs"): "IwPf", ("IVF", "SQ"): "IwSq",
    ("HNSW", "Flat"): "IHNf", ("HNSW", "PQ"): "IHNp", ("HNSW", "SQ"): "IHNs",
}


def faiss_kind(settings: dict) -> str:
    """The kind of FAISS index a parsed factory string builds, as its saved bytes name it."""
    if "refine" in settings:
        return "IxRF"  # IndexRefineFlat around the rest
    if "rotation" in settings:
        return "IxPT"  # IndexPreTransform around the rest
    return _KINDS[settings.get("cells"), settings["codes"]]
