"""The dashboard's callbacks against the real database, without a browser: every page's
panels on a simulated district, tracing (cdc only) and its CSV, one query per panel per
refresh whatever the number of screens, an empty database, a database that goes away."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator

import plotly.graph_objects as go
import pytest
from plotly.utils import PlotlyJSONEncoder
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from analytics.access import Viewer
from dashboard import create_app
from dashboard.app import CONFIG_KEY, status
from dashboard.components import KPI_TILES
from dashboard.pages import briefing, checkpoints, isolation, sandbox, tracing
from dashboard.auth import SESSION_COOKIE, AuthConfig
from tests.test_dashboard_support import (  # noqa: F401 - fixtures
    District, QueryCounter, callback_body, client_login, ensure_account, server_callbacks, set_home,
    simulated_district,
)

pytestmark = pytest.mark.db

CDC = Viewer("epi", "cdc")
COMMAND = Viewer("wall", "command")


def _json(obj: object) -> str:
    return json.dumps(obj, cls=PlotlyJSONEncoder, ensure_ascii=False)


@pytest.fixture(scope="module")
def district(simulated_district: District) -> Iterator[District]:
    with pytest.MonkeyPatch.context() as mp:
        set_home(mp, simulated_district.home, simulated_district.url)
        yield simulated_district


@pytest.fixture(scope="module")
def dash_engine(district: District) -> Iterator[Engine]:
    engine = create_engine(district.url, pool_pre_ping=True)
    yield engine
    engine.dispose()


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _app(**kwargs):  # noqa: ANN003, ANN202
    """An app whose views are built on demand only (no refresh-ahead thread behind the test's
    back); without login, as ``COMMAND``, unless ``viewer`` or ``auth`` says otherwise."""
    if "viewer" not in kwargs and "auth" not in kwargs:
        kwargs["viewer"] = COMMAND
    return create_app(warm_ahead=False, **kwargs)


def _ctx(app):  # noqa: ANN001, ANN202
    return app.server.config[CONFIG_KEY]


def test_sandbox_panels_on_simulated_data(dash_engine: Engine):
    ctx = _ctx(_app(engine=dash_engine, wall=True))
    tiles = _json(sandbox.render_kpis(ctx, "zh"))
    for key in KPI_TILES:
        assert f'"data-key": "{key}"' in tiles, key
    assert "扫码" in tiles and "暂无数据" not in tiles
    fig, title, _note = sandbox.render_map(ctx, "zh")
    names = [tr.name for tr in go.Figure(fig).data]
    assert names[:2] == ["risk", "heatmap"] and "checkpoints" in names
    assert any(n.startswith("isolation-") for n in names)
    assert "扫码量" in title and "glyphs" not in _json(fig)
    risk, iso, cps = (_json(x) for x in sandbox.render_side(ctx, "zh"))
    assert "高风险" in risk and "%" in iso and "st-bar-fill cp" in cps
    stamp, banner = status(ctx, "zh")
    assert stamp.startswith("数据截至 2022年") and banner is None
    en_fig, en_title, _ = sandbox.render_map(ctx, "en", measure="abnormal", resolution=9, hours=72,
                                             layers=["heatmap"])
    assert en_title == "District situation · Abnormal scans · last 3 days"
    assert [tr["name"] for tr in en_fig["data"]][0] == "risk"
    rotating = _ctx(_app(engine=dash_engine, wall=True, rotate_s=20))
    titles = [sandbox.render_map(rotating, "zh", rotation=n)[1] for n in range(4)]
    assert [t.split(" · ")[1] for t in titles] == ["扫码量", "扫码人数", "异常扫码", "扫码量"]


def test_every_page_renders_in_both_languages(dash_engine: Engine):
    ctx = _ctx(_app(engine=dash_engine, viewer=CDC))
    for lang, no_data in (("zh", "暂无数据"), ("en", "No data yet")):
        out = _json(checkpoints.render(ctx, lang, 72))
        assert "st-error" not in out
        assert ("卡口" if lang == "zh" else "Checkpoint") in out
        for fig in checkpoints.render(ctx, lang, 72)[1:5:3]:
            go.Figure(fig)
        out = _json(isolation.render(ctx, lang))
        assert "st-error" not in out and "st-table" in out
        out = _json(briefing.render(ctx, lang, None))
        assert "st-error" not in out and no_data not in out
        for module in (sandbox, tracing, checkpoints, isolation, briefing):
            layout = _json(module.layout(ctx, lang))
            assert ("龙港区疫情防控电子沙盘" if lang == "zh" else "Longgang District") in layout


def test_tracing_for_cdc_with_evidence_graph_and_csv(dash_engine: Engine, district: District):
    ctx = _ctx(_app(engine=dash_engine, viewer=CDC))
    out = tracing.render_trace(ctx, "zh", district.case_ref, "测试：流调")
    assert out["message"] is None or "st-warn" in _json(out["message"])
    assert district.case_ref in out["summary"] and "用时" in out["elapsed"]
    go.Figure(out["figure"])
    nodes = [e for e in out["elements"] if "source" not in e["data"]]
    edges = [e for e in out["elements"] if "source" in e["data"]]
    assert nodes[0]["data"]["id"] == district.case_ref and nodes[0]["position"] == {"x": 0, "y": 0}
    assert len({n["data"]["id"] for n in nodes}) == len(nodes)
    assert all(isinstance(n["position"]["x"], float | int) for n in nodes)
    tr = ctx.provider.traced(out["token"])
    assert len(nodes) == 1 + len(tr.close_contacts) + len(tr.secondary_contacts)
    assert len(edges) >= len(tr.close_contacts)
    rows = list(csv.DictReader(io.StringIO(tracing.export_csv(tr))))
    assert len(rows) == sum(len(x) for x in tr.close_contacts["exposures"]) + \
        sum(len(x) for x in tr.secondary_contacts["exposures"])
    assert all(r["kind"] in ("close_contact", "secondary_contact") and r["site_code"] for r in rows)
    with dash_engine.connect() as conn:
        audited = conn.execute(text("SELECT count(*) FROM audit_log WHERE purpose = '测试：流调' AND role = 'cdc'")
                               ).scalar_one()
    assert audited >= 1
    # a purpose is required, and the typed reference may be empty
    assert "事由" in _json(tracing.render_trace(ctx, "zh", district.case_ref, "  ")["message"])
    assert "Type a person" in _json(tracing.render_trace(ctx, "en", "", "x")["message"])


def test_tracing_is_refused_outside_cdc(dash_engine: Engine, district: District):
    ctx = _ctx(_app(engine=dash_engine, viewer=COMMAND))
    page = _json(tracing.layout(ctx, "zh"))
    assert "无权限" in page and "tracing-person" not in page
    out = tracing.render_trace(ctx, "en", district.case_ref, "curious")  # the analytics layer refuses too
    assert "Not permitted" in _json(out["message"]) and out["token"] is None


def test_twenty_screens_cost_the_queries_of_one(dash_engine: Engine, district: District):
    """Through the HTTP callback endpoint, as browsers do, logged in as two accounts of the
    command role: per refresh tick, the queries the sandbox needs do not depend on how
    many screens ask (each request also looks its account up: one primary-key lookup of
    ``users``, counted apart)."""
    clock = Clock()
    ensure_account(district.url, "screens-a", "command")
    ensure_account(district.url, "screens-b", "command")
    app = _app(engine=dash_engine, wall=True, refresh_s=30, clock=clock, auth=AuthConfig())
    client = app.server.test_client()
    client_login(client, "screens-a")
    other = app.server.test_client()
    client_login(other, "screens-b")
    cookies = [c.get_cookie(SESSION_COOKIE).value for c in (client, other)]
    deps = server_callbacks(client.get("/_dash-dependencies").get_json(), ("shell-", "sandbox-"))
    assert len(deps) == 4  # status, KPI tiles, map, side panels
    values = {("shell-tick", "n_intervals"): 1, ("sandbox-rotate", "n_intervals"): 0,
              ("sandbox-layers", "value"): list(sandbox.DEFAULTS["layers"]), ("sandbox-measure", "value"): "scans",
              ("sandbox-resolution", "value"): 8, ("sandbox-window", "value"): 24,
              ("shell-viewport", "data"): [1920, 1080], ("shell-lang", "data"): "zh"}
    bodies = [callback_body(d, values) for d in deps]

    def screen(errors: list, i: int = 0) -> None:
        c = app.server.test_client()
        c.set_cookie(SESSION_COOKIE, cookies[i % 2])
        for body in bodies:
            r = c.post("/_dash-update-component", json=body)
            if r.status_code != 200:
                errors.append((r.status_code, body["output"]))

    counter = QueryCounter(dash_engine, ignore="FROM users")
    try:
        errors: list = []
        screen(errors)  # warm-up: also loads the base map and the sites (kept 10 minutes)
        clock.t += 30
        before = counter.count
        screen(errors)
        one = counter.count - before
        clock.t += 30
        before = counter.count
        lookups = counter.ignored
        threads = [threading.Thread(target=screen, args=(errors, i)) for i in range(20)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        twenty = counter.count - before
    finally:
        counter.close()
    assert errors == []
    assert one > 0
    assert twenty == one, (one, twenty)
    assert counter.ignored - lookups == 20 * len(bodies)  # the account, once per request


def test_each_role_gets_its_own_answers_however_screens_are_logged_in(dash_engine: Engine, district: District):
    """A cdc screen asking first in a tick does not hand its (unsuppressed) heatmap to a
    command screen asking next: answers are cached per role, and each request is
    answered for the role of the account that sent it."""
    ensure_account(district.url, "roles-cdc", "cdc")
    ensure_account(district.url, "roles-command", "command")
    app = _app(engine=dash_engine, refresh_s=30, clock=Clock(), auth=AuthConfig())
    cdc, command = app.server.test_client(), app.server.test_client()
    client_login(cdc, "roles-cdc")
    client_login(command, "roles-command")
    dep = next(d for d in server_callbacks(cdc.get("/_dash-dependencies").get_json(), ("sandbox-map",)))
    body = callback_body(dep, {("shell-tick", "n_intervals"): 1, ("sandbox-layers", "value"): ["heatmap"],
                               ("sandbox-measure", "value"): "persons", ("sandbox-resolution", "value"): 10,
                               ("sandbox-window", "value"): 72, ("shell-lang", "data"): "en"})

    def persons(client) -> list[int]:  # noqa: ANN001
        r = client.post("/_dash-update-component", json=body)
        assert r.status_code == 200
        fig = r.get_json()["response"]["sandbox-map"]["figure"]
        heat = next(tr for tr in fig["data"] if tr.get("name") == "heatmap")
        return [row[1] for row in heat["customdata"]]

    seen_by_cdc, seen_by_command = persons(cdc), persons(command)
    assert min(seen_by_cdc) < 5, "the district should have cells with fewer than k persons"
    assert min(seen_by_command) >= 5 and seen_by_command != seen_by_cdc
    assert persons(cdc) == seen_by_cdc  # and the cdc screen still gets its own


def test_empty_database_shows_no_data_panels(sandtable_env, engine: Engine):
    app = _app(engine=engine, wall=True)
    ctx = _ctx(app)
    assert "暂无数据" in _json(sandbox.render_kpis(ctx, "zh"))
    fig, _, note = sandbox.render_map(ctx, "zh")
    assert [tr.name for tr in go.Figure(fig).data] == ["risk", "streets", "district"]  # the base map is there
    assert note == "暂无数据"
    assert "暂无数据" in _json(sandbox.render_side(ctx, "zh"))
    for out in (checkpoints.render(ctx, "en", 24), isolation.render(ctx, "en"), briefing.render(ctx, "en", None)):
        text_ = _json(out)
        assert "No data yet" in text_ and "st-error" not in text_
    stamp, banner = status(ctx, "en")
    assert stamp == "Data as of —" and "no scans yet" in _json(banner)
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    dep = {"output": "sandbox-kpis.children", "inputs": [{"id": "shell-tick", "property": "n_intervals"}],
           "state": [{"id": "shell-lang", "property": "data"}]}
    body = callback_body(dep, {("shell-lang", "data"): "en"})
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200 and "No data yet" in r.get_data(as_text=True)


def test_database_gone_keeps_the_last_data_with_a_banner_and_recovers(pg_server, district: District,
                                                                      dash_engine: Engine):
    dash_engine.dispose()  # no connection to the template while it is cloned
    name = "dash_gone_test"
    pg_server.drop(name)
    url = pg_server.create(name, template=district.url.rsplit("/", 1)[1].split("?")[0])
    engine = create_engine(url, pool_pre_ping=True)
    clock = Clock()
    ctx = _ctx(_app(engine=engine, wall=True, refresh_s=10, clock=clock))
    try:
        before = _json(sandbox.render_kpis(ctx, "zh"))
        assert "暂无数据" not in before
        sandbox.render_map(ctx, "zh")  # the screen has shown the map once
        pg_server.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        pg_server.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        clock.t += 10
        stamp, banner = status(ctx, "zh")
        assert "数据库暂时无法连接" in _json(banner) and "stale" in _json(banner)
        assert stamp.startswith("数据截至 2022年")  # the last data, still shown
        assert _json(sandbox.render_kpis(ctx, "zh")) == before
        fig, _, _ = sandbox.render_map(ctx, "zh")
        assert any(tr["name"] == "heatmap" for tr in fig["data"])
        pg_server.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        clock.t += 10
        stamp, banner = status(ctx, "zh")
        assert banner is None and stamp.startswith("数据截至 2022年")
    finally:
        pg_server.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        engine.dispose()
        pg_server.drop(name)


def test_the_dashboard_connects_as_the_application_role(district: District, monkeypatch: pytest.MonkeyPatch):
    from dashboard import server

    engine = server.dashboard_engine(district.url, embedded=True)
    with engine.connect() as conn:
        role = conn.execute(text("SELECT current_user")).scalar_one()
    engine.dispose()
    owner = create_engine(district.url)
    with owner.connect() as conn:
        owner_role = conn.execute(text("SELECT current_user")).scalar_one()
        has_role = conn.execute(text("SELECT count(*) FROM pg_roles WHERE rolname = 'sandtable_app'")).scalar_one()
    owner.dispose()
    assert role == ("sandtable_app" if has_role else owner_role)
    monkeypatch.setattr(server, "APP_ROLE", "no_such_role_here")  # an older schema: the owner, with a warning
    engine = server.dashboard_engine(district.url, embedded=True)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar_one() == owner_role
    engine.dispose()
