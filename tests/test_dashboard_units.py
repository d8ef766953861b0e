"""Dashboard pieces without a browser or a database: i18n, geometry, figures, ids, the
provider's cache (ticks, single flight, stale answers), the server's debug guard."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import date, datetime, timezone

import geopandas as gpd
import pandas as pd
import plotly.graph_objects as go
import pytest
from shapely.geometry import Polygon, box
from sqlalchemy import exc as sa_exc
from typer.testing import CliRunner

from analytics.access import Viewer
from dashboard import i18n
from dashboard.geo import basemap, feature_collection, fit_view, polylines
from dashboard.ids import ALL
from dashboard.maps import empty_map, occupancy_bucket, sandbox_map
from dashboard.provider import DataProvider, Request
from dashboard.auth import AuthConfig
from dashboard.server import check_debug
from dashboard.theme import DARK, LIGHT, map_style

VIEWER = Viewer("test", "command")


# --- i18n -----------------------------------------------------------------------
def test_every_label_has_both_languages_with_the_same_placeholders():
    for key, (zh, en) in i18n.TEXT.items():
        assert zh.strip() and en.strip(), key
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", en)), key
        assert re.search(r"[\u4e00-\u9fff]", zh) or key in {"lang.switch"}, f"{key}: no Chinese in {zh!r}"
    assert i18n.t("lang.switch", "zh") == "English" and i18n.t("lang.switch", "en") == "中文"


def test_number_and_change_formats():
    assert i18n.fmt_int(12345, "en") == "12,345"
    assert i18n.fmt_int(12345, "zh") == "12,345"
    assert i18n.fmt_int(1_234_567, "zh") == "123.5万"
    assert i18n.fmt_int(1_234_567, "en") == "1,234,567"
    assert i18n.fmt_int(None, "zh") == i18n.fmt_int(float("nan"), "en") == i18n.MISSING
    assert i18n.fmt_share(0.8532, "zh") == "85.3%"
    assert i18n.fmt_percent(14.6, "en") == "14.6%"
    assert i18n.fmt_change(28, 1.6, "zh") == "▲ 28 (+1.6%)"
    assert i18n.fmt_change(-3, -42.9, "en") == "▼ 3 (-42.9%)"
    assert i18n.fmt_change(0, None, "en") == "= 0"
    assert i18n.fmt_change(2, None, "en") == "▲ 2"  # from zero: no percentage
    assert i18n.fmt_ms(146.2, "zh") == "146 毫秒" and i18n.fmt_ms(2500, "en") == "2.50 s"


def test_dates_in_both_languages_in_the_district_zone():
    assert i18n.fmt_date(date(2022, 4, 12), "zh") == "2022年4月12日 星期二"
    assert i18n.fmt_date(date(2022, 4, 12), "en") == "Tue 12 Apr 2022"
    utc = datetime(2022, 4, 12, 13, 49, 34, tzinfo=timezone.utc)  # 21:49 in Shanghai
    assert i18n.fmt_datetime(utc, "zh", year=False) == "4月12日 21:49"
    assert i18n.fmt_datetime(utc, "en", seconds=True, year=True) == "12 Apr 2022 21:49:34"
    assert i18n.fmt_datetime(utc, "zh") == "2022年4月12日 21:49"  # not this year: the year is shown
    assert i18n.fmt_short_date("2022-04-12", "zh") == "4月12日"
    assert i18n.fmt_age(42, "en") == "42 s" and i18n.fmt_age(7300, "zh") == "2 小时"


# --- ids ------------------------------------------------------------------------
def test_component_ids_are_unique_and_prefixed_by_page():
    seen = set()
    for enum in ALL:
        prefix = enum.__name__.lower()
        for member in enum:
            assert member.value.startswith(prefix + "-"), member
            assert member.value not in seen, member
            seen.add(member.value)


# --- geometry and figures ---------------------------------------------------------
def _basemap():
    comms = gpd.GeoDataFrame({"code": ["c1", "c2"], "name_zh": ["甲社区", "乙社区"], "name_en": ["A", "B"]},
                             geometry=[box(120.80, 40.70, 120.85, 40.75), box(120.85, 40.70, 120.90, 40.75)],
                             crs="EPSG:4326")
    streets = gpd.GeoDataFrame({"code": ["s1"]}, geometry=[box(120.80, 40.70, 120.90, 40.75)], crs="EPSG:4326")
    return basemap(comms, streets, streets)


def test_fit_view_fits_the_bounds_in_the_map():
    bounds = (120.7372, 40.6543, 121.0370, 40.8312)  # Longgang
    centre, zoom = fit_view(bounds, 1000, 900, padding=0)
    px_per_degree = 512 * 2**zoom / 360
    assert (bounds[2] - bounds[0]) * px_per_degree == pytest.approx(1000, rel=0.02)  # width-bound
    assert bounds[0] < centre["lon"] < bounds[2] and bounds[1] < centre["lat"] < bounds[3]
    _, bigger = fit_view(bounds, 2000, 1800, padding=0)
    assert bigger == pytest.approx(zoom + 1, abs=0.01)  # a 4K map shows the same district one zoom deeper


def test_geojson_and_polylines():
    fc = feature_collection([Polygon([(0, 0), (1, 0), (1, 1)]), None], ["a", "b"])
    assert [f["id"] for f in fc["features"]] == ["a"]
    lons, lats = polylines([box(0, 0, 1, 1), box(2, 2, 3, 3)])
    assert lons.count(None) == 2 and len(lons) == len(lats) == 12


def _no_glyphs(obj: object) -> bool:
    return "glyphs" not in json.dumps(obj, default=str)


def test_map_style_is_offline():
    for theme in (LIGHT, DARK):
        style = map_style(theme)
        assert [layer["type"] for layer in style["layers"]] == ["background"]
        # only inline data: nothing for MapLibre to fetch
        assert all(src["type"] == "geojson" and isinstance(src["data"], dict) for src in style["sources"].values())
        assert style["sources"]  # not empty: Plotly would drop an empty object on update
        assert "glyphs" not in style and "sprite" not in style


def test_sandbox_map_is_a_valid_figure_with_every_layer():
    base = _basemap()
    risk = pd.DataFrame({"code": ["c1", "c2"], "level": ["high", "low"],
                         "reasons": [[{"reason": "case_resident"}], []], "may_drop_on": [date(2022, 4, 19), None]})
    heat = gpd.GeoDataFrame({"h3": ["88283082a3fffff"], "value": [12], "persons": [9]},
                            geometry=[box(120.82, 40.71, 120.83, 40.72)], crs="EPSG:4326")
    heat.attrs["measure"] = "scans"
    sites = pd.DataFrame({"site_code": ["CP1", "IS1"], "lon": [120.81, 120.86], "lat": [40.71, 40.72]})
    cps = pd.DataFrame({"checkpoint_code": ["CP1"], "name": ["卡口一"], "vehicles": [40], "turned_back_share": [0.05]})
    iso = pd.DataFrame({"site_code": ["IS1"], "name": ["隔离点"], "capacity": pd.array([10], dtype="Int64"),
                        "occupied": [10], "occupancy": [1.0], "over_90": [True]})
    fig = sandbox_map(basemap=base, risk=risk, heat=heat, sites=sites, checkpoints=cps, isolation=iso,
                      layers=["risk", "heatmap", "checkpoints", "isolation"], theme=DARK, lang="zh")
    validated = go.Figure(fig)  # Plotly accepts every property
    names = [tr.name for tr in validated.data]
    assert names == ["risk", "heatmap", "streets", "district", "checkpoints", "isolation-high"]
    assert list(validated.data[0].z) == [2, 0]
    assert _no_glyphs(fig)
    only_base = sandbox_map(basemap=base, risk=risk, heat=heat, sites=sites, checkpoints=cps, isolation=iso,
                            layers=[], theme=LIGHT, lang="en")
    assert [tr["name"] for tr in only_base["data"]] == ["risk", "streets", "district"]
    assert set(only_base["data"][0]["z"]) == {0}  # the risk layer off: a plain fill
    go.Figure(empty_map(LIGHT))


def test_occupancy_buckets():
    assert occupancy_bucket(0.95) == "high" and occupancy_bucket(0.9) == "mid" and occupancy_bucket(0.5) == "low"
    assert occupancy_bucket(0.1, over_90=True) == "high" and occupancy_bucket(float("nan")) == "low"


# --- the provider ---------------------------------------------------------------
class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


_calls: dict[str, int] = {}
_behaviour: dict[str, object] = {}


class Probe(Request):
    """A request that counts its runs and does what ``_behaviour`` says."""

    def __init__(self, name: str) -> None:  # frozen dataclass not needed for a probe
        object.__setattr__(self, "name", name)

    def __repr__(self) -> str:
        return f"Probe({self.name!r})"

    def run(self, viewer: Viewer, engine: object) -> object:
        _calls[self.name] = _calls.get(self.name, 0) + 1
        what = _behaviour.get(self.name, "ok")
        if what == "down":
            raise sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
        if what == "bug":
            raise KeyError("oops")
        if isinstance(what, float):
            time.sleep(what)
        return {"n": _calls[self.name]}


def test_answers_are_shared_within_a_tick_and_renewed_on_the_next():
    clock = Clock()
    p = DataProvider(viewer=VIEWER, refresh_s=30, clock=clock)
    _calls.clear()
    first = p.get(Probe("a"))
    assert p.get(Probe("a")).value == first.value == {"n": 1}
    clock.t += 31
    assert p.get(Probe("a")).value == {"n": 2}
    assert _calls["a"] == 2


def test_concurrent_screens_cost_one_computation():
    p = DataProvider(viewer=VIEWER, refresh_s=30, clock=Clock())
    _calls.clear()
    _behaviour["slow"] = 0.2
    results = []
    threads = [threading.Thread(target=lambda: results.append(p.get(Probe("slow")).value)) for _ in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert _calls["slow"] == 1 and results == [{"n": 1}] * 20
    views = [p.memo("view", ("zh",), lambda: {"figure": 1}) for _ in range(5)]
    assert p.stats["view:view"] == 1 and views == [{"figure": 1}] * 5


def test_database_down_gives_the_last_good_answer_marked_stale_and_recovers():
    clock = Clock()
    p = DataProvider(viewer=VIEWER, refresh_s=10, clock=clock)
    _calls.clear()
    _behaviour["db"] = "ok"
    good = p.get(Probe("db"))
    assert good.value == {"n": 1} and not good.stale
    _behaviour["db"] = "down"
    clock.t += 11
    stale = p.get(Probe("db"))
    assert stale.stale and stale.value == {"n": 1} and "refused" in stale.error
    assert stale.fetched_at == good.fetched_at
    for _ in range(5):  # the failure is cached: a dead database is not asked by every screen
        p.get(Probe("db"))
    assert _calls["db"] == 2
    _behaviour["db"] = "ok"
    clock.t += 11
    back = p.get(Probe("db"))
    assert not back.stale and back.value == {"n": 3}


def test_views_are_built_ahead_of_the_next_tick():
    clock = Clock(1000.0)
    p = DataProvider(viewer=VIEWER, refresh_s=10, clock=clock)
    p.warm_ahead = True
    p._start_warmer = lambda: None  # driven by hand here, not by the background thread
    builds = []

    def build() -> dict:
        builds.append(p.tick())
        return {"tick": p.tick()}

    assert p.memo("map", ("zh", 1920), build) == {"tick": 100}
    assert p.warm(101) == 1 and builds == [100, 101]
    clock.t += 10  # tick 101 starts: the view is ready, nothing is built
    assert p.memo("map", ("zh", 1920), build) == {"tick": 101} and builds == [100, 101]
    clock.t += 60  # nobody asked for 6 ticks: forgotten
    assert p.warm(p.tick() + 1) == 0


def test_a_bug_is_an_error_answer_not_an_exception():
    p = DataProvider(viewer=VIEWER, clock=Clock())
    _behaviour["bug"] = "bug"
    answer = p.get(Probe("bug"))
    assert answer.value is None and not answer.stale and "oops" in answer.error


# --- serving --------------------------------------------------------------------
def test_debug_is_refused_off_loopback():
    check_debug("127.0.0.1", True)
    check_debug("0.0.0.0", False)
    with pytest.raises(ValueError, match="refused"):
        check_debug("0.0.0.0", True)


def test_an_app_without_login_is_served_on_loopback_only():
    from dashboard import create_app
    from dashboard.server import check_no_login

    open_app = create_app(viewer=VIEWER, warm_ahead=False)
    check_no_login("127.0.0.1", open_app)
    with pytest.raises(ValueError, match="without login is refused"):
        check_no_login("0.0.0.0", open_app)
    with pytest.raises(ValueError, match="not both"):
        create_app(viewer=VIEWER, auth=AuthConfig(secret=b"k" * 32))
    check_no_login("0.0.0.0", create_app(auth=AuthConfig(secret=b"k" * 32), warm_ahead=False))


def test_login_helpers():
    from dashboard.auth import _safe_next, output_ids

    assert [_safe_next(x) for x in ("/tracing?lang=en", "//evil", "https://evil/", "/\\evil", "/login", None)] == [
        "/tracing?lang=en", "/", "/", "/", "/", "/"]
    assert output_ids("..tracing-download.data...tracing-message.children@abc..") == ["tracing-download",
                                                                                       "tracing-message"]
    assert output_ids("sandbox-kpis.children") == ["sandbox-kpis"]
    assert output_ids('{"index":1,"type":"tracing-row"}.value') == ["tracing-row"]


def test_serve_checks_its_options_before_starting(monkeypatch: pytest.MonkeyPatch):
    from sandtable.cli import app

    runner = CliRunner()
    for args, message in ((["--role", "mayor"], "--role must be one of"), (["--lang", "fr"], "--lang must be one of"),
                          (["--refresh", "0"], "--refresh must be at least"),
                          (["--host", "0.0.0.0", "--debug"], "debug mode is refused"),
                          (["--role", "cdc"], "--role only goes with --no-auth"),
                          (["--no-auth", "--host", "0.0.0.0"], "without login is refused"),
                          (["--trust-proxy-header", "X-Remote-User"], "trusted-proxy"),
                          (["--trust-proxy-header", "X-Remote-User", "--trusted-proxy", "proxy.example"],
                           "does not appear to be an IPv4 or IPv6"),
                          (["--no-auth", "--trust-proxy-header", "X-Remote-User", "--trusted-proxy", "127.0.0.1"],
                           "need login")):
        result = runner.invoke(app, ["serve", *args])
        assert result.exit_code != 0, args
        assert message in str(result.exception), (args, result.exception)


def test_charts_are_valid_figures_and_say_when_there_is_no_data():
    from dashboard import charts

    zone = "Asia/Shanghai"
    hours = pd.date_range("2022-04-12", periods=3, freq="h", tz=zone)
    through = pd.DataFrame({"checkpoint_code": ["CP1"] * 6, "name": ["卡口"] * 6, "hour": list(hours) * 2,
                            "direction": ["in"] * 3 + ["out"] * 3, "vehicles": [1, 2, 3, 0, 1, 0]})
    go.Figure(charts.throughput_chart(through, LIGHT, "zh"))
    funnel = pd.DataFrame({"category": ["resident", "bulk_cargo"], "applied": [5, 2], "approved": [3, 1],
                           "rejected": [1, 0], "pending": [1, 1]})
    assert "居民出行" in json.dumps(charts.funnel_chart(funnel, DARK, "zh"), ensure_ascii=False)
    hist = pd.DataFrame({"from_min": [0, 10], "to_min": [10, float("inf")], "label": ["0–10", ">10"], "passes": [4, 1]})
    go.Figure(charts.latency_chart(hist, 10, LIGHT, "en"))
    days = pd.date_range("2022-04-10", periods=2, freq="D", tz=zone)
    series = pd.DataFrame({"site_code": ["S1", "S1"], "name": ["酒店"] * 2, "period": days,
                           "capacity": pd.array([10, 10], dtype="Int64"), "admissions": [2, 1], "discharges": [0, 1],
                           "occupied": [2, 2], "occupancy": [0.2, 0.2]})
    go.Figure(charts.occupancy_chart(series, LIGHT, "zh"))
    go.Figure(charts.flows_chart(series, LIGHT, "zh"))
    for empty in (charts.throughput_chart(through.head(0), LIGHT, "en"), charts.funnel_chart(None, LIGHT, "en"),
                  charts.occupancy_chart(series.head(0), LIGHT, "en")):
        go.Figure(empty)
        assert empty["layout"]["annotations"][0]["text"] == "No data yet"
