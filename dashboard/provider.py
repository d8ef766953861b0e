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
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
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
from analytics.access import Viewer, own_lookups, require_purpose, write_audit
from dashboard.geo import Basemap, basemap
from geodata.errors import AccessDenied, DatabaseUnavailable

__all__ = [
    "DataProvider", "Fetched", "Anchor", "Request", "AnchorRequest", "KpiRequest", "RiskRequest", "HeatmapRequest",
    "CheckpointSummaryRequest", "ThroughputRequest", "FunnelRequest", "IsolationStatusRequest",
    "IsolationDemandRequest", "IsolationSeriesRequest", "BriefingRequest", "OutlineRequest", "BasemapRequest",
    "SitesRequest",
    "TraceRequest", "make_cache", "DB_DOWN_ERRORS", "ACTING_VIEWER",
]

log = logging.getLogger("sandtable.dashboard")

#: The tick being built ahead of time by the warmer (None: the clock's tick).
_WARMING_TICK: ContextVar[int | None] = ContextVar("sandtable_warming_tick", default=None)
#: The viewer a refresh-ahead job builds views for (outside any request): the role's
#: provider sets it, so that page code asking ``ctx.provider`` finds that provider.
ACTING_VIEWER: ContextVar[Viewer | None] = ContextVar("sandtable_acting_viewer", default=None)

T = TypeVar("T")

#: Errors that mean "the database is not there right now" (answered with the last good data).
DB_DOWN_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, DatabaseUnavailable,
                  ConnectionError)


