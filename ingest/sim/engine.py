"""The day loop: one simulated day at a time, vectorised within the day.

Each day: fold the NAT results reported so far; act on positive reports (removal,
admission to the case site); returnees arrive; NAT samples are taken (rounds, fever
clinics, isolation, returnees) and their results decided; people go about their day
(scans, pharmacy purchases); the outbreak is seeded or spreads through the day's
co-presence; the day's cases are traced under the rules and their contacts admitted
the next day (secondary contacts once their close contact's window has closed).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import numpy as np

from geodata.rules import Rules
from ingest.sim.contacts import DayIndex, ScanStore, close_contacts, secondary_contacts
from ingest.sim.health import COLORS, Health, outcomes
from ingest.sim.isolation import CASE, CLOSE, INBOUND, NEVER, SECONDARY, Isolation
from ingest.sim.outbreak import DRUGS, IMPORT, Outbreak
from ingest.sim.params import SimParams
from ingest.sim.returnees import Returnees, plan_returnees
from ingest.sim.routines import Routines, _mixture, calendar
from ingest.sim.world import ACTIVITIES, World
from ingest.sim.writers import FeedWriter, make_ids

__all__ = ["Run"]

DAY = 86_400
_PHARMACY = ACTIVITIES.index("pharmacy")
_CLINIC = ACTIVITIES.index("clinic")
_KINDS = np.array(["active_scan", "venue_checkin"], dtype=object)
_RESULTS = np.array(["negative", "positive"], dtype=object)


class Run:
    """The state of one simulation between days."""

    def __init__(self, world: World, p: SimParams, rules: Rules, days: int, start: date,
                 writers: dict[str, FeedWriter], ss: np.random.SeedSequence) -> None:
        self.world, self.p, self.rules, self.days = world, p, rules, days
        self.writers = writers
        s_health, s_ret, s_days = ss.spawn(3)
        self.day_seeds = s_days.spawn(days)
        pe, sites = world.people, world.sites
        n = pe.n
        self.t_end = days * DAY
        self.window_s = rules.copresence.minutes * 60
        self.eligible_site = np.isin(sites.kind, list(rules.copresence.site_kinds))
        self.cal = calendar(start, days, p)
        self.routines = Routines(world, p, self.cal)
        self.health = Health(world, p, np.random.default_rng(s_health))
        self.outbreak = Outbreak(world, p, self.window_s, self.eligible_site)
        hotels = sites.of("hotel")
        self.iso = Isolation(n, hotels, sites.capacity[hotels].astype(np.int64))
        self.case_site = int(sites.of("case_site")[0])
        offices = sites.of("community_office")
        self.office = np.empty(len(world.communities), dtype=np.int32)
        self.office[sites.community[offices]] = offices
        share = p.routines.active_scan_share.to_dict()
        self.active_share = np.array([share.get(k, share["default"]) for k in sites.kind])
        lat0 = np.deg2rad(sites.lat)
        noise = p.sites.gps_noise_m
        self.dlat = noise / 111_320.0
        self.dlon = noise / (111_320.0 * np.cos(lat0))
        self.store = ScanStore()
        self.rows = {"scans": 0, "nat": 0, "meds": 0}
        self.active_scans = 0
        self.first_pos = np.full(n, NEVER, dtype=np.int64)
        self.pos_report = np.full(n, NEVER, dtype=np.int64)
        self.actioned = np.zeros(n, dtype=bool)
        self.today_cases: list[np.ndarray] = []
        self.close_keys = np.empty(0, dtype=np.int64)
        self.sec_queue: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        self.tests: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = defaultdict(list)
        self.ret: Returnees = plan_returnees(world, p, days, start, np.random.default_rng(s_ret))
        self.iso.add_block(self.ret.person, np.full(len(self.ret.person), -NEVER), self.ret.arrival)
        imp = self.ret.imported
        if imp.any():
            rng = np.random.default_rng(s_ret.spawn(1)[0])
            before = np.round(rng.uniform(1.0, 4.0, int(imp.sum())) * DAY).astype(np.int64)
            k = int(imp.sum())
            self.outbreak.infect(self.ret.person[imp], self.ret.arrival[imp] - before, np.full(k, -1, np.int32),
                                 np.full(k, -1, np.int32), IMPORT, rng)
        self.seeded = np.empty(0, dtype=np.int32)

    # --- helpers ----------------------------------------------------------------------
    def _hours(self, lo_hi: list[float], n: int, rng: np.random.Generator) -> np.ndarray:
        return np.round(rng.uniform(lo_hi[0], lo_hi[1], n) * 3600).astype(np.int64)

    def _schedule_tests(self, person: np.ndarray, site: np.ndarray, adm: np.ndarray, stay: np.ndarray,
                        test_days: list[int], rng: np.random.Generator) -> None:
        for k in test_days:
            t = (adm // DAY + k - 1) * DAY + np.round(rng.uniform(8.0, 10.5, len(person)) * 3600).astype(np.int64)
            t = np.where(t <= adm, adm + np.round(rng.uniform(1.0, 2.0, len(person)) * 3600).astype(np.int64), t)
            for d in np.unique(t // DAY):
                sel = t // DAY == d
                self.tests[int(d)].append((person[sel], site[sel], t[sel], stay[sel]))

    def _admit(self, person: np.ndarray, site: np.ndarray, category: int, adm: np.ndarray, days: float,
               test_days: list[int], rng: np.random.Generator) -> np.ndarray:
        ok = self.iso.admit(person, site, category, adm, days)
        who = person[ok]
        stay = self.iso.last_stay[who]
        self._schedule_tests(who, self.iso.stays["site"][stay], self.iso.stays["adm"][stay], stay, test_days, rng)
        return who

    # --- cases ------------------------------------------------------------------------
    def _action_reports(self, t0: int, t1: int, rng: np.random.Generator) -> None:
        due = np.flatnonzero((self.pos_report >= t0) & (self.pos_report < t1) & ~self.actioned)
        if len(due) == 0:
            return
        rep = self.pos_report[due]
        adm = rep + self._hours(self.p.outbreak.transfer_hours, len(due), rng)
        self.iso.add_block(due, rep, adm)
        self.iso.admit(due, np.full(len(due), self.case_site), CASE, adm, self.rules.isolation.case_days)
        self.actioned[due] = True
        self.today_cases.append(due)

    # --- returnees ----------------------------------------------------------------------
    def _arrivals(self, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r = self.ret
        today = np.flatnonzero(r.arrival // DAY == d)
        if len(today) == 0:
            e = np.empty(0, dtype=np.int64)
            return e.astype(np.int32), e.astype(np.int32), e
        who, t, risk = r.person[today], r.arrival[today], r.risk[today]
        flagged = risk >= 1
        self.health.risk_until[who[flagged]] = t[flagged] + 14 * DAY
        self.health.yellow_until[who[flagged]] = np.maximum(self.health.yellow_until[who[flagged]],
                                                            t[flagged] + 7 * DAY)
        iso_days = self.rules.isolation.inbound_high_risk_central_days
        for level, where in ((2, "hotel"), (1, "home")):
            sel = risk == level
            if not sel.any():
                continue
            adm = t[sel] + self._hours([1.0, 3.0], int(sel.sum()), rng)
            self.iso.add_block(who[sel], t[sel] + 1, adm)
            site = (self.iso.hotel_for(int(sel.sum()), int(adm.min())) if where == "hotel"
                    else self.office[self.world.people.community[who[sel]]])
            self._admit(who[sel], site, INBOUND, adm, iso_days, list(self.p.nat.inbound_days), rng)
        low = risk == 0
        if low.any():
            self._schedule_tests(who[low], self.world.people.nat_site[who[low]], t[low],
                                 np.full(int(low.sum()), -1), list(self.p.nat.returnee_low_days), rng)
        road = r.by_road[today]
        return who[road], r.checkpoint[today][road], t[road]

    # --- NAT ------------------------------------------------------------------------------
    def _nat(self, d: int, clinic: tuple[np.ndarray, np.ndarray, np.ndarray], rng: np.random.Generator) -> None:
        rp, rs, rt = self.health.round_candidates(d, rng)
        free = ~self.iso.blocked(rp, rt)
        parts = [(rp[free], rs[free], rt[free])]
        cp, csite, ct = clinic
        parts.append((cp, csite, ct + self._hours([10 / 60, 40 / 60], len(cp), rng)))
        for person, site, t, stay in self.tests.pop(d, []):
            st = self.iso.stays
            in_stay = stay >= 0
            live = np.ones(len(person), dtype=bool)
            s = stay[in_stay]
            live[in_stay] = (st["adm"][s] <= t[in_stay]) & (t[in_stay] < st["dis"][s])
            live[~in_stay] = ~self.iso.blocked(person[~in_stay], t[~in_stay])
            parts.append((person[live], site[live], t[live]))
        person = np.concatenate([x[0] for x in parts]).astype(np.int32)
        site = np.concatenate([x[1] for x in parts]).astype(np.int32)
        t = np.concatenate([x[2] for x in parts]).astype(np.int64)
        positive = self.outbreak.detectable(person, t) & (rng.random(len(person)) < self.p.nat.sensitivity)
        reported = t + self.health.report_delay(len(person), rng)
        keep = reported <= self.t_end
        order = np.flatnonzero(keep)[np.lexsort((person[keep], t[keep]))]
        person, site, t, reported, positive = person[order], site[order], t[order], reported[order], positive[order]
        self.health.sampled(person, t, ~positive)
        np.minimum.at(self.first_pos, person[positive], t[positive])
        np.minimum.at(self.pos_report, person[positive], reported[positive])
        pe, sites = self.world.people, self.world.sites
        n0 = self.rows["nat"]
        self.writers["nat"].write({
            "sample_id": make_ids("NAT", np.arange(n0, n0 + len(person)), 10),
            "person_ref": pe.ref.take(person),
            "site_code": np.asarray(sites.code, dtype=object)[site],
            "sampled_at": t,
            "reported_at": reported,
            "result": _RESULTS[positive.astype(np.int8)],
        })
        self.rows["nat"] += len(person)

    # --- one day ----------------------------------------------------------------------------
    def step(self, d: int) -> None:
        rng = np.random.default_rng(self.day_seeds[d])
        p, pe, sites = self.p, self.world.people, self.world.sites
        t0, t1 = d * DAY, (d + 1) * DAY
        self.today_cases = []
        self.health.fold(t0)
        self.health.new_flags(d, rng)
        self._action_reports(t0, t1, rng)
        arr_p, arr_site, arr_t = self._arrivals(d, rng)
        cp, ct = self.outbreak.scheduled_clinic(d)
        free = ~self.iso.blocked(cp, ct)
        clinic = (cp[free], pe.usual[cp[free], _CLINIC], ct[free])
        self._nat(d, clinic, rng)
        self._action_reports(t0, t1, rng)
        # daily life
        v = self.routines.day(self.cal[d], rng)
        unwell = v.errand & self.outbreak.unwell(v.person, v.t)
        stay_in = unwell & (rng.random(len(v.person)) > p.routines.symptomatic_outing)
        # pharmacy purchases: the symptomatic and the background
        mp, mt, md = self.outbreak.scheduled_meds(d)
        bg = [self.routines.pick_people(g, int(rng.poisson(p.meds.background[g] * len(self.routines.groups[g]))),
                                         rng) for g in range(4)]
        bp = np.concatenate(bg)
        bt = self.routines.times(_mixture(p.routines.time["pharmacy"], len(bp), rng), d)
        classes = p.meds.background_classes.to_dict()
        w = np.array([classes.get(k, 0.0) for k in DRUGS])
        bd = rng.choice(len(DRUGS), size=len(bp), p=w / w.sum()).astype(np.int8)
        mp, mt, md = np.r_[mp, bp].astype(np.int32), np.r_[mt, bt], np.r_[md, bd]
        ok = ~self.iso.blocked(mp, mt)
        mp, mt, md = mp[ok], mt[ok], md[ok]
        m_site = pe.usual[mp, _PHARMACY]
        m_scan_t = np.maximum(mt - rng.integers(30, 300, len(mp)), d * DAY)
        person = np.r_[v.person[~stay_in], clinic[0], mp].astype(np.int32)
        site = np.r_[v.site[~stay_in], clinic[1], m_site].astype(np.int32)
        t = np.r_[v.t[~stay_in], clinic[2], m_scan_t].astype(np.int64)
        keep = ~self.iso.blocked(person, t)
        person = np.r_[person[keep], arr_p].astype(np.int32)
        site = np.r_[site[keep], arr_site].astype(np.int32)
        t = np.r_[t[keep], arr_t].astype(np.int64)
        order = np.lexsort((site, person, t))
        person, site, t = person[order], site[order], t[order]
        self._write_scans(person, site, t, rng)
        m_order = np.lexsort((mp, mt))
        n0 = self.rows["meds"]
        self.writers["meds"].write({
            "purchase_id": make_ids("MD", np.arange(n0, n0 + len(mp)), 9),
            "person_ref": pe.ref.take(mp[m_order]),
            "pharmacy_code": np.asarray(sites.code, dtype=object)[m_site[m_order]],
            "purchased_at": mt[m_order],
            "drug_class": np.asarray(DRUGS, dtype=object)[md[m_order]],
        })
        self.rows["meds"] += len(mp)
        # the outbreak
        rows = self.rows["scans"] - len(person) + np.arange(len(person))
        elig = self.eligible_site[site]
        index = DayIndex.build(person[elig], site[elig], t[elig], rows[elig])
        self.store.add(index)
        if d == p.outbreak.seed_day:
            self.seeded = self.outbreak.seed(index, rng)
        self.outbreak.transmit(index, rng)
        self._trace(d, rng)

    def _write_scans(self, person: np.ndarray, site: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> None:
        pe, sites = self.world.people, self.world.sites
        n = len(person)
        active = pe.card[person] | (rng.random(n) < self.active_share[site])
        color = self.health.colors(person, t)
        fever = self.outbreak.fever(person, t)
        temp = np.where(active, self.health.temperatures(fever, rng), np.nan)
        nat_h = self.health.nat_hours(person, t)
        risk = t < self.health.risk_until[person]
        admitted = outcomes(self.rules, color, temp, nat_h)
        lon = np.round(sites.lon[site] + rng.normal(0, 1, n) * self.dlon[site], 6)
        lat = np.round(sites.lat[site] + rng.normal(0, 1, n) * self.dlat, 6)
        n0 = self.rows["scans"]
        self.writers["scans"].write({
            "event_id": make_ids("E", np.arange(n0, n0 + n), 11),
            "person_ref": pe.ref.take(person),
            "site_code": np.asarray(sites.code, dtype=object)[site],
            "kind": _KINDS[(~active).astype(np.int8)],
            "scanned_at": t,
            "lon": lon,
            "lat": lat,
            "code_color": np.asarray(COLORS, dtype=object)[color],
            "temperature_c": temp,
            "nat_hours": nat_h,
            "risk_area_visit": risk,
            "outcome": np.array(["denied", "admitted"], dtype=object)[admitted.astype(np.int8)],
        })
        self.rows["scans"] += n
        self.active_scans += int(active.sum())

    # --- tracing -----------------------------------------------------------------------------
    def _trace(self, d: int, rng: np.random.Generator) -> None:
        rules, p = self.rules, self.p
        t1 = (d + 1) * DAY
        adm_h = p.outbreak.contact_admission_hours
        cases = np.concatenate(self.today_cases) if self.today_cases else np.empty(0, dtype=np.int64)
        if len(cases):
            cases = np.sort(cases)
            w_from = self.first_pos[cases] - rules.exposure.days_before_sample * DAY
            w_to = self.iso.first_admission_at_or_after(cases, w_from, self.t_end)
            cl = close_contacts(self.store, cases, w_from, w_to, self.window_s)
            if len(cl.contact):
                first = np.unique(cl.contact, return_index=True)[1]
                who = cl.contact[np.sort(first)]
                who = who[rng.random(len(who)) < p.outbreak.trace_reach]
                adm = t1 + self._hours(adm_h, len(who), rng)
                hotel = self.iso.hotel_for(len(who), t1)
                admitted = self._admit(who, hotel, CLOSE, adm, rules.isolation.close_contact_central_days,
                                       list(p.nat.close_contact_days), rng)
                stay = self.iso.last_stay[admitted]
                home_end = self.iso.stays["dis"][stay] + rules.isolation.close_contact_home_days * DAY
                self.health.yellow_until[admitted] = np.maximum(self.health.yellow_until[admitted], home_end)
                self.close_keys = np.r_[self.close_keys, (cl.case.astype(np.int64) << 32) | cl.contact]
                self.sec_queue.append((d + 1, cl.case, cl.contact, cl.first_exposure))
        due = [q for q in self.sec_queue if q[0] == d]
        self.sec_queue = [q for q in self.sec_queue if q[0] != d]
        for _, case, via, fe in due:
            v_to = self.iso.first_admission_at_or_after(via, fe, self.t_end)
            sec = secondary_contacts(self.store, case, via, fe, v_to, self.close_keys, self.window_s)
            if len(sec.contact) == 0:
                continue
            first = np.unique(sec.contact, return_index=True)[1]
            who = sec.contact[np.sort(first)]
            who = who[rng.random(len(who)) < p.outbreak.trace_reach]
            adm = t1 + self._hours(adm_h, len(who), rng)
            office = self.office[self.world.people.community[who]]
            self._admit(who, office, SECONDARY, adm, rules.isolation.secondary_contact_home_days,
                        list(p.nat.secondary_contact_days), rng)
