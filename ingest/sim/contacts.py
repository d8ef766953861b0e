"""Co-presence and contacts under the rules, vectorised over the emitted scans.

The definitions are those of ``geodata/rules.toml`` taken literally (see
``truth/README.md`` of a simulation): two scans by different persons at the same
site, of a kind in ``rules.copresence.site_kinds``, at most ``rules.copresence.minutes``
apart (inclusive). Scans never lie within the window of midnight (see
``routines.earliest/latest``), so co-presence never spans two days and each day's
scans are indexed on their own. The simulator traces with these functions while it
runs, and writes ``truth/`` with them at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DayIndex", "ScanStore", "window_pairs", "scan_pairs", "close_contacts", "secondary_contacts",
           "ClosePairs", "SecondaryPairs"]

DAY = 86_400
_SHIFT = np.int64(1) << np.int64(33)


def window_pairs(sorted_key: np.ndarray, q_key: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """All (query, position) with ``|sorted_key[position] - q_key[query]| <= w``."""
    lo = np.searchsorted(sorted_key, q_key - w, side="left")
    hi = np.searchsorted(sorted_key, q_key + w, side="right")
    cnt = hi - lo
    qi = np.repeat(np.arange(len(q_key)), cnt)
    off = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return qi, lo[qi] + off


@dataclass
class DayIndex:
    """One day's scans at sites where co-presence counts, indexed two ways."""

    person: np.ndarray   # int32
    site: np.ndarray     # int32
    t: np.ndarray        # int64 seconds since the start of the period
    row: np.ndarray      # int64 row number in scans.csv (0-based)
    by_site: np.ndarray  # order by (site, t)
    site_key: np.ndarray  # sorted (site << 33) + t
    by_person: np.ndarray  # order by (person, t)
    person_sorted: np.ndarray

    @classmethod
    def build(cls, person: np.ndarray, site: np.ndarray, t: np.ndarray, row: np.ndarray) -> DayIndex:
        key = site.astype(np.int64) * _SHIFT + t
        by_site = np.argsort(key, kind="stable")
        by_person = np.lexsort((t, person))
        return cls(person=person, site=site, t=t, row=row, by_site=by_site, site_key=key[by_site],
                   by_person=by_person, person_sorted=person[by_person])

    def scans_of(self, persons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query index, scan index) of every scan of each queried person."""
        lo = np.searchsorted(self.person_sorted, persons, side="left")
        hi = np.searchsorted(self.person_sorted, persons, side="right")
        cnt = hi - lo
        qi = np.repeat(np.arange(len(persons)), cnt)
        off = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        return qi, self.by_person[lo[qi] + off]

    def partners(self, scans: np.ndarray, window_s: int) -> tuple[np.ndarray, np.ndarray]:
        """(index into ``scans``, partner scan index): scans at the same site within the
        window, the scan itself excluded (the caller drops the same person)."""
        q_key = self.site[scans].astype(np.int64) * _SHIFT + self.t[scans]
        qi, pos = window_pairs(self.site_key, q_key, window_s)
        other = self.by_site[pos]
        keep = other != scans[qi]
        return qi[keep], other[keep]


class ScanStore:
    """Every day's :class:`DayIndex` so far."""

    def __init__(self) -> None:
        self.days: list[DayIndex] = []

    def add(self, index: DayIndex) -> None:
        self.days.append(index)

    @property
    def n_days(self) -> int:
        return len(self.days)