# --- requests -------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    """A question to the analytics API. ``static`` answers live longer than a tick;
    ``keep_last``: the last good answer is kept to show while the database is away."""

    static: ClassVar[bool] = False
    keep_last: ClassVar[bool] = True

    def run(self, viewer: Viewer, engine: Engine | None) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class AnchorRequest(Request):
    """The newest scan time (None: no data yet): the dashboard's "now"."""

    def run(self, viewer: Viewer, engine: Engine | None) -> datetime | None:
        return st.data_as_of(viewer=viewer, engine=engine)


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
    """Not cached by tick: every trace is a new, audited look at a person (and no last
    answer is kept: a trace is never shown again without its own audit record)."""

    keep_last: ClassVar[bool] = False
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
    warm_ahead: bool = False
    warm_idle_ticks: int = 3
    stats: Counter = field(default_factory=Counter, repr=False)
    timings: Counter = field(default_factory=Counter, repr=False)  # milliseconds spent per request kind

    def __post_init__(self) -> None:
        if self.refresh_s <= 0:
            msg = f"refresh_s must be positive, got {self.refresh_s!r}"
            raise ValueError(msg)
        if self.cache is None:
            self.cache = make_cache(refresh_s=self.refresh_s)
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._hot: dict[tuple[str, str], tuple[object, Callable[[], Any], int]] = {}
        self._warmer: threading.Thread | None = None
        self._stop = threading.Event()
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self.last_warm_ms = 0.0

    # -- keys and ticks
    def tick(self) -> int:
        forced = _WARMING_TICK.get()
        return forced if forced is not None else int(self.clock() // self.refresh_s)

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
        the view depends on besides the tick (its stable ``repr`` is the cache key).

        With ``warm_ahead``, the views asked for in the last ``warm_idle_ticks`` ticks are
        built again shortly *before* each tick starts (a background thread), so screens
        find them ready and no screen waits for the database at a tick change."""
        if self.warm_ahead and _WARMING_TICK.get() is None:
            with self._guard:
                self._hot[(name, repr(key))] = (key, build, self.tick())
            self._start_warmer()
        cache_key = f"view:{self.viewer.role}:{self.tick()}:{name}:{key!r}"

        def compute() -> Fetched:
            started = time.perf_counter()
            value = build()
            self._count(f"view:{name}", 1000 * (time.perf_counter() - started))
            return Fetched(value, self.clock())

        return self._single_flight(cache_key, compute, 2 * self.refresh_s + 1).value

    def get_many(self, requests: list[Request]) -> list[Fetched]:
        """:meth:`get` for several requests at once, side by side (the database works on
        them in parallel); answers in the order asked."""
        if len(requests) <= 1:
            return [self.get(r) for r in requests]
        pool = self._executor("fetch")
        # each task runs in a copy of this context, so a tick being warmed ahead is kept
        futures = [pool.submit(contextvars.copy_context().run, self.get, r) for r in requests]
        return [f.result() for f in futures]

    def _executor(self, name: str) -> ThreadPoolExecutor:
        with self._guard:
            pool = self._pools.get(name)
            if pool is None:
                pool = self._pools[name] = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"sandtable-{name}")
            return pool

    # -- refresh ahead
    def warm(self, tick: int) -> int:
        """Build, for ``tick``, every view used in the last ``warm_idle_ticks`` ticks
        (forgetting older ones); returns how many were built or found ready."""
        with self._guard:
            for k, (_, _, used) in list(self._hot.items()):
                if used < tick - 1 - self.warm_idle_ticks:
                    del self._hot[k]
            hot = [(name, key, build) for (name, _), (key, build, _) in self._hot.items()]
        def one(name: str, key: object, build: Callable[[], Any]) -> None:
            token = _WARMING_TICK.set(tick)
            acting = ACTING_VIEWER.set(self.viewer)
            try:
                self.memo(name, key, build)
            except Exception:  # noqa: BLE001 - the screen that asks will see the error itself
                log.exception("warming %s failed", name)
            finally:
                ACTING_VIEWER.reset(acting)
                _WARMING_TICK.reset(token)

        if len(hot) <= 1:
            for item in hot:
                one(*item)
        else:  # views side by side (the KPI tiles and the map need different queries)
            pool = self._executor("warm")
            for f in [pool.submit(one, *item) for item in hot]:
                f.result()
        return len(hot)

    def _start_warmer(self) -> None:
        if self._warmer is not None:
            return
        with self._guard:
            if self._warmer is None:
                self._warmer = threading.Thread(target=self._warm_loop, name="sandtable-warmer", daemon=True)
                self._warmer.start()

    def _warm_loop(self) -> None:
        done = None
        while not self._stop.is_set():
            now = self.clock()
            nxt = int(now // self.refresh_s) + 1
            lead = min(max(1.5 * self.last_warm_ms / 1000, 0.5), self.refresh_s / 2)
            at = nxt * self.refresh_s - lead
            if nxt != done and now >= at:
                started = time.perf_counter()
                n = self.warm(nxt)
                self.last_warm_ms = 1000 * (time.perf_counter() - started)
                log.debug("warmed %d views for tick %d in %.0f ms", n, nxt, self.last_warm_ms)
                done = nxt
            else:
                self._stop.wait(min(max(at - now, 0.05), 1.0))

    def stop(self) -> None:
        """Stop the refresh-ahead thread (if any) and the worker threads."""
        self._stop.set()
        with self._guard:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown(wait=False)

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

    def _compute(self, request: Request, viewer: Viewer | None = None) -> Fetched:
        name = type(request).__name__
        started = time.perf_counter()
        try:
            value = request.run(viewer or self.viewer, self.engine)
        except AccessDenied:
            raise
        except DB_DOWN_ERRORS as err:
            self._count(f"{name}:failed")
            log.warning("database unavailable for %s: %s", name, _one_line(err))
            last = self.cache.get(self._last_key(request)) if request.keep_last else None
            if last is not None:
                return Fetched(last.value, last.fetched_at, stale=True, error=_one_line(err))
            return Fetched(None, self.clock(), stale=True, error=_one_line(err))
        except Exception as err:  # noqa: BLE001 - a panel shows the error instead of a traceback
            self._count(f"{name}:error")
            log.exception("%s failed", name)
            return Fetched(None, self.clock(), error=_one_line(err))
        ms = 1000 * (time.perf_counter() - started)
        self._count(name, ms)
        log.debug("%s computed in %.0f ms", name, ms)
        fetched = Fetched(value, self.clock())
        if request.keep_last:
            self.cache.set(self._last_key(request), fetched, timeout=86_400)
        return fetched

    def _count(self, name: str, ms: float = 0.0) -> None:
        with self._guard:
            self.stats[name] += 1
            self.timings[name] += ms

    # -- the dashboard's "now"
    def anchor(self) -> tuple[Anchor, Fetched]:
        """The anchor of this tick (from the newest scan), and the answer it was read from
        (whose ``stale`` / ``error`` say whether the database answered)."""
        fetched = self.get(AnchorRequest())
        now = datetime.fromtimestamp(self.clock()).astimezone()
        as_of = fetched.value
        if as_of is None:
            from dashboard.i18n import zone

            return Anchor(day=now.astimezone(zone()).date(), as_of=None, end=now), fetched
        as_of = pd.Timestamp(as_of).to_pydatetime()
        from dashboard.i18n import zone

        return Anchor(day=as_of.astimezone(zone()).date(), as_of=as_of, end=as_of), fetched

    # -- tracing: audited every time, kept under a random token for the CSV export
    def trace(self, request: TraceRequest, *, viewer: Viewer | None = None,
              keep_s: float = 1800) -> tuple[str | None, Fetched]:
        """Trace now, as ``viewer`` (the person asking: the audit record names them;
        default this provider's viewer), never from the cache. A blank purpose is refused
        (:class:`AccessDenied`) before anything is read. The result is kept ``keep_s``
        seconds under the returned token, for that viewer only, so that the export gives
        exactly what was shown."""
        viewer = viewer or self.viewer
        require_purpose(request.purpose, what="trace a person")
        fetched = self._compute(request, viewer)
        if fetched.value is None:
            return None, fetched
        token = secrets.token_urlsafe(16)
        self.cache.set(f"trace:{viewer.name}:{token}", (fetched.value, request.purpose.strip()), timeout=int(keep_s))
        return token, fetched

    def kept(self, token: str | None, *, viewer: Viewer | None = None) -> tuple[analytics.Trace, str] | None:
        """(trace, purpose) kept under ``token`` for ``viewer`` (None: expired, or someone else's)."""
        if not token or not isinstance(token, str):
            return None
        return self.cache.get(f"trace:{(viewer or self.viewer).name}:{token}")

    def traced(self, token: str | None, *, viewer: Viewer | None = None) -> analytics.Trace | None:
        hit = self.kept(token, viewer=viewer)
        return hit[0] if hit else None

    def audit(self, viewer: Viewer, action: str, *, person_id: int | None, purpose: str | None, rows: int | None,
              detail: dict | None = None) -> None:
        """Append an audit record (e.g. a trace's CSV export) through the analytics layer."""
        from analytics._common import engine_or_default

        with engine_or_default(self.engine).begin() as conn:
            write_audit(conn, viewer, action, person_id=person_id, purpose=purpose, rows=rows, detail=detail)

    def lookups(self, viewer: Viewer, limit: int = 10) -> list[dict]:
        """The viewer's own recent views of named persons (never cached: it is theirs)."""
        return own_lookups(viewer, engine=self.engine, limit=limit)


def _one_line(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:200]
