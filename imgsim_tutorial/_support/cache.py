"""The course's disk cache: nothing trusted blindly, nothing lost, safe for a classroom.

Embedding a split and drawing the offline leaves take seconds to minutes, so ``embeddings.py``
and ``data.py`` keep the results under :func:`cache_dir`. This module is what makes that cache
safe to share and to damage:

- **validated when read**: embeddings are one ``.npz`` holding the array and the key it was
  computed for (shape, dtype, finite values and key are checked); a leaves folder carries a
  ``manifest.json`` with the size and SHA-256 of every file. Anything that does not match is
  reported in one line and rebuilt, never used silently;
- **atomic and per process**: files and folders are written under a temporary name unique to
  the process (``persistence.atomic_path``) and renamed in one step, so kernels sharing one
  cache never read each other's half-written files; the last writer wins, with the same content;
- **read-only is fine**: if the cache cannot be written (a shared, prebuilt course folder) the
  results stay in memory for the session, after one warning;
- **leftovers are swept**: temporary names left by killed processes are removed once they are
  older than a few minutes and their process is gone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import warnings
from pathlib import Path

import numpy as np

from .persistence import atomic_path, file_digest

EMBEDDINGS_FORMAT = 1
MANIFEST = "manifest.json"
LEFTOVER_AGE_S = 10 * 60
# atomic_path's ".NAME.partial-PID-..." and ".NAME.old-...", and older versions' "NAME.partial-PID" / ".partial.npy"
_LEFTOVER = re.compile(r"\.partial-(?P<pid>\d+)(?:-|$)|\.old-|\.partial\.npy$")
_warned: set[str] = set()


class CacheWarning(UserWarning):
    """The cache could not be written: results are kept in memory for this session only."""


def cache_dir() -> Path:
    """Where generated data and embeddings are kept (``IMGSIM_CACHE`` overrides)."""
    if os.environ.get("IMGSIM_CACHE"):
        return Path(os.environ["IMGSIM_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "imgsim_tutorial"


def say(message: str) -> None:
    """One line to the learner, in the course's voice."""
    print(f"imgsim_tutorial: {message}")


def warn_not_writable(folder, error: OSError) -> None:
    """Warn once per session and cache that ``folder`` cannot be written (then carry on in memory)."""
    root = str(cache_dir())
    if root in _warned:
        return
    _warned.add(root)
    reason = error.strerror or type(error).__name__
    warnings.warn(f"the cache folder {folder} cannot be written ({reason}); results are kept in memory for "
                  "this session and computed again next time. Point IMGSIM_CACHE at a writable folder to keep "
                  "them", CacheWarning, stacklevel=3)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def sweep_leftovers(folder, max_age_s: float = LEFTOVER_AGE_S) -> list[str]:
    """Remove temporary files/folders of dead processes older than ``max_age_s``; returns their names."""
    folder = Path(folder)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = _LEFTOVER.search(entry.name)
        if not match:
            continue
        try:
            if now - entry.lstat().st_mtime < max_age_s:
                continue
            if match.group("pid") and _process_alive(int(match.group("pid"))):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry.name)
        except OSError:  # read-only, or another process swept it first
            continue
    return removed


class _Unusable(ValueError):
    """A cache file that was read but is not what it should be."""


def _load_archive(path: Path, key: str) -> np.ndarray:
    loaded = np.load(path, allow_pickle=False)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise _Unusable("a bare array, not an embeddings file written by this course")
    with loaded as archive:
        if set(archive.files) != {"embeddings", "key", "format"}:
            raise _Unusable("not an embeddings file written by this course")
        if int(archive["format"]) != EMBEDDINGS_FORMAT or str(archive["key"]) != key:
            raise _Unusable("written for another model, dataset or format")
        return archive["embeddings"]


def read_embeddings(path, key: str, n_rows: int) -> np.ndarray | None:
    """The cached ``(n_rows, d)`` float32 embeddings at ``path`` if they are sound, else None.

    A file that exists but is damaged or foreign is reported in one line (and will be rebuilt).
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        vectors = _load_archive(path, key)
    except Exception as error:
        problem = str(error) if isinstance(error, _Unusable) else "unreadable: truncated or damaged"
        say(f"the cached embeddings {path.name} are unusable ({problem}); computing them again.")
        return None
    problem = None
    if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[1] < 1:
        problem = f"expected a float32 (n, d) array, found {vectors.dtype} {vectors.shape}"
    elif vectors.shape[0] != n_rows:
        problem = f"expected {n_rows} rows, found {vectors.shape[0]}"
    elif not np.isfinite(vectors).all():
        problem = "it holds NaN or infinite values"
    if problem:
        say(f"the cached embeddings {path.name} are unusable ({problem}); computing them again.")
        return None
    return vectors


def write_embeddings(path, key: str, vectors: np.ndarray) -> bool:
    """Store ``vectors`` with their ``key`` atomically; False (after one warning) if not writable."""
    path = Path(path)
    try:
        sweep_leftovers(path.parent)
        with atomic_path(path) as temporary:
            np.savez(temporary, embeddings=np.asarray(vectors, dtype=np.float32), key=np.array(key),
                     format=np.array(EMBEDDINGS_FORMAT))
        return True
    except OSError as error:
        warn_not_writable(path.parent, error)
        return False


def write_manifest(folder) -> None:
    """Record the size and SHA-256 of every file under ``folder`` in its ``manifest.json``."""
    folder = Path(folder)
    files = {str(p.relative_to(folder)): {"bytes": p.stat().st_size, "sha256": file_digest(p)}
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}
    (folder / MANIFEST).write_text(json.dumps({"format": 1, "files": files}, indent=1))


def check_manifest(folder) -> str | None:
    """None if every file listed in ``folder``'s manifest is present and intact, else what is wrong."""
    folder = Path(folder)
    try:
        files = json.loads((folder / MANIFEST).read_text())["files"]
    except FileNotFoundError:
        return f"{MANIFEST} is missing (deleted, or written by an older version)"
    except (OSError, ValueError, KeyError, TypeError):
        return f"{MANIFEST} is damaged"
    for name, expected in files.items():
        part = folder / name
        if not part.is_file():
            return f"{name} is missing"
        if part.stat().st_size != expected["bytes"] or file_digest(part) != expected["sha256"]:
            return f"{name} is damaged"
    return None
