"""One contract for every index: what ``CosineIndex``, ``LSHIndex``, the FAISS wrappers and
every index written later share, written once.

Builds on ``vectors.py`` (unit vectors, ``check_k``) and ``_support/index_file.py`` (one
checked ``.npz`` per index, written atomically). A subclass only says how to store a batch and
how to find a shortlist; this module does the rest, the same way everywhere:

- ``Index(**settings)`` only stores and checks its settings (``check_int`` and friends raise a
  ``ValueError`` naming the setting, its range and a sensible value, *before* any C++ sees it);
- ``add(embeddings, ids=None)`` **appends** and returns the index; default ids continue from
  ``len(index)``; ids are all integers or all strings (mixing kinds is an error);
- ``search(queries, k, *, allowed=None) -> (scores, ids)``: float32 (nq, k) true cosines, best
  first; a missing result is id -1 (string ids: ``""``) with score NaN, and ``search`` warns when
  that happens. ``allowed`` filters (a bool mask in add order, or a collection of ids, checked
  once by :func:`allowed_mask`): only allowed items come back, exact search filters exactly;
- ``search_with_stats`` adds ``{"n_candidates": (nq,) ints, "n_allowed": int, "plan": str}``:
  items scored per query, items the filter allows, and how it was applied;
- ``remove(ids)``: tombstones every search respects; ``compact()`` frees them (a rebuild);
- ``memory_bytes()`` -> ``{part: bytes}``, the same dict shape for every index;
- ``save(path)`` / ``Class.load(path)``: one ``.npz`` file per index, the same rule everywhere
  (a JSON header + named arrays, no pickle); ``IndexBase.load(path)`` loads any index.

A subclass implements ``add`` (calling ``self._append``) and ``_search(queries, k) -> (scores,
rows, n_candidates[, more_stats])`` where ``rows`` are row numbers into ``ids_``; ``_restore()`` rebuilds
derived structures (hash tables, FAISS objects) after ``load``. A filter reaches
``_search_inside(queries, k, mask)`` (mask: bool per row), whose generic version here over-fetches
and drops; the course's indexes filter inside themselves instead (see ``filtering.py``).
"""

from __future__ import annotations

import importlib
import inspect
import math
import warnings
from pathlib import Path

import numpy as np

from ._support.index_file import WrongIndexClass, open_files_beside, read_index_file, refusal, write_index_file
from .vectors import as_matrix, check_k, normalize


class ShortResultWarning(UserWarning):
    """A search found fewer than ``k`` results for some queries (their missing places are id -1
    or ``""`` with score NaN). Expected at extreme settings and counted as misses by recall, so
    measuring code may silence exactly this warning, and nothing else:
    ``warnings.simplefilter("ignore", ShortResultWarning)``."""


def found_mask(ids: np.ndarray) -> np.ndarray:
    """True where a search returned a real id (not -1 / ``""``, the missing-result markers).

    >>> found_mask(np.array([[3, -1]])), found_mask(np.array([["a", ""]]))
    (array([[ True, False]]), array([[ True, False]]))
    """
    ids = np.asarray(ids)
    return ids != "" if ids.dtype.kind == "U" else ids >= 0


def _as_ids(ids, n: int) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.dtype.kind == "O" and all(isinstance(item, str) for item in ids.ravel()):
        ids = ids.astype(str)
    if ids.dtype.kind not in "iuU" or ids.dtype.kind == "b":
        raise ValueError(f"ids must be integers or strings, got dtype {ids.dtype}; pass e.g. np.arange(n) "
                         "or a list of file names")
    if ids.shape != (n,):
        raise ValueError(f"ids must have shape ({n},), one per embedding, got shape {ids.shape}")
    if ids.dtype.kind == "U":
        return ids
    if ids.dtype.kind == "u" and n and ids.max() > np.iinfo(np.int64).max:
        raise ValueError(f"ids must fit in a signed 64-bit integer, got {ids.max()}; use strings for such ids")
    if n and ids.min() < 0:
        position = int(np.argmin(ids))
        raise ValueError(f"ids must be >= 0 because -1 marks a missing result, got {ids[position]} at position "
                         f"{position}; use string ids, or shift them (ids - ids.min())")
    return ids.astype(np.int64, copy=False)


