"""The data provider: every screen reads the analytics API through one shared cache.

Each question a panel asks is a frozen dataclass (a *request*: hashable, with a stable
``repr``, so it is the cache key) that knows which analytics function answers it.
:meth:`DataProvider.get` answers it through a flask-caching cache keyed on the request,
the viewer's role and the **refresh tick** (``floor(now / refresh_s)``): every screen
that asks the same question in the same tick gets the same answer, and only the first
one pays for the query. Concurrent first askers wait for that one (a lock per key, so
twenty screens refreshing at the same instant still cost one query per panel).

Failures: when the database cannot be reached the answer is the last good one, marked
``stale`` (the shell shows a banner); the failure itself is cached for a few seconds,
so a dead database is asked once per few seconds, not once per screen, and the screens
recover by themselves on the first refresh after it comes back. Any other error is
logged and returned as ``error`` (the panel says so) rather than raised into Dash.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

import pandas as pd
from flask import Flask
from flask_caching import Cache
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

import analytics
from analytics import checkpoints as cp
from analytics import isolation as iso
from analytics import sites as st
from analytics.access import Viewer
from dashboard.geo import Basemap, basemap
from geodata.errors import AccessDenied, DatabaseUnavailable

__all__ = [
    "DataProvider", "Fetched", "Anchor", "Request", "KpiRequest", "RiskRequest", "HeatmapRequest",
    "CheckpointSummaryRequest", "ThroughputRequest", "FunnelRequest", "IsolationStatusRequest",
    "IsolationDemandRequest", "IsolationSeriesRequest", "BriefingRequest", "OutlineRequest", "BasemapRequest",
    "SitesRequest",
    "TraceRequest", "make_cache", "DB_DOWN_ERRORS",
]

log = logging.getLogger("sandtable.dashboard")

T = TypeVar("T")

#: Errors that mean "the database is not there right now" (answered with the last good data).
DB_DOWN_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, DatabaseUnavailable,
                  ConnectionError)


# --- requests -------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    """A question to the analytics API. ``static`` answers live longer than a tick."""

    static: ClassVar[bool] = False

    def run(self, viewer: Viewer, engine: Engine | None) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class KpiRequest(Request):
    """The KPI tiles of ``day`` (None: the newest day with data) against the day before."""

    day: date | None = None

    def run(self, viewer: Viewer, engine: Engine | None) -> pd.DataFrame:
        return analytics.kpis(self.day, viewer=viewer, engine=engine)


@dataclass(frozen=True)
class RiskRequest(Request):
    day: date

    def run(self, viewer: Viewer, engine: Engine | None) -> pd.DataFrame:
        return analytics.risk(self.day, viewer=viewer, engine=engine)


@dataclass(frozen=True)
class HeatmapRequest(Request):
    end: datetime
    hours: int = 24
    resolution: int = 8
    measure: str = "scans"

    def run(self, viewer: Viewer, engine: Engine | None) -> Any:
        return analytics.heatmap((self.end - timedelta(hours=self.hours), self.end), self.resolution, self.measure,
                                 viewer=viewer, engine=engine)


@dataclass(frozen=True)
class CheckpointSummaryRequest(Request):
    end: datetime
    hours: int = 24

    def run(self, viewer: Viewer, engine: Engine | None) -> pd.DataFrame:
        return cp.checkpoint_summary((self.end - timedelta(hours=self.hours), self.end), viewer=viewer, engine=engine)


@dataclass(frozen=True)
class ThroughputRequest(Request):
    end: datetime
    hours: int = 24

    def run(self, viewer: Viewer, engine: Engine | None) -> pd.DataFrame:
        return cp.checkpoint_throughput((self.end - timedelta(hours=self.hours), self.end), viewer=viewer,
                                        engine=engine, freq="1h")


@dataclass(frozen=True)
class FunnelRequest(Request):
    end: datetime
    hours: int = 24

    def run(self, viewer: Viewer, engine: Engine | None) -> cp.PassFunnel:
        return cp.pass_funnel((self.end - timedelta(hours=self.hours), self.end), viewer=viewer, engine=engine)


@dataclass(frozen=True)
class IsolationStatusRequest(Request):
    at: datetime

    def run(self, viewer: Viewer, engine: Engine | None) -> pd.DataFrame:
        return iso.isolation_status(self.at, viewer=viewer, engine=engine)


@dataclass(frozen=True)
class IsolationDemandRequest(Request):
    at: datetime

    def run(self, viewer: Viewer, engine: Engine | None) -> iso.IsolationDemand:
        return iso.isolation_demand(self.at, viewer=viewer, engine=engine)


@dataclass(frozen=True)
class IsolationSeriesRequest(Request):
    end: datetime
    days: int = 14

    def run(self, viewer: Viewer, engine: Engine | None) -> pd.DataFrame:
        return iso.isolation_timeseries((self.end - timedelta(days=self.days), self.end), viewer=viewer,
                                        engine=engine, freq="1D")


@dataclass(frozen=True)
class BriefingRequest(Request):
    week: str

    def run(self, viewer: Viewer, engine: Engine | None) -> Any:
        return analytics.briefing(self.week, viewer=viewer, engine=engine)


@dataclass(frozen=True)
class OutlineRequest(Request):
    static: ClassVar[bool] = True
    level: str = "community"

    def run(self, viewer: Viewer, engine: Engine | None) -> Any:
        return st.outlines(self.level, viewer=viewer, engine=engine)


@dataclass(frozen=True)
class BasemapRequest(Request):
    """The offline base map: community, street and district outlines, ready to draw."""

    static: ClassVar[bool] = True
    tolerance: float = 0.0002

    def run(self, viewer: Viewer, engine: Engine | None) -> Basemap:
        levels = [st.outlines(level, viewer=viewer, engine=engine, tolerance=self.tolerance)
                  for level in ("community", "street", "district")]
        return basemap(*levels)


@dataclass(frozen=True)
class SitesRequest(Request):
    static: ClassVar[bool] = True
    kinds: tuple[str, ...] = ("checkpoint", "isolation_site")

    def run(self, viewer: Viewer, engine: Engine | None) -> Any:
        return st.sites(self.kinds, viewer=viewer, engine=engine)


@dataclass(frozen=True)
class TraceRequest(Request):
    """Not cached by tick: every trace is a new, audited look at a person."""

    person: str
    purpose: str

    def run(self, viewer: Viewer, engine: Engine | None) -> analytics.Trace:
        return analytics.trace(self.person, viewer=viewer, purpose=self.purpose, engine=engine)


# --- answers --------------------------------------------------------------------
@dataclass(frozen=True)
class Fetched(Generic[T]):
    """An answer: ``value`` (None when there is none), whether it is ``stale`` (the
    database failed and this is the last good value), an ``error`` message, and when the
    value was fetched (epoch seconds)."""

    value: T | None
    fetched_at: float
    stale: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Anchor:
    """The dashboard's "now": the newest data, so a replayed or delayed feed still shows
    its newest day. ``day`` is the local day of the KPI tiles; ``as_of`` the newest scan
    (None: no data yet, in which case ``end`` is the wall-clock time)."""

    day: date
    as_of: datetime | None
    end: datetime

    @property
    def has_data(self) -> bool:
        return self.as_of is not None


def make_cache(server: Flask | None = None, config: dict | None = None, *, refresh_s: float = 30) -> Cache:
    """A flask-caching cache (SimpleCache by default; pass ``CACHE_TYPE`` and
    ``CACHE_DIR`` for a FileSystemCache shared by several processes)."""
    cfg = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": int(2 * refresh_s) + 1, "CACHE_THRESHOLD": 5000}
    cfg |= config or {}
    server = server or Flask("sandtable-cache")
    return Cache(server, config=cfg)


@dataclass
class DataProvider:
    """Answers requests through the shared cache (see the module docstring)."""

    viewer: Viewer
    engine: Engine | None = None
    refresh_s: float = 30.0
    cache: Cache | None = None
    clock: Callable[[], float] = time.time
    static_s: float = 600.0
    failure_s: float = 5.0
    stats: Counter = field(default_factory=Counter, repr=False)

    def __post_init__(self) -> None:
        if self.refresh_s <= 0:
            msg = f"refresh_s must be positive, got {self.refresh_s!r}"
            raise ValueError(msg)
        if self.cache is None:
            self.cache = make_cache(refresh_s=self.refresh_s)
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    # -- keys and ticks
    def tick(self) -> int:
        return int(self.clock() // self.refresh_s)

    def _key(self, request: Request) -> str:
        period = int(self.clock() // self.static_s) if request.static else self.tick()
        return f"st:{self.viewer.role}:{period}:{request!r}"

    def _last_key(self, request: Request) -> str:
        return f"last:{self.viewer.role}:{request!r}"

    # -- the one way in
    def get(self, request: Request) -> Fetched:
        """The answer to ``request`` for this tick (computed once per tick, shared)."""
        return self._single_flight(self._key(request), lambda: self._compute(request),
                                   self.static_s if request.static else 2 * self.refresh_s + 1)

    def memo(self, name: str, key: object, build: Callable[[], Any]) -> Any:
        """``build()`` once per tick for ``(name, key)``, shared by every screen: for views
        (figures, panels) built from this tick's answers. ``key`` must name everything
        the view depends on besides the tick (its stable ``repr`` is the cache key)."""
        cache_key = f"view:{self.viewer.role}:{self.tick()}:{name}:{key!r}"

        def compute() -> Fetched:
            self._count(f"view:{name}")
            return Fetched(build(), self.clock())

        return self._single_flight(cache_key, compute, 2 * self.refresh_s + 1).value

    def _single_flight(self, key: str, compute: Callable[[], Fetched], timeout: float) -> Fetched:
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        try:
            with lock:
                hit = self.cache.get(key)
                if hit is None:
                    hit = compute()
                    ttl = self.failure_s if hit.stale or hit.error else timeout
                    self.cache.set(key, hit, timeout=max(1, int(ttl)))
        finally:
            with self._guard:
                self._locks.pop(key, None)
        return hit

    def _compute(self, request: Request) -> Fetched:
        name = type(request).__name__
        started = time.perf_counter()
        try:
            value = request.run(self.viewer, self.engine)
        except AccessDenied:
            raise
        except DB_DOWN_ERRORS as err:
            self._count(f"{name}:failed")
            log.warning("database unavailable for %s: %s", name, _one_line(err))
            last = self.cache.get(self._last_key(request))
            if last is not None:
                return Fetched(last.value, last.fetched_at, stale=True, error=_one_line(err))
            return Fetched(None, self.clock(), stale=True, error=_one_line(err))
        except Exception as err:  # noqa: BLE001 - a panel shows the error instead of a traceback
            self._count(f"{name}:error")
            log.exception("%s failed", name)
            return Fetched(None, self.clock(), error=_one_line(err))
        self._count(name)
        log.debug("%s computed in %.0f ms", name, 1000 * (time.perf_counter() - started))
        fetched = Fetched(value, self.clock())
        self.cache.set(self._last_key(request), fetched, timeout=86_400)
        return fetched

    def _count(self, name: str) -> None:
        with self._guard:
            self.stats[name] += 1

    # -- the dashboard's "now"
    def anchor(self) -> tuple[Anchor, Fetched]:
        """The anchor of this tick, and the KPI answer it was read from."""
        fetched = self.get(KpiRequest())
        now = datetime.fromtimestamp(self.clock()).astimezone()
        if fetched.value is None:
            from dashboard.i18n import zone

            return Anchor(day=now.astimezone(zone()).date(), as_of=None, end=now), fetched
        attrs = fetched.value.attrs
        as_of = attrs.get("data_as_of")
        day = date.fromisoformat(attrs["day"])
        if as_of is not None:
            as_of = pd.Timestamp(as_of).to_pydatetime()
        return Anchor(day=day, as_of=as_of, end=as_of or now), fetched

    # -- tracing: audited every time, kept under a random token for the CSV export
    def trace(self, request: TraceRequest, *, keep_s: float = 1800) -> tuple[str | None, Fetched]:
        """Trace now (never from the cache); the result is kept ``keep_s`` seconds under
        the returned token so that the export gives exactly what was shown."""
        fetched = self._compute(request)
        if fetched.value is None:
            return None, fetched
        token = secrets.token_urlsafe(16)
        self.cache.set(f"trace:{self.viewer.name}:{token}", fetched.value, timeout=int(keep_s))
        return token, fetched

    def traced(self, token: str | None) -> analytics.Trace | None:
        if not token:
            return None
        return self.cache.get(f"trace:{self.viewer.name}:{token}")


def _one_line(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:200]
