"""Vectorised validation of a batch of feed text against its :class:`FeedSpec`.

Every check is a NumPy/Arrow operation over a whole column; every problem of a row is
collected (a row with a bad time and an unknown colour has both in its ledger detail).
The first problem found is the row's ``reason``. Person references never appear in a
problem's detail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.feeds import Column, FeedSpec
from ingest.parse import is_empty, parse_bool, parse_date, parse_float, parse_int, parse_timestamp
from ingest.readers import RawBatch

__all__ = ["Problems", "Checked", "validate"]

_SHOW = 40  # characters of a bad value shown in a reject's detail


@dataclass
class Problems:
    """Row problems of one batch: (mask over the batch's rows, reason, column)."""

    n: int
    items: list[tuple[np.ndarray, str, str]] = field(default_factory=list)

    def add(self, mask: np.ndarray, reason: str, column: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self.items.append((mask, reason, column))

    def bad(self) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        for mask, _, _ in self.items:
            out |= mask
        return out

    def describe(self, text: dict[str, pa.Array], hidden: set[str]) -> dict[int, tuple[str, str]]:
        """Index of each bad row -> (reason, detail). Values of ``hidden`` columns are not shown."""
        found: dict[int, list[str]] = {}
        first: dict[int, str] = {}
        for mask, reason, column in self.items:
            idx = np.flatnonzero(mask)
            shown = None
            if column in text and column not in hidden:
                shown = text[column].take(pa.array(idx)).to_pylist()
            for k, i in enumerate(idx.tolist()):
                first.setdefault(i, reason)
                note = f"{reason}: {column}"
                if shown is not None and shown[k] != "":
                    value = shown[k] if len(shown[k]) <= _SHOW else shown[k][:_SHOW] + "..."
                    note += f"={value!r}"
                found.setdefault(i, []).append(note)
        return {i: (first[i], "; ".join(notes)) for i, notes in found.items()}


@dataclass
class Checked:
    """A validated batch: trimmed text, parsed values and presence of each column."""

    spec: FeedSpec
    batch: RawBatch
    text: dict[str, pa.Array]
    values: dict[str, np.ndarray]
    present: dict[str, np.ndarray]
    problems: Problems

    @property
    def n(self) -> int:
        return self.problems.n

    @property
    def rows(self) -> np.ndarray:
        return self.batch.rows


def _text(batch: RawBatch, name: str) -> pa.Array:
    col = batch.table.column(name)
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return pc.ascii_trim_whitespace(col)


def _check_column(col: Column, t: pa.Array, empty: np.ndarray, zone: str, problems: Problems,
                  values: dict[str, np.ndarray]) -> pa.Array:
    if col.required:
        reason = {"id": "missing_id", "person": "missing_person"}.get(col.kind, "missing_value")
        problems.add(empty, reason, col.name)
    if col.kind == "enum":
        allowed = pa.array(col.allowed, pa.string())
        pos = pc.index_in(t, value_set=allowed)
        if pc.any(pc.and_(pc.is_null(pos), pa.array(~empty))).as_py():
            t = pc.utf8_lower(t)  # values are lower case; accept any case
            pos = pc.index_in(t, value_set=allowed)
        codes = pc.fill_null(pos, -1).to_numpy(zero_copy_only=False).astype(np.int8)
        problems.add((codes < 0) & ~empty, "value_not_allowed", col.name)
        values[col.name] = codes
    elif col.kind in ("float", "int"):
        vals, bad = (parse_float if col.kind == "float" else parse_int)(t)
        problems.add(bad, "bad_number", col.name)
        ok = ~bad & ~empty
        out = np.zeros(len(vals), dtype=bool)
        if col.low is not None:
            out |= ok & (vals < col.low)
        high = col.high if col.high is not None or col.kind == "float" else 2**31 - 1  # int columns are int4
        if high is not None:
            out |= ok & (vals > high)
        problems.add(out, col.range_reason, col.name)
        values[col.name] = vals
    elif col.kind == "bool":
        vals, bad = parse_bool(t)
        problems.add(bad, "bad_boolean", col.name)
        values[col.name] = vals
    elif col.kind == "time":
        vals, bad = parse_timestamp(t, zone)
        problems.add(bad, "bad_time", col.name)
        values[col.name] = vals
    elif col.kind == "date":
        vals, bad = parse_date(t)
        problems.add(bad, "bad_time", col.name)
        values[col.name] = vals
    return t


def validate(batch: RawBatch, spec: FeedSpec, zone: str) -> Checked:
    """Check every row of ``batch``; times without an offset are in ``zone``."""
    n = batch.table.num_rows
    problems = Problems(n)
    text: dict[str, pa.Array] = {}
    values: dict[str, np.ndarray] = {}
    present: dict[str, np.ndarray] = {}
    for col in spec.columns:
        t = _text(batch, col.name)
        empty = is_empty(t)
        text[col.name] = _check_column(col, t, empty, zone, problems, values)
        present[col.name] = ~empty
    for a, b in spec.pairs:
        problems.add(present[a] != present[b], "missing_value", f"{a}/{b}")
    for later, earlier in spec.after:
        both = present[later] & present[earlier]
        order = both & (values[later] < values[earlier]) & (values[later] != 0) & (values[earlier] != 0)
        problems.add(order, "bad_time_order", f"{later}<{earlier}")
    return Checked(spec, batch, text, values, present, problems)
