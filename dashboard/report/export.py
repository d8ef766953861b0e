"""Static chart export: Plotly figures to PNG with kaleido 1.x and the system's Chromium.

One Chromium serves every chart of the process (``kaleido.start_sync_server``; a fresh
browser per image costs 7-14 s, a chart on a running one about 0.3 s). MathJax is
switched off (it would come from a CDN) and plotly.js is the copy inside the plotly
package, so nothing is fetched. ``kaleido.get_chrome()`` (a download) is never called:
without a Chromium the export stops with one line naming the package.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import threading

import plotly.graph_objects as go

from geodata.errors import MissingBinaries

__all__ = ["to_png", "warm_up", "chromium_path", "stop", "quiet"]

_lock = threading.Lock()
_started = False
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str:
    """The browser kaleido will drive: ``BROWSER_PATH`` or the first Chromium on PATH."""
    env = os.environ.get("BROWSER_PATH")
    if env and os.path.exists(env):
        return env
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    msg = "static charts need Chromium: install the Debian package `chromium` (apt-get install chromium)"
    raise MissingBinaries(msg)


def _ensure_server() -> None:
    global _started
    with _lock:
        if _started:
            return
        os.environ.setdefault("BROWSER_PATH", chromium_path())
        quiet("kaleido", "choreographer", "logistro")
        import kaleido

        kaleido.start_sync_server(mathjax=False, silence_warnings=True)
        _started = True
        atexit.register(stop)


def quiet(*names: str) -> None:
    """Keep the chatty INFO lines of the rendering libraries out of our logs (warnings stay)."""
    for name in names:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def stop() -> None:
    """Close the shared Chromium (at exit, or when a caller wants it gone now)."""
    global _started
    with _lock:
        if not _started:
            return
        import kaleido

        kaleido.stop_sync_server(silence_warnings=True)
        _started = False


def warm_up() -> None:
    """Start the shared Chromium now: it boots in the background (a few seconds) while the
    caller gathers its data, so the first chart does not wait for it."""
    _ensure_server()


def to_png(fig: go.Figure, scale: float = 2.0) -> bytes:
    """The figure as PNG bytes at its layout size times ``scale``."""
    _ensure_server()
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The kopts argument is ignored")
        return fig.to_image(format="png", scale=scale)
