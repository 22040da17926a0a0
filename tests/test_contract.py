"""One contract, every index: each check below runs on every index class of the package.

To add an index, add one line to ``INDEX_FACTORIES``: its name -> (a factory configured to be
exact, a factory with its default settings). ``test_every_index_is_in_the_contract`` fails when
an ``IndexBase`` subclass is missing here.
"""

import contextlib
import importlib
import threading
import warnings

import numpy as np
import pytest

import imgsim_tutorial as t
from imgsim_tutorial.data.synthetic import realistic_embeddings
from imgsim_tutorial.index_base import IndexBase

N = 200  # candidates; small enough that the "exact" settings below visit everything
INDEX_FACTORIES = {  # names resolve lazily, so a missing class fails only its own tests
    "CosineIndex": (lambda: t.CosineIndex(), lambda: t.CosineIndex()),
    "LSHIndex": (lambda: t.LSHIndex(n_bits=3, n_tables=2, n_probes=8), lambda: t.LSHIndex()),  # all 8 buckets
    "FlatIPIndex": (lambda: t.FlatIPIndex(), lambda: t.FlatIPIndex()),
    "HNSWIndex": (lambda: t.HNSWIndex(M=16, ef_search=N), lambda: t.HNSWIndex()),
    "FaissLSHIndex": (lambda: t.FaissLSHIndex(n_bits=64, n_rerank=10 * N), lambda: t.FaissLSHIndex()),
    "MultiHashIndex": (lambda: t.MultiHashIndex(n_bits=2, n_tables=2, n_flips=2), lambda: t.MultiHashIndex()),
    "IVFIndex": (lambda: t.ivf.IVFIndex(n_lists=4, n_probes=4), lambda: t.ivf.IVFIndex(n_lists=8, n_probes=2)),
    "GraphIndex": (lambda: t.graph.GraphIndex(n_neighbors=16, ef_search=N), lambda: t.graph.GraphIndex()),
    "PQIndex": (lambda: t.pq.PQIndex(n_subvectors=4, n_bits=4, n_rerank=N),  # re-ranks everything
                lambda: t.pq.PQIndex(n_subvectors=4, n_bits=6)),
    "FactoryIndex": (lambda: t.faiss_factory.FactoryIndex(factory="IVF4,Flat", n_probes=4),
                     lambda: t.faiss_factory.FactoryIndex(factory="IVF8,PQ8x4", n_probes=2)),
}
SCANS_ALL = {"CosineIndex", "FlatIPIndex", "LSHIndex", "FaissLSHIndex", "MultiHashIndex", "IVFIndex"}  # exact settings
NOT_IN_CONTRACT = {"SparkLSHIndex": "needs a Spark session (Java); tested in tests/test_spark.py"}
NAMES = list(INDEX_FACTORIES)


@pytest.fixture(scope="module")
def data():
    candidates, queries = realistic_embeddings(N, dim=32, n_queries=12, seed=3)
    return candidates, queries


@pytest.fixture(scope="module")
def exact(data):
    candidates, queries = data
    return t.CosineIndex().add(candidates).search(queries, 10)


@contextlib.contextmanager
def quiet():
    """Short result lists warn; these tests compare results, so the warning is noise here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", t.ShortResultWarning)
        yield


def _exact(name):
    return INDEX_FACTORIES[name][0]()


def _arrays_of(obj, seen=None):
    """Every NumPy buffer an index holds (a view counts as its base), following lists, dicts
    and our own helper objects."""
    seen = set() if seen is None else seen
    if isinstance(obj, np.ndarray):
        while isinstance(obj.base, np.ndarray):
            obj = obj.base
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [array for item in obj for array in _arrays_of(item, seen)]
    if isinstance(obj, dict):
        return [array for item in obj.values() for array in _arrays_of(item, seen)]
    if type(obj).__module__.startswith("imgsim_tutorial") and hasattr(obj, "__dict__"):
        return [array for item in vars(obj).values() for array in _arrays_of(item, seen)]
    return []


def test_import_is_cheap_and_faiss_loads_on_first_use():
    import subprocess
    import sys

    heavy = ["faiss", "torch", "transformers", "datasets", "ipywidgets", "matplotlib", "PIL"]
    script = f"""
