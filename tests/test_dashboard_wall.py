"""The screen wall (``--wall``) in headless Chromium at 1920x1080 and 3840x2160, logged in
once with a kiosk token (role command): dark, Chinese, no controls, type that scales
with the screen, every panel filled, no scrolling, no console error; the screenshots are
kept in ``test-artifacts/``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine

from dashboard import create_app
from dashboard.server import running
from tests.test_dashboard_support import (  # noqa: F401 - fixtures
    District, driver, ensure_kiosk, map_drawn, save_artifact, set_home, set_viewport, severe_logs,
    simulated_district, wait_for,
)

pytestmark = [pytest.mark.db, pytest.mark.browser]

READY = (map_drawn("#sandbox-map") + " && document.querySelectorAll('.st-kpi').length >= 10"
         " && document.querySelector('#sandbox-risk .st-risk-counts') !== null"
         " && document.querySelector('#sandbox-isolation .st-list') !== null"
         " && document.querySelector('#sandbox-checkpoints .st-list') !== null"
         " && document.querySelector('#sandbox-map .js-plotly-plot').data.length >= 5"
         " && !document.querySelector('[data-dash-is-loading=\"true\"]')")


@pytest.fixture(scope="module")
def wall(simulated_district: District) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        set_home(mp, simulated_district.home, simulated_district.url)
        engine = create_engine(simulated_district.url, pool_size=8, pool_pre_ping=True)
        app = create_app(engine=engine, wall=True, refresh_s=60)  # logins required
        with running(app) as url:
            yield url
        engine.dispose()


@pytest.fixture(scope="module", autouse=True)
def _kiosk(wall: str, driver, simulated_district: District) -> None:  # noqa: ANN001
    """The wall screen logs in once with its kiosk URL and lands on the sandbox."""
    driver.get(wall + "/login/kiosk?token=" + ensure_kiosk(simulated_district.url, "wall-screen"))
    wait_for(driver, "location.pathname === '/' && document.querySelector('.st-shell') !== null", 60)
    cookie = driver.get_cookie("sandtable_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["expiry"] > time.time() + 29 * 86400  # a kiosk session lasts (30 days by default)


def _measure(driver) -> dict:  # noqa: ANN001
    return driver.execute_script("""
        const px = (sel) => {
            const e = document.querySelector(sel); return e ? parseFloat(getComputedStyle(e).fontSize) : 0; };
        const shown = (sel) => { const e = document.querySelector(sel); return !!e && e.offsetParent !== null; };
        const panels = Array.from(document.querySelectorAll('.st-panel-body, .st-kpis'));
        return {
            root: px('html'), kpi_value: px('.st-kpi-value'), kpi_label: px('.st-kpi-label'),
            list: px('.st-list'), legend: px('.st-legend'), clock: px('.st-clock'),
            controls: shown('#sandbox-measure'), nav: shown('.st-nav'), lang: shown('.st-lang'),
            scroll_h: document.scrollingElement.scrollHeight, scroll_w: document.scrollingElement.scrollWidth,
            empty: panels.filter(p => p.innerText.trim() === '' || p.innerText.includes('暂无数据')).length,
            background: getComputedStyle(document.querySelector('.st-app')).backgroundColor,
            text: document.body.innerText,
        };""")


def test_wall_at_1920x1080(wall: str, driver):
    set_viewport(driver, 1920, 1080)
    driver.get_log("browser")
    driver.get(wall + "/")
    wait_for(driver, READY, 90)
    m = _measure(driver)
    path = save_artifact(driver.get_screenshot_as_png(), "dashboard-wall-1920x1080.png")
    assert path.stat().st_size > 50_000
    assert m["root"] == pytest.approx(19.2, abs=0.1)  # 1rem = 1vw
    assert m["kpi_value"] >= 40 and m["kpi_label"] >= 18 and m["list"] >= 18 and m["clock"] >= 38
    assert not m["controls"] and not m["nav"] and not m["lang"]
    assert m["scroll_h"] <= 1081 and m["scroll_w"] <= 1921, "the wall must fit the screen"
    assert m["empty"] == 0, "a panel is empty"
    assert m["background"] == "rgb(6, 16, 31)"  # the dark theme
    assert "龙港区疫情防控电子沙盘" in m["text"] and "数据截至" in m["text"] and "今日扫码" in m["text"]
    assert severe_logs(driver) == []


def test_wall_at_3840x2160(wall: str, driver):
    set_viewport(driver, 3840, 2160)
    driver.get_log("browser")
    driver.get(wall + "/")
    wait_for(driver, READY, 120)
    m = _measure(driver)
    save_artifact(driver.get_screenshot_as_png(), "dashboard-wall-3840x2160.png")
    assert m["root"] == pytest.approx(38.4, abs=0.1) and m["kpi_value"] >= 80
    assert m["scroll_h"] <= 2161 and m["scroll_w"] <= 3841
    canvas = driver.execute_script("return document.querySelector('#sandbox-map .maplibregl-canvas').width")
    assert canvas > 1800  # the map grows with the screen
    assert severe_logs(driver) == []
    set_viewport(driver, 1600, 1000)


def test_tracing_is_not_permitted_on_the_wall(wall: str, driver):
    driver.get_log("browser")
    driver.get(wall + "/tracing")
    wait_for(driver, "document.querySelector('.st-denied') !== null")
    assert "无权限" in driver.find_element("css selector", ".st-denied").text
    assert driver.find_elements("css selector", "#tracing-person") == []
    assert driver.find_elements("css selector", ".st-logout") == []  # no controls on the wall
    assert severe_logs(driver) == []
