"""One index, one file: the ``.npz`` format every index's ``save``/``load`` shares.

Builds on ``persistence.py`` (atomic writes). A file is a NumPy ``.npz`` archive (a zip of
``.npy`` arrays, never pickle) holding ``header.npy``, a JSON text, plus one member per array.
The header records the format and version, the index class and its settings, and for every
array its shape, dtype and SHA-256, so that a loader can:

1. refuse anything it did not write, with one message, before reading any large array;
2. check each member's size in the zip directory against the header *before* inflating it
   (a 2 MB file that would inflate to 2 GiB is refused at once), and each ``.npy`` header's
   shape before allocating;
3. check every array's checksum, so that arrays from two different saves never load together;
4. check what a FAISS index inside declares against the header before FAISS reads it
   (``faiss_file.py``).

One file instead of a folder means a save is one atomic replace: there is no moment when an
index file and its ids come from different saves. An index may also keep a large file *beside*
its ``.npz`` (``PQIndex``'s float vectors, ``NAME.vectors.f32``): its size and SHA-256 are in
the header, both files are written in full before either replaces the old pair, and a loader
refuses a file beside that does not match.

What the checksums protect against: accidental corruption (a flipped bit, a disk error), a
truncated or half-copied file, arrays or files from two different saves, and a file from another
class of index. What they do not protect against: a deliberately crafted file. Whoever writes a
file can write matching checksums; a checksum is not a signature. The checks above stop crafted
files from crashing the kernel or allocating gigabytes, but a well-formed crafted index loads and
answers whatever its crafter chose. So only load files you trust, as with any model file.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

import numpy as np

from .persistence import atomic_paths, file_digest

FORMAT, VERSION = "imgsim-index", 1
_NPY_HEADER_SLACK = 1 << 16  # an .npy member = its data + a header of at most 64 KiB
_READ_ERRORS = (ValueError, KeyError, TypeError, EOFError, OSError, zipfile.BadZipFile, UnicodeDecodeError)
_SUFFIX = re.compile(r"(\.[a-z0-9_]+)+")  # ".vectors.f32": a name ending, never a path


class WrongIndexClass(ValueError):
    """A valid file, but of another index class (its message says which class to use)."""


def refusal(path, writer: str, reason) -> ValueError:
    """The one message for a file we cannot trust (numpy's word "pickle" never leaks into it)."""
    reason = str(reason).replace("pickle", "object")
    return ValueError(f"{Path(path).name} is not a file written by {writer} ({reason}); only files written by "
                      ".save() of an index can be loaded")


def write_index_file(path, header: dict, arrays: dict, files: dict | None = None) -> Path:
    """Write ``header`` (JSON-able dict) and ``arrays`` ({name: ndarray}) to ``path`` atomically.

    ``files`` ({suffix: write(handle)}) are written beside ``path`` (``file_beside``), their size
    and SHA-256 recorded in the header, and swapped in together with it (``atomic_paths``).

    >>> import tempfile, pathlib; path = pathlib.Path(tempfile.mkdtemp()) / "x.npz"
    >>> header = {"class": "Demo", "params": {}, "n": 2, "dim": 3}
    >>> header, arrays = read_index_file(write_index_file(path, header, {"ids": np.arange(2)}), "Demo.save",
    ...                                  lambda header: {"ids": (2,)})
    >>> header["n"], arrays["ids"]
    (2, array([0, 1]))
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"save to a path ending in .npz, got {path.name!r}; e.g. {path.with_suffix('.npz').name!r}")
    files = files or {}
    arrays = {name: np.ascontiguousarray(array) for name, array in arrays.items()}
    header = {"format": FORMAT, "version": VERSION, **header,
              "arrays": {name: {"shape": list(array.shape), "dtype": array.dtype.str,
                                "sha256": hashlib.sha256(array.data).hexdigest()} for name, array in arrays.items()}}
    with atomic_paths(*(file_beside(path, suffix) for suffix in files), path) as temporaries:
        if files:
            header["files"] = {}
        for (suffix, write), temporary in zip(files.items(), temporaries):
            with open(temporary, "wb") as handle:
                write(handle)
            header["files"][suffix] = {"bytes": temporary.stat().st_size, "sha256": file_digest(temporary)}
        encoded = json.dumps(header, default=lambda value: value.item()).encode()
        with open(temporaries[-1], "wb") as handle:
            np.savez(handle, header=np.frombuffer(encoded, dtype=np.uint8), **arrays)
    return path


def file_beside(path, suffix: str) -> Path:
    """The file saved beside an index file: ``file_beside("a/pq.npz", ".vectors.f32")`` -> ``a/pq.vectors.f32``."""
    if not _SUFFIX.fullmatch(suffix):
        raise ValueError(f"a file beside an index is named by an ending such as '.vectors.f32', got {suffix!r}")
    return Path(path).with_name(Path(path).stem + suffix)


def open_files_beside(path, specs: dict) -> dict:
    """Open the files beside ``path`` read-only, ``{suffix: file}``, once each one's size and
    SHA-256 match its ``spec`` in the header; else a ``ValueError`` that names the file.

    Hashes through the open file, so the file checked is the file returned, whatever happens to
    its name afterwards.
    """
    path, files = Path(path), {}
    try:
        for suffix, spec in specs.items():
            beside = file_beside(path, suffix)
            try:
                files[suffix] = handle = open(beside, "rb")
            except FileNotFoundError:
                raise ValueError(f"{beside.name}, which {path.name} was saved with, is missing; copy both files "
                                 "together (or save the index again)") from None
            size = _size_of(handle)
            if size != spec["bytes"]:
                raise ValueError(f"{beside.name} has {size} bytes but {path.name} says {spec['bytes']}: it was "
                                 "changed after save() or comes from another save; save the index again")
            digest = hashlib.sha256()
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
            if digest.hexdigest() != spec["sha256"]:
                raise ValueError(f"{beside.name} does not match the checksum in {path.name}: it was changed after "
                                 "save() or comes from another save; save the index again")
    except BaseException:
        for handle in files.values():
            handle.close()
        raise
    return files


def _size_of(handle) -> int:
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(0)
    return size


def read_index_file(path, writer: str, expected_shapes) -> tuple[dict, dict]:
    """``(header, arrays)`` of a file written by :func:`write_index_file`, every check passed.

    ``expected_shapes(header) -> {name: shape}`` states the shapes the reader needs (it may
    raise :class:`WrongIndexClass`); ``writer`` names the writer in the refusal message.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; indexes are saved as one .npz file (older versions wrote a "
                         "folder): rebuild the index and save it again")
    if not path.exists():
        raise FileNotFoundError(f"no index file at {path}; check the path or save the index first")
    try:
        with zipfile.ZipFile(path) as archive:
            header = _read_header(archive)
            specs = header["arrays"]
            for name, shape in expected_shapes(header).items():
                if name not in specs or tuple(specs[name]["shape"]) != tuple(shape):
                    got = specs[name]["shape"] if name in specs else "missing"
                    raise ValueError(f"array {name!r} should have shape {tuple(shape)}, header says {got}")
            members = {info.filename: info for info in archive.infolist()}
            if set(members) != {"header.npy", *(f"{name}.npy" for name in specs)}:
                raise ValueError("its arrays do not match its header")
            for name, spec in specs.items():
                _check_member_size(members[f"{name}.npy"], spec)
            arrays = {name: _read_array(archive, name, spec) for name, spec in specs.items()}
    except WrongIndexClass:
        raise
    except _READ_ERRORS as error:
        raise refusal(path, writer, error) from None
    return header, arrays


def _read_header(archive: zipfile.ZipFile) -> dict:
    info = archive.getinfo("header.npy")  # KeyError -> not ours
    if info.file_size > 1 << 20:
        raise ValueError(f"its header is {info.file_size} bytes, far more than a header needs")
    with archive.open(info) as member:
        raw = np.lib.format.read_array(member, allow_pickle=False)
    header = json.loads(raw.tobytes().decode("utf-8"))
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError("its header does not name the imgsim-index format")
    if header.get("version") != VERSION:
        raise ValueError(f"it has format version {header.get('version')!r}, this code reads version {VERSION}; "
                         "rebuild the index and save it again")
    for key, kind in {"class": str, "params": dict, "n": int, "dim": int, "arrays": dict}.items():
        if not isinstance(header.get(key), kind):
            raise ValueError(f"its header lacks a valid {key!r}")
    for name, spec in header["arrays"].items():
        if not (isinstance(spec, dict) and isinstance(spec.get("shape"), list) and isinstance(spec.get("dtype"), str)
                and all(isinstance(size, int) and size >= 0 for size in spec["shape"])):
            raise ValueError(f"its header describes array {name!r} badly: {spec!r}")
    files = header.setdefault("files", {})
    if not isinstance(files, dict):
        raise ValueError("its header lists the files beside it badly")
    for suffix, spec in files.items():
        if not (isinstance(suffix, str) and _SUFFIX.fullmatch(suffix) and isinstance(spec, dict)
                and isinstance(spec.get("bytes"), int) and spec["bytes"] >= 0 and isinstance(spec.get("sha256"), str)):
            raise ValueError(f"its header describes the file beside it {suffix!r} badly: {spec!r}")
    return header


def _check_member_size(info: zipfile.ZipInfo, spec: dict) -> None:
    expected = int(np.prod(spec["shape"], dtype=np.int64)) * np.dtype(spec["dtype"]).itemsize
    if not expected <= info.file_size <= expected + _NPY_HEADER_SLACK:
        raise ValueError(f"array {info.filename!r} would inflate to {info.file_size} bytes, but its header "
                         f"promises {expected}; refused before reading it")
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > 100 * info.compress_size + (1 << 20):
        raise ValueError(f"array {info.filename!r} inflates {info.file_size // max(1, info.compress_size)}-fold "
                         f"to {info.file_size} bytes; refused before reading it")


def _read_array(archive: zipfile.ZipFile, name: str, spec: dict) -> np.ndarray:
    """Read one member, checking its .npy header against ``spec`` before any data is read."""
    with archive.open(f"{name}.npy") as member:
        version = np.lib.format.read_magic(member)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in read_header:
            raise ValueError(f"array {name!r} has .npy version {version}")
        shape, fortran_order, dtype = read_header[version](member)
        if list(shape) != spec["shape"] or dtype.str != spec["dtype"] or fortran_order or dtype.hasobject:
            raise ValueError(f"array {name!r} is {shape} {dtype}, but the header says {spec['shape']} {spec['dtype']}")
        array = np.empty(shape, dtype=dtype)
        buffer, filled = memoryview(array.reshape(-1).view(np.uint8)), 0
        while filled < array.nbytes:
            got = member.readinto(buffer[filled:])
            if not got:
                raise ValueError(f"array {name!r} is truncated")
            filled += got
    if hashlib.sha256(array.data).hexdigest() != spec["sha256"]:
        raise ValueError(f"array {name!r} does not match the checksum in its header (damaged or mixed files)")
    return array
