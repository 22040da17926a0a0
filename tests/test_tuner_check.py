"""benchmarks/tuner_check.py end to end on a small scale: the tuner's first suggestion, built literally,
measured against exact search, next to a sweep (the speed targets are the full run's job, at N = 100,000)."""

import json

import pytest
from conftest import load_benchmark


@pytest.fixture(scope="module")
def tuner_check():
    return load_benchmark("tuner_check")


def test_quick_run_writes_the_suggestion_and_the_sweep(tuner_check, tmp_path):
    out = tmp_path / "tuner_check.json"
    result = tuner_check.main(["--quick", "--rounds", "1", "--timed-queries", "5", "--out", str(out)])
    assert json.loads(out.read_text())["suggestion"]["setting"] == result["suggestion"]["setting"]
    suggestion = result["suggestion"]
    assert set(suggestion["setting"]) == {"n_bits", "n_tables", "n_probes", "center", "min_collisions"}
    assert suggestion["recall"] >= 0.9 and result["verdicts"]["recall reaches the target"]
    assert suggestion["speedup"] > 0 and suggestion["exact_ms"] > 0
    reaching = [row for row in result["sweep"] if row["recall"] >= 0.9]
    assert reaching and all("speedup" in row for row in reaching if tuner_check.not_dominated(row, reaching))
    assert result["fastest"]["recall"] >= 0.9


def test_bad_arguments_say_what_is_expected(tuner_check):
    with pytest.raises(SystemExit):
        tuner_check.main(["--n", "10", "--target", "0.9"])