import sys, imgsim_tutorial as t
heavy = {heavy!r}
assert [m for m in heavy if m in sys.modules] == [], [m for m in heavy if m in sys.modules]
assert 'imgsim_tutorial.faiss_index' not in sys.modules
cls = t.HNSWIndex  # reachable from the top level ...
assert 'faiss' not in sys.modules  # ... and still no faiss until an index is built
cls().add([[1.0, 0.0], [0.0, 1.0]])
assert 'faiss' in sys.modules
from imgsim_tutorial import *  # every name in __all__ resolves
print('ok')
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def all_subclasses(cls) -> list:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *all_subclasses(direct))]


def test_every_index_is_in_the_contract():
    for module in set(t._LAZY.values()) - {"spark"}:
        importlib.import_module(f"imgsim_tutorial.{module}")
    found = {cls.__name__ for cls in all_subclasses(IndexBase) if cls.__name__.endswith("Index")
             and cls.__module__.startswith("imgsim_tutorial") and cls.__name__ != "FaissIndexBase"}
    missing = found - set(INDEX_FACTORIES) - set(NOT_IN_CONTRACT)
    assert not missing, f"add these to INDEX_FACTORIES in tests/test_contract.py: {sorted(missing)}"
    not_top_level = found - set(t.__all__)
    assert not not_top_level, f"add these to _LAZY in imgsim_tutorial/__init__.py: {sorted(not_top_level)}"


@pytest.mark.parametrize("name", NAMES)
def test_exact_settings_equal_cosine_index(name, data, exact):
    candidates, queries = data
    scores, ids = _exact(name).add(candidates).search(queries, 10)
    np.testing.assert_array_equal(ids, exact[1])
    np.testing.assert_allclose(scores, exact[0], atol=1e-5)
    assert scores.dtype == np.float32 and ids.shape == (len(queries), 10)


@pytest.mark.parametrize("name", NAMES)
def test_add_twice_equals_add_once(name, data):
    candidates, queries = data
    once = _exact(name).add(candidates)
    twice = _exact(name).add(candidates[:100]).add(candidates[100:])
    assert len(twice) == N and sorted(twice.ids_.tolist()) == list(range(N))  # 100..199 continue the first add
    assert twice.search(candidates[[3, 150]], 1)[1][:, 0].tolist() == [3, 150]
    a, b = once.search(queries, 5), twice.search(queries, 5)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[0], b[0], atol=1e-6)
    returned = _exact(name)
    assert returned.add(candidates[:40]) is returned


@pytest.mark.parametrize("name", NAMES)
def test_string_ids_end_to_end(name, data, exact, tmp_path):
    candidates, queries = data
    names = np.array([f"leaf-{row:03d}.png" for row in range(N)])
    index = _exact(name).add(candidates[:150], ids=names[:150]).add(candidates[150:], ids=list(names[150:]))
    _, ids = index.search(queries, 10)
    assert ids.dtype.kind == "U" and ids.tolist() == names[exact[1]].tolist()
    loaded = type(index).load(index.save(tmp_path / "strings.npz"))
    assert loaded.search(queries, 10)[1].tolist() == ids.tolist()
    assert t.recall_at_k(ids, names[exact[1]]) == 1.0


@pytest.mark.parametrize("name", NAMES)
def test_mixing_id_kinds_is_an_error(name, data):
    candidates, _ = data
    index = _exact(name).add(candidates[:20])
    with pytest.raises(ValueError, match="integer ids but the new ids are strings"):
        index.add(candidates[20:22], ids=["a", "b"])
    strings = _exact(name).add(candidates[:20], ids=[f"x{row}" for row in range(20)])
    with pytest.raises(ValueError, match="string ids"):
        strings.add(candidates[20:22])
    with pytest.raises(ValueError, match="string ids but the new ids are integers"):
        strings.add(candidates[20:22], ids=[5, 6])
    with pytest.raises(ValueError, match="integers or strings"):
        _exact(name).add(candidates[:20], ids=np.arange(20) + 0.5)
    assert len(index) == 20 and len(strings) == 20  # a refused add changes nothing


@pytest.mark.parametrize("name", NAMES)
def test_search_with_stats_counts_candidates(name, data):
    candidates, queries = data
    for make in INDEX_FACTORIES[name]:
        index = make().add(candidates)
        scores, ids, stats = index.search_with_stats(queries, 5)
        n_candidates = stats["n_candidates"]
        assert n_candidates.shape == (len(queries),) and n_candidates.dtype.kind == "i"
        assert np.all((n_candidates >= 0) & (n_candidates <= N))
    exact_index = _exact(name).add(candidates)
    if name in SCANS_ALL:
        assert np.all(exact_index.search_with_stats(queries, 5)[2]["n_candidates"] == N)


