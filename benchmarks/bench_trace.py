"""Trace latency (median, p95) against the textbook PostGIS approach on the same data.

Ours: ``analytics.trace`` in full (window, trajectory, both degrees, evidence, JSON).
Baseline: an ``ST_DWithin`` (50 m) + ±30-minute self-join over scan points with a GiST
index, for the same index persons, windows and rules (close contacts in the index
person's window; secondary contacts of each close contact from their first exposure to
their isolation, as of the same time), as a GIS analyst would write it; it only counts
the secondary contacts (no evidence, no JSON), which favours it. Targets (issue 5): p95 < 50 ms (district), < 100 ms (city), >= 20x faster.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from sqlalchemy import text

from analytics import Viewer, trace
from benchmarks._tiers import TIERS, loaded_tier

CDC = Viewer("bench", "cdc")

_BASELINE = text(
    """
    WITH idx AS (
        SELECT scanned_at, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS g FROM scans
        WHERE person_id = :pid AND scanned_at BETWEEN :w0 AND :w1
    ),
    close_ev AS (
        SELECT o.person_id, o.scanned_at FROM idx i
        JOIN scans o ON ST_DWithin(ST_SetSRID(ST_MakePoint(o.lon, o.lat), 4326), i.g, 0.0005)
                    AND o.scanned_at BETWEEN i.scanned_at - interval '30 minutes' AND i.scanned_at + interval '30 minutes'
                    AND o.scanned_at <= :asof
        WHERE o.person_id <> :pid
    ),
    close AS (
        SELECT c.person_id, min(c.scanned_at) AS first,
               (SELECT min(z.admitted_at) FROM isolation_stays z
                 WHERE z.person_id = c.person_id AND z.admitted_at >= min(c.scanned_at)) AS isolated_at
        FROM close_ev c GROUP BY c.person_id
    ),
    k AS (
        SELECT s.scanned_at, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) AS g FROM close c
        JOIN scans s ON s.person_id = c.person_id AND s.scanned_at >= c.first
                    AND s.scanned_at <= COALESCE(c.isolated_at, 'infinity') AND s.scanned_at <= :asof
    )
    SELECT count(DISTINCT o.person_id) FROM k
    JOIN scans o ON ST_DWithin(ST_SetSRID(ST_MakePoint(o.lon, o.lat), 4326), k.g, 0.0005)
                AND o.scanned_at BETWEEN k.scanned_at - interval '30 minutes' AND k.scanned_at + interval '30 minutes'
                AND o.scanned_at <= :asof
    WHERE o.person_id <> :pid AND o.person_id NOT IN (SELECT person_id FROM close)
    """
)


#: The same without the rules' bounds on the close contacts' scans (every scan of theirs
#: since the window opened, to the end of the data): how the self-join is often written.
_BASELINE_OPEN = text(
    """
    WITH idx AS (
        SELECT person_id, scanned_at, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS g FROM scans
        WHERE person_id = :pid AND scanned_at BETWEEN :w0 AND :w1
    ),
    close AS (
        SELECT DISTINCT o.person_id, o.scanned_at FROM idx i
        JOIN scans o ON ST_DWithin(ST_SetSRID(ST_MakePoint(o.lon, o.lat), 4326), i.g, 0.0005)
                    AND o.scanned_at BETWEEN i.scanned_at - interval '30 minutes' AND i.scanned_at + interval '30 minutes'
        WHERE o.person_id <> :pid
    ),
    k AS (
        SELECT s.person_id, s.scanned_at, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) AS g FROM scans s
        WHERE s.person_id IN (SELECT person_id FROM close) AND s.scanned_at >= :w0
    )
    SELECT count(DISTINCT o.person_id) FROM k
    JOIN scans o ON ST_DWithin(ST_SetSRID(ST_MakePoint(o.lon, o.lat), 4326), k.g, 0.0005)
                AND o.scanned_at BETWEEN k.scanned_at - interval '30 minutes' AND k.scanned_at + interval '30 minutes'
    WHERE o.person_id <> :pid
    """
)


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def run(tier_name: str, n: int = 200, n_baseline: int = 15) -> dict:
    tier = TIERS[tier_name]
    engine, sim_dir = loaded_tier(tier)
    import pandas as pd

    # index persons: every case (default window), then their close contacts traced as of
    # their first exposure plus two days (what field teams do next), up to n in all
    infections = pd.read_csv(sim_dir / "truth" / "infections.csv", dtype=str)
    contacts = pd.read_csv(sim_dir / "truth" / "contacts.csv", dtype=str)
    index = [(r, None) for r in infections.dropna(subset=["first_positive_sample_at"])["person_ref"]]
    close = contacts[contacts["degree"] == "close"].drop_duplicates("contact_ref")
    index += [(r.contact_ref, pd.Timestamp(r.first_exposure_at) + pd.Timedelta(days=2)) for r in close.itertuples()]
    index = index[:n]
    if not index:
        print("no cases in this tier", file=sys.stderr)
        return {}
    for ref, at in index[:5]:  # warm the pooled connections' prepared plans
        trace(ref, at, viewer=CDC, purpose="benchmark", engine=engine).to_json()
    ours, windows = [], []
    for ref, at in index:
        t = time.perf_counter()
        res = trace(ref, at, viewer=CDC, purpose="benchmark", engine=engine)
        res.to_json()
        ours.append((time.perf_counter() - t) * 1000)
        windows.append((res.person_id, res.window_from, res.window_to, at))
    with engine.begin() as conn:
        conn.execute(text("CREATE INDEX IF NOT EXISTS bench_scans_gist ON scans USING gist "
                          "(ST_SetSRID(ST_MakePoint(lon, lat), 4326))"))
        conn.execute(text("ANALYZE scans"))
    base, base_open = [], []
    with engine.connect() as conn:
        for pid, w0, w1, at in windows[:n_baseline]:
            far = pd.Timestamp("2100-01-01", tz="UTC")
            w1 = w1 if w1 == w1 and w1 is not None else far
            asof = pd.Timestamp(at, tz="Asia/Shanghai") if at is not None and pd.Timestamp(at).tzinfo is None \
                else (pd.Timestamp(at) if at is not None else far)
            t = time.perf_counter()
            conn.execute(_BASELINE, {"pid": pid, "w0": w0, "w1": w1, "asof": asof}).scalar_one()
            base.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            conn.execute(_BASELINE_OPEN, {"pid": pid, "w0": w0, "w1": w1}).scalar_one()
            base_open.append((time.perf_counter() - t) * 1000)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX IF EXISTS bench_scans_gist"))
    out = {
        "tier": tier_name, "traces": len(ours), "median_ms": statistics.median(ours), "p95_ms": _pct(ours, 0.95),
        "baseline_median_ms": statistics.median(base), "baseline_p95_ms": _pct(base, 0.95),
    }
    same = ours[:len(base)]  # ours on the very persons and windows the baseline ran
    out["same_median_ms"] = statistics.median(same)
    out["speedup_median"] = out["baseline_median_ms"] / out["same_median_ms"]
    out["speedup_per_trace_median"] = statistics.median(b / o for b, o in zip(base, same))
    print(f"trace [{tier_name}] ours: median {out['median_ms']:.1f} ms, p95 {out['p95_ms']:.1f} ms over "
          f"{len(ours)} index persons (max {max(ours):.0f} ms) | on the baseline's {len(base)} persons: ours median "
          f"{out['same_median_ms']:.1f} ms, ST_DWithin self-join median {out['baseline_median_ms']:.1f} ms, "
          f"p95 {out['baseline_p95_ms']:.1f} ms | speed-up x{out['speedup_median']:.1f} "
          f"(per trace, median x{out['speedup_per_trace_median']:.1f}) | without the rules' bounds: "
          f"median {statistics.median(base_open):.1f} ms, x{statistics.median(base_open) / out['same_median_ms']:.1f}; "
          f"load average {os.getloadavg()[0]:.1f}")
    out["baseline_open_median_ms"] = statistics.median(base_open)
    return out


def main() -> None:
    for name in sys.argv[1:] or ["district"]:
        run(name)


if __name__ == "__main__":
    main()
