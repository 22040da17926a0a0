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
load (:func:`hub_deadline`) also runs under one deadline, ``HUB_DEADLINE_S``: hooks on the HTTP
client that ``huggingface_hub`` shares with ``transformers`` and ``datasets`` stop any request
once the Hub has failed to answer for that long, and the load fails with a message saying how to
go offline (or, in auto mode, the course switches to offline mode, saying so in one line).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

MODES = ("hub", "offline")
PROBE_TIMEOUT_S = 4.0
HUB_TIMEOUTS = {"HF_HUB_ETAG_TIMEOUT": "10", "HF_HUB_DOWNLOAD_TIMEOUT": "20"}  # seconds per request
# The longest a hub-mode load waits on a Hub that does not answer (IMGSIM_HUB_DEADLINE_S overrides it).
HUB_DEADLINE_S = 20.0
# huggingface_hub pauses up to 8 s before it tries a failed request again; a failure that leaves less
# time than that before the deadline ends the load at once instead of pausing past the deadline.
RETRY_PAUSE_S = 8.0
OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
GO_OFFLINE = "set IMGSIM_MODE=offline (generated leaves and the bundled encoder, no network needed)"
_TRUE = {"1", "true", "yes", "on"}
_resolved: str | None = None
# The deadline's state: seconds allowed (None outside a hub-mode load), when the Hub started failing, and
# why we stopped waiting (kept after the load, for its error message).
_clock: dict = {"limit": None, "failing_since": None, "gave_up": None}
_hooks_installed = False


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
    reason = _clock["gave_up"] or str(error).split(". ")[0][:160]
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


def hub_load_error(what: str, error: Exception) -> HubUnavailableError:
    """A clear error for a failed hub-mode load of ``what`` (a model or dataset id).

    With no network allowed it says the files are not in the local cache; otherwise that the
    network failed. Either way it says how to go offline.
    """
    switch = offline_switch()
    if switch and not _clock["gave_up"]:
        return HubUnavailableError(f"{what} is not in the local Hugging Face cache, and {switch}=1 forbids "
                                   "downloading it. Fill the cache on a machine with network (HF_HOME points "
                                   f"at it), or {GO_OFFLINE}")
    detail = _clock["gave_up"] or f"{type(error).__name__}: {str(error).strip().split('. ')[0][:160] or 'no reason'}"
    return HubUnavailableError(f"could not download {what} from the Hugging Face Hub ({detail}). Check the network "
                               f"connection, or pass mode=\"offline\", or {GO_OFFLINE} and restart the kernel")


@contextmanager
def local_cache_only():
    """Inside this block the Hugging Face libraries read only their local cache: no request at all.

    ``transformers`` has ``local_files_only`` for one call, ``datasets`` has no such switch, and
    ``huggingface_hub`` may still fetch its telemetry; so the offline switches they read at each
    call are turned on for the block, then put back.
    """
    import huggingface_hub.constants as hub_constants

    datasets_config = sys.modules.get("datasets.config")  # imported by the caller when it is needed
    switches = [(hub_constants, "HF_HUB_OFFLINE")]
    if datasets_config is not None:
        switches += [(datasets_config, "HF_HUB_OFFLINE"), (datasets_config, "HF_DATASETS_OFFLINE")]
    saved = [getattr(module, name) for module, name in switches]
    for module, name in switches:
        setattr(module, name, True)
    try:
        yield
    finally:
        for (module, name), value in zip(switches, saved):
            setattr(module, name, value)


# -- the deadline: hooks on huggingface_hub's HTTP client ------------------------------------------
def hub_deadline_s() -> float:
    """Seconds a hub-mode load waits on a Hub that does not answer: ``HUB_DEADLINE_S``, or
    ``IMGSIM_HUB_DEADLINE_S`` when it is set (the tests use a few seconds)."""
    text = os.environ.get("IMGSIM_HUB_DEADLINE_S", "").strip()
    if not text:
        return HUB_DEADLINE_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0  # reported just below, with the value given
    if not seconds > 0:
        raise ValueError(f"IMGSIM_HUB_DEADLINE_S must be a number of seconds above 0, got {text!r}; "
                         f"unset it to wait the default {HUB_DEADLINE_S:.0f} s")
    return seconds


