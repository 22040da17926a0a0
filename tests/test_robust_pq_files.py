"""PQIndex keeps its float vectors on disk for re-ranking: those files follow the rules of every
saved index (only save() changes them, a failed save loses nothing) and never outlive the index.

A re-ranking PQIndex saved to ``pq.npz`` also writes ``pq.vectors.f32`` beside it; its size and
SHA-256 are in the ``.npz`` header. While it works, an index keeps its vectors in a private
scratch file, deleted when the index is garbage-collected or the process exits.
"""

import gc
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from imgsim_tutorial.data.synthetic import realistic_embeddings
from imgsim_tutorial.index_base import IndexBase
from imgsim_tutorial.pq import PQIndex


@pytest.fixture(scope="module")
def data():
    return realistic_embeddings(400, 16, n_queries=10, seed=7)


def make(**settings):
    return PQIndex(n_subvectors=4, n_bits=4, n_rerank=50, **settings)


def files_in(folder) -> dict:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def test_the_vectors_file_is_checked_against_the_header(data, tmp_path):
    embeddings, queries = data
    path = make().add(embeddings).save(tmp_path / "pq.npz")
    beside = tmp_path / "pq.vectors.f32"
    good = beside.read_bytes()
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x01  # same size, one bit changed: only the checksum can tell
    beside.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"pq.vectors.f32.*does not match the checksum in pq.npz"):
        PQIndex.load(path)
    beside.write_bytes(good[:-4])
    with pytest.raises(ValueError, match=rf"pq.vectors.f32.*has {len(good) - 4} bytes.*pq.npz says {len(good)}"):
        IndexBase.load(path)
    beside.unlink()
    with pytest.raises(ValueError, match=r"pq.vectors.f32.*is missing.*copy both files"):
        PQIndex.load(path)
    beside.write_bytes(good)
    assert len(PQIndex.load(path).search(queries, 3)[1]) == len(queries)


def test_a_loaded_index_keeps_answering_from_its_own_files_after_a_save_over_them(data, tmp_path):
    embeddings, queries = data
    path = make().add(embeddings[:300]).save(tmp_path / "pq.npz")
    loaded = PQIndex.load(path)
    before = loaded.search(queries, 5)
    make(seed=3).add(embeddings[::-1]).save(path)  # another index saved over the same files
    after = loaded.search(queries, 5)
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_array_equal(before[0], after[0])


def test_a_swap_that_fails_half_way_puts_the_old_pair_back(data, tmp_path, monkeypatch):
    """Both files are complete before either is swapped in; if swapping the .npz fails after the
    vectors file was swapped, the old vectors file comes back."""
    embeddings, queries = data
    path = make().add(embeddings[:300]).save(tmp_path / "pq.npz")
    saved = files_in(tmp_path)
    expected = PQIndex.load(path).search(queries, 5)
    real_replace = os.replace

    def fails_on_the_npz(source, target):
        if str(target).endswith(".npz"):
            raise OSError("Input/output error")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", fails_on_the_npz)
    with pytest.raises(OSError, match="Input/output error"):
        make().add(embeddings[100:]).save(path)
    monkeypatch.undo()
    assert files_in(tmp_path) == saved
    np.testing.assert_array_equal(PQIndex.load(path).search(queries, 5)[1], expected[1])


def test_scratch_files_go_with_their_index(data, tmp_path):
    embeddings, _ = data
    scratch = tmp_path / "scratch"
    index = make(vectors_folder=str(scratch)).add(embeddings)
    assert len(list(scratch.iterdir())) == 1 and index.disk_bytes() == embeddings.nbytes
    loaded = PQIndex.load(index.save(tmp_path / "pq.npz"))
    assert len(list(scratch.iterdir())) == 1  # a loaded index reads the saved file: no copy yet
    loaded.add(embeddings[:5])  # copy-on-write: now it has a scratch file of its own
    assert len(list(scratch.iterdir())) == 2
    del index, loaded
    gc.collect()
    assert list(scratch.iterdir()) == []


def test_no_scratch_folder_or_file_outlives_the_process(tmp_path):
    """Ten re-ranking indexes in a child process whose temporary folder is ``tmp_path``: nothing
    may be left there once they are gone, nor after the process exits with some still alive."""
    script = """
        import gc, os, sys
        import numpy as np
        from imgsim_tutorial.pq import PQIndex
        data = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
        kept = [PQIndex(n_subvectors=4, n_bits=4, n_rerank=20).add(data) for _ in range(10)]
        print(len(os.listdir(sys.argv[1])), flush=True)
        del kept[5:]
        gc.collect()
        print(len(os.listdir(sys.argv[1])), flush=True)
    """
    env = {**os.environ, "TMPDIR": str(tmp_path), "TEMP": str(tmp_path), "TMP": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script), str(tmp_path)], capture_output=True,
                            text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    alive, after_del = map(int, result.stdout.split())
    assert alive >= 10 and after_del == alive - 5  # one scratch file per live index, gone with it
    leftovers = sorted(path.name for path in tmp_path.iterdir())
    assert leftovers == [], f"left behind after exit: {leftovers}"


def test_re_ranking_switched_on_after_adding_is_refused(data):
    embeddings, _ = data
    index = PQIndex(n_subvectors=4, n_bits=4).add(embeddings[:200])
    index.n_rerank = 50
    with pytest.raises(ValueError, match=r"holds 200 vectors with no floats on disk.*build it again with n_rerank"):
        index.add(embeddings[200:])
    assert len(index) == 200 and index.codes_.shape == (200, 4)  # the refused add changed nothing
