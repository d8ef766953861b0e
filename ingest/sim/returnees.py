"""Registrations of residents returning from other cities (探亲出差返乡登记).

Returnees are residents who were away until their arrival (they make no scans
before it). The origin's risk level on the arrival date decides what follows
(protocol 9): high -> central isolation in a hotel, medium -> home isolation managed
by the community, both for ``rules.isolation.inbound_high_risk_central_days`` days;
low -> two NAT tests in three days. A few from medium- and high-risk areas bring
the infection with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from ingest.sim.params import SimParams
from ingest.sim.world import World

__all__ = ["Returnees", "plan_returnees", "RISKS", "PURPOSES"]

DAY = 86_400
RISKS = ("low", "medium", "high")
PURPOSES = ("family_visit", "business", "return_home")


@dataclass
class Returnees:
    person: np.ndarray      # int32, distinct
    arrival: np.ndarray     # int64 seconds since the period start
    origin: np.ndarray      # index into params returnees.origins
    risk: np.ndarray        # int8 index into RISKS
    purpose: np.ndarray     # int8 index into PURPOSES
    by_road: np.ndarray     # bool: scanned at a checkpoint on arrival
    checkpoint: np.ndarray  # int32 site index (when by road)
    imported: np.ndarray    # bool: infected before arrival
    origin_names: list[str]


def _risk_on(origin: dict, day: date) -> int:
    for lo, hi, level in origin["risk"]:
        if date.fromisoformat(lo) <= day <= date.fromisoformat(hi):
            return RISKS.index(level)
    return 0


def plan_returnees(world: World, p: SimParams, days: int, start: date, rng: np.random.Generator) -> Returnees:
    r = p.returnees
    pe = world.people
    eligible = np.flatnonzero((pe.age >= 18) & (pe.age <= 75))
    n = min(len(eligible) // 4, int(rng.poisson(r.per_100k_day * pe.n / 100_000 * days)))
    person = np.sort(rng.choice(eligible, size=n, replace=False)).astype(np.int32)
    day = rng.integers(0, days, n)
    hour = np.clip(np.where(rng.random(n) < 0.5, rng.normal(11, 2.5, n), rng.normal(17.5, 2.5, n)), 6.0, 22.0)
    arrival = day * DAY + np.round(hour * 3600).astype(np.int64)
    origins = r.origins
    w = np.array([o["weight"] for o in origins], float)
    origin = rng.choice(len(origins), size=n, p=w / w.sum())
    table = np.array([[_risk_on(o, start + timedelta(days=d)) for d in range(days)] for o in origins], dtype=np.int8)
    risk = table[origin, day] if n else np.empty(0, dtype=np.int8)
    shares = r.purposes.to_dict()
    pw = np.array([shares[k] for k in PURPOSES], float)
    purpose = rng.choice(len(PURPOSES), size=n, p=pw / pw.sum()).astype(np.int8)
    by_road = rng.random(n) < r.by_road
    cps = np.flatnonzero(world.sites.kind == "checkpoint")
    cw = np.array([c["weight"] for c in p.vehicles.checkpoints], float)
    checkpoint = cps[rng.choice(len(cps), size=n, p=cw / cw.sum())].astype(np.int32)
    imp_p = r.import_prob.to_dict()
    imported = rng.random(n) < np.array([imp_p[k] for k in RISKS])[risk]
    order = np.lexsort((person, arrival))
    return Returnees(person=person[order], arrival=arrival[order], origin=origin[order], risk=risk[order],
                     purpose=purpose[order], by_road=by_road[order], checkpoint=checkpoint[order],
                     imported=imported[order], origin_names=[o["name"] for o in origins])