PLANS = ("auto", "inside", "exact")  # how a search applies a filter (search_with_stats' ``plan``)
# GraphIndex's check: a query's neighbourhood counts as *filtered away* when the share of allowed
# items among the plain walk's results is below this part of the filter's share of all items.
# IVFIndex and LSHIndex measure the same thing at the answer's own scale (``local_selectivity``).
FILTERED_AWAY = 0.8
# How often a search may take a random filter for one that removed the query's neighbourhood
# (``chance_of_so_few_allowed`` below this). A false alarm costs an exact scan, never recall.
FALSE_ALARM = 0.01


def local_selectivity(scores, allowed, k: int) -> tuple[int, int]:
    """How much of a query's neighbourhood a filter allows: ``(n_allowed_near, n_near)``.

    ``scores`` (m,): the items a search scored for one query; ``allowed`` (m,): which of them the
    filter allows. *Near* are the items at least as close as the k-th best allowed one, so the
    filtered answer lies exactly this deep; with fewer than k allowed, every scored item is near.
    Their ratio is the **local selectivity**. A random filter's equals its share of all items up to
    sampling noise; a filter that excludes the query's own cluster has one near 0, however much
    of the collection it allows.

    >>> local_selectivity(np.array([0.9, 0.8, 0.7, 0.6]), np.array([False, True, False, True]), 2)
    (2, 4)
    """
    scores, allowed = np.asarray(scores), np.asarray(allowed, dtype=bool)
    kept = scores[allowed]
    if len(kept) < k:
        return len(kept), len(scores)
    kth = np.partition(kept, len(kept) - k)[len(kept) - k]  # the k-th best allowed score
    return int((kept >= kth).sum()), int((scores >= kth).sum())


def chance_of_so_few_allowed(n_allowed_near: int, n_near: int, share: float) -> float:
    """P(a filter that ignores where the query is leaves at most ``n_allowed_near`` of ``n_near`` items):
    the binomial tail ``P(Binomial(n_near, share) <= n_allowed_near)``.

    >>> round(chance_of_so_few_allowed(10, 20, 0.5), 3), chance_of_so_few_allowed(10, 22, 0.99) < 1e-12
    (0.588, True)
    """
    if share >= 1 or n_allowed_near >= n_near:
        return float(n_allowed_near >= n_near)
    if share <= 0:
        return 1.0
    # Each term C(n, i) s^i (1 - s)^(n - i) in logarithms: C(n, i) alone overflows a float for large n.
    log_terms = [math.lgamma(n_near + 1) - math.lgamma(i + 1) - math.lgamma(n_near - i + 1)
                 + i * math.log(share) + (n_near - i) * math.log1p(-share) for i in range(n_allowed_near + 1)]
    return min(1.0, sum(math.exp(term) for term in log_terms))


def allowed_mask(allowed, ids, positions=None) -> np.ndarray:
    """A search filter, checked, as a bool mask over an index's rows.

    ``allowed`` is a boolean mask with one entry per item in the order they were added, or a
    collection (list, set, range, array) of the index's ``ids``. ``positions[row]``: the add-order
    position of each row, if the rows are kept in another order.

    >>> allowed_mask(np.array([True, False, True]), np.array([7, 8, 9])).tolist()
    [True, False, True]
    >>> allowed_mask({9, 7}, np.array([7, 8, 9])).tolist()
    [True, False, True]
    """
    n = len(ids)
    if isinstance(allowed, (set, frozenset, dict, range)):
        allowed = list(allowed)
    array = np.asarray(allowed)
    if array.dtype == bool:
        if array.shape != (n,):
            raise ValueError(f"the boolean mask allowed has shape {array.shape}, but the index holds {n} items; pass "
                             "one True/False per item, in the order they were added (or a list of allowed ids)")
        return array if positions is None else array[positions]
    array = array.ravel()
    if not array.size:
        return np.zeros(n, dtype=bool)
    return _mask_of_ids(array, ids)


