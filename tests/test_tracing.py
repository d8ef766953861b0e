"""Tracing on hand-made scenarios whose answers are worked out from the rules by hand."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from analytics.access import Viewer
from analytics.tracing import trace
from geodata.errors import AccessDenied
from tests.scenario import World

pytestmark = pytest.mark.db

CDC = Viewer("epi-1", "cdc")


@pytest.fixture
def world(app_env, engine: Engine) -> World:  # noqa: ANN001
    w = World(engine)
    w.site("V1")
    w.site("V2", community=1)
    w.site("V3", community=2)
    w.site("C1", kind="checkpoint", community=3)
    w.site("H1", kind="isolation_site", community=4, capacity=100)
    # A: positive sample 04-10 10:00 -> window [04-06 10:00, isolation 04-11 12:00]
    w.nat("A", "04-10 10:00")
    w.isolate("A", "H1", "04-11 12:00")
    w.scan("A", "V3", "04-06 08:00")
    w.scan("Z", "V3", "04-06 08:00")   # before the window opens: not a contact
    w.scan("A", "V2", "04-06 10:00")   # exactly at the window start
    w.scan("W", "V2", "04-06 10:05")   # -> close
    w.scan("A", "V1", "04-08 12:00")
    w.scan("B", "V1", "04-08 12:30")   # exactly 30 minutes: -> close
    w.scan("X", "V1", "04-08 12:31")   # 31 minutes from A (not close) but 1 from B -> secondary via B
    w.scan("A", "C1", "04-09 08:00")
    w.scan("Q", "C1", "04-09 08:00")   # outdoor checkpoint: does not count
    w.scan("A", "V1", "04-11 12:00")   # exactly at isolation
    w.scan("R", "V1", "04-11 12:10")   # -> close; R is a case too
    w.nat("R", "04-12 09:00")
    w.scan("A", "V2", "04-11 13:00")
    w.scan("S", "V2", "04-11 13:00")   # after the window closed: not a contact
    # B: first exposure 04-08 12:30, isolated 04-10 20:00
    w.isolate("B", "H1", "04-10 20:00", category="close_contact")
    w.scan("B", "V2", "04-08 12:00")
    w.scan("E", "V2", "04-08 12:00")   # before B's first exposure: not secondary
    w.scan("B", "V2", "04-09 15:00")
    w.scan("D", "V2", "04-09 15:20")   # -> secondary via B
    w.scan("B", "V2", "04-10 20:30")
    w.scan("F", "V2", "04-10 20:30")   # after B's isolation: not secondary
    # W: first exposure 04-06 10:05, never isolated
    w.scan("W", "V1", "04-07 09:00")
    w.scan("D", "V1", "04-07 09:10")   # D again, via W: listed once, via both
    w.scan("W", "V3", "04-09 18:00")
    w.scan("B", "V3", "04-09 18:05")   # B meets W: B stays a close contact, not secondary
    return w


def test_trace_case_by_hand(world: World, engine: Engine) -> None:
    res = trace("A", viewer=CDC, purpose="case 2022-041", engine=engine)
    assert res.is_case
    assert res.window_from.isoformat() == "2022-04-06T02:00:00+00:00"
    assert res.window_to.isoformat() == "2022-04-11T04:00:00+00:00"
    assert sorted(res.close_contacts["person"]) == ["B", "R", "W"]
    assert sorted(res.secondary_contacts["person"]) == ["D", "X"]
    sec = res.secondary_contacts.set_index("person")
    assert sec.at["D", "via"] == ["B", "W"]
    assert sec.at["X", "via"] == ["B"]
    close = res.close_contacts.set_index("person")
    (ev,) = close.at["B", "exposures"]
    assert ev == {"site_code": "V1", "index_at": "2022-04-08T12:00:00+08:00",
                  "contact_at": "2022-04-08T12:30:00+08:00"}
    assert close.at["B", "isolated_at"].isoformat() == "2022-04-10T12:00:00+00:00"
    assert res.trajectory["site_code"].tolist() == ["V2", "V1", "C1", "V1"]
    assert "A" not in set(res.close_contacts["person"]) | set(res.secondary_contacts["person"])


def test_trace_json_and_graph(world: World, engine: Engine) -> None:
    res = trace("A", viewer=CDC, purpose="case 2022-041", engine=engine)
    d = res.to_dict()
    assert {"person", "window", "trajectory", "close_contacts", "secondary_contacts", "elapsed_ms"} <= set(d)
    assert d["person"] == "A" and set(d["window"]) == {"from", "to"}
    assert {c["person"] for c in d["close_contacts"]} == {"B", "R", "W"}
    assert all(c["exposures"] for c in d["close_contacts"])
    assert {s["person"]: s["via"] for s in d["secondary_contacts"]} == {"D": ["B", "W"], "X": ["B"]}
    g = res.graph()
    assert g.nodes["A"]["degree"] == 0 and g.nodes["D"]["degree"] == 2
    assert g.has_edge("A", "B") and g.has_edge("B", "D") and g.has_edge("W", "D") and not g.has_edge("A", "D")
    assert set(res.places["site_code"]) >= {"V1", "V2", "C1"}
    assert res.places.crs.to_epsg() == 4326


def test_secondary_index_window_of_contact_who_is_a_case(world: World, engine: Engine) -> None:
    # R's own trace: positive 04-12 09:00 -> window from 04-08 09:00, never isolated.
    res = trace("R", viewer=CDC, purpose="case 2022-042", engine=engine)
    assert res.is_case
    # R scanned only at V1 04-11 12:10, co-present with A (12:00)
    assert res.close_contacts["person"].tolist() == ["A"]


def test_trace_is_audited(world: World, engine: Engine) -> None:
    trace("A", viewer=CDC, purpose="case 2022-041", engine=engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT actor, role, action, person_id, purpose, rows_returned FROM audit_log")).one()
    assert row == ("epi-1", "cdc", "trace", world.pid("A"), "case 2022-041", 5)


@pytest.mark.parametrize("purpose", [None, "", "   "])
def test_a_trace_needs_a_purpose(world: World, engine: Engine, purpose: str | None) -> None:
    with pytest.raises(AccessDenied, match="purpose"):
        trace("A", viewer=CDC, purpose=purpose, engine=engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 0


@pytest.mark.parametrize("role", ["command", "leader", "transport", "analyst"])
def test_only_cdc_may_trace(world: World, engine: Engine, role: str) -> None:
    with pytest.raises(AccessDenied):
        trace("A", viewer=Viewer("someone", role), engine=engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 0


def test_not_a_case_uses_days_before_at(world: World, engine: Engine) -> None:
    res = trace("W", at="2022-04-08 00:00", viewer=CDC, purpose="check", engine=engine)
    assert not res.is_case
    assert res.window_from.isoformat().startswith("2022-04-04T00:00:00+08")
    # W at V2 04-06 10:05 with A, at V1 04-07 09:00 with D
    assert sorted(res.close_contacts["person"]) == ["A", "D"]


def test_cases_list(world: World, engine: Engine) -> None:
    from analytics import cases

    df = cases(viewer=CDC, purpose="review", engine=engine)
    assert df["person"].tolist() == ["A", "R"]
    assert df.iloc[0]["isolated_at"].isoformat() == "2022-04-11T04:00:00+00:00"
    an = cases(viewer=Viewer("an", "analyst"), engine=engine)
    assert an["person"].tolist() == [str(world.pid("A")), str(world.pid("R"))]
    with pytest.raises(AccessDenied):
        cases(viewer=Viewer("wall", "command"), engine=engine)
    with engine.connect() as conn:  # the cdc listing is audited, the analyst's pseudonyms are not
        assert conn.execute(text("SELECT action, rows_returned FROM audit_log")).all() == [("list_cases", 2)]
