"""Shared fixtures and helpers of the dashboard tests (no tests here).

``simulated_district``: a small simulated district (5,000 residents over 12 days, a
seeded outbreak) loaded once per session into its own database on the test cluster,
with its own ``SANDTABLE_HOME`` (the pepper and key the ingest used, so that tracing can
read references back). The browser helpers drive Debian's Chromium through selenium,
headless, with every host but loopback made unresolvable (the network is "blocked").
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from geodata.db import dispose_engines
from geodata.settings import get_settings

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
RESIDENTS, DAYS, SEED = 5000, 12, 3

_loaded: dict[str, object] = {}


@dataclass(frozen=True)
class District:
    url: str
    home: Path
    sim: Path
    case_ref: str  # a case with the most close contacts in the simulator's truth


def _pick_case(sim: Path) -> str:
    counts: dict[str, int] = {}
    truth = sim / "truth" / "contacts.csv"
    if truth.exists():
        with truth.open(newline="") as f:
            for row in csv.DictReader(f):
                if row.get("degree") == "close":
                    counts[row["case_ref"]] = counts.get(row["case_ref"], 0) + 1
    if counts:
        return max(sorted(counts), key=counts.get)
    with (sim / "nat.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            if row["result"] == "positive":
                return row["person_ref"]
    with (sim / "scans.csv").open(newline="") as f:
        return next(csv.DictReader(f))["person_ref"]


def _simulate(out: Path) -> None:
    from ingest.sim import load_params, simulate

    try:
        params = load_params(overrides={"outbreak": {"seeds": 6, "seed_day": 3}})
    except Exception:  # noqa: BLE001 - the simulator's knobs may move; the defaults still give data
        params = None
    simulate(residents=RESIDENTS, days=DAYS, seed=SEED, out=out, params=params)


def set_home(monkeypatch: pytest.MonkeyPatch, home: Path, url: str | None = None) -> None:
    """Point the SANDTABLE_* environment at ``home`` (and the database at ``url``)."""
    for key in list(os.environ):
        if key.startswith("SANDTABLE_") and key != "SANDTABLE_TEST_DATABASE_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("SANDTABLE_HOME", str(home))
    if url:
        monkeypatch.setenv("SANDTABLE_DATABASE_URL", url)
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture(scope="session")
def simulated_district(pg_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[District]:
    """Simulated once per session (whichever dashboard module asks first), dropped at the end.

    Imported by several modules, this fixture has one definition per module; the first
    one that runs builds the database and the others reuse it."""
    if "district" in _loaded:
        yield _loaded["district"]
        return
    from tests.conftest import _TEMPLATE  # the harness's migrated template

    root = tmp_path_factory.mktemp("dash-district")
    os.chmod(root, 0o755)
    home, sim = root / "home", root / "sim"
    name = f"dash_district_{os.getpid()}"
    pg_server.drop(name)
    url = pg_server.create(name, template=_TEMPLATE)
    with pytest.MonkeyPatch.context() as mp:
        set_home(mp, home, url)
        _simulate(sim)
        from ingest import load_directory

        engine = create_engine(url)
        try:
            load_directory(sim, engine=engine)
        finally:
            engine.dispose()
    get_settings.cache_clear()
    dispose_engines()
    _loaded["district"] = District(url=url, home=home, sim=sim, case_ref=_pick_case(sim))
    try:
        yield _loaded["district"]
    finally:
        _loaded.pop("district", None)
        dispose_engines()
        pg_server.drop(name)


class QueryCounter:
    """Counts the statements an engine sends (``before_cursor_execute``); statements
    containing ``ignore`` (e.g. the per-request account lookup) are not counted."""

    def __init__(self, engine: Engine, ignore: str | None = None) -> None:
        self.engine = engine
        self.count = 0
        self.ignored = 0
        self.ignore = ignore
        event.listen(engine, "before_cursor_execute", self._hit)

    def _hit(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
        if self.ignore and self.ignore in statement:
            self.ignored += 1
        else:
            self.count += 1

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._hit)


# --- accounts and logins ------------------------------------------------------------
PASSWORD = "test password 1234"


def ensure_account(url: str, name: str, role: str, password: str = PASSWORD) -> None:
    """The account ``name`` with this role and password, enabled (created if need be)."""
    from geodata.accounts import set_password

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            set_password(conn, name, role, password)
    finally:
        engine.dispose()


def ensure_kiosk(url: str, name: str) -> str:
    """A kiosk account ``name`` (role command) with a new token; returns the token."""
    from geodata.accounts import new_kiosk_token

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            return new_kiosk_token(conn, name)
    finally:
        engine.dispose()


def client_login(client, name: str, password: str = PASSWORD) -> None:  # noqa: ANN001
    """Log a Flask test client in through the public login form."""
    import re

    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"name": name, "password": password, "csrf": csrf})
    assert r.status_code == 302, (r.status_code, r.get_data(as_text=True)[:300])


def http_login(base: str, name: str, password: str = PASSWORD):  # noqa: ANN201
    """A ``requests`` session logged in through the public login form."""
    import re

    import requests

    s = requests.Session()
    csrf = re.search(r'name="csrf" value="([^"]+)"', s.get(base + "/login", timeout=30).text).group(1)
    r = s.post(base + "/login", data={"name": name, "password": password, "csrf": csrf}, allow_redirects=False,
               timeout=30)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    return s


def browser_login(driver, base: str, name: str, password: str = PASSWORD, next_path: str = "/") -> None:  # noqa: ANN001
    """Log the browser in through the login page, as a user does (logging out first: the
    login page sends someone already logged in straight on)."""
    from urllib.parse import quote

    if driver.current_url.startswith(base):
        driver.get(f"{base}/logout")
    driver.get(f"{base}/login?next={quote(next_path)}")
    wait_for(driver, "document.querySelector('#st-login-name') !== null", 30)
    driver.find_element("css selector", "#st-login-name").send_keys(name)
    driver.find_element("css selector", "#st-login-password").send_keys(password)
    driver.find_element("css selector", "#st-login-submit").click()
    wait_for(driver, "!location.pathname.startsWith('/login') && document.querySelector('.st-shell') !== null", 60)


# --- the browser ----------------------------------------------------------------
def browser_available() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


def make_driver(width: int = 1600, height: int = 1000):  # noqa: ANN201
    """Headless Chromium with console and network logs; only loopback resolves."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--hide-scrollbars",
                f"--window-size={width},{height}", "--enable-unsafe-swiftshader",
                # the network is blocked: no name but loopback resolves
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    set_viewport(driver, width, height)
    return driver


