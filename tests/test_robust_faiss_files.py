"""Crafted index files: a FAISS index inside a file is checked before FAISS reads it.

The checksums in an index file's header catch accidents (a damaged or truncated file, arrays
from two saves). They are no signature: whoever crafts a file can write matching checksums. So
what the FAISS bytes *declare* (how many vectors, of what dimension, how long each stored list
is) must agree with the header and with the bytes' own length before FAISS allocates anything:
a 200 KB crafted HNSW file used to make FAISS allocate 16.8 GB before refusing it.

Every crafted file is loaded in a child process whose address space is capped a little above
what it already uses (``resource.setrlimit(RLIMIT_AS)``): a regression fails the test instead
of eating the machine, and the check must refuse the file *before* FAISS deserializes it.
"""

import io
import json
import struct
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from imgsim_tutorial import FaissLSHIndex, FlatIPIndex, HNSWIndex, MultiHashIndex
from imgsim_tutorial.data.synthetic import realistic_embeddings
from imgsim_tutorial.faiss_factory import FactoryIndex

HEADER = 4 + 33  # fourcc, then d, ntotal, two unused int64s, is_trained, metric (read_index_header)
BINARY_HEADER = 4 + 21  # fourcc, then d, code_size, ntotal, is_trained, metric


@pytest.fixture(scope="module")
def data():
    return realistic_embeddings(300, 16, n_queries=5, seed=11)


def members_of(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def crafted(path, out, change):
    """A copy of the index file ``path`` whose FAISS bytes went through ``change(bytearray)``,
    with the checksum and shape in the header updated to match, as a crafter would do."""
    import hashlib

    members = members_of(path)
    name = "faiss_index" if "faiss_index.npy" in members else "faiss_bytes"  # FactoryIndex's name for it
    blob = bytearray(np.load(io.BytesIO(members[f"{name}.npy"])).tobytes())
    change(blob)
    array = np.frombuffer(bytes(blob), dtype=np.uint8)
    header = json.loads(np.load(io.BytesIO(members["header.npy"])).tobytes())
    header["arrays"][name].update(shape=[len(array)], sha256=hashlib.sha256(array.data).hexdigest())
    members[f"{name}.npy"] = npy_bytes(array)
    members["header.npy"] = npy_bytes(np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    with zipfile.ZipFile(out, "w") as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)
    return out


def put(fmt, offset, value):
    return lambda blob: struct.pack_into(fmt, blob, offset, value)


def hnsw_offsets(blob) -> dict:
    """Where each size field of an ``IHNf`` blob sits (FAISS's read_HNSW, in order)."""
    offsets, at = {}, HEADER
    for name, itemsize in [("assign_probas", 8), ("cum_nneighbor", 4), ("levels", 4), ("offsets", 8),
                           ("neighbors", 4)]:
        offsets[name] = at
        at += 8 + struct.unpack_from("<Q", blob, at)[0] * itemsize
    offsets["storage"] = at + 20  # entry point, max level, efConstruction, efSearch, an unused int
    return offsets


LOADER = """
import json, resource, sys
import faiss
from imgsim_tutorial.index_base import IndexBase

calls = []
for name in ("deserialize_index", "deserialize_index_binary"):
    real = getattr(faiss, name)
    setattr(faiss, name, lambda blob, real=real: calls.append(1) or real(blob))

IndexBase.load(sys.argv[1]).search([[1.0] * 16], 3)  # a genuine file first: everything is imported
with open("/proc/self/status") as status:
    used = next(int(line.split()[1]) for line in status if line.startswith("VmSize")) * 1024
resource.setrlimit(resource.RLIMIT_AS, (used + (1 << 30), resource.RLIM_INFINITY))  # 1 GiB to spare
for name, path in json.loads(sys.argv[2]):
    calls.clear()
    print(json.dumps({"case": name}), flush=True)
    try:
        index = IndexBase.load(path)
        index.search([[1.0] * 16], 3)
        outcome = {"error": None}
    except Exception as error:
        outcome = {"error": type(error).__name__, "message": str(error)}
    outcome["faiss_read_it"] = bool(calls)
    print(json.dumps(outcome), flush=True)
"""


def load_in_a_capped_process(genuine, cases: dict) -> dict:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(LOADER), str(genuine),
                             json.dumps([[name, str(path)] for name, path in cases.items()])],
                            capture_output=True, text=True, timeout=300)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0:
        last = lines[-1].get("case", "?") if lines else "?"
        pytest.fail(f"the loader died (code {result.returncode}) on {last!r}: {result.stderr[-800:]}")
    return dict(zip([line["case"] for line in lines[::2]], lines[1::2]))


