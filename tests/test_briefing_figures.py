"""Weekly figures on a hand-made scenario."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from analytics.access import Viewer
from analytics.briefing import briefing, parse_week, suppress
from tests.scenario import World

pytestmark = pytest.mark.db

LEADER = Viewer("boss", "leader")


@pytest.fixture
def world(app_env, engine: Engine) -> World:  # noqa: ANN001
    w = World(engine)
    w.site("V1")
    w.site("N1", kind="nat_site", community=3)
    w.site("H1", kind="isolation_site", community=4, capacity=10)
    # 2022-W15 is 04-11 .. 04-17; W14 is 04-04 .. 04-10
    w.scan("A", "V1", "04-05 10:00")                    # last week: 1 scan
    w.nat("A", "04-12 09:00", site="N1")                # this week: case A
    w.isolate("A", "H1", "04-13 08:00")
    w.scan("A", "V1", "04-12 08:00")
    w.scan("B", "V1", "04-12 08:10")                    # close
    w.scan("B", "V1", "04-12 20:00")
    w.scan("C", "V1", "04-12 20:15", color="red")       # secondary via B; abnormal
    w.isolate("B", "H1", "04-14 08:00", category="close_contact")
    return w


def test_parse_week() -> None:
    assert [str(d) for d in parse_week("2022-W21")] == ["2022-05-23", "2022-05-30"]
    with pytest.raises(ValueError, match="2022-W21"):
        parse_week("2022-21")
    with pytest.raises(ValueError, match="no such ISO week"):
        parse_week("2022-W60")


def test_week_figures_by_hand(world: World, engine: Engine) -> None:
    b = briefing("2022-W15", viewer=LEADER, engine=engine)
    assert b.figure("scans") == 4 and b.figure("scans", "last_week") == 1
    assert b.figure("persons_scanned") == 3
    assert b.figure("abnormal_scans") == 1
    assert b.figure("cases") == 1 and b.figure("cases", "last_week") == 0
    assert b.figure("close_contacts") == 1 and b.figure("secondary_contacts") == 1
    assert b.figure("isolation_admissions") == 2 and b.figure("isolation_occupied") == 2
    assert b.figure("isolation_occupancy") == 20.0
    row = b.figures.set_index("key").loc["scans"]
    assert row["change"] == 3 and row["change_pct"] == 300.0
    assert len(b.clusters) == 1 and b.clusters[0].number_of_nodes() == 3
    assert b.data_as_of is not None and b.rules_version
    # the risk map at the week's end: the community of the case's NAT site is high
    assert (b.risk["level"] == "high").sum() >= 1
    assert set(b.risk_changes["level"]) >= {"high"}


def test_suppress() -> None:
    assert suppress(3, LEADER, 5) == "<5" and suppress(0, LEADER, 5) == 0 and suppress(7, LEADER, 5) == 7
    assert suppress(3, Viewer("e", "cdc"), 5) == 3


def test_kpis_today_against_yesterday(world: World, engine: Engine) -> None:
    from analytics.figures import kpis

    df = kpis(viewer=Viewer("wall", "command"), engine=engine).set_index("key")
    assert df.attrs["day"] == "2022-04-12"  # the newest day with scans
    assert df.at["scans", "today"] == 4 and df.at["scans", "yesterday"] == 0
    assert df.at["cases", "today"] == 1 and df.at["close_contacts", "today"] == 1
    assert df.at["scans", "change"] == 4 and df.at["scans", "change_pct"] is None
    assert df.at["abnormal_scans", "label_zh"] == "异常扫码"
