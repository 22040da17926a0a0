"""Dangerous settings end in a Python ValueError, never in a dead kernel.

Raw FAISS segfaults on ``IndexLSH`` with 0 bits and on HNSW with ``M=1``, aborts on ``M=0``,
hangs on ``M=-1``, and ``IndexBinaryMultiHash`` spins forever when ``nflip > b``. So every
setting is tried in a SUBPROCESS with a timeout: a crash or a hang fails the test instead of
killing the test run. The negative control shows the harness does catch a real crash.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

TIMEOUT_S = 60  # generous: two cores shared by a classroom's worth of processes

# (class, settings, the setting the message must name)
DANGEROUS = {
    "FaissLSHIndex": [({"n_bits": 0}, "n_bits"), ({"n_bits": -3}, "n_bits"), ({"n_bits": 2.5}, "n_bits"),
                      ({"n_bits": "8"}, "n_bits"), ({"n_rerank": -1}, "n_rerank")],
    "HNSWIndex": [({"M": 1}, "M"), ({"M": 0}, "M"), ({"M": -1}, "M"), ({"M": True}, "M"), ({"M": 10_000}, "M"),
                  ({"ef_search": 0}, "ef_search"), ({"ef_search": -5}, "ef_search"),
                  ({"ef_construction": 0}, "ef_construction")],
    "MultiHashIndex": [({"n_bits": 8, "n_flips": 9}, "n_flips"), ({"n_flips": -1}, "n_flips"),
                       ({"n_bits": 64}, "n_bits"), ({"n_bits": 70}, "n_bits"),
                       ({"n_bits": 40, "n_flips": 20}, "n_flips"),
                       ({"n_rerank": -1}, "n_rerank"), ({"n_tables": 0}, "n_tables"), ({"seed": -1}, "seed")],
    "LSHIndex": [({"n_bits": 0}, "n_bits"), ({"n_bits": 65}, "n_bits"), ({"n_tables": 0}, "n_tables"),
                 ({"n_probes": 0}, "n_probes"), ({"n_probes": 10**7}, "n_probes"), ({"center": "yes"}, "center"),
                 ({"seed": 1.5}, "seed")],
    "CosineIndex": [({"batch_size": 0}, "batch_size"), ({"batch_size": -1}, "batch_size")],
}

SCRIPT = """
import json, sys
import numpy as np
import imgsim_tutorial as t
data = np.random.default_rng(0).standard_normal((200, 16)).astype(np.float32)
for settings in json.loads(sys.argv[2]):
    print(json.dumps({"settings": settings}), flush=True)  # printed first: a crash names its case
    try:
        getattr(t, sys.argv[1])(**settings).add(data).search(data[:3], 5)
        outcome = {"error": None}
    except Exception as error:
        outcome = {"error": type(error).__name__, "message": str(error)}
    print(json.dumps(outcome), flush=True)
