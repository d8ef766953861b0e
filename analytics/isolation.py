"""Isolation sites: capacity, occupancy, admissions and discharges, beds free in 3 and 7 days.

- :func:`isolation_status`: one row per isolation site at an instant ``at``.
- :func:`isolation_demand`: the district's totals at ``at`` and the beds left after an
  expected number of new admissions (the close contacts tracing found today).
- :func:`isolation_timeseries`: admissions, discharges and occupancy per site over time.

Definitions (all computed in SQL; instants are inclusive where stated):

- **Occupied at t**: ``admitted_at <= t`` and (``discharged_at`` is null or
  ``discharged_at > t``): a person admitted exactly at t is in, one discharged exactly
  at t is out.
- **Today**: the local day (``SANDTABLE_TIMEZONE``) holding ``at``, whole:
  ``admissions_today`` / ``discharges_today`` count ``[00:00, 24:00)`` of that day, so a
  report for a past day shows the day's full figures.
- **Expected end** of a stay: its recorded ``discharged_at`` when there is one (also a
  future one); else ``admitted_at`` + the rules' duration for its category: ``case`` ->
  ``isolation.case_days``, ``close_contact`` -> ``close_contact_central_days``,
  ``inbound`` -> ``inbound_high_risk_central_days``, ``secondary_contact`` ->
  ``secondary_contact_home_days`` (the rules send them home, but one found in a
  central site occupies a bed there for that long), ``other`` -> none (the bed stays
  taken until a discharge is recorded).
- **Beds free in N days** (``free_in_3d``, ``free_in_7d``): capacity minus the persons
  occupying at ``at`` whose expected end is after ``at`` + N local days (a stay expected
  to end exactly then has freed its bed). Admissions after ``at`` are not foreseen:
  that is what ``expected_admissions`` in :func:`isolation_demand` is for. Stays past
  their expected end with no discharge recorded count as freeing their bed (the rules
  say they are due); ``overdue`` shows how many such beds the forecast relies on.
- **Free** counts never go below zero; ``occupancy`` > 1 shows a site over capacity.
  ``over_90``: more than 90 % of capacity occupied (exactly 90 % is not over).
- Sites shown: every site of kind ``isolation_site``, and any other site (a hospital
  ward, say) with an occupant, an admission or a discharge at the time or in the period
  asked about, so that no occupant goes uncounted.

Privacy: every role may call these (aggregates); the ``viewer`` is required and
checked. The outputs count beds and occupants per facility and never break them down
by category (case, contact, ...), so a small number says no more than that someone is
in isolation there, which is what anyone who saw them taken there already knows; small
counts are therefore shown to every role (a hotel with 3 guests shows 3), because bed
allocation needs exact numbers. No person id, pseudonym or category count is output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine

from analytics._common import as_time, engine_or_default, local_zone, rules_or_default, utcnow
from analytics.access import Viewer
from analytics.checkpoints import _BINS, _bin_params, _check_viewer, _local, _window
from geodata.rules import Rules

__all__ = ["isolation_status", "isolation_demand", "isolation_timeseries", "IsolationDemand"]

STATUS_COLUMNS = ["site_code", "name", "capacity", "occupied", "admissions_today", "discharges_today", "occupancy",
                  "over_90", "free", "free_in_3d", "free_in_7d", "overdue"]
TIMESERIES_COLUMNS = ["site_code", "name", "period", "capacity", "admissions", "discharges", "occupied",
                      "occupancy"]

# Sites shown: every isolation site, and any other site that has an occupant or an
# admission or discharge in the period asked about (joined from the aggregated stays,
# not probed site by site).
_SITES = """
    st AS (
        SELECT s.site_id, s.site_code, s.name, s.capacity FROM sites s
        WHERE s.kind = 'isolation_site' OR s.site_id IN (SELECT site_id FROM {used})
    )"""

_STATUS = text(
    f"""
    WITH z AS (
        SELECT z.site_id, z.admitted_at, z.discharged_at,
               z.admitted_at <= :at AND (z.discharged_at IS NULL OR z.discharged_at > :at) AS occ,
               coalesce(z.discharged_at, z.admitted_at + CASE z.category
                   WHEN 'case' THEN CAST(:case_d AS interval)
                   WHEN 'close_contact' THEN CAST(:close_d AS interval)
                   WHEN 'inbound' THEN CAST(:inbound_d AS interval)
                   WHEN 'secondary_contact' THEN CAST(:secondary_d AS interval) END) AS expected_end
        FROM isolation_stays z
        WHERE (z.admitted_at <= :at AND (z.discharged_at IS NULL OR z.discharged_at > :at))
           OR (z.admitted_at >= :d0 AND z.admitted_at < :d1)
           OR (z.discharged_at >= :d0 AND z.discharged_at < :d1)
    ),
    {_SITES.format(used="z").strip()}
    SELECT st.site_code, st.name, st.capacity,
           count(z.site_id) FILTER (WHERE z.occ) AS occupied,
           count(z.site_id) FILTER (WHERE z.admitted_at >= :d0 AND z.admitted_at < :d1) AS admissions_today,
           count(z.site_id) FILTER (WHERE z.discharged_at >= :d0 AND z.discharged_at < :d1) AS discharges_today,
           count(z.site_id) FILTER (WHERE z.occ AND (z.expected_end IS NULL OR z.expected_end > :at3)) AS held_3d,
           count(z.site_id) FILTER (WHERE z.occ AND (z.expected_end IS NULL OR z.expected_end > :at7)) AS held_7d,
           count(z.site_id) FILTER (WHERE z.occ AND z.discharged_at IS NULL AND z.expected_end <= :at) AS overdue
    FROM st LEFT JOIN z ON z.site_id = st.site_id
    GROUP BY st.site_id, st.site_code, st.name, st.capacity
    ORDER BY st.site_code
    """
)

# Occupancy per bin is the count as the bin closes (admitted before its end, not
# discharged before its end): the count before the window plus the running sum of
# admissions minus discharges, so occupied = previous + admissions - discharges exactly.
_TIMESERIES = text(
    f"""
    WITH {_BINS},
    ev AS (
        SELECT site_id, admitted_at AS at, 1 AS adm, 0 AS dis FROM isolation_stays
        WHERE admitted_at >= :t0 AND admitted_at < :t1
        UNION ALL
        SELECT site_id, discharged_at, 0, 1 FROM isolation_stays
        WHERE discharged_at >= :t0 AND discharged_at < :t1
    ),
    agg AS (
        SELECT site_id, date_bin(CAST(:step AS interval), at AT TIME ZONE CAST(:tz AS text),
                                 CAST(:origin AS timestamp)) AS bin,
               sum(adm) AS adm, sum(dis) AS dis
        FROM ev GROUP BY 1, 2
    ),
    before AS (
        SELECT site_id, count(*) AS n FROM isolation_stays
        WHERE admitted_at < :t0 AND (discharged_at IS NULL OR discharged_at >= :t0)
        GROUP BY site_id
    ),
    used AS (SELECT site_id FROM agg UNION SELECT site_id FROM before),
    {_SITES.format(used="used").strip()}
    SELECT st.site_code, st.name, b.bin AT TIME ZONE CAST(:tz AS text) AS period, st.capacity,
           coalesce(a.adm, 0) AS admissions, coalesce(a.dis, 0) AS discharges,
           coalesce(o.n, 0) + sum(coalesce(a.adm, 0) - coalesce(a.dis, 0))
               OVER (PARTITION BY st.site_id ORDER BY b.bin) AS occupied
    FROM st CROSS JOIN bins b
    LEFT JOIN agg a ON a.site_id = st.site_id AND a.bin = b.bin
    LEFT JOIN before o ON o.site_id = st.site_id
    ORDER BY st.site_code, b.bin
    """
)


def _day(at: datetime) -> tuple[datetime, datetime]:
    zone = local_zone()
    day = at.astimezone(zone).date()
    start = datetime.combine(day, time(), tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)


def _status_frame(at: datetime, engine: Engine | None, rules: Rules) -> tuple[datetime, pd.DataFrame]:
    at = as_time(at) if at is not None else utcnow()
    local = at.astimezone(local_zone())
    d0, d1 = _day(at)
    iso = rules.isolation
    params = {
        "at": at, "d0": d0, "d1": d1,
        "at3": local + timedelta(days=3), "at7": local + timedelta(days=7),  # local calendar days
        "case_d": timedelta(days=iso.case_days), "close_d": timedelta(days=iso.close_contact_central_days),
        "inbound_d": timedelta(days=iso.inbound_high_risk_central_days),
        "secondary_d": timedelta(days=iso.secondary_contact_home_days),
    }
    with engine_or_default(engine).connect() as conn:
        rows = conn.execute(_STATUS, params).all()
    raw = pd.DataFrame(rows, columns=["site_code", "name", "capacity", "occupied", "admissions_today",
                                      "discharges_today", "held_3d", "held_7d", "overdue"])
    df = raw[["site_code", "name"]].astype("object")
    cap = pd.array(raw["capacity"].tolist(), dtype="Int64")
    df["capacity"] = cap
    for col in ("occupied", "admissions_today", "discharges_today", "overdue", "held_3d", "held_7d"):
        df[col] = raw[col].astype("int64")
    capf = pd.Series(cap, index=df.index).astype("Float64")
    df["occupancy"] = (df["occupied"] / capf.where(capf > 0)).astype("float64")
    # integer comparison: more than 90 % occupied; a zero-capacity site with anyone in it is over
    df["over_90"] = (10 * df["occupied"] > 9 * pd.Series(cap, index=df.index)).fillna(False).astype(bool)
    for col, held in (("free", "occupied"), ("free_in_3d", "held_3d"), ("free_in_7d", "held_7d")):
        df[col] = (pd.Series(cap, index=df.index) - df[held]).clip(lower=0).astype("Int64")
    return at, df


def isolation_status(
    at: datetime | str | None = None,
    *,
    viewer: Viewer,
    engine: Engine | None = None,
    rules: Rules | None = None,
) -> pd.DataFrame:
    """Per isolation site at ``at`` (default: now).

    Columns: ``site_code``, ``name``, ``capacity`` (Int64, NA when unknown),
    ``occupied``, ``admissions_today``, ``discharges_today``, ``occupancy``
    (occupied / capacity; NaN without a capacity), ``over_90`` (bool), ``free``,
    ``free_in_3d``, ``free_in_7d`` (Int64, NA without a capacity; never negative),
    ``overdue`` (occupants past their expected end with no discharge recorded).
    Ordered by site code. See the module docstring for every definition.
    """
    _check_viewer(viewer, "see isolation sites")
    _, df = _status_frame(at, engine, rules_or_default(rules))
    return df[STATUS_COLUMNS]


@dataclass(frozen=True)
class IsolationDemand:
    """The district's isolation beds at ``at``, and what expected admissions leave of them.

    ``capacity``, ``occupied``, ``free``, ``free_in_3d``, ``free_in_7d`` sum the sites
    with a known capacity (each site's free beds counted from zero, so one site over
    capacity does not eat another's beds); ``occupied_elsewhere`` counts occupants of
    sites with no capacity on record. ``expected_admissions`` is what the caller said
    will arrive (None: not given); the ``*_after`` fields subtract it from each horizon
    (new arrivals stay the full central-isolation period, so they still hold their beds
    at 3 and 7 days); negative means that many beds short. ``short``: True when the beds
    free now do not cover the expected admissions.
    """

    at: datetime
    sites: int
    capacity: int
    occupied: int
    occupied_elsewhere: int
    free: int
    free_in_3d: int
    free_in_7d: int
    over_90_sites: int
    expected_admissions: int | None
    free_after: int | None
    free_in_3d_after: int | None
    free_in_7d_after: int | None
    short: bool | None


def isolation_demand(
    at: datetime | str | None = None,
    *,
    viewer: Viewer,
    engine: Engine | None = None,
    rules: Rules | None = None,
    expected_admissions: int | None = None,
) -> IsolationDemand:
    """District totals at ``at`` and the beds left after ``expected_admissions`` new arrivals.

    The demand that today's traced contacts will add is not in the database until they
    are admitted (once admitted they are already in ``occupied``), and listing them
    needs tracing, which only the cdc role may do; so the caller passes the number it
    expects (for example the close contacts that ``trace`` found and that are not yet
    admitted) and gets back the beds left now, in 3 days and in 7 days.
    """
    _check_viewer(viewer, "see isolation sites")
    if expected_admissions is not None and (
            isinstance(expected_admissions, bool) or not isinstance(expected_admissions, int)
            or expected_admissions < 0):
        msg = f"expected_admissions must be a whole number >= 0, got {expected_admissions!r}"
        raise ValueError(msg)
    at, df = _status_frame(at, engine, rules_or_default(rules))
    known = df["capacity"].notna()
    k = df[known]

    def total(col: str) -> int:
        return int(k[col].sum())

    free, free3, free7 = total("free"), total("free_in_3d"), total("free_in_7d")
    e = expected_admissions
    return IsolationDemand(
        at=at, sites=len(df), capacity=total("capacity"), occupied=total("occupied"),
        occupied_elsewhere=int(df.loc[~known, "occupied"].sum()), free=free, free_in_3d=free3, free_in_7d=free7,
        over_90_sites=int(df["over_90"].sum()), expected_admissions=e,
        free_after=None if e is None else free - e, free_in_3d_after=None if e is None else free3 - e,
        free_in_7d_after=None if e is None else free7 - e, short=None if e is None else e > free,
    )


def isolation_timeseries(
    window: tuple[datetime | str, datetime | str],
    *,
    viewer: Viewer,
    engine: Engine | None = None,
    freq: str | timedelta = "1D",
) -> pd.DataFrame:
    """Admissions, discharges and occupancy per site per local bin (a day by default).

    Columns: ``site_code``, ``name``, ``period`` (the bin's local start, tz-aware),
    ``capacity`` (Int64), ``admissions`` and ``discharges`` (in the bin and inside the
    half-open window), ``occupied`` (as the bin closes, or at the window end for a bin
    the window cuts: admitted before that instant and not discharged before it, so
    ``occupied`` = the previous bin's + ``admissions`` - ``discharges``),
    ``occupancy`` (occupied / capacity). Every site x bin appears, ordered by site and
    period.
    """
    _check_viewer(viewer, "see isolation sites")
    t0, t1 = _window(window)
    with engine_or_default(engine).connect() as conn:
        rows = conn.execute(_TIMESERIES, _bin_params(t0, t1, freq)).all()
    raw = pd.DataFrame(rows, columns=["site_code", "name", "period", "capacity", "admissions", "discharges",
                                      "occupied"])
    df = raw[["site_code", "name"]].astype("object")
    df["period"] = _local(raw["period"])
    cap = pd.Series(pd.array(raw["capacity"].tolist(), dtype="Int64"), index=df.index)
    df["capacity"] = cap
    for col in ("admissions", "discharges", "occupied"):
        df[col] = raw[col].astype("int64")
    capf = cap.astype("Float64")
    df["occupancy"] = (df["occupied"] / capf.where(capf > 0)).astype("float64")
    return df[TIMESERIES_COLUMNS]
