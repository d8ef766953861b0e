"""sandtable's Dash e-sandbox: the wall, tracing, checkpoints, isolation and the briefing.

>>> from dashboard import create_app, serve
>>> serve(create_app(wall=True), host="127.0.0.1", port=8050)  # doctest: +SKIP

The dashboard reads the database only through :mod:`analytics`, via
:class:`dashboard.provider.DataProvider` (one shared, tick-keyed cache for every screen).
The names are imported lazily, so that ``dashboard.report`` (the printed briefing) does
not pay for Dash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["create_app", "serve", "AppContext", "DataProvider", "current_viewer"]

if TYPE_CHECKING:  # pragma: no cover
    from dashboard.app import AppContext, create_app, current_viewer
    from dashboard.provider import DataProvider
    from dashboard.server import serve


def __getattr__(name: str):  # noqa: ANN202
    if name in ("create_app", "AppContext", "current_viewer"):
        from dashboard import app

        return getattr(app, name)
    if name == "DataProvider":
        from dashboard.provider import DataProvider

        return DataProvider
    if name == "serve":
        from dashboard.server import serve

        return serve
    raise AttributeError(f"module 'dashboard' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
