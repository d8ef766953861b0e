"""3-second tracing: a person's trajectory, close contacts (密接) and secondary contacts (次密接).

Definitions (``geodata/rules.toml``; every edge inclusive):

- **Co-presence**: scans of two persons at the same site, of a kind in
  ``copresence.site_kinds``, at most ``copresence.minutes`` apart.
- **Window** of the index person. A case (a positive NAT result sampled at or before
  ``at``): from the first positive sample minus ``exposure.days_before_sample`` days to
  the first isolation admission at or after that start (open when not isolated, or
  ``at`` when given). Not a case: the ``days_before_sample`` days up to ``at`` (default:
  the newest scan in the database). An explicit ``window`` overrides both.
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
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import geopandas as gpd
import networkx as nx
import pandas as pd
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import BigInteger, Text

from analytics._common import as_time, engine_or_default, local_zone, rules_or_default
from analytics.access import Viewer, require, write_audit
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

# One round trip: the trajectory, the close-contact evidence and the secondary evidence,
# tagged by ``part``. :w0/:w1 bound the index person's window; :lo/:hi are the same
# bounds widened by the co-presence interval so the planner prunes day partitions.
_TRACE = text(
    """
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
                    AND (k.isolated_at IS NULL OR s.scanned_at <= k.isolated_at)
                    AND s.scanned_at >= :lo
        JOIN sites t ON t.site_id = s.site_id AND t.kind = ANY(:kinds)
    ),
    sec_ev AS (
        SELECT o.person_id, k.via, k.site_id, k.scanned_at AS via_at, o.scanned_at AS contact_at
        FROM k_scans k
        JOIN scans o ON o.site_id = k.site_id
                    AND o.scanned_at BETWEEN k.scanned_at - :d AND k.scanned_at + :d
                    AND o.scanned_at >= :lo
        WHERE o.person_id <> :pid
          AND NOT EXISTS (SELECT 1 FROM close c WHERE c.person_id = o.person_id)
    )
    SELECT 'trajectory' AS part, :pid AS person_id, NULL::bigint AS via, s.site_id,
           s.scanned_at AS t1, NULL::timestamptz AS t2, s.kind AS note
    FROM scans s WHERE s.person_id = :pid AND s.scanned_at BETWEEN :w0 AND :w1
    UNION ALL
    SELECT 'close', person_id, NULL, site_id, index_at, contact_at, NULL FROM close_ev
    UNION ALL
    SELECT 'isolated', person_id, NULL, NULL, first_exposure, isolated_at, NULL FROM close
    UNION ALL
    SELECT 'secondary', person_id, via, site_id, via_at, contact_at, NULL FROM sec_ev
    """
).bindparams(bindparam("kinds", type_=ARRAY(Text)))

_PLACES = text(
    """SELECT s.site_id, s.site_code, s.kind, s.name, s.lon, s.lat, s.district_code,
              d.name_zh AS community_zh, d.name_en AS community_en
       FROM sites s LEFT JOIN districts d ON d.code = s.district_code
       WHERE s.site_id = ANY(:ids)"""
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))

_REFS = text("SELECT person_id, ref_encrypted FROM persons WHERE person_id = ANY(:ids)").bindparams(
    bindparam("ids", type_=ARRAY(BigInteger)))


@dataclass
class Trace:
    """The result of :func:`trace`. Person columns hold references for cdc."""

    person: str
    person_id: int
    is_case: bool
    window_from: datetime
    window_to: datetime
    trajectory: pd.DataFrame
    close_contacts: pd.DataFrame
    secondary_contacts: pd.DataFrame
    places: gpd.GeoDataFrame
    elapsed_ms: float
    rules_version: str
    _refs: dict[int, str] = field(default_factory=dict, repr=False)

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
                {"site_code": r.site_code, "site": r.site_name, "kind": r.site_kind, "scan_kind": r.scan_kind,
                 "at": iso(r.scanned_at), "lon": r.lon, "lat": r.lat}
                for r in self.trajectory.itertuples()
            ],
            "close_contacts": [
                {"person": r.person, "first_exposure": iso(r.first_exposure), "isolated_at": iso(r.isolated_at),
                 "exposures": r.exposures}
                for r in self.close_contacts.itertuples()
            ],
            "secondary_contacts": [
                {"person": r.person, "via": r.via, "exposures": r.exposures}
                for r in self.secondary_contacts.itertuples()
            ],
            "rules_version": self.rules_version,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, default=str)


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
        start = row.sampled_at - before
        end = row.isolated_at
        if at is not None and (end is None or at < end):
            end = at
        return True, start, end
    end = at or newest_scan(conn) or datetime.now().astimezone()
    return False, end - before, end


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
        conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        info = conn.execute(_CASE, {"pid": pid, "at": at_t, "before": before}).one_or_none()
        is_case, w0, w1 = _window(conn, info, at_t, rules)
        if window is not None:
            w0, w1 = as_time(window[0]), as_time(window[1])
        far = datetime(9999, 1, 1).astimezone()
        hi = (w1 or far) + d if w1 is not None else far
        rows = conn.execute(_TRACE, {
            "pid": pid, "w0": w0, "w1": w1 or far, "lo": w0 - d, "hi": hi, "d": d, "kinds": kinds,
        }).all()
        ids = {r.person_id for r in rows} | {r.via for r in rows if r.via is not None} | {pid}
        refs = {int(r.person_id): pseudo.decrypt(r.ref_encrypted)
                for r in conn.execute(_REFS, {"ids": sorted(ids)})}
        site_ids = sorted({r.site_id for r in rows if r.site_id is not None})
        places = pd.DataFrame(conn.execute(_PLACES, {"ids": site_ids}).mappings().all(),
                              columns=["site_id", "site_code", "kind", "name", "lon", "lat", "district_code",
                                       "community_zh", "community_en"])
        result = _assemble(person, pid, is_case, w0, w1, rows, refs, places, rules)
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        write_audit(conn, viewer, "trace", person_id=pid, purpose=purpose,
                    rows=len(result.close_contacts) + len(result.secondary_contacts),
                    detail={"window_from": w0.isoformat(), "window_to": w1.isoformat() if w1 else None,
                            "close": len(result.close_contacts), "secondary": len(result.secondary_contacts)})
    result.elapsed_ms = (time.perf_counter() - started) * 1000
    return result


@functools.lru_cache(maxsize=65536)
def _iso(t: datetime | None) -> str | None:
    """Local ISO 8601 text of a time (memoised: evidence repeats the same scan times)."""
    return None if t is None else t.astimezone(local_zone()).isoformat()


def _assemble(person: str, pid: int, is_case: bool, w0: datetime, w1: datetime | None, rows: list,
              refs: dict[int, str], places: pd.DataFrame, rules: Rules) -> Trace:
    """Build the result frames from the raw rows (plain Python: a few thousand rows at most)."""
    site = {int(r.site_id): r for r in places.itertuples(index=False)}

    def ref(p: int) -> str:
        return refs.get(int(p), str(int(p)))

    traj = sorted((r for r in rows if r.part == "trajectory"), key=lambda r: r.t1)
    trajectory = pd.DataFrame({
        "scanned_at": pd.to_datetime([r.t1 for r in traj], utc=True),
        "site_code": [site[r.site_id].site_code for r in traj],
        "site_name": [site[r.site_id].name for r in traj],
        "site_kind": [site[r.site_id].kind for r in traj],
        "scan_kind": [r.note for r in traj],
        "lon": [site[r.site_id].lon for r in traj],
        "lat": [site[r.site_id].lat for r in traj],
    })

    isolated = {r.person_id: (r.t1, r.t2) for r in rows if r.part == "isolated"}
    close_ev: dict[int, list] = {}
    for r in sorted((r for r in rows if r.part == "close"), key=lambda r: (r.t2, r.t1)):
        close_ev.setdefault(r.person_id, []).append(
            {"site_code": site[r.site_id].site_code, "index_at": _iso(r.t1), "contact_at": _iso(r.t2)})
    close = pd.DataFrame(
        [{"person": ref(p), "person_id": p, "first_exposure": isolated[p][0], "isolated_at": isolated[p][1],
          "exposures": ev} for p, ev in close_ev.items()],
        columns=["person", "person_id", "first_exposure", "isolated_at", "exposures"])
    if not close.empty:
        for col in ("first_exposure", "isolated_at"):
            close[col] = pd.to_datetime(close[col], utc=True)
        close = close.sort_values(["first_exposure", "person"], kind="stable").reset_index(drop=True)

    sec_ev: dict[int, list] = {}
    for r in sorted((r for r in rows if r.part == "secondary"), key=lambda r: (r.t2, r.t1)):
        sec_ev.setdefault(r.person_id, []).append(
            {"via": ref(r.via), "site_code": site[r.site_id].site_code, "via_at": _iso(r.t1),
             "contact_at": _iso(r.t2), "_t": r.t2})
    sec_rows = []
    for p, ev in sec_ev.items():
        first = ev[0].pop("_t")
        for e in ev[1:]:
            e.pop("_t")
        sec_rows.append({"person": ref(p), "person_id": p, "via": sorted({e["via"] for e in ev}),
                         "first_exposure": first, "exposures": ev})
    secondary = pd.DataFrame(sec_rows, columns=["person", "person_id", "via", "first_exposure", "exposures"])
    if not secondary.empty:
        secondary["first_exposure"] = pd.to_datetime(secondary["first_exposure"], utc=True)
        secondary = secondary.sort_values(["first_exposure", "person"], kind="stable").reset_index(drop=True)
    for df in (close, secondary):
        df["person_id"] = pd.array(df["person_id"].tolist(), dtype="Int64")

    gplaces = gpd.GeoDataFrame(places, geometry=gpd.points_from_xy(places["lon"], places["lat"]), crs="EPSG:4326")
    return Trace(
        person=refs.get(pid, person), person_id=pid, is_case=is_case, window_from=w0,
        window_to=w1 if w1 is not None else pd.NaT, trajectory=trajectory, close_contacts=close,
        secondary_contacts=secondary, places=gplaces, elapsed_ms=0.0, rules_version=rules.version, _refs=refs,
    )
