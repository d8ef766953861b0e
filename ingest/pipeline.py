"""The public API: ``load_feed`` and ``load_directory``.

read (batches of text) -> validate (vectorised) -> transform (lookups, pseudonyms, H3)
-> encode (binary COPY) on the calling thread, while a second thread writes the previous
batch into the database (one transaction per batch), so that Python and PostgreSQL
work at the same time. Every row read is counted once: loaded, duplicate or rejected.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from sqlalchemy.engine import Engine

from geodata.errors import FeedError
from geodata.privacy import Pseudonymiser
from geodata.rules import load_rules
from geodata.settings import get_settings
from ingest.copybin import encode
from ingest.feeds import FEEDS, LOAD_ORDER, FeedSpec
from ingest.load import Batch, Loader, Reject, finish_run, start_run
from ingest.readers import FeedReader, RawBatch, open_feed
from ingest.transform import Lookups, Persons, Prepared, take, transform
from ingest.validate import Checked, validate

__all__ = ["IngestResult", "load_feed", "load_directory", "refresh_rollups", "feed_files", "Progress"]

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
_CRS = ("wgs84", "gcj02")


@dataclass(frozen=True)
class IngestResult:
    """The outcome of loading one file (``read == loaded + duplicates + rejected``)."""

    feed: str
    source: str
    read: int
    loaded: int
    duplicates: int
    rejected: int
    seconds: float
    run_id: int | None = None
    extra_columns: tuple[str, ...] = field(default=())
    #: scans: the local days that received rows (their heatmap rollups were dropped)
    scan_days: tuple[date, ...] = field(default=())

    def summary(self) -> dict:
        """The ``--json`` object of the command line."""
        return {"feed": self.feed, "read": self.read, "loaded": self.loaded, "duplicates": self.duplicates,
                "rejected": self.rejected, "seconds": round(self.seconds, 3)}


def _sha256(path: Path, out: list[str]) -> None:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(8 << 20):
            h.update(chunk)
    out.append(h.hexdigest())


class _Writer(threading.Thread):
    """Runs the loader on its own thread and connection; batches come through a queue."""

    def __init__(self, loader: Loader) -> None:
        super().__init__(name="ingest-writer", daemon=True)
        self.loader = loader
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.abort = False

    def run(self) -> None:
        done = False
        try:
            while (batch := self.queue.get()) is not None:
                self.loader.load(batch)
            done = True
            if not self.abort:
                self.loader.finish()
        except BaseException as err:  # noqa: BLE001 - handed to the calling thread
            self.error = err
            while not done:  # drain so that the producer never blocks
                done = self.queue.get() is None

    def put(self, batch: Batch) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(batch)

    def close(self, abort: bool = False) -> None:
        self.abort = abort
        self.queue.put(None)
        self.join()
        if self.error is not None and not abort:
            raise self.error


def _raw_rows(reader: FeedReader, raw: RawBatch, idx: np.ndarray, pids: dict[str, list[int]],
              person_cols: list[str]) -> list[tuple[str, str | None]]:
    """(raw text, redacted text) of the rows at ``idx``; person references -> ``pid:<pseudonym>``."""
    sub = raw.table.select(reader.columns).take(pa.array(idx, pa.int64()))
    red = sub
    for c in person_cols:
        col = sub.column(c).combine_chunks()
        tags = pa.array([f"pid:{p}" for p in pids[c]], pa.string())
        empty = pc.equal(pc.ascii_trim_whitespace(col), "")
        red = red.set_column(red.column_names.index(c), c, pc.if_else(empty, col, tags))
    if reader.format == "csv":
        texts, redacted = _csv_lines(sub), _csv_lines(red)
        return list(zip(texts, redacted))
    out: list[tuple[str, str | None]] = []
    red_records = red.to_pylist()
    if reader.format == "jsonl" and raw.raw is not None:
        for i, rec in zip(idx.tolist(), red_records):
            text = raw.raw[i]
            obj = json.loads(text)
            for c in person_cols:
                if obj.get(c) not in (None, ""):
                    obj[c] = rec[c]
            out.append((text, json.dumps(obj, ensure_ascii=False)))
        return out
    for rec, r in zip(sub.to_pylist(), red_records):
        out.append((json.dumps(rec, ensure_ascii=False), json.dumps(r, ensure_ascii=False)))
    return out


def _csv_lines(table: pa.Table) -> list[str]:
    """Each row of ``table`` (text columns) as one CSV line, quoted where needed."""
    buf = pa.BufferOutputStream()
    pcsv.write_csv(table, buf, pcsv.WriteOptions(include_header=False, quoting_style="needed"))
    lines = buf.getvalue().to_pybytes().decode("utf-8").split("\n")[:-1]
    if len(lines) == table.num_rows:
        return lines
    out = []  # a value holds a line break: one row at a time
    for rec in table.to_pylist():
        b = io.StringIO()
        csv.writer(b, lineterminator="").writerow(list(rec.values()))
        out.append(b.getvalue())
    return out


def _rejects(reader: FeedReader, raw: RawBatch, checked: Checked, prepared: Prepared, bad: np.ndarray,
             pseudo: Pseudonymiser) -> list[Reject]:
    out = [Reject(b.row, b.reason, b.detail, None, pseudo.encrypt_text(b.text)) for b in raw.broken]
    idx = np.flatnonzero(bad)
    if not len(idx):
        return out
    person_cols = checked.spec.person_columns
    described = checked.problems.describe(checked.text, set(person_cols))
    pids = {c: prepared.person_ids[tgt][idx].tolist()
            for c, tgt in zip(person_cols, prepared.person_ids)}
    for i, (text, redacted) in zip(idx.tolist(), _raw_rows(reader, raw, idx, pids, person_cols)):
        reason, detail = described[i]
        out.append(Reject(int(raw.rows[i]), reason, detail, redacted, pseudo.encrypt_text(text)))
    return out


def _repeated(ids: list[str], seen: set[str]) -> np.ndarray:
    """True for ids seen before (earlier in the batch or in an earlier batch); adds them to ``seen``."""
    batch = set(ids)
    if len(batch) == len(ids) and seen.isdisjoint(batch):  # the usual case, without a loop per row
        seen |= batch
        return np.zeros(len(ids), dtype=bool)
    add = seen.add
    return np.fromiter((x in seen or add(x) for x in ids), dtype=bool, count=len(ids))


class _Run:
    """One file: the state shared by its batches on the calling thread."""

    def __init__(self, spec: FeedSpec, reader: FeedReader, lookups: Lookups, persons: Persons, crs: str) -> None:
        self.spec = spec
        self.reader = reader
        self.lookups = lookups
        self.persons = persons
        self.crs = crs
        self.zone = get_settings().timezone
        self.res = load_rules().h3.event_resolution
        self.seen: set[str] = set()
        self.read = 0
        self.rejected = 0
        self.in_file_duplicates = 0

    def prepare(self, raw: RawBatch) -> Batch:
        checked = validate(raw, self.spec, self.zone)
        prepared = transform(checked, self.lookups, self.persons, crs=self.crs, res=self.res, zone=self.zone)
        bad = checked.problems.bad()
        rejects = _rejects(self.reader, raw, checked, prepared, bad, self.persons.pseudo)
        good = np.flatnonzero(~bad)
        ids = checked.text[self.spec.id_column].take(pa.array(good, pa.int64())).to_pylist()
        dup = _repeated(ids, self.seen)
        keep = good[~dup]
        self.read += checked.n + len(raw.broken)
        self.rejected += len(rejects)
        self.in_file_duplicates += int(dup.sum())
        days = None
        if prepared.day is not None:
            keep = keep[np.argsort(prepared.day[keep], kind="stable")]
            days = prepared.day[keep]
        batch = Batch(encode(take(prepared, keep), len(keep)) if len(keep) else None, days, rejects=rejects)
        new_ids, blobs = [], []
        for tgt, refs in prepared.person_refs.items():
            i, b = self.persons.new(refs.take(pa.array(keep, pa.int64())), prepared.person_ids[tgt][keep])
            new_ids.append(i)
            blobs.extend(b)
        if new_ids:
            batch.person_ids = np.concatenate(new_ids)
            batch.person_blobs = blobs
        return batch


def _key(spec: FeedSpec) -> list[str]:
    """The target table's unique key (scans: the id and the partition key)."""
    return ["event_id", "scanned_at"] if spec.table == "scans" else [spec.id_column]