@pytest.mark.parametrize("name", NAMES)
def test_memory_bytes_has_one_shape_and_counts_every_array(name, data):
    candidates, _ = data
    for make in INDEX_FACTORIES[name]:
        index = make().add(candidates)
        parts = index.memory_bytes()
        assert isinstance(parts, dict) and parts
        assert all(isinstance(part, str) and isinstance(size, int) and size >= 0 for part, size in parts.items())
        held = sum(array.nbytes for array in _arrays_of(index))
        assert sum(parts.values()) >= held, f"memory_bytes counts {sum(parts.values())} B, the index holds {held} B"


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip(name, data, tmp_path):
    candidates, queries = data
    for which, make in zip(("exact", "default"), INDEX_FACTORIES[name]):
        index = make().add(candidates, ids=np.arange(N) * 7)
        path = index.save(tmp_path / f"{which}.npz")
        loaded = type(index).load(path)
        assert type(loaded) is type(index) and loaded.get_params() == index.get_params() and len(loaded) == N
        with quiet():
            a, b = index.search_with_stats(queries, 5), loaded.search_with_stats(queries, 5)
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(a[0], b[0])
        assert IndexBase.load(path).get_params() == index.get_params()


@pytest.mark.parametrize("name", NAMES)
def test_k_and_dimension_are_checked(name, data):
    candidates, queries = data
    with pytest.raises(ValueError, match="call .add"):
        _exact(name).search(queries, 1)
    index = _exact(name).add(candidates)
    for k, message in [(0, "at least 1"), (N + 1, f"holds only {N}"), (2.5, "whole number"), ("3", "whole number")]:
        with pytest.raises(ValueError, match=message):
            index.search(queries, k)
    with pytest.raises(ValueError, match="dimension 31, but the index was built with dimension 32"):
        index.search(queries[:, :31], 1)
    with pytest.raises(ValueError, match="dimension 31"):
        index.add(candidates[:3, :31])
    assert len(index) == N


def _state(index):
    state = {name: value.copy() for name, value in vars(index).items() if isinstance(value, np.ndarray)}
    state["memory"] = index.memory_bytes()
    state["params"] = index.get_params()
    return state


@pytest.mark.parametrize("name", NAMES)
def test_queries_never_change_fitted_state(name, data):
    candidates, queries = data
    index = INDEX_FACTORIES[name][1]().add(candidates)
    before = _state(index)
    with quiet():
        first = index.search_with_stats(queries, 3)
        index.search(queries, 50)
        index.search(queries[0], 1)
        again = index.search_with_stats(queries, 3)
    after = _state(index)
    assert before.keys() == after.keys()
    for key in before:
        if isinstance(before[key], np.ndarray):
            np.testing.assert_array_equal(before[key], after[key], err_msg=key)
        else:
            assert before[key] == after[key], key
    np.testing.assert_array_equal(first[1], again[1])


