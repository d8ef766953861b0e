"""The app factory: :func:`create_app` builds one Dash app with its own providers and cache.

Who is asking is decided per request (:mod:`dashboard.auth`): by default every route
needs a login, and :func:`current_viewer` is the logged-in account's
``Viewer(name, role)``. The data of each role comes from that role's
:class:`DataProvider` (one cache, keys holding the role), so every screen of a role
shares one query per panel per tick, and no role is ever served another role's answer.

Pages are registered with ``dash.register_page`` (one module each under
``dashboard.pages``); callbacks are registered on the app instance (not globally), so
several apps can live in one process (the tests build one per module). Everything the
browser loads is served by the app itself (``serve_locally``): Dash's and Plotly's
JavaScript, the CSS in ``dashboard/assets``, no CDN, no web font.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dash
from dash import Dash, Input, Output, State, dcc, html
from flask import current_app, has_app_context
from sqlalchemy.engine import Engine

from analytics.access import Viewer
from dashboard import i18n
from dashboard.auth import AuthConfig, Gate, request_viewer
from dashboard.i18n import t
from dashboard.ids import Shell
from dashboard.provider import DataProvider, make_cache
from dashboard.theme import Theme, theme_for
from geodata.errors import AccessDenied

__all__ = ["create_app", "AppContext", "current_context", "current_viewer", "Providers"]

ASSETS = Path(__file__).parent / "assets"
CONFIG_KEY = "SANDTABLE_DASHBOARD"
#: Dash 4 can serve its callbacks to AI agents (MCP, ``DASH_MCP_ENABLED``): never here.
_NO_MCP = {"enable_mcp": False} if "enable_mcp" in inspect.signature(Dash).parameters else {}


class Providers:
    """One :class:`DataProvider` per role, made on first use, sharing one cache (whose
    keys hold the role). A role's provider asks the analytics API as
    ``Viewer("dashboard:<role>", role)`` (aggregates are the role's, not a person's);
    a trace is made as the person asking."""

    def __init__(self, make: Callable[[Viewer], DataProvider], fixed: Viewer | None = None) -> None:
        self._make = make
        self._fixed = fixed
        self._by_role: dict[str, DataProvider] = {}
        self._lock = threading.Lock()

    def for_role(self, role: str) -> DataProvider:
        provider = self._by_role.get(role)
        if provider is None:
            with self._lock:
                provider = self._by_role.get(role)
                if provider is None:
                    if self._fixed is not None and self._fixed.role == role:
                        viewer = self._fixed
                    else:
                        viewer = Viewer(f"dashboard:{role}", role)
                    provider = self._by_role[role] = self._make(viewer)
        return provider

    def all(self) -> list[DataProvider]:
        with self._lock:
            return list(self._by_role.values())

    def stop(self) -> None:
        for provider in self.all():
            provider.stop()


@dataclass(frozen=True)
class AppContext:
    """What every page and callback of one app needs: the providers and the settings.

    ``viewer`` is the viewer of the current request (:func:`current_viewer`; in the
    no-login mode, ``open_viewer``); ``provider`` is that viewer's role's provider."""

    providers: Providers
    wall: bool
    lang: str
    refresh_s: float
    rotate_s: float
    theme: Theme
    open_viewer: Viewer | None = None
    gate: Gate | None = None

    @property
    def viewer(self) -> Viewer:
        viewer = request_viewer()
        if viewer is not None:
            return viewer
        if self.open_viewer is not None:
            return self.open_viewer
        msg = "no one is logged in here (a page or callback outside a request)"
        raise AccessDenied(msg)

    @property
    def provider(self) -> DataProvider:
        return self.providers.for_role(self.viewer.role)

    @property
    def login(self) -> bool:
        """True when the app requires a login (False: the no-login development mode)."""
        return self.open_viewer is None

    @property
    def scale(self) -> float:
        """Base size multiplier for map markers and lines (the wall's type is larger)."""
        return 1.35 if self.wall else 1.0


def current_context() -> AppContext:
    """The context of the app serving the current request (page layouts use this)."""
    return current_app.config[CONFIG_KEY]


def current_viewer() -> Viewer:
    """The viewer of the current request: the logged-in account's ``Viewer(name, role)``
    (the role read from the accounts at this request), or the fixed viewer of an app
    made without login. Raises :class:`AccessDenied` when there is none (outside a
    request of an app that requires login). Pages, callbacks and Flask routes added to
    the app use this to ask the analytics API as the person asking."""
    viewer = request_viewer()
    if viewer is not None:
        return viewer
    if has_app_context() and CONFIG_KEY in current_app.config:
        return current_context().viewer
    msg = "no viewer: not inside a request of the dashboard"
    raise AccessDenied(msg)


_CLOCK_JS = """
function(n, lang) {
    var now = new Date();
    var opts = {timeZone: %(tz)s, hour12: false, year: 'numeric', month: 'numeric', day: 'numeric',
                weekday: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit'};
    var p = {};
    new Intl.DateTimeFormat('en-GB', opts).formatToParts(now).forEach(function (x) { p[x.type] = x.value; });
    var hh = p.hour === '24' ? '00' : p.hour;
    var time = hh + ':' + p.minute + ':' + p.second;
    var wd = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(p.weekday);
    var months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    var date;
    if (lang === 'zh') {
        date = p.year + '年' + Number(p.month) + '月' + Number(p.day) + '日 星期' + '一二三四五六日'.charAt(wd);
    } else {
        date = p.weekday + ' ' + Number(p.day) + ' ' + months[Number(p.month) - 1] + ' ' + p.year;
    }
    return [time, date];
}
"""

_VIEWPORT_JS = """
function(n, current) {
    var size = [window.innerWidth, window.innerHeight];
    if (current && current[0] === size[0] && current[1] === size[1]) {
        return window.dash_clientside.no_update;
    }
    return size;
}
"""


def _page_layout(module: object) -> Callable[..., object]:
    def layout(lang: str | None = None, **_: object) -> object:
        ctx = current_context()
        return module.layout(ctx, i18n.resolve_lang(lang, ctx.lang))

    return layout


def _title(key: str) -> str:
    zh, en = i18n.TEXT[f"nav.{key}"]
    return f"{zh} · {en} — sandtable"


def create_app(
    *,
    engine: Engine | None = None,
    viewer: Viewer | None = None,
    auth: AuthConfig | None = None,
    wall: bool = False,
    lang: str | None = None,
    refresh_s: float = 30.0,
    rotate_s: float = 0.0,
    cache_config: dict | None = None,
    clock: Callable[[], float] = time.time,
    warm_ahead: bool = True,
) -> Dash:
    """A Dash app showing the database behind ``engine`` (default: sandtable's).

    Every route needs a login (:mod:`dashboard.auth`; ``auth`` the sessions' settings,
    default :meth:`AuthConfig.from_settings`), and each request is answered for the
    logged-in account. ``viewer`` instead makes an app **without login** in which every
    request runs as that viewer: for development on 127.0.0.1 and for tests
    (:func:`dashboard.serve` refuses to serve it on any other address).

    ``wall``: the screen-wall mode (dark, large type, no controls, Chinese unless
    ``lang`` says otherwise). ``refresh_s``: how often every screen refreshes, which is
    also the cache's tick. ``rotate_s`` (wall only, 0 = off): cycle the heatmap between
    scans, persons and abnormal scans every so many seconds. ``cache_config``:
    flask-caching settings (default an in-process SimpleCache). ``warm_ahead``: build the
    views screens use shortly before each tick, in the background, so that no screen
    waits for the database when the tick changes (see :meth:`DataProvider.memo`).
    """
    from dashboard.pages import PAGE_MODULES, not_found_404

    if viewer is not None and not isinstance(viewer, Viewer):
        msg = f"viewer must be an analytics.access.Viewer, got {type(viewer).__name__}"
        raise TypeError(msg)
    if viewer is not None and auth is not None:
        msg = "give either viewer (no login) or auth (logins), not both"
        raise ValueError(msg)
    if lang is not None and lang not in i18n.LANGS:
        msg = f"lang must be one of {i18n.LANGS!r}, got {lang!r}"
        raise ValueError(msg)
    if not refresh_s >= 1:
        msg = f"refresh_s must be at least 1 second, got {refresh_s!r}"
        raise ValueError(msg)
    if rotate_s < 0:
        msg = f"rotate_s must be >= 0, got {rotate_s!r}"
        raise ValueError(msg)

    app = Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS),
        serve_locally=True,
        suppress_callback_exceptions=True,
        title=t("app.title", lang or i18n.DEFAULT_LANG),
        update_title=None,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
        **_NO_MCP,
    )
    cache = make_cache(app.server, cache_config, refresh_s=refresh_s)

    def make_provider(v: Viewer) -> DataProvider:
        return DataProvider(viewer=v, engine=engine, refresh_s=refresh_s, cache=cache, clock=clock,
                            warm_ahead=warm_ahead)

    providers = Providers(make_provider, fixed=viewer)
    if auth is None and viewer is None:
        auth = AuthConfig.from_settings()
    restricted = {f"{m.KEY}-": tuple(m.ROLES) for m in PAGE_MODULES if getattr(m, "ROLES", None)}
    gate = Gate(app, engine=engine, config=auth, open_viewer=viewer, default_lang=lang or i18n.DEFAULT_LANG,
                restricted=restricted)
    gate.install()
    ctx = AppContext(providers=providers, wall=wall, lang=lang or i18n.DEFAULT_LANG, refresh_s=refresh_s,
                     rotate_s=rotate_s if wall else 0.0, theme=theme_for(wall), open_viewer=viewer, gate=gate)
    app.server.config[CONFIG_KEY] = ctx

    for module in PAGE_MODULES:
        dash.register_page(module.__name__, path=module.PATH, name=module.KEY, title=_title(module.KEY),
                           order=module.ORDER, layout=_page_layout(module))
    dash.register_page(not_found_404.__name__, path="/404", title="404 — sandtable",
                       layout=_page_layout(not_found_404))

    app.layout = html.Div([
        dcc.Interval(id=Shell.TICK, interval=int(refresh_s * 1000), n_intervals=0),
        dcc.Interval(id=Shell.CLOCK_TICK, interval=1000, n_intervals=0),
        dcc.Store(id=Shell.VIEWPORT),
        dash.page_container,
    ], id=Shell.ROOT, className=f"st-app st-{ctx.theme.name}" + (" st-wall" if wall else ""))

    _register_shell(app, ctx)
    for module in PAGE_MODULES:
        module.register(app, ctx)
    return app


