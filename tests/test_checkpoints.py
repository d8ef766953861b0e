"""Checkpoint throughput, checkpoint summaries and the pass funnel on hand-made scenarios.

Every expected number below is worked out by hand in the comments next to the rows.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from analytics.access import Viewer
from analytics.checkpoints import (
    HISTOGRAM_COLUMNS, SUMMARY_COLUMNS, THROUGHPUT_COLUMNS, checkpoint_summary, checkpoint_throughput, pass_funnel,
)
from tests.scenario_vehicles import Fleet

pytestmark = pytest.mark.db

TRANSPORT = Viewer("dispatch-1", "transport")
TZ = "Asia/Shanghai"


def local(s: str) -> pd.Timestamp:
    return pd.Timestamp(f"2022-{s}", tz=TZ)


@pytest.fixture
def fleet(app_env, engine: Engine) -> Fleet:  # noqa: ANN001
    f = Fleet(engine)
    f.site("C1", kind="checkpoint", name="京哈高速龙港出口")
    f.site("C2", kind="checkpoint", community=1, name="连山大街检查站")   # no crossing at all
    f.site("V1", kind="venue", community=2)                               # not a checkpoint: never listed
    return f


@pytest.fixture
def crossings(fleet: Fleet) -> Fleet:
    # Window [04-10 08:00, 04-10 11:00) local.
    fleet.crossing("C1", "04-10 07:59", processing_s=30)                             # before the window
    fleet.crossing("C1", "04-10 08:00", processing_s=10)                             # window start: in, 08h
    fleet.crossing("C1", "04-10 08:30", outcome="turned_back", processing_s=20)      # 08h in, turned back
    fleet.crossing("C1", "04-10 08:59:59", direction="out", processing_s=30)         # 08h out
    fleet.crossing("C1", "04-10 09:00", processing_s=40)                             # hour edge: 09h in
    fleet.crossing("C1", "04-10 10:15", direction="out", processing_s=None)          # 10h out, untimed
    fleet.crossing("C1", "04-10 10:59", outcome="turned_back", processing_s=50)      # 10h in, turned back
    fleet.crossing("C1", "04-10 11:00", processing_s=1000)                           # window end: excluded
    return fleet


WINDOW = ("2022-04-10 08:00", "2022-04-10T11:00:00+08:00")


def test_throughput_by_hour_and_direction(crossings: Fleet, engine: Engine) -> None:
    df = checkpoint_throughput(WINDOW, viewer=TRANSPORT, engine=engine)
    assert list(df.columns) == THROUGHPUT_COLUMNS
    # a dense grid: 2 checkpoints x 3 hours x 2 directions; the venue is not listed
    assert len(df) == 12
    assert set(df["checkpoint_code"]) == {"C1", "C2"}
    assert str(df["hour"].dt.tz) == TZ
    c1 = df[df["checkpoint_code"] == "C1"].set_index(["hour", "direction"])
    expected = {
        ("04-10 08:00", "in"): (2, 1, 1), ("04-10 08:00", "out"): (1, 1, 0),
        ("04-10 09:00", "in"): (1, 1, 0), ("04-10 09:00", "out"): (0, 0, 0),
        ("04-10 10:00", "in"): (1, 0, 1), ("04-10 10:00", "out"): (1, 1, 0),
    }
    for (hour, direction), want in expected.items():
        row = c1.loc[(local(hour), direction)]
        assert (row["vehicles"], row["released"], row["turned_back"]) == want, (hour, direction)
    assert c1["name"].iloc[0] == "京哈高速龙港出口"
    c2 = df[df["checkpoint_code"] == "C2"]
    assert c2["vehicles"].sum() == 0 and len(c2) == 6
    assert df["hour"].iloc[0] == local("04-10 08:00")


def test_throughput_partial_bins_and_local_days(crossings: Fleet, engine: Engine) -> None:
    # A window cut mid-hour: the 08h bin holds only 08:30 (in) and 08:59:59 (out); 09h holds 09:00.
    df = checkpoint_throughput(("2022-04-10 08:30", "2022-04-10 09:30"), viewer=TRANSPORT, engine=engine)
    c1 = df[df["checkpoint_code"] == "C1"].set_index(["hour", "direction"])["vehicles"]
    assert c1.to_dict() == {(local("04-10 08:00"), "in"): 1, (local("04-10 08:00"), "out"): 1,
                            (local("04-10 09:00"), "in"): 1, (local("04-10 09:00"), "out"): 0}
    # Local days: 04-10 07:59 local is 04-09 23:59 UTC, yet it belongs to local day 04-10.
    days = checkpoint_throughput(("2022-04-09", "2022-04-11"), viewer=TRANSPORT, engine=engine, freq="1D")
    d1 = days[days["checkpoint_code"] == "C1"].set_index(["hour", "direction"])["vehicles"]
    assert d1.to_dict() == {(local("04-09 00:00"), "in"): 0, (local("04-09 00:00"), "out"): 0,
                            (local("04-10 00:00"), "in"): 6, (local("04-10 00:00"), "out"): 2}
    # Quarter hours: 08:00 and 08:30 fall in different bins.
    q = checkpoint_throughput(("2022-04-10 08:00", "2022-04-10 09:00"), viewer=TRANSPORT, engine=engine,
                              freq="15min")
    q1 = q[(q["checkpoint_code"] == "C1") & (q["direction"] == "in")].set_index("hour")["vehicles"]
    assert q1.tolist() == [1, 0, 1, 0]
    assert q1.index[-1] == local("04-10 08:45")


def test_summary_percentiles_and_turned_back_share(crossings: Fleet, engine: Engine) -> None:
    df = checkpoint_summary(WINDOW, viewer=TRANSPORT, engine=engine)
    assert list(df.columns) == SUMMARY_COLUMNS
    assert df["checkpoint_code"].tolist() == ["C1", "C2"]
    c1 = df.set_index("checkpoint_code").loc["C1"]
    assert (c1["vehicles_in"], c1["vehicles_out"], c1["vehicles"]) == (4, 2, 6)
    assert (c1["released"], c1["turned_back"]) == (4, 2)
    assert c1["turned_back_share"] == pytest.approx(2 / 6)
    # processing times in the window: 10, 20, 30, 40, 50 (one crossing untimed)
    # p50 = 30; p90 at rank 0.9*4 = 3.6 -> 40 + 0.6*10 = 46; p95 at 3.8 -> 48
    assert c1["timed"] == 5
    assert c1["processing_p50_s"] == pytest.approx(30)
    assert c1["processing_p90_s"] == pytest.approx(46)
    assert c1["processing_p95_s"] == pytest.approx(48)
    c2 = df.set_index("checkpoint_code").loc["C2"]
    assert c2["vehicles"] == 0 and c2["timed"] == 0
    assert math.isnan(c2["turned_back_share"]) and math.isnan(c2["processing_p50_s"])


def test_no_vehicle_or_driver_data_in_outputs(crossings: Fleet, engine: Engine) -> None:
    crossings.pass_("P1", "04-10 08:00", decided="04-10 08:05", decision="approved", plate="辽P99999",
                    driver="张三", valid_from="04-10 08:05", valid_to="04-12 00:00")
    frames = [checkpoint_throughput(WINDOW, viewer=TRANSPORT, engine=engine),
              checkpoint_summary(WINDOW, viewer=TRANSPORT, engine=engine)]
    funnel = pass_funnel(WINDOW, viewer=TRANSPORT, engine=engine)
    frames += [funnel.by_category, funnel.by_department, funnel.latency_histogram]
    text = " ".join(f.to_string() for f in frames) + str(funnel.to_dict())
    for secret in ("辽P", "张三", "P1", "某物流公司", str(crossings.pid("张三"))):
        assert secret not in text
    assert funnel.applied == 1  # the pass is there, only its identity is not


@pytest.mark.parametrize("role", ["cdc", "command", "transport", "leader", "analyst"])
def test_every_role_may_see_aggregates(crossings: Fleet, engine: Engine, role: str) -> None:
    df = checkpoint_summary(WINDOW, viewer=Viewer("u", role), engine=engine)
    assert df.set_index("checkpoint_code").at["C1", "vehicles"] == 6


def test_viewer_and_arguments_are_checked(crossings: Fleet, engine: Engine) -> None:
    with pytest.raises(TypeError, match="Viewer"):
        checkpoint_throughput(WINDOW, viewer="transport", engine=engine)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown role"):
        Viewer("x", "driver")
    with pytest.raises(ValueError, match="end after it starts"):
        checkpoint_summary(("2022-04-10 11:00", "2022-04-10 08:00"), viewer=TRANSPORT, engine=engine)
    with pytest.raises(ValueError, match="freq"):
        checkpoint_throughput(WINDOW, viewer=TRANSPORT, engine=engine, freq="1 fortnight-ish")
    with pytest.raises(ValueError, match="more than"):
        checkpoint_throughput(("2022-01-01", "2023-01-01"), viewer=TRANSPORT, engine=engine, freq="1min")
    with pytest.raises(ValueError, match="target_minutes"):
        pass_funnel(WINDOW, viewer=TRANSPORT, engine=engine, target_minutes=0)
    with pytest.raises(ValueError, match="latency_bins"):
        pass_funnel(WINDOW, viewer=TRANSPORT, engine=engine, latency_bins=(0, 10, 5))


# --- the pass funnel -----------------------------------------------------------------
# Window [04-10 00:00, 04-11 00:00) local; target 10 minutes.

@pytest.fixture
def passes(fleet: Fleet) -> Fleet:
    f = fleet
    # emergency_supplies / 交通局
    f.pass_("P1", "04-10 08:00", decided="04-10 08:04", decision="approved",            # 4 min
            valid_from="04-10 08:00", valid_to="04-12 08:00")                           # active at the end
    f.pass_("P2", "04-10 09:00", decided="04-10 09:10", decision="approved",            # exactly 10 min
            valid_from="04-10 09:10", valid_to="04-11 00:00")                           # valid to the end: active
    f.pass_("P7", "04-10 23:00", decided="04-11 00:30", decision="approved",            # decided after the end:
            valid_from="04-11 01:00", valid_to="04-13 00:00")                           # pending, due, late
    f.pass_("P8", "04-09 20:00", decided="04-09 20:05", decision="approved",            # applied before: not
            valid_from="04-09 20:05", valid_to="04-15 00:00")                           # counted, but active
    # bulk_cargo / 商务局
    f.pass_("P10", "04-10 00:00", category="bulk_cargo", dept="商务局", decided="04-10 00:10:30",
            decision="approved", valid_from="04-10 01:00", valid_to="04-10 23:59")      # window start; 10.5 min
    f.pass_("P3", "04-10 10:00", category="bulk_cargo", dept="商务局", decided="04-10 10:20",
            decision="rejected")                                                        # 20 min
    f.pass_("P4", "04-10 11:00", category="bulk_cargo", dept="商务局", decided="04-10 11:30",
            decision="approved", valid_from="04-10 12:00", valid_to="04-10 18:00")      # 30 min; expired
    # resident
    f.pass_("P5", "04-10 12:00", category="resident", dept=None, decision="pending")    # pending, due
    f.pass_("P6", "04-10 23:55", category="resident", dept="社区办")                    # pending, not yet due
    f.pass_("P11", "04-10 14:00", category="resident", dept="社区办", decided="04-10 14:00",
            decision="approved", valid_from="04-10 14:00", valid_to="04-10 16:00")      # 0 min; expired
    f.pass_("P9", "04-11 00:00", category="resident", dept="社区办")                    # window end: excluded
    return f


DAY = ("2022-04-10", "2022-04-11")


def test_pass_funnel_totals(passes: Fleet, engine: Engine) -> None:
    fun = pass_funnel(DAY, viewer=TRANSPORT, engine=engine)
    # applications: P1 P2 P7 P10 P3 P4 P5 P6 P11 = 9; approved P1 P2 P10 P4 P11; rejected P3; pending P7 P5 P6
    assert (fun.applied, fun.approved, fun.rejected, fun.pending) == (9, 5, 1, 3)
    assert fun.approval_rate == pytest.approx(5 / 6)
    # latencies (min) of decisions made by the end: 0, 4, 10, 10.5, 20, 30
    # p50 at rank 2.5 -> 10.25; p90 at 4.5 -> 25; p95 at 4.75 -> 27.5
    assert fun.latency_p50_min == pytest.approx(10.25)
    assert fun.latency_p90_min == pytest.approx(25)
    assert fun.latency_p95_min == pytest.approx(27.5)
    # due = all but P6 (applied 23:55) = 8; within 10 min (inclusive): P11, P1, P2 = 3
    assert (fun.due, fun.within_target) == (8, 3)
    assert fun.within_target_share == pytest.approx(3 / 8)
    # active at 04-11 00:00: P1, P2 (valid_to exactly then), P8 (applied the day before)
    assert fun.active_passes == 3
    assert fun.window_from.isoformat() == "2022-04-10T00:00:00+08:00"


def test_pass_funnel_by_category_and_department(passes: Fleet, engine: Engine) -> None:
    fun = pass_funnel(DAY, viewer=TRANSPORT, engine=engine)
    cat = fun.by_category.set_index("category")
    assert cat.index.tolist() == ["emergency_supplies", "bulk_cargo", "resident"]
    cols = ["applied", "approved", "rejected", "pending", "due", "within_target", "active"]
    assert cat.loc["emergency_supplies", cols].tolist() == [3, 2, 0, 1, 3, 2, 3]
    assert cat.loc["bulk_cargo", cols].tolist() == [3, 2, 1, 0, 3, 0, 0]
    assert cat.loc["resident", cols].tolist() == [3, 1, 0, 2, 2, 1, 0]
    assert cat.loc["emergency_supplies", "approval_rate"] == 1.0
    assert cat.loc["bulk_cargo", "approval_rate"] == pytest.approx(2 / 3)
    # emergency latencies 4, 10: p50 7, p90 9.4, p95 9.7; bulk 10.5, 20, 30: p50 20, p90 28, p95 29
    assert cat.loc["emergency_supplies", ["latency_p50_min", "latency_p90_min", "latency_p95_min"]].tolist() \
        == pytest.approx([7, 9.4, 9.7])
    assert cat.loc["bulk_cargo", ["latency_p50_min", "latency_p90_min", "latency_p95_min"]].tolist() \
        == pytest.approx([20, 28, 29])
    assert cat.loc["resident", "latency_p95_min"] == 0
    assert cat.loc["resident", "within_target_share"] == 0.5
    dept = fun.by_department.set_index("reviewer_dept")
    assert set(dept.index) == {"交通局", "商务局", "社区办", "unassigned"}
    assert dept.loc["交通局", cols].tolist() == [3, 2, 0, 1, 3, 2, 3]
    assert dept.loc["社区办", cols].tolist() == [2, 1, 0, 1, 1, 1, 0]
    assert dept.loc["unassigned", cols].tolist() == [1, 0, 0, 1, 1, 0, 0]
    assert math.isnan(dept.loc["unassigned", "approval_rate"])
    assert dept["applied"].sum() == fun.applied == cat["applied"].sum()


def test_pass_funnel_latency_histogram(passes: Fleet, engine: Engine) -> None:
    fun = pass_funnel(DAY, viewer=TRANSPORT, engine=engine)
    h = fun.latency_histogram
    assert list(h.columns) == HISTOGRAM_COLUMNS
    # right-closed bins: [0,5] holds 0 and 4; (5,10] holds exactly 10; (10,15] 10.5; (15,20] 20; (20,30] 30
    assert h["passes"].tolist() == [2, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert h["label"].tolist()[:3] == ["0–5", "5–10", "10–15"] and h["label"].iloc[-1] == ">1440"
    assert math.isinf(h["to_min"].iloc[-1])
    coarse = pass_funnel(DAY, viewer=TRANSPORT, engine=engine, latency_bins=(0, 10)).latency_histogram
    assert coarse["passes"].tolist() == [3, 3]
    assert coarse["label"].tolist() == ["0–10", ">10"]


def test_pass_funnel_is_as_of_the_window_end(passes: Fleet, engine: Engine) -> None:
    # One hour later P7 is decided (approved 00:30, valid from 01:00) and P9 (applied 00:00) is in.
    fun = pass_funnel(("2022-04-10", "2022-04-11 01:00"), viewer=TRANSPORT, engine=engine)
    assert (fun.applied, fun.approved, fun.pending) == (10, 6, 3)
    # active at 01:00: P1, P8, P7; P2 expired at 00:00
    assert fun.active_passes == 3
    # a stricter target, 5 minutes: every application is due by 01:00 (the last, P9, at 00:05);
    # decided within 5 minutes: P11 (0), P1 (4)
    strict = pass_funnel(("2022-04-10", "2022-04-11 01:00"), viewer=TRANSPORT, engine=engine, target_minutes=5)
    assert (strict.due, strict.within_target) == (10, 2)


def test_empty_database_gives_empty_frames(app_env, engine: Engine) -> None:  # noqa: ANN001
    t = checkpoint_throughput(WINDOW, viewer=TRANSPORT, engine=engine)
    s = checkpoint_summary(WINDOW, viewer=TRANSPORT, engine=engine)
    assert list(t.columns) == THROUGHPUT_COLUMNS and t.empty
    assert list(s.columns) == SUMMARY_COLUMNS and s.empty
    assert isinstance(t["hour"].dtype, pd.DatetimeTZDtype)
    fun = pass_funnel(WINDOW, viewer=TRANSPORT, engine=engine)
    assert (fun.applied, fun.approved, fun.rejected, fun.pending, fun.active_passes) == (0, 0, 0, 0, 0)
    assert math.isnan(fun.approval_rate) and math.isnan(fun.latency_p50_min) and math.isnan(fun.within_target_share)
    assert fun.by_category["category"].tolist() == ["emergency_supplies", "bulk_cargo", "resident"]
    assert fun.by_category["applied"].sum() == 0
    assert fun.by_department.empty and "reviewer_dept" in fun.by_department.columns
    assert fun.latency_histogram["passes"].sum() == 0 and len(fun.latency_histogram) == 11
    d = fun.to_dict()
    assert d["approval_rate"] is None and d["latency_histogram"][-1]["to_min"] is None


def test_local_zone_is_a_setting(fleet: Fleet, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from geodata.settings import get_settings

    # 04-11 05:30 and 06:30 in Shanghai are 04-10 23:30 and 04-11 00:30 in Berlin (CEST, +02:00)
    fleet.crossing("C1", "04-11 05:30")
    fleet.crossing("C1", "04-11 06:30")
    shanghai = checkpoint_throughput(("2022-04-10", "2022-04-12"), viewer=TRANSPORT, engine=engine, freq="1D")
    assert shanghai[(shanghai["checkpoint_code"] == "C1") & (shanghai["direction"] == "in")]["vehicles"].tolist() \
        == [0, 2]
    monkeypatch.setenv("SANDTABLE_TIMEZONE", "Europe/Berlin")
    get_settings.cache_clear()
    berlin = checkpoint_throughput(("2022-04-10", "2022-04-12"), viewer=TRANSPORT, engine=engine, freq="1D")
    c1 = berlin[(berlin["checkpoint_code"] == "C1") & (berlin["direction"] == "in")]
    assert c1["vehicles"].tolist() == [1, 1]
    assert c1["hour"].iloc[0] == pd.Timestamp("2022-04-10", tz="Europe/Berlin")
    assert str(c1["hour"].dt.tz) == "Europe/Berlin"
    # Spring forward (03-27 02:00 -> 03:00 in Berlin): the local hour 02 does not exist and is not listed;
    # 03-27 09:30 Shanghai = 01:30 UTC = 03:30 CEST.
    fleet.crossing("C1", "03-27 09:30")
    spring = checkpoint_throughput(("2022-03-27 00:00", "2022-03-27 05:00"), viewer=TRANSPORT, engine=engine)
    c1 = spring[(spring["checkpoint_code"] == "C1") & (spring["direction"] == "in")]
    assert c1["hour"].dt.hour.tolist() == [0, 1, 3, 4]
    assert c1["vehicles"].tolist() == [0, 0, 1, 0]
