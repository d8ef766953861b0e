"""Access control of the dashboard, through the real server (waitress) and the real
database, without a browser: every route and every callback the app has refuses
requests without a login (401 or a redirect to the login page, never data) and
callbacks of a role that may not call them (403); sessions (cookie flags, expiry,
logout, a disabled account), the kiosk token, the reverse proxy's header (only from a
trusted address), failed-login throttling, and the audit log: every login, logout and
failed login, and every view of a named person with its purpose."""

from __future__ import annotations

import json
import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from dashboard import create_app
from dashboard.app import CONFIG_KEY
from dashboard.auth import LOGIN_CSS, OPEN_PATHS, SESSION_COOKIE, AuthConfig
from dashboard.server import dashboard_engine, running
from geodata.accounts import ROLES, add_kiosk, add_user, disable_user
from tests.test_dashboard_support import callback_body, set_home

pytestmark = pytest.mark.db

PASSWORD = "correct horse battery"
USERS = {"epi": "cdc", "desk": "command", "road": "transport", "boss": "leader", "stats": "analyst"}
LOGIN_REQUIRED = {"error": "login required", "login": "/login"}
#: Dash's own routes and the pages: served (200) to a logged-in user with the sample values below
DASH_ROUTES = {"/", "/<path:path>", "/_dash-layout", "/_dash-dependencies", "/_reload-hash", "/_favicon.ico",
               "/assets/<path:filename>", "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>"}


@dataclass
class Site:
    url: str
    app: object
    owner: Engine
    kiosk_token: str
    home: Path