def _register_shell(app: Dash, ctx: AppContext) -> None:
    tz = repr(str(i18n.zone()))
    app.clientside_callback(_CLOCK_JS % {"tz": tz}, Output(Shell.CLOCK, "children"), Output(Shell.DATE, "children"),
                            Input(Shell.CLOCK_TICK, "n_intervals"), State(Shell.LANG, "data"))
    app.clientside_callback(_VIEWPORT_JS, Output(Shell.VIEWPORT, "data"), Input(Shell.TICK, "n_intervals"),
                            State(Shell.VIEWPORT, "data"))

    @app.callback(Output(Shell.AS_OF, "children"), Output(Shell.BANNER, "children"),
                  Input(Shell.TICK, "n_intervals"), State(Shell.LANG, "data"))
    def _status(_n: int, lang: str | None) -> tuple:
        return status(ctx, i18n.resolve_lang(lang, ctx.lang))


def status(ctx: AppContext, lang: str) -> tuple:
    """The "data as of" stamp and the banner (stale data, no data yet), for the shell."""
    anchor, fetched = ctx.provider.anchor()
    if anchor.has_data:
        stamp = f"{t('status.as_of', lang)} {i18n.fmt_datetime(anchor.as_of, lang, seconds=True)}"
    else:
        stamp = f"{t('status.as_of', lang)} {i18n.MISSING}"
    banner = None
    if fetched.stale:
        if fetched.value is not None:
            age = i18n.fmt_age(ctx.provider.clock() - fetched.fetched_at, lang)
            text = t("status.stale", lang, age=age)
        else:
            text = t("status.stale_nodata", lang)
        banner = html.Div(text, className="st-banner stale", role="alert")
    elif fetched.error:
        banner = html.Div(t("status.error", lang, error=fetched.error), className="st-banner error", role="alert")
    elif not anchor.has_data:
        banner = html.Div(t("status.no_data_hint", lang), className="st-banner empty")
    return stamp, banner
