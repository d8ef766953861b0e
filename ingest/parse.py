"""Vectorised parsers of feed text (PyArrow string arrays) into typed NumPy arrays.

Each parser takes a string array without nulls (an empty string is a missing value)
and returns ``(values, bad)``: ``bad`` marks non-empty text that does not parse.
Empty entries are never bad; their values are a placeholder (NaN, 0, False).
The strict regular expressions run first, so a file's bad rows never make Arrow's
casts fail; the rare text that passes the pattern but not the cast (30 February) is
parsed again row by row.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "is_empty", "parse_float", "parse_int", "parse_bool", "parse_timestamp", "parse_date",
    "TIME_MIN_US", "TIME_MAX_US",
]

_FLOAT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_INT = r"^[+-]?\d{1,19}(\.0*)?$"
_TIME = (r"^\d{4}-\d{2}-\d{2}[T ]\d{2}(:\d{2}(:\d{2}(\.\d{1,9})?)?)?"
         r"(Z|[+-]\d{2}(:?\d{2})?)?$")
_OFFSET = r"(Z|[+-]\d{2}(:?\d{2})?)$"
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_UTC = ZoneInfo("UTC")
_TRUE = ("true", "1")
_FALSE = ("false", "0")

#: Plausible event times: 1970-01-01 .. 2099-12-31 (microseconds since the Unix epoch, UTC).
TIME_MIN_US = 0
TIME_MAX_US = 4102444800 * 1_000_000


def _np(arr: pa.Array) -> np.ndarray:
    return arr.to_numpy(zero_copy_only=False)


def _mask(arr: pa.Array) -> np.ndarray:
    """A boolean Arrow array (nulls as False) as NumPy."""
    return _np(pc.fill_null(arr, False)).astype(bool, copy=False)


def is_empty(arr: pa.Array) -> np.ndarray:
    """True where the text is empty."""
    return _mask(pc.equal(pc.binary_length(arr), 0))


def _matching(arr: pa.Array, pattern: str) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """(empty, bad, text with non-matching entries as null)."""
    empty = is_empty(arr)
    ok = pc.match_substring_regex(arr, pattern)
    bad = ~_mask(ok) & ~empty
    return empty, bad, pc.if_else(ok, arr, pa.scalar(None, pa.string()))


def _cast_or_rows(text: pa.Array, target: pa.DataType, one) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """Cast ``text`` (nulls allowed) to ``target``; on failure parse row by row with ``one``.

    Returns (values as an Arrow array with nulls, extra bad rows).
    """
    try:
        return text.cast(target), np.zeros(len(text), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values, bad = [], np.zeros(len(text), dtype=bool)
        for i, s in enumerate(text.to_pylist()):
            if s is None:
                values.append(None)
                continue
            try:
                values.append(one(s))
            except (ValueError, OverflowError):
                values.append(None)
                bad[i] = True
        return pa.array(values, type=target), bad


def _nulls_for_empty(arr: pa.Array, empty: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(empty), pa.scalar(None, arr.type), arr) if empty.any() else arr


def parse_float(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Decimal numbers (``1``, ``-2.5``, ``.5``, ``1e3``); NaN and infinities are bad."""
    empty = is_empty(arr)
    try:  # fast path: every non-empty entry is a number
        out = _np(_nulls_for_empty(arr, empty).cast(pa.float64())).astype(np.float64, copy=False)
        bad = ~empty & ~np.isfinite(out)
    except pa.ArrowInvalid:
        empty, bad, text = _matching(arr, _FLOAT)
        values, extra = _cast_or_rows(text, pa.float64(), float)
        out = _np(values).astype(np.float64, copy=False)
        bad |= extra | (~np.isfinite(np.where(empty | bad, 0.0, out)))
    return np.where(bad | empty, np.nan, out), bad


