"""Saving files so that nothing is lost: write beside the target, then swap it in at once.

Used by every ``save`` and by the caches. A save that fails half way (a full disk, a killed
kernel, an error while writing) must leave the previous file exactly as it was, and two
kernels writing the same cache file must never see each other's half-written bytes. Both
follow from one habit: write to a temporary name **in the same folder** (unique per process and
thread), then ``os.replace`` it over the target, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
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