def _mask_of_ids(wanted: np.ndarray, ids: np.ndarray) -> np.ndarray:
    strings = ids.dtype.kind == "U"
    if wanted.dtype.kind == "O" and all(isinstance(item, str) for item in wanted):
        wanted = wanted.astype(str)
    if strings and wanted.dtype.kind != "U" or not strings and wanted.dtype.kind not in "iu":
        kind = "string" if strings else "integer"
        raise ValueError(f"allowed has dtype {wanted.dtype}, but this index has {kind} ids; pass a boolean mask "
                         f"(dtype bool, one entry per item) or a collection of {kind} ids")
    if not strings and len(wanted) == len(ids) > 2 and np.isin(wanted, (0, 1)).all():
        raise ValueError("allowed looks like a 0/1 mask, but integer arrays are read as ids; pass "
                         "allowed=mask.astype(bool) for a mask, or the ids of the allowed items")
    unknown = wanted[~np.isin(wanted, ids)]
    if len(unknown):
        raise ValueError(f"allowed names {len(unknown)} id(s) this index does not hold, e.g. "
                         f"{unknown[:3].tolist()}; pass only ids that were added (index.ids_)")
    return np.isin(ids, wanted)


def scan_rows(queries, vectors, rows, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` among ``rows`` only (pre-filtering): ``vectors`` (m, d) are those rows'
    unit vectors. Returns ``(scores, rows)``, (nq, k), padded with NaN and -1 past m results.

    >>> scan_rows(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([4, 9]), 3)[1]
    array([[ 9,  4, -1]])
    """
    width = min(k, len(rows))
    scores = np.full((len(queries), k), np.nan, dtype=np.float32)
    found = np.full((len(queries), k), -1, dtype=np.int64)
    for start in range(0, len(queries), chunk):
        block = queries[start:start + chunk] @ vectors.T
        columns = np.argpartition(-block, width - 1, axis=1)[:, :width] if width < len(rows) else \
            np.broadcast_to(np.arange(width), (len(block), width))
        best = np.take_along_axis(block, columns, axis=1)
        order = np.argsort(-best, axis=1, kind="stable")
        scores[start:start + chunk, :width] = np.take_along_axis(best, order, axis=1)
        found[start:start + chunk, :width] = rows[np.take_along_axis(columns, order, axis=1)]
    return scores, found


class IndexBase:
    """The shared contract; subclasses implement ``add`` and ``_search`` (see the module)."""

    # -- settings ---------------------------------------------------------------------------
    def get_params(self) -> dict:
        """The constructor settings (keyword arguments of ``__init__``) as a dict."""
        signature = inspect.signature(type(self).__init__)
        return {name: getattr(self, name) for name, parameter in signature.parameters.items()
                if parameter.kind is parameter.KEYWORD_ONLY}

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={value!r}" for name, value in self.get_params().items())
        return f"{type(self).__name__}({settings})" + (f"  # {len(self)} items" if len(self) else "")

    # -- adding -----------------------------------------------------------------------------
    def _append(self, embeddings, ids=None, *, keep_vectors: bool = True) -> np.ndarray:
        """Check a new batch and append its ids (and unit vectors to ``vectors_``).

        Returns the batch's unit vectors (m, d). Nothing changes if a check fails.
        """
        vectors = normalize(as_matrix(embeddings, "embeddings", getattr(self, "dim_", None)), "embeddings")
        old = getattr(self, "ids_", None)
        if ids is None:
            if old is not None and old.dtype.kind == "U":
                raise ValueError("this index has string ids, so new embeddings need ids too: "
                                 "add(embeddings, ids=[...])")
            ids = np.arange(len(self), len(self) + len(vectors))
        new = _as_ids(ids, len(vectors))
        if old is not None and (old.dtype.kind == "U") != (new.dtype.kind == "U"):
            raise ValueError(f"this index has {'string' if old.dtype.kind == 'U' else 'integer'} ids but the new "
                             f"ids are {'strings' if new.dtype.kind == 'U' else 'integers'}; use one kind of id "
                             "in every add() call")
        self.ids_ = new if old is None else np.concatenate([old, new])
        if getattr(self, "deleted_", None) is not None:  # new items are not removed
            self.deleted_ = np.concatenate([self.deleted_, np.zeros(len(new), dtype=bool)])
        self.dim_ = vectors.shape[1]
        if keep_vectors:
            self.vectors_ = vectors if old is None else np.vstack([self.vectors_, vectors])
        return vectors

    def __len__(self) -> int:
        return len(getattr(self, "ids_", ()))

    def _check_fitted(self) -> None:
        if not len(self):
            raise ValueError(f"this {type(self).__name__} is empty; call .add(embeddings) before searching it")

    # -- searching --------------------------------------------------------------------------
    def _queries(self, queries) -> np.ndarray:
        return normalize(as_matrix(queries, "queries", self.dim_), "queries")

    def _ids_at(self, rows: np.ndarray) -> np.ndarray:
        """Row numbers (-1 = missing) -> our ids (-1 or ``""`` where missing)."""
        missing = "" if self.ids_.dtype.kind == "U" else -1
        return np.where(rows >= 0, self.ids_[np.clip(rows, 0, None)], missing)

    def search_with_stats(self, queries, k: int = 5, *, allowed=None, plan: str = "auto"):
        """Like :meth:`search`, plus ``stats``: ``n_candidates`` (nq,), items scored per query;
        ``n_allowed``, items the filter (and the removals) leave; ``plan``, how a filter was
        applied; and whatever else the index measures (e.g. ``LSHIndex``: where the time went).

        ``plan`` chooses how a filter is applied: ``"inside"`` the index (each index's own way),
        ``"exact"`` over the allowed rows (pre-filtering), or ``"auto"``: exact when the allowed
        rows are fewer than the index would score inside (its ``_inside_cost``).
        """
        self._check_fitted()
        k = check_k(k, len(self))
        if plan not in PLANS:
            raise ValueError(f"plan must be one of {PLANS}, got {plan!r}")
        queries = self._queries(queries)
        mask = self._allowed_rows(allowed)
        if mask is None:  # no filter and nothing removed: the plain search, unchanged
            scores, rows, n_candidates, *extra = self._search(queries, k)
            extra = [{"n_allowed": len(self), "plan": "none", **(extra[0] if extra else {})}]
        else:
            scores, rows, n_candidates, *extra = self._search_allowed(queries, k, mask, plan)
        stats = {"n_candidates": np.asarray(n_candidates, dtype=np.int64), **(extra[0] if extra else {})}
        return np.asarray(scores, dtype=np.float32), self._ids_at(np.asarray(rows)), stats

    def search(self, queries, k: int = 5, *, allowed=None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` per query: ``(scores, ids)``, each (nq, k), best first, scores = true cosine.

        ``allowed`` filters: a boolean mask with one entry per item in the order they were added,
        or a collection of ids; only allowed items are returned. A query with fewer than ``k``
        results gets id -1 (``""`` for string ids) and score NaN in the missing places, and a
        warning says how many queries were short (not when the filter allows fewer than ``k``).
        """
        scores, ids, stats = self.search_with_stats(queries, k, allowed=allowed)
        short = int((found_mask(ids).sum(axis=1) < min(k, stats["n_allowed"])).sum())
        if short:
            warnings.warn(f"{short} of {len(ids)} queries found fewer than k={k} results; the missing ones are "
                          f"id {'-1' if ids.dtype.kind != 'U' else repr('')} with score NaN. {self._widen_hint}",
                          ShortResultWarning, stacklevel=2)
        return scores, ids

    # What the warning above suggests; an index names its own settings.
    _widen_hint = "Make the index search more widely (see its settings) or ask for a smaller k."

    # -- filters and removals ---------------------------------------------------------------
    def _row_positions(self) -> np.ndarray | None:
        """Hook: the add-order position of each row, for an index that keeps its rows in another
        order (``IVFIndex`` sorts them into lists); None: rows are in the order they were added."""
        return None

    def _allowed_rows(self, allowed) -> np.ndarray | None:
        """``allowed`` checked, as a bool mask over rows with removed rows left out; None: every row."""
        removed = getattr(self, "deleted_", None)
        mask = None if allowed is None else allowed_mask(allowed, self.ids_, self._row_positions())
        if removed is not None and removed.any():
            mask = ~removed if mask is None else mask & ~removed
        return None if mask is None or mask.all() else mask  # all allowed: the plain search

    def _search_allowed(self, queries, k, mask, plan):
        """Filtered search: exact over the allowed rows, or the index's own way (``_search_inside``)."""
        rows = np.flatnonzero(mask)
        can_scan = self._has_vectors()
        if plan == "auto":
            plan = "exact" if can_scan and len(rows) <= self._inside_cost(len(rows)) else "inside"
        if plan == "exact" and not can_scan:
            raise ValueError(f"a {type(self).__name__} keeps no float vectors in memory to scan exactly; "
                             "use plan='inside' or 'auto'")
        if not len(rows):  # nothing allowed: every place is missing
            return (np.full((len(queries), k), np.nan, np.float32), np.full((len(queries), k), -1),
                    np.zeros(len(queries), dtype=np.int64), {"n_allowed": 0, "plan": plan})
        if plan == "exact":
            scores, found = scan_rows(queries, self._vectors_of(rows), rows, k)
            n_scored, extra = np.full(len(queries), len(rows)), {}
        else:
            scores, found, n_scored, *more = self._search_inside(queries, k, mask)
            extra = more[0] if more else {}
        return scores, found, n_scored, {"n_allowed": len(rows), "plan": plan, **extra}

    def _scan_allowed(self, queries, k, mask):
        """Exact top-k among the allowed rows (pre-filtering): a few rows are gathered and scored;
        most of them are scored in place, all rows at once, and the disallowed ones dropped."""
        if mask.mean() < 0.2:
            rows = np.flatnonzero(mask)
            return scan_rows(queries, self._vectors_of(rows), rows, k)
        scores = queries @ self._vectors_of(slice(None)).T  # a view: no copy of the vectors
        scores[:, ~mask] = -np.inf
        order = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        ranked = np.argsort(-np.take_along_axis(scores, order, axis=1), axis=1, kind="stable")
        order = np.take_along_axis(order, ranked, axis=1)
        best = np.take_along_axis(scores, order, axis=1)
        return np.where(np.isfinite(best), best, np.nan).astype(np.float32), np.where(np.isfinite(best), order, -1)

    def _has_vectors(self) -> bool:
        """Hook: whether ``_vectors_of`` can give the exact unit vectors of rows."""
        return isinstance(getattr(self, "vectors_", None), np.ndarray)

    def _vectors_of(self, rows) -> np.ndarray:
        """Hook: the unit vectors of ``rows`` (m, d), for an exact scan of them."""
        return self.vectors_[rows]

    def _inside_cost(self, n_allowed: int) -> float:
        """Hook: about how many items the index's own filtered search scores per query when
        ``n_allowed`` items are allowed; ``plan="auto"`` scans the allowed rows exactly when they
        are fewer. The generic way (below) over-fetches, which can score everything."""
        return len(self)

    def _search_inside(self, queries, k, mask):
        """The generic filter for an index without its own: post-filtering that keeps asking for
        more. Search for ``fetch`` results, drop the disallowed ones, and ask again for four times
        as many while some query still has fewer than ``k`` allowed ones (at most every item)."""
        n_allowed = int(mask.sum())
        fetch = min(len(self), max(2 * k, int(np.ceil(2 * k * len(self) / n_allowed))))
        while True:
            scores, rows, n_scored, *_ = self._search(queries, fetch)
            rows = np.asarray(rows)
            keep = (rows >= 0) & mask[np.clip(rows, 0, None)]
            if fetch == len(self) or (keep.sum(axis=1) >= min(k, n_allowed)).all():
                break
            fetch = min(len(self), 4 * fetch)
        order = np.argsort(~keep, axis=1, kind="stable")[:, :k]  # the allowed ones first, in rank order
        kept = np.take_along_axis(keep, order, axis=1)
        scores = np.where(kept, np.take_along_axis(np.asarray(scores, np.float32), order, axis=1), np.nan)
        return scores, np.where(kept, np.take_along_axis(rows, order, axis=1), -1), n_scored

    def remove(self, ids) -> IndexBase:
        """Remove items (ids, or a boolean mask in the order they were added) and return the index.

        A *tombstone*: the items are marked removed (``deleted_``) and every search skips them, but
        their memory is kept, and ``len(index)`` still counts them, until :meth:`compact`. Update an
        item by removing it and adding its new vector under the same id. Saved with the index.
        """
        self._check_fitted()
        gone = allowed_mask(ids, self.ids_, self._row_positions())
        self.deleted_ = gone | getattr(self, "deleted_", np.zeros(len(self), dtype=bool))
        return self

    def n_removed(self) -> int:
        """Items removed since the last :meth:`compact` (still in memory, never returned)."""
        return int(getattr(self, "deleted_", np.zeros(0, dtype=bool)).sum())

    def compact(self) -> IndexBase:
        """Free the removed items for good: rebuild the index from the items kept (a fresh ``add``
        with the same settings, so a learned index learns again). Returns the index."""
        removed = getattr(self, "deleted_", None)
        if removed is None or not removed.any():
            return self
        if not self._has_vectors():
            raise ValueError(f"a {type(self).__name__} keeps no float vectors in memory to rebuild from; "
                             "build a new index from your embeddings without the removed items")
        if removed.all():
            raise ValueError("every item is removed; build a new index when you have items to add")
        positions = self._row_positions()
        in_order = np.arange(len(self)) if positions is None else np.argsort(positions)
        kept = in_order[~removed[in_order]]  # rows of the kept items, in the order they were added
        fresh = type(self)(**self.get_params()).add(self._vectors_of(kept), self.ids_[kept])
        self.__dict__.clear()
        self.__dict__.update(fresh.__dict__)
        return self


    # -- memory -----------------------------------------------------------------------------
    def _state_arrays(self) -> dict:
        """Every ndarray attribute whose name ends in ``_`` (the fitted state), by name."""
        return {name[:-1]: value for name, value in vars(self).items()
                if name.endswith("_") and not name.startswith("_") and isinstance(value, np.ndarray)}

    _memory_groups: dict = {}  # attribute -> part name, to report helper structures under one name

    def _memory_extra(self) -> dict:
        """Hook: bytes held outside NumPy arrays (a FAISS index's C++ structures)."""
        return {}

    def memory_bytes(self) -> dict:
        """Bytes this index holds, by part: ``{part: bytes}``; ``sum(...values())`` is the total.

        Counted: every NumPy array of the fitted state (``vectors``, ``ids``, ``codes``, ...),
        every array inside the index's other structures (lists, hash tables, lookups: each
        buffer once, however many views share it) and what a subclass reports from outside
        NumPy (a FAISS index counts its serialized size). Not counted: Python object overhead
        and temporary memory used while searching.
        """
        self._check_fitted()
        state = self._state_arrays()
        parts = {name: int(array.nbytes) for name, array in state.items()}
        counted = {id(_root(array)) for array in state.values()}
        for attribute, value in vars(self).items():
            if attribute.endswith("_") and isinstance(value, np.ndarray) or attribute in self.get_params():
                continue
            size = sum(root.nbytes for root in _roots(value, counted))
            if size:
                part = self._memory_groups.get(attribute, attribute.strip("_"))
                parts[part] = parts.get(part, 0) + int(size)
        parts.update({name: int(size) for name, size in self._memory_extra().items()})
        return parts

    # -- files ------------------------------------------------------------------------------
    def _restore(self) -> None:
        """Hook: rebuild derived structures from the loaded arrays (called by :meth:`load`)."""

    def save(self, path) -> Path:
        """Write one ``.npz`` file (see ``index_file``): a JSON header with the class, settings
        and every array's shape and SHA-256, then the arrays (and any file the index keeps beside
        it, ``_files_to_save``). Atomic: a failed save leaves the older files intact. Returns the
        path. Nothing but ``save`` ever writes these files; a loaded index only reads them."""
        self._check_fitted()
        header = {"class": type(self).__name__, "module": type(self).__module__, "params": self.get_params(),
                  "n": len(self), "dim": int(self.dim_)}
        return write_index_file(path, header, self._state_arrays(), self._files_to_save())

    def _files_to_save(self) -> dict:
        """Hook: files saved beside the ``.npz``, ``{suffix: write(handle)}`` (``PQIndex``'s vectors)."""
        return {}

    def _restore_files(self, files: dict) -> None:
        """Hook: take the files saved beside the ``.npz``, ``{suffix: open file}``, checked by :meth:`load`."""
        if files:
            raise ValueError(f"its header lists files beside it ({', '.join(files)}) that a {type(self).__name__} "
                             "does not use")

    @staticmethod
    def _class_in_file(header: dict):
        """The index class a file's header names: its ``module`` (inside this package only, so a
        crafted file cannot make ``load`` import arbitrary code) and its ``class``."""
        package = __name__.split(".")[0]
        module = header.get("module")
        if module is None:  # a file saved before headers named the module: a class already imported
            loaded, stack = {}, [IndexBase]
            while stack:
                for sub in stack.pop().__subclasses__():
                    loaded[sub.__name__] = sub
                    stack.append(sub)
            return loaded.get(header["class"])
        if not isinstance(module, str) or not module.startswith(package + "."):
            return None
        try:
            found = getattr(importlib.import_module(module), str(header["class"]), None)
        except ImportError:
            return None
        return found if isinstance(found, type) and issubclass(found, IndexBase) else None

    @classmethod
    def _expected_shapes(cls, params: dict, n: int, dim: int) -> dict:
        """Hook: the shape each saved array must have, checked by :meth:`load` before reading."""
        return {"ids": (n,)}

    @classmethod
    def load(cls, path):
        """Read a file written by ``save`` (by this class or, from ``IndexBase``, any index).

        Checks format, class, every shape, size and checksum, array sizes *before* reading
        them; never unpickles. Anything else is refused with one message.
        """
        target = None

        def expected_shapes(header):
            nonlocal target
            target = cls._class_in_file(header)
            if target is None or not issubclass(target, cls):
                raise WrongIndexClass(f"{Path(path).name} holds a {header['class']!r}, not a {cls.__name__}; "
                                      f"load it with {header['class']}.load(path)")
            return target._expected_shapes(header["params"], header["n"], header["dim"])

        header, arrays = read_index_file(path, f"{cls.__name__}.save", expected_shapes)
        files = open_files_beside(path, header["files"])  # checked, opened read-only
        try:
            index = target(**header["params"])
            for name, array in arrays.items():
                setattr(index, f"{name}_", array)
            index.ids_ = _as_ids(index.ids_, header["n"])  # a crafted file gets no negative ids either
            index.dim_ = header["dim"]
            _check_removed(getattr(index, "deleted_", None), header["n"])
            index._restore()
            index._restore_files(files)
        except (ValueError, KeyError, TypeError, AttributeError, RuntimeError) as error:
            for file in files.values():
                file.close()
            raise refusal(path, f"{cls.__name__}.save", error) from None
        return index


def _check_removed(removed, n: int) -> None:
    """A saved tombstone mask must be one bool per item."""
    if removed is not None and (removed.dtype != bool or removed.shape != (n,)):
        raise ValueError(f"its removed-items mask has shape {removed.shape} and dtype {removed.dtype}, but it "
                         f"should be {n} booleans; the file is damaged")


def _root(array: np.ndarray) -> np.ndarray:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _roots(value, counted: set) -> list:
    """The not-yet-counted array buffers reachable from ``value`` (through lists, dicts and our
    own helper objects); their ids are added to ``counted``."""
    if isinstance(value, np.ndarray):
        root = _root(value)
        if id(root) in counted:
            return []
        counted.add(id(root))
        return [root]
    if isinstance(value, (list, tuple, set)):
        return [root for item in value for root in _roots(item, counted)]
    if isinstance(value, dict):
        return [root for item in value.values() for root in _roots(item, counted)]
    if type(value).__module__.startswith(__name__.split(".")[0]) and hasattr(value, "__dict__"):
        if id(value) in counted:
            return []
        counted.add(id(value))
        return [root for item in vars(value).values() for root in _roots(item, counted)]
    return []