def set_viewport(driver, width: int, height: int) -> None:  # noqa: ANN001
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def severe_logs(driver) -> list[str]:  # noqa: ANN001
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def requested_urls(driver) -> list[str]:  # noqa: ANN001
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def wait_for(driver, script: str, timeout: float = 60.0, message: str = "") -> object:  # noqa: ANN001
    """Poll ``return <script>`` until it is truthy (a script error, as while a page
    loads, counts as not yet)."""
    from selenium.common.exceptions import JavascriptException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.25, ignored_exceptions=(JavascriptException,)).until(
        lambda d: d.execute_script(f"return {script}"), message or script)


MAP_DRAWN = ("(() => { const c = document.querySelector('{sel} .maplibregl-canvas');"
             " const gd = document.querySelector('{sel} .js-plotly-plot');"
             " if (!c || !c.width || !gd || !gd._fullLayout || !gd._fullLayout.map) return false;"
             " const sp = gd._fullLayout.map._subplot;"
             " return !!(sp && sp.map && sp.map.loaded() && gd.data.length > 0); })()")


def map_drawn(selector: str) -> str:
    return MAP_DRAWN.replace("{sel}", selector)


def save_artifact(png: bytes, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(png)
    return path


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    if not browser_available():
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver are needed in CI")
        pytest.skip("no chromium/chromedriver here")
    d = make_driver()
    try:
        yield d
    finally:
        d.quit()


# --- posting callbacks as a browser does ---------------------------------------
def _spec(text: str) -> dict:
    ident, prop = text.rsplit(".", 1)
    return {"id": ident, "property": prop.split("@")[0]}


def callback_body(dep: dict, values: dict[tuple[str, str], object]) -> dict:
    """The JSON a browser posts to ``/_dash-update-component`` for dependency ``dep``
    (an entry of ``/_dash-dependencies``); ``values`` maps (id, property) to its value."""
    out = dep["output"]
    outputs = [_spec(o) for o in out[2:-2].split("...")] if out.startswith("..") else _spec(out)

    def filled(specs: list[dict]) -> list[dict]:
        return [{**s, "value": values.get((s["id"], s["property"]))} for s in specs]

    first = dep["inputs"][0]
    return {"output": out, "outputs": outputs, "inputs": filled(dep["inputs"]), "state": filled(dep["state"]),
            "changedPropIds": [f"{first['id']}.{first['property']}"]}


def server_callbacks(deps: list[dict], prefixes: tuple[str, ...]) -> list[dict]:
    """The server-side callbacks (not clientside, not the pages router) whose first
    output's id starts with one of ``prefixes``."""
    out = []
    for dep in deps:
        if dep.get("clientside_function") or dep["output"].startswith(".._pages"):
            continue
        first = dep["output"].lstrip(".").split(".")[0]
        if first.startswith(prefixes):
            out.append(dep)
    return out
