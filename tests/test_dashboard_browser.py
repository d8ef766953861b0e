"""The desk dashboard in headless Chromium against a simulated district, with the network
blocked, logged in through the login page as an account of the cdc role: every page
opens, maps and charts draw, tracing works end to end (audited, with the user's own
lookups listed), English switches, no console error, and no request (or reference)
leaves the machine; logging out and back in, and a wrong password, as a user meets them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from sqlalchemy import create_engine, text

from dashboard import create_app
from dashboard.server import dashboard_engine, running
from tests.test_dashboard_support import (  # noqa: F401 - fixtures
    District, browser_login, driver, ensure_account, http_login, map_drawn, requested_urls, set_home, severe_logs,
    simulated_district, wait_for,
)

pytestmark = [pytest.mark.db, pytest.mark.browser]

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def server(simulated_district: District) -> Iterator[tuple[str, District]]:
    with pytest.MonkeyPatch.context() as mp:
        set_home(mp, simulated_district.home, simulated_district.url)
        # as `sandtable serve` connects: the application role (reads, appends to the audit log)
        engine = dashboard_engine(simulated_district.url, embedded=True, pool_size=8)
        ensure_account(simulated_district.url, "epi", "cdc")
        app = create_app(engine=engine, refresh_s=60)  # logins required, as `sandtable serve`
        with running(app) as url:
            yield url, simulated_district
        engine.dispose()


@pytest.fixture(scope="module", autouse=True)
def _logged_in(server, driver) -> None:  # noqa: ANN001
    url, _ = server
    browser_login(driver, url, "epi")


def _only_local(urls: list[str]) -> list[str]:
    """The requests that went anywhere but this machine (data: and blob: stay local)."""
    out = []
    for u in urls:
        parts = urlsplit(u)
        if parts.scheme in ("data", "blob", "about", "chrome", "devtools"):
            continue
        if parts.hostname not in LOCAL_HOSTS:
            out.append(u)
    return out


def _open(driver, url: str, ready: str, timeout: float = 60) -> None:  # noqa: ANN001
    driver.get(url)
    wait_for(driver, ready, timeout)


PLOTS_DRAWN = ("(() => { const g = document.querySelectorAll('.st-page .js-plotly-plot');"
               " return g.length > 0 && Array.from(g).every(x => x._fullLayout !== undefined); })()")
NO_PENDING = "!document.querySelector('[data-dash-is-loading=\"true\"]')"


def test_sandbox_page(server, driver):
    url, _ = server
    driver.get_log("browser")
    driver.get_log("performance")
    _open(driver, url + "/", map_drawn("#sandbox-map") + " && document.querySelectorAll('.st-kpi').length >= 10")
    wait_for(driver, "document.querySelector('#sandbox-risk .st-risk-counts') !== null")
    wait_for(driver, "document.querySelector('#sandbox-map .js-plotly-plot').data.length >= 4")
    assert driver.find_element("css selector", "#sandbox-measure").is_displayed()  # controls on the desk
    assert "龙港区疫情防控电子沙盘" in driver.title or "沙盘" in driver.title
    assert driver.find_element("css selector", ".st-as-of").text.startswith("数据截至 2022年")
    # a control: the heatmap at another resolution and measure redraws without errors
    driver.find_element("css selector", "#sandbox-measure input[value='persons']").click()
    wait_for(driver, "document.querySelector('#sandbox-map-title').innerText.includes('扫码人数')")
    assert severe_logs(driver) == []
    assert _only_local(requested_urls(driver)) == []


@pytest.mark.parametrize(("path", "ready", "text"), [
    ("/checkpoints", PLOTS_DRAWN + " && document.querySelectorAll('#checkpoints-summary tbody tr').length > 0",
     "每小时通行车辆"),
    ("/isolation", PLOTS_DRAWN + " && document.querySelectorAll('#isolation-sites tbody tr').length > 0",
     "隔离点容量与使用"),
    ("/briefing", "document.querySelectorAll('#briefing-figures tbody tr').length >= 10", "本周数据"),
    ("/no-such-page", "document.querySelector('.st-page-title') !== null", "页面不存在"),
])
def test_other_pages(server, driver, path: str, ready: str, text: str):
    url, _ = server
    driver.get_log("browser")
    driver.get_log("performance")
    _open(driver, url + path, ready)
    wait_for(driver, NO_PENDING)
    assert text in driver.find_element("css selector", "body").text
    assert severe_logs(driver) == []
    assert _only_local(requested_urls(driver)) == []


def test_tracing_end_to_end(server, driver):
    url, district = server
    driver.get_log("browser")
    _open(driver, url + "/tracing", "document.querySelector('#tracing-person') !== null")
    driver.find_element("css selector", "#tracing-person").send_keys(district.case_ref)
    driver.find_element("css selector", "#tracing-purpose").send_keys("浏览器测试")
    driver.find_element("css selector", "#tracing-go").click()
    wait_for(driver, "document.querySelector('#tracing-elapsed').innerText.includes('用时')", 60)
    wait_for(driver, map_drawn("#tracing-map"))
    wait_for(driver, "document.querySelector('#tracing-graph canvas') !== null")
    summary = driver.find_element("css selector", "#tracing-summary").text
    assert district.case_ref in summary and "密接" in summary
    assert not driver.find_element("css selector", "#tracing-export").get_attribute("disabled")
    masked = district.case_ref[:4] + "*" * (len(district.case_ref) - 8) + district.case_ref[-4:]
    wait_for(driver, f"document.querySelector('#tracing-lookups').innerText.includes('{masked}')")
    driver.find_element("css selector", "#tracing-export").click()
    wait_for(driver, NO_PENDING)
    wait_for(driver, "document.querySelector('#tracing-lookups').innerText.includes('导出 CSV')")
    lookups = driver.find_element("css selector", "#tracing-lookups").text
    assert "浏览器测试" in lookups and district.case_ref not in lookups
    assert severe_logs(driver) == []
    owner = create_engine(district.url)
    with owner.connect() as conn:
        rows = conn.execute(text("SELECT action, purpose FROM audit_log WHERE actor = 'epi' AND role = 'cdc'"
                                 " AND action IN ('trace', 'trace_export') ORDER BY audit_id")).all()
    owner.dispose()
    assert [tuple(r) for r in rows[-2:]] == [("trace", "浏览器测试"), ("trace_export", "浏览器测试")]


def test_english(server, driver):
    url, _ = server
    driver.get_log("browser")
    _open(driver, url + "/", "document.querySelectorAll('.st-kpi').length >= 10")
    driver.find_element("css selector", ".st-lang").click()
    wait_for(driver, "document.querySelector('.st-title').innerText.startsWith('Longgang District')")
    wait_for(driver, "document.querySelectorAll('.st-kpi').length >= 10")
    wait_for(driver, "document.querySelector('.st-as-of').innerText.startsWith('Data as of')")
    text = driver.find_element("css selector", ".st-kpis").text
    assert "Scans today" in text and "扫码" not in text
    assert re.search(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2} 20\d\d", driver.find_element(
        "css selector", ".st-date").text)
    driver.find_element("css selector", ".st-nav-link[href='/checkpoints?lang=en']").click()
    wait_for(driver, PLOTS_DRAWN + " && document.body.innerText.includes('Vehicles per hour')")
    assert severe_logs(driver) == []


_ABSOLUTE = re.compile(r"""(?:https?:)?//([a-z0-9.-]+\.[a-z]{2,})(?::\d+)?/""", re.I)
_NAMESPACES = {"www.w3.org"}  # XML namespaces (SVG), never fetched


