"""PostgreSQL binary COPY payloads built with NumPy and Arrow, no Python loop per row.

Fixed-width columns without nulls go first in the column order: together with the
field count they form one fixed-size prefix per row, filled as a NumPy structured
array. Nullable fixed-width columns and text follow, each as a (length, bytes) pair;
Arrow's ``binary_join_element_wise`` concatenates the pieces of every row in C++.
The result is the bytes between the COPY signature and the trailer, one row after
another, so that a slice of rows is a slice of bytes (see :meth:`Payload.rows`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Field", "Payload", "encode", "SIGNATURE", "TRAILER", "PG_EPOCH_US", "PG_EPOCH_DAYS"]

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
#: 2000-01-01 (PostgreSQL's epoch) in microseconds / days since the Unix epoch.
PG_EPOCH_US = 946_684_800_000_000
PG_EPOCH_DAYS = 10_957

_FIXED = {"int8": ">i8", "int4": ">i4", "int2": ">i2", "float8": ">f8", "float4": ">f4", "bool": "?",
          "timestamptz": ">i8", "date": ">i4"}
_NULL = np.int32(-1).astype(">i4").tobytes()


@dataclass
class Field:
    """One column: ``pgtype`` in int8/int4/int2/float8/float4/bool/timestamptz/date/text/bytea.

    ``values``: NumPy (fixed types; timestamptz as Unix microseconds, date as Unix days)
    or an Arrow string/binary array or a sequence of str/bytes (text, bytea).
    ``valid``: False where the value is NULL (None: no NULLs).
    """

    name: str
    pgtype: str
    values: object
    valid: np.ndarray | None = None


@dataclass
class Payload:
    """Encoded rows: ``data`` (bytes-like) and the byte offset of each row (n + 1)."""

    data: memoryview
    offsets: np.ndarray
    columns: list[str]

    @property
    def n(self) -> int:
        return len(self.offsets) - 1

    def rows(self, start: int, stop: int) -> memoryview:
        return self.data[int(self.offsets[start]) - int(self.offsets[0]): int(self.offsets[stop]) - int(self.offsets[0])]


def _fsb(a2d: np.ndarray) -> pa.Array:
    n, width = a2d.shape
    buf = pa.py_buffer(np.ascontiguousarray(a2d))
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, buf]).cast(pa.binary())


def _pg_values(f: Field) -> np.ndarray:
    v = np.asarray(f.values)
    if f.pgtype == "timestamptz":
        return v.astype(np.int64) - PG_EPOCH_US
    if f.pgtype == "date":
        return v.astype(np.int64) - PG_EPOCH_DAYS
    return v


def _nullable_fixed(f: Field, n: int) -> pa.Array:
    dt = np.dtype(_FIXED[f.pgtype])
    rec = np.empty(n, dtype=[("len", ">i4"), ("v", dt)])
    rec["len"] = dt.itemsize
    rec["v"] = _pg_values(f)
    arr = _fsb(rec.view(np.uint8).reshape(n, -1))
    if f.valid is None:
        return arr
    return pc.if_else(pa.array(f.valid), arr, pa.scalar(_NULL, pa.binary()))


def _variable(f: Field, n: int) -> list[pa.Array]:
    vals = f.values
    if not isinstance(vals, pa.Array | pa.ChunkedArray):
        vals = pa.array(list(vals), pa.binary() if f.pgtype == "bytea" else pa.string())
    if isinstance(vals, pa.ChunkedArray):
        vals = vals.combine_chunks()
    vals = vals.cast(pa.binary())
    if f.valid is not None:
        vals = pc.if_else(pa.array(f.valid), vals, pa.scalar(None, pa.binary()))
    lengths = pc.fill_null(pc.binary_length(vals), -1).to_numpy(zero_copy_only=False).astype(">i4")
    header = _fsb(lengths.view(np.uint8).reshape(n, 4))
    return [header, pc.fill_null(vals, b"")]


def _dictionary(f: Field, n: int) -> pa.Array:
    """Text given as a DictionaryArray: each distinct value encoded once, then taken."""
    vals: pa.DictionaryArray = f.values
    pieces = [len(b).to_bytes(4, "big") + b for b in (s.encode("utf-8") for s in vals.dictionary.to_pylist())]
    pieces.append(_NULL)
    idx = vals.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    if f.valid is not None:
        idx = np.where(f.valid, idx, len(pieces) - 1)
    return pc.take(pa.array(pieces, pa.binary()), pa.array(idx))


def ordered(fields: list[Field]) -> list[Field]:
    """Fixed-width columns without NULLs first (they form the fixed prefix of a row)."""
    fixed = [f for f in fields if f.pgtype in _FIXED and f.valid is None]
    return fixed + [f for f in fields if f not in fixed]


def encode(fields: list[Field], n: int) -> Payload:
    """The rows of ``fields`` (each of length ``n``) as binary COPY tuples.

    The column order of the payload is ``Payload.columns`` (see :func:`ordered`).
    """
    fields = ordered(fields)
    fixed = [f for f in fields if f.pgtype in _FIXED and f.valid is None]
    spec = [("count", ">i2")]
    for i, f in enumerate(fixed):
        spec += [(f"l{i}", ">i4"), (f"v{i}", _FIXED[f.pgtype])]
    prefix = np.empty(n, dtype=spec)
    prefix["count"] = len(fields)
    for i, f in enumerate(fixed):
        prefix[f"l{i}"] = np.dtype(_FIXED[f.pgtype]).itemsize
        prefix[f"v{i}"] = _pg_values(f)
    pieces = [_fsb(prefix.view(np.uint8).reshape(n, -1))]
    for f in fields[len(fixed):]:
        if f.pgtype in _FIXED:
            pieces.append(_nullable_fixed(f, n))
        else:
            if isinstance(f.values, pa.DictionaryArray):
                pieces.append(_dictionary(f, n))
            else:
                pieces.extend(_variable(f, n))
    joined = pc.binary_join_element_wise(*pieces, b"") if len(pieces) > 1 else pieces[0]
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32, count=n + 1, offset=joined.offset * 4)
    data = memoryview(joined.buffers()[2])[int(offsets[0]):int(offsets[-1])] if n else memoryview(b"")
    return Payload(data, offsets.astype(np.int64), [f.name for f in fields])
