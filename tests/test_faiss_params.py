"""Dangerous settings end in a Python ValueError, never in a dead kernel.

Raw FAISS segfaults on ``IndexLSH`` with 0 bits and on HNSW with ``M=1``, aborts on ``M=0``,
hangs on ``M=-1``, and ``IndexBinaryMultiHash`` spins forever when ``nflip > b``. So every
setting is tried in a SUBPROCESS with a timeout: a crash or a hang fails the test instead of
killing the test run. The negative control shows the harness does catch a real crash.
"""

import json
import subprocess
import sys
import textwrap

import pytest

TIMEOUT_S = 60  # generous: two cores shared by a classroom's worth of processes

# (class, settings, the setting the message must name)
DANGEROUS = {
    "FaissLSHIndex": [({"n_bits": 0}, "n_bits"), ({"n_bits": -3}, "n_bits"), ({"n_bits": 2.5}, "n_bits"),
                      ({"n_bits": "8"}, "n_bits"), ({"rerank": -1}, "rerank")],
    "HNSWIndex": [({"M": 1}, "M"), ({"M": 0}, "M"), ({"M": -1}, "M"), ({"M": True}, "M"), ({"M": 10_000}, "M"),
                  ({"ef_search": 0}, "ef_search"), ({"ef_search": -5}, "ef_search"),
                  ({"ef_construction": 0}, "ef_construction")],
    "MultiHashIndex": [({"n_bits": 8, "n_flips": 9}, "n_flips"), ({"n_flips": -1}, "n_flips"),
                       ({"n_bits": 64}, "n_bits"), ({"n_bits": 70}, "n_bits"), ({"n_bits": 40, "n_flips": 20}, "n_flips"),
                       ({"shortlist": -1}, "shortlist"), ({"n_tables": 0}, "n_tables"), ({"seed": -1}, "seed")],
    "LSHIndex": [({"n_bits": 0}, "n_bits"), ({"n_bits": 65}, "n_bits"), ({"n_tables": 0}, "n_tables"),
                 ({"n_probes": -1}, "n_probes"), ({"center": "yes"}, "center"), ({"seed": 1.5}, "seed")],
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


def run_isolated(source: str, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(source), *args], capture_output=True,
                              text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {TIMEOUT_S} s (a hang): {args}")


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