def _hosts(text: str) -> set[str]:
    return {h.lower() for h in _ABSOLUTE.findall(text)} - _NAMESPACES - LOCAL_HOSTS


def test_served_pages_reference_no_external_host(server):
    """Crawl what the app serves: the index, its scripts and styles, the layout, the
    dependencies and every page's layout; only local references (the JavaScript bundles
    are checked by the browser tests above, which record every request)."""
    url, _ = server
    session = http_login(url, "epi")

    def get(path: str) -> str:
        r = session.get(url + path, timeout=30)
        assert r.status_code == 200, path
        return r.text

    index = get("/")
    assert _hosts(index) == set()
    refs = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', index)
    assert refs and all(r.startswith("/") and not r.startswith("//") for r in refs), refs
    for ref in refs:
        body = get(ref)
        if ref.split("?")[0].endswith(".css"):
            assert _hosts(body) == set(), ref
    assert _hosts(get("/_dash-layout")) == set()
    assert _hosts(get("/_dash-dependencies")) == set()
    for path in ("/", "/tracing", "/checkpoints", "/isolation", "/briefing"):
        body = json.dumps({"output": ".._pages_content.children..._pages_store.data..",
                           "outputs": [{"id": "_pages_content", "property": "children"},
                                       {"id": "_pages_store", "property": "data"}],
                           "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                                      {"id": "_pages_location", "property": "search", "value": ""}],
                           "state": [], "changedPropIds": ["_pages_location.pathname"]}).encode()
        layout = session.post(url + "/_dash-update-component", data=body,
                              headers={"Content-Type": "application/json"}, timeout=30).text
        assert "st-shell" in layout and _hosts(layout) == set(), path
    login_page = requests.get(url + "/login", timeout=30).text  # served to anyone: local too
    assert _hosts(login_page) == set() and "/assets/login.css" in login_page


