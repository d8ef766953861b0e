"""Retention: delete person-level records past their time, keep the aggregates.

Scan events go by whole day partitions (``DROP TABLE``, no row-by-row delete); NAT
results, ended isolation stays, medicine purchases, returnee registrations, crossings,
expired passes and rejected raw rows older than the cutoff are deleted; persons no longer
referenced anywhere go too. The daily heatmap rollups (counts and person sketches) stay.
The audit log is kept at least 183 days (``purge_audit`` refuses anything younger).
Every purge writes a deletion report and an audit record.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Engine

from geodata.rules import load_rules
from geodata.settings import get_settings

__all__ = ["purge", "parse_age"]


def parse_age(value: str) -> timedelta:
    """``28d`` or ``4w`` -> a timedelta (days and weeks only)."""
    v = (value or "").strip().lower()
    try:
        if v.endswith("d"):
            return timedelta(days=int(v[:-1]))
        if v.endswith("w"):
            return timedelta(weeks=int(v[:-1]))
    except ValueError:
        pass
    msg = f"--older-than takes days or weeks such as 28d or 4w, got {value!r}"
    raise ValueError(msg)


_DELETES = (
    ("crossings", "DELETE FROM crossings WHERE crossed_at < :cut"),
    ("passes", """DELETE FROM passes p WHERE coalesce(p.valid_to, p.decided_at, p.applied_at) < :cut
                  AND NOT EXISTS (SELECT 1 FROM crossings c WHERE c.pass_id = p.pass_id)"""),
    ("nat_results", "DELETE FROM nat_results WHERE sampled_at < :cut"),
    ("isolation_stays", "DELETE FROM isolation_stays WHERE discharged_at < :cut"),
    ("med_purchases", "DELETE FROM med_purchases WHERE purchased_at < :cut"),
    ("returnees", "DELETE FROM returnees WHERE arrival_date < CAST(:cut_day AS date)"),
    ("rejects", "DELETE FROM rejects r USING ingest_runs i WHERE i.run_id = r.run_id AND i.started_at < :cut"),
)

_ORPHANS = text(
    """DELETE FROM persons p
       WHERE NOT EXISTS (SELECT 1 FROM scans s WHERE s.person_id = p.person_id)
         AND NOT EXISTS (SELECT 1 FROM nat_results x WHERE x.person_id = p.person_id)
         AND NOT EXISTS (SELECT 1 FROM isolation_stays x WHERE x.person_id = p.person_id)
         AND NOT EXISTS (SELECT 1 FROM med_purchases x WHERE x.person_id = p.person_id)
         AND NOT EXISTS (SELECT 1 FROM returnees x WHERE x.person_id = p.person_id)
         AND NOT EXISTS (SELECT 1 FROM passes x WHERE x.driver_id = p.person_id)"""
)

_PARTITIONS = text(
    """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = CAST('scans' AS regclass) ORDER BY c.relname"""
)


def purge(engine: Engine, older_than: timedelta, *, actor: str = "cli", dry_run: bool = False,
          now: datetime | None = None, report_dir: Path | None = None) -> dict:
    """Delete person-level data older than ``older_than``; returns the deletion report."""
    rules = load_rules()
    if older_than < timedelta(days=1):
        msg = "--older-than must be at least one day"
        raise ValueError(msg)
    zone = ZoneInfo(get_settings().timezone)
    now = now or datetime.now(zone)
    cut_day: date = (now - older_than).astimezone(zone).date()
    cut = datetime(cut_day.year, cut_day.month, cut_day.day, tzinfo=zone)
    audit_cut = now - timedelta(days=rules.privacy.audit_retention_days)
    report: dict = {"run_at": now.isoformat(), "older_than_days": older_than.days, "cutoff": cut.isoformat(),
                    "dry_run": dry_run, "deleted": {}, "scan_partitions_dropped": [], "kept": "daily heatmap rollups"}
    # one transaction: a dry run does everything, counts it, and rolls it back
    with engine.connect() as conn, conn.begin() as tx:
        for name in conn.execute(_PARTITIONS).scalars().all():
            if not name.startswith("scans_p"):
                continue
            day = date(int(name[7:11]), int(name[11:13]), int(name[13:15]))
            if day < cut_day:
                n = conn.execute(text("SELECT drop_scan_partition(CAST(:d AS date))"), {"d": day}).scalar_one()
                report["scan_partitions_dropped"].append({"day": day.isoformat(), "rows": int(n)})
        report["deleted"]["scans"] = sum(p["rows"] for p in report["scan_partitions_dropped"])
        for table, sql in _DELETES:
            report["deleted"][table] = conn.execute(text(sql), {"cut": cut, "cut_day": cut_day}).rowcount
        report["deleted"]["persons"] = conn.execute(_ORPHANS).rowcount
        report["deleted"]["audit_log"] = conn.execute(text("SELECT purge_audit(:c)"), {"c": audit_cut}).scalar_one()
        report["audit_kept_since"] = audit_cut.isoformat()
        conn.execute(text(
            """INSERT INTO audit_log (actor, role, action, purpose, rows_returned, detail)
               VALUES (:a, 'cdc', 'purge', 'retention', :n, CAST(:d AS jsonb))"""),
            {"a": actor, "n": sum(report["deleted"].values()), "d": json.dumps(report["deleted"])})
        if dry_run:
            tx.rollback()
    folder = report_dir or (get_settings().home / "reports")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"purge-{now.strftime('%Y%m%dT%H%M%S')}{'-dry-run' if dry_run else ''}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    report["report_file"] = str(path)
    return report
