"""Daily life: who goes where, when, and scans a QR code there.

Fixed routines (the reopened grades at school on school days, staff of platform
employers on working days) plus discretionary errands (markets, supermarkets,
restaurants, bathhouses, clinics, pharmacies, the community office) and household
outings on rest days. Errand rates are scaled by one factor so that all scans over
the period meet ``routines.scans_per_resident_day``. Everything is drawn per day,
vectorised over people: counts from Poisson distributions, people by their activity
level, sites by habit or attraction, times from per-errand mixtures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from ingest.sim.params import SimParams
from ingest.sim.world import ACTIVITIES, World

__all__ = ["DayInfo", "calendar", "Routines", "Visits"]

DAY = 86_400


@dataclass(frozen=True)
class DayInfo:
    index: int
    date: date
    rest: bool          # weekend or public holiday (and not a make-up working day)
    school_open: bool   # the reopened grades attend (a working day on or after reopening)


def calendar(start: date, days: int, p: SimParams) -> list[DayInfo]:
    holidays = {date.fromisoformat(s) for s in p.calendar.holidays}
    workdays = {date.fromisoformat(s) for s in p.calendar.workdays}
    reopen = date.fromisoformat(p.schools.reopen)
    out = []
    for i in range(days):
        d = start + timedelta(days=i)
        rest = d in holidays or (d.weekday() >= 5 and d not in workdays)
        out.append(DayInfo(i, d, rest, (not rest) and d >= reopen))
    return out


@dataclass
class Visits:
    person: np.ndarray   # int32
    site: np.ndarray     # int32
    t: np.ndarray        # int64 seconds since the start of the period
    errand: np.ndarray   # bool: discretionary (thinned for the symptomatic)

    @staticmethod
    def concat(parts: list[Visits]) -> Visits:
        if not parts:
            e = np.empty(0, dtype=np.int64)
            return Visits(e.astype(np.int32), e.astype(np.int32), e, e.astype(bool))
        return Visits(*(np.concatenate([getattr(v, f) for v in parts]) for f in ("person", "site", "t", "errand")))


def _mixture(spec: list[list[float]], n: int, rng: np.random.Generator) -> np.ndarray:
    """Hours of the day from a mixture [[weight, mean, sd], ...]."""
    w = np.array([c[0] for c in spec], float)
    comp = rng.choice(len(spec), size=n, p=w / w.sum())
    mu = np.array([c[1] for c in spec])[comp]
    sd = np.array([c[2] for c in spec])[comp]
    return rng.normal(mu, sd)


def fold_hours(h: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Hours reflected back into [lo, hi] (no pile-up at the edges)."""
    h = np.where(h < lo, 2 * lo - h, h)
    h = np.where(h > hi, 2 * hi - h, h)
    return np.clip(h, lo, hi)


