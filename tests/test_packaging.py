"""Packaging and delivery: dependencies per launch point, the torch install, the repository address.

pyproject.toml is the source of truth: core dependencies are what the notebooks import (Colab
installs only those), extras `lab`, `app`, `dev`, `scale` are what `make` adds; Binder gets the
core plus lab, app and scale. The course's GitHub address is written once, in [tool.imgsim].
"""

import ast
import importlib.util
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; on 3.10 this check is skipped

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CORE = set(PROJECT["project"]["dependencies"])
EXTRAS = {name: set(requirements) for name, requirements in PROJECT["project"]["optional-dependencies"].items()}


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


install_torch = load_script("install_torch")
retarget = load_script("retarget")


def names(requirements):
    return {re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


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


# --- dependencies -------------------------------------------------------------------------------

def test_core_is_what_the_notebooks_import_and_nothing_for_tools():
    assert not names(CORE) & {"jupyterlab", "voila", "pytest", "nbval", "playwright", "hypothesis", "notebook"}
    imported = set()
    for path in [*ROOT.glob("notebooks/src/*.py"), *ROOT.glob("imgsim_tutorial/**/*.py")]:
        code = re.sub(r"^(\s*)[%!].*$", r"\1pass", path.read_text(), flags=re.M)  # notebook magics
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    distribution = {"PIL": "pillow", "faiss": "faiss-cpu", "ipywidgets": "ipywidgets", "IPython": "ipywidgets",
                    "huggingface_hub": "transformers", "safetensors": "transformers", "pyarrow": "datasets",
                    "pandas": "datasets"}  # installed with the dependency named on the right
    third_party = imported - set(sys.stdlib_module_names) - {"imgsim_tutorial", "__future__"}
    needed = {distribution.get(module, module.lower()) for module in third_party}
    missing = needed - names(CORE) - names(EXTRAS["scale"])
    assert not missing, f"notebooks or the package import {sorted(missing)}: add them to the core dependencies"


def test_extras_for_lab_app_dev_and_scale():
    assert names(EXTRAS["lab"]) == {"jupyterlab"} and names(EXTRAS["app"]) == {"voila"}
    dev = {"pytest", "nbval", "hypothesis", "playwright", "jupytext", "nbformat", "nbclient", "psutil", "ruff"}
    assert dev <= names(EXTRAS["dev"])
    assert any(r.startswith("pyspark>=3.5") for r in EXTRAS["scale"])


def test_environment_yml_is_what_make_installs():
    everything = CORE | set().union(*EXTRAS.values())
    assert conda_pip_requirements(ROOT / "environment.yml") == everything


def test_binder_gets_what_learners_use_and_java():
    wanted = CORE | EXTRAS["lab"] | EXTRAS["app"] | EXTRAS["scale"]
    assert conda_pip_requirements(ROOT / "binder" / "environment.yml") == wanted
    assert "pip install --no-deps ." in (ROOT / "binder" / "postBuild").read_text()
    assert "openjdk-17-jre-headless" in (ROOT / "binder" / "apt.txt").read_text().split()


def test_license_is_an_spdx_string_with_its_file():
    assert PROJECT["project"]["license"] == "Apache-2.0"
    assert PROJECT["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text


@pytest.mark.slow
def test_wheel_builds_without_warnings_and_ships_the_encoder(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    noise = [line for line in (built.stdout + built.stderr).splitlines()
             if re.search(r"BuildBackendWarning|deprecated|is absent from", line)]
    assert not noise, "\n".join(noise)
    import zipfile

    files = zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist()
    assert "imgsim_tutorial/assets/leaf-vit-tiny/model.safetensors" in files
    assert any(name.endswith("licenses/LICENSE") for name in files)


# --- torch ---------------------------------------------------------------------------------------

def test_linux_without_gpu_installs_the_cpu_build_from_pytorchs_index():
    assert install_torch.torch_build("Linux", gpu=False) == "cpu"
    assert install_torch.torch_build("Linux", gpu=True) == "default"
    assert install_torch.torch_build("Darwin", gpu=False) == "default"
    requirement = install_torch.torch_requirement()
    assert requirement in CORE
    line = install_torch.pip_arguments("cpu", requirement, index_answers=True, cpu_builds=[])
    assert line == [requirement, "--index-url", "https://download.pytorch.org/whl/cpu"]


def test_without_the_index_a_cpu_wheel_pip_offers_is_pinned():
    line = install_torch.pip_arguments("cpu", "torch>=2.2", False, ["2.13.0+cpu", "2.12.0+cpu"])
    assert line == ["torch==2.13.0+cpu"]
    with pytest.raises(ValueError, match="no CPU build of torch"):
        install_torch.pip_arguments("cpu", "torch>=2.2", False, ["2.1.0+cpu"])


def test_the_index_probe_never_hangs_on_a_silent_server():
    """A server that accepts and never answers must cost the probe's deadline, not pip's minutes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    started = time.monotonic()
    assert install_torch.reachable(f"http://127.0.0.1:{server.getsockname()[1]}/torch/", timeout=1.0) is False
    assert time.monotonic() - started < 2.0
    server.close()
    started = time.monotonic()
    assert install_torch.reachable(f"http://127.0.0.1:{free_port()}/torch/", timeout=1.0) is False  # refused
    assert time.monotonic() - started < 2.0


def test_a_reachable_cpu_index_pins_its_newest_cpu_build(tmp_path, monkeypatch, capsys):
    """A PEP 503 index on 127.0.0.1 plays PyTorch's CPU index: probed, listed, pinned (dry run)."""
    import functools
    import http.server

    (tmp_path / "torch").mkdir()
    wheel = "torch-2.99.0+cpu-py3-none-any.whl"
    (tmp_path / "torch" / "index.html").write_text(f'<a href="/files/{wheel}">{wheel}</a>')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(install_torch, "CPU_INDEX", f"http://127.0.0.1:{server.server_address[1]}")
        assert install_torch.main(["--build", "cpu", "--dry-run"]) == 0
    finally:
        server.shutdown()
    line = capsys.readouterr().out
    assert f"pip install torch==2.99.0+cpu --index-url {install_torch.CPU_INDEX}" in line, line


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_installs_torch_first_then_the_package_with_all_extras(tmp_path):
    plan = subprocess.run(["make", "-n", "-B", "install", f"VENV={tmp_path / 'venv'}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60).stdout
    assert "scripts/install_torch.py" in plan and '-e ".[lab,app,dev,scale]"' in plan
    assert plan.index("scripts/install_torch.py") < plan.index('-e ".[lab,app,dev,scale]"')
    assert "torch==" not in plan  # the decision is the script's, not a pin that pulls CUDA


def test_make_test_installs_java_17_when_missing():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test-notebooks: .*\bjava\b", makefile, flags=re.M)
    assert re.search(r"^test-hub: .*\bjava\b", makefile, flags=re.M)
    recipe = makefile.split("\njava:", 1)[1].split("\n\n", 1)[0]
    assert "command -v java" in recipe and "openjdk-17-jre-headless" in recipe


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()

    def runs(name: str, seen=()) -> set:
        """The targets ``name`` names in its prerequisites or recipe, followed through the Makefile."""
        target = re.search(rf"^{re.escape(name)}: (.*)\n((?:\t.*\n)*)", makefile, flags=re.M)
        if target is None or name in seen:
            return set()
        named = {word for word in re.findall(r"(?<![\w$(-])[a-z][\w-]*", target.group(1) + " " + target.group(2))
                 if re.search(rf"^{re.escape(word)}:", makefile, flags=re.M)}
        return named.union(*(runs(word, (*seen, name)) for word in named))

    for part in ("lint", "test-unit", "test-notebooks", "test-hub", "test-browser"):
        assert part in runs("test"), f"make test must run {part}"


# --- the repository address ----------------------------------------------------------------------

COURSE_ADDRESS = re.compile(r"(?:colab\.research\.google\.com/github/|mybinder\.org/v2/gh/|nbviewer\.org/github/"
                            r"|git\+https://github\.com/|git clone https://github\.com/)([\w.-]+/[\w-]+)")


def addresses(root):
    """Every course address in tracked files outside tests/: {address: [files]}."""
    found = {}
    for path in retarget.course_files(root):
        if path.relative_to(root).parts[0] == "tests":
            continue
        for address in COURSE_ADDRESS.findall(path.read_text(errors="replace")):
            found.setdefault(address.removesuffix(".git"), []).append(str(path.relative_to(root)))
    return found


def test_every_course_address_agrees_with_the_setting():
    setting = PROJECT["tool"]["imgsim"]["repository"]
    found = addresses(ROOT)
    assert set(found) == {setting}, {address: files for address, files in found.items() if address != setting}
    assert len(found[setting]) >= 20  # badges of every notebook, install cells, README


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_retarget_on_a_throwaway_clone(tmp_path):
    clone = tmp_path / "fork"
    subprocess.run(["git", "clone", "-q", "--local", str(ROOT), str(clone)], check=True, timeout=120)
    old = retarget.read_setting(clone)[0]
    done = subprocess.run([sys.executable, "scripts/retarget.py", "teacher-x/bean-course"], cwd=clone,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert retarget.read_setting(clone) == ("teacher-x/bean-course", "main")
    assert set(addresses(clone)) == {"teacher-x/bean-course"}
    leftover = subprocess.run(["git", "grep", "-l", old], cwd=clone, capture_output=True, text=True).stdout
    assert leftover.split() in ([], ["scripts/retarget.py"]), leftover
    # The fork's own tests of badges and addresses, run in the fork (they read its setting).
    checks = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "badges or address",
                             "tests/test_notebooks.py", "tests/test_packaging.py"],
                            cwd=clone, capture_output=True, text=True, timeout=300)
    assert checks.returncode == 0, checks.stdout[-3000:]
    with pytest.raises(ValueError, match="OWNER/NAME"):
        retarget.retarget("not a repository", root=clone)
