"""The Briefing page carries the briefing itself: the same document as ``sandtable brief``
(HTML in the page, the PDF a click away), built for the asking role, behind the login,
on the simulated district, in a real browser with the network blocked."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from analytics import briefing
from analytics.access import Viewer
from dashboard import create_app
from dashboard.pages.briefing import REPORT_PATH, default_week, report_url
from dashboard.server import dashboard_engine, running
from tests.test_dashboard_support import (  # noqa: F401 - fixtures
    District, browser_login, driver, ensure_account, http_login, requested_urls, save_artifact, set_home,
    severe_logs, simulated_district, wait_for,
)

pytestmark = [pytest.mark.db, pytest.mark.browser]


@pytest.fixture(scope="module")
def server(simulated_district: District) -> Iterator[tuple[str, District, str]]:
    with pytest.MonkeyPatch.context() as mp:
        set_home(mp, simulated_district.home, simulated_district.url)
        engine = dashboard_engine(simulated_district.url, embedded=True, pool_size=4)
        ensure_account(simulated_district.url, "boss", "leader")
        app = create_app(engine=engine, refresh_s=60, warm_ahead=False)
        anchor, _ = app.server.config["SANDTABLE_DASHBOARD"].providers.for_role("leader").anchor()
        with running(app) as url:
            yield url, simulated_district, default_week(anchor.day)
        engine.dispose()


def test_the_document_is_served_to_a_logged_in_role_only(server) -> None:  # noqa: ANN001
    url, district, week = server
    anonymous = requests.get(url + report_url(week, "zh"), allow_redirects=False, timeout=30)
    assert anonymous.status_code in (302, 401)
    assert "每周" not in anonymous.text

    s = http_login(url, "boss")
    page = s.get(url + report_url(week, "zh"), timeout=180)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    doc = page.text
    # the headline figures analytics.briefing gives a leader, as the document prints them
    check = dashboard_engine(district.url, embedded=True)
    try:
        figures = briefing(week, viewer=Viewer("check", "leader"), engine=check).figures.set_index("key")
    finally:  # no connection may stay open: later modules copy this database as a template
        check.dispose()
    scans = int(figures.at["scans", "this_week"])
    assert f"{scans:,}" in doc
    assert doc.count("data:image/png;base64,") >= 4  # the charts are in the page itself
    assert not re.search(r"""(?:src|href)=["']https?://""", doc)  # nothing from outside

    pdf = s.get(url + report_url(week, "zh", "pdf"), timeout=300)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert f"sandtable-briefing-{week}-zh.pdf" in pdf.headers["Content-Disposition"]

    bad = s.get(url + f"{REPORT_PATH}?week=2022-21&lang=zh", timeout=30)
    assert bad.status_code == 400


def test_the_page_shows_the_document(server, driver) -> None:  # noqa: ANN001
    url, _, week = server
    browser_login(driver, url, "boss", next_path="/briefing")
    wait_for(driver, "document.querySelector('#briefing-report-frame') &&"
             " document.querySelector('#briefing-report-frame').getAttribute('src')", 60)
    src = driver.find_element("css selector", "#briefing-report-frame").get_attribute("src")
    assert src.endswith(report_url(week, "zh"))
    wait_for(driver, "(() => { const f = document.querySelector('#briefing-report-frame');"
             " const d = f && f.contentDocument; return d && d.readyState === 'complete' &&"
             " d.querySelectorAll('img').length >= 4; })()", 240, "the briefing did not load in its frame")
    driver.execute_script("document.querySelector('#briefing-report-frame').scrollIntoView()")
    save_artifact(driver.get_screenshot_as_png(), "briefing-page.png")
    driver.switch_to.frame(driver.find_element("css selector", "#briefing-report-frame"))
    try:
        title = driver.find_element("css selector", "h1").text
    finally:
        driver.switch_to.default_content()
    assert "周报" in title  # 龙港区疫情防控周报
    pdf_href = driver.find_element("css selector", "#briefing-report-pdf").get_attribute("href")
    assert pdf_href.endswith(report_url(week, "zh", "pdf"))
    assert not [u for u in requested_urls(driver) if not re.match(r"(https?://127\.0\.0\.1|data:|blob:|about:)", u)]
    assert not severe_logs(driver)