def _psycopg(engine: Engine):  # noqa: ANN202
    """A pooled connection's psycopg connection, in autocommit (transactions are explicit)."""
    raw = engine.raw_connection()
    conn = raw.driver_connection
    conn.autocommit = True
    raw.info["prepare_threshold"] = conn.prepare_threshold
    conn.prepare_threshold = None  # one-off DDL and COPY: nothing worth preparing
    return raw, conn


def _release(raw) -> None:  # noqa: ANN001
    """Give a connection back to the pool as SQLAlchemy handed it out."""
    conn = raw.driver_connection
    if conn is not None and not conn.closed:
        conn.autocommit = False
        conn.prepare_threshold = raw.info.pop("prepare_threshold", 5)
    raw.close()


def load_feed(feed: str, path: str | Path, crs: str = "wgs84", engine: Engine | None = None,
              progress: Progress | None = None) -> IngestResult:
    """Load one feed file; see the module doc. Raises FeedError when the file cannot be read."""
    from geodata.db import get_engine

    spec = FEEDS.get(feed)
    if spec is None:
        raise FeedError(f"unknown feed {feed!r}; feeds: {', '.join(LOAD_ORDER)}")
    if crs not in _CRS:
        raise FeedError(f"unknown --crs {crs!r}; use wgs84 or gcj02")
    path = Path(path)
    engine = engine or get_engine()
    started = time.perf_counter()
    main_raw, main = _psycopg(engine)
    try:
        run_id = start_run(main, feed, str(path), crs)
        try:
            return _load(spec, path, crs, engine, main, run_id, started, progress)
        except BaseException as err:
            message = str(err).splitlines()[0] if str(err) else err.__class__.__name__
            finish_run(main, run_id, status="failed", seconds=time.perf_counter() - started, message=message[:500])
            raise
    finally:
        _release(main_raw)


