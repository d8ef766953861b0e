"""Property tests of the row parsers (no database): times, booleans, numbers, dates."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from geodata.privacy import Pseudonymiser, normalise_ref
from ingest.parse import parse_bool, parse_date, parse_float, parse_int, parse_timestamp

ZONE = "Asia/Shanghai"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
times = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2098, 12, 31),
                     timezones=st.just(UTC)).map(lambda t: t.replace(microsecond=t.microsecond))
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


def _us(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


def _fmt_offset(t: datetime, style: str) -> str:
    off = t.utcoffset()
    mins = int(off.total_seconds() // 60)
    sign = "+" if mins >= 0 else "-"
    h, m = divmod(abs(mins), 60)
    base = t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond:06d}" if t.microsecond else "")
    if style == "Z" and mins == 0:
        return base + "Z"
    if style == "compact":
        return f"{base}{sign}{h:02d}{m:02d}"
    return f"{base}{sign}{h:02d}:{m:02d}"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(times, offsets, st.sampled_from(["colon", "compact", "Z"])), min_size=1, max_size=30))
def test_times_with_offsets_round_trip(items: list) -> None:
    texts = [_fmt_offset(t.astimezone(off), style) for t, off, style in items]
    values, bad = parse_timestamp(pa.array(texts), ZONE)
    assert not bad.any()
    assert values.tolist() == [_us(t) for t, _, _ in items]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2098, 12, 31)), min_size=1,
                max_size=30), st.booleans())
def test_times_without_offset_are_local(items: list[datetime], space: bool) -> None:
    sep = " " if space else "T"
    texts = [t.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + (f".{t.microsecond:06d}" if t.microsecond else "") for t in items]
    values, bad = parse_timestamp(pa.array(texts), ZONE)
    assert not bad.any()
    zone = ZoneInfo(ZONE)
    assert values.tolist() == [_us(t.replace(tzinfo=zone).astimezone(UTC)) for t in items]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(
    times.map(lambda t: _fmt_offset(t, "colon")),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2098, 12, 31)).map(
        lambda t: t.strftime("%Y-%m-%dT%H:%M:%S")),
    st.text(max_size=12),
    st.just(""),
), min_size=1, max_size=30))
def test_mixed_times_each_row_on_its_own(texts: list[str]) -> None:
    """A batch with times with and without offsets and garbage parses each row as it would alone."""
    values, bad = parse_timestamp(pa.array(texts), ZONE)
    for text, v, b in zip(texts, values.tolist(), bad.tolist()):
        one_v, one_b = parse_timestamp(pa.array([text]), ZONE)
        assert (v, b) == (int(one_v[0]), bool(one_b[0])), text
        if text == "":
            assert not b and v == 0


def test_time_examples() -> None:
    texts = ["2022-04-01T08:00:00+08:00", "2022-04-01 08:00:00", "2022-04-01T00:00:00Z", "2022-04-01T08:00",
             "2022-04-01", "2022-02-30T00:00:00", "1969-12-31T23:00:00Z", "2100-01-01T00:00:00Z", "08:00",
             "2022-04-01T08:00:00+0800", ""]
    values, bad = parse_timestamp(pa.array(texts), ZONE)
    ok = _us(datetime(2022, 4, 1, tzinfo=UTC))
    assert values[:4].tolist() == [ok, ok, ok, ok]
    assert values[9] == ok
    assert bad.tolist() == [False, False, False, False, True, True, True, True, True, False, False]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
    st.integers(min_value=-10**15, max_value=10**15).map(str),
    st.sampled_from(["", "nan", "inf", "-inf", "1,5", "abc", "1e999", ".5", "5.", "+3", " "]),
), min_size=1, max_size=40))
def test_numbers(texts: list[str]) -> None:
    values, bad = parse_float(pa.array([t.strip() for t in texts]))
    for text, v, b in zip(texts, values.tolist(), bad.tolist()):
        text = text.strip()
        if text == "":
            assert not b and np.isnan(v)
            continue
        try:
            expected = float(text)
            good = np.isfinite(expected)
        except ValueError:
            good = False
        assert b == (not good), text
        if good:
            assert v == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.integers(min_value=-2**62, max_value=2**62).map(str),
                          st.sampled_from(["", "7.0", "7.5", "x", "1e3", "99999999999999999999"])),
                min_size=1, max_size=30))
def test_whole_numbers(texts: list[str]) -> None:
    values, bad = parse_int(pa.array(texts))
    for text, v, b in zip(texts, values.tolist(), bad.tolist()):
        if text == "":
            assert not b
        elif text == "7.0":
            assert (v, b) == (7, False)
        elif text.lstrip("-").isdigit() and abs(int(text)) < 2**63:
            assert (v, b) == (int(text), False)
        else:
            assert b, text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["true", "false", "1", "0", "TRUE", "False", "", "yes", "no", "2", "t"]),
                min_size=1, max_size=30))
def test_booleans(texts: list[str]) -> None:
    values, bad = parse_bool(pa.array(texts))
    for text, v, b in zip(texts, values.tolist(), bad.tolist()):
        low = text.lower()
        if low in ("true", "1"):
            assert (v, b) == (True, False)
        elif low in ("false", "0"):
            assert (v, b) == (False, False)
        elif text == "":
            assert not b
        else:
            assert b, text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.dates(min_value=date(1970, 1, 1), max_value=date(2099, 12, 31)).map(date.isoformat),
                          st.sampled_from(["", "2022-02-30", "2022-4-1", "01/04/2022"])), min_size=1, max_size=30))
def test_dates(texts: list[str]) -> None:
    values, bad = parse_date(pa.array(texts))
    for text, v, b in zip(texts, values.tolist(), bad.tolist()):
        if text == "":
            assert not b
            continue
        try:
            d = date.fromisoformat(text)
            ok = len(text) == 10
        except ValueError:
            ok = False
        assert b == (not ok), text
        if ok:
            assert v == (d - date(1970, 1, 1)).days


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_pseudonym_is_keyed_hmac_sha256_of_the_normalised_reference(ref: str) -> None:
    pepper, key = b"p" * 32, b"k" * 32
    expected = hmac.new(pepper, normalise_ref(ref).encode("utf-8"), hashlib.sha256).digest()
    assert Pseudonymiser(pepper, key).person_id(ref) == int.from_bytes(expected[:8], "big") & ((1 << 63) - 1)
