"""District risk: each community's level (high / medium / low) for a day, with the
reasons, the day it may drop to low, and a ranked risk score with each signal's share.

Rules (``geodata/rules.toml``, ``risk_area``), for day D and W = ``window_days``:

- a **case** is known on D when its first positive sample was taken on or before D;
  its *case day* is that sample's local date, its exposure window runs from
  ``exposure.days_before_sample`` days before the sample to its isolation (open when
  not isolated);
- a case's **home community** is its returnee registration's community, else the
  community of the site where its first positive sample was taken;
- **high**: a case with a case day in (D-W, D] lives in the community, or
  ``copresent_cases_for_high`` cases were co-present (same site, counting kinds, at most
  ``copresence.minutes`` apart) at one of its sites, inside their exposure windows,
  on a day in (D-W, D];
- **medium**: a case scanned at one of its sites inside its exposure window on a day in
  (D-W, D];
- **low** otherwise; an area may drop to low W days after its newest reason
  (``may_drop_on``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.types import Text

from analytics._common import as_date, engine_or_default, local_zone, rules_or_default
from analytics.access import Viewer, sees_persons, sees_small_counts
from analytics.suppression import suppress_columns
from geodata.privacy import Pseudonymiser
from geodata.rules import Rules

__all__ = ["risk", "risk_score", "LEVELS"]

LEVELS = ("high", "medium", "low")

_CASES = """
    first_pos AS (
        SELECT DISTINCT ON (person_id) person_id, sampled_at, site_id AS nat_site
        FROM nat_results WHERE result = 'positive' AND sampled_at < :day_end
        ORDER BY person_id, sampled_at
    ),
    cases AS (
        SELECT f.person_id, f.sampled_at, CAST(f.sampled_at AT TIME ZONE :zone AS date) AS case_day,
               f.sampled_at - :before AS w0,
               (SELECT min(z.admitted_at) FROM isolation_stays z
                 WHERE z.person_id = f.person_id AND z.admitted_at >= f.sampled_at - :before) AS w1,
               coalesce((SELECT r.community_code FROM returnees r WHERE r.person_id = f.person_id
                         ORDER BY r.arrival_date DESC LIMIT 1), s.district_code) AS home
        FROM first_pos f JOIN sites s ON s.site_id = f.nat_site
    ),
    case_scans AS (
        SELECT c.person_id, s.site_id, s.scanned_at, t.site_code, t.kind, t.district_code AS community
        FROM cases c
        JOIN scans s ON s.person_id = c.person_id
                    AND s.scanned_at >= greatest(c.w0, CAST(:lo AS timestamptz)) AND s.scanned_at < :day_end
                    AND (c.w1 IS NULL OR s.scanned_at <= c.w1)
        JOIN sites t ON t.site_id = s.site_id
        WHERE t.district_code IS NOT NULL
    )
