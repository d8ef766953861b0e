"""The weekly figures a leaders' briefing needs, with the previous week beside them.

District totals are shown as they are (they are what a briefing is for); breakdowns by
community suppress counts below k outside the cdc role (:func:`suppress`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy.engine import Engine

from analytics._common import engine_or_default, local_zone, rules_or_default
from analytics.access import Viewer, sees_small_counts
from analytics.contacts import clusters
from analytics.figures import FIGURES, compare, period_figures
from analytics.risk import risk
from geodata.rules import Rules

__all__ = ["briefing", "Briefing", "parse_week", "suppress", "FIGURES"]

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


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


def _span(d0: date, d1: date) -> tuple[datetime, datetime]:
    zone = local_zone()
    return datetime(d0.year, d0.month, d0.day, tzinfo=zone), datetime(d1.year, d1.month, d1.day, tzinfo=zone)


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
    this = period_figures(_span(d0, d1), viewer=viewer, engine=engine, rules=rules, with_pairs=True)
    last = period_figures(_span(p0, d0), viewer=viewer, engine=engine, rules=rules)
    figures = compare(this, last, "this_week", "last_week")
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
