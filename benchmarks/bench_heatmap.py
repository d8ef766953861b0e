"""Heatmap latency against a NumPy reference over the same cells (our speed of light).

Ours: ``analytics.heatmap`` at resolution 9 for one day and for 14 days, scans and
distinct persons, as the dashboard calls it. Reference: the same counts computed with
NumPy (``bincount`` / ``unique``) over arrays already in memory (loading them is not
timed). Targets (issue 5, city tier): one day < 100 ms, 14 days < 500 ms.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import timedelta

import numpy as np
import pandas as pd
from sqlalchemy import text

from analytics import Viewer, heatmap
from benchmarks._tiers import TIERS, loaded_tier

WALL = Viewer("bench", "command")


def _numpy_reference(engine, t0, t1, res: int) -> float:  # noqa: ANN001
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT h3_parent(h3, :r), person_id FROM scans "
                                 "WHERE scanned_at >= :t0 AND scanned_at < :t1"),
                            {"r": res, "t0": t0, "t1": t1}).all()
    cells = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    persons = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    times = []
    for _ in range(5):
        t = time.perf_counter()
        uc, inv = np.unique(cells, return_inverse=True)
        np.bincount(inv, minlength=len(uc))  # scans per cell
        pairs = np.unique(inv.astype(np.int64) * (1 << 32) + np.unique(persons, return_inverse=True)[1])
        np.bincount((pairs >> 32).astype(np.int64), minlength=len(uc))  # distinct persons per cell
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def run(tier_name: str) -> list[dict]:
    engine, _ = loaded_tier(TIERS[tier_name])
    with engine.connect() as conn:
        newest = conn.execute(text("SELECT max(scanned_at) FROM scans")).scalar_one()
    end = pd.Timestamp(newest).tz_convert("Asia/Shanghai").normalize().to_pydatetime()
    out = []
    for days in (1, 14):
        t0 = end - timedelta(days=days)
        for measure in ("scans", "persons"):
            heatmap((t0, end), 9, measure, viewer=WALL, engine=engine)  # warm
            times = []
            for _ in range(7):
                t = time.perf_counter()
                heatmap((t0, end), 9, measure, viewer=WALL, engine=engine)
                times.append((time.perf_counter() - t) * 1000)
            ref = _numpy_reference(engine, t0, end, 9)
            med = statistics.median(times)
            out.append({"tier": tier_name, "days": days, "measure": measure, "median_ms": med, "numpy_ms": ref})
            print(f"heatmap [{tier_name}] res 9, {days:>2} day(s), {measure:<7}: ours median {med:.1f} ms | "
                  f"NumPy reference {ref:.1f} ms | ratio x{med / ref:.1f}")
    return out


def main() -> None:
    for name in sys.argv[1:] or ["district"]:
        run(name)


if __name__ == "__main__":
    main()
