"""Checkpoints and vehicle passes: throughput per hour, processing times, the pass funnel.

Three functions, all aggregated in SQL (nothing pulls a table into Python):

- :func:`checkpoint_throughput`: vehicles per local hour (or any fixed ``freq``) per
  checkpoint and direction, released and turned back. A dense grid: every checkpoint,
  every bin of the window, both directions, zeros included, so a chart draws a quiet
  hour as zero rather than as a gap.
- :func:`checkpoint_summary`: the companion table per checkpoint over the same window:
  vehicles in / out, turned-back share, processing-time percentiles (p50, p90, p95).
  Two functions rather than one result object so that each stays a plain DataFrame and
  each screen runs only the query it draws.
- :func:`pass_funnel`: pass applications by category and by reviewer department
  (applied, approved, rejected, pending), approval rate, application-to-decision
  latency percentiles, the share decided within the target (the seed promises "about
  10 minutes"), active passes at the window end, and a latency histogram.

Conventions (every function):

- ``window = (from, to)`` is half-open, ``from <= t < to``; datetimes or ISO strings,
  naive = the district's zone (``SANDTABLE_TIMEZONE``). Bins are local
  (``AT TIME ZONE`` with the zone bound as a parameter) and labelled by their local
  start; a bin cut by the window edge counts only what falls inside the window. Where
  the zone keeps daylight saving, a skipped local hour is not listed and a repeated one
  is a single bin (the district's zone, Asia/Shanghai, has neither).
- A "vehicle" is one crossing: a truck that crosses twice in an hour counts twice.
- Every role may call these (they are aggregates); the ``viewer`` is required and
  checked. Vehicle and pass counts are not counts of persons with a health attribute,
  so no small-count suppression applies; plates, drivers, enterprises and pass ids
  never appear in any output.
- The pass funnel is *as of the window end*: an application made in the window counts
  as approved or rejected only if that decision was made by ``to`` (a decision with no
  recorded time counts as made); otherwise it is pending.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.types import Float

from analytics._common import as_time, engine_or_default, local_zone
from analytics.access import ROLES, Viewer, require

__all__ = ["checkpoint_throughput", "checkpoint_summary", "pass_funnel", "PassFunnel", "PASS_CATEGORIES"]

PASS_CATEGORIES = ("emergency_supplies", "bulk_cargo", "resident")
UNASSIGNED = "unassigned"
#: Bin origin: a local Monday midnight, so daily bins are local days and weekly bins start on Monday.
_ORIGIN = datetime(2000, 1, 3)
_MAX_BINS = 100_000
DEFAULT_LATENCY_BINS = (0, 5, 10, 15, 20, 30, 60, 120, 240, 480, 1440)

THROUGHPUT_COLUMNS = ["checkpoint_code", "name", "hour", "direction", "vehicles", "released", "turned_back"]
SUMMARY_COLUMNS = ["checkpoint_code", "name", "vehicles_in", "vehicles_out", "vehicles", "released", "turned_back",
                   "turned_back_share", "timed", "processing_p50_s", "processing_p90_s", "processing_p95_s"]
FUNNEL_COLUMNS = ["applied", "approved", "rejected", "pending", "approval_rate", "decided_timed",
                  "latency_p50_min", "latency_p90_min", "latency_p95_min", "due", "within_target",
                  "within_target_share", "active"]
HISTOGRAM_COLUMNS = ["from_min", "to_min", "label", "passes"]

# The local bins of a window: every local start from the bin holding :t0 to before :t1.
# A local time that does not exist (skipped at a daylight-saving change) is left out;
# the repeated hour at the autumn change is one bin. Shared with analytics.isolation.
_BINS = """bins AS (
        SELECT b AS bin
        FROM generate_series(date_bin(CAST(:step AS interval), CAST(:t0 AS timestamptz) AT TIME ZONE CAST(:tz AS text),
                                      CAST(:origin AS timestamp)),
                             CAST(:t1 AS timestamptz) AT TIME ZONE CAST(:tz AS text), CAST(:step AS interval)) AS b
        WHERE b < CAST(:t1 AS timestamptz) AT TIME ZONE CAST(:tz AS text)
          AND (b AT TIME ZONE CAST(:tz AS text)) AT TIME ZONE CAST(:tz AS text) = b
    )"""

# Crossings are aggregated first (one index range scan of the window), then joined to
# the checkpoints shown: every site of kind checkpoint, and any other site that has a
# crossing in the window (so no vehicle goes uncounted). No correlated subquery per site.
_THROUGHPUT = text(
    f"""
    WITH counts AS (
        SELECT c.checkpoint_id, c.direction,
               date_bin(CAST(:step AS interval), c.crossed_at AT TIME ZONE CAST(:tz AS text),
                        CAST(:origin AS timestamp)) AS bin,
               count(*) AS vehicles,
               count(*) FILTER (WHERE c.outcome = 'released') AS released,
               count(*) FILTER (WHERE c.outcome = 'turned_back') AS turned_back
        FROM crossings c
        WHERE c.crossed_at >= :t0 AND c.crossed_at < :t1
        GROUP BY 1, 2, 3
    ),
    cp AS (
        SELECT s.site_id, s.site_code, s.name FROM sites s
        WHERE s.kind = 'checkpoint' OR s.site_id IN (SELECT checkpoint_id FROM counts)
    ),
    {_BINS}
    SELECT cp.site_code, cp.name, b.bin AT TIME ZONE CAST(:tz AS text) AS hour, d.direction,
           coalesce(k.vehicles, 0) AS vehicles, coalesce(k.released, 0) AS released,
           coalesce(k.turned_back, 0) AS turned_back
    FROM cp CROSS JOIN bins b CROSS JOIN (VALUES ('in'), ('out')) AS d(direction)
    LEFT JOIN counts k ON k.checkpoint_id = cp.site_id AND k.bin = b.bin AND k.direction = d.direction
    ORDER BY cp.site_code, b.bin, d.direction
    """
)

_SUMMARY = text(
    """
    WITH agg AS (
        SELECT c.checkpoint_id,
               count(*) FILTER (WHERE c.direction = 'in') AS vehicles_in,
               count(*) FILTER (WHERE c.direction = 'out') AS vehicles_out,
               count(*) AS vehicles,
               count(*) FILTER (WHERE c.outcome = 'released') AS released,
               count(*) FILTER (WHERE c.outcome = 'turned_back') AS turned_back,
               count(c.processing_s) AS timed,
               percentile_cont(ARRAY[0.5, 0.9, 0.95]) WITHIN GROUP (ORDER BY c.processing_s) AS pct
        FROM crossings c
        WHERE c.crossed_at >= :t0 AND c.crossed_at < :t1
        GROUP BY c.checkpoint_id
    )
    SELECT s.site_code, s.name, coalesce(a.vehicles_in, 0), coalesce(a.vehicles_out, 0), coalesce(a.vehicles, 0),
           coalesce(a.released, 0), coalesce(a.turned_back, 0), coalesce(a.timed, 0), a.pct
    FROM sites s LEFT JOIN agg a ON a.checkpoint_id = s.site_id
    WHERE s.kind = 'checkpoint' OR a.checkpoint_id IS NOT NULL
    ORDER BY s.site_code
    """
)

# Applications in the window with their status as of :t1, their latency (minutes) and
# whether their target time had passed by :t1 ("due"); plus approved passes valid at :t1.
# One GROUPING SETS pass gives the per-category rows, the per-department rows and the total.
_APPS = """
    apps AS (
        SELECT p.category, coalesce(p.reviewer_dept, :unassigned) AS dept,
               CASE WHEN p.decision IN ('approved', 'rejected') AND (p.decided_at IS NULL OR p.decided_at <= :t1)
                    THEN p.decision ELSE 'pending' END AS status,
               CASE WHEN p.decision IN ('approved', 'rejected') AND p.decided_at <= :t1
                    THEN extract(epoch FROM p.decided_at - p.applied_at) / 60.0 END AS latency_min,
               p.applied_at + CAST(:target AS interval) <= :t1 AS due
        FROM passes p
        WHERE p.applied_at >= :t0 AND p.applied_at < :t1
    )"""

_FUNNEL = text(
    f"""
    WITH {_APPS},
    active AS (
        SELECT p.category, coalesce(p.reviewer_dept, :unassigned) AS dept
        FROM passes p
        WHERE p.decision = 'approved' AND (p.decided_at IS NULL OR p.decided_at <= :t1)
          AND p.valid_from <= :t1 AND p.valid_to >= :t1
    ),
    rows AS (
        SELECT category, dept, 1 AS applied, status, latency_min, due, 0 AS active FROM apps
        UNION ALL
        SELECT category, dept, 0, NULL, NULL, false, 1 FROM active
    )
    SELECT grouping(category) AS g_cat, grouping(dept) AS g_dept, category, dept,
           sum(applied) AS applied,
           count(*) FILTER (WHERE status = 'approved') AS approved,
           count(*) FILTER (WHERE status = 'rejected') AS rejected,
           count(*) FILTER (WHERE status = 'pending') AS pending,
           count(latency_min) AS decided_timed,
           percentile_cont(ARRAY[0.5, 0.9, 0.95]) WITHIN GROUP (ORDER BY latency_min) AS pct,
           count(*) FILTER (WHERE due) AS due,
           count(*) FILTER (WHERE due AND latency_min <= :target_min) AS within_target,
           sum(active) AS active
    FROM rows
    GROUP BY GROUPING SETS ((category), (dept), ())
    """
)

_HISTOGRAM = text(
    f"""
    WITH {_APPS},
    edges AS (SELECT e.i, e.lo, e.hi FROM unnest(:lo, :hi) WITH ORDINALITY AS e(lo, hi, i))
    SELECT e.i, count(a.latency_min) AS passes
    FROM edges e
    LEFT JOIN apps a ON (a.latency_min > e.lo OR (e.i = 1 AND a.latency_min >= e.lo)) AND a.latency_min <= e.hi
    GROUP BY e.i ORDER BY e.i
    """
).bindparams(bindparam("lo", type_=ARRAY(Float)), bindparam("hi", type_=ARRAY(Float)))


def _check_viewer(viewer: Viewer, what: str) -> None:
    if not isinstance(viewer, Viewer):
        msg = f"viewer must be an analytics.access.Viewer, got {type(viewer).__name__}"
        raise TypeError(msg)
    require(viewer, *ROLES, what=what)


def _window(window: tuple[datetime | str, datetime | str]) -> tuple[datetime, datetime]:
    try:
        start, end = window
    except (TypeError, ValueError) as err:
        msg = f"window must be a pair (from, to), got {window!r}"
        raise ValueError(msg) from err
    t0, t1 = as_time(start), as_time(end)
    if t0 is None or t1 is None:
        msg = "window needs both ends (from, to)"
        raise ValueError(msg)
    if t1 <= t0:
        msg = f"the window must end after it starts ({t0.isoformat()} .. {t1.isoformat()})"
        raise ValueError(msg)
    return t0, t1


def _step(freq: str | timedelta) -> timedelta:
    try:
        step = pd.Timedelta(freq).to_pytimedelta()
    except (ValueError, TypeError) as err:
        msg = f"freq must be a fixed duration such as '1h', '15min' or '1D', got {freq!r}"
        raise ValueError(msg) from err
    if step <= timedelta(0):
        msg = f"freq must be positive, got {freq!r}"
        raise ValueError(msg)
    return step


def _bin_params(t0: datetime, t1: datetime, freq: str | timedelta) -> dict:
    step = _step(freq)
    if (t1 - t0) / step > _MAX_BINS:
        msg = f"the window holds more than {_MAX_BINS} bins of {freq!r}; choose a larger freq"
        raise ValueError(msg)
    return {"t0": t0, "t1": t1, "step": step, "tz": str(local_zone()), "origin": _ORIGIN}


def _local(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).dt.tz_convert(local_zone())


def _share(num: pd.Series, den: pd.Series) -> pd.Series:
    num, den = num.astype("float64"), den.astype("float64")
    return (num / den.where(den > 0)).astype("float64")


def _pct(values: pd.Series, i: int) -> pd.Series:
    """The i-th entry of each row's percentile array (NULL or a missing row: NaN)."""
    return pd.Series([float(p[i]) if isinstance(p, (list, tuple)) and p[i] is not None else math.nan
                      for p in values], index=values.index, dtype="float64")


