"""The weekly figures a leaders' briefing needs, with the previous week beside them.

District totals are shown as they are (they are what a briefing is for); breakdowns by
community suppress counts below k outside the cdc role (:func:`suppress`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine

from analytics._common import engine_or_default, local_zone, rules_or_default
from analytics.access import Viewer, sees_small_counts
from analytics.contacts import clusters, contact_counts, contact_pairs
from analytics.risk import risk
from geodata.rules import Rules

__all__ = ["briefing", "Briefing", "parse_week", "suppress", "FIGURES"]

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

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")

_FIGS = text(
    """
    SELECT
      (SELECT count(*) FROM scans WHERE scanned_at >= :t0 AND scanned_at < :t1) AS scans,
      (SELECT count(DISTINCT person_id) FROM scans WHERE scanned_at >= :t0 AND scanned_at < :t1) AS persons_scanned,
      (SELECT count(*) FROM scans WHERE scanned_at >= :t0 AND scanned_at < :t1
         AND (code_color <> 'green' OR temperature_c >= :max_temp)) AS abnormal_scans,
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
      (SELECT count(*) FROM crossings WHERE crossed_at >= :t0 AND crossed_at < :t1) AS crossings,
      (SELECT count(*) FROM crossings WHERE crossed_at >= :t0 AND crossed_at < :t1
         AND outcome = 'turned_back') AS turned_back,
      (SELECT count(*) FROM med_purchases WHERE purchased_at >= :t0 AND purchased_at < :t1
         AND drug_class IN ('antipyretic', 'antiviral', 'cough')) AS fever_medicine,
      (SELECT count(*) FROM returnees WHERE arrival_date >= :d0 AND arrival_date < :d1
         AND origin_risk IN ('medium', 'high')) AS returnees_risk,
      (SELECT max(scanned_at) FROM scans WHERE scanned_at < :t1) AS data_as_of
    """
)


def parse_week(week: str) -> tuple[date, date]:
    """``2022-W21`` -> (Monday, next Monday)."""
    m = _WEEK.match(week or "")
    if not m:
        msg = f"week must look like 2022-W21, got {week!r}"
        raise ValueError(msg)
    try:
        monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError as err:
        msg = f"no such ISO week: {week!r}"
        raise ValueError(msg) from err
    return monday, monday + timedelta(days=7)


def suppress(value: int | float | None, viewer: Viewer, k: int) -> int | float | str | None:
    """A count as shown to ``viewer``: ``"<k"`` when it is between 1 and k-1 outside cdc."""
    if value is None or sees_small_counts(viewer) or not isinstance(value, int | float):
        return value
    return f"<{k}" if 0 < value < k else value


@dataclass
class Briefing:
    """The week's figures (``figures``: one row per figure, this week and last) and context."""

    week: str
    start: date
    end: date
    figures: pd.DataFrame
    risk: pd.DataFrame
    risk_changes: pd.DataFrame
    clusters: list = field(default_factory=list)
    data_as_of: datetime | None = None
    rules_version: str = ""

    def figure(self, key: str, which: str = "this_week"):  # noqa: ANN201
        return self.figures.set_index("key").at[key, which]


def _figures(conn, d0: date, d1: date, rules: Rules, viewer: Viewer, engine: Engine) -> dict:  # noqa: ANN001
    zone = local_zone()
    t0 = datetime(d0.year, d0.month, d0.day, tzinfo=zone)
    t1 = datetime(d1.year, d1.month, d1.day, tzinfo=zone)
    row = conn.execute(_FIGS, {"t0": t0, "t1": t1, "d0": d0, "d1": d1,
                               "max_temp": rules.active_scan.max_temperature_c}).mappings().one()
    figs = dict(row)
    pairs = contact_pairs((t0, t1), viewer=viewer, engine=engine, rules=rules)
    figs |= contact_counts(pairs)
    cap = figs.pop("isolation_capacity") or 0
    figs["isolation_occupancy"] = round(100 * figs["isolation_occupied"] / cap, 1) if cap else None
    if figs["approval_median_min"] is not None:
        figs["approval_median_min"] = round(float(figs["approval_median_min"]), 1)
    figs["_pairs"] = pairs
    return figs


def briefing(
    week: str,
    *,
    viewer: Viewer,
    engine: Engine | None = None,
    rules: Rules | None = None,
) -> Briefing:
    """The figures of ISO ``week`` (``2022-W21``) and the week before, the risk map at the
    week's end with what changed, and the largest contact clusters (pseudonymised)."""
    d0, d1 = parse_week(week)
    p0 = d0 - timedelta(days=7)
    engine = engine_or_default(engine)
    rules = rules_or_default(rules)
    with engine.connect() as conn:
        this = _figures(conn, d0, d1, rules, viewer, engine)
        last = _figures(conn, p0, d0, rules, viewer, engine)
    rows = []
    for key, zh, en, unit in FIGURES:
        a, b = this.get(key), last.get(key)
        change = None if a is None or b is None else round(a - b, 1)
        pct = None if change is None or not b else round(100 * change / b, 1)
        rows.append({"key": key, "label_zh": zh, "label_en": en, "unit": unit, "this_week": a, "last_week": b,
                     "change": change, "change_pct": pct})
    figures = pd.DataFrame(rows)
    end_day = d1 - timedelta(days=1)
    risk_now = risk(end_day, viewer=viewer, engine=engine, rules=rules)
    risk_before = risk(d0 - timedelta(days=1), viewer=viewer, engine=engine, rules=rules)
    before = dict(zip(risk_before["code"], risk_before["level"]))
    changes = risk_now.assign(previous=risk_now["code"].map(before))
    changes = changes[changes["level"] != changes["previous"]][["code", "name_zh", "name_en", "previous", "level"]]
    return Briefing(
        week=week, start=d0, end=d1, figures=figures, risk=risk_now, risk_changes=changes.reset_index(drop=True),
        clusters=clusters(this["_pairs"])[:5], data_as_of=this.get("data_as_of"), rules_version=rules.version,
    )
