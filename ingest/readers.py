"""Feed readers: CSV, JSON Lines and Parquet (chosen by extension), in batches, all as text.

A reader yields :class:`RawBatch` objects: an Arrow table with every column of the file
as a string (never null: an empty string is a missing value), the row number of each
row, and the rows that could not be split into the header's fields. Row numbers are
line numbers for CSV (the header is line 1) and JSON Lines, and row index + 1 for
Parquet. Blank lines are skipped and not counted.

A file that cannot be read at all raises :class:`geodata.errors.FeedError` before
the first batch: unknown extension, unreadable or empty file, a header without the id
column or a required column, a Parquet file that does not parse.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from geodata.errors import FeedError
from ingest.feeds import FeedSpec

__all__ = ["Broken", "RawBatch", "FeedReader", "open_feed", "FORMATS"]

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
_CSV_BLOCK = 16 << 20
_JSONL_LINES = 100_000
_PARQUET_ROWS = 200_000


@dataclass
class Broken:
    """A row that could not be split into fields (its raw text is kept for the ledger)."""

    row: int
    reason: str
    detail: str
    text: str


@dataclass
class RawBatch:
    table: pa.Table
    rows: np.ndarray
    broken: list[Broken] = field(default_factory=list)
    raw: list[str] | None = None  # JSON Lines: the line of each row
    done: int = 0  # progress: bytes (CSV, JSON Lines) or rows (Parquet) read so far


class FeedReader:
    """Reads one feed file; ``columns`` and ``extra_columns`` are known after opening."""

    def __init__(self, path: Path, spec: FeedSpec, fmt: str, columns: list[str]) -> None:
        self.path = path
        self.spec = spec
        self.format = fmt
        self.columns = columns
        self.extra_columns = [c for c in columns if c not in spec.names]
        self.total = path.stat().st_size

    def _check_header(self) -> None:
        dupes = sorted({c for c in self.columns if self.columns.count(c) > 1})
        if dupes:
            raise FeedError(f"{self.path.name}: repeated columns {', '.join(dupes)}")
        if self.spec.id_column not in self.columns:
            raise FeedError(f"{self.path.name}: no {self.spec.id_column!r} column (the {self.spec.name} feed's id)")
        missing = [c for c in self.spec.required if c not in self.columns]
        if missing:
            raise FeedError(f"{self.path.name}: missing required columns {', '.join(missing)}")

    def _complete(self, table: pa.Table) -> pa.Table:
        """Add the contract's optional columns the file does not have (as empty text)."""
        for name in self.spec.names:
            if name not in table.column_names:
                table = table.append_column(name, pa.array([""] * table.num_rows, pa.string()))
        return table

    def __iter__(self) -> Iterator[RawBatch]:  # pragma: no cover - overridden
        raise NotImplementedError


def _decode(table: pa.Table) -> tuple[pa.Table, list[int]]:
    """Binary columns to UTF-8 strings; returns the table and the indexes of undecodable rows."""
    bad: set[int] = set()
    cols = []
    for col in table.columns:
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        try:
            cols.append(col.cast(pa.string()))
        except pa.ArrowInvalid:
            vals = []
            for i, b in enumerate(col.to_pylist()):
                try:
                    vals.append(b.decode("utf-8"))
                except UnicodeDecodeError:
                    bad.add(i)
                    vals.append("")
            cols.append(pa.array(vals, pa.string()))
    return pa.table(cols, names=table.column_names), sorted(bad)


