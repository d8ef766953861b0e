"""Serving the app: waitress (a production WSGI server), never Flask's debug server
outside development; debug mode only on a loopback address."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dash import Dash

__all__ = ["serve", "running", "LOOPBACK", "check_debug"]

log = logging.getLogger("sandtable.dashboard")

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def check_debug(host: str, debug: bool) -> None:
    """Refuse debug mode (Dash dev tools, tracebacks in the browser) off loopback."""
    if debug and host not in LOOPBACK:
        msg = f"debug mode is refused on {host!r}: it is for development on 127.0.0.1 only"
        raise ValueError(msg)


def serve(app: Dash, *, host: str = "127.0.0.1", port: int = 8050, threads: int = 16, debug: bool = False) -> None:
    """Serve ``app`` until interrupted (waitress; Dash's dev server only with ``debug`` on loopback)."""
    check_debug(host, debug)
    if debug:
        app.run(host=host, port=port, debug=True, use_reloader=False)
        return
    from waitress import serve as waitress_serve

    log.info("serving the dashboard on http://%s:%d (waitress, %d threads)", host, port, threads)
    waitress_serve(app.server, host=host, port=port, threads=threads, ident="sandtable", channel_timeout=120)


@contextmanager
def running(app: Dash, *, host: str = "127.0.0.1", port: int = 0, threads: int = 16) -> Iterator[str]:
    """Serve ``app`` with waitress in a background thread; yields its base URL (tests, benchmarks)."""
    from waitress import create_server

    server = create_server(app.server, host=host, port=port, threads=threads, ident="sandtable")
    thread = threading.Thread(target=server.run, name="sandtable-waitress", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.effective_port}"
    finally:
        from waitress import wasyncore

        server.task_dispatcher.shutdown(timeout=5)
        wasyncore.close_all(server._map)  # the listening socket and any kept-alive connection
        thread.join(timeout=5)
