"""Install PyTorch the way the course needs it, before the package (``make`` runs this).

Run:  python scripts/install_torch.py [--build cpu|default] [--dry-run]

PyPI's Linux ``torch`` wheel depends on the CUDA stack (cuda-toolkit, cuDNN, NCCL...: several
GB), useless without an NVIDIA GPU. So:

- Linux without an NVIDIA GPU: PyTorch's CPU build, from PyTorch's CPU wheel index;
- Linux with an NVIDIA GPU, macOS, Windows: the default build (PyPI's macOS and Windows wheels
  are CPU-only anyway).

Some machines cannot reach that index but give pip a CPU wheel of their own (a wheelhouse or a
mirror, as CI machines do). The index is therefore probed first with a hard deadline, never
waited on; when it does not answer, the newest ``+cpu`` build that pip already offers is pinned.
If there is none, the script stops and says how to proceed instead of pulling gigabytes.
The requirement itself (e.g. ``torch>=2.2``) is read from ``pyproject.toml``.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PROBE_TIMEOUT_S = 5.0


def torch_requirement(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The ``torch`` line of the core dependencies, e.g. ``"torch>=2.2"``."""
    found = re.search(r'^\s*"(torch(?:[<>=!~].*?)?)"', pyproject.read_text(), flags=re.M)
    if not found:
        raise ValueError(f"{pyproject} lists no torch dependency; expected a line like \"torch>=2.2\"")
    return found.group(1)


def has_nvidia_gpu() -> bool:
    """True when an NVIDIA driver reports at least one GPU."""
    gpus = Path("/proc/driver/nvidia/gpus")
    if gpus.is_dir() and any(gpus.iterdir()):
        return True
    if shutil.which("nvidia-smi"):
        try:
            listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return listing.returncode == 0 and "GPU" in listing.stdout
    return False


def torch_build(system: str, gpu: bool) -> str:
    """``"cpu"`` for Linux without an NVIDIA GPU, else ``"default"``.

    >>> torch_build("Linux", gpu=False), torch_build("Linux", gpu=True), torch_build("Darwin", gpu=False)
    ('cpu', 'default', 'default')
    """
    return "cpu" if system == "Linux" and not gpu else "default"


def reachable(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """One request with a hard deadline (a thread, so slow DNS or a silent server cannot hold us)."""
    answered = []

    def attempt():
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                answered.append(response.status < 400)
        except Exception:
            answered.append(False)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(answered and answered[0])


def offered_cpu_builds(*pip_options: str, python: str = sys.executable) -> list[str]:
    """The ``+cpu`` torch versions pip can install (with ``pip_options``, e.g. an index), newest first."""
    listing = subprocess.run([python, "-m", "pip", "index", "versions", "torch", *pip_options], capture_output=True,
                             text=True, timeout=60).stdout
    versions = re.search(r"Available versions:(.*)", listing)
    return [v.strip() for v in versions.group(1).split(",") if v.strip().endswith("+cpu")] if versions else []


def newest_allowed(versions: list[str], requirement: str) -> str | None:
    """The first of ``versions`` (newest first) at least the ``>=`` bound of ``requirement``.

    >>> newest_allowed(["2.13.0+cpu", "2.1.0+cpu"], "torch>=2.2")
    '2.13.0+cpu'
    >>> newest_allowed(["2.1.0+cpu"], "torch>=2.2") is None
    True
    """
    def key(version):
        return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])

    floor = re.search(r">=\s*([\d.]+)", requirement)
    allowed = [v for v in versions if not floor or key(v) >= key(floor.group(1))]
    return allowed[0] if allowed else None


def pip_arguments(build: str, requirement: str, index_answers: bool, cpu_builds: list[str]) -> list[str]:
    """What follows ``pip install`` for torch. Raises ValueError when no CPU build can be had.

    A ``+cpu`` build is pinned where one is listed, so that no other index pip is configured
    with can slip a CUDA build of a newer version in.

    >>> pip_arguments("cpu", "torch>=2.2", True, ["2.9.1+cpu"])
    ['torch==2.9.1+cpu', '--index-url', 'https://download.pytorch.org/whl/cpu']
    >>> pip_arguments("cpu", "torch>=2.2", True, [])
    ['torch>=2.2', '--index-url', 'https://download.pytorch.org/whl/cpu']
    >>> pip_arguments("cpu", "torch>=2.2", False, ["2.13.0+cpu"])
    ['torch==2.13.0+cpu']
    >>> pip_arguments("default", "torch>=2.2", False, [])
    ['torch>=2.2']
    """
    if build == "default":
        return [requirement]
    pinned = newest_allowed(cpu_builds, requirement)
    if index_answers:
        return [f"torch=={pinned}" if pinned else requirement, "--index-url", CPU_INDEX]
    if pinned is None:
        raise ValueError(f"no CPU build of torch is available: {CPU_INDEX} does not answer and pip offers no "
                         f"'+cpu' wheel matching {requirement!r}. PyPI's Linux wheel would pull several GB of "
                         "CUDA libraries. Reach that index, give pip a CPU wheel (pip --find-links), or accept "
                         "the default build with: make TORCH_BUILD=default")
    return [f"torch=={pinned}"]


def main(arguments: list[str]) -> int:
    build = arguments[arguments.index("--build") + 1] if "--build" in arguments else ""
    if build not in ("", "cpu", "default"):
        raise ValueError(f"--build must be 'cpu' or 'default', got {build!r}")
    build = build or torch_build(platform.system(), has_nvidia_gpu())
    requirement = torch_requirement()
    index_answers = build == "cpu" and reachable(CPU_INDEX + "/torch/")
    cpu_builds = []
    if build == "cpu":
        cpu_builds = offered_cpu_builds("--index-url", CPU_INDEX) if index_answers else offered_cpu_builds()
    args = pip_arguments(build, requirement, index_answers, cpu_builds)
    where = {"default": "the default build", "cpu": "PyTorch's CPU build"}[build]
    source = (CPU_INDEX if index_answers else "a wheel pip already offers (CPU index unreachable)"
              ) if build == "cpu" else "pip's index"
    print(f"torch: {where} from {source}: pip install {' '.join(args)}")
    if "--dry-run" in arguments:
        return 0
    return subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *args]).returncode


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ValueError as error:
        print(f"torch: {error}", file=sys.stderr)
        sys.exit(1)