@contextmanager
def hub_load(what: str):
    """Run one hub-mode load of ``what`` so that it ends within :func:`hub_deadline_s` of the Hub
    failing; its network errors become a :class:`HubUnavailableError` that says how to go offline.

    A failure is a refused or broken connection, no answer in time, or a server error (5xx, 429);
    an answer stops the clock, so a download that is slow but arriving is never cut. Each request
    waits at most the time left. Once that is spent, or a failure leaves less time than the library
    would pause before trying again, requests raise ``OfflineModeIsEnabled``: ``transformers`` and
    ``datasets`` read it as "no network", stop retrying and use their local cache if they can.

    >>> with hub_load("nothing"):  # no request made: nothing to stop
    ...     pass
    """
    _install_hooks()
    _clock.update(limit=hub_deadline_s(), failing_since=None, gave_up=None)
    try:
        yield
    except Exception as error:
        if not is_network_error(error):
            raise
        raise hub_load_error(what, error) from error
    finally:
        _clock["limit"] = None


def _install_hooks() -> None:
    """Have huggingface_hub build its shared HTTP client with our two hooks (once per process).

    The client is the library's own (its offline switch, headers and proxies); a client factory set
    earlier with ``huggingface_hub.set_client_factory`` is replaced.
    """
    global _hooks_installed
    if _hooks_installed:
        return
    from huggingface_hub import set_client_factory
    from huggingface_hub.utils._http import default_client_factory

    def client_with_deadline():
        client = default_client_factory()
        hooks = client.event_hooks
        client.event_hooks = {"request": [*hooks["request"], _before_request],
                              "response": [*hooks["response"], _after_response]}
        return client

    set_client_factory(client_with_deadline)
    _hooks_installed = True


def _before_request(request) -> None:
    """Refuse a request once we gave up; else cap its waits at the time left and watch its failures."""
    if _clock["limit"] is None:
        return
    left = _seconds_left()
    if _clock["gave_up"] or left <= 0:
        _give_up("it kept failing")
    timeouts = request.extensions.get("timeout") or dict.fromkeys(("connect", "read", "write", "pool"))
    request.extensions["timeout"] = {name: left if value is None else min(value, left)
                                     for name, value in timeouts.items()}
    sent = time.monotonic()

    def watch(event: str, info: dict) -> None:  # httpx's "trace" extension: called at each step of the request
        failure = info.get("exception")
        if event.endswith(".failed") and isinstance(failure, Exception):
            # A download that breaks off midway failed when it broke; anything else when it was sent.
            _failed(time.monotonic() if "response_body" in event else sent, str(failure) or type(failure).__name__)

    request.extensions["trace"] = watch


def _after_response(response) -> None:
    """An answer stops the clock; a server error (5xx) or "too many requests" (429) is a failure."""
    if _clock["limit"] is None:
        return
    if response.status_code < 500 and response.status_code != 429:
        _clock["failing_since"] = None
        return
    wait = response.headers.get("Retry-After", "").strip()  # the server's own pause before the next try
    pause = max(RETRY_PAUSE_S, int(wait) + 1 if wait.isdigit() else 0)
    _failed(time.monotonic(), f"HTTP {response.status_code}", pause)


def _seconds_left() -> float:
    since = _clock["failing_since"]
    return _clock["limit"] - (0.0 if since is None else time.monotonic() - since)


def _failed(since: float, reason: str, pause: float = RETRY_PAUSE_S) -> None:
    """Start the clock at ``since`` unless it runs; give up now if another try would end past the deadline."""
    if _clock["failing_since"] is None:
        _clock["failing_since"] = since
    if _seconds_left() < pause:
        _give_up(reason)


def _give_up(reason: str):
    from huggingface_hub.errors import OfflineModeIsEnabled

    if not _clock["gave_up"]:
        _clock["gave_up"] = (f"{hub_url()} gave no usable answer: {reason}; the course waits at most "
                             f"{_clock['limit']:.0f} s for it")
    raise OfflineModeIsEnabled(f"imgsim_tutorial stopped waiting for the Hub ({_clock['gave_up']})")