def checkpoint_throughput(
    window: tuple[datetime | str, datetime | str],
    *,
    viewer: Viewer,
    engine: Engine | None = None,
    freq: str | timedelta = "1h",
) -> pd.DataFrame:
    """Vehicles per local bin (an hour by default) per checkpoint and direction.

    Columns: ``checkpoint_code``, ``name``, ``hour`` (the bin's local start, tz-aware,
    whatever ``freq`` is), ``direction`` (``in``, ``out``), ``vehicles`` (crossings),
    ``released``, ``turned_back``. Every checkpoint x bin x direction appears (zeros
    included), ordered by checkpoint, hour, direction. ``freq``: any fixed duration
    (``"15min"``, ``"1h"``, ``"1D"``); daily bins are local days.
    """
    _check_viewer(viewer, "see checkpoint throughput")
    t0, t1 = _window(window)
    params = _bin_params(t0, t1, freq)
    with engine_or_default(engine).connect() as conn:
        rows = conn.execute(_THROUGHPUT, params).all()
    df = pd.DataFrame(rows, columns=THROUGHPUT_COLUMNS)
    df["hour"] = _local(df["hour"])
    for col in ("vehicles", "released", "turned_back"):
        df[col] = df[col].astype("int64")
    for col in ("checkpoint_code", "name", "direction"):
        df[col] = df[col].astype("object")
    return df