def test_crafted_hnsw_sizes_are_refused_before_faiss_allocates(data, tmp_path):
    genuine = HNSWIndex(M=8).add(data[0]).save(tmp_path / "hnsw.npz")
    blob = bytes(np.load(io.BytesIO(members_of(genuine)["faiss_index.npy"])))
    at = hnsw_offsets(blob)
    changes = {
        "ntotal": put("<q", 8, 301),
        "dimension": put("<i", 4, 17),
        "levels 8 GiB": put("<Q", at["levels"], 1 << 31),
        "offsets 8 GiB": put("<Q", at["offsets"], 1 << 30),
        "neighbors 32 GiB": put("<Q", at["neighbors"], 1 << 33),
        "assign_probas 8 GiB": put("<Q", at["assign_probas"], 1 << 30),
        "storage ntotal": put("<q", at["storage"] + 8, 10**6),
        "storage codes 16 GiB": put("<Q", at["storage"] + HEADER, 1 << 32),
        "a neighbor out of range": put("<i", at["neighbors"] + 8, 10**6),
        "M in the graph differs from the header": put("<i", at["cum_nneighbor"] + 12, 99),
    }
    cases = {name: crafted(genuine, tmp_path / f"{index}.npz", change) for index, (name, change) in
             enumerate(changes.items())}
    outcomes = load_in_a_capped_process(genuine, cases)
    for name, outcome in outcomes.items():
        assert outcome["error"] == "ValueError", (name, outcome)
        message = outcome["message"]
        assert "its FAISS index" in message and "not a file written by" in message, (name, outcome)
        assert not outcome["faiss_read_it"], f"{name}: refused only after FAISS read it"


def test_crafted_sizes_in_the_other_faiss_indexes_are_refused(data, tmp_path):
    vectors = data[0]
    flat = FlatIPIndex().add(vectors).save(tmp_path / "flat.npz")
    lsh = FaissLSHIndex(n_bits=32).add(vectors).save(tmp_path / "lsh.npz")
    multi = MultiHashIndex(n_bits=8, n_tables=4).add(vectors).save(tmp_path / "multi.npz")
    ivf = FactoryIndex(factory="IVF8,Flat", n_probes=2).add(vectors).save(tmp_path / "ivf.npz")
    cases = {
        "flat ntotal": crafted(flat, tmp_path / "a.npz", put("<q", 8, 299)),
        "flat codes 16 GiB": crafted(flat, tmp_path / "b.npz", put("<Q", HEADER, 1 << 32)),
        "lsh ntotal": crafted(lsh, tmp_path / "c.npz", put("<q", 8, 10**9)),
        "multihash ntotal": crafted(multi, tmp_path / "d.npz", put("<q", 12, 301)),
        "multihash storage codes": crafted(multi, tmp_path / "e.npz", put("<Q", 2 * BINARY_HEADER, 1 << 36)),
        "ivf lists": crafted(ivf, tmp_path / "f.npz", put("<Q", HEADER, 1 << 40)),
        "ivf quantizer ntotal": crafted(ivf, tmp_path / "g.npz", put("<q", HEADER + 16 + 8, 1 << 40)),
        "another kind of FAISS index": crafted(ivf, tmp_path / "h.npz", lambda blob: blob.__setitem__(
            slice(0, 4), b"INSf")),
    }
    outcomes = load_in_a_capped_process(flat, cases)
    for name, outcome in outcomes.items():
        assert outcome["error"] == "ValueError" and "its FAISS index" in outcome["message"], (name, outcome)
        assert not outcome["faiss_read_it"], f"{name}: refused only after FAISS read it"


def test_flipped_bytes_never_crash_or_allocate_much(data, tmp_path):
    """Random single-byte changes anywhere in the FAISS bytes: each file is refused cleanly, or
    loads and answers (a change in the stored numbers is a different index, not a broken one:
    checksums cannot tell, because a crafter rewrites them)."""
    genuine = HNSWIndex(M=8).add(data[0]).save(tmp_path / "hnsw.npz")
    size = len(np.load(io.BytesIO(members_of(genuine)["faiss_index.npy"])))
    rng = np.random.default_rng(0)
    positions = sorted(set(rng.integers(0, 400, 25).tolist() + rng.integers(0, size, 25).tolist()))
    cases = {f"byte {at}": crafted(genuine, tmp_path / f"flip-{at}.npz",
                                   lambda blob, at=at: blob.__setitem__(at, blob[at] ^ int(rng.integers(1, 256))))
             for at in positions}
    outcomes = load_in_a_capped_process(genuine, cases)
    assert len(outcomes) == len(cases)
    for name, outcome in outcomes.items():
        assert outcome["error"] in (None, "ValueError"), (name, outcome)
        if outcome["error"]:
            assert "not a file written by" in outcome["message"], (name, outcome)
            assert "bad_alloc" not in outcome["message"] and "memory" not in outcome["message"].lower(), (name, outcome)


def test_the_docstring_says_what_checksums_do_not_protect_against():
    from imgsim_tutorial._support import index_file

    text = " ".join(index_file.__doc__.split())
    assert "accidental" in text and "truncat" in text and "another class" in text
    assert "crafted" in text and "only load files you trust" in text
