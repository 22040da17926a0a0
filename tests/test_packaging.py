"""environment.yml, binder/ and pyproject.toml must ask for the same dependencies."""

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; on 3.10 this check is skipped

ROOT = Path(__file__).resolve().parents[1]


def pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])


def conda_pip_requirements(path):
    lines = path.read_text().splitlines()
    start = lines.index("  - pip:")
    found = set()
    for line in lines[start + 1:]:
        match = re.match(r"^      - (.+)$", line)
        if not match:
            break
        if not match.group(1).startswith("--"):
            found.add(match.group(1).strip())
    return found


def test_environment_yml_matches_pyproject():
    assert conda_pip_requirements(ROOT / "environment.yml") == pyproject_requirements()


def test_binder_matches_pyproject_and_installs_the_package():
    assert conda_pip_requirements(ROOT / "binder" / "environment.yml") == pyproject_requirements()
    assert "pip install --no-deps ." in (ROOT / "binder" / "postBuild").read_text()


def test_makefile_pins_torch_before_the_package():
    makefile = (ROOT / "Makefile").read_text()
    assert "TORCH_PIN ?= torch==2.13.*" in makefile
    assert makefile.index('"$(TORCH_PIN)"') < makefile.index('-e ".[dev]"')


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