@pytest.fixture(scope="module")
def site(pg_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """An empty district database with one account per role and a kiosk, served with
    logins required and single sign-on from 127.0.0.1 through ``X-Remote-User``."""
    from tests.conftest import _TEMPLATE

    name = f"dash_auth_{os.getpid()}"
    pg_server.drop(name)
    url = pg_server.create(name, template=_TEMPLATE)
    home = tmp_path_factory.mktemp("auth-home")
    owner = create_engine(url, poolclass=NullPool)
    try:
        with pytest.MonkeyPatch.context() as mp:
            set_home(mp, home, url)
            with owner.begin() as conn:
                for user, role in USERS.items():
                    add_user(conn, user, role, PASSWORD)
                add_user(conn, "leaver", "cdc", PASSWORD)
                token = add_kiosk(conn, "wall-1")
            engine = dashboard_engine(url, embedded=True, pool_size=4)  # as `sandtable serve`: sandtable_app
            app = create_app(engine=engine, auth=AuthConfig(proxy_header="X-Remote-User",
                                                            trusted_proxies=("127.0.0.1",)),
                             refresh_s=60, warm_ahead=False)
            with running(app) as base:
                yield Site(base, app, owner, token, home)
            engine.dispose()
    finally:
        owner.dispose()
        pg_server.drop(name)


def login(base: str, name: str, password: str = PASSWORD, **kwargs: object) -> requests.Session:
    """A client logged in through the public login form (as a browser does)."""
    s = requests.Session()
    page = s.get(base + "/login", timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = s.post(base + "/login", data={"name": name, "password": password, "csrf": csrf, **kwargs},
               allow_redirects=False, timeout=30)
    s.last_status = r.status_code  # type: ignore[attr-defined]
    s.last_response = r  # type: ignore[attr-defined]
    return s


def audit_rows(site: Site, *actions: str) -> list:
    with site.owner.connect() as conn:
        return conn.execute(text("SELECT actor, role, action, person_id, purpose, rows_returned, detail FROM audit_log"
                                 " WHERE action = ANY(:a) ORDER BY audit_id"), {"a": list(actions)}).all()


# --- every route, every callback ---------------------------------------------------
def _concrete(rule: str, samples: dict[str, str]) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: samples.get(m.group(1), "x"), rule)


def _callbacks(app: object) -> dict[str, dict]:
    return dict(app.callback_map)


def _body(output: str, entry: dict, values: dict | None = None) -> dict:
    """The JSON a browser posts for the callback ``output`` of ``app.callback_map``."""
    return callback_body({"output": output, "inputs": entry["inputs"] or [{"id": "x", "property": "y"}],
                          "state": entry["state"]}, values or {})


def test_every_route_refuses_without_login_and_serves_after(site: Site):
    desk = login(site.url, "epi")
    index = desk.get(site.url + "/", timeout=30)
    assert index.status_code == 200 and "_dash-renderer" in index.text
    suite = re.search(r'src="/_dash-component-suites/([^/"]+)/([^"?]+)', index.text)
    samples = {"package_name": suite.group(1), "fingerprinted_path": suite.group(2), "filename": "sandtable.css",
               "path": "tracing"}
    rules = list(site.app.server.url_map.iter_rules())
    assert {r.rule for r in rules} >= {"/", "/<path:path>", "/_dash-layout", "/_dash-dependencies",
                                       "/_dash-update-component", "/_reload-hash", "/assets/<path:filename>",
                                       "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
                                       "/login", "/login/kiosk", "/logout"}
    anon = requests.Session()
    checked = 0
    for rule in rules:
        path = _concrete(rule.rule, samples)
        if path in OPEN_PATHS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for accept in ("text/html,application/xhtml+xml", "application/json", "*/*"):
                r = anon.request(method, site.url + path, headers={"Accept": accept}, allow_redirects=False,
                                 timeout=30, json={} if method == "POST" else None)
                page = method == "GET" and accept.startswith("text/html") and not path.startswith(
                    ("/_dash", "/assets/", "/_reload", "/_favicon", "/static/"))
                if page:
                    assert r.status_code == 302, (method, path, r.status_code)
                    assert r.headers["Location"].startswith("/login?next="), r.headers["Location"]
                    assert len(r.content) < 400 and "st-" not in r.text
                else:
                    assert r.status_code == 401, (method, path, accept, r.status_code)
                    assert r.json() == LOGIN_REQUIRED, (method, path)
                assert SESSION_COOKIE not in r.cookies
                checked += 1
        if "GET" in rule.methods and not rule.rule.startswith("/static/"):  # the same route, logged in: let through
            r = desk.get(site.url + path, allow_redirects=False, timeout=30)
            assert r.status_code != 401 and not r.headers.get("Location", "").startswith("/login"), path
            if rule.rule in DASH_ROUTES:
                assert r.status_code == 200, path
    assert checked >= 3 * 10
    # the open routes give no data: the login form, its style sheet, a refused kiosk, the way out
    r = anon.get(site.url + "/login", timeout=30)
    assert r.status_code == 200 and 'name="password"' in r.text and "_dash" not in r.text
    css = anon.get(site.url + LOGIN_CSS, timeout=30)
    assert css.status_code == 200 and "st-login" in css.text
    assert anon.get(site.url + "/assets/sandtable.css", timeout=30).status_code == 401
    assert anon.get(site.url + "/login/kiosk", timeout=30).status_code == 401
    assert anon.get(site.url + "/logout", allow_redirects=False, timeout=30).status_code == 302


def test_every_callback_refuses_without_login_and_for_the_wrong_role(site: Site):
    sessions = {role: login(site.url, user) for user, role in USERS.items()}
    sessions["command"].get(site.url + "/", timeout=30)  # the pages router is registered at the first request
    callbacks = _callbacks(site.app)
    assert any(k.startswith("..tracing-message") for k in callbacks)
    assert any("_pages_content" in k for k in callbacks)
    gate = site.app.server.config[CONFIG_KEY].gate
    anon = requests.Session()
    refused = 0
    for output, entry in callbacks.items():
        body = _body(output, entry, {("shell-lang", "data"): "en", ("_pages_location", "pathname"): "/tracing"})
        r = anon.post(site.url + "/_dash-update-component", json=body, timeout=30)
        assert r.status_code == 401 and r.json() == LOGIN_REQUIRED, output
        allowed = gate.callback_roles(output)
        for role, s in sessions.items():
            r = s.post(site.url + "/_dash-update-component", json=body, timeout=60)
            if "callback" not in entry:  # a clientside callback: the browser runs it, the server has none
                assert r.status_code == 400, (output, role)
            elif role in allowed:
                assert r.status_code in (200, 204), (output, role, r.status_code, r.text[:300])
            else:
                assert r.status_code == 403, (output, role, r.status_code)
                assert set(r.json()) == {"error"}, r.text
                refused += 1
    assert refused >= 2 * 4  # the tracing and export callbacks, for each of the four other roles
    unknown = sessions["cdc"].post(site.url + "/_dash-update-component", json={"output": "nope.children"}, timeout=30)
    assert unknown.status_code == 400


def test_forged_trace_by_command_gets_403_and_no_data(site: Site):
    desk = login(site.url, "desk")
    desk.get(site.url + "/", timeout=30)
    output = next(k for k in _callbacks(site.app) if k.startswith("..tracing-message"))
    body = _body(output, site.app.callback_map[output],
                 {("tracing-person", "value"): "211403199001011234", ("tracing-purpose", "value"): "curious",
                  ("tracing-go", "n_clicks"): 1})
    before = len(audit_rows(site, "trace"))
    r = desk.post(site.url + "/_dash-update-component", json=body, timeout=30)
    assert r.status_code == 403
    assert "211403199001011234" not in r.text and "tracing-summary" not in r.text
    assert len(audit_rows(site, "trace")) == before  # nothing was traced
    # the page itself tells the command role it may not trace, and has no form
    page = desk.post(site.url + "/_dash-update-component", timeout=30, json=_body(
        next(k for k in _callbacks(site.app) if "_pages_content" in k),
        site.app.callback_map[next(k for k in _callbacks(site.app) if "_pages_content" in k)],
        {("_pages_location", "pathname"): "/tracing", ("_pages_location", "search"): ""}))
    assert page.status_code == 200 and "st-denied" in page.text and "tracing-person" not in page.text


# --- sessions ----------------------------------------------------------------------
def test_login_sets_a_strict_http_only_cookie_with_an_expiry_and_is_audited(site: Site):
    s = login(site.url, "boss", next="/checkpoints?lang=en")
    r = s.last_response
    assert r.status_code == 302 and r.headers["Location"] == "/checkpoints?lang=en"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback (auto); https below
    expires = re.search(r"Expires=([^;]+)", cookie).group(1)
    left = time.mktime(time.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT")) - time.mktime(time.gmtime())
    assert 11.5 * 3600 < left <= 12 * 3600 + 5
    assert r.headers["Cache-Control"] == "no-store"
    # behind a trusted TLS proxy (X-Forwarded-Proto: https from 127.0.0.1) the cookie is Secure
    tls = login(site.url, "boss", next="/")
    assert "Secure" not in tls.last_response.headers["Set-Cookie"]
    t2 = requests.Session()
    page = t2.get(site.url + "/login", headers={"X-Forwarded-Proto": "https"}, timeout=30)
    assert "Secure" in page.headers["Set-Cookie"]
    rows = [r for r in audit_rows(site, "login") if r.actor == "boss"]
    assert rows and rows[-1].role == "leader" and rows[-1].detail["method"] == "password"
    with site.owner.connect() as conn:
        assert conn.execute(text("SELECT last_login FROM users WHERE name = 'boss'")).scalar_one() is not None


def test_wrong_password_and_unknown_account_are_refused_and_audited_without_secrets(site: Site):
    s = login(site.url, "epi", "wrong password!")
    assert s.last_status == 401 and "st-login-error" in s.last_response.text
    assert s.get(site.url + "/_dash-layout", timeout=30).status_code == 401
    typo = login(site.url, PASSWORD)  # a password typed into the account field
    assert typo.last_status == 401
    rows = audit_rows(site, "login_failed")
    assert ("epi", "cdc") in [(r.actor, r.role) for r in rows]
    assert ("?", "-") in [(r.actor, r.role) for r in rows]
    with site.owner.connect() as conn:
        everything = json.dumps([list(map(str, r)) for r in conn.execute(text("SELECT * FROM audit_log")).all()])
    assert "wrong password!" not in everything and PASSWORD not in everything


def test_login_form_needs_its_token_and_never_redirects_elsewhere(site: Site):
    s = requests.Session()
    r = s.post(site.url + "/login", data={"name": "epi", "password": PASSWORD}, allow_redirects=False, timeout=30)
    assert r.status_code == 400  # no form token (a login posted from another site)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "/logout"):
        r = login(site.url, "epi", next=target).last_response
        assert r.status_code == 302 and r.headers["Location"] == "/", target


def test_too_many_failures_are_throttled(site: Site):
    for _ in range(8):
        assert login(site.url, "stats", "not the password").last_status == 401
    assert login(site.url, "stats").last_status == 429  # even the right password, for a while
    site.app.server.config[CONFIG_KEY].gate._throttle.success("stats")  # noqa: SLF001 - let later tests log in
    assert login(site.url, "stats").last_status == 302


def test_logout_ends_the_session_even_for_a_copied_cookie(site: Site):
    s = login(site.url, "road")
    assert s.get(site.url + "/_dash-layout", timeout=30).status_code == 200
    copied = s.cookies.get(SESSION_COOKIE)
    r = s.get(site.url + "/logout", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?out=1")
    assert s.get(site.url + "/_dash-layout", timeout=30).status_code == 401
    replay = requests.Session()
    replay.cookies.set(SESSION_COOKIE, copied)
    assert replay.get(site.url + "/_dash-layout", timeout=30).status_code == 401
    assert [r.actor for r in audit_rows(site, "logout")].count("road") == 1
    assert "已退出" in requests.get(site.url + r.headers["Location"], timeout=30).text


def test_a_disabled_account_loses_its_session_at_the_next_request(site: Site):
    s = login(site.url, "leaver")
    assert s.get(site.url + "/_dash-layout", timeout=30).status_code == 200
    with site.owner.begin() as conn:
        disable_user(conn, "leaver")
    r = s.get(site.url + "/_dash-layout", timeout=30)
    assert r.status_code == 401 and r.json() == LOGIN_REQUIRED
    page = s.get(site.url + "/", headers={"Accept": "text/html"}, allow_redirects=False, timeout=30)
    assert page.status_code == 302
    assert login(site.url, "leaver").last_status == 401
    assert any(r.actor == "leaver" and r.detail.get("reason") == "account disabled"
               for r in audit_rows(site, "logout"))


def test_sessions_expire(site: Site, tmp_path: Path):
    app = create_app(engine=site.app.server.config[CONFIG_KEY].providers.for_role("cdc").engine,
                     auth=AuthConfig(session_hours=1.5 / 3600, secret=b"k" * 32), warm_ahead=False)
    with running(app) as base:
        s = login(base, "epi")
        assert s.last_status == 302
        assert s.get(base + "/_dash-layout", timeout=30).status_code == 200
        time.sleep(2.0)
        assert s.get(base + "/_dash-layout", timeout=30).status_code == 401


def test_the_session_key_is_private_and_never_logged(site: Site, caplog: pytest.LogCaptureFixture):
    key = site.home / "secrets" / "session.key"
    assert key.exists() and stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    with caplog.at_level("DEBUG"):
        login(site.url, "epi").get(site.url + "/_dash-layout", timeout=30)
    secret = key.read_bytes()
    assert secret.hex() not in caplog.text and PASSWORD not in caplog.text


# --- kiosk and single sign-on -------------------------------------------------------
def test_kiosk_token_logs_a_wall_screen_in_for_long_as_command(site: Site):
    s = requests.Session()
    r = s.get(site.url + "/login/kiosk", params={"token": site.kiosk_token}, allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"] == "/"
    expires = re.search(r"Expires=([^;]+)", r.headers["Set-Cookie"]).group(1)
    left = time.mktime(time.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT")) - time.mktime(time.gmtime())
    assert left > 29 * 86400  # SANDTABLE_KIOSK_SESSION_DAYS, 30 by default
    assert s.get(site.url + "/_dash-layout", timeout=30).status_code == 200
    s.get(site.url + "/", timeout=30)
    output = next(k for k in _callbacks(site.app) if k.startswith("..tracing-message"))
    assert s.post(site.url + "/_dash-update-component", json=_body(output, site.app.callback_map[output]),
                  timeout=30).status_code == 403  # a wall screen is role command
    other = requests.Session()
    bad = other.get(site.url + "/login/kiosk", params={"token": site.kiosk_token[:-2] + "xx"},
                    allow_redirects=False, timeout=30)
    assert bad.status_code == 401 and "st-login-error" in bad.text
    assert other.get(site.url + "/_dash-layout", timeout=30).status_code == 401
    assert ("wall-1", "command") in [(r.actor, r.role) for r in audit_rows(site, "login")]
    assert any(r.detail.get("method") == "kiosk" for r in audit_rows(site, "login_failed"))
    assert login(site.url, "wall-1", "anything at all").last_status == 401  # no password login for a kiosk


def test_proxy_header_is_honoured_only_from_a_trusted_proxy(site: Site):
    # 127.0.0.1 is this site's trusted proxy: the header names the account, its role is the account's
    sso = requests.Session()
    sso.headers["X-Remote-User"] = "epi"
    r = sso.get(site.url + "/_dash-layout", timeout=30)
    assert r.status_code == 200
    assert ("epi", "cdc") in [(x.actor, x.role) for x in audit_rows(site, "login") if x.detail["method"] == "sso"]
    for name in ("nobody", "leaver", "wall-1"):  # no such account, disabled, a kiosk
        assert requests.get(site.url + "/_dash-layout", headers={"X-Remote-User": name},
                            timeout=30).status_code == 401
    # without the header the SSO session does not hold (the proxy no longer vouches for it)
    del sso.headers["X-Remote-User"]
    assert sso.get(site.url + "/_dash-layout", timeout=30).status_code == 401
    # another server trusting only 10.1.2.3: the same header from 127.0.0.1 is ignored
    engine = site.app.server.config[CONFIG_KEY].providers.for_role("cdc").engine
    app = create_app(engine=engine, auth=AuthConfig(proxy_header="X-Remote-User", trusted_proxies=("10.1.2.3",),
                                                    secret=b"s" * 32), warm_ahead=False)
    with running(app) as base:
        r = requests.get(base + "/_dash-layout", headers={"X-Remote-User": "epi"}, timeout=30)
        assert r.status_code == 401
        assert requests.get(base + "/", headers={"X-Remote-User": "epi", "Accept": "text/html"},
                            allow_redirects=False, timeout=30).status_code == 302
    with pytest.raises(ValueError, match="trusted-proxy"):
        AuthConfig(proxy_header="X-Remote-User")


# --- named-person views: every one audited with its purpose -------------------------
def test_every_trace_and_export_is_audited_with_its_purpose(site: Site):
    epi = login(site.url, "epi")
    epi.get(site.url + "/", timeout=30)
    cbs = _callbacks(site.app)
    trace_out = next(k for k in cbs if k.startswith("..tracing-message"))
    export_out = next(k for k in cbs if k.startswith("..tracing-download"))
    before = {a: len(audit_rows(site, a)) for a in ("trace", "trace_export")}
    shown = 0
    tokens = []
    for i, purpose in enumerate(["case 2022-041", "  ", "", "close contact check"]):
        body = _body(trace_out, cbs[trace_out], {("tracing-person", "value"): f"21140319900101{i:04d}",
                                                 ("tracing-purpose", "value"): purpose, ("tracing-go", "n_clicks"): 1,
                                                 ("shell-lang", "data"): "en"})
        r = epi.post(site.url + "/_dash-update-component", json=body, timeout=60)
        assert r.status_code == 200
        token = r.json()["response"]["tracing-token"]["data"]
        if purpose.strip():
            assert token, r.text[:300]
            tokens.append(token)
            shown += 1
        else:
            assert token is None and "State the purpose" in r.text
    for token in tokens:
        r = epi.post(site.url + "/_dash-update-component", timeout=60, json=_body(
            export_out, cbs[export_out], {("tracing-token", "data"): token, ("shell-lang", "data"): "en"}))
        assert r.status_code == 200
        assert r.json()["response"]["tracing-download"]["data"]["filename"].endswith(".csv")
    traces = audit_rows(site, "trace")[before["trace"]:]
    exports = audit_rows(site, "trace_export")[before["trace_export"]:]
    assert len(traces) == shown and len(exports) == len(tokens)
    assert [r.purpose for r in traces] == ["case 2022-041", "close contact check"]
    assert [r.purpose for r in exports] == ["case 2022-041", "close contact check"]
    assert all(r.actor == "epi" and r.role == "cdc" and r.person_id is not None for r in traces + exports)
    with site.owner.connect() as conn:
        blank = conn.execute(text(
            "SELECT count(*) FROM audit_log WHERE (person_id IS NOT NULL OR action IN ('trace', 'trace_export',"
            " 'list_cases', 'person_lookup')) AND coalesce(btrim(purpose), '') = ''")).scalar_one()
    assert blank == 0
    # the page lists the user's own lookups (persons unknown to this empty database: by pseudonym)
    page_out = next(k for k in cbs if "_pages_content" in k)
    page = epi.post(site.url + "/_dash-update-component", timeout=60, json=_body(
        page_out, cbs[page_out], {("_pages_location", "pathname"): "/tracing", ("_pages_location", "search"): ""}))
    assert "close contact check" in page.text and "case 2022-041" in page.text
    assert f"#{traces[-1].person_id}" in page.text and "211403199001010003" not in page.text


def test_a_token_is_only_good_for_whoever_traced(site: Site):
    with site.owner.begin() as conn:
        add_user(conn, "epi2", "cdc", PASSWORD)
    a, b = login(site.url, "epi"), login(site.url, "epi2")
    a.get(site.url + "/", timeout=30)
    cbs = _callbacks(site.app)
    trace_out = next(k for k in cbs if k.startswith("..tracing-message"))
    export_out = next(k for k in cbs if k.startswith("..tracing-download"))
    r = a.post(site.url + "/_dash-update-component", timeout=60, json=_body(trace_out, cbs[trace_out], {
        ("tracing-person", "value"): "211403199001019999", ("tracing-purpose", "value"): "case 7",
        ("tracing-go", "n_clicks"): 1}))
    token = r.json()["response"]["tracing-token"]["data"]
    before = len(audit_rows(site, "trace_export"))
    r = b.post(site.url + "/_dash-update-component", timeout=60, json=_body(
        export_out, cbs[export_out], {("tracing-token", "data"): token, ("shell-lang", "data"): "en"}))
    assert r.status_code == 200 and "tracing-download" not in r.json()["response"] and "expired" in r.text
    assert len(audit_rows(site, "trace_export")) == before


def test_dash_is_at_or_above_the_cve_2024_21485_fix():
    major, minor = (int(x) for x in version("dash").split(".")[:2])
    assert (major, minor) >= (2, 15), version("dash")


def test_every_role_can_log_in_and_sees_its_role(site: Site):
    for user, role in USERS.items():
        s = login(site.url, user)
        assert s.last_status == 302, user
        layout = s.post(site.url + "/_dash-update-component", timeout=60, json=_body(
            next(k for k in _callbacks(site.app) if "_pages_content" in k),
            site.app.callback_map[next(k for k in _callbacks(site.app) if "_pages_content" in k)],
            {("_pages_location", "pathname"): "/", ("_pages_location", "search"): "?lang=en"}))
        assert layout.status_code == 200
        assert user in layout.text and "Log out" in layout.text, user
    assert set(ROLES) == set(USERS.values())
