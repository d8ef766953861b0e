"""New daily scan partitions, written whole: COPY, build the indexes, attach.

A local day that has no partition yet has no rows, so its rows need no duplicate
check against the database: they go by binary COPY (``FREEZE``) into a new table with
the partition's name, its indexes are then built once (a sorted build is several times
cheaper than inserting row by row into four btrees), and the table is attached as the
day's partition; its indexes match the parent's, so the attach only checks the bounds.
The result is what ``scan_partition(day, zone)`` followed by the inserts would give.
Days are written on a small pool of connections, one transaction per day, while the
reader goes on; a per-partition advisory lock keeps two runs from making the same one
(the loser takes the ordinary insert path).
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta

import psycopg
from psycopg import errors, sql

__all__ = ["partition_name", "day_of", "ParentIndexes", "DayWriter"]

log = logging.getLogger(__name__)

_INDEX = re.compile(r"^CREATE (UNIQUE )?INDEX \S+ ON ONLY \S+ ")


def day_of(d: int) -> date:
    """A day given as days since the Unix epoch."""
    return date(1970, 1, 1) + timedelta(days=int(d))


def partition_name(d: int) -> str:
    """The name ``scan_partition`` gives the partition of day ``d`` (Unix days)."""
    return f"scans_p{day_of(d):%Y%m%d}"


class ParentIndexes:
    """The statements that give a new table the indexes (and keys) of ``scans``."""

    def __init__(self, conn: psycopg.Connection) -> None:
        rows = conn.execute(
            """SELECT pg_get_indexdef(i.indexrelid), c.contype, pg_get_constraintdef(c.oid)
               FROM pg_index i
               LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
               WHERE i.indrelid = 'scans'::regclass ORDER BY c.contype NULLS LAST, i.indexrelid""").fetchall()
        self._defs: list[tuple[str, str | None, str | None]] = rows

    def statements(self, table: str) -> list[str]:
        """DDL for ``table`` (a name of ours: ``scans_pYYYYMMDD``) from the catalog's own text."""
        quoted = f'"{table}"'
        out = []
        for indexdef, contype, condef in self._defs:
            if contype in ("p", "u"):
                out.append(f"ALTER TABLE {quoted} ADD {condef}")
            else:
                out.append(_INDEX.sub(lambda m: f"CREATE {m.group(1) or ''}INDEX ON {quoted} ", indexdef))
        return out


class DayWriter:
    """Writes whole new days of a :class:`~ingest.load.Loader` on ``workers`` connections."""

    def __init__(self, loader, connect: Callable[[], tuple[object, psycopg.Connection]], workers: int) -> None:  # noqa: ANN001
        self.loader = loader
        self._connect = connect
        self._conns: queue.Queue = queue.Queue()
        self._opened: list = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest-day")
        self._futures: list[Future] = []
        self._indexes: ParentIndexes | None = None

    def _conn(self) -> psycopg.Connection:
        try:
            return self._conns.get_nowait()
        except queue.Empty:
            handle, conn = self._connect()
            with self._lock:
                self._opened.append(handle)
                if self._indexes is None:
                    self._indexes = ParentIndexes(conn)
            return conn

    def submit(self, d: int, parts: list[bytes], count: int) -> None:
        self._futures.append(self._pool.submit(self._write, d, parts, count))

    def wait(self) -> None:
        """Wait for every submitted day; raises the first error."""
        try:
            for f in self._futures:
                f.result()
        finally:
            self._futures.clear()

    def close(self, release: Callable[[object], None]) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for handle in self._opened:
            release(handle)
        self._opened.clear()

    def _write(self, d: int, parts: list[bytes], count: int) -> None:
        conn = self._conn()
        loader = self.loader
        try:
            name = partition_name(d)
            views = [memoryview(p) for p in parts]
            try:
                with conn.transaction():
                    made = self._make(conn, d, name, views)
            except errors.DuplicateTable:  # made by ``scan_partition`` meanwhile
                made = False
            if made:
                loader.count(d, count, 0)
            else:  # the partition exists after all: the ordinary path
                with conn.transaction():
                    cur = conn.cursor()
                    inserted = loader.stage_and_insert(cur, views, count, [d])
                    loader.invalidate(cur, [d])
                loader.count(d, inserted, count - inserted)
            log.debug("day %s: %d rows (%s)", day_of(d), count, "new partition" if made else "inserted")
        finally:
            self._conns.put(conn)

    def _make(self, conn: psycopg.Connection, d: int, name: str, views: list[memoryview]) -> bool:
        cur = conn.cursor()
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"sandtable.ingest.{name}",))
        if cur.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]:
            return False
        day = sql.Literal(day_of(d).isoformat())
        zone = sql.Literal(self.loader.zone)
        cur.execute(sql.SQL("CREATE TABLE {} (LIKE scans INCLUDING DEFAULTS INCLUDING CONSTRAINTS)").format(
            sql.Identifier(name)))
        # the partition's bounds as a CHECK made while the table is empty: ATTACH then
        # trusts it instead of reading the whole day again to validate them
        cur.execute(sql.SQL(
            "ALTER TABLE {} ADD CONSTRAINT {} CHECK (scanned_at >= ({}::date)::timestamp AT TIME ZONE {} "
            "AND scanned_at < ({}::date + 1)::timestamp AT TIME ZONE {})").format(
            sql.Identifier(name), sql.Identifier(f"{name}_day"), day, zone, day, zone))
        self.loader.copy_rows(cur, sql.Identifier(name), views, freeze=True)
        assert self._indexes is not None
        # days are already written side by side: parallel index builds would only add work
        cur.execute("SET LOCAL max_parallel_maintenance_workers = 0")
        for stmt in self._indexes.statements(name):
            cur.execute(stmt)
        cur.execute(sql.SQL(
            "ALTER TABLE scans ATTACH PARTITION {} FOR VALUES FROM (({}::date)::timestamp AT TIME ZONE {}) "
            "TO (({}::date + 1)::timestamp AT TIME ZONE {})").format(sql.Identifier(name), day, zone, day, zone))
        self.loader.invalidate(cur, [d])
        return True
