"""Hub or offline: decided once per process, before any Hugging Face library is imported.

The course runs in two worlds through one code path:

- ``"hub"``: the real ``beans`` dataset and the ``nateraw/vit-base-beans`` encoder, downloaded
  from the Hugging Face Hub (Colab, Binder, a laptop with network), or read from a local
  Hugging Face cache filled in advance (``IMGSIM_MODE=hub`` with ``HF_HUB_OFFLINE=1``: a campus
  JupyterHub, no network at all);
- ``"offline"``: leaves this package draws itself and a small encoder the repository trained
  and ships (CI, a classroom with bad Wi-Fi, ``HF_HUB_OFFLINE=1`` or ``TRANSFORMERS_OFFLINE=1``).

Why decide up front? ``transformers`` and ``datasets`` read ``HF_HUB_OFFLINE`` when they are
imported, and on a dead or stalled network their loaders retry for tens of seconds to minutes.
So :func:`resolve_mode` makes one HTTP probe with a hard deadline, sets the offline switches if
needed, and says in one line which world the session is in. Everything else asks it. The probe
only counts the Hub as reachable when it answers like the Hub (HTTP 200 and a JSON list): a
server error (5xx) or a captive portal's login page means "no usable Hub".

A probe that succeeds proves little: campus Wi-Fi can answer it and then stall. So every hub-mode
load also runs under one deadline (``hub_deadline.py``); when it fails in auto mode,
:func:`fall_back_offline` switches the course to offline mode, saying so in one line.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

MODES = ("hub", "offline")
PROBE_TIMEOUT_S = 4.0
HUB_TIMEOUTS = {"HF_HUB_ETAG_TIMEOUT": "10", "HF_HUB_DOWNLOAD_TIMEOUT": "20"}  # seconds per request
OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
GO_OFFLINE = "set IMGSIM_MODE=offline (generated leaves and the bundled encoder, no network needed)"
_TRUE = {"1", "true", "yes", "on"}
_resolved: str | None = None


class HubUnavailableError(ConnectionError):
    """The Hub was asked for (``IMGSIM_MODE=hub``) but cannot serve: no network, or not cached."""


def hub_url() -> str:
    """The address probed (``IMGSIM_HUB_URL``, else ``HF_ENDPOINT``, else the public Hub)."""
    return os.environ.get("IMGSIM_HUB_URL") or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"


def offline_switch() -> str | None:
    """The name of the Hugging Face offline switch that is on (``"HF_HUB_OFFLINE"``...), or None."""
    for name in OFFLINE_SWITCHES:
        if os.environ.get(name, "").strip().lower() in _TRUE:
            return name
    return None


def from_local_cache() -> bool:
    """True in hub mode served from the local Hugging Face cache (no network at all)."""
    return _resolved == "hub" and offline_switch() is not None


def probe_hub(url: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> tuple[bool, str]:
    """One request to the Hub with a hard deadline; returns ``(reachable, reason)``.

    The request runs in a daemon thread so that a server which accepts the connection and then
    never answers (or answers one byte a minute) cannot hold us past ``timeout`` seconds.
    Reachable means: ``/api/models?limit=1`` answered HTTP 200 with a JSON list, as the Hub does.
    """
    url = (url or hub_url()).rstrip("/")
    outcome: dict[str, object] = {}

    def attempt():
        try:
            request = urllib.request.Request(url + "/api/models?limit=1", headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                outcome["status"] = response.status
                outcome["body"] = response.read(65536)
        except urllib.error.HTTPError as error:  # an answer, but an error one (5xx, 403 from a proxy...)
            outcome["status"] = error.code
        except Exception as error:  # DNS failure, refused, reset, TLS error, timeout...
            outcome["error"] = str(getattr(error, "reason", None) or error) or type(error).__name__

    started = time.monotonic()
    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return False, f"no answer from {url} within {timeout:.0f} s"
    if "error" in outcome:
        return False, f"{url} unreachable: {outcome['error']}"
    if outcome["status"] != 200:
        return False, f"{url} answered HTTP {outcome['status']} instead of the Hub's model list"
    try:
        answer = json.loads(outcome.get("body") or b"")
    except ValueError:
        answer = None
    if not isinstance(answer, list):
        return False, (f"{url} answered with something that is not the Hub's model list "
                       "(a captive portal or proxy login page?)")
    return True, f"{url} answered in {time.monotonic() - started:.1f} s"


def _set_hub_switches(**values) -> None:
    """Set Hugging Face environment switches, also in ``huggingface_hub`` if already imported."""
    os.environ.update(values)
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is None:
        return
    for name, value in values.items():
        if name == "HF_HUB_OFFLINE":
            constants.HF_HUB_OFFLINE = value in _TRUE
        elif hasattr(constants, name) and str(value).isdigit():
            setattr(constants, name, int(value))


def _go_offline() -> None:
    """Flip the Hugging Face offline switches, also in libraries already imported."""
    _set_hub_switches(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    datasets_config = sys.modules.get("datasets.config")
    if datasets_config is not None:  # datasets copies the switch when it is imported
        datasets_config.HF_HUB_OFFLINE = datasets_config.HF_DATASETS_OFFLINE = True


def resolve_mode(refresh: bool = False, announce: bool = True) -> str:
    """Return ``"hub"`` or ``"offline"`` for this process, deciding it on the first call.

    ``IMGSIM_MODE`` chooses: ``hub``, ``offline`` or ``auto`` (the default).
    ``HF_HUB_OFFLINE=1`` (or ``TRANSFORMERS_OFFLINE=1``) means no network access at all: offline
    mode, or with ``IMGSIM_MODE=hub`` the Hub's files from the local Hugging Face cache.
    Auto mode probes the Hub once; forced hub mode probes it too and raises
    :class:`HubUnavailableError` within seconds when it cannot be reached.

    >>> import os; os.environ["IMGSIM_MODE"] = "offline"; resolve_mode(refresh=True, announce=False)
    'offline'
    """
    global _resolved
    if _resolved is not None and not refresh:
        return _resolved
    requested = os.environ.get("IMGSIM_MODE", "auto").strip().lower() or "auto"
    if requested not in (*MODES, "auto"):
        raise ValueError(f"IMGSIM_MODE must be 'hub', 'offline' or 'auto', got {requested!r}; "
                         "unset it to let the course decide")
    switch = offline_switch()
    where = "the Hub's beans dataset and nateraw/vit-base-beans"
    cached = requested == "hub" and switch is not None
    if cached:
        mode, line = "hub", f"hub mode from the local Hugging Face cache ({switch}=1), no network"
        _go_offline()  # both switches on, so that datasets stays off the network too
    elif requested == "hub":
        reachable, reason = probe_hub()
        if not reachable:
            raise HubUnavailableError(f"IMGSIM_MODE=hub, but the Hugging Face Hub cannot be reached ({reason}). "
                                      f"Check the network connection, or {GO_OFFLINE}, or unset IMGSIM_MODE "
                                      "to let the course choose")
        mode, line = "hub", "hub mode (IMGSIM_MODE=hub)"
    elif requested == "offline" or switch:
        mode = "offline"
        line = f"offline mode ({'IMGSIM_MODE=offline' if requested == 'offline' else switch + '=1'})"
    else:
        reachable, reason = probe_hub()
        mode = "hub" if reachable else "offline"
        line = f"{mode} mode ({reason})"
    if mode == "offline":
        _go_offline()
        where = "generated bean leaves and the bundled encoder"
    elif not cached:
        # Bound every later request too: a connection that stalls mid-download fails, not hangs.
        _set_hub_switches(**{name: os.environ.get(name) or value for name, value in HUB_TIMEOUTS.items()})
    _resolved = mode
    if announce:
        print(f"imgsim_tutorial: {line}: using {where}.")
    return mode


def fall_back_offline(error: Exception) -> bool:
    """After a hub-mode load failed in auto mode: switch this process to offline mode, saying so in one line.

    Returns False and changes nothing when hub mode was asked for (``IMGSIM_MODE=hub``; callers pass
    only failures of loads whose mode was decided automatically) or is served from the local cache.
    """
    global _resolved
    requested = os.environ.get("IMGSIM_MODE", "auto").strip().lower() or "auto"
    if requested != "auto" or _resolved != "hub" or offline_switch():
        return False
    _go_offline()
    _resolved = "offline"
    reason = str(error).split(". ")[0][:160]
    print(f"imgsim_tutorial: the Hub stopped answering ({reason}); offline mode from now on: "
          "using generated bean leaves and the bundled encoder.")
    return True


def check_mode(mode: str | None) -> str:
    """``mode`` if it is valid, the process-wide mode if it is None; else a ValueError."""
    if mode is None:
        return resolve_mode()
    if mode not in MODES:
        raise ValueError(f"mode must be 'hub', 'offline' or None (decide automatically), got {mode!r}")
    return mode


def is_network_error(error: BaseException) -> bool:
    """True for the errors a Hub download raises: OSError kinds (refused, timeout, not cached) and httpx's."""
    return isinstance(error, OSError) or type(error).__module__.split(".")[0] in ("httpx", "httpx2", "requests")
