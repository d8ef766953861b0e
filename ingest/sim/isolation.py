"""Isolation stays, and who is out of circulation when.

A stay is (person, site, category, admitted, discharged). A person in a stay makes no
scans; so does a confirmed case between the positive report and admission, and a
returnee before arrival. These are kept as two "blocks" per person (the latest two
intervals), enough because new stays are always decided before the day they start.
Isolation sites are hotels (central isolation: close contacts, inbound from high-risk
areas), the case site (a makeshift hospital) and, for home isolation (secondary
contacts, inbound from medium-risk areas), the person's community office, which
manages it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Isolation", "CATEGORIES", "CASE", "CLOSE", "SECONDARY", "INBOUND", "NEVER"]

CATEGORIES = ("case", "close_contact", "secondary_contact", "inbound", "other")
CASE, CLOSE, SECONDARY, INBOUND, OTHER = range(5)
_PRIORITY = np.array([3, 2, 1, 2, 0], dtype=np.int8)
NEVER = np.int64(2**62)
DAY = 86_400


class _Grow:
    """Growable columns."""

    def __init__(self, dtypes: dict[str, type]) -> None:
        self.n = 0
        self.cols = {k: np.empty(1024, dtype=t) for k, t in dtypes.items()}

    def append(self, **values: np.ndarray) -> np.ndarray:
        m = len(next(iter(values.values())))
        while self.n + m > len(next(iter(self.cols.values()))):
            for k, a in self.cols.items():
                self.cols[k] = np.concatenate([a, np.empty_like(a)])
        idx = np.arange(self.n, self.n + m)
        for k, v in values.items():
            self.cols[k][idx] = v
        self.n += m
        return idx

    def __getitem__(self, k: str) -> np.ndarray:
        return self.cols[k][: self.n]


class Isolation:
    def __init__(self, n_people: int, hotels: np.ndarray, hotel_capacity: np.ndarray) -> None:
        self.stays = _Grow({"person": np.int32, "site": np.int32, "category": np.int8, "adm": np.int64,
                            "dis": np.int64})
        self.b_from = np.full((n_people, 2), NEVER, dtype=np.int64)  # [:, 1] = latest block
        self.b_to = np.full((n_people, 2), NEVER, dtype=np.int64)
        self.last_stay = np.full(n_people, -1, dtype=np.int64)
        self.hotels = hotels
        self.hotel_capacity = hotel_capacity
        self.overflow = 0  # admissions beyond a full hotel

    # --- blocks -------------------------------------------------------------------
    def blocked(self, person: np.ndarray, t: np.ndarray) -> np.ndarray:
        f, to = self.b_from[person], self.b_to[person]
        tt = np.asarray(t)[:, None] if np.ndim(t) else t
        return ((f <= tt) & (tt < to)).any(axis=1)

    def add_block(self, person: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        """Out of circulation during [start, end); merged with the latest block when
        they overlap or touch."""
        person = np.asarray(person)
        start = np.broadcast_to(start, person.shape)
        end = np.broadcast_to(end, person.shape)
        # persons may repeat: apply in order
        for chunk in _unique_chunks(person):
            p, s, e = person[chunk], start[chunk], end[chunk]
            lf, lt = self.b_from[p, 1], self.b_to[p, 1]
            has = lf != NEVER
            merge = has & (s <= lt) & (e >= lf)
            self.b_from[p[merge], 1] = np.minimum(lf[merge], s[merge])
            self.b_to[p[merge], 1] = np.maximum(lt[merge], e[merge])
            new = ~merge
            pn = p[new]
            self.b_from[pn, 0] = self.b_from[pn, 1]
            self.b_to[pn, 0] = self.b_to[pn, 1]
            self.b_from[pn, 1] = s[new]
            self.b_to[pn, 1] = e[new]

    # --- stays --------------------------------------------------------------------
    def current(self, person: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Index of the stay the person is in at ``t`` (or scheduled to begin after
        ``t`` but already decided), else -1."""
        s = self.last_stay[person]
        has = s >= 0
        out = np.full(len(person), -1, dtype=np.int64)
        if has.any():
            dis = self.stays["dis"][s[has]]
            live = dis > t[has] if np.ndim(t) else dis > t
            out[np.flatnonzero(has)[live]] = s[has][live]
        return out

    def admit(self, person: np.ndarray, site: np.ndarray, category: int, adm: np.ndarray,
              days: float) -> np.ndarray:
        """Admit people (a stay of ``days`` from ``adm``) unless they are already in a
        stay of the same or a higher priority; a lower-priority stay ends at ``adm``.
        Returns the mask of those admitted."""
        person = np.asarray(person, dtype=np.int32)
        if len(person) == 0:
            return np.zeros(0, dtype=bool)
        # one admission per person: the earliest
        order = np.lexsort((adm, person))
        first = np.ones(len(order), dtype=bool)
        first[1:] = person[order][1:] != person[order][:-1]
        take = order[first]
        admitted = np.zeros(len(person), dtype=bool)
        p, s, a = person[take], np.asarray(site)[take], np.asarray(adm)[take]
        cur = self.current(p, a)
        cur_cat = np.full(len(cur), OTHER, dtype=np.int8)
        cur_cat[cur >= 0] = self.stays["category"][cur[cur >= 0]]
        go = (cur < 0) | (_PRIORITY[cur_cat] < _PRIORITY[category])
        upgrade = go & (cur >= 0)
        if upgrade.any():
            ci = cur[upgrade]
            self.stays.cols["dis"][ci] = np.maximum(self.stays["adm"][ci], a[upgrade])
        p, s, a = p[go], s[go], a[go]
        dis = a + int(round(days * DAY))
        idx = self.stays.append(person=p, site=s, category=np.full(len(p), category, dtype=np.int8), adm=a, dis=dis)
        self.last_stay[p] = idx
        self.add_block(p, a, dis)
        admitted[take[go]] = True
        return admitted

    def hotel_for(self, n: int, at: int) -> np.ndarray:
        """Hotels for ``n`` admissions around ``at``: filled in order of free beds;
        beyond the last free bed, the largest hotel (counted in ``overflow``)."""
        st = self.stays
        live = (st["adm"] <= at) & (st["dis"] > at)
        occ = np.zeros(len(self.hotels), dtype=np.int64)
        if live.any():
            pos = {h: i for i, h in enumerate(self.hotels)}
            sites = st["site"][live]
            hit = np.isin(sites, self.hotels)
            occ += np.bincount([pos[s] for s in sites[hit]], minlength=len(self.hotels))
        free = np.maximum(self.hotel_capacity - occ, 0)
        order = np.argsort(-free, kind="stable")
        slots = np.repeat(self.hotels[order], free[order])
        out = np.empty(n, dtype=np.int32)
        k = min(n, len(slots))
        out[:k] = slots[:k]
        if n > k:
            out[k:] = self.hotels[int(np.argmax(self.hotel_capacity))]
            self.overflow += n - k
        return out

    def first_admission_at_or_after(self, person: np.ndarray, t: np.ndarray, end: int) -> np.ndarray:
        """For each (person, t): the earliest ``adm >= t`` of the person's stays, else ``end``."""
        st = self.stays
        out = np.full(len(person), end, dtype=np.int64)
        if st.n == 0 or len(person) == 0:
            return out
        order = np.lexsort((st["adm"], st["person"]))
        sp, sa = st["person"][order].astype(np.int64), st["adm"][order]
        key = (sp << 40) + sa
        q = (np.asarray(person, dtype=np.int64) << 40) + t
        i = np.searchsorted(key, q, side="left")
        ok = i < len(key)
        ok[ok] &= sp[i[ok]] == person[ok]
        out[ok] = sa[i[ok]]
        return out


def _unique_chunks(person: np.ndarray) -> list[np.ndarray]:
    """Split positions into chunks where no person repeats (in order)."""
    if len(person) == 0:
        return []
    order = np.argsort(person, kind="stable")
    ps = person[order]
    start = np.ones(len(ps), dtype=bool)
    start[1:] = ps[1:] != ps[:-1]
    group_start = np.maximum.accumulate(np.where(start, np.arange(len(ps)), 0))
    rank_sorted = np.arange(len(ps)) - group_start
    rank = np.empty(len(ps), dtype=np.int64)
    rank[order] = rank_sorted
    return [np.flatnonzero(rank == r) for r in range(int(rank.max()) + 1)]