def parse_int(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Whole numbers (``12``, ``-3``, ``7.0``)."""
    empty = is_empty(arr)
    try:
        values = _nulls_for_empty(arr, empty).cast(pa.int64())
        bad = np.zeros(len(arr), dtype=bool)
    except pa.ArrowInvalid:
        empty, bad, text = _matching(arr, _INT)
        text = pc.replace_substring_regex(text, r"\.0*$", "")
        values, extra = _cast_or_rows(text, pa.int64(), _py_int)
        bad |= extra
    out = _np(pc.fill_null(values, 0)).astype(np.int64, copy=False)
    return np.where(bad | empty, 0, out), bad


_BOOLS = pa.array(["true", "false", "1", "0"])


def parse_bool(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``true``/``false``/``1``/``0`` in any case."""
    pos = pc.index_in(arr, value_set=_BOOLS)
    if pc.any(pc.and_(pc.is_null(pos), pc.not_equal(pc.binary_length(arr), 0))).as_py():
        pos = pc.index_in(pc.utf8_lower(arr), value_set=_BOOLS)
    code = _np(pc.fill_null(pos, -1)).astype(np.int8)
    return (code == 0) | (code == 2), (code < 0) & ~is_empty(arr)


def _py_int(s: str) -> int:
    value = int(s)
    if not -(2**63) <= value < 2**63:
        raise OverflowError(s)
    return value


def _py_utc(s: str) -> datetime:
    """One date-time with an offset, as a naive UTC datetime."""
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(_UTC).replace(tzinfo=None)


def _py_local(s: str) -> datetime:
    """One date-time without an offset, as written."""
    return datetime.fromisoformat(s)


def parse_timestamp(arr: pa.Array, zone: str) -> tuple[np.ndarray, np.ndarray]:
    """ISO 8601 date-times as microseconds since the Unix epoch (UTC).

    ``YYYY-MM-DD[T ]HH[:MM[:SS[.f]]]`` with an optional ``Z`` or ``±HH[:MM]`` offset; a
    time without an offset is in ``zone``. A date alone is bad, and so are times
    outside 1970-2099.
    """
    empty = is_empty(arr)
    text = _nulls_for_empty(arr, empty)
    out = np.zeros(len(arr), dtype=np.int64)
    try:  # fast paths: every time has an offset, or none has
        out = _np(pc.fill_null(text.cast(pa.timestamp("us", "UTC")).cast(pa.int64()), 0))
        bad = np.zeros(len(arr), dtype=bool)
    except pa.ArrowInvalid:
        try:
            local = text.cast(pa.timestamp("us"))
            bad = ~empty & _np(pc.fill_null(pc.less_equal(pc.binary_length(text), 10), False)).astype(bool)
            if bad.any():
                local = pc.if_else(pa.array(bad), pa.scalar(None, local.type), local)
            utc = pc.assume_timezone(local, timezone=zone, ambiguous="earliest", nonexistent="earliest")
            out = _np(pc.fill_null(utc.cast(pa.int64()), 0))
        except pa.ArrowInvalid:
            out, bad = _mixed_times(arr, zone)
    out = np.array(out, dtype=np.int64)
    bad |= ~empty & ((out < TIME_MIN_US) | (out >= TIME_MAX_US))
    out[bad | empty] = 0
    return out, bad


def _mixed_times(arr: pa.Array, zone: str) -> tuple[np.ndarray, np.ndarray]:
    """The slow path: some times with an offset and some without, or bad text."""
    empty, bad, text = _matching(arr, _TIME)
    has_off = _mask(pc.match_substring_regex(text, _OFFSET))
    out = np.zeros(len(arr), dtype=np.int64)
    if has_off.any():
        part = text.filter(pa.array(has_off))
        vals, extra = _cast_or_rows(part, pa.timestamp("us", "UTC"), _py_utc)
        idx = np.flatnonzero(has_off)
        out[idx] = _np(pc.fill_null(vals.cast(pa.int64()), 0))
        bad[idx[extra]] = True
    naive = ~has_off & ~bad & ~empty
    if naive.any():
        part = text.filter(pa.array(naive))
        vals, extra = _cast_or_rows(part, pa.timestamp("us"), _py_local)
        idx = np.flatnonzero(naive)
        good = ~extra
        if good.any():
            local = vals.filter(pa.array(good))
            utc = pc.assume_timezone(local, timezone=zone, ambiguous="earliest", nonexistent="earliest")
            out[idx[good]] = _np(utc.cast(pa.int64()))
        bad[idx[extra]] = True
    return out, bad


def parse_date(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``YYYY-MM-DD`` as days since the Unix epoch (int32); outside 1970-2099 is bad."""
    empty, bad, text = _matching(arr, _DATE)
    values, extra = _cast_or_rows(text, pa.date32(), date.fromisoformat)
    bad |= extra
    out = _np(pc.fill_null(values.cast(pa.int32()), 0)).astype(np.int32, copy=False)
    bad |= ~empty & ((out < 0) | (out >= TIME_MAX_US // 86_400_000_000))
    return np.where(bad | empty, 0, out).astype(np.int32), bad
