"""Checkpoint, pass and isolation analytics latency, against pandas over the same rows.

Ours: ``checkpoint_throughput`` (hourly, 1 and 7 days), ``checkpoint_summary``,
``pass_funnel`` (7 days), ``isolation_status`` and ``isolation_timeseries`` (14 days),
as the dashboard's Checkpoints and Isolation pages call them. Reference: the hourly
throughput and the processing-time percentiles computed by pandas over the window's
crossings already in memory (fetching them is not timed): the in-process floor the
SQL aggregation competes with. No target is set in issue 5 for these; a dashboard
refresh wants each well under a second.

    python -m benchmarks.bench_checkpoints [district|city ...]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine

from analytics.access import Viewer
from analytics.checkpoints import checkpoint_summary, checkpoint_throughput, pass_funnel
from analytics.isolation import isolation_status, isolation_timeseries

TRANSPORT = Viewer("bench", "transport")
ZONE = "Asia/Shanghai"


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()  # warm
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def _pandas_reference(engine: Engine, t0, t1, repeat: int) -> float:  # noqa: ANN001
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT checkpoint_id, direction, crossed_at, outcome, processing_s FROM crossings "
                                 "WHERE crossed_at >= :t0 AND crossed_at < :t1"), {"t0": t0, "t1": t1}).all()
    df = pd.DataFrame(rows, columns=["checkpoint_id", "direction", "crossed_at", "outcome", "processing_s"])
    df["crossed_at"] = pd.to_datetime(df["crossed_at"], utc=True)

    def compute() -> None:
        hour = df["crossed_at"].dt.tz_convert(ZONE).dt.floor("h")
        pd.crosstab([df["checkpoint_id"], hour, df["direction"]], df["outcome"])
        df.groupby("checkpoint_id")["processing_s"].quantile([0.5, 0.9, 0.95])

    return _time(compute, repeat)[0]


def measure(engine: Engine, label: str, repeat: int = 7) -> list[dict]:
    """Time every function on ``engine``'s data, windows ending at the newest crossing's local day."""
    with engine.connect() as conn:
        newest = conn.execute(text("SELECT max(crossed_at) FROM crossings")).scalar_one()
        stays = conn.execute(text("SELECT count(*) FROM isolation_stays")).scalar_one()
    if newest is None:
        print(f"[{label}] no crossings loaded: nothing to measure")
        return []
    end = pd.Timestamp(newest).tz_convert(ZONE).normalize().to_pydatetime() + timedelta(days=1)
    day, week, fortnight = (end - timedelta(days=1), end), (end - timedelta(days=7), end), (end - timedelta(days=14), end)
    with engine.connect() as conn:
        n_week = conn.execute(text("SELECT count(*) FROM crossings WHERE crossed_at >= :a AND crossed_at < :b"),
                              {"a": week[0], "b": week[1]}).scalar_one()
    cases: list[tuple[str, Callable[[], object]]] = [
        ("throughput 1 day, hourly", lambda: checkpoint_throughput(day, viewer=TRANSPORT, engine=engine)),
        ("throughput 7 days, hourly", lambda: checkpoint_throughput(week, viewer=TRANSPORT, engine=engine)),
        ("checkpoint summary 7 days", lambda: checkpoint_summary(week, viewer=TRANSPORT, engine=engine)),
        ("pass funnel 7 days", lambda: pass_funnel(week, viewer=TRANSPORT, engine=engine)),
        ("isolation status", lambda: isolation_status(end - timedelta(hours=12), viewer=TRANSPORT, engine=engine)),
        ("isolation series 14 days", lambda: isolation_timeseries(fortnight, viewer=TRANSPORT, engine=engine)),
    ]
    print(f"[{label}] {n_week} crossings in the 7 days to {end.date()}, {stays} isolation stays")
    out = []
    for name, fn in cases:
        med, p95 = _time(fn, repeat)
        out.append({"tier": label, "case": name, "median_ms": med, "p95_ms": p95})
        print(f"[{label}] {name:<28} median {med:7.1f} ms | p95 {p95:7.1f} ms")
    ref = _pandas_reference(engine, *week, repeat)
    out.append({"tier": label, "case": "pandas reference, 7 days", "median_ms": ref, "p95_ms": None})
    print(f"[{label}] {'pandas reference 7 days':<28} median {ref:7.1f} ms (rows already in memory)")
    return out


def run(tier_name: str) -> list[dict]:
    from benchmarks._tiers import TIERS, loaded_tier

    engine, _ = loaded_tier(TIERS[tier_name])
    return measure(engine, tier_name)


def main() -> None:
    for name in sys.argv[1:] or ["district"]:
        run(name)


if __name__ == "__main__":
    main()
