"""Isolation status, demand and time series on hand-made scenarios worked out by hand.

Rules: the defaults (case 14 days, close contact 7 days central, inbound 7 days,
secondary contact 7 days). ``at`` = 04-10 12:00 local, so at + 3 days = 04-13 12:00 and
at + 7 days = 04-17 12:00; today = [04-10 00:00, 04-11 00:00).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from analytics.access import Viewer
from analytics.isolation import (
    STATUS_COLUMNS, TIMESERIES_COLUMNS, isolation_demand, isolation_status, isolation_timeseries,
)
from geodata.rules import Rules
from tests.scenario_vehicles import Fleet, lt

pytestmark = pytest.mark.db

COMMAND = Viewer("wall-1", "command")
AT = "2022-04-10 12:00"
TZ = "Asia/Shanghai"


@pytest.fixture
def world(app_env, engine: Engine) -> Fleet:  # noqa: ANN001
    w = Fleet(engine)
    w.site("H0", kind="isolation_site", capacity=5, name="空酒店")                      # no stays at all
    w.site("H1", kind="isolation_site", community=1, capacity=10, name="龙港宾馆")
    w.site("H2", kind="isolation_site", community=2, capacity=10)
    w.site("H4", kind="isolation_site", community=3)                                  # capacity unknown
    w.site("H5", kind="isolation_site", community=4, capacity=1)                      # over capacity
    w.site("K1", kind="clinic", community=5)                                          # a ward holding a case
    w.site("V1", kind="venue", community=6)                                           # never listed
    # H1, one stay per line:                       occupied  today      expected end   held 3d / 7d
    w.stay("a", "H1", "04-05 09:00")                # yes                 04-12 09:00    no / no
    w.stay("b", "H1", "04-01 08:00", category="case")  # yes              04-15 08:00    yes / no
    w.stay("c", "H1", "04-10 12:00", category="inbound")  # yes (at at) adm  04-17 12:00  yes / no (exactly at+7d)
    w.stay("d", "H1", "04-08 10:00", "04-10 12:00")  # no (out at at) dis
    w.stay("e", "H1", "04-09 10:00", category="secondary_contact")  # yes   04-16 10:00    yes / no
    w.stay("f", "H1", "04-02 08:00", category="other")  # yes             never          yes / yes
    w.stay("g", "H1", "04-09 15:00", "04-11 09:00", category="case")  # yes  04-11 09:00 (recorded)  no / no
    w.stay("h", "H1", "04-10 18:00")                # no (later today) adm
    w.stay("i", "H1", "04-10 00:00")                # yes      adm       04-17 00:00    yes / no
    w.stay("j", "H1", "04-09 23:59")                # yes                04-16 23:59    yes / no
    w.stay("k", "H1", "03-20 08:00", "04-10 00:00", category="case")  # no  dis
    w.stay("l", "H1", "03-20 08:00", "04-09 23:59", category="case")  # no
    w.stay("m", "H1", "04-01 08:00")                # yes, overdue       04-08 08:00    no / no
    w.stay("n", "H1", "04-05 08:00", "04-11 00:00", category="case")  # yes (not today) 04-11 00:00  no / no
    # H2: 9 of 10 beds (exactly 90 %: not over); close contacts out 04-16 08:00
    w.stays(9, "H2", "04-09 08:00")
    # H4: one person, no capacity on record; H5: two persons in one bed, out 04-17 08:00
    w.stays(1, "H4", "04-10 08:00")
    w.stays(2, "H5", "04-10 08:00")
    w.stays(1, "K1", "04-09 08:00", category="case")
    return w


def test_status_by_hand(world: Fleet, engine: Engine) -> None:
    df = isolation_status(AT, viewer=COMMAND, engine=engine)
    assert list(df.columns) == STATUS_COLUMNS
    assert df["site_code"].tolist() == ["H0", "H1", "H2", "H4", "H5", "K1"]
    s = df.set_index("site_code")
    h1 = s.loc["H1"]
    assert h1["name"] == "龙港宾馆"
    # occupied: a b c e f g i j m n = 10; today: admitted c h i, discharged d k
    assert (h1["capacity"], h1["occupied"], h1["admissions_today"], h1["discharges_today"]) == (10, 10, 3, 2)
    assert h1["occupancy"] == 1.0 and bool(h1["over_90"])
    # held at 04-13 12:00: b c e f i j = 6 -> 4 free; at 04-17 12:00: f only -> 9 free
    assert (h1["free"], h1["free_in_3d"], h1["free_in_7d"], h1["overdue"]) == (0, 4, 9, 1)
    h2 = s.loc["H2"]
    assert (h2["occupied"], h2["occupancy"], bool(h2["over_90"])) == (9, 0.9, False)
    assert (h2["free"], h2["free_in_3d"], h2["free_in_7d"]) == (1, 1, 10)
    h0 = s.loc["H0"]
    assert (h0["occupied"], h0["occupancy"], bool(h0["over_90"]), h0["free"], h0["free_in_7d"]) == (0, 0.0, False, 5, 5)
    h4 = s.loc["H4"]
    assert h4["occupied"] == 1 and pd.isna(h4["capacity"]) and math.isnan(h4["occupancy"])
    assert pd.isna(h4["free"]) and not bool(h4["over_90"])
    h5 = s.loc["H5"]
    assert (h5["occupied"], h5["occupancy"], bool(h5["over_90"])) == (2, 2.0, True)
    assert (h5["free"], h5["free_in_3d"], h5["free_in_7d"]) == (0, 0, 1)   # never below zero
    assert s.loc["K1", "occupied"] == 1
    assert df["over_90"].dtype == bool and str(df["capacity"].dtype) == "Int64"
    # before anyone arrived: every isolation site, but not the clinic (nobody in it then)
    early = isolation_status("2022-03-01", viewer=COMMAND, engine=engine)
    assert early["site_code"].tolist() == ["H0", "H1", "H2", "H4", "H5"] and early["occupied"].sum() == 0


def test_status_at_admission_and_discharge_instants(world: Fleet, engine: Engine) -> None:
    def status(at: str) -> pd.Series:
        return isolation_status(at, viewer=COMMAND, engine=engine).set_index("site_code").loc["H1"]

    # admitted at t: in at t; discharged at t: out at t (H1 stays a..n above)
    assert status("2022-04-10 11:59")["occupied"] == 10      # a b d e f g i j m n
    assert status("2022-04-10 12:00")["occupied"] == 10      # c admitted and d discharged exactly now
    assert status("2022-04-10 18:00")["occupied"] == 11      # h admitted exactly now
    assert status("2022-04-10 23:59:59")["occupied"] == 11
    midnight = status("2022-04-11 00:00")                    # n discharged exactly now; a new day
    assert (midnight["occupied"], midnight["admissions_today"], midnight["discharges_today"]) == (10, 0, 2)
    assert status("2022-04-11 09:00")["occupied"] == 9       # g discharged exactly now (its recorded time)
    # today is the whole local day, whatever the hour of ``at``: 04-10 00:00 counts i and k
    early = status("2022-04-10 00:00")
    assert (early["occupied"], early["admissions_today"], early["discharges_today"]) == (10, 3, 2)


def test_free_beds_follow_the_rules_durations(world: Fleet, engine: Engine) -> None:
    # Close contacts isolated 10 days instead of 7: H1's a (04-05 09:00) now ends 04-15 09:00 (held at 3d),
    # i (04-10 00:00) and j (04-09 23:59) are held past 04-17 12:00; c (inbound) is unchanged.
    rules = Rules(isolation={"close_contact_central_days": 10})
    s = isolation_status(AT, viewer=COMMAND, engine=engine, rules=rules).set_index("site_code")
    # held 3d: a b c e f i j = 7 -> 3 free; m (ends 04-11 08:00) still frees; held 7d: f i j -> 7 free
    assert (s.at["H1", "free_in_3d"], s.at["H1", "free_in_7d"]) == (3, 7)
    assert s.at["H1", "overdue"] == 0     # m (04-01 + 10 days = 04-11 08:00) is no longer overdue
    assert s.at["H1", "occupied"] == 10   # occupancy does not depend on the rules


def test_demand_totals_and_expected_admissions(world: Fleet, engine: Engine) -> None:
    d = isolation_demand(AT, viewer=COMMAND, engine=engine, expected_admissions=5)
    # sites with a capacity: H0 5, H1 10, H2 10, H5 1 = 26; occupied 0 + 10 + 9 + 2 = 21; H4 and K1 hold 2 more
    assert (d.sites, d.capacity, d.occupied, d.occupied_elsewhere) == (6, 26, 21, 2)
    # free per site (from zero): 5 + 0 + 1 + 0 = 6; in 3 days 5 + 4 + 1 + 0 = 10; in 7 days 5 + 9 + 10 + 1 = 25
    assert (d.free, d.free_in_3d, d.free_in_7d) == (6, 10, 25)
    assert d.over_90_sites == 2   # H1 and H5
    assert (d.free_after, d.free_in_3d_after, d.free_in_7d_after, d.short) == (1, 5, 20, False)
    more = isolation_demand(AT, viewer=COMMAND, engine=engine, expected_admissions=7)
    assert (more.free_after, more.short) == (-1, True)
    none = isolation_demand(AT, viewer=COMMAND, engine=engine)
    assert none.expected_admissions is None and none.free_after is None and none.short is None
    with pytest.raises(ValueError, match="expected_admissions"):
        isolation_demand(AT, viewer=COMMAND, engine=engine, expected_admissions=-1)
    with pytest.raises(ValueError, match="expected_admissions"):
        isolation_demand(AT, viewer=COMMAND, engine=engine, expected_admissions=True)


def test_timeseries_by_hand(world: Fleet, engine: Engine) -> None:
    df = isolation_timeseries(("2022-04-09", "2022-04-11"), viewer=COMMAND, engine=engine)
    assert list(df.columns) == TIMESERIES_COLUMNS
    assert len(df) == 6 * 2
    assert str(df["period"].dt.tz) == TZ
    h1 = df[df["site_code"] == "H1"].set_index("period")
    d9, d10 = pd.Timestamp("2022-04-09", tz=TZ), pd.Timestamp("2022-04-10", tz=TZ)
    # before 04-09 00:00: a b d f k l m n = 8; 04-09: admitted e g j, discharged l -> 10;
    # 04-10: admitted c h i, discharged d k -> 11 (n leaves 04-11 00:00, still in as 04-10 closes)
    assert h1.loc[d9, ["admissions", "discharges", "occupied"]].tolist() == [3, 1, 10]
    assert h1.loc[d10, ["admissions", "discharges", "occupied"]].tolist() == [3, 2, 11]
    assert h1.loc[d10, "occupancy"] == pytest.approx(1.1)
    h2 = df[df["site_code"] == "H2"].set_index("period")
    assert h2["occupied"].tolist() == [9, 9] and h2["admissions"].tolist() == [9, 0]
    # hourly, cut by the window: [04-10 11:00, 04-10 12:30) -> bins 11h and 12h; c and d at 12:00
    hourly = isolation_timeseries(("2022-04-10 11:00", "2022-04-10 12:30"), viewer=COMMAND, engine=engine,
                                  freq="1h")
    h = hourly[hourly["site_code"] == "H1"]
    assert h["period"].dt.hour.tolist() == [11, 12]
    assert h[["admissions", "discharges", "occupied"]].values.tolist() == [[0, 0, 10], [1, 1, 10]]
    # a window opening exactly at an admission (h, 18:00): h counts in the bin, not before it;
    # the cut day keeps its local-midnight label. Before 18:00: a b c e f g i j m n = 10; then + h.
    late = isolation_timeseries(("2022-04-10 18:00", "2022-04-11"), viewer=COMMAND, engine=engine)
    row = late[late["site_code"] == "H1"].iloc[0]
    assert (row["period"], row["admissions"], row["discharges"], row["occupied"]) == (d10, 1, 0, 11)
    # ... and exactly at a discharge (g, 04-11 09:00): g is in before it and leaves in the bin.
    # Before 09:00: a b c e f g h i j m = 10; then - g.
    morning = isolation_timeseries(("2022-04-11 09:00", "2022-04-12"), viewer=COMMAND, engine=engine)
    row = morning[morning["site_code"] == "H1"].iloc[0]
    assert (row["admissions"], row["discharges"], row["occupied"]) == (0, 1, 9)


def test_timeseries_matches_status_on_random_stays(app_env, engine: Engine) -> None:  # noqa: ANN001
    """On random stays (many at exact bin edges): per-bin counts and occupancy agree with a
    direct count in Python, and the occupancy identity holds."""
    rng = np.random.default_rng(7)
    w = Fleet(engine)
    w.site("R1", kind="isolation_site", capacity=50)
    w.site("R2", kind="isolation_site", community=1, capacity=50)
    base = datetime(2022, 4, 1, tzinfo=ZoneInfo(TZ))
    stays = []
    for i in range(120):
        site = "R1" if i % 2 else "R2"
        a = base + timedelta(hours=int(rng.integers(0, 24 * 12)))      # on the hour: many at midnight
        d = a + timedelta(hours=int(rng.integers(1, 24 * 6))) if rng.random() < 0.7 else None
        stays.append((site, a, d))
        w.stay(f"r{i}", site, a.strftime("%m-%d %H:%M"), d.strftime("%m-%d %H:%M") if d else None)
    t0, t1 = base + timedelta(days=2), base + timedelta(days=9)
    pinned = [("R1", t0, None), ("R2", base, t0), ("R2", t0 + timedelta(days=1), t0 + timedelta(days=2)),
              ("R2", base, t1), ("R1", t1, None)]   # admissions and discharges exactly at window and bin edges
    for j, (site, a, d) in enumerate(pinned):
        stays.append((site, a, d))
        w.stay(f"p{j}", site, a.strftime("%m-%d %H:%M"), d.strftime("%m-%d %H:%M") if d else None)
    ts = isolation_timeseries((t0, t1), viewer=COMMAND, engine=engine)
    for site in ("R1", "R2"):
        mine = [(a, d) for s, a, d in stays if s == site]
        rows = ts[ts["site_code"] == site].reset_index(drop=True)
        assert len(rows) == 7
        for k, row in rows.iterrows():
            b0, b1 = t0 + timedelta(days=k), t0 + timedelta(days=k + 1)
            assert row["period"] == pd.Timestamp(b0)
            assert row["admissions"] == sum(b0 <= a < b1 for a, _ in mine)
            assert row["discharges"] == sum(d is not None and b0 <= d < b1 for _, d in mine)
            assert row["occupied"] == sum(a < b1 and (d is None or d >= b1) for a, d in mine)
            if k:
                prev = rows.loc[k - 1, "occupied"]
                assert row["occupied"] == prev + row["admissions"] - row["discharges"]
        # and status at a few instants, with the inclusive admission / exclusive discharge rule
        for at in (t0, t0 + timedelta(days=3, hours=5), t1):
            got = isolation_status(at, viewer=COMMAND, engine=engine).set_index("site_code").at[site, "occupied"]
            assert got == sum(a <= at and (d is None or d > at) for a, d in mine)


@pytest.mark.parametrize("role", ["cdc", "command", "transport", "leader", "analyst"])
def test_every_role_sees_the_same_unsuppressed_counts(world: Fleet, engine: Engine, role: str) -> None:
    s = isolation_status(AT, viewer=Viewer("u", role), engine=engine).set_index("site_code")
    assert s.at["H5", "occupied"] == 2 and s.at["H4", "occupied"] == 1   # small counts shown to every role


def test_no_person_data_in_outputs(world: Fleet, engine: Engine) -> None:
    frames = [isolation_status(AT, viewer=COMMAND, engine=engine),
              isolation_timeseries(("2022-04-09", "2022-04-11"), viewer=COMMAND, engine=engine)]
    text = " ".join(f.to_string() for f in frames) + repr(isolation_demand(AT, viewer=COMMAND, engine=engine))
    for ref in ("a", "b", "m"):
        assert str(world.pid(ref)) not in text
    for word in ("close_contact", "case", "inbound", "secondary", "stay"):
        assert word not in text


def test_viewer_and_window_are_checked(world: Fleet, engine: Engine) -> None:
    with pytest.raises(TypeError, match="Viewer"):
        isolation_status(AT, viewer=None, engine=engine)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="end after it starts"):
        isolation_timeseries(("2022-04-11", "2022-04-09"), viewer=COMMAND, engine=engine)
    with pytest.raises(ValueError, match="ISO 8601"):
        isolation_status("yesterday-ish", viewer=COMMAND, engine=engine)


def test_default_at_is_now(world: Fleet, engine: Engine) -> None:
    # Long after every stay: only the open-ended ones are still in.
    s = isolation_status(viewer=COMMAND, engine=engine).set_index("site_code")
    assert s.at["H1", "occupied"] == 9                       # a b c e f h i j m
    assert s.at["H1", "admissions_today"] == 0
    # all but f (other: no expected end) are overdue by now
    assert s.at["H1", "overdue"] == 8 and s.at["H1", "free_in_3d"] == 9


def test_empty_database_gives_empty_frames(app_env, engine: Engine) -> None:  # noqa: ANN001
    st = isolation_status(AT, viewer=COMMAND, engine=engine)
    ts = isolation_timeseries(("2022-04-09", "2022-04-11"), viewer=COMMAND, engine=engine)
    assert list(st.columns) == STATUS_COLUMNS and st.empty
    assert list(ts.columns) == TIMESERIES_COLUMNS and ts.empty
    assert isinstance(ts["period"].dtype, pd.DatetimeTZDtype)
    d = isolation_demand(AT, viewer=COMMAND, engine=engine, expected_admissions=3)
    assert (d.sites, d.capacity, d.occupied, d.free, d.free_after, d.short) == (0, 0, 0, 0, -3, True)
    assert lt("04-10 12:00") == d.at