"""

_REASONS = text(
    "WITH" + _CASES + """
    SELECT 'case_resident' AS reason, c.home AS community, c.person_id, NULL::text AS site_code,
           c.case_day AS day
    FROM cases c WHERE c.case_day > :d_minus_w AND c.home IS NOT NULL
    UNION ALL
    SELECT 'case_visit', community, person_id, site_code, CAST(scanned_at AT TIME ZONE :zone AS date)
    FROM case_scans
    UNION ALL
    SELECT 'cases_copresent', a.community, p.person_id, a.site_code,
           CAST(greatest(a.scanned_at, b.scanned_at) AT TIME ZONE :zone AS date)
    FROM case_scans a
    JOIN case_scans b ON b.site_id = a.site_id AND b.person_id > a.person_id
                     AND b.scanned_at BETWEEN a.scanned_at - :d AND a.scanned_at + :d
    CROSS JOIN LATERAL (VALUES (a.person_id), (b.person_id)) AS p(person_id)
    WHERE a.kind = ANY(:kinds)
    """
).bindparams(bindparam("kinds", type_=ARRAY(Text)))

_COMMUNITIES = text(
    """SELECT code, name_zh, name_en, parent_code, population FROM districts
       WHERE level = 'community' ORDER BY code"""
)

_SIGNALS = text(
    "WITH" + _CASES + """,
    contacts AS (
        SELECT a.community, count(DISTINCT o.person_id) AS n
        FROM case_scans a
        JOIN scans o ON o.site_id = a.site_id AND o.scanned_at BETWEEN a.scanned_at - :d AND a.scanned_at + :d
                    AND o.scanned_at >= CAST(:lo AS timestamptz) - :d
        WHERE a.kind = ANY(:kinds) AND o.person_id <> a.person_id
        GROUP BY a.community
    ),
    abnormal AS (
        SELECT t.district_code AS community, count(*) AS n
        FROM scans s JOIN sites t ON t.site_id = s.site_id
        WHERE s.scanned_at >= :lo AND s.scanned_at < :day_end
          AND (s.code_color <> 'green' OR s.temperature_c >= :max_temp)
        GROUP BY 1
    ),
    meds AS (
        SELECT t.district_code AS community, count(*) AS n
        FROM med_purchases m JOIN sites t ON t.site_id = m.site_id
        WHERE m.purchased_at >= :lo AND m.purchased_at < :day_end
          AND m.drug_class IN ('antipyretic', 'antiviral', 'cough')
        GROUP BY 1
    ),
    ret AS (
        SELECT community_code AS community, count(*) AS n FROM returnees
        WHERE origin_risk IN ('medium', 'high') AND arrival_date > :d_minus_w AND arrival_date <= :day
        GROUP BY 1
    ),
    home AS (
        SELECT home AS community, count(*) AS n FROM cases WHERE case_day > :d_minus_w GROUP BY 1
    )
    SELECT d.code AS community,
           coalesce(home.n, 0) AS cases, coalesce(contacts.n, 0) AS contacts,
           coalesce(abnormal.n, 0) AS abnormal_scans, coalesce(meds.n, 0) AS fever_medicine,
           coalesce(ret.n, 0) AS returnees
    FROM districts d
    LEFT JOIN home ON home.community = d.code
    LEFT JOIN contacts ON contacts.community = d.code
    LEFT JOIN abnormal ON abnormal.community = d.code
    LEFT JOIN meds ON meds.community = d.code
    LEFT JOIN ret ON ret.community = d.code
    WHERE d.level = 'community'
    """
).bindparams(bindparam("kinds", type_=ARRAY(Text)))

_REFS = text("SELECT person_id, ref_encrypted FROM persons WHERE person_id = ANY(CAST(:ids AS bigint[]))")


def _params(day: date, rules: Rules) -> dict:
    zone = local_zone()
    w = rules.risk_area.window_days
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return {
        "zone": str(zone), "day": day, "d_minus_w": day - timedelta(days=w),
        "lo": start - timedelta(days=w - 1), "day_end": start + timedelta(days=1),
        "before": timedelta(days=rules.exposure.days_before_sample),
        "d": timedelta(minutes=rules.copresence.minutes), "kinds": list(rules.copresence.site_kinds),
        "max_temp": rules.active_scan.max_temperature_c,
    }


def _today() -> date:
    return datetime.now(local_zone()).date()


def risk(
    day: date | str | None = None,
    *,
    viewer: Viewer,
    engine: Engine | None = None,
    rules: Rules | None = None,
    pseudonymiser: Pseudonymiser | None = None,
) -> pd.DataFrame:
    """Every community's risk level on ``day`` (default today), with reasons.

    Columns: ``code, name_zh, name_en, street_code, population, level, reasons`` (a list
    of ``{"reason", "cases", "case_count", "sites", "last_day"}``), ``may_drop_on``.
    ``cases`` holds person references for cdc, pseudonyms for analysts, nothing for
    the aggregate roles (who see ``case_count`` only).
    """
    day = as_date(day) or _today()
    engine = engine_or_default(engine)
    rules = rules_or_default(rules)
    params = _params(day, rules)
    with engine.connect() as conn:
        comm = pd.DataFrame(conn.execute(_COMMUNITIES).all(),
                            columns=["code", "name_zh", "name_en", "street_code", "population"])
        reasons = pd.DataFrame(
            conn.execute(_REASONS, params).all(),
            columns=["reason", "community", "person_id", "site_code", "day"], dtype=object)
        refs: dict[int, str] = {}
        if sees_persons(viewer) and not reasons.empty:
            pseudo = pseudonymiser or Pseudonymiser.from_settings()
            ids = sorted({int(p) for p in reasons["person_id"]})
            refs = {int(r.person_id): pseudo.decrypt(r.ref_encrypted) for r in conn.execute(_REFS, {"ids": ids})}

    def label(pid: int) -> str:
        if viewer.role == "cdc":
            return refs.get(int(pid), str(pid))
        return str(int(pid))  # analysts: the pseudonym

    need = rules.risk_area.copresent_cases_for_high
    w = timedelta(days=rules.risk_area.window_days)
    out_reasons: dict[str, list[dict]] = {c: [] for c in comm["code"]}
    levels: dict[str, str] = {}
    drop: dict[str, date | None] = {}
    for (code, reason), grp in reasons.groupby(["community", "reason"], sort=True):
        cases = sorted({int(p) for p in grp["person_id"]})
        if reason == "cases_copresent":
            per_site = grp.groupby("site_code")["person_id"].nunique()
            if per_site.max() < need:
                continue
        entry = {"reason": reason, "case_count": len(cases),
                 "cases": sorted(label(p) for p in cases) if viewer.role in ("cdc", "analyst") else [],
                 "sites": sorted({s for s in grp["site_code"] if isinstance(s, str)}),
                 "last_day": max(grp["day"])}
        out_reasons.setdefault(code, []).append(entry)
    for code, entries in out_reasons.items():
        kinds = {e["reason"] for e in entries}
        if kinds & {"case_resident", "cases_copresent"}:
            levels[code] = "high"
        elif "case_visit" in kinds:
            levels[code] = "medium"
        else:
            levels[code] = "low"
        drop[code] = (max(e["last_day"] for e in entries) + w) if entries else None
    comm["level"] = comm["code"].map(levels).fillna("low")
    comm["reasons"] = comm["code"].map(lambda c: out_reasons.get(c, []))
    comm["may_drop_on"] = comm["code"].map(drop)
    comm["day"] = day
    order = {lvl: i for i, lvl in enumerate(LEVELS)}
    comm = comm.sort_values(["level", "code"], key=lambda s: s.map(order) if s.name == "level" else s)
    comm.attrs.update({"day": day.isoformat(), "rules_version": rules.version})
    return comm.reset_index(drop=True)


def risk_score(
    day: date | str | None = None,
    *,
    viewer: Viewer,
    engine: Engine | None = None,
    rules: Rules | None = None,
) -> pd.DataFrame:
    """Communities ranked by a combined risk score on ``day`` (signals over the last W days).

    Columns: ``rank, code, name_zh, name_en, score`` (0..1), each signal's raw value
    (``cases, contacts, abnormal_scans, fever_medicine, returnees``) and its share of
    the score (``share_<signal>``, summing to 1 where the score is positive). Outside cdc
    the raw counts are suppressed below k (None), with secondary suppression.
    """
    day = as_date(day) or _today()
    engine = engine_or_default(engine)
    rules = rules_or_default(rules)
    params = _params(day, rules)
    with engine.connect() as conn:
        sig = pd.DataFrame(conn.execute(_SIGNALS, params).all())
        comm = pd.DataFrame(conn.execute(_COMMUNITIES).all(),
                            columns=["code", "name_zh", "name_en", "street_code", "population"])
    weights = rules.risk_score.weights()
    df = comm.merge(sig, left_on="code", right_on="community", how="left").drop(columns="community")
    parts = {}
    for name, wgt in weights.items():
        df[name] = df[name].fillna(0).astype(int)
        top = df[name].max()
        parts[name] = wgt * (df[name] / top if top > 0 else 0.0)
    total_w = sum(weights.values()) or 1.0
    score = sum(parts.values())
    df["score"] = score / total_w
    for name in weights:
        df[f"share_{name}"] = (parts[name] / score).where(score > 0, 0.0)
    df = df.sort_values(["score", "code"], ascending=[False, True], kind="stable").reset_index(drop=True)
    df.insert(0, "rank", range(1, len(df) + 1))
    if not sees_small_counts(viewer):  # counts of persons per community: hide 1..k-1 (and secondary)
        df = suppress_columns(df, list(weights), rules.privacy.k)
    df.attrs.update({"day": day.isoformat(), "rules_version": rules.version, "weights": weights})
    return df
