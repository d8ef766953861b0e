"""Headline figures of a period (a day for the wall's KPI tiles, a week for the briefing).

District totals only; no person appears. Computed in one SQL round trip plus the
set-based contact tracing of the period's new cases.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine

from analytics._common import as_date, as_time, engine_or_default, local_zone, rules_or_default
from analytics.access import Viewer
from analytics.contacts import contact_counts, contact_pairs
from analytics.tracing import newest_scan
from geodata.rules import Rules

__all__ = ["FIGURES", "period_figures", "compare", "kpis"]

#: (key, Chinese label, English label, unit)
FIGURES = (
    ("scans", "扫码总数", "Scans", ""),
    ("persons_scanned", "扫码人数", "Persons scanned", ""),
    ("abnormal_scans", "异常扫码", "Abnormal scans", ""),
    ("cases", "新增阳性", "New cases", ""),
    ("close_contacts", "密接", "Close contacts", ""),
    ("secondary_contacts", "次密接", "Secondary contacts", ""),
    ("isolation_admissions", "隔离点入住", "Isolation admissions", ""),
    ("isolation_occupied", "周末在住", "Occupied at week end", ""),
    ("isolation_occupancy", "隔离点使用率", "Isolation occupancy", "%"),
    ("pass_applications", "通行证申请", "Pass applications", ""),
    ("passes_issued", "通行证发放", "Passes issued", ""),
    ("approval_median_min", "审批中位时长", "Median approval time", "min"),
    ("crossings", "卡口通行", "Checkpoint crossings", ""),
    ("turned_back", "劝返车辆", "Vehicles turned back", ""),
    ("fever_medicine", "退烧药购买", "Fever-medicine purchases", ""),
    ("returnees_risk", "中高风险返乡", "Returnees from risk areas", ""),
)

_FIGS = text(
    """
    SELECT
      sc.scans, sc.persons_scanned, sc.abnormal_scans,
      (SELECT count(*) FROM (SELECT person_id, min(sampled_at) AS first FROM nat_results
                             WHERE result = 'positive' GROUP BY person_id) f
         WHERE f.first >= :t0 AND f.first < :t1) AS cases,
      (SELECT count(*) FROM isolation_stays WHERE admitted_at >= :t0 AND admitted_at < :t1) AS isolation_admissions,
      (SELECT count(*) FROM isolation_stays z JOIN sites s ON s.site_id = z.site_id
         WHERE s.kind = 'isolation_site' AND z.admitted_at < :t1
           AND (z.discharged_at IS NULL OR z.discharged_at >= :t1)) AS isolation_occupied,
      (SELECT sum(capacity) FROM sites WHERE kind = 'isolation_site') AS isolation_capacity,
      (SELECT count(*) FROM passes WHERE applied_at >= :t0 AND applied_at < :t1) AS pass_applications,
      (SELECT count(*) FROM passes WHERE decision = 'approved' AND decided_at >= :t0 AND decided_at < :t1)
          AS passes_issued,
      (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM decided_at - applied_at) / 60)
         FROM passes WHERE decided_at >= :t0 AND decided_at < :t1) AS approval_median_min,
      cr.crossings, cr.turned_back,
      (SELECT count(*) FROM med_purchases WHERE purchased_at >= :t0 AND purchased_at < :t1
         AND drug_class IN ('antipyretic', 'antiviral', 'cough')) AS fever_medicine,
      (SELECT count(*) FROM returnees WHERE arrival_date >= :d0 AND arrival_date < :d1
         AND origin_risk IN ('medium', 'high')) AS returnees_risk
    FROM (SELECT count(*) AS scans, count(DISTINCT person_id) AS persons_scanned,
                 count(*) FILTER (WHERE code_color <> 'green' OR temperature_c >= :max_temp) AS abnormal_scans
          FROM scans WHERE scanned_at >= :t0 AND scanned_at < :t1) sc,
         (SELECT count(*) AS crossings, count(*) FILTER (WHERE outcome = 'turned_back') AS turned_back
          FROM crossings WHERE crossed_at >= :t0 AND crossed_at < :t1) cr
    """
)



def period_figures(
    window: tuple[datetime | str, datetime | str],
    *,
    viewer: Viewer,
    engine: Engine | None = None,
    rules: Rules | None = None,
    with_pairs: bool = False,
) -> dict:
    """Every figure of :data:`FIGURES` for ``window`` = (from, to), plus ``data_as_of``.

    Stocks (isolation occupied, occupancy) are taken at the window's end. With
    ``with_pairs`` the contact pairs of the period's cases come along as ``_pairs``.
    """
    engine = engine_or_default(engine)
    rules = rules_or_default(rules)
    t0, t1 = as_time(window[0]), as_time(window[1])
    zone = local_zone()
    d0, d1 = t0.astimezone(zone).date(), t1.astimezone(zone).date()
    with engine.connect() as conn:
        figs = dict(conn.execute(_FIGS, {"t0": t0, "t1": t1, "d0": d0, "d1": d1,
                                         "max_temp": rules.active_scan.max_temperature_c}).mappings().one())
        figs["data_as_of"] = newest_scan(conn, before=t1)
    pairs = contact_pairs((t0, t1), viewer=viewer, engine=engine, rules=rules)
    figs |= contact_counts(pairs)
    cap = figs.pop("isolation_capacity") or 0
    figs["isolation_occupancy"] = round(100 * figs["isolation_occupied"] / cap, 1) if cap else None
    if figs["approval_median_min"] is not None:
        figs["approval_median_min"] = round(float(figs["approval_median_min"]), 1)
    if with_pairs:
        figs["_pairs"] = pairs
    return figs


def compare(this: dict, last: dict, this_name: str, last_name: str) -> pd.DataFrame:
    """One row per figure: labels, unit, both periods, the change and the change in %."""
    rows = []
    for key, zh, en, unit in FIGURES:
        a, b = this.get(key), last.get(key)
        change = None if a is None or b is None else round(a - b, 1)
        pct = None if change is None or not b else round(100 * change / b, 1)
        rows.append({"key": key, "label_zh": zh, "label_en": en, "unit": unit, this_name: a, last_name: b,
                     "change": change, "change_pct": pct})
    return pd.DataFrame(rows)


def kpis(
    day: date | str | None = None,
    *,
    viewer: Viewer,
    engine: Engine | None = None,
    rules: Rules | None = None,
) -> pd.DataFrame:
    """The wall's KPI tiles: each figure for ``day`` (default: the newest day with scans)
    and the day before, with the change. ``attrs['data_as_of']`` is the newest scan time."""
    engine = engine_or_default(engine)
    day = as_date(day)
    if day is None:
        with engine.connect() as conn:
            newest = newest_scan(conn)
        day = newest.astimezone(local_zone()).date() if newest else datetime.now(local_zone()).date()
    zone = local_zone()
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    # the two days side by side (two connections; the database has the cores)
    with ThreadPoolExecutor(max_workers=2) as pool:
        later = pool.submit(period_figures, (start - timedelta(days=1), start), viewer=viewer, engine=engine,
                            rules=rules)
        today = period_figures((start, start + timedelta(days=1)), viewer=viewer, engine=engine, rules=rules)
        yesterday = later.result()
    df = compare(today, yesterday, "today", "yesterday")
    df.attrs.update({"day": day.isoformat(), "data_as_of": today.get("data_as_of")})
    return df
