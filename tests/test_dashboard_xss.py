"""Free text from the feeds cannot inject script into the dashboard: sites named
``<script>alert(1)</script>``, ``javascript:alert(1)``, ``<img src=x onerror=alert(1)>``
and ``<a href="javascript:alert(1)">...</a>`` are ingested through the pipeline (with
crossings, isolation stays and a scan of a case there, so that they appear in every
list, table, map and trajectory), and a logged-in browser opens every page: the names
render as text, no alert fires, no script element or event handler is injected, no
link points at ``javascript:``, also inside the maps' hover labels."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from dashboard import create_app
from dashboard.i18n import plain
from dashboard.pages.tracing import _text
from dashboard.server import dashboard_engine, running
from geodata.db import dispose_engines
from tests.test_dashboard_support import (  # noqa: F401 - fixtures
    District, browser_login, driver, ensure_account, map_drawn, set_home, severe_logs, simulated_district, wait_for,
)

pytestmark = [pytest.mark.db, pytest.mark.browser]

SCRIPT = "<script>alert(1)</script>"
JS_URL = "javascript:alert(1)"
IMG = "<img src=x onerror=alert(1)>"
LINK = '<a href="javascript:alert(1)">点我</a>'

_TRAP = """
window.__alerts = [];
['alert', 'confirm', 'prompt'].forEach(function (f) {
    window[f] = function (m) { window.__alerts.push(f + ':' + String(m)); return null; };
});
"""
_INJECTED = """
return (() => {
    const bad = [];
    document.querySelectorAll('script').forEach(s => {
        if ((s.textContent || '').includes('alert(') || (s.src || '').includes('alert(')) bad.push(s.outerHTML);
    });
    document.querySelectorAll('*').forEach(e => {
        for (const a of e.attributes) {
            const v = (a.value || '').replace(/\\s/g, '').toLowerCase();
            if (a.name.toLowerCase().startsWith('on') && v.includes('alert(')) bad.push(e.outerHTML.slice(0, 200));
            if (['href', 'src', 'xlink:href', 'action', 'formaction'].includes(a.name.toLowerCase())
                && v.startsWith('javascript:')) bad.push(e.outerHTML.slice(0, 200));
        }
    });
    document.querySelectorAll('img').forEach(i => { if (i.getAttribute('src') === 'x') bad.push(i.outerHTML); });
    return {bad: bad, alerts: window.__alerts || ['no trap'], text: document.body.innerText};
})();
"""


@dataclass(frozen=True)
class Xss:
    url: str
    case_ref: str


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)


def _feeds(sim: Path, out: Path, case_ref: str, case_scan: datetime) -> None:
    """Payload sites next to real ones, 300 crossings at the payload checkpoint on the
    last day, full payload isolation sites, and the case scanning at the payload venue."""
    out.mkdir()
    header, sites = _rows(sim / "sites.csv")
    cp = next(s for s in sites if s["kind"] == "checkpoint")
    venue = next(s for s in sites if s["kind"] == "venue")
    iso = next(s for s in sites if s["kind"] == "isolation_site")

    def near(site: dict, code: str, kind: str, name: str, capacity: str = "") -> dict:
        return {**site, "site_code": code, "kind": kind, "name": name, "lon": f"{float(site['lon']) + 0.004:.6f}",
                "lat": f"{float(site['lat']) + 0.003:.6f}", "capacity": capacity}

    _write(out / "sites.csv", header, [near(cp, "XSSCP1", "checkpoint", SCRIPT),
                                      near(venue, "XSSVN1", "venue", IMG),
                                      near(iso, "XSSIS1", "isolation_site", JS_URL, "10"),
                                      near(iso, "XSSIS2", "isolation_site", LINK, "8")])
    header, scans = _rows(sim / "scans.csv")
    last = max(datetime.fromisoformat(r["scanned_at"]) for r in scans)
    template = scans[0]
    at = case_scan + timedelta(minutes=3)
    _write(out / "scans.csv", header, [{**template, "event_id": "XSSE1", "person_ref": case_ref,
                                        "site_code": "XSSVN1", "kind": "venue_checkin", "scanned_at": at.isoformat(),
                                        "lon": "", "lat": "", "outcome": "admitted", "code_color": "green"}])
    header, crossings = _rows(sim / "crossings.csv")
    _write(out / "crossings.csv", header, [
        {**crossings[0], "crossing_id": f"XSSX{i:05d}", "pass_id": "", "checkpoint_code": "XSSCP1",
         "direction": "in" if i % 2 else "out", "crossed_at": (last - timedelta(minutes=3 + 4 * i)).isoformat(),
         "outcome": "released"} for i in range(300)])
    header, stays = _rows(sim / "isolation.csv")
    people = sorted({r["person_ref"] for r in scans} - {case_ref})[:17]
    _write(out / "isolation.csv", header, [
        {**stays[0], "stay_id": f"XSSST{i:03d}", "person_ref": p, "site_code": "XSSIS1" if i < 9 else "XSSIS2",
         "category": "close_contact", "admitted_at": (last - timedelta(days=1, hours=i)).isoformat(),
         "discharged_at": ""} for i, p in enumerate(people)])


@pytest.fixture(scope="module")
def xss(simulated_district: District, pg_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Xss]:
    from analytics import trace
    from analytics.access import Viewer
    from ingest import load_directory

    dispose_engines()
    name = f"dash_xss_{os.getpid()}"
    pg_server.drop(name)
    url = pg_server.create(name, template=simulated_district.url.rsplit("/", 1)[1].split("?")[0])
    owner = create_engine(url)
    try:
        with pytest.MonkeyPatch.context() as mp:
            set_home(mp, simulated_district.home, url)  # the district's pepper and key
            shown = trace(simulated_district.case_ref, viewer=Viewer("xss-setup", "cdc"), purpose="xss test setup",
                          engine=owner)
            case_scan = shown.trajectory["scanned_at"].iloc[len(shown.trajectory) // 2].to_pydatetime()
            feeds = tmp_path_factory.mktemp("xss") / "feeds"
            _feeds(simulated_district.sim, feeds, simulated_district.case_ref, case_scan)
            results = load_directory(feeds, engine=owner)
            assert all(r.rejected == 0 and r.loaded > 0 for r in results), results
            ensure_account(url, "epi", "cdc")
            engine = dashboard_engine(url, embedded=True, pool_size=8)
            app = create_app(engine=engine, refresh_s=60)
            with running(app) as base:
                yield Xss(base, simulated_district.case_ref)
            engine.dispose()
    finally:
        owner.dispose()
        dispose_engines()
        pg_server.drop(name)


@pytest.fixture(scope="module")
def browser(xss: Xss, driver):  # noqa: ANN001, ANN201
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _TRAP})
    browser_login(driver, xss.url, "epi")
    return driver


def _clean(driver, *expected: str) -> str:  # noqa: ANN001
    found = driver.execute_script(_INJECTED)
    assert found["alerts"] == [], found["alerts"]
    assert found["bad"] == [], found["bad"]
    for text in expected:
        assert text in found["text"], f"{text!r} is not shown as text"
    return found["text"]


def _hover(driver, selector: str, trace_name: str, label: str, shows: str) -> str:  # noqa: ANN001
    """Hover (through Plotly) the point of ``trace_name`` whose first custom datum is
    ``label`` (as the figure carries it: entities for Plotly), wait for a hover label showing ``shows``; returns the label's text, or
    ``ELEMENT ...`` when the label holds a link, an image, a script or foreign HTML."""
    found = driver.execute_script("""
        const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');
        Plotly.Fx.unhover(gd);
        for (let i = 0; i < gd.data.length; i++) {
            const t = gd.data[i];
            if (!(t.name || '').startsWith(arguments[1]) || !t.customdata) continue;
            const j = t.customdata.findIndex(c => c[0] === arguments[2]);
            if (j < 0) continue;
            Plotly.Fx.hover(gd, [{curveNumber: i, pointNumber: j}], 'map');
            return 'ok';
        }
        return 'no point';""", selector, trace_name, plain(label))
    assert found == "ok", found
    layer = f"document.querySelector('{selector} .hoverlayer')"
    wait_for(driver, f"{layer} && {layer}.textContent.includes({shows!r})", 20)
    return driver.execute_script("""
        const layer = document.querySelector(arguments[0] + ' .hoverlayer');
        const el = layer.querySelector('a, img, script, foreignObject');
        if (el) return 'ELEMENT ' + el.outerHTML.slice(0, 400);
        return layer.textContent;""", selector)


def test_payload_names_render_as_text_on_the_sandbox_and_its_map(xss: Xss, browser):
    browser.get(xss.url + "/")
    wait_for(browser, map_drawn("#sandbox-map") + " && document.querySelector('#sandbox-checkpoints .st-list')"
             " !== null && document.querySelector('#sandbox-isolation .st-list') !== null", 90)
    _clean(browser, SCRIPT, JS_URL)  # the busiest checkpoint and the fullest isolation sites, by name
    hovered = _hover(browser, "#sandbox-map", "checkpoints", SCRIPT, "300")
    assert SCRIPT in hovered  # shown as it is, as text
    hovered = _hover(browser, "#sandbox-map", "isolation", LINK, "点我")
    assert LINK in hovered, hovered  # the markup itself, as text: no link made of it
    _clean(browser)
    assert severe_logs(browser) == []


@pytest.mark.parametrize(("path", "ready", "names"), [
    ("/isolation", "document.querySelectorAll('#isolation-sites tbody tr').length > 0", (JS_URL, LINK)),
    ("/checkpoints", "document.querySelectorAll('#checkpoints-summary tbody tr').length > 0", (SCRIPT,)),
])
def test_payload_names_render_as_text_in_tables(xss: Xss, browser, path: str, ready: str, names: tuple):
    browser.get(xss.url + path)
    wait_for(browser, ready, 90)
    wait_for(browser, "!document.querySelector('[data-dash-is-loading=\"true\"]')")
    _clean(browser, *names)
    assert severe_logs(browser) == []


def test_payload_venue_in_a_trajectory_renders_as_text(xss: Xss, browser):
    browser.get(xss.url + "/tracing")
    wait_for(browser, "document.querySelector('#tracing-person') !== null", 60)
    browser.find_element("css selector", "#tracing-person").send_keys(xss.case_ref)
    browser.find_element("css selector", "#tracing-purpose").send_keys("xss test")
    browser.find_element("css selector", "#tracing-go").click()
    wait_for(browser, map_drawn("#tracing-map") + " && document.querySelector('#tracing-elapsed').innerText !== ''",
             90)
    _clean(browser)
    hovered = _hover(browser, "#tracing-map", "trajectory", IMG, "XSSVN1")
    assert IMG in hovered
    _clean(browser)
    assert severe_logs(browser) == []


def test_plotly_labels_show_free_text_as_it_is():
    assert plain('<a href="x">50%{y}</a> & co') == '&lt;a href="x"&gt;50&#37;{y}&lt;/a&gt; &amp; co'


def test_csv_cells_that_look_like_formulas_are_quoted():
    assert [_text(x) for x in ("=1+1", "+1", "-2", "@SUM(A1)", "市实验中学", 3, "")] == [
        "'=1+1", "'+1", "'-2", "'@SUM(A1)", "市实验中学", 3, ""]