def scan_pairs(store: ScanStore, q_person: np.ndarray, q_from: np.ndarray, q_to: np.ndarray,
               window_s: int, exclude: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Co-presence pairs of the queried persons' scans with ``q_from <= t <= q_to``.

    ``exclude = (owner, sorted keys)``: drop partners ``x`` with ``x == owner[q]`` or
    ``owner[q] << 32 | x`` in the keys (a case and its close contacts).

    Returns arrays ``q`` (query index), ``day``, ``own`` and ``other`` (scan indices
    within that day), ``other_person``, ``own_t``, ``other_t``, ``site``.
    """
    if len(q_person) == 0:
        return _pairs_empty()
    names = ("q", "day", "own", "other", "other_person", "own_t", "other_t", "site", "own_row", "other_row")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in names}
    d_lo = max(0, int(np.floor(q_from.min() / DAY)))
    d_hi = min(store.n_days - 1, int(np.floor(q_to.max() / DAY)))
    for d in range(d_lo, d_hi + 1):
        active = np.flatnonzero((q_from < (d + 1) * DAY) & (q_to >= d * DAY))
        if len(active) == 0:
            continue
        day = store.days[d]
        qi, own = day.scans_of(q_person[active])
        qi = active[qi]
        t = day.t[own]
        ok = (t >= q_from[qi]) & (t <= q_to[qi])
        qi, own = qi[ok], own[ok]
        pj, other = day.partners(own, window_s)
        qi, own = qi[pj], own[pj]
        other_person = day.person[other]
        diff = other_person != q_person[qi]
        if exclude is not None:
            owner = exclude[0][qi].astype(np.int64)
            diff &= (other_person != owner) & ~_member((owner << 32) | other_person, exclude[1])
        qi, own, other, other_person = qi[diff], own[diff], other[diff], other_person[diff]
        parts["q"].append(qi)
        parts["day"].append(np.full(len(qi), d, dtype=np.int32))
        parts["own"].append(own)
        parts["other"].append(other)
        parts["other_person"].append(other_person)
        parts["own_t"].append(day.t[own])
        parts["other_t"].append(day.t[other])
        parts["site"].append(day.site[own])
        parts["own_row"].append(day.row[own])
        parts["other_row"].append(day.row[other])
    if not parts["q"]:
        return _pairs_empty()
    return {k: np.concatenate(v) for k, v in parts.items()}


def _pairs_empty() -> dict[str, np.ndarray]:
    i32 = np.empty(0, dtype=np.int32)
    i64 = np.empty(0, dtype=np.int64)
    return {"q": i64, "day": i32, "own": i64, "other": i64, "other_person": i32, "own_t": i64, "other_t": i64,
            "site": i32, "own_row": i64, "other_row": i64}


@dataclass
class ClosePairs:
    """Close contacts: one row per (case, contact) plus the evidence pairs."""

    case: np.ndarray            # person index of the case
    contact: np.ndarray         # person index of the close contact
    first_exposure: np.ndarray  # the contact's earliest own scan time in such pairs
    pairs: dict[str, np.ndarray]  # scan_pairs() output; q indexes the case arrays


def close_contacts(store: ScanStore, case: np.ndarray, w_from: np.ndarray, w_to: np.ndarray,
                   window_s: int) -> ClosePairs:
    """Close contacts of each case: persons co-present with one of its scans in
    ``[w_from, w_to]`` (inclusive)."""
    pairs = scan_pairs(store, case, w_from, w_to, window_s)
    c = case[pairs["q"]]
    k = pairs["other_person"]
    if len(c) == 0:
        e = np.empty(0, dtype=np.int64)
        return ClosePairs(case=e.astype(np.int32), contact=e.astype(np.int32), first_exposure=e, pairs=pairs)
    order = np.lexsort((pairs["other_t"], k, c))
    c_s, k_s, t_s = c[order], k[order], pairs["other_t"][order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (c_s[1:] != c_s[:-1]) | (k_s[1:] != k_s[:-1])
    return ClosePairs(case=c_s[first], contact=k_s[first], first_exposure=t_s[first], pairs=pairs)


def _member(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """``np.isin`` for a sorted, unique key array (binary search; no sort of ``values``)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(values), dtype=bool)
    i = np.minimum(np.searchsorted(sorted_keys, values), len(sorted_keys) - 1)
    return sorted_keys[i] == values


@dataclass
class SecondaryPairs:
    case: np.ndarray       # person index of the case
    contact: np.ndarray    # the secondary contact
    via: np.ndarray        # the close contact (one row per (case, contact, via))
    first_exposure: np.ndarray  # the secondary contact's earliest scan time in pairs with that via
    pairs: dict[str, np.ndarray]  # q indexes the (case, via) query arrays


def secondary_contacts(store: ScanStore, case: np.ndarray, via: np.ndarray, v_from: np.ndarray, v_to: np.ndarray,
                       close_of_case: np.ndarray, window_s: int) -> SecondaryPairs:
    """Secondary contacts: persons co-present with close contact ``via[i]`` of ``case[i]``
    at one of ``via[i]``'s scans in ``[v_from[i], v_to[i]]``; not the case, not one of
    its close contacts (``close_of_case``: the (case, contact) keys, as an int64 array
    of ``case << 32 | contact``)."""
    keys = np.unique(np.asarray(close_of_case, dtype=np.int64))
    pairs = scan_pairs(store, via, v_from, v_to, window_s, exclude=(case, keys))
    c = case[pairs["q"]].astype(np.int64)
    v = via[pairs["q"]]
    x = pairs["other_person"].astype(np.int64)
    t = pairs["other_t"]
    if len(c) == 0:
        e = np.empty(0, dtype=np.int64)
        return SecondaryPairs(case=e.astype(np.int32), contact=e.astype(np.int32), via=e.astype(np.int32),
                              first_exposure=e, pairs=pairs)
    order = np.lexsort((t, v, x, c))
    c_s, x_s, v_s, t_s = c[order], x[order], v[order], t[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (c_s[1:] != c_s[:-1]) | (x_s[1:] != x_s[:-1]) | (v_s[1:] != v_s[:-1])
    return SecondaryPairs(case=c_s[first].astype(np.int32), contact=x_s[first].astype(np.int32),
                          via=v_s[first].astype(np.int32), first_exposure=t_s[first], pairs=pairs)