@pytest.mark.parametrize("name", NAMES)
def test_threads_with_different_k_match_one_thread(name, data):
    candidates, queries = data
    queries = np.tile(queries, (4, 1))  # longer searches overlap more
    index = INDEX_FACTORIES[name][1]().add(candidates)
    ks = [1, 5, 10, 100] * 3  # 100 > HNSW's ef_search: the old code rewrote the shared efSearch
    with quiet():
        expected = {k: index.search(queries, k) for k in set(ks)}
        results, errors = [None] * len(ks), []

        def work(slot, k):
            try:
                for _ in range(10):
                    results[slot] = index.search(queries, k)
                    if not np.array_equal(results[slot][1], expected[k][1]):
                        return
            except Exception as error:  # reported below, with the thread's k
                errors.append((k, error))

        threads = [threading.Thread(target=work, args=(slot, k)) for slot, k in enumerate(ks)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors, errors
    for slot, k in enumerate(ks):
        np.testing.assert_array_equal(results[slot][1], expected[k][1], err_msg=f"k={k}")


# -- ids and files: the rules every index keeps ----------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_negative_integer_ids_are_refused(name, data):
    """-1 marks a missing result, so a negative id would make its item look missing in every search."""
    candidates, _ = data
    index = _exact(name).add(candidates[:20])
    for ids in (np.arange(-1, 4), [3, 2, -7, 1, 0]):
        with pytest.raises(ValueError, match=r"ids must be >= 0 .*-1 marks a missing result.*string ids"):
            index.add(candidates[20:25], ids=ids)
    with pytest.raises(ValueError, match=r"ids must be >= 0"):  # in the first batch too
        _exact(name).add(candidates[:40], ids=np.arange(40) - 3)
    with pytest.raises(ValueError, match=r"ids must fit in a signed 64-bit integer"):  # would wrap to negative
        index.add(candidates[20:22], ids=np.array([0, 2**63], dtype=np.uint64))
    assert len(index) == 20 and index.search(candidates[:3], 1)[1][:, 0].tolist() == [0, 1, 2]


def _files_in(folder) -> dict:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


@pytest.mark.parametrize("name", NAMES)
def test_add_after_load_keeps_every_item_and_never_changes_the_saved_files(name, data, tmp_path):
    candidates, _ = data
    folder = tmp_path / "saved"
    path = _exact(name).add(candidates[:150], ids=np.arange(150) * 2).save(folder / "index.npz")
    saved = _files_in(folder)
    loaded = IndexBase.load(path)  # through the base class: each class's own files come along
    loaded.add(candidates[150:], ids=np.arange(150, N) * 2)
    assert len(loaded) == N
    assert loaded.search(candidates[[3, 140, 160, 199]], 1)[1][:, 0].tolist() == [6, 280, 320, 398]
    assert _files_in(folder) == saved, "add() after load() changed the saved files"
    again = type(loaded).load(path)
    assert len(again) == 150 and again.search(candidates[[3, 149]], 1)[1][:, 0].tolist() == [6, 298]


@pytest.mark.parametrize("name", NAMES)
def test_a_save_that_fails_part_way_keeps_the_previous_files(name, data, tmp_path, monkeypatch):
    candidates, queries = data
    path = tmp_path / "index.npz"
    first = _exact(name).add(candidates[:120])
    first.save(path)
    saved = _files_in(tmp_path)
    with quiet():
        expected = first.search(queries, 5)
    real_savez = np.savez

    def dies_midway(handle, **arrays):
        real_savez(handle, **dict(list(arrays.items())[:1]))  # part of the archive is written ...
        raise OSError("No space left on device")  # ... then the disk is full

    monkeypatch.setattr(np, "savez", dies_midway)
    with pytest.raises(OSError, match="No space left"):
        _exact(name).add(candidates[60:]).save(path)
    monkeypatch.undo()
    assert _files_in(tmp_path) == saved  # the old files, byte for byte, and no temporary file left
    with quiet():
        scores, ids = IndexBase.load(path).search(queries, 5)
    np.testing.assert_array_equal(ids, expected[1])
    np.testing.assert_array_equal(scores, expected[0])


# -- filters and removals: the rules every index keeps (issue #25; more in tests/test_filtered.py) ----
@pytest.mark.parametrize("name", NAMES)
def test_exact_settings_filter_exactly(name, data):
    """Configured to be exact, every index returns exactly the exact search's allowed top-k, by mask or by ids."""
    candidates, queries = data
    index, oracle = _exact(name).add(candidates), t.CosineIndex().add(candidates)
    rng = np.random.default_rng(7)
    for mask in (rng.random(N) < 0.3, rng.random(N) < 0.03, np.zeros(N, dtype=bool)):
        expected = oracle.search_with_stats(queries, 10, allowed=mask)
        for allowed in (mask, np.flatnonzero(mask).tolist()):
            with quiet():
                scores, ids, stats = index.search_with_stats(queries, 10, allowed=allowed)
            np.testing.assert_array_equal(ids, expected[1])
            np.testing.assert_allclose(scores, expected[0], atol=1e-5)
            assert stats["n_allowed"] == mask.sum() and np.all(stats["n_candidates"] <= N)


@pytest.mark.parametrize("name", NAMES)
def test_removed_items_are_skipped_and_saved(name, data, tmp_path):
    candidates, queries = data
    index = _exact(name).add(candidates).remove([3, 150])
    assert index.search(candidates[[3, 150]], 1)[1][:, 0].tolist() != [3, 150]
    with quiet():
        expected = index.search(queries, 10)
    assert not np.isin(expected[1], [3, 150]).any()
    loaded = IndexBase.load(index.save(tmp_path / "removed.npz"))
    with quiet():
        np.testing.assert_array_equal(loaded.search(queries, 10)[1], expected[1])
    assert loaded.n_removed() == 2
    with pytest.raises(ValueError, match="does not hold"):
        loaded.remove([N + 1])