"""


def run_isolated(source: str, *args: str, timeout: int = TIMEOUT_S, env=None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(source), *args], capture_output=True,
                              text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout} s (a hang): {args}")


@pytest.mark.parametrize("name", DANGEROUS)
def test_dangerous_settings_raise_value_error_in_python(name):
    cases = DANGEROUS[name]
    # pass lists and scalars through JSON; True/1.5/"8" keep their types
    result = run_isolated(SCRIPT, name, json.dumps([settings for settings, _ in cases]))
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    outcomes = lines[1::2]
    if result.returncode != 0:
        last = lines[-1].get("settings", "?") if lines else "?"
        pytest.fail(f"{name}: process ended with code {result.returncode} (a signal if negative) while trying "
                    f"{last}; stderr: {result.stderr[-500:]}")
    assert len(outcomes) == len(cases)
    for (settings, setting), outcome in zip(cases, outcomes):
        assert outcome["error"] == "ValueError", (name, settings, outcome)
        message = outcome["message"]
        assert message.startswith(setting) and ("got" in message or "allowed" in message), (name, settings, message)
        assert "sensible value" in message or "use " in message or "True or False" in message, message


def test_negative_control_the_harness_sees_a_raw_faiss_crash():
    result = run_isolated("""
        import faiss, numpy as np
        faiss.IndexLSH(16, 0, True, False).train(np.ones((10, 16), dtype="float32"))
    """)
    assert result.returncode != 0  # a signal: exactly what the wrappers now prevent


def test_messages_say_range_and_a_sensible_value():
    from imgsim_tutorial import HNSWIndex, MultiHashIndex

    with pytest.raises(ValueError, match=r"M must be between 2 and 512, got 1; a sensible value is M=32"):
        HNSWIndex(M=1)
    with pytest.raises(ValueError, match=r"n_flips must be between 0 and 8, got 9"):
        MultiHashIndex(n_bits=8, n_flips=9)
    with pytest.raises(ValueError, match=r"visits \d+ buckets per table per query"):
        MultiHashIndex(n_bits=40, n_flips=20)


# -- factory strings (faiss_factory.FactoryIndex) ------------------------------------------------
# Each of these killed or hung the kernel when handed to FAISS as it was: HNSW1 segfaults,
# HNSW0 and IVF8_HNSW0 abort, NSG hangs and ignores Ctrl-C, a 0 in OPQ's output size or PQ's
# bits divides by zero (SIGFPE). (factory, the component the message must name)
CRASHING_FACTORIES = [
    ("HNSW1,Flat", "HNSW1"), ("HNSW0,Flat", "HNSW0"), ("IVF8_HNSW0,Flat", "IVF8_HNSW0"),
    ("IVF8_HNSW1,Flat", "IVF8_HNSW1"), ("NSG0,Flat", "NSG0"), ("NSG32,Flat", "NSG32"),
    ("OPQ4_0,PQ4", "OPQ4_0"), ("IVF8,PQ4x0", "PQ4x0"), ("IVF0,Flat", "IVF0"), ("HNSW100000,Flat", "HNSW100000"),
    ("IVF99999999999,Flat", "IVF99999999999"), ("PQ0", "PQ0"), ("PCA8,Flat", "PCA8"), ("IVF8,Flat,Flat", "Flat"),
    ("Flat,IVF8", "IVF8"), ("IVF8", "IVF8"), ("IVF8,PQ4x20", "PQ4x20"), ("IVF8,PQ4x8fs", "PQ4x8fs"),
    ("HNSW8,PQ4x4fs", "PQ4x4fs"), (" IVF8,Flat", " IVF8"), ("IVF8,,Flat", "''"),
]

FACTORY_SCRIPT = """
import json, pathlib, sys, tempfile, warnings
import numpy as np
from imgsim_tutorial.faiss_factory import FactoryIndex
warnings.simplefilter("ignore")  # a short result list is not what these cases are about
data = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
folder = pathlib.Path(tempfile.mkdtemp())
for factory in json.loads(sys.argv[1]):
    print(json.dumps({"factory": factory}), flush=True)  # printed first: a crash names its case
    try:
        index = FactoryIndex(factory=factory, n_probes=1).add(data)
        ids = index.search(data[:3], 5)[1]
        loaded = FactoryIndex.load(index.save(folder / "index.npz"))  # its saved bytes pass the checks too
        outcome = {"error": None, "same_after_load": loaded.search(data[:3], 5)[1].tolist() == ids.tolist()}
    except Exception as error:
        outcome = {"error": type(error).__name__, "message": str(error)}
    print(json.dumps(outcome), flush=True)
