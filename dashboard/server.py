"""Serving the app: waitress (a production WSGI server), never Flask's debug server
outside development; debug mode only on a loopback address."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dash import Dash
from sqlalchemy.engine import Engine

__all__ = ["serve", "running", "LOOPBACK", "check_debug", "check_no_login", "dashboard_engine", "APP_ROLE"]

#: The database role the dashboard connects as (migration 0003: reads, appends to the
#: audit log, keeps the heatmap rollups fresh; nothing else).
APP_ROLE = "sandtable_app"

log = logging.getLogger("sandtable.dashboard")

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
#: waitress passes ``X-Forwarded-*`` through untouched and never acts on them: the
#: dashboard's access control (:mod:`dashboard.auth`) alone decides whom to believe
#: (the configured trusted proxies), and the peer's address stays ``REMOTE_ADDR``.
_PROXY_HEADERS = {"clear_untrusted_proxy_headers": False}


def check_debug(host: str, debug: bool) -> None:
    """Refuse debug mode (Dash dev tools, tracebacks in the browser) off loopback."""
    if debug and host not in LOOPBACK:
        msg = f"debug mode is refused on {host!r}: it is for development on 127.0.0.1 only"
        raise ValueError(msg)


def check_no_login(host: str, app: Dash | None = None, *, no_login: bool | None = None) -> None:
    """Refuse to serve an app without login (``create_app(viewer=...)``, ``--no-auth``) off loopback."""
    if no_login is None:
        from dashboard.app import CONFIG_KEY

        ctx = app.server.config.get(CONFIG_KEY) if app is not None else None
        no_login = ctx is not None and not ctx.login
    if no_login and host not in LOOPBACK:
        msg = (f"serving without login is refused on {host!r}: it is for development on 127.0.0.1 only "
               "(create accounts with `sandtable users add`)")
        raise ValueError(msg)


def serve(app: Dash, *, host: str = "127.0.0.1", port: int = 8050, threads: int = 16, debug: bool = False) -> None:
    """Serve ``app`` until interrupted (waitress; Dash's dev server only with ``debug`` on
    loopback; an app without login only on loopback)."""
    check_debug(host, debug)
    check_no_login(host, app)
    if debug:
        app.run(host=host, port=port, debug=True, use_reloader=False)
        return
    from waitress import serve as waitress_serve

    log.info("serving the dashboard on http://%s:%d (waitress, %d threads)", host, port, threads)
    waitress_serve(app.server, host=host, port=port, threads=threads, ident="sandtable", channel_timeout=120,
                   **_PROXY_HEADERS)


def dashboard_engine(url: str, *, embedded: bool, **kwargs: object) -> Engine:
    """The engine the dashboard uses. On the embedded cluster it connects as
    :data:`APP_ROLE` when that role exists (falling back to the cluster's owner, with a
    warning, on a schema older than migration 0003); a ``SANDTABLE_DATABASE_URL`` is used
    as given (its role is the operator's choice)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from geodata.db import make_engine

    if embedded:
        app_url = make_url(url).set(username=APP_ROLE).render_as_string(hide_password=False)
        engine = make_engine(app_url, **kwargs)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return engine
        except OperationalError as err:
            engine.dispose()
            log.warning("cannot connect as %s (%s): the dashboard connects as the cluster's owner; "
                        "run `sandtable db migrate`", APP_ROLE, str(err.orig).strip().splitlines()[0])
    return make_engine(url, **kwargs)


@contextmanager
def running(app: Dash, *, host: str = "127.0.0.1", port: int = 0, threads: int = 16) -> Iterator[str]:
    """Serve ``app`` with waitress in a background thread; yields its base URL (tests, benchmarks)."""
    from waitress import create_server

    server = create_server(app.server, host=host, port=port, threads=threads, ident="sandtable", **_PROXY_HEADERS)
    thread = threading.Thread(target=server.run, name="sandtable-waitress", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.effective_port}"
    finally:
        from waitress import wasyncore

        server.task_dispatcher.shutdown(timeout=5)
        wasyncore.close_all(server._map)  # the listening socket and any kept-alive connection
        thread.join(timeout=5)
