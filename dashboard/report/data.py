"""Everything the briefing shows, gathered from the analytics API for one ISO week.

Only the analytics functions are called (no SQL here). District totals are kept as
they are. Outside the cdc role, every breakdown table whose column adds up to a printed
district total (per checkpoint, pass category, isolation site) hides a count between 1
and k-1 as ``"<k"`` and, by the project's secondary suppression
(:func:`analytics.suppression.suppression_mask`), the smallest other counts of that
column as ``"*"``, so that no hidden count can be worked out by subtraction; a rate
computed from a hidden count reads ``"—"``. The case counts behind the risk changes
(which add up to no printed total) go through :func:`analytics.briefing.suppress`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from analytics._common import engine_or_default, local_zone, rules_or_default
from analytics.access import Viewer, sees_small_counts
from analytics.briefing import Briefing, briefing, suppress
from analytics.checkpoints import PassFunnel, checkpoint_summary, checkpoint_throughput, pass_funnel
from analytics.heatmap import heatmap
from analytics.isolation import IsolationDemand, isolation_demand, isolation_status, isolation_timeseries
from analytics.suppression import suppression_mask
from geodata.errors import SandtableError
from geodata.rules import Rules

__all__ = ["ReportData", "collect", "BriefingError", "HIDDEN", "SECONDARY"]

#: What a rate derived from a suppressed count shows.
HIDDEN = "—"
#: What a count hidden by secondary suppression shows (it is k or more, hidden so that a
#: small one cannot be worked out by subtracting the shown ones from the district total).
SECONDARY = "*"
#: The approval-time promise of the pass office (minutes).
PASS_TARGET_MIN = 10.0


class BriefingError(SandtableError, ValueError):
    """The briefing cannot be made for this week (no data, bad arguments)."""


@dataclass
class ReportData:
    """One week's briefing, ready to draw: analytics results plus display tables."""

    week: str
    start: date                      # Monday
    end: date                        # the next Monday (exclusive)
    viewer: Viewer
    k: int
    rules: Rules
    data_as_of: datetime | None
    generated_at: datetime
    incomplete: bool                 # the data stops before the week's end
    brief: Briefing
    risk: pd.DataFrame               # every community: code, names, level, previous, reasons, may_drop_on
    risk_changes: pd.DataFrame       # the communities whose level changed (display columns)
    risk_counts: dict[str, int]
    risk_counts_before: dict[str, int]
    communities: gpd.GeoDataFrame    # outlines: code, name_zh, name_en, geometry
    district: Any                    # the district outline (shapely)
    heat: gpd.GeoDataFrame
    heat_resolution: int
    throughput: pd.DataFrame         # hour, in, out, turned_back (district totals)
    checkpoints: pd.DataFrame        # per checkpoint, suppressed
    funnel: PassFunnel
    funnel_categories: pd.DataFrame  # per category, suppressed
    isolation: IsolationDemand
    isolation_sites: pd.DataFrame    # per site with a bed count, suppressed
    isolation_elsewhere: int         # occupants of places without a bed count (a district total)
    isolation_series: pd.DataFrame   # day, occupied, capacity, admissions, discharges (district)
    clusters: list = field(default_factory=list)

    @property
    def figures(self) -> pd.DataFrame:
        return self.brief.figures

    @property
    def shows_small_counts(self) -> bool:
        return sees_small_counts(self.viewer)

    @property
    def zone(self):  # noqa: ANN201
        return local_zone()


def _local_midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=local_zone())


