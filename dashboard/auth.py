"""Who is asking: logins, sessions, the kiosk token, reverse-proxy single sign-on, and
which roles may call which callback.

Every request of the app goes through :meth:`Gate.authenticate` (the first
``before_request`` hook, ahead of Dash's own): only the login page, the kiosk login,
the logout route and the login page's style sheet are open. Anything else without a
valid session gets a redirect to ``/login`` (a browser asking for a page) or ``401``
(Dash's endpoints, assets, scripts, any other request), never data. The viewer of
the request (the account's name and its role, read from the ``users`` table at every
request, so that a disabled account's session ends at its next request) is then what
:func:`dashboard.app.current_viewer` returns.

:meth:`Gate.authorize` runs after Dash's own hooks: a callback request
(``POST /_dash-update-component``) whose outputs belong to a page restricted to some
roles (the Tracing page: ``cdc``) is refused with ``403`` for any other role, whatever
the browser shows; the analytics layer refuses such calls anyway.

Sessions are Flask's signed cookies (HMAC with a secret created on first use in
``SANDTABLE_HOME/secrets/session.key``, mode 0600, never logged): ``HttpOnly``,
``SameSite=Strict``, ``Secure`` over https (``SANDTABLE_COOKIE_SECURE``), and an
absolute expiry (``SANDTABLE_SESSION_HOURS``, ``SANDTABLE_KIOSK_SESSION_DAYS`` for wall
screens). A logout revokes the session in this process. Every login, logout and failed
login is written to the audit log (never a password or a token).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from flask import Response, g, has_request_context, redirect, request, session
from flask.sessions import SecureCookieSessionInterface
from markupsafe import escape

from analytics.access import Viewer
from dashboard import i18n
from dashboard.i18n import t
from dashboard.provider import ACTING_VIEWER, DB_DOWN_ERRORS
from geodata import accounts
from geodata.errors import AccessDenied

if TYPE_CHECKING:  # pragma: no cover
    from dash import Dash
    from sqlalchemy.engine import Engine

__all__ = ["AuthConfig", "Gate", "request_viewer", "session_secret", "SESSION_COOKIE", "LOGIN_PATH", "KIOSK_PATH",
           "LOGOUT_PATH", "LOGIN_CSS", "OPEN_PATHS", "CALLBACK_PATH", "SECRET_FILE"]

log = logging.getLogger("sandtable.dashboard")

SESSION_COOKIE = "sandtable_session"
SECRET_FILE = "session.key"
LOGIN_PATH = "/login"
KIOSK_PATH = "/login/kiosk"
LOGOUT_PATH = "/logout"
LOGIN_CSS = "/assets/login.css"
CALLBACK_PATH = "/_dash-update-component"
#: The only routes served without a session.
OPEN_PATHS = frozenset({LOGIN_PATH, KIOSK_PATH, LOGOUT_PATH, LOGIN_CSS})
#: Paths that are never pages: without a session they get 401, not a redirect.
_NOT_PAGES = ("/_dash", "/_reload-hash", "/_favicon", "/assets/", "/static/", "/_alive_")
_G_VIEWER = "sandtable_viewer"
_G_LOGGED_IN = "sandtable_logged_in"
_MAX_PASSWORD = 1024


def session_secret() -> bytes:
    """The key that signs session cookies: ``SANDTABLE_HOME/secrets/session.key`` (32
    random bytes, created on first use with mode 0600). Deleting it logs everyone out."""
    from geodata.privacy import load_secret
    from geodata.settings import get_settings

    return load_secret(get_settings().secrets_dir, SECRET_FILE)


@dataclass(frozen=True)
class AuthConfig:
    """How the dashboard authenticates (defaults from the ``SANDTABLE_*`` settings, see
    :meth:`from_settings`). ``proxy_header``: trust this header (set by a reverse proxy
    that has authenticated the user) from ``trusted_proxies`` only; off when None."""

    session_hours: float = 12.0
    kiosk_session_days: float = 30.0
    cookie_secure: str = "auto"
    proxy_header: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    secret: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.cookie_secure not in ("auto", "always", "never"):
            msg = f"cookie_secure must be auto, always or never, got {self.cookie_secure!r}"
            raise ValueError(msg)
        if not self.session_hours > 0 or not self.kiosk_session_days > 0:
            msg = "session lifetimes must be positive"
            raise ValueError(msg)
        if self.proxy_header is not None:
            if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", self.proxy_header):
                msg = f"the proxy header must be an HTTP header name, got {self.proxy_header!r}"
                raise ValueError(msg)
            if not self.trusted_proxies:
                msg = ("trusting a proxy header needs the proxy's address (--trusted-proxy / "
                       "SANDTABLE_TRUSTED_PROXIES): from anywhere else anyone could send it")
                raise ValueError(msg)
        for item in self.trusted_proxies:
            ipaddress.ip_network(item, strict=False)  # ValueError on a bad address

    @classmethod
    def from_settings(cls, **overrides: Any) -> AuthConfig:
        """The settings' values, with any non-None ``overrides`` (``sandtable serve``'s options)."""
        from geodata.settings import get_settings

        s = get_settings()
        values: dict[str, Any] = {"session_hours": s.session_hours, "kiosk_session_days": s.kiosk_session_days,
                                  "cookie_secure": s.cookie_secure, "proxy_header": s.trust_proxy_header,
                                  "trusted_proxies": s.trusted_proxies}
        values |= {k: v for k, v in overrides.items() if v is not None}
        values["trusted_proxies"] = tuple(values["trusted_proxies"])
        return cls(**values)

    @property
    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(x, strict=False) for x in self.trusted_proxies)


def request_viewer() -> Viewer | None:
    """The viewer this request (or this refresh-ahead job) runs as, if any."""
    acting = ACTING_VIEWER.get()
    if acting is not None:
        return acting
    if has_request_context():
        return g.get(_G_VIEWER)
    return None


def logged_in() -> bool:
    """True when this request comes from a logged-in account (not the no-login mode):
    the shell then shows the account and a logout link."""
    return has_request_context() and bool(g.get(_G_LOGGED_IN))


def _safe_next(value: str | None) -> str:
    """A local path to go to after login (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in (LOGIN_PATH, KIOSK_PATH, LOGOUT_PATH):
        return "/"
    return value


class _Sessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions with a per-session absolute expiry (``exp``) and a
    ``Secure`` flag that follows the request's scheme (or the setting)."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    def get_cookie_secure(self, app: Any) -> bool:  # noqa: ARG002
        mode = self.gate.config.cookie_secure
        if mode != "auto":
            return mode == "always"
        if not has_request_context():
            return False
        if request.is_secure:
            return True
        return self.gate.from_trusted_proxy() and request.headers.get("X-Forwarded-Proto", "").lower() == "https"

    def get_expiration_time(self, app: Any, session: Any) -> datetime | None:  # noqa: ARG002
        exp = session.get("exp")
        return datetime.fromtimestamp(exp, timezone.utc) if exp else None


class _Throttle:
    """Failed logins per account name and per address: too many in ``window_s`` and the
    next attempts are refused for a while (a brake on password guessing)."""

    def __init__(self, *, per_name: int = 8, per_addr: int = 30, window_s: float = 900.0) -> None:
        self.per_name, self.per_addr, self.window_s = per_name, per_addr, window_s
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and q[0] < now - self.window_s:
            q.popleft()
        return q

    def blocked(self, name: str, addr: str) -> bool:
        now = time.time()
        with self._lock:
            return (len(self._recent(f"n:{name}", now)) >= self.per_name
                    or len(self._recent(f"a:{addr}", now)) >= self.per_addr)

    def fail(self, name: str, addr: str) -> None:
        now = time.time()
        with self._lock:
            self._recent(f"n:{name}", now).append(now)
            self._recent(f"a:{addr}", now).append(now)
            if len(self._fails) > 10_000:  # forget idle keys
                for key in [k for k, q in self._fails.items() if not q]:
                    del self._fails[key]

    def success(self, name: str) -> None:
        with self._lock:
            self._fails.pop(f"n:{name}", None)


class _Unavailable(Exception):
    """The accounts cannot be read (the database is down) and this account was never seen."""


class Gate:
    """The access control of one app (see the module docstring)."""

    def __init__(self, app: Dash, *, engine: Engine | None, config: AuthConfig | None, open_viewer: Viewer | None,
                 default_lang: str, restricted: dict[str, tuple[str, ...]]) -> None:
        if (config is None) == (open_viewer is None):
            msg = "a gate needs either an AuthConfig (logins) or an open viewer (no login), not both"
            raise ValueError(msg)
        self.app = app
        self._engine = engine
        self.config = config or AuthConfig()
        self.open_viewer = open_viewer
        self.default_lang = default_lang
        self.restricted = dict(restricted)
        self._throttle = _Throttle()
        self._revoked: dict[str, float] = {}  # session id -> its expiry
        self._known: dict[str, accounts.Account | None] = {}  # last answer per account (database outages)
        self._callback_roles: dict[str, tuple[str, ...] | None] = {}
        self._lock = threading.Lock()
        self._warned: dict[str, float] = {}

    # -- wiring
    def install(self) -> None:
        server = self.app.server
        if self.open_viewer is None:
            server.secret_key = self.config.secret or session_secret()
        else:  # no login: the session only carries the login form's token, so any key will do
            server.secret_key = secrets.token_bytes(32)
        server.session_interface = _Sessions(self)
        longest = max(self.config.session_hours / 24, self.config.kiosk_session_days)
        server.config.update(SESSION_COOKIE_NAME=SESSION_COOKIE, SESSION_COOKIE_HTTPONLY=True,
                             SESSION_COOKIE_SAMESITE="Strict", SESSION_REFRESH_EACH_REQUEST=False,
                             PERMANENT_SESSION_LIFETIME=timedelta(days=longest))
        # first: nothing of Dash's runs for a request without a session
        server.before_request_funcs.setdefault(None, []).insert(0, self.authenticate)
        # last: after Dash has registered every callback (the pages router on the first request)
        server.before_request(self.authorize)
        server.after_request(self.headers)
        server.add_url_rule(LOGIN_PATH, "sandtable_login", self.login, methods=["GET", "POST"])
        server.add_url_rule(KIOSK_PATH, "sandtable_kiosk", self.kiosk, methods=["GET", "POST"])
        server.add_url_rule(LOGOUT_PATH, "sandtable_logout", self.logout, methods=["GET", "POST"])
        server.register_error_handler(AccessDenied, self._denied)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from geodata.db import get_engine

            self._engine = get_engine()
        return self._engine

    # -- who is asking
    def authenticate(self) -> Response | None:
        g.setdefault(_G_VIEWER, None)
        if request.path in OPEN_PATHS:
            return None
        if self.open_viewer is not None:
            g.sandtable_viewer = self.open_viewer
            return None
        try:
            viewer = self._from_proxy()
            if viewer is None:
                viewer = self._from_session()
        except _Unavailable:
            return self._unavailable()
        if viewer is None or viewer is False:
            return self._challenge()
        g.sandtable_viewer = viewer
        g.sandtable_logged_in = True
        return None

    def from_trusted_proxy(self) -> bool:
        if not self.config.trusted_proxies:
            return False
        try:
            addr = ipaddress.ip_address((request.remote_addr or "").split("%")[0])
        except ValueError:
            return False
        return any(addr in net for net in self.config.networks)

    def _from_proxy(self) -> Viewer | bool | None:
        """The viewer named by the proxy's header (None: no header here; False: refused)."""
        header = self.config.proxy_header
        if header is None:
            return None
        name = request.headers.get(header)
        trusted = self.from_trusted_proxy()
        if name is None:
            if session.get("via") == "sso":  # an SSO session holds only while the proxy vouches for it
                session.clear()
                return False
            return None
        if not trusted:
            self._warn(f"untrusted:{request.remote_addr}", "ignoring the %s header from %s: not a trusted proxy",
                       header, request.remote_addr)
            return None
        name = name.strip()
        acc = self._account(name)
        if acc is None or acc.disabled or acc.kiosk:
            key = f"sso-failed:{name}"
            if self._warn(key, "the proxy named an account that cannot log in"):
                self._audit("login_failed", name=name if acc else None, role=acc.role if acc else None,
                            detail={"method": "sso", "ip": request.remote_addr,
                                    "reason": "disabled" if acc and acc.disabled else "no such account"})
            session.clear()
            return False
        if session.get("u") != name or session.get("via") != "sso" or not self._session_alive():
            self._start_session(name, acc.role, via="sso", lifetime_s=self.config.session_hours * 3600)
            self._audit("login", name=name, role=acc.role, detail={"method": "sso", "ip": request.remote_addr},
                        touch=True)
        return Viewer(name, acc.role)

    def _session_alive(self) -> bool:
        exp, sid = session.get("exp"), session.get("sid")
        return bool(exp) and time.time() < exp and sid not in self._revoked

    def _from_session(self) -> Viewer | bool | None:
        name = session.get("u")
        if not name:
            return None
        if session.get("via") == "sso":
            return False  # SSO sessions only with the proxy's header (handled above)
        if not self._session_alive():
            session.clear()
            return False
        acc = self._account(name)
        if acc is None or acc.disabled or acc.kiosk != bool(session.get("k")):
            if acc is not None and acc.disabled:
                self._audit("logout", name=name, role=acc.role,
                            detail={"reason": "account disabled", "ip": request.remote_addr})
            self._revoke()
            session.clear()
            return False
        return Viewer(name, acc.role)

    def _account(self, name: str) -> accounts.Account | None:
        """The account as the database says now (one primary-key lookup per request); the
        last answer when the database cannot be reached (no one can be disabled then)."""
        try:
            with self.engine.connect() as conn:
                acc = accounts.account(conn, name)
        except DB_DOWN_ERRORS as err:
            with self._lock:
                if name in self._known:
                    return self._known[name]
            raise _Unavailable from err
        with self._lock:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[name] = acc
        return acc

    def _wants_page(self) -> bool:
        return (request.method in ("GET", "HEAD") and not request.path.startswith(_NOT_PAGES)
                and "text/html" in request.headers.get("Accept", "")
                and request.headers.get("X-Requested-With") is None)

    def _challenge(self) -> Response:
        if self._wants_page():
            target = request.full_path if request.query_string else request.path
            return redirect(f"{LOGIN_PATH}?{urlencode({'next': target})}", code=302)
        resp = Response(json.dumps({"error": "login required", "login": LOGIN_PATH}), status=401,
                        mimetype="application/json")
        resp.headers["WWW-Authenticate"] = f'Cookie realm="sandtable", form-action="{LOGIN_PATH}"'
        return resp

    def _unavailable(self) -> Response:
        return Response(json.dumps({"error": "the accounts cannot be read right now"}), status=503,
                        mimetype="application/json", headers={"Retry-After": "5"})

    # -- what they may call
    def authorize(self) -> Response | None:
        if request.path != CALLBACK_PATH or request.method != "POST":
            return None
        viewer = g.get(_G_VIEWER)
        if viewer is None:  # cannot happen after authenticate(); refuse rather than assume
            return self._challenge()
        body = request.get_json(silent=True)
        output = body.get("output") if isinstance(body, dict) else None
        roles = self.callback_roles(output) if isinstance(output, str) else None
        if roles is None:
            return Response(json.dumps({"error": "no such callback"}), status=400, mimetype="application/json")
        if viewer.role not in roles:
            log.warning("refused the %s callback to %s (role %s)", output_ids(output)[0], viewer.name, viewer.role)
            return self._forbidden(f"role {viewer.role} may not call this")
        return None

    def callback_roles(self, output: str) -> tuple[str, ...] | None:
        """The roles that may call the callback with this ``output`` key (None: no such
        callback). A callback any of whose outputs lies on a restricted page is restricted."""
        with self._lock:
            if output in self._callback_roles:
                return self._callback_roles[output]
        entry = self.app.callback_map.get(output)
        if entry is None or "callback" not in entry:  # unknown, or clientside (the browser runs those)
            return None
        roles: tuple[str, ...] = tuple(accounts.ROLES)
        for ident in output_ids(output):
            for prefix, allowed in self.restricted.items():
                if ident.startswith(prefix):
                    roles = tuple(r for r in roles if r in allowed)
        with self._lock:
            self._callback_roles[output] = roles
        return roles

    def _forbidden(self, message: str) -> Response:
        return Response(json.dumps({"error": message}), status=403, mimetype="application/json")

    def _denied(self, err: AccessDenied) -> Response:
        return self._forbidden(str(err))

    def headers(self, resp: Response) -> Response:
        h = resp.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "SAMEORIGIN")
        h.setdefault("Referrer-Policy", "no-referrer")  # a kiosk token in a URL goes nowhere
        h.setdefault("Content-Security-Policy", "frame-ancestors 'self'")
        if request.path in OPEN_PATHS or request.path.startswith(("/_dash-update-component", "/_dash-layout")) \
                or resp.status_code in (302, 401, 403):
            h["Cache-Control"] = "no-store"
        return resp

    # -- sessions
    def _start_session(self, name: str, role: str, *, via: str, lifetime_s: float) -> None:
        now = time.time()
        session.clear()
        session.update({"u": name, "r": role, "k": via == "kiosk", "via": via, "sid": secrets.token_urlsafe(16),
                        "iat": int(now), "exp": int(now + lifetime_s)})
        session.permanent = True

    def _revoke(self) -> None:
        sid, exp = session.get("sid"), session.get("exp") or 0
        if not sid:
            return
        now = time.time()
        with self._lock:
            self._revoked[sid] = exp
            if len(self._revoked) > 1000:
                for k in [k for k, e in self._revoked.items() if e < now]:
                    del self._revoked[k]

    def _audit(self, action: str, *, name: str | None, role: str | None, detail: dict, touch: bool = False) -> None:
        try:
            with self.engine.begin() as conn:
                accounts.audit_access(conn, action, name=name, role=role, detail=detail)
                if touch and name:
                    accounts.touch_login(conn, name)
        except DB_DOWN_ERRORS as err:
            log.warning("cannot write the %s audit record: %s", action, type(err).__name__)

    def _warn(self, key: str, message: str, *args: object) -> bool:
        """Log ``message`` at most once a minute per ``key``; True when it was logged."""
        now = time.time()
        with self._lock:
            if now - self._warned.get(key, 0.0) < 60:
                return False
            self._warned[key] = now
        log.warning(message, *args)
        return True

    # -- the routes
    def _lang(self) -> str:
        return i18n.resolve_lang(request.values.get("lang"), self.default_lang)

    def login(self) -> Response:
        lang = self._lang()
        nxt = _safe_next(request.values.get("next"))
        if self.open_viewer is not None:
            return redirect(nxt)
        if request.method == "GET":
            try:
                if self._from_session():
                    return redirect(nxt)
            except _Unavailable:
                pass
            message = t("login.logged_out", lang) if request.args.get("out") else None
            return self._page(lang, nxt, notice=message)
        name = (request.form.get("name") or "").strip()[:64]
        password = request.form.get("password") or ""
        addr = request.remote_addr or "?"
        expected = session.get("csrf")
        if not expected or not hmac.compare_digest(str(expected), str(request.form.get("csrf", ""))):
            return self._page(lang, nxt, error=t("login.retry", lang), status=400)
        if self._throttle.blocked(name, addr):
            self._audit("login_failed", name=None, role=None,
                        detail={"method": "password", "ip": addr, "reason": "throttled"})
            return self._page(lang, nxt, error=t("login.throttled", lang), status=429)
        try:
            with self.engine.begin() as conn:
                role = accounts.verify_password(conn, name, password[:_MAX_PASSWORD]) if name and password else None
                if role is None:
                    acc = accounts.account(conn, name)
                    accounts.audit_access(conn, "login_failed", name=acc.name if acc else None,
                                          role=acc.role if acc else None,
                                          detail={"method": "password", "ip": addr,
                                                  "reason": "disabled" if acc and acc.disabled else "wrong password"
                                                  if acc else "no such account"})
                else:
                    accounts.audit_access(conn, "login", name=name, role=role, detail={"method": "password",
                                                                                       "ip": addr})
                    accounts.touch_login(conn, name)
        except DB_DOWN_ERRORS:
            return self._page(lang, nxt, error=t("login.unavailable", lang), status=503)
        if role is None:
            self._throttle.fail(name, addr)
            log.info("failed login from %s", addr)
            return self._page(lang, nxt, error=t("login.failed", lang), status=401)
        self._throttle.success(name)
        self._start_session(name, role, via="password", lifetime_s=self.config.session_hours * 3600)
        log.info("%s logged in (role %s) from %s", name, role, addr)
        return redirect(nxt)

    def kiosk(self) -> Response:
        lang = self._lang()
        home = "/" if "lang" not in request.values else f"/?lang={lang}"
        if self.open_viewer is not None:
            return redirect(home)
        token = (request.values.get("token") or "").strip()
        addr = request.remote_addr or "?"
        if self._throttle.blocked("(kiosk)", addr):
            return self._page(lang, "/", error=t("login.throttled", lang), status=429)
        try:
            with self.engine.begin() as conn:
                hit = accounts.verify_token(conn, token) if 0 < len(token) <= 256 else None
                if hit is None or hit[1] != "command":
                    accounts.audit_access(conn, "login_failed", name=None, role=None,
                                          detail={"method": "kiosk", "ip": addr, "reason": "bad token"})
                else:
                    accounts.audit_access(conn, "login", name=hit[0], role=hit[1], detail={"method": "kiosk",
                                                                                           "ip": addr})
                    accounts.touch_login(conn, hit[0])
        except DB_DOWN_ERRORS:
            return self._page(lang, "/", error=t("login.unavailable", lang), status=503)
        if hit is None or hit[1] != "command":
            self._throttle.fail("(kiosk)", addr)
            return self._page(lang, "/", error=t("login.kiosk_failed", lang), status=401)
        self._start_session(hit[0], "command", via="kiosk", lifetime_s=self.config.kiosk_session_days * 86400)
        log.info("kiosk %s logged in from %s", hit[0], addr)
        return redirect(home)

    def logout(self) -> Response:
        lang = self._lang()
        name, role = session.get("u"), session.get("r")
        if name and self.open_viewer is None:
            self._audit("logout", name=name, role=role, detail={"ip": request.remote_addr,
                                                                "method": session.get("via")})
            self._revoke()
        session.clear()
        query = {"out": "1"} | ({"lang": lang} if "lang" in request.values else {})
        return redirect(f"{LOGIN_PATH}?{urlencode(query)}")

    # -- the login page (plain HTML: it must work before any of Dash's scripts may load)
    def _page(self, lang: str, nxt: str, *, error: str | None = None, notice: str | None = None,
              status: int = 200) -> Response:
        token = session.get("csrf") or secrets.token_urlsafe(24)
        session["csrf"] = token
        other = "en" if lang == "zh" else "zh"
        switch = f"{LOGIN_PATH}?{urlencode({'lang': other, 'next': nxt})}"
        message = ""
        if error:
            message = f'<p class="st-login-error" role="alert">{escape(error)}</p>'
        elif notice:
            message = f'<p class="st-login-notice" role="status">{escape(notice)}</p>'
        html_lang = "zh-CN" if lang == "zh" else "en"
        body = f"""<!DOCTYPE html>
<html lang="{html_lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(t("login.title", lang))} · {escape(t("app.short", lang))}</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="{LOGIN_CSS}">
</head><body class="st-login-body">
<main class="st-login">
<h1 class="st-login-app">{escape(t("app.title", lang))}</h1>
<h2 class="st-login-title">{escape(t("login.title", lang))}</h2>
{message}
<form method="post" action="{LOGIN_PATH}" class="st-login-form" autocomplete="on">
<input type="hidden" name="csrf" value="{escape(token)}">
<input type="hidden" name="next" value="{escape(nxt)}">
<input type="hidden" name="lang" value="{escape(lang)}">
<label for="st-login-name">{escape(t("login.name", lang))}</label>
<input id="st-login-name" name="name" type="text" autocomplete="username" maxlength="64" required autofocus>
<label for="st-login-password">{escape(t("login.password", lang))}</label>
<input id="st-login-password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="st-login-submit">{escape(t("login.submit", lang))}</button>
</form>
<p class="st-login-note">{escape(t("login.note", lang))}</p>
<a class="st-login-lang" href="{escape(switch)}" lang="{other}">{escape(t("lang.switch", lang))}</a>
</main></body></html>
"""
        return Response(body, status=status, mimetype="text/html")


def output_ids(output: str) -> list[str]:
    """The component ids of a callback's ``output`` key (``..a.b...c.d..`` or ``a.b``);
    a pattern-matching id (JSON) gives its ``type``."""
    text = output[2:-2] if output.startswith("..") and output.endswith("..") else output
    out = []
    for part in text.split("..."):
        ident = part.split("@", 1)[0].rsplit(".", 1)[0]
        if ident.startswith("{"):
            try:
                ident = str(json.loads(ident).get("type", ident))
            except (ValueError, AttributeError):
                pass
        out.append(ident)
    return out


def login_url(next_path: str = "/", lang: str | None = None) -> str:
    """``/login?next=...`` (for links and messages)."""
    query = {"next": _safe_next(next_path)} | ({"lang": lang} if lang else {})
    return f"{LOGIN_PATH}?{urlencode(query, quote_via=quote)}"