class Routines:
    def __init__(self, world: World, p: SimParams, days: list[DayInfo]) -> None:
        self.world = world
        self.p = p
        self.r = p.routines
        pe = world.people
        s = world.sites
        self.groups = [np.flatnonzero(pe.group == g) for g in range(4)]
        self.cum = [np.cumsum(pe.activity[idx]) for idx in self.groups]
        self.kind_sites = [s.of(a) for a in ACTIVITIES]
        self.kind_cum = [np.cumsum(s.attraction[k]) for k in self.kind_sites]
        sizes = np.diff(pe.hh_start)
        self.multi_hh = np.flatnonzero(sizes >= 2)
        grades = set(p.schools.middle_grades)
        self.pupils = np.flatnonzero((pe.school >= 0) & (np.isin(pe.grade, list(grades))
                                                         | ((pe.grade == 20) & bool(p.schools.vocational))))
        self.workers = np.flatnonzero(pe.work >= 0)
        self.scale = self._scale(days)

    # --- calibration --------------------------------------------------------------
    def _unit_errands(self, rest: bool) -> float:
        """Expected errands + outing scans on one day at scale 1."""
        total = 0.0
        for name in ACTIVITIES:
            rates = np.asarray(self.r[name], float)
            mult = self.r.rest_day[name] if rest else 1.0
            total += mult * float(sum(rates[g] * len(self.groups[g]) for g in range(4)))
        if rest and len(self.multi_hh):
            sizes = np.diff(self.world.people.hh_start)[self.multi_hh]
            total += self.r.outing_rate * len(self.multi_hh) * float(sizes.mean()) * self.r.outing_join
        return total

    def fixed_expected(self, day: DayInfo) -> float:
        n = 0.0
        if day.school_open:
            n += len(self.pupils) * self.p.schools.attendance
        daily = self.world.people.work_daily[self.workers]
        n += (len(self.workers) if not day.rest else int(daily.sum())) * self.p.work.attendance
        return n

    def _scale(self, days: list[DayInfo]) -> float:
        target = self.r.scans_per_resident_day * self.world.people.n * len(days)
        fixed = sum(self.fixed_expected(d) for d in days)
        meds = float(np.asarray(self.p.meds.background) @ np.array([len(g) for g in self.groups])) * len(days)
        unit = sum(self._unit_errands(d.rest) for d in days)
        return max(0.02, (target - fixed - meds) / unit) if unit > 0 else 0.0

    # --- one day --------------------------------------------------------------------
    def times(self, hours: np.ndarray, d: int) -> np.ndarray:
        h = fold_hours(hours, self.r.earliest, self.r.latest)
        return d * DAY + np.round(h * 3600).astype(np.int64)

    def pick_people(self, g: int, n: int, rng: np.random.Generator) -> np.ndarray:
        cum = self.cum[g]
        if n == 0 or len(cum) == 0:
            return np.empty(0, dtype=np.int32)
        i = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
        return self.groups[g][np.minimum(i, len(cum) - 1)].astype(np.int32)

    def _pick_sites(self, a: int, person: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        usual = self.world.people.usual[person, a]
        cum = self.kind_cum[a]
        other = self.kind_sites[a][np.minimum(np.searchsorted(cum, rng.random(len(person)) * cum[-1], side="right"),
                                              len(cum) - 1)]
        return np.where(rng.random(len(person)) < self.r.usual_site, usual, other).astype(np.int32)

    def day(self, info: DayInfo, rng: np.random.Generator) -> Visits:
        pe = self.world.people
        d = info.index
        parts: list[Visits] = []
        if info.school_open and len(self.pupils):
            who = self.pupils[rng.random(len(self.pupils)) < self.p.schools.attendance]
            gt = self.p.schools.grade_times
            g = pe.grade[who]
            mu = np.zeros(len(who))
            sd = np.zeros(len(who))
            for key, (m, s) in gt.to_dict().items():
                sel = g == (20 if key == "vocational" else int(key))
                mu[sel], sd[sel] = m, s
            parts.append(Visits(who.astype(np.int32), pe.school[who], self.times(rng.normal(mu, sd), d),
                                np.zeros(len(who), bool)))
        workers = self.workers if not info.rest else self.workers[pe.work_daily[self.workers]]
        if len(workers):
            who = workers[rng.random(len(workers)) < self.p.work.attendance]
            hours = rng.normal(pe.work_hour[who, 0], pe.work_hour[who, 1])
            parts.append(Visits(who.astype(np.int32), pe.work[who], self.times(hours, d), np.zeros(len(who), bool)))
        for a, name in enumerate(ACTIVITIES):
            mult = self.r.rest_day[name] if info.rest else 1.0
            rates = np.asarray(self.r[name], float) * mult * self.scale
            people = [self.pick_people(g, int(rng.poisson(rates[g] * len(self.groups[g]))), rng) for g in range(4)]
            who = np.concatenate(people)
            if len(who) == 0 or len(self.kind_sites[a]) == 0:
                continue
            site = self._pick_sites(a, who, rng)
            t = self.times(_mixture(self.r.time[name], len(who), rng), d)
            parts.append(Visits(who, site, t, np.ones(len(who), bool)))
        if info.rest and len(self.multi_hh):
            parts.append(self._outings(d, rng))
        return Visits.concat(parts)

    def _outings(self, d: int, rng: np.random.Generator) -> Visits:
        pe = self.world.people
        n = int(rng.poisson(self.r.outing_rate * self.scale * len(self.multi_hh)))
        hh = np.sort(self.multi_hh[rng.integers(0, len(self.multi_hh), n)])
        kinds = self.r.outing_kinds.to_dict()
        names = list(kinds)
        w = np.array([kinds[k] for k in names], float)
        which = rng.choice(len(names), size=n, p=w / w.sum())
        a_idx = np.array([ACTIVITIES.index(k) for k in names])[which]
        head = pe.hh_start[hh]
        site = pe.usual[head, a_idx]
        base = np.zeros(n)
        for i, k in enumerate(names):
            sel = which == i
            base[sel] = _mixture(self.r.time[k], int(sel.sum()), rng)
        t0 = self.times(base, d)
        size = pe.hh_start[hh + 1] - head
        member = np.repeat(head, size) + (np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size))
        rep = np.repeat(np.arange(n), size)
        join = rng.random(len(member)) < self.r.outing_join
        member, rep = member[join], rep[join]
        t = np.minimum(t0[rep] + rng.integers(0, 240, len(member)), d * DAY + int(self.r.latest * 3600))
        return Visits(member.astype(np.int32), site[rep].astype(np.int32), t, np.ones(len(member), bool))
