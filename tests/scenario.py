"""Hand-made scenarios for analytics tests, written straight into a test database.

Times are local (Asia/Shanghai) ``"MM-DD HH:MM"`` strings in 2022. Sites sit at the
representative points of real communities, so every one is inside the district.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import h3
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geodata.privacy import Pseudonymiser

_TZ = ZoneInfo("Asia/Shanghai")


def t(s: str) -> datetime:
    return datetime.strptime(f"2022-{s}", "%Y-%m-%d %H:%M").replace(tzinfo=_TZ)


class World:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pseudo = Pseudonymiser.from_settings()
        self.sites: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._persons: set[str] = set()
        with engine.connect() as conn:
            self._communities = conn.execute(text(
                """SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom))
                   FROM districts WHERE level = 'community' ORDER BY code""")).all()

    def pid(self, ref: str) -> int:
        return self.pseudo.person_id(ref)

    def _person(self, conn, ref: str) -> int:  # noqa: ANN001
        pid = self.pid(ref)
        if ref not in self._persons:
            conn.execute(text("INSERT INTO persons (person_id, ref_encrypted) VALUES (:p, :r) ON CONFLICT DO NOTHING"),
                         {"p": pid, "r": self.pseudo.encrypt(ref)})
            self._persons.add(ref)
        return pid

    def site(self, code: str, kind: str = "venue", community: int = 0, capacity: int | None = None,
             name: str | None = None) -> int:
        ccode, lon, lat = self._communities[community]
        cell = h3.str_to_int(h3.latlng_to_cell(lat, lon, 10))
        with self.engine.begin() as conn:
            sid = conn.execute(text(
                """INSERT INTO sites (site_code, kind, name, lon, lat, geom, h3, district_code, capacity)
                   VALUES (:c, :k, :n, :lon, :lat, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :h3, :d, :cap)
                   RETURNING site_id"""),
                {"c": code, "k": kind, "n": name or f"场所{code}", "lon": lon, "lat": lat, "h3": cell, "d": ccode,
                 "cap": capacity}).scalar_one()
        self.sites[code] = sid
        return sid

    def scan(self, ref: str, site: str, when: str, *, color: str = "green", temp: float | None = 36.5,
             kind: str = "venue_checkin") -> None:
        at = t(when)
        with self.engine.begin() as conn:
            pid = self._person(conn, ref)
            conn.execute(text("SELECT scan_partition(CAST(:d AS date))"), {"d": at.date()})
            conn.execute(text(
                """INSERT INTO scans (event_id, person_id, site_id, kind, scanned_at, lon, lat, h3, code_color,
                                      temperature_c, outcome)
                   SELECT :e, :p, site_id, :k, :t, lon, lat, h3, :c, :temp, 'admitted' FROM sites WHERE site_id = :s"""),
                {"e": f"E{next(self._ids)}", "p": pid, "k": kind, "t": at, "s": self.sites[site], "c": color,
                 "temp": temp})

    def nat(self, ref: str, when: str, result: str = "positive", site: str | None = None) -> None:
        with self.engine.begin() as conn:
            pid = self._person(conn, ref)
            sid = self.sites[site] if site else next(iter(self.sites.values()))
            conn.execute(text(
                """INSERT INTO nat_results (sample_id, person_id, site_id, sampled_at, reported_at, result)
                   VALUES (:i, :p, :s, :t, :t, :r)"""),
                {"i": f"N{next(self._ids)}", "p": pid, "s": sid, "t": t(when), "r": result})

    def isolate(self, ref: str, site: str, when: str, until: str | None = None, category: str = "case") -> None:
        with self.engine.begin() as conn:
            pid = self._person(conn, ref)
            conn.execute(text(
                """INSERT INTO isolation_stays (stay_id, person_id, site_id, category, admitted_at, discharged_at)
                   VALUES (:i, :p, :s, :c, :a, :d)"""),
                {"i": f"I{next(self._ids)}", "p": pid, "s": self.sites[site], "c": category, "a": t(when),
                 "d": t(until) if until else None})

    def community(self, index: int) -> str:
        return self._communities[index][0]

    def returnee(self, ref: str, community: int, arrival: str, risk: str = "high") -> None:
        with self.engine.begin() as conn:
            pid = self._person(conn, ref)
            conn.execute(text(
                """INSERT INTO returnees (registration_id, person_id, origin_city, origin_risk, arrival_date,
                                          community_code, purpose)
                   VALUES (:i, :p, '上海市', :r, :a, :c, 'return_home')"""),
                {"i": f"R{next(self._ids)}", "p": pid, "r": risk, "a": t(f"{arrival} 00:00").date(),
                 "c": self.community(community)})

    def med(self, ref: str, site: str, when: str, drug: str = "antipyretic") -> None:
        with self.engine.begin() as conn:
            pid = self._person(conn, ref)
            conn.execute(text(
                """INSERT INTO med_purchases (purchase_id, person_id, site_id, purchased_at, drug_class, h3)
                   SELECT :i, :p, site_id, :t, :d, h3 FROM sites WHERE site_id = :s"""),
                {"i": f"M{next(self._ids)}", "p": pid, "s": self.sites[site], "t": t(when), "d": drug})
