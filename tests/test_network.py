"""The network never hangs a notebook: local stand-ins for a broken Hub (127.0.0.1 only).

- a stalled server (accepts the connection, never answers): forced hub mode fails within 15 s
  with a message about the network and how to go offline (it used to block for 10+ minutes);
- a refused port: the same message at once (it used to take 96 s and talk about local folders);
- HTTP 5xx answers and a captive portal (200 or a redirect to an HTML login page): auto mode
  picks offline, because something answered but it is not the Hub.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from imgsim_tutorial._support.mode import probe_hub

LOAD_IN_HUB_MODE = ("import imgsim_tutorial as t\n"
                    "from imgsim_tutorial._support.mode import HubUnavailableError\n"
                    "try:\n"
                    "    t.load_encoder()\n"
                    "except HubUnavailableError as error:\n"
                    "    print('ERROR', error)\n")


def run_python(code, **env):
    clean = {k: v for k, v in os.environ.items()
             if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "IMGSIM_MODE")}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                            timeout=120)
    return result, time.monotonic() - started


@pytest.fixture
def stalled_port():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # the kernel accepts connections, nobody ever reads or answers
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def refused_port():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    return port


def serve(status, body=b"", content_type="text/html", location=None):
    """A local HTTP server answering every GET with ``status``/``body`` (in a daemon thread)."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if location and self.path.startswith("/api/"):
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def assert_network_message(output):
    assert "ERROR IMGSIM_MODE=hub, but the Hugging Face Hub cannot be reached" in output
    assert "Check the network connection" in output and "IMGSIM_MODE=offline" in output


def test_forced_hub_mode_on_a_stalled_network_fails_within_15_s(stalled_port):
    result, seconds = run_python(LOAD_IN_HUB_MODE, IMGSIM_MODE="hub", HF_ENDPOINT=f"http://127.0.0.1:{stalled_port}")
    assert result.returncode == 0, result.stderr
    assert_network_message(result.stdout)
    assert "no answer from" in result.stdout
    assert seconds < 15


def test_forced_hub_mode_on_a_refused_port_fails_fast(refused_port):
    result, seconds = run_python(LOAD_IN_HUB_MODE, IMGSIM_MODE="hub", HF_ENDPOINT=f"http://127.0.0.1:{refused_port}")
    assert result.returncode == 0, result.stderr
    assert_network_message(result.stdout)
    assert "refused" in result.stdout.lower()
    assert seconds < 15


@pytest.mark.parametrize("status", [500, 502, 503])
def test_auto_mode_treats_server_errors_as_unreachable(status):
    server = serve(status, b"<html>Service Unavailable</html>")
    try:
        result, _ = run_python("import imgsim_tutorial as t; print(t.resolve_mode())", IMGSIM_MODE="auto",
                               IMGSIM_HUB_URL=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "offline"
    assert f"answered HTTP {status}" in result.stdout


@pytest.mark.parametrize("redirect", [False, True])
def test_auto_mode_treats_a_captive_portal_as_unreachable(redirect):
    portal = serve(200, b"<html><form>Accept the terms to use the Wi-Fi</form></html>")
    url = f"http://127.0.0.1:{portal.server_port}"
    server = serve(200, location=url + "/login") if redirect else portal
    try:
        reachable, reason = probe_hub(f"http://127.0.0.1:{server.server_port}", timeout=5)
    finally:
        portal.shutdown()
        if redirect:
            server.shutdown()
    assert not reachable and "captive portal" in reason


def test_a_json_model_list_counts_as_the_hub():
    server = serve(200, b'[{"id": "nateraw/vit-base-beans"}]', content_type="application/json")
    try:
        reachable, reason = probe_hub(f"http://127.0.0.1:{server.server_port}", timeout=5)
    finally:
        server.shutdown()
    assert reachable, reason


def test_forced_hub_mode_bounds_every_later_request(tmp_path):
    # After a good probe, downloads get deadlines too, so a connection stalling mid-download fails.
    server = serve(200, b"[]", content_type="application/json")
    try:
        result, _ = run_python("import imgsim_tutorial as t, os; t.resolve_mode(); "
                               "import huggingface_hub.constants as c; "
                               "print(os.environ['HF_HUB_ETAG_TIMEOUT'], c.HF_HUB_DOWNLOAD_TIMEOUT)",
                               IMGSIM_MODE="hub", HF_ENDPOINT=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["10", "20"]
