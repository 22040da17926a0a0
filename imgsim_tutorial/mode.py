"""Hub or offline: decided once per process, before any Hugging Face library is imported.

The course runs in two worlds through one code path:

- ``"hub"``: the real ``beans`` dataset and the ``nateraw/vit-base-beans`` encoder, downloaded
  from the Hugging Face Hub (Colab, Binder, a laptop with network);
- ``"offline"``: leaves this package draws itself and a small encoder the repository trained
  and ships (CI, a classroom with bad Wi-Fi, ``HF_HUB_OFFLINE=1``).

Why decide up front? ``transformers`` and ``datasets`` read ``HF_HUB_OFFLINE`` when they are
imported, and on a dead or stalled network their loaders retry for tens of seconds to minutes.
So :func:`resolve_mode` makes one HTTP probe with a hard deadline, sets the offline switches if
needed, and says in one line which world the session is in. Everything else asks it.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.request

MODES = ("hub", "offline")
PROBE_TIMEOUT_S = 4.0
_TRUE = {"1", "true", "yes", "on"}
_resolved: str | None = None


def hub_url() -> str:
    """The address probed in auto mode (``HF_ENDPOINT`` if set, else the public Hub)."""
    return os.environ.get("IMGSIM_HUB_URL") or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"


def probe_hub(url: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> tuple[bool, str]:
    """One request to the Hub with a hard deadline; returns ``(reachable, reason)``.

    The request runs in a daemon thread so that a server which accepts the connection and then
    never answers (or answers one byte a minute) cannot hold us past ``timeout`` seconds.
    """
    url = url or hub_url()
    outcome: dict[str, object] = {}

    def attempt():
        try:
            request = urllib.request.Request(url.rstrip("/") + "/api/models?limit=1", method="HEAD")
            with urllib.request.urlopen(request, timeout=timeout) as response:
                outcome["status"] = response.status
        except urllib.error.HTTPError as error:  # the server answered: the network works
            outcome["status"] = error.code
        except Exception as error:  # DNS failure, refused, reset, TLS error, timeout...
            outcome["error"] = str(getattr(error, "reason", None) or error)

    started = time.monotonic()
    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return False, f"no answer from {url} within {timeout:.0f} s"
    if "status" in outcome:
        return True, f"{url} answered in {time.monotonic() - started:.1f} s"
    return False, f"{url} unreachable: {outcome.get('error')}"


def _go_offline() -> None:
    """Flip the Hugging Face offline switches, also in libraries already imported."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    import sys

    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True


def resolve_mode(refresh: bool = False, announce: bool = True) -> str:
    """Return ``"hub"`` or ``"offline"`` for this process, deciding it on the first call.

    ``IMGSIM_MODE`` chooses: ``hub``, ``offline`` or ``auto`` (the default). ``HF_HUB_OFFLINE=1``
    means offline with no network access at all. Auto mode probes the Hub once.

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
    hf_offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE
    if requested == "hub" and hf_offline:
        raise ValueError("IMGSIM_MODE=hub but HF_HUB_OFFLINE=1 forbids the Hub; unset one of them")
    if requested != "auto":
        mode, reason = requested, "IMGSIM_MODE=" + requested
    elif hf_offline:
        mode, reason = "offline", "HF_HUB_OFFLINE=1"
    else:
        reachable, reason = probe_hub()
        mode = "hub" if reachable else "offline"
    if mode == "offline":
        _go_offline()
    _resolved = mode
    if announce:
        where = ("the Hub's beans dataset and nateraw/vit-base-beans" if mode == "hub"
                 else "generated bean leaves and the bundled encoder")
        print(f"imgsim_tutorial: {mode} mode ({reason}): using {where}.")
    return mode


def check_mode(mode: str | None) -> str:
    """``mode`` if it is valid, the process-wide mode if it is None; else a ValueError."""
    if mode is None:
        return resolve_mode()
    if mode not in MODES:
        raise ValueError(f"mode must be 'hub', 'offline' or None (decide automatically), got {mode!r}")
    return mode
