"""One deadline for every hub-mode load: a Hub that stalls, refuses or fails ends a load in
``HUB_DEADLINE_S`` seconds, with a message that says how to go offline.

Builds on ``mode.py``, whose probe decides hub or offline before anything is imported. A probe
that succeeds proves little: campus Wi-Fi can answer it and then stall, and ``transformers`` and
``datasets`` have no overall timeout of their own. So :func:`hub_load` puts two hooks on the HTTP
client that ``huggingface_hub`` shares with both libraries: each request waits at most the time
left, and once the Hub has failed to answer for ``HUB_DEADLINE_S`` (``IMGSIM_HUB_DEADLINE_S``
overrides it) every request raises ``OfflineModeIsEnabled``, which the libraries read as "no
network": they stop retrying and use their local cache if they can. An answer stops the clock,
so a slow download that keeps arriving is never cut. No thread is abandoned mid-write: the
libraries download under temporary names and rename when complete.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager

from .mode import GO_OFFLINE, HubUnavailableError, hub_url, is_network_error, offline_switch

# The longest a hub-mode load waits on a Hub that does not answer (IMGSIM_HUB_DEADLINE_S overrides it).
HUB_DEADLINE_S = 20.0
# huggingface_hub pauses up to 8 s before it tries a failed request again; a failure that leaves less
# time than that before the deadline ends the load at once instead of pausing past the deadline.
RETRY_PAUSE_S = 8.0
# The deadline's state: seconds allowed (None outside a hub-mode load), when the Hub started failing, and
# why we stopped waiting (kept after the load, for its error message).
_clock: dict = {"limit": None, "failing_since": None, "gave_up": None}
_hooks_installed = False


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
    For example ``with hub_load("the encoder 'x'"): model = AutoModel.from_pretrained("x")``.
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