def _hidden(df: pd.DataFrame, col: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(hidden, primary) masks of a count column: primary = 1..k-1; secondary (from
    :func:`analytics.suppression.suppression_mask`) = the smallest others hidden with
    them, so that no hidden count can be worked out from the district total."""
    values = pd.to_numeric(df[col], errors="coerce").fillna(0).to_numpy(dtype=float)
    return suppression_mask(values, k), (values > 0) & (values < k)


def _suppress_rows(df: pd.DataFrame, counts: list[str], rates: dict[str, list[str]], viewer: Viewer,
                   k: int) -> pd.DataFrame:
    """A breakdown table as shown to ``viewer``: outside cdc each count in ``counts`` that
    is hidden reads ``"<k"`` (primary) or ``"*"`` (secondary), and a rate is hidden in
    the rows where one of the counts it is computed from (``rates[rate]``) is hidden."""
    out = df.copy().astype({c: "object" for c in [*counts, *rates] if c in df.columns})
    if sees_small_counts(viewer) or df.empty:
        return out
    masks = {col: _hidden(df, col, k) for col in {*counts, *(c for cols in rates.values() for c in cols)}}
    for rate, inputs in rates.items():
        hide = np.zeros(len(df), dtype=bool)
        for col in inputs:
            hide |= masks[col][0]
        out.loc[hide, rate] = HIDDEN
    for col in counts:
        hide, primary = masks[col]
        out[col] = [(f"<{k}" if p else SECONDARY) if h else v for v, h, p in zip(df[col], hide, primary)]
    return out


def collect(
    week: str,
    *,
    viewer: Viewer,
    engine: Engine | None = None,
    rules: Rules | None = None,
    heat_resolution: int = 8,
) -> ReportData:
    """Gather the week's briefing from the analytics API (a handful of SQL round trips)."""
    engine = engine_or_default(engine)
    rules = rules_or_default(rules)
    k = rules.privacy.k
    b = briefing(week, viewer=viewer, engine=engine, rules=rules)
    t0, t1 = _local_midnight(b.start), _local_midnight(b.end)
    if b.data_as_of is None:
        msg = f"no data before the end of {week}: load the feeds first (sandtable ingest)"
        raise BriefingError(msg)
    if b.data_as_of < t0:
        newest = pd.Timestamp(b.data_as_of).tz_convert(local_zone()).strftime("%Y-%m-%d %H:%M")
        msg = f"no data in {week} ({b.start} .. {b.end - timedelta(days=1)}): the newest scan is from {newest}"
        raise BriefingError(msg)
    window = (t0, t1)
    at_end = t1 - timedelta(microseconds=1)  # the week's last instant: the same stock as the figures table

    # --- risk: every community with last week's level beside it
    risk = b.risk.copy()
    before = dict(zip(b.risk_changes["code"], b.risk_changes["previous"]))
    risk["previous"] = [before.get(c, lvl) for c, lvl in zip(risk["code"], risk["level"])]
    counts = {lvl: int((risk["level"] == lvl).sum()) for lvl in ("high", "medium", "low")}
    counts_before = {lvl: int((risk["previous"] == lvl).sum()) for lvl in ("high", "medium", "low")}
    changes = risk[risk["level"] != risk["previous"]].copy()
    order = {"high": 0, "medium": 1, "low": 2}
    changes = changes.assign(_o=changes["level"].map(order), _p=changes["previous"].map(order))
    changes = changes.sort_values(["_o", "_p", "code"]).drop(columns=["_o", "_p"])
    changes["reason_counts"] = [
        [(e["reason"], suppress(int(e["case_count"]), viewer, k)) for e in reasons] for reasons in changes["reasons"]
    ]

    from geodata.geography import district_outline, districts

    comm = districts("community")[["code", "name_zh", "name_en", "geometry"]].reset_index(drop=True)

    heat = heatmap(window, heat_resolution, "scans", viewer=viewer, engine=engine, rules=rules)

    # --- checkpoints: the district's hourly totals; per checkpoint, suppressed
    thr = checkpoint_throughput(window, viewer=viewer, engine=engine)
    hourly = thr.groupby(["hour", "direction"], sort=True)[["vehicles", "turned_back"]].sum().reset_index()
    throughput = hourly.pivot(index="hour", columns="direction", values="vehicles").fillna(0).astype(int)
    throughput = throughput.reindex(columns=["in", "out"], fill_value=0)
    throughput["turned_back"] = hourly.groupby("hour")["turned_back"].sum()
    throughput = throughput.reset_index()
    cps = checkpoint_summary(window, viewer=viewer, engine=engine)
    cps = _suppress_rows(cps, ["vehicles_in", "vehicles_out", "turned_back"],
                         {"turned_back_share": ["turned_back", "vehicles_in", "vehicles_out"]}, viewer, k)

    funnel = pass_funnel(window, viewer=viewer, engine=engine, target_minutes=PASS_TARGET_MIN)
    cats = _suppress_rows(funnel.by_category, ["applied", "approved", "rejected", "pending"],
                          {"approval_rate": ["approved", "rejected"],
                           "within_target_share": ["within_target", "due", "applied"],
                           "latency_p50_min": ["decided_timed", "approved", "rejected"]}, viewer, k)

    # --- isolation at the week's last instant, per site and for the district
    demand = isolation_demand(at_end, viewer=viewer, engine=engine, rules=rules)
    status = isolation_status(at_end, viewer=viewer, engine=engine, rules=rules)
    known = status[status["capacity"].notna()].reset_index(drop=True)
    elsewhere = int(status.loc[status["capacity"].isna(), "occupied"].sum())
    sites = known[["site_code", "name", "capacity", "occupied", "occupancy", "free", "free_in_3d", "free_in_7d"]]
    sites = sites.astype({c: "object" for c in ("capacity", "occupied", "occupancy", "free", "free_in_3d",
                                                  "free_in_7d")})
    if not sees_small_counts(viewer) and not sites.empty:
        hide, primary = _hidden(known, "occupied", k)
        for i in np.flatnonzero(hide):
            cap = int(known.at[i, "capacity"])
            sites.at[i, "occupied"] = f"<{k}" if primary[i] else SECONDARY
            sites.at[i, "occupancy"] = HIDDEN
            # free beds = capacity - occupied (and the beds held in 3 or 7 days are at most
            # the occupied ones): print the bound the hidden count allows, or nothing
            for col in ("free", "free_in_3d", "free_in_7d"):
                sites.at[i, col] = f"≥{cap - (k - 1):,}" if primary[i] else SECONDARY
    series = isolation_timeseries((t0 - timedelta(days=7), t1), viewer=viewer, engine=engine, freq="1D")
    series = series[series["capacity"].notna()]
    iso_series = series.groupby("period", sort=True).agg(
        occupied=("occupied", "sum"), capacity=("capacity", "sum"), admissions=("admissions", "sum"),
        discharges=("discharges", "sum")).reset_index().rename(columns={"period": "day"})

    return ReportData(
        week=week, start=b.start, end=b.end, viewer=viewer, k=k, rules=rules, data_as_of=b.data_as_of,
        generated_at=datetime.now(local_zone()), incomplete=b.data_as_of < t1 - timedelta(hours=6),
        brief=b, risk=risk, risk_changes=changes.reset_index(drop=True), risk_counts=counts,
        risk_counts_before=counts_before, communities=comm, district=district_outline(),
        heat=heat, heat_resolution=heat_resolution, throughput=throughput, checkpoints=cps,
        funnel=funnel, funnel_categories=cats, isolation=demand, isolation_sites=sites,
        isolation_elsewhere=elsewhere, isolation_series=iso_series,
        clusters=list(b.clusters),
    )