def test_logout_wrong_password_and_login_again(server, driver):
    """As a user meets them: the account and a logout link in the header; after logging
    out every page sends to the login page (in the page's language); a wrong password
    says so; the right one comes back to the page asked for."""
    url, _ = server
    driver.get_log("browser")
    _open(driver, url + "/isolation?lang=en", "document.querySelector('.st-logout') !== null")
    assert driver.find_element("css selector", ".st-user-name").text == "epi"
    driver.find_element("css selector", ".st-logout").click()
    wait_for(driver, "location.pathname === '/login' && document.querySelector('.st-login-notice') !== null")
    assert "You have logged out" in driver.find_element("css selector", ".st-login-notice").text
    cookie = driver.get_cookie("sandtable_session")
    assert cookie is None or (cookie["httpOnly"] and cookie["sameSite"] == "Strict")
    driver.get(url + "/checkpoints")
    wait_for(driver, "location.pathname === '/login' && document.querySelector('#st-login-name') !== null")
    assert "登录" in driver.title and "next=%2Fcheckpoints" in driver.current_url
    driver.find_element("css selector", "#st-login-name").send_keys("epi")
    driver.find_element("css selector", "#st-login-password").send_keys("not the password")
    driver.find_element("css selector", "#st-login-submit").click()
    wait_for(driver, "document.querySelector('.st-login-error') !== null")
    assert "账号或密码不正确" in driver.find_element("css selector", ".st-login-error").text
    browser_login(driver, url, "epi", next_path="/checkpoints")
    wait_for(driver, PLOTS_DRAWN)
    assert driver.current_url.endswith("/checkpoints")
    cookie = driver.get_cookie("sandtable_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    assert driver.execute_script("return document.cookie") == ""  # HttpOnly: no script can read it
    # the wrong password's answer is a 401 (which the console notes), nothing else
    assert [m for m in severe_logs(driver) if "/login - Failed to load resource" not in m] == []


def test_a_disabled_account_is_sent_to_the_login_page_at_its_next_request(server, driver):
    """The session ends at the account's next request: the next callback gets 401, and the
    screen goes to the login page by itself (``assets/session.js``)."""
    from geodata.accounts import disable_user

    url, district = server
    ensure_account(district.url, "leaver", "command")
    browser_login(driver, url, "leaver")
    wait_for(driver, "document.querySelector('#sandbox-measure input[value=\"persons\"]') !== null")
    wait_for(driver, NO_PENDING)
    owner = create_engine(district.url)
    with owner.begin() as conn:
        disable_user(conn, "leaver")
    owner.dispose()
    driver.find_element("css selector", "#sandbox-measure input[value='persons']").click()  # a callback
    wait_for(driver, "location.pathname === '/login' && document.querySelector('#st-login-name') !== null", 30)
    assert "next=%2F" in driver.current_url
    browser_login(driver, url, "epi")  # the module's account again, for whatever runs next
