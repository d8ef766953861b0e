"""District risk levels and the ranked score on a hand-made scenario."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from analytics.access import Viewer
from analytics.risk import risk, risk_score
from tests.scenario import World

pytestmark = pytest.mark.db

CDC = Viewer("epi", "cdc")
LEADER = Viewer("boss", "leader")


@pytest.fixture
def world(app_env, engine: Engine) -> World:  # noqa: ANN001
    w = World(engine)
    w.site("N0", kind="nat_site", community=0)
    w.site("V1", community=1)
    w.site("V2", community=2)
    w.site("V3", community=3)
    w.site("P3", kind="pharmacy", community=3)
    w.site("C4", kind="checkpoint", community=4)
    # A: positive 04-10 09:00 at N0 (home: community 0); window from 04-06 09:00
    w.nat("A", "04-10 09:00", site="N0")
    w.scan("A", "V3", "04-01 10:00")          # before the exposure window: no reason
    w.scan("A", "V1", "04-09 12:00")          # a case visit: community 1 medium
    w.scan("A", "V2", "04-09 15:00")
    w.scan("A", "C4", "04-09 16:00")
    # B: positive 04-11 at N0; co-present with A at V2 (20 min): community 2 high
    w.nat("B", "04-11 09:00", site="N0")
    w.scan("B", "V2", "04-09 15:20")
    w.scan("B", "C4", "04-09 16:00")          # a checkpoint: co-presence does not count there
    w.scan("X", "V1", "04-09 12:10")          # a contact of A at V1
    w.scan("Y", "V3", "04-11 08:00", temp=38.5)
    w.med("Y", "P3", "04-11 09:00")
    w.returnee("R", 3, "04-11", risk="high")
    w.returnee("S", 3, "04-11", risk="low")
    return w


def _levels(df) -> dict:  # noqa: ANN001
    return dict(zip(df["code"], df["level"]))


def test_levels_by_hand(world: World, engine: Engine) -> None:
    df = risk("2022-04-12", viewer=CDC, engine=engine)
    lv = _levels(df)
    c = world.community
    assert lv[c(0)] == "high" and lv[c(1)] == "medium" and lv[c(2)] == "high" and lv[c(3)] == "low"
    # two cases at the same checkpoint minute: a case visit (medium), but outdoor, so no co-presence
    assert lv[c(4)] == "medium"
    assert {r["reason"] for r in df.set_index("code").loc[c(4), "reasons"]} == {"case_visit"}
    assert set(lv.values()) == {"high", "medium", "low"} and len(lv) == 64
    row = df.set_index("code").loc[c(0)]
    (reason,) = row["reasons"]
    assert reason["reason"] == "case_resident" and reason["cases"] == ["A", "B"] and reason["case_count"] == 2
    r2 = {r["reason"]: r for r in df.set_index("code").loc[c(2), "reasons"]}
    assert r2["cases_copresent"]["sites"] == ["V2"]
    assert df.iloc[0]["level"] == "high"  # sorted high first


def test_not_yet_a_case_means_low(world: World, engine: Engine) -> None:
    assert set(risk("2022-04-09", viewer=CDC, engine=engine)["level"]) == {"low"}


def test_drop_after_window(world: World, engine: Engine) -> None:
    c1 = world.community(1)
    df = risk("2022-04-12", viewer=CDC, engine=engine).set_index("code")
    assert str(df.at[c1, "may_drop_on"]) == "2022-04-16"
    assert _levels(risk("2022-04-15", viewer=CDC, engine=engine).reset_index())[c1] == "medium"
    assert _levels(risk("2022-04-16", viewer=CDC, engine=engine).reset_index())[c1] == "low"


def test_aggregate_roles_see_no_person(world: World, engine: Engine) -> None:
    df = risk("2022-04-12", viewer=LEADER, engine=engine)
    for reasons in df["reasons"]:
        for r in reasons:
            assert r["cases"] == [] and r["case_count"] >= 1
    an = risk("2022-04-12", viewer=Viewer("a", "analyst"), engine=engine)
    cases = {c for rs in an["reasons"] for r in rs for c in r["cases"]}
    assert cases == {str(world.pid("A")), str(world.pid("B"))}


def test_risk_score_ranks_and_shares(world: World, engine: Engine) -> None:
    df = risk_score("2022-04-12", viewer=CDC, engine=engine).set_index("code")
    c = world.community
    assert df.at[c(0), "cases"] == 2
    assert df.at[c(1), "contacts"] == 1                 # X at V1
    assert df.at[c(2), "contacts"] == 2                 # A and B, each co-present with the other case
    assert df.at[c(3), "abnormal_scans"] == 1 and df.at[c(3), "fever_medicine"] == 1
    assert df.at[c(3), "returnees"] == 1                # only the high-risk origin counts
    # scores by hand: c3 = .15 + .15 + .15, c0 = .35 (2/2 cases), c2 = .20 (2/2 contacts), c1 = .10 (1/2)
    assert [df.at[c(i), "rank"] for i in (3, 0, 2, 1)] == [1, 2, 3, 4]
    assert [round(df.at[c(i), "score"], 6) for i in (3, 0, 2, 1)] == [0.45, 0.35, 0.2, 0.1]
    assert round(df.at[c(3), "share_returnees"], 6) == round(0.15 / 0.45, 6)
    shares = df.filter(like="share_").sum(axis=1)
    assert ((shares - 1).abs() < 1e-9)[df["score"] > 0].all()
    assert (df.loc[df["score"] == 0, "rank"] > df.loc[df["score"] > 0, "rank"].max()).all()


def test_risk_score_counts_suppressed_outside_cdc(world: World, engine: Engine) -> None:
    full = risk_score("2022-04-12", viewer=CDC, engine=engine).set_index("code")
    shown = risk_score("2022-04-12", viewer=LEADER, engine=engine).set_index("code")
    assert shown["cases"].isna().sum() >= 1 and shown.at[world.community(0), "cases"] is None
    for col in ("cases", "contacts", "abnormal_scans", "fever_medicine", "returnees"):
        visible = shown[col].dropna()
        assert ((visible == 0) | (visible >= 5)).all()
        assert shown[col].isna().sum() != 1  # never a single hidden cell in a column
    assert (shown["rank"] == full["rank"]).all()  # the ranking itself is unchanged
