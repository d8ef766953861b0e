"""Loading prepared batches: binary COPY into staging, then an idempotent insert.

One transaction per batch: new persons, the batch's rows (from a temporary staging
table filled by binary COPY: a plain ``INSERT ... SELECT`` when none of their ids exist
yet, checked under an advisory lock, else ``INSERT ... ON CONFLICT DO NOTHING``) and
its rejects commit together. Scan rows for a local day that has no partition yet take a
faster path (:mod:`ingest.partitions`): they are held per day and, once the reader has
moved past the day (or at the end of the file), written into a new table whose indexes
are built once, sorted, and which is then attached as the day's partition; each such
day is one transaction, on connections of their own.

The ledgers: ``ingest_runs`` (one row per file: hash, counts, timing, status, extra
columns) and ``rejects`` (row number, reason, detail, the raw row redacted and
encrypted).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import psycopg
import pyarrow as pa
from psycopg import errors, sql

from ingest.copybin import SIGNATURE, TRAILER, Field, Payload, encode
from ingest.partitions import DayWriter, day_of, partition_name

__all__ = ["Batch", "Reject", "Loader", "start_run", "finish_run"]

log = logging.getLogger(__name__)
_COPY_CHUNK = 4 << 20
_PERSONS_LOCK = 0x5A4E_5045  # advisory lock: one run at a time adds persons
_PENDING_LIMIT = 1 << 30  # bytes of fresh-day scan rows held before the largest day is written


@dataclass
class Reject:
    row: int
    reason: str
    detail: str
    raw_redacted: str | None
    raw_encrypted: bytes


@dataclass
class Batch:
    """What one batch writes: rows (encoded), new persons, rejects."""

    payload: Payload | None
    days: np.ndarray | None = None  # scans: local day (Unix days) of each payload row, ascending
    person_ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    person_blobs: list[bytes] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


def start_run(conn: psycopg.Connection, feed: str, source: str, crs: str) -> int:
    """A new ``running`` row in the ingest ledger (committed at once); returns its id."""
    with conn.transaction():
        return conn.execute(
            "INSERT INTO ingest_runs (feed, source, crs) VALUES (%s, %s, %s) RETURNING run_id",
            (feed, source, crs)).fetchone()[0]


def finish_run(conn: psycopg.Connection, run_id: int, *, status: str, read: int = 0, loaded: int = 0,
               duplicates: int = 0, rejected: int = 0, seconds: float = 0.0, sha256: str | None = None,
               extra_columns: list[str] | None = None, message: str | None = None) -> None:
    with conn.transaction():
        conn.execute(
            """UPDATE ingest_runs SET finished_at = now(), status = %s, read = %s, loaded = %s,
                   duplicates = %s, rejected = %s, seconds = %s, file_sha256 = %s, extra_columns = %s,
                   message = %s
               WHERE run_id = %s""",
            (status, read, loaded, duplicates, rejected, seconds, sha256, extra_columns or None, message, run_id))


def _copy(cur: psycopg.Cursor, target: sql.Composable, columns: list[str], parts: list[memoryview],
          freeze: bool = False) -> None:
    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY{})").format(
        target, sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", FREEZE") if freeze else sql.SQL(""))
    with cur.copy(stmt) as cp:
        cp.write(SIGNATURE)
        for part in parts:
            for i in range(0, len(part), _COPY_CHUNK):
                cp.write(part[i:i + _COPY_CHUNK])
        cp.write(TRAILER)


def _insert_sql(table: str, columns: list[str], on_conflict: bool = True) -> sql.Composable:
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    conflict = sql.SQL(" ON CONFLICT DO NOTHING" if on_conflict else "")
    if table == "sites":
        # the geometry from the point; the community by point-in-polygon when no district was given
        point = sql.SQL("ST_SetSRID(ST_MakePoint(g.lon, g.lat), 4326)")
        exprs = [sql.SQL("COALESCE(g.district_code, (SELECT d.code FROM districts d WHERE d.level = 'community' "
                         "AND ST_Covers(d.geom, {}) ORDER BY d.code LIMIT 1))").format(point)
                 if c == "district_code" else sql.Identifier("g", c) for c in columns]
        return sql.SQL("INSERT INTO sites ({cols}, geom) SELECT {exprs}, {point} FROM _stage g{conflict}").format(
            cols=cols, exprs=sql.SQL(", ").join(exprs), point=point, conflict=conflict)
    return sql.SQL("INSERT INTO {} ({cols}) SELECT {cols} FROM _stage{conflict}").format(
        sql.Identifier(table), cols=cols, conflict=conflict)


class Loader:
    """Writes a run's batches into ``table`` through ``conn`` (used by one thread).

    ``connect`` opens extra connections for new scan days (``(handle, connection)``);
    ``release`` gives a handle back.
    """

    def __init__(self, conn: psycopg.Connection, *, feed: str, table: str, run_id: int, source: str,
                 zone: str, key: list[str] | None = None, connect: Callable | None = None,
                 release: Callable | None = None, day_workers: int = 2) -> None:
        self.conn = conn
        self.feed = feed
        self.table = table
        self.run_id = run_id
        self.source = source
        self.zone = zone
        self.key = key or []
        self.loaded = 0
        self.duplicates = 0
        self.days_loaded: set[date] = set()
        self._lock = threading.Lock()
        self._pending: dict[int, list[tuple[bytes, int]]] = {}
        self._pending_bytes = 0
        self._columns: list[str] | None = None
        self._partitions: set[str] = set()
        self._rollups = False
        self._release = release
        self._days: DayWriter | None = None
        if table == "scans":
            self._rollups = conn.execute("SELECT to_regclass('scan_rollup_days') IS NOT NULL").fetchone()[0]
            rows = conn.execute(
                """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                   WHERE i.inhparent = 'scans'::regclass""").fetchall()
            self._partitions = {r[0] for r in rows}
            if connect is not None:
                self._days = DayWriter(self, connect, day_workers)

    # --- one batch -------------------------------------------------------------
    def load(self, batch: Batch) -> None:
        """Write one batch in one transaction (new scan days are held, see the module doc)."""
        parts: list[memoryview] = []
        staged = 0
        seen_days: set[int] = set()
        if batch.payload is not None and batch.payload.n:
            self._columns = batch.payload.columns
            if batch.days is None:
                parts, staged = [batch.payload.data], batch.payload.n
            else:
                staged = self._route(batch.payload, batch.days, parts, seen_days)
        with self.conn.transaction():
            cur = self.conn.cursor()
            self._persons(cur, batch)
            if staged:
                existing = [d for d in seen_days if partition_name(d) in self._partitions]
                inserted = self.stage_and_insert(cur, parts, staged, existing if self.table == "scans" else None)
                self.invalidate(cur, existing)
            self._rejects(cur, batch.rejects)
        if staged:
            self.count(None, inserted, staged - inserted)
        # days the reader has left behind: write them now
        for d in [d for d in self._pending if d not in seen_days]:
            self._flush(d)
        while self._pending_bytes > _PENDING_LIMIT:
            self._flush(max(self._pending, key=lambda d: sum(len(p) for p, _ in self._pending[d])))

    def finish(self) -> None:
        """Write every held day and wait for the days being written."""
        for d in sorted(self._pending):
            self._flush(d)
        if self._days is not None:
            self._days.wait()

    def close(self) -> None:
        if self._days is not None and self._release is not None:
            self._days.close(self._release)

    def count(self, d: int | None, loaded: int, duplicates: int) -> None:
        with self._lock:
            self.loaded += loaded
            self.duplicates += duplicates
            if d is not None:
                self.days_loaded.add(day_of(d))
                self._partitions.add(partition_name(d))

    # --- pieces (also used by the day writers, on their own connections) ----------
    def copy_rows(self, cur: psycopg.Cursor, target: sql.Composable, parts: list[memoryview],
                  freeze: bool = False) -> None:
        _copy(cur, target, self._columns or [], parts, freeze)

    def stage_and_insert(self, cur: psycopg.Cursor, parts: list[memoryview], staged: int,
                         days: list[int] | None = None) -> int:
        """COPY into a temporary table, then insert what is new; returns the rows inserted.

        Under an advisory lock (per table; per day for scans, the lock new partitions are
        made under), a batch none of whose ids exist yet takes a plain INSERT, a third
        cheaper than ``ON CONFLICT DO NOTHING``, which the others take. Other writers that
        do not take the lock can only make the INSERT fail, never double a row.
        """
        columns = self._columns or []
        cur.execute(sql.SQL("CREATE TEMP TABLE _stage ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(self.table)))
        _copy(cur, sql.Identifier("_stage"), columns, parts)
        locks = sorted({partition_name(d) for d in days}) if days else [self.table]
        for name in locks:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"sandtable.ingest.{name}",))
        key = sql.SQL(", ").join(map(sql.Identifier, self.key))
        clash = cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM _stage s JOIN {} t USING ({}))").format(
            sql.Identifier(self.table), key)).fetchone()[0]
        cur.execute(_insert_sql(self.table, columns, on_conflict=clash))
        return cur.rowcount

    def invalidate(self, cur: psycopg.Cursor, days: list[int]) -> None:
        """Drop the daily heatmap rollups of days that get new scans (analytics rebuilds them)."""
        if self._rollups and days:
            when = [day_of(d) for d in days]
            cur.execute("DELETE FROM scan_cells_daily WHERE day = ANY(%s)", (when,))
            cur.execute("DELETE FROM scan_rollup_days WHERE day = ANY(%s)", (when,))

    def _route(self, payload: Payload, days: np.ndarray, parts: list[memoryview], seen: set[int]) -> int:
        """Split scan rows by day: existing partitions -> ``parts``; new days -> held."""
        staged = 0
        bounds = np.flatnonzero(np.diff(days)) + 1
        starts = np.concatenate([[0], bounds]).astype(int)
        stops = np.concatenate([bounds, [len(days)]]).astype(int)
        for a, b in zip(starts.tolist(), stops.tolist()):
            d = int(days[a])
            seen.add(d)
            chunk = payload.rows(a, b)
            with self._lock:
                existing = partition_name(d) in self._partitions
            if existing or self._days is None:
                if not existing:
                    self.conn.execute("SELECT scan_partition(%s, %s)", (day_of(d), self.zone))
                    with self._lock:
                        self._partitions.add(partition_name(d))
                parts.append(chunk)
                staged += b - a
                with self._lock:
                    self.days_loaded.add(day_of(d))
            else:
                self._pending.setdefault(d, []).append((bytes(chunk), b - a))
                self._pending_bytes += len(chunk)
        return staged

    def _flush(self, d: int) -> None:
        chunks = self._pending.pop(d)
        self._pending_bytes -= sum(len(p) for p, _ in chunks)
        assert self._days is not None
        self._days.submit(d, [p for p, _ in chunks], sum(c for _, c in chunks))

    def _persons(self, cur: psycopg.Cursor, batch: Batch) -> None:
        """New persons by COPY straight into ``persons`` (under a lock, after a check)."""
        ids, blobs = batch.person_ids, batch.person_blobs
        if not len(ids):
            return
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_PERSONS_LOCK,))
        literal = "{" + ",".join(ids.astype(str).tolist()) + "}"
        have = cur.execute("SELECT person_id FROM persons WHERE person_id = ANY(%s::bigint[])", (literal,)).fetchall()
        if have:  # stored by another run since the reader checked
            keep = ~np.isin(ids, np.array([r[0] for r in have], dtype=np.int64))
            ids, blobs = ids[keep], [b for b, k in zip(blobs, keep.tolist()) if k]
            if not len(ids):
                return
        payload = encode([Field("person_id", "int8", ids), Field("ref_encrypted", "bytea", pa.array(blobs, pa.binary()))],
                         len(ids))
        try:
            with self.conn.transaction():
                _copy(cur, sql.Identifier("persons"), payload.columns, [payload.data])
        except errors.UniqueViolation:  # written meanwhile by something that does not take the lock
            cur.execute("CREATE TEMP TABLE _persons (person_id bigint, ref_encrypted bytea) ON COMMIT DROP")
            _copy(cur, sql.Identifier("_persons"), payload.columns, [payload.data])
            cur.execute("INSERT INTO persons (person_id, ref_encrypted) SELECT person_id, ref_encrypted "
                        "FROM _persons ON CONFLICT DO NOTHING")

    def _rejects(self, cur: psycopg.Cursor, rejects: list[Reject]) -> None:
        if not rejects:
            return
        with cur.copy("COPY rejects (run_id, feed, source, row_number, reason, detail, raw_redacted, raw_encrypted) "
                      "FROM STDIN") as cp:
            for r in rejects:
                cp.write_row((self.run_id, self.feed, self.source, r.row, r.reason, r.detail, r.raw_redacted,
                              r.raw_encrypted))
