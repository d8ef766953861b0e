"""Maintenance of the daily H3 scan rollups (``scan_cells_daily``).

Ingest refreshes the local days it touched; ``refresh_all`` rebuilds every day that
has a scan partition (after a rules change of the abnormal-temperature threshold).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.rules import Rules, load_rules
from geodata.settings import get_settings

__all__ = ["refresh_days", "refresh_all"]

_REFRESH = text("SELECT refresh_scan_rollup(CAST(:d AS date), :zone, CAST(:t AS real))")


def refresh_days(conn: Connection, days: Iterable[date], rules: Rules | None = None) -> int:
    """Recompute the rollup of each local day in ``days``; returns the rows written."""
    rules = rules or load_rules()
    zone = get_settings().timezone
    total = 0
    for d in sorted(set(days)):
        total += conn.execute(_REFRESH, {"d": d, "zone": zone, "t": rules.active_scan.max_temperature_c}).scalar_one()
    return total


def refresh_all(conn: Connection, rules: Rules | None = None) -> int:
    """Recompute the rollup of every day that has a scan partition."""
    parts = conn.execute(text(
        """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = CAST('scans' AS regclass)""")).scalars().all()
    days = [date(int(p[7:11]), int(p[11:13]), int(p[13:15])) for p in parts if p.startswith("scans_p")]
    return refresh_days(conn, days, rules)
