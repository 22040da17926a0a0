"""Real-browser fixtures: JupyterLab and Voila on 127.0.0.1, driven by Debian's Chromium.

Everything runs in isolated temporary folders (Jupyter config, runtime, settings, workspaces,
the notebooks themselves), so the tests never touch the learner's setup or the repository.
Every request that is not to 127.0.0.1 is blocked.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# Every request that is not to 127.0.0.1 goes to a proxy on the discard port, where nothing
# listens, so it fails at once (Chromium never proxies loopback). Playwright's request routing
# would do the same but slows JupyterLab's hundreds of requests enough to stall its start-up.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--proxy-server=http://127.0.0.1:9"]


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(f"CI=true but {CHROMIUM} is missing: `make test` installs it with apt; see Makefile")
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}; `apt install chromium` to run the browser tests")
    for item in items:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> Path:
    """Screenshots go to $IMGSIM_ARTIFACTS (CI sets it), else to a temporary folder."""
    folder = Path(os.environ.get("IMGSIM_ARTIFACTS") or tmp_path_factory.mktemp("artifacts")) / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_http(url: str, process, seconds: float = 90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


def wait_for_port(port: int, process, seconds: float = 90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on port {port} after {seconds} s")


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    """A private copy of the notebooks plus isolated Jupyter folders and environment."""
    base = tmp_path_factory.mktemp("browser")
    notebooks = base / "notebooks"
    notebooks.mkdir()
    import nbformat

    sources = [*(ROOT / "notebooks").glob("*.ipynb"), Path(__file__).parent / "negative_control.ipynb"]
    for source in sources:  # without stored outputs and counts: whatever shows up, this run made
        notebook = nbformat.read(source, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(notebook, notebooks / source.name)
    settings = base / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Render every cell (no virtual scrolling), so the checks see all outputs.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    notifications = base / "lab-settings" / "@jupyterlab" / "apputils-extension"
    notifications.mkdir(parents=True)
    (notifications / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env = dict(os.environ, HF_HUB_OFFLINE="1", IMGSIM_MODE="offline", JUPYTER_CONFIG_DIR=str(base / "config"),
               JUPYTER_RUNTIME_DIR=str(base / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(base / "lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"), IMGSIM_CACHE=str(base / "cache"),
               HF_DATASETS_DISABLE_PROGRESS_BARS="1", TQDM_DISABLE="1")
    return {"notebooks": notebooks, "env": env, "base": base}


def start(command, env, log_path):
    with open(log_path, "w") as log:  # the child keeps its own copy of the file descriptor
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def lab(workspace):
    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={workspace['notebooks']}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None",
               "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands, await the kernel
               *(["--allow-root"] if os.geteuid() == 0 else [])]
    process = start(command, workspace["env"], workspace["base"] / "lab.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/api/status?token={token}", process)
        yield {"url": url, "token": token}
    finally:
        stop(process)


@pytest.fixture(scope="session")
def voila(workspace):
    port = free_port()
    command = [sys.executable, "-m", "voila", str(workspace["notebooks"] / "11_search_app.ipynb"), "--no-browser",
               "--Voila.ip=127.0.0.1", f"--port={port}", "--VoilaExecutor.timeout=180"]
    process = start(command, workspace["env"], workspace["base"] / "voila.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, process)  # requesting a page would run the notebook once more
        yield {"url": url, "process": process}
    finally:
        stop(process)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.outside, page.answered_outside = [], []
    local = ("127.0.0.1", None)  # None: data: and blob: URLs

    def record(request):
        if urlparse(request.url).hostname not in local:
            page.outside.append(request.url)

    def record_answer(response):
        if urlparse(response.url).hostname not in local:
            page.answered_outside.append(response.url)

    page.console_errors = []
    page.on("console", lambda message: page.console_errors.append(message.text[:300])
            if message.type == "error" else None)
    page.on("request", record)
    page.on("response", record_answer)
    yield page
    context.close()
