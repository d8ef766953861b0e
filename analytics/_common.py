"""Small helpers shared by the analytics modules (time parsing, the engine, rules)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.engine import Engine

from geodata.rules import Rules, load_rules
from geodata.settings import get_settings

__all__ = ["as_time", "as_date", "local_zone", "engine_or_default", "rules_or_default", "utcnow"]


def local_zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def as_time(value: datetime | date | str | pd.Timestamp | None) -> datetime | None:
    """An aware datetime; naive values and strings without an offset are local time."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = pd.Timestamp(value)
        except ValueError as err:
            msg = f"not an ISO 8601 time: {value!r}"
            raise ValueError(msg) from err
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=local_zone())
    return value


def as_date(value: date | str | None) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.astimezone(local_zone()).date()
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        msg = f"not a date (YYYY-MM-DD): {value!r}"
        raise ValueError(msg) from err


def utcnow() -> datetime:
    from datetime import timezone

    return datetime.now(timezone.utc)


def engine_or_default(engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    from geodata.db import get_engine

    return get_engine()


def rules_or_default(rules: Rules | None) -> Rules:
    return rules if rules is not None else load_rules()


DAY = timedelta(days=1)