def checkpoint_summary(
    window: tuple[datetime | str, datetime | str],
    *,
    viewer: Viewer,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Per checkpoint over ``window``: volumes, turned-back share, processing-time percentiles.

    Columns: ``checkpoint_code``, ``name``, ``vehicles_in``, ``vehicles_out``,
    ``vehicles``, ``released``, ``turned_back``, ``turned_back_share`` (turned back /
    vehicles; NaN with no vehicle), ``timed`` (crossings with a processing time),
    ``processing_p50_s``, ``processing_p90_s``, ``processing_p95_s`` (seconds, linear
    interpolation between the recorded times as ``numpy.percentile`` does; NaN when none
    was recorded). Every checkpoint appears, ordered by code.
    """
    _check_viewer(viewer, "see checkpoint summaries")
    t0, t1 = _window(window)
    with engine_or_default(engine).connect() as conn:
        rows = conn.execute(_SUMMARY, {"t0": t0, "t1": t1}).all()
    raw = pd.DataFrame(rows, columns=["checkpoint_code", "name", "vehicles_in", "vehicles_out", "vehicles",
                                      "released", "turned_back", "timed", "pct"])
    df = raw[["checkpoint_code", "name"]].astype("object")
    for col in ("vehicles_in", "vehicles_out", "vehicles", "released", "turned_back"):
        df[col] = raw[col].astype("int64")
    df["turned_back_share"] = _share(raw["turned_back"], raw["vehicles"])
    df["timed"] = raw["timed"].astype("int64")
    for i, q in enumerate((50, 90, 95)):
        df[f"processing_p{q}_s"] = _pct(raw["pct"], i)
    return df[SUMMARY_COLUMNS]


@dataclass(frozen=True)
class PassFunnel:
    """The result of :func:`pass_funnel`.

    Scalars are the totals over the window. ``by_category`` (index-free; one row per
    category, all three always present) and ``by_department`` (one row per reviewer
    department seen, ``"unassigned"`` for none) carry the columns ``applied``,
    ``approved``, ``rejected``, ``pending``, ``approval_rate`` (approved / decided),
    ``decided_timed`` (decisions with a recorded time), ``latency_p50_min``,
    ``latency_p90_min``, ``latency_p95_min``, ``due`` (applications whose target time
    had passed by the window end), ``within_target`` (of those, decided within the
    target, inclusive), ``within_target_share``, ``active`` (approved passes valid at the
    window end, whenever applied). ``latency_histogram``: ``from_min``, ``to_min``,
    ``label``, ``passes``; bins are right-closed ``(from, to]``, the first also holds its
    left edge, the last is open-ended (``to_min`` = inf).
    """

    window_from: datetime
    window_to: datetime
    target_minutes: float
    applied: int
    approved: int
    rejected: int
    pending: int
    approval_rate: float
    latency_p50_min: float
    latency_p90_min: float
    latency_p95_min: float
    due: int
    within_target: int
    within_target_share: float
    active_passes: int
    by_category: pd.DataFrame
    by_department: pd.DataFrame
    latency_histogram: pd.DataFrame

    def to_dict(self) -> dict:
        """JSON-ready: scalars, and the frames as lists of records."""
        def clean(v: object) -> object:
            return None if isinstance(v, float) and math.isnan(v) else v

        def records(df: pd.DataFrame) -> list[dict]:
            return [{k: clean(v.item() if hasattr(v, "item") else v) for k, v in r.items()}
                    for r in df.to_dict("records")]

        out = {k: clean(getattr(self, k)) for k in (
            "target_minutes", "applied", "approved", "rejected", "pending", "approval_rate", "latency_p50_min",
            "latency_p90_min", "latency_p95_min", "due", "within_target", "within_target_share", "active_passes")}
        hist = self.latency_histogram.assign(
            to_min=[None if math.isinf(v) else v for v in self.latency_histogram["to_min"]])
        return {"window": {"from": self.window_from.isoformat(), "to": self.window_to.isoformat()}, **out,
                "by_category": records(self.by_category), "by_department": records(self.by_department),
                "latency_histogram": records(hist)}


def _funnel_frame(raw: pd.DataFrame, key: str) -> pd.DataFrame:
    df = pd.DataFrame({key: raw[key].astype("object")})
    for col in ("applied", "approved", "rejected", "pending", "decided_timed", "due", "within_target", "active"):
        df[col] = raw[col].fillna(0).astype("int64")
    df["approval_rate"] = _share(df["approved"], df["approved"] + df["rejected"])
    for i, q in enumerate((50, 90, 95)):
        df[f"latency_p{q}_min"] = _pct(raw["pct"], i)
    df["within_target_share"] = _share(df["within_target"], df["due"])
    return df[[key, *FUNNEL_COLUMNS]].reset_index(drop=True)


def _latency_bins(bins: Sequence[float]) -> tuple[list[float], list[float], list[str]]:
    edges = [float(b) for b in bins]
    if not edges or edges[0] < 0 or any(b <= a for a, b in zip(edges, edges[1:])) or math.isinf(edges[-1]):
        msg = f"latency_bins must be finite, increasing minutes from >= 0, got {tuple(bins)!r}"
        raise ValueError(msg)
    lo = edges
    hi = [*edges[1:], math.inf]

    def fmt(v: float) -> str:
        return f"{v:g}"

    labels = [f"{fmt(a)}–{fmt(b)}" for a, b in zip(lo[:-1], hi[:-1])] + [f">{fmt(lo[-1])}"]
    return lo, hi, labels


def pass_funnel(
    window: tuple[datetime | str, datetime | str],
    *,
    viewer: Viewer,
    engine: Engine | None = None,
    target_minutes: float = 10.0,
    latency_bins: Sequence[float] = DEFAULT_LATENCY_BINS,
) -> PassFunnel:
    """Pass applications made in ``window`` (by ``applied_at``), as of the window end.

    Pending = applied and not approved or rejected by the window end. Approval rate =
    approved / (approved + rejected). Latency = ``decided_at - applied_at`` in minutes
    over decisions made by the window end (percentiles interpolated linearly). The
    target share counts, among applications made at least ``target_minutes`` before the
    window end, those decided within ``target_minutes`` (exactly on time counts), so a
    still-pending application past its target counts against it. Active passes: approved
    (by the window end), ``valid_from <= to <= valid_to``, whenever applied.
    """
    _check_viewer(viewer, "see the pass funnel")
    t0, t1 = _window(window)
    if not (isinstance(target_minutes, (int, float)) and not isinstance(target_minutes, bool)
            and 0 < target_minutes < math.inf):
        msg = f"target_minutes must be a positive number, got {target_minutes!r}"
        raise ValueError(msg)
    lo, hi, labels = _latency_bins(latency_bins)
    params = {"t0": t0, "t1": t1, "unassigned": UNASSIGNED, "target": timedelta(minutes=target_minutes),
              "target_min": float(target_minutes)}
    with engine_or_default(engine).connect() as conn:
        rows = conn.execute(_FUNNEL, params).all()
        hist_rows = conn.execute(_HISTOGRAM, {**params, "lo": lo, "hi": hi}).all()
    raw = pd.DataFrame(rows, columns=["g_cat", "g_dept", "category", "dept", "applied", "approved", "rejected",
                                      "pending", "decided_timed", "pct", "due", "within_target", "active"])
    cats = raw[(raw["g_cat"] == 0)].set_index("category")
    cats = cats.reindex(list(PASS_CATEGORIES) + sorted(set(cats.index) - set(PASS_CATEGORIES)))
    cats = cats.rename_axis("category").reset_index()
    by_category = _funnel_frame(cats, "category")
    depts = raw[raw["g_dept"] == 0].sort_values("dept").rename(columns={"dept": "reviewer_dept"})
    by_department = _funnel_frame(depts, "reviewer_dept")
    total = _funnel_frame(raw[(raw["g_cat"] == 1) & (raw["g_dept"] == 1)].assign(total="all"), "total")
    t = total.iloc[0]
    counts = dict(hist_rows)
    histogram = pd.DataFrame({"from_min": lo, "to_min": hi, "label": labels,
                              "passes": [int(counts.get(i + 1, 0)) for i in range(len(lo))]})
    histogram["passes"] = histogram["passes"].astype("int64")
    return PassFunnel(
        window_from=t0, window_to=t1, target_minutes=float(target_minutes),
        applied=int(t["applied"]), approved=int(t["approved"]), rejected=int(t["rejected"]),
        pending=int(t["pending"]), approval_rate=float(t["approval_rate"]),
        latency_p50_min=float(t["latency_p50_min"]), latency_p90_min=float(t["latency_p90_min"]),
        latency_p95_min=float(t["latency_p95_min"]), due=int(t["due"]), within_target=int(t["within_target"]),
        within_target_share=float(t["within_target_share"]), active_passes=int(t["active"]),
        by_category=by_category, by_department=by_department, latency_histogram=histogram,
    )
