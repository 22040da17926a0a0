"""resolve_mode: decided once, honours the switches, and never hangs on a dead network."""

import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from imgsim_tutorial._support import mode as mode_module


def run_python(code, **env):
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "IMGSIM_MODE")}
    full_env.update(env)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True, timeout=60)
    return result, time.monotonic() - started


def test_hf_hub_offline_means_offline_without_network():
    # A socket() that explodes proves no connection is even attempted.
    code = ("import socket\n"
            "def refuse(*a, **k): raise AssertionError('network touched')\n"
            "socket.socket.connect = refuse\n"
            "import imgsim_tutorial as t, sys\n"
            "print(t.resolve_mode())\n"
            "assert 'transformers' not in sys.modules and 'datasets' not in sys.modules\n")
    result, _ = run_python(code, HF_HUB_OFFLINE="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [
        "imgsim_tutorial: offline mode (HF_HUB_OFFLINE=1): using generated bean leaves and the bundled encoder.",
        "offline"]


def test_auto_mode_falls_back_fast_when_the_hub_never_answers():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections (the kernel does) but never reads or answers
    port = listener.getsockname()[1]
    try:
        result, seconds = run_python("import imgsim_tutorial as t, os; print(t.resolve_mode()); "
                                     "print(os.environ['HF_HUB_OFFLINE'])",
                                     IMGSIM_MODE="auto", IMGSIM_HUB_URL=f"http://127.0.0.1:{port}")
    finally:
        listener.close()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["offline", "1"]
    # Either the probe's watchdog gives up ("no answer") or, on a busy machine, the socket's own
    # timeout of the same length fires first ("timed out"): both say why, and both are fast.
    assert "no answer" in result.stdout or "timed out" in result.stdout, result.stdout
    assert seconds < 10


def test_auto_mode_chooses_hub_when_the_hub_answers():
    class Ok(BaseHTTPRequestHandler):  # answers /api/models like the Hub: 200 and a JSON list
        def do_GET(self):
            body = b'[{"id": "nateraw/vit-base-beans"}]'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result, _ = run_python("import imgsim_tutorial as t; print(t.resolve_mode())",
                               IMGSIM_MODE="auto", IMGSIM_HUB_URL=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    assert result.stdout.split()[-1] == "hub", result.stdout + result.stderr


def test_refused_connection_is_offline(monkeypatch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    reachable, reason = mode_module.probe_hub(f"http://127.0.0.1:{port}", timeout=3)
    assert not reachable and "unreachable" in reason


def test_mode_is_decided_once(monkeypatch):
    monkeypatch.setenv("IMGSIM_MODE", "offline")
    assert mode_module.resolve_mode(refresh=True, announce=False) == "offline"
    monkeypatch.setenv("IMGSIM_MODE", "hub")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert mode_module.resolve_mode(announce=False) == "offline"  # cached for the process


def test_unknown_mode_is_refused(monkeypatch):
    monkeypatch.setenv("IMGSIM_MODE", "cloud")
    with pytest.raises(ValueError, match="IMGSIM_MODE must be"):
        mode_module.resolve_mode(refresh=True, announce=False)
    monkeypatch.setenv("IMGSIM_MODE", "offline")
    mode_module.resolve_mode(refresh=True, announce=False)


def test_transformers_offline_means_offline_without_network():
    code = ("import socket\n"
            "def refuse(*a, **k): raise AssertionError('network touched')\n"
            "socket.socket.connect = refuse\n"
            "import imgsim_tutorial as t, os\n"
            "print(t.resolve_mode()); print(os.environ['HF_HUB_OFFLINE'])\n")
    result, _ = run_python(code, TRANSFORMERS_OFFLINE="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [
        "imgsim_tutorial: offline mode (TRANSFORMERS_OFFLINE=1): using generated bean leaves and the bundled encoder.",
        "offline", "1"]


@pytest.mark.parametrize("switch", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_hub_mode_from_the_local_cache_never_touches_the_network(switch, tmp_path):
    # IMGSIM_MODE=hub + an offline switch: the Hub's files from the local Hugging Face cache. This
    # cache is empty, so loading must fail at once, saying what is missing and how to go offline.
    code = ("import socket, time\n"
            "def refuse(*a, **k): raise AssertionError('network touched')\n"
            "socket.socket.connect = refuse\n"
            "import imgsim_tutorial as t\n"
            "from imgsim_tutorial._support.mode import HubUnavailableError, from_local_cache\n"
            "print(t.resolve_mode()); assert from_local_cache()\n"
            "import torch, datasets  # imported first: the timing below is the load attempt alone\n"
            "from transformers import AutoImageProcessor, AutoModel\n"
            "for load in (t.load_encoder, t.load_beans):\n"
            "    started = time.monotonic()\n"
            "    try:\n"
            "        load()\n"
            "    except HubUnavailableError as error:\n"
            "        print(round(time.monotonic() - started), error)\n")
    result, _ = run_python(code, IMGSIM_MODE="hub", HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT="http://127.0.0.1:9",
                           **{switch: "1"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == (f"imgsim_tutorial: hub mode from the local Hugging Face cache ({switch}=1), no network: "
                        "using the Hub's beans dataset and nateraw/vit-base-beans.")
    assert lines[1] == "hub"
    encoder, dataset = lines[2:]
    assert "'nateraw/vit-base-beans' is not in the local Hugging Face cache" in encoder
    assert "'AI-Lab-Makerere/beans' is not in the local Hugging Face cache" in dataset
    for line in (encoder, dataset):
        assert "IMGSIM_MODE=offline" in line and int(line.split()[0]) < 10


def test_hub_mode_from_the_local_cache_loads_a_local_dataset_copy(tmp_path, monkeypatch):
    from imgsim_tutorial import generate_beans, load_beans

    generate_beans(seed=1, sizes={"test": 3})["test"].to_parquet(str(tmp_path / "test-00000-of-00001.parquet"))
    monkeypatch.setenv("IMGSIM_BEANS_DATASET", str(tmp_path))
    monkeypatch.setenv("IMGSIM_MODE", "hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    try:
        assert mode_module.resolve_mode(refresh=True, announce=False) == "hub"
        assert load_beans()["test"].num_rows == 3
    finally:
        monkeypatch.setenv("IMGSIM_MODE", "offline")
        mode_module.resolve_mode(refresh=True, announce=False)


def test_check_mode_rejects_unknown_names():
    with pytest.raises(ValueError, match="'hub', 'offline' or None"):
        mode_module.check_mode("online")


def test_offline_reaches_libraries_imported_before_the_decision():
    # A notebook that imports datasets before the course decides must still end up offline.
    code = ("import datasets, huggingface_hub.constants as hub, datasets.config as config\n"
            "import imgsim_tutorial as t\n"
            "print(t.resolve_mode(announce=False), hub.HF_HUB_OFFLINE, config.HF_HUB_OFFLINE)\n")
    result, _ = run_python(code, IMGSIM_MODE="offline")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["offline", "True", "True"]
