"""Health codes, temperatures, NAT rounds and "hours since the last negative NAT".

``nat_hours`` of a scan counts from the sampling time of the person's latest sample
taken before the scan that turned out negative (the platform shows a sample as soon
as it is taken, 已采样, and the 48-hour check counts from sampling; only samples
reported within the period count, as nat.csv holds only those). Communities test in
turn every ``nat.round_hours`` hours; who missed their round may test the next day
(补检). Before the period each person's last negative is drawn from their habit.
"""

from __future__ import annotations

import numpy as np

from geodata.rules import Rules
from ingest.sim.params import SimParams
from ingest.sim.routines import fold_hours
from ingest.sim.world import World

__all__ = ["Health", "GREEN", "YELLOW", "RED", "COLORS", "NONE"]

GREEN, YELLOW, RED = 0, 1, 2
COLORS = ("green", "yellow", "red")
NONE = -(np.int64(2) ** 62)  # "never" in the past
DAY = 86_400


class Health:
    def __init__(self, world: World, p: SimParams, rng: np.random.Generator) -> None:
        pe = world.people
        n = pe.n
        self.p = p
        self.world = world
        self.period = max(1, int(round(p.nat.round_hours / 24)))
        self.phase = (np.arange(len(world.communities)) % self.period).astype(np.int64)
        self.by_comm = np.argsort(pe.community, kind="stable").astype(np.int32)
        self.comm_start = np.searchsorted(pe.community[self.by_comm], np.arange(len(world.communities) + 1))
        self.yellow_until = np.full(n, NONE, dtype=np.int64)
        self.red_until = np.full(n, NONE, dtype=np.int64)
        self.risk_until = np.full(n, NONE, dtype=np.int64)
        # the last negative sample before the period
        last_round = np.array([max(d for d in range(-self.period, 0) if (d + ph) % self.period == 0)
                               for ph in self.phase])[pe.community]
        k = rng.geometric(np.clip(pe.nat_p, 0.02, 1.0))
        day = last_round - self.period * (k - 1)
        s = day * DAY + np.round(self.sample_hours(pe.nat_hour, rng) * 3600).astype(np.int64)
        self.neg_t = np.where(k <= 12, s, NONE)
        self.last_sample = self.neg_t.copy()
        self.pend_p = np.empty(0, dtype=np.int64)
        self.pend_s = np.empty(0, dtype=np.int64)
        self._key = np.empty(0, dtype=np.int64)

    # --- NAT ----------------------------------------------------------------------
    def sample_hours(self, habit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return fold_hours(habit + rng.normal(0, 0.3, len(habit)), 6.0, 20.0)

    def report_delay(self, n: int, rng: np.random.Generator) -> np.ndarray:
        q = self.p.nat
        h = np.clip(rng.lognormal(np.log(q.report_median_h), q.report_sigma, n), q.report_min_h, q.report_max_h)
        return np.round(h * 3600).astype(np.int64)

    def round_candidates(self, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(person, site, sample time) of today's round samples and make-up samples of
        those who missed their last round (before blocking)."""
        pe = self.world.people
        on = (d + self.phase) % self.period == 0
        parts = []
        for comms, makeup in ((np.flatnonzero(on), False), (np.flatnonzero(~on), True)):
            if len(comms) == 0:
                continue
            lo, hi = self.comm_start[comms], self.comm_start[comms + 1]
            who = np.sort(np.concatenate([self.by_comm[a:b] for a, b in zip(lo, hi, strict=True)]))
            p = pe.nat_p[who]
            if makeup:
                overdue = d * DAY - self.last_sample[who] > self.period * DAY + 12 * 3600
                who, p = who[overdue], p[overdue] * self.p.nat.makeup
            parts.append(who[rng.random(len(who)) < p])
        who = np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)
        t = d * DAY + np.round(self.sample_hours(pe.nat_hour[who], rng) * 3600).astype(np.int64)
        return who.astype(np.int32), pe.nat_site[who], t

    def sampled(self, person: np.ndarray, sampled: np.ndarray, negative: np.ndarray) -> None:
        """Record the day's samples (``negative``: negative and reported in the period)."""
        np.maximum.at(self.last_sample, person, sampled)
        self.pend_p = np.concatenate([self.pend_p, person[negative].astype(np.int64)])
        self.pend_s = np.concatenate([self.pend_s, sampled[negative]])
        order = np.lexsort((self.pend_s, self.pend_p))
        self.pend_p, self.pend_s = self.pend_p[order], self.pend_s[order]
        self._key = (self.pend_p << 40) + self.pend_s

    def fold(self, t: int) -> None:
        """Move negative samples taken by ``t`` into the per-person state."""
        done = self.pend_s <= t
        if done.any():
            np.maximum.at(self.neg_t, self.pend_p[done], self.pend_s[done])
            keep = ~done
            self.pend_p, self.pend_s = self.pend_p[keep], self.pend_s[keep]
            self._key = self._key[keep]

    def last_negative(self, person: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Sampling time of the latest negative sample taken at or before ``t``."""
        last = self.neg_t[person].copy()
        if len(self._key):
            q = (person.astype(np.int64) << 40) + t
            i = np.searchsorted(self._key, q, side="right") - 1
            ok = i >= 0
            ok[ok] &= self.pend_p[i[ok]] == person[ok]
            last[ok] = np.maximum(last[ok], self.pend_s[i[ok]])
        return last

    def nat_hours(self, person: np.ndarray, t: np.ndarray) -> np.ndarray:
        last = self.last_negative(person, t)
        hours = np.round((t - last) / 3600.0, 1)
        return np.where(last == NONE, np.nan, hours)

    # --- codes and temperatures ----------------------------------------------------
    def new_flags(self, d: int, rng: np.random.Generator) -> None:
        """Spatio-temporal flags from other jurisdictions (from the day's start)."""
        h = self.p.health
        n = self.world.people.n
        for until, rate, days in ((self.yellow_until, h.yellow_per_day, h.yellow_days),
                                  (self.red_until, h.red_per_day, h.red_days)):
            k = rng.poisson(rate * n)
            who = rng.integers(0, n, k)
            np.maximum.at(until, who, d * DAY + int(days * DAY))

    def colors(self, person: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.where(t < self.red_until[person], RED, np.where(t < self.yellow_until[person], YELLOW, GREEN))

    def temperatures(self, fever: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h = self.p.health
        well = np.clip(rng.normal(h.temperature_well[0], h.temperature_well[1], len(fever)),
                       h.temperature_well[2], h.temperature_well[3])
        hot = np.clip(rng.normal(h.temperature_fever[0], h.temperature_fever[1], len(fever)),
                      h.temperature_fever[2], h.temperature_fever[3])
        return np.round(np.where(fever, hot, well), 1)


def outcomes(rules: Rules, color: np.ndarray, temp: np.ndarray, nat_hours: np.ndarray) -> np.ndarray:
    """The active-scan check: admitted when green, below the fever threshold (or not
    measured) and a negative NAT within the rules' hours."""
    a = rules.active_scan
    ok_temp = np.isnan(temp) | (temp < a.max_temperature_c)
    ok_nat = ~np.isnan(nat_hours) & (np.nan_to_num(nat_hours, nan=1e9) <= a.max_nat_hours)
    return (color == GREEN) & ok_temp & ok_nat
