"""The outbreak: infection by co-presence, natural history, symptoms.

A seeded venue on a chosen day; then, each day, every co-present pair (the rules'
definition) of a scan by an infectious person and a scan by a never-infected person
may infect the latter: each infectious scan is expected to infect ``beta`` times the
site type's ``per_visit`` of those co-present with it (frequency-dependent: with ``n``
co-present scans, each with probability ``beta * per_visit / max(n, crowd_min)``); the
earliest success wins (infected at their own scan time, at that site, by that
person). Each infection draws a latent period (not infectious, not detectable), an
infectious period, and possibly symptoms: fever, a fever-medicine purchase, a visit
to a fever clinic where a NAT sample is taken.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ingest.sim.contacts import DayIndex
from ingest.sim.params import SimParams
from ingest.sim.world import SUB, SUBKINDS, World

__all__ = ["Outbreak", "NEVER", "SEED", "COPRESENCE", "IMPORT"]

NEVER = np.int64(2**62)
DAY = 86_400
SEED, COPRESENCE, IMPORT = 1, 2, 3
DRUGS = ("antipyretic", "antibiotic", "antiviral", "cough")


class Outbreak:
    def __init__(self, world: World, p: SimParams, window_s: int, eligible_site: np.ndarray) -> None:
        n = world.people.n
        self.world = world
        self.p = p
        self.o = p.outbreak
        self.window_s = window_s
        self.inf_t = np.full(n, NEVER, dtype=np.int64)
        self.inf_from = np.full(n, NEVER, dtype=np.int64)
        self.inf_until = np.full(n, NEVER, dtype=np.int64)
        self.det_until = np.full(n, NEVER, dtype=np.int64)
        self.onset = np.full(n, NEVER, dtype=np.int64)
        self.infector = np.full(n, -1, dtype=np.int32)
        self.site = np.full(n, -1, dtype=np.int32)
        self.how = np.zeros(n, dtype=np.int8)
        mult = self.o.per_visit.to_dict()
        self.site_mult = np.array([mult.get(SUBKINDS[s], 0.0) for s in world.sites.sub]) * eligible_site
        self._meds: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = defaultdict(list)
        self._clinic: dict[int, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
        self.r = p.routines

    # --- state ----------------------------------------------------------------------
    def infectious(self, person: np.ndarray, t: np.ndarray) -> np.ndarray:
        return (self.inf_from[person] <= t) & (t < self.inf_until[person])

    def detectable(self, person: np.ndarray, t: np.ndarray) -> np.ndarray:
        lag = int(round(self.o.detectable_lag * DAY))
        return (self.inf_from[person] + lag <= t) & (t < self.det_until[person])

    def fever(self, person: np.ndarray, t: np.ndarray) -> np.ndarray:
        on = self.onset[person]
        return (on <= t) & (t < on + int(self.p.health.fever_days * DAY))

    def unwell(self, person: np.ndarray, t: np.ndarray) -> np.ndarray:
        on = self.onset[person]
        return (on <= t) & (t < on + 5 * DAY)

    @property
    def infected(self) -> np.ndarray:
        return np.flatnonzero(self.inf_t != NEVER)

    # --- infection --------------------------------------------------------------------
    def _daytime(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Move times outside the day's scanning hours to a morning."""
        tod = t % DAY
        day = t // DAY
        lo, hi = self.r.earliest * 3600, self.r.latest * 3600
        morning = np.round(rng.uniform(8.0, 11.0, len(t)) * 3600).astype(np.int64)
        return np.where(tod < lo, day * DAY + morning, np.where(tod > hi, (day + 1) * DAY + morning, t))

    def infect(self, person: np.ndarray, t: np.ndarray, site: np.ndarray, infector: np.ndarray, how: int,
               rng: np.random.Generator) -> None:
        o = self.o
        n = len(person)
        if n == 0:
            return
        self.inf_t[person] = t
        self.site[person] = site
        self.infector[person] = infector
        self.how[person] = how
        latent = o.latent_min + rng.gamma(o.latent_shape, o.latent_scale, n)
        self.inf_from[person] = t + np.round(latent * DAY).astype(np.int64)
        dur = rng.lognormal(np.log(o.infectious_median), o.infectious_sigma, n)
        self.inf_until[person] = self.inf_from[person] + np.round(dur * DAY).astype(np.int64)
        self.det_until[person] = np.maximum(t + int(o.detectable_days * DAY), self.inf_until[person])
        group = self.world.people.group[person]
        sym = rng.random(n) < np.asarray(o.symptomatic, float)[group]
        incub = np.maximum(rng.lognormal(np.log(o.incubation_median), o.incubation_sigma, n), latent + 0.25)
        onset = t + np.round(incub * DAY).astype(np.int64)
        self.onset[person] = np.where(sym, onset, NEVER)
        u_meds, u_clinic = rng.random(n), rng.random(n)
        h_meds = rng.uniform(*o.meds_hours, n)
        h_clinic = rng.uniform(*o.clinic_hours, n)
        drug_p = self.p.meds.symptomatic_classes.to_dict()
        w = np.array([drug_p.get(k, 0.0) for k in DRUGS])
        drug = rng.choice(len(DRUGS), size=n, p=w / w.sum()).astype(np.int8)
        meds = sym & (u_meds < o.meds_prob)
        tm = self._daytime(onset + np.round(h_meds * 3600).astype(np.int64), rng)
        clinic = sym & (u_clinic < o.clinic_prob)
        tc = self._daytime(onset + np.round(h_clinic * 3600).astype(np.int64), rng)
        for sel, tt, store, extra in ((meds, tm, self._meds, drug), (clinic, tc, self._clinic, None)):
            if not sel.any():
                continue
            pp, ts = person[sel], tt[sel]
            ex = extra[sel] if extra is not None else None
            for d in np.unique(ts // DAY):
                on_day = ts // DAY == d
                item = (pp[on_day], ts[on_day]) if ex is None else (pp[on_day], ts[on_day], ex[on_day])
                store[int(d)].append(item)

    def scheduled_meds(self, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        items = self._meds.pop(d, [])
        if not items:
            e = np.empty(0, dtype=np.int64)
            return e.astype(np.int32), e, e.astype(np.int8)
        return tuple(np.concatenate(x) for x in zip(*items, strict=True))  # type: ignore[return-value]

    def scheduled_clinic(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        items = self._clinic.pop(d, [])
        if not items:
            e = np.empty(0, dtype=np.int64)
            return e.astype(np.int32), e
        return tuple(np.concatenate(x) for x in zip(*items, strict=True))  # type: ignore[return-value]

    # --- one day ----------------------------------------------------------------------
    def seed(self, day: DayIndex, rng: np.random.Generator) -> np.ndarray:
        """Infect ``outbreak.seeds`` people who scanned at the day's busiest site of
        type ``outbreak.seed_site``; returns them."""
        if len(day.person) == 0:
            return np.empty(0, dtype=np.int32)
        sub = self.world.sites.sub[day.site]
        want = day.site[sub == SUB[self.o.seed_site]] if self.o.seed_site in SUB else np.empty(0, np.int32)
        pool = want if len(want) else day.site
        site = int(np.argmax(np.bincount(pool)))
        at = np.flatnonzero(day.site == site)
        order = np.lexsort((day.t[at], day.person[at]))
        at = at[order]
        first = np.ones(len(at), dtype=bool)
        first[1:] = day.person[at][1:] != day.person[at][:-1]
        at = at[first]
        staff = self.world.people.work[day.person[at]] == site
        k_staff = min(int(self.o.seed_staff), int(staff.sum()), int(self.o.seeds))
        k = min(int(self.o.seeds), len(at)) - k_staff
        pick_staff = rng.choice(at[staff], size=k_staff, replace=False) if k_staff else at[:0]
        rest = at[~np.isin(at, pick_staff)]
        pick = rng.choice(rest, size=min(k, len(rest)), replace=False) if k > 0 else at[:0]
        chosen = np.sort(np.r_[pick_staff, pick])
        k = len(chosen)
        self.infect(day.person[chosen], day.t[chosen], day.site[chosen], np.full(k, -1, np.int32), SEED, rng)
        return day.person[chosen]

    def transmit(self, day: DayIndex, rng: np.random.Generator) -> int:
        """Infections of the day by co-presence with infectious people; returns how many."""
        if len(day.person) == 0:
            return 0
        q = np.flatnonzero(self.infectious(day.person, day.t) & (self.site_mult[day.site] > 0))
        if len(q) == 0:
            return 0
        qi, other = day.partners(q, self.window_s)
        src = q[qi]
        tgt = day.person[other]
        diff = tgt != day.person[src]
        qi, src, other, tgt = qi[diff], src[diff], other[diff], tgt[diff]
        crowd = np.bincount(qi, minlength=len(q))[qi]  # co-present scans of each infectious scan
        keep = self.inf_t[tgt] == NEVER
        src, other, tgt, crowd = src[keep], other[keep], tgt[keep], crowd[keep]
        prob = np.minimum(1.0, self.o.beta * self.site_mult[day.site[other]] / np.maximum(crowd, self.o.crowd_min))
        hit = rng.random(len(other)) < prob
        src, other, tgt = src[hit], other[hit], tgt[hit]
        if len(tgt) == 0:
            return 0
        order = np.lexsort((day.person[src], day.t[src], day.t[other], tgt))
        first = np.ones(len(order), dtype=bool)
        first[1:] = tgt[order][1:] != tgt[order][:-1]
        win = order[first]
        self.infect(tgt[win], day.t[other[win]], day.site[other[win]], day.person[src[win]], COPRESENCE, rng)
        return len(win)
