"""One contract for every index: what ``CosineIndex``, ``LSHIndex``, the FAISS wrappers and
every index written later share, written once.

Builds on ``vectors.py`` (unit vectors, ``check_k``) and ``_support/index_file.py`` (one
checked ``.npz`` per index, written atomically). A subclass only says how to store a batch and
how to find a shortlist; this module does the rest, the same way everywhere:

- ``Index(**settings)`` only stores and checks its settings (``check_int`` and friends raise a
  ``ValueError`` naming the setting, its range and a sensible value, *before* any C++ sees it);
- ``add(embeddings, ids=None)`` **appends** and returns the index; default ids continue from
  ``len(index)``; ids are all integers or all strings (mixing kinds is an error);
- ``search(queries, k) -> (scores, ids)``: float32 (nq, k) true cosines, best first; a missing
  result is id -1 (string ids: ``""``) with score NaN, and ``search`` warns when that happens;
- ``search_with_stats`` adds ``{"n_candidates": (nq,) ints}``: items scored per query;
- ``memory_bytes()`` -> ``{part: bytes}``, the same dict shape for every index;
- ``save(path)`` / ``Class.load(path)``: one ``.npz`` file per index, the same rule everywhere
  (a JSON header + named arrays, no pickle); ``IndexBase.load(path)`` loads any index.

A subclass implements ``add`` (calling ``self._append``) and ``_search(queries, k) -> (scores,
rows, n_candidates[, more_stats])`` where ``rows`` are row numbers into ``ids_``; ``_restore()`` rebuilds
derived structures (hash tables, FAISS objects) after ``load``.
"""

from __future__ import annotations

import importlib
import inspect
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

    def search_with_stats(self, queries, k: int = 5):
        """Like :meth:`search`, plus ``stats["n_candidates"]`` (nq,): items scored per query, and
        whatever else the index measures (e.g. ``LSHIndex``: where the time went)."""
        self._check_fitted()
        k = check_k(k, len(self))
        scores, rows, n_candidates, *extra = self._search(self._queries(queries), k)
        stats = {"n_candidates": np.asarray(n_candidates, dtype=np.int64), **(extra[0] if extra else {})}
        return np.asarray(scores, dtype=np.float32), self._ids_at(np.asarray(rows)), stats

    def search(self, queries, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` per query: ``(scores, ids)``, each (nq, k), best first, scores = true cosine.

        A query with fewer than ``k`` results gets id -1 (``""`` for string ids) and score NaN
        in the missing places, and a warning says how many queries were short.
        """
        scores, ids, _ = self.search_with_stats(queries, k)
        short = int((~found_mask(ids)).any(axis=1).sum())
        if short:
            warnings.warn(f"{short} of {len(ids)} queries found fewer than k={k} results; the missing ones are "
                          f"id {'-1' if ids.dtype.kind != 'U' else repr('')} with score NaN. {self._widen_hint}",
                          ShortResultWarning, stacklevel=2)
        return scores, ids

    # What the warning above suggests; an index names its own settings.
    _widen_hint = "Make the index search more widely (see its settings) or ask for a smaller k."

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
            index._restore()
            index._restore_files(files)
        except (ValueError, KeyError, TypeError, AttributeError, RuntimeError) as error:
            for file in files.values():
                file.close()
            raise refusal(path, f"{cls.__name__}.save", error) from None
        return index


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