"""


def run_factories(factories: list) -> list:
    """Build, train, fill, search, save and load each factory string in one subprocess; the outcomes."""
    # one FAISS thread: OPQ training with OpenMP threads fighting over two busy cores takes 20 times longer
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = run_isolated(FACTORY_SCRIPT, json.dumps(factories), timeout=300, env=env)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0:
        last = lines[-1].get("factory", "?") if lines else "?"
        pytest.fail(f"process ended with code {result.returncode} (a signal if negative) while trying {last!r}; "
                    f"stderr: {result.stderr[-500:]}")
    outcomes = lines[1::2]
    assert len(outcomes) == len(factories)
    return outcomes


def test_crashing_factory_strings_raise_value_error_before_faiss_sees_them():
    outcomes = run_factories([factory for factory, _ in CRASHING_FACTORIES])
    for (factory, component), outcome in zip(CRASHING_FACTORIES, outcomes):
        assert outcome["error"] == "ValueError", (factory, outcome)
        message = outcome["message"]
        assert component in message and "e.g." in message, (factory, message)
        assert "FAISS cannot build" not in message, (factory, message)  # refused by our grammar, not by FAISS


@pytest.mark.slow
def test_every_string_the_grammar_accepts_builds_or_fails_cleanly():
    """Small instances of every shape the grammar admits: each one works or raises ValueError."""
    accepted = [f"{cells}{codes}{refine}" for cells in ("", "IVF4,", "IVF4_HNSW2,", "HNSW2,")
                for codes in ("Flat", "PQ4x2", "PQ4x4fs", "SQ8") for refine in ("", ",RFlat")]
    accepted += ["OPQ4,PQ4x4", "OPQ4,IVF4,PQ4x4fs,RFlat", "OPQ2_8,IVF4_HNSW2,Flat", "OPQ2_8,HNSW2,SQ8,RFlat",
                 "OPQ4_8,Flat", "OPQ2_8,PQ4x2", "PQ8x2", "HNSW512,Flat", "IVF1,SQfp16", "IVF300,SQ4", "PQ16x1",
                 "PQ1x12", "HNSW2,PQ4x4", "HNSW2,SQ6"]
    outcomes = run_factories(accepted)
    for factory, outcome in zip(accepted, outcomes):
        assert outcome["error"] in (None, "ValueError"), (factory, outcome)
        assert outcome["error"] or outcome["same_after_load"], (factory, outcome)
    refused = [factory for factory, outcome in zip(accepted, outcomes) if outcome["error"]]
    assert set(refused) <= {"HNSW2,PQ4x4fs", "HNSW2,PQ4x4fs,RFlat", "OPQ2_8,PQ4x2", "PQ8x2", "PQ1x12"}, refused


def test_factory_messages_name_the_component_the_range_and_an_example():
    from imgsim_tutorial.faiss_factory import FactoryIndex, check_factory

    with pytest.raises(ValueError, match=r"'HNSW1'.*M=1.*between 2 and 512.*e\.g\. 'HNSW32,Flat'"):
        FactoryIndex(factory="HNSW1,Flat")
    with pytest.raises(ValueError, match=r"'NSG32' is not a component the course supports.*allowed: .*IVF<n>"):
        FactoryIndex(factory="NSG32,Flat")
    with pytest.raises(ValueError, match=r"'PQ7' splits 64 dimensions into 7 pieces.*divide.*e\.g\. 'PQ8'"):
        check_factory("IVF4,PQ7", 64)
    with pytest.raises(ValueError, match=r"'OPQ8_20'.*divide"):
        check_factory("OPQ8_20,PQ8", 64)
    assert check_factory("OPQ16_64,IVF256_HNSW32,PQ16x4fs,RFlat", 128) == "OPQ16_64,IVF256_HNSW32,PQ16x4fs,RFlat"


def test_factory_n_probes_is_bounded_by_the_ivf_lists():
    import numpy as np

    from imgsim_tutorial.faiss_factory import FactoryIndex

    with pytest.raises(ValueError, match=r"n_probes must be between 1 and 8 .*'IVF8,Flat'.*got 9"):
        FactoryIndex(factory="IVF8,Flat", n_probes=9)
    with pytest.raises(ValueError, match=r"n_probes must be between 1 and 4 .*got 16"):
        FactoryIndex(factory="IVF4,Flat")  # the default n_probes=16 is too many for 4 lists
    assert FactoryIndex(factory="HNSW8,Flat", n_probes=50).n_probes == 50  # no IVF: nothing to bound
    data = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
    index = FactoryIndex(factory="IVF8,Flat", n_probes=8).add(data)
    index.n_probes = 64  # set after construction, as the benchmarks do
    with pytest.raises(ValueError, match=r"n_probes must be between 1 and 8"):
        index.search(data[:2], 3)
