"""3-second tracing: a person's trajectory, close contacts (密接) and secondary contacts (次密接).

Definitions (``geodata/rules.toml``; every edge inclusive):

- **Co-presence**: scans of two persons at the same site, of a kind in
  ``copresence.site_kinds``, at most ``copresence.minutes`` apart.
- **Window** of the index person. A case (a positive NAT result sampled at or before
  ``at``): from the first positive sample minus ``exposure.days_before_sample`` days to
  the first isolation admission at or after that start (open when not isolated, or
  ``at`` when given). Not a case: the ``days_before_sample`` days up to ``at`` (default:
  the newest scan in the database). An explicit ``window`` overrides both.
- **As of** ``at``: when ``at`` is given, no scan after it counts (the answer the
  system would have given at that moment).
- **Close contact**: a person co-present with the index person at one of the index
  person's scans inside the window. Their *first exposure* is the earliest of their own
  scan times among those pairs.
- **Secondary contact**: a person, neither the index nor a close contact, co-present
  with a close contact K at one of K's scans between K's first exposure and K's first
  isolation admission at or after it (open when K was not isolated).

Everything is computed in one round trip of SQL on the indexes
``scans (site_id, scanned_at) INCLUDE (person_id)`` and ``scans (person_id, scanned_at)``.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import geopandas as gpd
import networkx as nx
import numpy as np
import orjson
import pandas as pd
import psycopg.types.json
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import Text

from analytics._common import as_time, engine_or_default, local_zone, rules_or_default
from analytics.access import Viewer, require, require_purpose, write_audit
from geodata.privacy import Pseudonymiser
from geodata.rules import Rules

__all__ = ["trace", "Trace", "newest_scan", "prepared"]

_CASE = text(
    """
    WITH pos AS (
        SELECT min(sampled_at) AS sampled_at FROM nat_results
        WHERE person_id = :pid AND result = 'positive'
          AND (CAST(:at AS timestamptz) IS NULL OR sampled_at <= CAST(:at AS timestamptz))
    )
    SELECT pos.sampled_at,
           (SELECT min(admitted_at) FROM isolation_stays z
             WHERE z.person_id = :pid AND z.admitted_at >= pos.sampled_at - CAST(:before AS interval)) AS isolated_at
    FROM pos
    """
)

# One round trip, aggregated where the data lives: the index person's reference, the
# trajectory (one row per scan), one row per close contact and per secondary contact
# (their evidence as JSON arrays of arrays built by the server, times as ISO 8601 in the
# session time zone; arrays cost half what objects do) and one row per place involved; tagged by ``part``. :w0/:w1 bound the index
# person's window; :lo/:hi are the same bounds widened by the co-presence interval so
# the planner prunes day partitions.
_TRACE_SQL = """
    WITH idx AS (
        SELECT s.site_id, s.scanned_at
        FROM scans s JOIN sites t ON t.site_id = s.site_id
        WHERE s.person_id = :pid AND s.scanned_at BETWEEN :w0 AND :w1 AND t.kind = ANY(:kinds)
    ),
    close_ev AS (
        SELECT o.person_id, i.site_id, i.scanned_at AS index_at, o.scanned_at AS contact_at
        FROM idx i
        JOIN scans o ON o.site_id = i.site_id
                    AND o.scanned_at BETWEEN i.scanned_at - :d AND i.scanned_at + :d
                    AND o.scanned_at BETWEEN :lo AND :hi
                    AND o.scanned_at <= :asof
        WHERE o.person_id <> :pid
    ),
    close AS (
        SELECT c.person_id, min(c.contact_at) AS first_exposure,
               (SELECT min(z.admitted_at) FROM isolation_stays z
                 WHERE z.person_id = c.person_id AND z.admitted_at >= min(c.contact_at)) AS isolated_at
        FROM close_ev c GROUP BY c.person_id
    ),
    k_scans AS (
        SELECT k.person_id AS via, s.site_id, s.scanned_at
        FROM close k
        JOIN scans s ON s.person_id = k.person_id
                    AND s.scanned_at >= k.first_exposure
                    AND s.scanned_at <= COALESCE(k.isolated_at, 'infinity')
                    AND s.scanned_at BETWEEN :lo AND :asof
        JOIN sites t ON t.site_id = s.site_id AND t.kind = ANY(:kinds)
    ),
    sec_ev AS (
        SELECT o.person_id, k.via, k.site_id, k.scanned_at AS via_at, o.scanned_at AS contact_at
        FROM k_scans k
        JOIN scans o ON o.site_id = k.site_id
                    AND o.scanned_at BETWEEN k.scanned_at - :d AND k.scanned_at + :d
                    AND o.scanned_at BETWEEN :lo AND :asof
        WHERE o.person_id <> :pid
          -- NOT IN (a hashed subplan, whatever the estimates), not NOT EXISTS: a generic plan
          -- may expect one row here and anti-join by nested loop (90 s for a school's cluster)
          AND o.person_id NOT IN (SELECT c.person_id FROM close c)
    ),
    traj AS (
        SELECT s.site_id, s.scanned_at, s.kind FROM scans s
        WHERE s.person_id = :pid AND s.scanned_at BETWEEN :w0 AND :w1
    )
    SELECT 'index' AS part, p.person_id, p.ref_encrypted AS ref, NULL::bigint AS t1,
           NULL::bigint AS t2, NULL::bigint[] AS ids, NULL::json AS doc
    FROM persons p WHERE p.person_id = :pid
    UNION ALL
    SELECT 'trajectory', NULL, NULL, _us(scanned_at), NULL, ARRAY[site_id], json_build_array(kind, scanned_at)
    FROM traj
    UNION ALL
    SELECT 'close', c.person_id, p.ref_encrypted, _us(c.first_exposure), _us(c.isolated_at), NULL,
           json_build_array(c.isolated_at,
               (SELECT json_agg(json_build_array(t.site_code, e.index_at, e.contact_at)
                                ORDER BY e.contact_at, e.index_at)
                  FROM close_ev e JOIN sites t ON t.site_id = e.site_id WHERE e.person_id = c.person_id))
    FROM close c JOIN persons p ON p.person_id = c.person_id
    UNION ALL
    SELECT 'secondary', g.person_id, p.ref_encrypted, g.t1, NULL, NULL, g.doc
    FROM (SELECT o.person_id, _us(min(o.contact_at)) AS t1,
                 json_agg(json_build_array(o.via, o.site_id, o.via_at, o.contact_at)) AS doc
          FROM (SELECT e.person_id, e.via, e.site_id, e.via_at, e.contact_at FROM sec_ev e
                ORDER BY e.person_id, e.contact_at, e.via_at) o  -- one sort, not one per contact
          GROUP BY o.person_id) g
    JOIN persons p ON p.person_id = g.person_id
    UNION ALL
    SELECT 'place', s.site_id, NULL, NULL, NULL, NULL,
           json_build_object('site_code', s.site_code, 'kind', s.kind, 'name', s.name, 'lon', s.lon,
                             'lat', s.lat, 'district_code', s.district_code, 'community_zh', d.name_zh,
                             'community_en', d.name_en)
    FROM sites s LEFT JOIN districts d ON d.code = s.district_code
    WHERE s.site_id = ANY(ARRAY(SELECT site_id FROM traj UNION SELECT site_id FROM close_ev
                                UNION SELECT site_id FROM sec_ev))  -- a few dozen: by the primary key
"""


def _epoch_us(sql: str) -> str:
    """``_us(t)`` in the SQL above: a time as integer microseconds since the epoch (the
    frames are built from these in one vectorised step)."""
    return re.sub(r"_us\(((?:[^()]|\([^()]*\))*)\)", r"CAST(extract(epoch FROM \1) * 1000000 AS bigint)", sql)


_TRACE = text(_epoch_us(_TRACE_SQL)).bindparams(bindparam("kinds", type_=ARRAY(Text)))

_PLACE_COLUMNS = ["site_id", "site_code", "kind", "name", "lon", "lat", "district_code", "community_zh",
                  "community_en"]


@dataclass
class Trace:
    """The result of :func:`trace`. Person columns hold references for cdc.

    ``trajectory``, ``close_contacts``, ``secondary_contacts`` (DataFrames) and
    ``places`` (a GeoDataFrame) are built on first use; :meth:`to_json` needs none of them.
    """

    person: str
    person_id: int
    is_case: bool
    window_from: datetime
    window_to: datetime
    elapsed_ms: float
    rules_version: str
    _refs: dict[int, str] = field(default_factory=dict, repr=False)
    #: (scanned_at µs, site_code, site name, site kind, scan kind, scanned_at ISO, lon, lat)
    _traj: list[tuple] = field(default_factory=list, repr=False)
    #: (first exposure µs, person, person_id, isolated_at µs, isolated_at ISO, exposures)
    _close: list[tuple] = field(default_factory=list, repr=False)
    #: (first exposure µs, person, person_id, via, exposures)
    _secondary: list[tuple] = field(default_factory=list, repr=False)
    _place_rows: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    @functools.cached_property
    def trajectory(self) -> pd.DataFrame:
        """The index person's scans in the window, in time order, with their sites."""
        t = self._traj
        return pd.DataFrame({
            "scanned_at": _times([r[0] for r in t]),
            "site_code": [r[1] for r in t], "site_name": [r[2] for r in t], "site_kind": [r[3] for r in t],
            "scan_kind": [r[4] for r in t],
            "lon": pd.Series([r[6] for r in t], dtype="float64"),
            "lat": pd.Series([r[7] for r in t], dtype="float64"),
        })

    @functools.cached_property
    def close_contacts(self) -> pd.DataFrame:
        """One row per close contact: person, person_id, first_exposure, isolated_at, exposures."""
        c = self._close
        return pd.DataFrame({
            "person": [r[1] for r in c],
            "person_id": pd.array([r[2] for r in c], dtype="Int64"),
            "first_exposure": _times([r[0] for r in c]),
            "isolated_at": _times([r[3] for r in c]),
            "exposures": [r[5] for r in c],
        })

    @functools.cached_property
    def secondary_contacts(self) -> pd.DataFrame:
        """One row per secondary contact: person, person_id, via, first_exposure, exposures."""
        c = self._secondary
        return pd.DataFrame({
            "person": [r[1] for r in c],
            "person_id": pd.array([r[2] for r in c], dtype="Int64"),
            "via": [r[3] for r in c],
            "first_exposure": _times([r[0] for r in c]),
            "exposures": [r[4] for r in c],
        })

    @functools.cached_property
    def places(self) -> gpd.GeoDataFrame:
        """The places involved (trajectory and evidence), as points."""
        p = self._place_rows
        return gpd.GeoDataFrame(p, geometry=gpd.points_from_xy(p["lon"].astype("float64"),
                                                               p["lat"].astype("float64")), crs="EPSG:4326")

    def ref(self, person_id: int) -> str:
        return self._refs.get(int(person_id), str(person_id))

    def graph(self) -> nx.Graph:
        """The contact graph: the index person, close and secondary contacts; edges carry evidence."""
        g = nx.Graph()
        g.add_node(self.person, degree=0, person_id=self.person_id)
        for row in self.close_contacts.itertuples():
            g.add_node(row.person, degree=1, person_id=row.person_id)
            g.add_edge(self.person, row.person, exposures=row.exposures)
        for row in self.secondary_contacts.itertuples():
            g.add_node(row.person, degree=2, person_id=row.person_id)
            for ev in row.exposures:
                a, b = ev["via"], row.person
                if g.has_edge(a, b):
                    g.edges[a, b]["exposures"].append(ev)
                else:
                    g.add_edge(a, b, exposures=[ev])
        return g

    def to_dict(self) -> dict:
        def iso(t: pd.Timestamp | datetime | None) -> str | None:
            return None if t is None or pd.isna(t) else pd.Timestamp(t).tz_convert(local_zone()).isoformat()

        return {
            "person": self.person,
            "is_case": self.is_case,
            "window": {"from": iso(self.window_from), "to": iso(self.window_to)},
            "trajectory": [
                {"site_code": code, "site": name, "kind": kind, "scan_kind": scan_kind, "at": at, "lon": lon,
                 "lat": lat}
                for _, code, name, kind, scan_kind, at, lon, lat in self._traj
            ],
            "close_contacts": [
                {"person": person, "first_exposure": exposures[0]["contact_at"], "isolated_at": isolated,
                 "exposures": exposures}
                for _, person, _, _, isolated, exposures in self._close
            ],
            "secondary_contacts": [
                {"person": person, "via": via, "exposures": exposures}
                for _, person, _, via, exposures in self._secondary
            ],
            "rules_version": self.rules_version,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }

    def to_json(self) -> str:
        with _gc_paused_here():
            return orjson.dumps(self.to_dict(), default=str).decode("utf-8")


_SETTINGS = text("SELECT set_config('plan_cache_mode', 'force_generic_plan', true), "
                 "set_config('TimeZone', :tz, true)")

_PARTITIONS = text(
    """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = CAST('scans' AS regclass) ORDER BY c.relname DESC"""
)


def newest_scan(conn: Connection, before: datetime | None = None) -> datetime | None:
    """The newest scan time (before ``before``), read from the newest non-empty day
    partitions (cheap: no scan of the whole table)."""
    for name in conn.execute(_PARTITIONS).scalars():
        if not re.fullmatch(r"scans_p\d{8}", name):
            continue
        if before is not None:
            day = datetime(int(name[7:11]), int(name[11:13]), int(name[13:15]), tzinfo=local_zone())
            if day >= before:
                continue
        newest = conn.execute(text(f"SELECT max(scanned_at) FROM {name} WHERE CAST(:b AS timestamptz) IS NULL "
                                   "OR scanned_at < CAST(:b AS timestamptz)"), {"b": before}).scalar_one()
        if newest is not None:
            return newest
    return None


def _window(conn: Connection, row, at: datetime | None, rules: Rules) -> tuple[bool, datetime, datetime | None]:  # noqa: ANN001
    before = timedelta(days=rules.exposure.days_before_sample)
    if row is not None and row.sampled_at is not None:
        # the session speaks the district's zone (see _SETTINGS); times leave in UTC as elsewhere
        start = row.sampled_at.astimezone(timezone.utc) - before
        end = row.isolated_at.astimezone(timezone.utc) if row.isolated_at is not None else None
        if at is not None and (end is None or at < end):
            end = at
        return True, start, end
    newest = newest_scan(conn) if at is None else None
    end = at or (newest.astimezone(timezone.utc) if newest else None) or datetime.now().astimezone()
    return False, end - before, end


_gc_lock = threading.Lock()
_gc_depth = 0
_gc_paused = False


@contextlib.contextmanager
def _gc_paused_here() -> Iterator[None]:
    """Pause the cyclic garbage collector while a result is assembled: it allocates tens
    of thousands of small acyclic containers, for which the collector would otherwise
    scan the whole heap several times (100 ms and more in a large process). Re-entrant
    and shared by threads: the collector runs again when the last one leaves."""
    global _gc_depth, _gc_paused
    with _gc_lock:
        if _gc_depth == 0 and gc.isenabled():
            gc.disable()
            _gc_paused = True
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_paused:
                _gc_paused = False
                gc.enable()


@contextlib.contextmanager
def prepared(conn: Connection) -> Iterator[None]:
    """Prepare every statement on first use on this pooled connection (psycopg), so that
    repeated traces skip planning: plans over day partitions cost more than running them."""
    raw = conn.connection.driver_connection
    saved = getattr(raw, "prepare_threshold", None)
    if saved is None and not hasattr(raw, "prepare_threshold"):
        yield
        return
    raw.prepare_threshold = 0
    if not getattr(raw, "_sandtable_orjson", False):  # JSON columns parsed by orjson (3-5x json)
        psycopg.types.json.set_json_loads(orjson.loads, raw)
        raw._sandtable_orjson = True
    try:
        yield
    finally:
        raw.prepare_threshold = saved


def trace(
    person: str,
    at: datetime | str | None = None,
    window: tuple[datetime | str, datetime | str] | None = None,
    *,
    viewer: Viewer,
    purpose: str | None = None,
    engine: Engine | None = None,
    rules: Rules | None = None,
    pseudonymiser: Pseudonymiser | None = None,
) -> Trace:
    """Trace ``person`` (a person reference as ingested). Only the ``cdc`` role may trace.

    Every call writes an audit record (who, role, which person, purpose, rows returned).
    """
    require(viewer, "cdc", what="trace a person")
    purpose = require_purpose(purpose, what="trace a person")  # before any work
    started = time.perf_counter()
    engine = engine_or_default(engine)
    rules = rules_or_default(rules)
    pseudo = pseudonymiser or Pseudonymiser.from_settings()
    pid = pseudo.person_id(person)
    at_t = as_time(at)
    d = timedelta(minutes=rules.copresence.minutes)
    kinds = list(rules.copresence.site_kinds)
    before = timedelta(days=rules.exposure.days_before_sample)

    with engine.begin() as conn, prepared(conn):
        # generic plans: a plan per pooled connection, partitions pruned at execution
        # evidence times are formatted by the server, in the district's zone
        conn.execute(_SETTINGS, {"tz": str(local_zone())})
        info = conn.execute(_CASE, {"pid": pid, "at": at_t, "before": before}).one_or_none()
        is_case, w0, w1 = _window(conn, info, at_t, rules)
        if window is not None:
            w0, w1 = as_time(window[0]), as_time(window[1])
        far = datetime(9999, 1, 1).astimezone()
        hi = (w1 or far) + d if w1 is not None else far
        with _gc_paused_here():
            rows = conn.execute(_TRACE, {
                "pid": pid, "w0": w0, "w1": w1 or far, "lo": w0 - d, "hi": hi, "d": d, "kinds": kinds,
                "asof": at_t or far,
            }).all()
            result = _assemble(person, pid, is_case, w0, w1, rows, pseudo, rules)
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        write_audit(conn, viewer, "trace", person_id=pid, purpose=purpose,
                    rows=len(result._close) + len(result._secondary),
                    detail={"window_from": w0.isoformat(), "window_to": w1.isoformat() if w1 else None,
                            "close": len(result._close), "secondary": len(result._secondary)})
    result.elapsed_ms = (time.perf_counter() - started) * 1000
    return result


def _times(values: list) -> pd.Series:
    """Times from integer microseconds since the epoch (None: missing; float64 holds
    these integers exactly)."""
    return pd.Series(pd.DatetimeIndex(np.array(values, dtype="float64").astype("datetime64[us]"), tz="UTC"))


def _assemble(person: str, pid: int, is_case: bool, w0: datetime, w1: datetime | None, rows: list,
              pseudo: Pseudonymiser, rules: Rules) -> Trace:
    """Build the result frames from the aggregated rows (one per contact, place or scan)."""
    refs: dict[int, str] = {}
    decrypt = pseudo.decrypt
    traj, close, secondary, site = [], [], [], {}
    for part, person_id, blob, t1, t2, ids, doc in rows:
        if blob is not None:
            refs[person_id] = decrypt(blob)
        if part == "secondary":
            secondary.append((person_id, t1, ids, doc))
        elif part == "close":
            close.append((person_id, t1, t2, doc))
        elif part == "trajectory":
            traj.append((t1, ids[0], doc))
        elif part == "place":
            site[person_id] = doc

    def ref(p: int) -> str:
        return refs.get(p) or str(p)

    traj.sort(key=lambda r: r[0])
    traj_rows = []
    for t1, site_id, (scan_kind, at) in traj:
        place = site[site_id]
        traj_rows.append((t1, place["site_code"], place["name"], place["kind"], scan_kind, at, place["lon"],
                          place["lat"]))

    # sorted here (by first exposure, then reference), evidence as dicts
    close_rows = sorted(
        ((t1, ref(p), p, t2, isolated, [{"site_code": a, "index_at": b, "contact_at": c} for a, b, c in ev])
         for p, t1, t2, (isolated, ev) in close), key=lambda c: (c[0], c[1]))

    get = refs.get
    code = {k: v["site_code"] for k, v in site.items()}
    sec_rows = []
    for p, t1, _, doc in secondary:
        ev = [{"via": get(v) or str(v), "site_code": code[a], "via_at": b, "contact_at": c} for v, a, b, c in doc]
        sec_rows.append((t1, ref(p), p, sorted({e["via"] for e in ev}), ev))
    sec_rows.sort(key=lambda c: (c[0], c[1]))

    docs = list(site.values())
    pframe = pd.DataFrame({"site_id": list(site), **{c: [d[c] for d in docs] for c in _PLACE_COLUMNS[1:]}},
                          columns=_PLACE_COLUMNS)
    return Trace(
        person=refs.get(pid, person), person_id=pid, is_case=is_case, window_from=w0,
        window_to=w1 if w1 is not None else pd.NaT, elapsed_ms=0.0, rules_version=rules.version, _refs=refs,
        _traj=traj_rows, _close=close_rows, _secondary=sec_rows, _place_rows=pframe,
    )
