"""Saving files so that nothing is lost: write beside the target, then swap it in at once.

Used by every ``save`` and by the caches. A save that fails half way (a full disk, a killed
kernel, an error while writing) must leave the previous file exactly as it was, and two
kernels writing the same cache file must never see each other's half-written bytes. Both
follow from one habit: write to a temporary name **in the same folder** (unique per process and
thread), then ``os.replace`` it over the target, which is atomic on POSIX and Windows.

``atomic_paths`` does the same for files that belong together (an index and the vectors file
beside it), and ``WorkingFile`` is the other side of the coin: a file an object works in,
either private (deleted with the object) or a saved file it only reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
import weakref
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path, *, directory: bool = False):
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    On any error the temporary file (or folder, with ``directory=True``) is removed and the
    existing ``path`` is untouched.

    >>> import tempfile, pathlib; target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as temporary:
    ...     _ = temporary.write_text("hello")
    >>> target.read_text()
    'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tag = f".{path.name}.partial-{os.getpid()}-{threading.get_ident()}-"
    if directory:
        temporary = Path(tempfile.mkdtemp(prefix=tag, dir=path.parent))
    else:
        handle, name = tempfile.mkstemp(prefix=tag, suffix=path.suffix, dir=path.parent)
        os.close(handle)
        temporary = Path(name)
    try:
        yield temporary
        if directory and path.is_dir():
            # A folder cannot be replaced atomically while it exists: move the old one aside first.
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            os.replace(path, old / "previous")
            try:
                os.replace(temporary, path)
            except OSError:
                os.replace(old / "previous", path)  # put the old one back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temporary, path)
    except BaseException:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)
        raise


def file_digest(path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, in hex (for headers that must match their data file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_paths(*paths):
    """``atomic_path`` for several files that must change together; yields one temporary each.

    Every file is written in full before any target changes. Then they are swapped in, in the
    order given: put last the file that records the others' checksums (an index's ``.npz``), so
    a reader never accepts a half-swapped set. If a swap fails, the targets already swapped get
    their old files back; if writing fails, no target changes. Either way the old set stays.
    """
    paths = [Path(path) for path in paths]
    temporaries = []
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=f".{path.name}.partial-{os.getpid()}-{threading.get_ident()}-",
                                            suffix=path.suffix, dir=path.parent)
            os.close(handle)
            temporaries.append(Path(name))
        yield temporaries
        _swap_in(paths, temporaries)
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)  # after a success they are already gone


def _swap_in(paths: list, temporaries: list) -> None:
    swapped = []  # (target, its old file moved aside, or None if it had none)
    try:
        for index, (path, temporary) in enumerate(zip(paths, temporaries)):
            backup = None
            if path.exists() and index < len(paths) - 1:  # the last one has nothing after it to fail
                handle, name = tempfile.mkstemp(prefix=f".{path.name}.old-", dir=path.parent)
                os.close(handle)
                backup = Path(name)
                os.replace(path, backup)
            try:
                os.replace(temporary, path)
            except BaseException:
                if backup is not None:
                    os.replace(backup, path)
                raise
            swapped.append((path, backup))
    except BaseException:
        for path, backup in reversed(swapped):  # undo the swaps that succeeded
            if backup is not None:
                os.replace(backup, path)
            else:
                path.unlink(missing_ok=True)
        raise
    for _, backup in swapped:
        if backup is not None:
            backup.unlink(missing_ok=True)


class WorkingFile:
    """An open file an object reads while it works: private (``scratch``) or a saved one (``reading``).

    A **scratch** file gets a unique name in ``folder`` (default: the system's temporary folder)
    and is deleted when its ``WorkingFile`` is garbage-collected or, at the latest, when the
    process exits (``weakref.finalize``): nothing is left behind. A file opened for **reading**
    is only ever read, and stays the same file even if another save replaces its path, because
    we hold it open. ``file`` is the open binary file, ``path`` its name, ``private`` which kind.

    >>> scratch = WorkingFile.scratch(prefix="demo-"); _ = scratch.file.write(b"abc")
    >>> path = scratch.path; del scratch; path.exists()
    False
    """

    def __init__(self, file, path, *, private: bool):
        self.file, self.path, self.private = file, Path(path), private
        self._finalizer = weakref.finalize(self, _close, file, self.path if private else None)

    @classmethod
    def scratch(cls, folder=None, *, prefix: str = "imgsim-", suffix: str = "") -> WorkingFile:
        if folder is not None:
            Path(folder).mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
        return cls(os.fdopen(handle, "w+b"), name, private=True)

    @classmethod
    def reading(cls, file) -> WorkingFile:
        """Wrap an already open binary file (``open(path, "rb")``); it is closed with this object."""
        return cls(file, file.name, private=False)

    def size(self) -> int:
        return os.fstat(self.file.fileno()).st_size


def _close(file, delete) -> None:
    file.close()
    if delete is not None:
        # already removed by hand, or (Windows) still mapped: then the OS's temporary-file cleaner takes it
        with contextlib.suppress(FileNotFoundError, PermissionError):
            delete.unlink()
