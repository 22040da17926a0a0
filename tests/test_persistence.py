"""Files: nothing lost, nothing trusted blindly.

Every index saves to one ``.npz`` (IndexBase.save): a failed save leaves the old file loadable,
and a file the package did not write, or one put together from two saves, is refused with one
message before any large array is read.
"""

import io
import json
import struct
import time
import zipfile
import zlib

import numpy as np
import pytest

from imgsim_tutorial import FlatIPIndex, HNSWIndex, LSHIndex
from imgsim_tutorial._support.persistence import atomic_path
from imgsim_tutorial.data.synthetic import realistic_embeddings

REFUSED = "not a file written by LSHIndex.save"


@pytest.fixture(scope="module")
def data():
    return realistic_embeddings(300, dim=16, seed=5)[0]


@pytest.fixture()
def saved(data, tmp_path):
    return LSHIndex(n_bits=6, n_tables=3, n_probes=3).add(data).save(tmp_path / "index.npz")


def members_of(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(path, members: dict):
    with zipfile.ZipFile(path, "w") as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)
    return path


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def with_header(path, out, **changes):
    members = members_of(path)
    header = json.loads(np.load(io.BytesIO(members["header.npy"])).tobytes())
    for key, value in changes.items():
        if value is None:
            header.pop(key)
        else:
            header[key] = value
    members["header.npy"] = npy_bytes(np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    return write_zip(out, members)


# -- saving is atomic --------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: LSHIndex(n_bits=6, n_tables=2), lambda: FlatIPIndex(),
                                  lambda: HNSWIndex(M=8)], ids=["lsh", "flat", "hnsw"])
def test_a_failed_save_leaves_the_old_file_loadable(make, data, tmp_path, monkeypatch):
    index = make().add(data)
    path = index.save(tmp_path / "index.npz")
    before = path.read_bytes()
    real_savez = np.savez

    def dies_midway(handle, **arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", dies_midway)
    with pytest.raises(OSError, match="No space left"):
        make().add(data[:50]).save(path)
    monkeypatch.setattr(np, "savez", real_savez)
    assert path.read_bytes() == before and len(type(index).load(path)) == 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.npz"]  # no temporary file left behind


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    with atomic_path(target) as temporary:
        temporary.write_text("new")
    assert target.read_text() == "new"


def test_save_needs_an_npz_path(data, tmp_path):
    with pytest.raises(ValueError, match=r"ending in .npz.*'index.npz'"):
        LSHIndex().add(data).save(tmp_path / "index")


# -- loading refuses what save did not write ----------------------------------------------------
@pytest.mark.parametrize("content", [
    np.random.default_rng(0).bytes(5000),              # random bytes
    bytes(4096),                                       # zeros
    b"these are my notes about LSH\n" * 20,            # a text file
    b"\x80\x04\x95" + bytes(100),                      # the start of a pickle
    b"",                                               # empty
], ids=["random", "zeros", "text", "pickle", "empty"])
def test_foreign_bytes_get_one_message(content, tmp_path):
    path = tmp_path / "index.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=REFUSED) as error:
        LSHIndex.load(path)
    assert "pickle" not in str(error.value).lower()


def test_headers_that_are_not_ours_get_one_message(saved, tmp_path):
    members = members_of(saved)
    cases = {
        "not-json": npy_bytes(np.frombuffer(b"{not json", dtype=np.uint8)),
        "not-utf8": npy_bytes(np.frombuffer(b"\xff\xfe\x00", dtype=np.uint8)),
        "a-list": npy_bytes(np.frombuffer(b"[1, 2]", dtype=np.uint8)),
        "objects": npy_bytes(np.array([1, 2, 3])),  # a number array, not text
    }
    for name, header in cases.items():
        path = write_zip(tmp_path / f"{name}.npz", {**members, "header.npy": header})
        with pytest.raises(ValueError, match=REFUSED):
            LSHIndex.load(path)
    for key in ("format", "class", "params", "n", "arrays"):
        with pytest.raises(ValueError, match=REFUSED):
            LSHIndex.load(with_header(saved, tmp_path / f"no-{key}.npz", **{key: None}))
    with pytest.raises(ValueError, match=REFUSED):  # a plain numpy archive: no header at all
        np.savez(tmp_path / "plain.npz", x=np.ones(3))
        LSHIndex.load(tmp_path / "plain.npz")
    object_array = tmp_path / "objects.npz"
    np.savez(object_array, header=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=REFUSED) as error:
        LSHIndex.load(object_array)
    assert "pickle" not in str(error.value).lower()


def test_versions_classes_and_shapes_are_checked(saved, tmp_path):
    with pytest.raises(ValueError, match="version 9"):
        LSHIndex.load(with_header(saved, tmp_path / "v9.npz", version=9))
    with pytest.raises(ValueError, match="holds a 'LSHIndex', not a FlatIPIndex"):
        FlatIPIndex.load(saved)
    with pytest.raises(ValueError, match="'hyperplanes' should have shape"):  # header says 4 tables, arrays hold 3
        header = json.loads(np.load(io.BytesIO(members_of(saved)["header.npy"])).tobytes())
        LSHIndex.load(with_header(saved, tmp_path / "tables.npz", params={**header["params"], "n_tables": 4}))
    with pytest.raises(ValueError, match="is a folder"):
        LSHIndex.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="no index file"):
        LSHIndex.load(tmp_path / "missing.npz")


