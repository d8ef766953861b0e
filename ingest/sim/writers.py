"""Feed files written as a real source would: exactly the contract's columns.

CSV: a header line, no quoting (no value holds a comma or a quote), times as ISO 8601
with the ``+08:00`` offset, booleans ``true``/``false``, empty optional values empty.
Parquet: the same columns, typed (times as ``timestamp[s, tz=+08:00]``, dates as
``date32``, booleans, numbers, strings). Files are written in chunks (one per day for
the large feeds) through Arrow, so the bytes depend only on the values.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from geodata.geography import districts
from ingest.sim.idnum import fixed_width_strings

__all__ = ["FEED_COLUMNS", "FeedWriter", "make_ids", "write_districts", "NO_TIME", "write_csv_table"]

NO_TIME = np.iinfo(np.int64).min
TZ = "+08:00"

#: Every feed's columns (contract order) and how the simulator hands them over.
FEED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "sites": [("site_code", "str"), ("kind", "str"), ("name", "str"), ("lon", "float"), ("lat", "float"),
              ("district_code", "str"), ("capacity", "int")],
    "scans": [("event_id", "str"), ("person_ref", "str"), ("site_code", "str"), ("kind", "str"),
              ("scanned_at", "ts"), ("lon", "float"), ("lat", "float"), ("code_color", "str"),
              ("temperature_c", "float"), ("nat_hours", "float"), ("risk_area_visit", "bool"), ("outcome", "str")],
    "passes": [("pass_id", "str"), ("plate", "str"), ("driver_ref", "str"), ("category", "str"),
               ("enterprise", "str"), ("origin_city", "str"), ("destination_site_code", "str"),
               ("applied_at", "ts"), ("reviewer_dept", "str"), ("decided_at", "ts"), ("decision", "str"),
               ("valid_from", "ts"), ("valid_to", "ts")],
    "crossings": [("crossing_id", "str"), ("pass_id", "str"), ("plate", "str"), ("checkpoint_code", "str"),
                  ("direction", "str"), ("crossed_at", "ts"), ("verified", "bool"), ("sealed", "bool"),
                  ("processing_s", "float"), ("outcome", "str")],
    "nat": [("sample_id", "str"), ("person_ref", "str"), ("site_code", "str"), ("sampled_at", "ts"),
            ("reported_at", "ts"), ("result", "str")],
    "isolation": [("stay_id", "str"), ("person_ref", "str"), ("site_code", "str"), ("category", "str"),
                  ("admitted_at", "ts"), ("discharged_at", "ts")],
    "meds": [("purchase_id", "str"), ("person_ref", "str"), ("pharmacy_code", "str"), ("purchased_at", "ts"),
             ("drug_class", "str")],
    "returnees": [("registration_id", "str"), ("person_ref", "str"), ("origin_city", "str"),
                  ("origin_risk", "str"), ("arrival_date", "date"), ("community_code", "str"), ("purpose", "str")],
}


def make_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` (ASCII) + zero-padded numbers, as an Arrow string array."""
    v = np.asarray(numbers, dtype=np.int64)
    head = prefix.encode("ascii")
    c = np.empty((len(v), len(head) + width), dtype=np.uint8)
    c[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    for k in range(width):
        c[:, len(head) + width - 1 - k] = 48 + v % 10
        v = v // 10
    if len(c) and v.max() > 0:
        msg = f"ids of {prefix!r} do not fit in {width} digits"
        raise ValueError(msg)
    return fixed_width_strings(c)


def iso_times(local: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """ISO 8601 strings ``YYYY-MM-DDTHH:MM:SS+08:00`` of local wall times (seconds
    since 1970-01-01 as if UTC); null where ``mask``."""
    local = np.asarray(local, dtype=np.int64)
    n = len(local)
    if n == 0:
        return pa.array([], type=pa.string())
    days = local // 86_400
    lo = int(days.min())
    span = int(days.max()) - lo + 1
    first = date(1970, 1, 1) + timedelta(days=lo)
    table = np.frombuffer("".join((first + timedelta(days=i)).isoformat() for i in range(span)).encode(),
                          dtype=np.uint8).reshape(span, 10)
    sod = (local - days * 86_400).astype(np.int32)
    c = np.empty((n, 25), dtype=np.uint8)
    c[:, :10] = table[days - lo]
    c[:, 10] = ord("T")
    for col, val in ((11, sod // 3600), (14, (sod // 60) % 60), (17, sod % 60)):
        c[:, col] = 48 + val // 10
        c[:, col + 1] = 48 + val % 10
    c[:, 13] = c[:, 16] = ord(":")
    c[:, 19:] = np.frombuffer(TZ.encode(), dtype=np.uint8)
    arr = fixed_width_strings(c)
    if mask is not None and mask.any():
        arr = pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), arr)
    return arr


def _strings(values) -> pa.Array:  # noqa: ANN001
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values.cast(pa.string())
    return pa.array(values, type=pa.string(), from_pandas=True)


class FeedWriter:
    """Writes one feed file in chunks (CSV or Parquet)."""

    def __init__(self, out: Path, feed: str, fmt: str, epoch0: int) -> None:
        if fmt not in ("csv", "parquet"):
            msg = f"format must be 'csv' or 'parquet', got {fmt!r}"
            raise ValueError(msg)
        self.feed = feed
        self.fmt = fmt
        self.columns = FEED_COLUMNS[feed]
        self.epoch0 = epoch0  # seconds from 1970-01-01 (local wall time) to the period start
        self.path = Path(out) / f"{feed}.{fmt}"
        self.rows = 0
        self._file = None
        self._writer = None

    def _convert(self, name: str, kind: str, values) -> pa.Array:  # noqa: ANN001
        if kind == "str":
            return _strings(values)
        if kind == "ts":
            v = np.asarray(values, dtype=np.int64)
            mask = v == NO_TIME
            local = np.where(mask, 0, v + self.epoch0)
            if self.fmt == "csv":
                return iso_times(local, mask)
            return pa.array(local - 8 * 3600, type=pa.timestamp("s", tz=TZ), mask=mask)
        if kind == "date":
            v = np.asarray(values, dtype=np.int64) + self.epoch0 // 86_400
            arr = pa.array(v.astype(np.int32), type=pa.date32())
            return arr.cast(pa.string()) if self.fmt == "csv" else arr
        if kind == "float":
            v = np.asarray(values, dtype=np.float64)
            return pa.array(v, type=pa.float64(), mask=np.isnan(v))
        if kind == "int":
            v = np.asarray(values, dtype=np.int64)
            return pa.array(v, type=pa.int64(), mask=v < 0)
        if kind == "bool":
            return pa.array(np.asarray(values, dtype=bool), type=pa.bool_())
        msg = f"unknown column kind {kind!r} for {name!r}"
        raise ValueError(msg)

    def write(self, cols: dict[str, object]) -> None:
        names = [c for c, _ in self.columns]
        if set(cols) != set(names):
            msg = f"{self.feed}: columns {sorted(set(cols) ^ set(names))} do not match the contract"
            raise ValueError(msg)
        table = pa.table({c: self._convert(c, k, cols[c]) for c, k in self.columns})
        if self._writer is None:
            self._open(table.schema)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def _open(self, schema: pa.Schema) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.fmt == "csv":
            self._file = open(self.path, "wb")  # noqa: SIM115
            self._file.write((",".join(schema.names) + "\n").encode())
            opts = pa_csv.WriteOptions(include_header=False, quoting_style="none")
            self._writer = pa_csv.CSVWriter(self._file, schema, write_options=opts)
        else:
            self._writer = pq.ParquetWriter(self.path, schema, compression="zstd")

    def close(self) -> int:
        if self._writer is None:  # nothing written: an empty file with the header / schema
            self.write({c: [] if k in ("str",) else np.empty(0, dtype=bool if k == "bool" else
                                                             np.float64 if k == "float" else np.int64)
                        for c, k in self.columns})
        self._writer.close()
        if self._file is not None:
            self._file.close()
        return self.rows


def write_districts(out: Path) -> int:
    """``districts.geojson``: the district, streets and communities of ``geodata``
    with the contract's properties."""
    gdf = districts()
    features = []
    for r in gdf.itertuples(index=False):
        features.append({
            "type": "Feature",
            "properties": {
                "code": r.code, "name_zh": r.name_zh, "name_en": r.name_en, "level": r.level,
                "parent_code": r.parent_code if isinstance(r.parent_code, str) and r.parent_code else None,
                "population": int(r.population),
            },
            "geometry": json.loads(json.dumps(r.geometry.__geo_interface__)),
        })
    path = Path(out) / "districts.geojson"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), "utf-8")
    return len(features)


def write_csv_table(path: Path, table: pa.Table) -> int:
    """A CSV (header, no quoting) of an Arrow table of strings and numbers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write((",".join(table.schema.names) + "\n").encode())
        pa_csv.write_csv(table, f, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
    return table.num_rows