class CsvReader(FeedReader):
    def __init__(self, path: Path, spec: FeedSpec) -> None:
        with open(path, "rb") as fh:
            first = fh.readline()
        if not first.strip():
            raise FeedError(f"{path.name}: empty file (no header line)")
        try:
            header = next(csv.reader([first.decode("utf-8-sig").rstrip("\r\n")]))
        except (UnicodeDecodeError, csv.Error) as err:
            raise FeedError(f"{path.name}: the header line is not UTF-8 CSV ({err.__class__.__name__})") from None
        super().__init__(path, spec, "csv", [h.strip() for h in header])
        self._check_header()

    def __iter__(self) -> Iterator[RawBatch]:
        broken: list[Broken] = []
        n_cols = len(self.columns)

        def handler(row: pcsv.InvalidRow) -> str:
            broken.append(Broken(row.number or 0, "wrong_field_count",
                                 f"{row.actual_columns} fields, expected {n_cols}", row.text))
            return "skip"

        reader = pcsv.open_csv(
            self.path,
            read_options=pcsv.ReadOptions(use_threads=False, block_size=_CSV_BLOCK, column_names=self.columns,
                                          skip_rows=1),
            parse_options=pcsv.ParseOptions(invalid_row_handler=handler, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(column_types={c: pa.binary() for c in self.columns},
                                                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        line = 2  # the next line that may hold a row
        seen_broken = 0
        done = len(self.columns)  # rough: bytes are not reported by the reader
        with reader:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except pa.ArrowInvalid as err:
                    raise FeedError(f"{self.path.name}: not readable as CSV past line {line}: {err}") from None
                table, undecodable = _decode(pa.Table.from_batches([batch]))
                n = table.num_rows
                # line numbers of this batch's rows: the next n lines not taken by broken rows
                skip = np.array([b.row for b in broken[seen_broken:]], dtype=np.int64)
                cand = np.arange(line, line + n + len(skip), dtype=np.int64)
                rows = cand[~np.isin(cand, skip)][:n]
                line = int(rows[-1]) + 1 if n else line
                new_broken = [b for b in broken[seen_broken:] if b.row < line]
                seen_broken += len(new_broken)
                for j in undecodable:
                    new_broken.append(Broken(int(rows[j]), "malformed_row", "not UTF-8 text", ""))
                keep = np.ones(n, dtype=bool)
                keep[undecodable] = False
                keep &= ~_all_empty(table)
                done = min(self.total, done + batch.nbytes)
                yield RawBatch(self._complete(table.filter(pa.array(keep))), rows[keep], new_broken, done=done)
        rest = broken[seen_broken:]
        if rest:
            yield RawBatch(self._complete(_empty_table(self.columns)), np.empty(0, np.int64), rest, done=self.total)


def _all_empty(table: pa.Table) -> np.ndarray:
    """True for rows whose every field is empty (blank lines)."""
    if table.num_columns and not pc.any(pc.equal(pc.binary_length(table.column(0)), 0)).as_py():
        return np.zeros(table.num_rows, dtype=bool)  # the usual case: no row has an empty first field
    total = None
    for col in table.columns:
        lengths = pc.binary_length(col)
        total = lengths if total is None else pc.add(total, lengths)
    if total is None:
        return np.zeros(table.num_rows, dtype=bool)
    return pc.equal(total, 0).to_numpy(zero_copy_only=False).astype(bool)


def _empty_table(columns: list[str]) -> pa.Table:
    return pa.table({c: pa.array([], pa.string()) for c in columns})


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


class JsonLinesReader(FeedReader):
    def __init__(self, path: Path, spec: FeedSpec) -> None:
        columns: list[str] = []
        with open(path, "rb") as fh:
            for i, raw in enumerate(fh):
                if i >= _JSONL_LINES:
                    break
                try:
                    obj = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    columns.extend(k for k in obj if k not in columns)
        if not columns:
            raise FeedError(f"{path.name}: no JSON object in its first {_JSONL_LINES:,} lines (not JSON Lines)")
        super().__init__(path, spec, "jsonl", columns)
        self._check_header()

    def __iter__(self) -> Iterator[RawBatch]:
        known = set(self.columns)
        with open(self.path, "rb") as fh:
            lineno = 0
            done = 0
            while True:
                lines = list(_take(fh, _JSONL_LINES))
                if not lines:
                    break
                values: dict[str, list[str]] = {c: [] for c in self.columns}
                rows: list[int] = []
                raws: list[str] = []
                broken: list[Broken] = []
                for raw in lines:
                    lineno += 1
                    done += len(raw)
                    if not raw.strip():
                        continue
                    try:
                        text = raw.decode("utf-8").rstrip("\r\n")
                    except UnicodeDecodeError:
                        broken.append(Broken(lineno, "malformed_row", "not UTF-8 text", ""))
                        continue
                    try:
                        obj = json.loads(text)
                    except ValueError as err:
                        broken.append(Broken(lineno, "malformed_row", f"not JSON ({err.msg})", text))
                        continue
                    if not isinstance(obj, dict):
                        broken.append(Broken(lineno, "malformed_row", "not a JSON object", text))
                        continue
                    new = [k for k in obj if k not in known]
                    if new:
                        self.extra_columns.extend(new)
                        known.update(new)
                    rows.append(lineno)
                    raws.append(text)
                    for c in self.columns:
                        values[c].append(_as_text(obj.get(c)))
                table = pa.table({c: pa.array(v, pa.string()) for c, v in values.items()})
                yield RawBatch(self._complete(table), np.array(rows, dtype=np.int64), broken, raws,
                               done=min(done, self.total))


def _take(fh: io.BufferedReader, n: int) -> Iterator[bytes]:
    for _ in range(n):
        line = fh.readline()
        if not line:
            return
        yield line


class ParquetReader(FeedReader):
    def __init__(self, path: Path, spec: FeedSpec) -> None:
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as err:
            raise FeedError(f"{path.name}: not a readable Parquet file ({err})") from None
        super().__init__(path, spec, "parquet", list(self._file.schema_arrow.names))
        self._check_header()
        self.total = self._file.metadata.num_rows

    def __iter__(self) -> Iterator[RawBatch]:
        start = 0
        for batch in self._file.iter_batches(batch_size=_PARQUET_ROWS):
            cols = [_text_column(batch.column(i), name) for i, name in enumerate(batch.schema.names)]
            table = pa.table(cols, names=batch.schema.names)
            n = table.num_rows
            rows = np.arange(start + 1, start + n + 1, dtype=np.int64)
            start += n
            keep = ~_all_empty(table)
            yield RawBatch(self._complete(table.filter(pa.array(keep))), rows[keep], done=start)


def _text_column(col: pa.Array, name: str) -> pa.Array:
    """A typed Parquet column as the text the CSV of the same data would hold."""
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if pa.types.is_timestamp(t) and t.tz is not None:
        col = col.cast(pa.timestamp(t.unit, "UTC"))
    elif pa.types.is_boolean(t):
        col = pc.if_else(col, "true", "false")
    try:
        text = col.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise FeedError(f"column {name!r} has the type {t}, which a feed cannot hold") from None
    return pc.fill_null(text, "")


def open_feed(path: str | Path, spec: FeedSpec) -> FeedReader:
    """A reader for ``path`` (format by extension); raises FeedError when it cannot be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FeedError(f"{path}: no such file")
    fmt = FORMATS.get(suffix)
    if fmt is None or suffix not in spec.extensions:
        raise FeedError(f"{path.name}: unknown extension {suffix or '(none)'!r} for the {spec.name} feed "
                        f"(expected {', '.join(spec.extensions)})")
    try:
        if fmt == "csv":
            return CsvReader(path, spec)
        if fmt == "jsonl":
            return JsonLinesReader(path, spec)
        return ParquetReader(path, spec)
    except OSError as err:
        raise FeedError(f"{path.name}: cannot be read ({err.strerror or err})") from None