def test_a_truncated_or_damaged_file_is_refused(saved, tmp_path):
    raw = saved.read_bytes()
    (tmp_path / "half.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=REFUSED):
        LSHIndex.load(tmp_path / "half.npz")
    members = members_of(saved)
    vectors = bytearray(members["vectors.npy"])
    vectors[-3] ^= 0x01  # one bit of one float: only the checksum can tell
    with pytest.raises(ValueError, match="checksum"):
        LSHIndex.load(write_zip(tmp_path / "bit.npz", {**members, "vectors.npy": bytes(vectors)}))


def test_parts_of_two_saves_do_not_load_together(data, tmp_path):
    first = FlatIPIndex().add(data[:100]).save(tmp_path / "first.npz")
    second = FlatIPIndex().add(data[100:200], ids=np.arange(1000, 1100)).save(tmp_path / "second.npz")
    a, b = members_of(first), members_of(second)
    for swapped in ("faiss_index.npy", "ids.npy"):  # same shapes, different contents
        path = write_zip(tmp_path / f"mixed-{swapped}.npz", {**a, swapped: b[swapped]})
        with pytest.raises(ValueError, match="not a file written by FlatIPIndex.save.*checksum"):
            FlatIPIndex.load(path)
    assert len(FlatIPIndex.load(first)) == 100  # the originals still load


# -- sizes are checked before anything is inflated -----------------------------------------------
def deflate_bomb(inflated_bytes: int) -> bytes:
    """A raw deflate stream of zeros: 1 KiB per MiB, built without compressing the whole thing."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert block == compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * (inflated_bytes >> 20) + compressor.flush()


def replace_with_deflated(path, out, name, stream: bytes, inflated_bytes: int):
    """Copy ``path`` with member ``name`` replaced by a precompressed deflate ``stream``."""
    members = members_of(path)
    members[name] = stream
    write_zip(out, members)
    raw = bytearray(out.read_bytes())
    with zipfile.ZipFile(out) as archive:
        info = archive.getinfo(name)
    # zipfile wrote the stream as a stored member; mark it deflated and state its inflated size
    local = info.header_offset
    struct.pack_into("<H", raw, local + 8, zipfile.ZIP_DEFLATED)
    struct.pack_into("<I", raw, local + 22, inflated_bytes)
    central = raw.index(b"PK\x01\x02")  # the central directory entries follow the data
    while raw[central + 46: central + 46 + len(name)] != name.encode():
        central = raw.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<H", raw, central + 10, zipfile.ZIP_DEFLATED)
    struct.pack_into("<I", raw, central + 24, inflated_bytes)
    out.write_bytes(bytes(raw))
    return out


def test_a_small_file_that_inflates_to_2_gib_is_refused_quickly(saved, tmp_path):
    inflated = 2 << 30
    bomb = replace_with_deflated(saved, tmp_path / "bomb.npz", "vectors.npy", deflate_bomb(inflated), inflated)
    assert bomb.stat().st_size < 3 << 20
    with zipfile.ZipFile(bomb) as archive:
        assert archive.getinfo("vectors.npy").file_size == inflated  # what a careless loader would allocate
    started = time.perf_counter()
    with pytest.raises(ValueError, match=REFUSED + r".*inflate to 2147483648 bytes"):
        LSHIndex.load(bomb)
    assert time.perf_counter() - started < 2


def test_an_npy_header_that_lies_is_refused_before_its_data(saved, tmp_path):
    members = members_of(saved)
    data_bytes = members["vectors.npy"][-300 * 16 * 4:]
    lying = io.BytesIO()  # claims 300 million rows (19 GB) in front of the real 300 rows
    np.lib.format.write_array_header_1_0(lying, {"shape": (300_000_000, 16), "fortran_order": False, "descr": "<f4"})
    path = write_zip(tmp_path / "lying.npz", {**members, "vectors.npy": lying.getvalue() + data_bytes})
    started = time.perf_counter()
    with pytest.raises(ValueError, match=REFUSED + r".*\(300000000, 16\)"):
        LSHIndex.load(path)
    assert time.perf_counter() - started < 2


def test_index_base_loads_any_index_even_before_its_module_is_imported(data, tmp_path):
    import subprocess
    import sys

    path = HNSWIndex(M=8).add(data).save(tmp_path / "hnsw.npz")
    script = (f"import sys; from imgsim_tutorial.index_base import IndexBase; index = IndexBase.load({str(path)!r}); "
              "print(type(index).__name__, len(index))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["HNSWIndex", "300"], result.stderr[-1000:]


# -- files that belong together (an index and the vectors file beside it) -------------------------
def test_atomic_paths_swaps_a_pair_or_nothing(tmp_path, monkeypatch):
    import os

    from imgsim_tutorial._support.persistence import atomic_paths

    vectors, index = tmp_path / "a.vectors.f32", tmp_path / "a.npz"
    vectors.write_text("old vectors")
    index.write_text("old index")
    with pytest.raises(RuntimeError):  # writing fails: nothing is swapped
        with atomic_paths(vectors, index) as (new_vectors, new_index):
            new_vectors.write_text("new vectors")
            raise RuntimeError("killed while writing the index")
    real_replace = os.replace

    def fails_on_the_index(source, target):
        if str(target).endswith(".npz"):
            raise OSError("Input/output error")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", fails_on_the_index)
    with pytest.raises(OSError):  # the vectors were swapped, the index could not be: the vectors go back
        with atomic_paths(vectors, index) as (new_vectors, new_index):
            new_vectors.write_text("new vectors")
            new_index.write_text("new index")
    monkeypatch.undo()
    assert (vectors.read_text(), index.read_text()) == ("old vectors", "old index")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.npz", "a.vectors.f32"]  # no temporaries
    with atomic_paths(vectors, index) as (new_vectors, new_index):
        new_vectors.write_text("new vectors")
        new_index.write_text("new index")
    assert (vectors.read_text(), index.read_text()) == ("new vectors", "new index")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.npz", "a.vectors.f32"]


def test_a_working_file_lives_as_long_as_its_owner(tmp_path):
    import gc

    from imgsim_tutorial._support.persistence import WorkingFile

    scratch = WorkingFile.scratch(tmp_path, prefix="demo-")
    scratch.file.write(b"abc")
    path = scratch.path
    assert path.parent == tmp_path and scratch.private
    del scratch
    gc.collect()
    assert not path.exists()
    saved = tmp_path / "saved.bin"
    saved.write_bytes(b"keep me")
    reading = WorkingFile.reading(open(saved, "rb"))
    saved.unlink()  # the open file is still the same file (POSIX) ...
    assert reading.file.read() == b"keep me" and reading.size() == 7
    handle = reading.file
    del reading
    gc.collect()
    assert handle.closed  # ... and it is closed, never deleted, with its owner