def _load(spec: FeedSpec, path: Path, crs: str, engine: Engine, main, run_id: int, started: float,  # noqa: ANN001
          progress: Progress | None) -> IngestResult:
    if spec.geojson:
        from ingest.districts import load_districts_file

        counts = load_districts_file(path, crs, main, run_id)
        return _finish(spec, path, main, run_id, started, counts, [_sha(path)])
    reader = open_feed(path, spec)
    digest: list[str] = []
    hasher = threading.Thread(target=_sha256, args=(path, digest), daemon=True)
    hasher.start()
    if reader.extra_columns:
        log.warning("%s: extra columns ignored: %s", path.name, ", ".join(reader.extra_columns))
    pseudo = Pseudonymiser.from_settings()
    lookups = Lookups(main, load_rules().h3.event_resolution)
    run = _Run(spec, reader, lookups, Persons(pseudo, main), crs)
    writer_raw, writer_conn = _psycopg(engine)
    loader = Loader(writer_conn, feed=spec.name, table=spec.table, run_id=run_id, source=str(path),
                    zone=run.zone, key=_key(spec), connect=lambda: _psycopg(engine), release=_release)
    writer = _Writer(loader)
    writer.start()
    try:
        try:
            for raw in reader:
                writer.put(run.prepare(raw))
                if progress is not None:
                    progress(raw.done, reader.total)
        except BaseException:
            writer.close(abort=True)
            raise
        writer.close()
    finally:
        loader.close()
        _release(writer_raw)
    hasher.join()
    counts = {"read": run.read, "loaded": loader.loaded, "rejected": run.rejected,
              "duplicates": run.in_file_duplicates + loader.duplicates, "extra": list(reader.extra_columns),
              "days": tuple(sorted(loader.days_loaded))}
    return _finish(spec, path, main, run_id, started, counts, digest)


def _sha(path: Path) -> str:
    out: list[str] = []
    _sha256(path, out)
    return out[0]


def refresh_rollups(results: list[IngestResult], engine: Engine | None = None) -> int:
    """Rebuild the daily heatmap rollups of the days that ``results`` loaded scans into.

    ``load_feed`` only drops the rollups of those days (in the same transaction as the
    rows; analytics rebuilds a missing day when a heatmap needs it); this builds them
    ahead, as ``load_directory`` and the command line do. Returns the days rebuilt.
    """
    from geodata.db import get_engine

    days = sorted({d for r in results for d in r.scan_days})
    if not days:
        return 0
    try:
        from geodata.rollups import refresh_days
    except ImportError:  # pragma: no cover - a schema without rollups
        return 0
    with (engine or get_engine()).begin() as conn:
        refresh_days(conn, days)
    return len(days)


def _finish(spec: FeedSpec, path: Path, main, run_id: int, started: float, counts: dict,  # noqa: ANN001
            digest: list[str]) -> IngestResult:
    seconds = time.perf_counter() - started
    result = IngestResult(spec.name, str(path), counts["read"], counts["loaded"], counts["duplicates"],
                          counts["rejected"], seconds, run_id, tuple(counts.get("extra", ())),
                          counts.get("days", ()))
    if result.read != result.loaded + result.duplicates + result.rejected:  # pragma: no cover - a bug
        raise RuntimeError(f"ingest counts do not add up: {result.summary()}")
    finish_run(main, run_id, status="completed", read=result.read, loaded=result.loaded,
               duplicates=result.duplicates, rejected=result.rejected, seconds=seconds,
               sha256=digest[0] if digest else None, extra_columns=list(result.extra_columns))
    log.info("%s %s: read %d, loaded %d, duplicates %d, rejected %d in %.2f s", spec.name, path.name,
             result.read, result.loaded, result.duplicates, result.rejected, seconds)
    return result


_NAMES = {"districts": ("districts.geojson", "districts.json")}


def feed_files(folder: str | Path) -> list[tuple[str, Path]]:
    """The feed files in ``folder`` as (feed, path), in dependency order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FeedError(f"{folder}: not a folder")
    out = []
    for feed in LOAD_ORDER:
        names = _NAMES.get(feed, tuple(f"{feed}{ext}" for ext in FEEDS[feed].extensions))
        out.extend((feed, folder / n) for n in names if (folder / n).is_file())
    if not out:
        raise FeedError(f"{folder}: no feed files (districts.geojson, sites.csv, scans.csv, ...)")
    return out


def load_directory(folder: str | Path, crs: str = "wgs84", engine: Engine | None = None,
                   progress: Progress | None = None, rollups: bool = True) -> list[IngestResult]:
    """Load every feed file present in ``folder`` (``scans.csv``, ``sites.parquet``, ...),
    in dependency order; returns one result per file. ``rollups``: rebuild the heatmap
    rollups of the days that received scans at the end (see :func:`refresh_rollups`)."""
    files = feed_files(folder)
    results = [load_feed(feed, p, crs=crs, engine=engine, progress=progress) for feed, p in files]
    if rollups:
        refresh_rollups(results, engine)
    return results
