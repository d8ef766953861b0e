"""``simulate()``: build the world, run the days, write the feeds and ``truth/``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from geodata.rules import Rules, load_rules
from ingest.sim.engine import Run
from ingest.sim.isolation import CATEGORIES
from ingest.sim.outbreak import NEVER
from ingest.sim.params import SimParams, load_params
from ingest.sim.returnees import PURPOSES, RISKS
from ingest.sim.truth import Stays, write_truth
from ingest.sim.vehicles import simulate_vehicles
from ingest.sim.world import build_world
from ingest.sim.writers import NO_TIME, FeedWriter, make_ids, write_districts

__all__ = ["simulate", "SimSummary", "FEEDS", "Progress"]

DAY = 86_400
#: The feed files a simulation writes, in the contract's order.
FEEDS = ("districts", "sites", "scans", "passes", "crossings", "nat", "isolation", "meds", "returnees")
#: progress(done, total, message): called after the world is built and after each day.
Progress = Callable[[int, int, str], None]


@dataclass
class SimSummary:
    out: Path
    residents: int
    days: int
    seed: int
    start: date
    format: str
    rows: dict[str, int] = field(default_factory=dict)
    scans_per_day: float = 0.0
    scans_per_resident_day: float = 0.0
    active_scans: int = 0
    applications: int = 0
    passes_issued: int = 0
    approval_median_min: float = 0.0
    crossings: int = 0
    enterprise_trucks_per_day: float = 0.0
    infections: int = 0
    cases: int = 0
    close_contacts: int = 0
    secondary_contacts: int = 0
    isolation_stays: int = 0
    hotel_overflow: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (f"simulated {self.residents:,} residents x {self.days} days (seed {self.seed}) in {self.seconds:.1f} s: "
                f"{self.scans_per_day:,.0f} scans/day ({self.scans_per_resident_day:.3f} per resident), "
                f"{self.applications:,} pass applications, {self.passes_issued:,} passes issued "
                f"(median {self.approval_median_min:.1f} min), {self.crossings:,} crossings, "
                f"{self.infections} infections, {self.cases} cases, {self.close_contacts} close and "
                f"{self.secondary_contacts} secondary contacts -> {self.out}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["out"] = str(self.out)
        d["start"] = self.start.isoformat()
        return d


def simulate(residents: int = 100_000, days: int = 54, seed: int = 1, out: Path | str = Path("sim"), *,
             start: date | str = date(2022, 4, 1), fmt: str = "csv", progress: Progress | None = None,
             params: SimParams | None = None, rules: Rules | None = None) -> SimSummary:
    """Simulate the synthetic Longgang and write every feed file plus ``truth/`` to ``out``.

    The same arguments give byte-identical files. ``params`` defaults to
    ``ingest/sim/params.toml``; ``rules`` to :func:`geodata.load_rules`.
    """
    if isinstance(start, str):
        start = date.fromisoformat(start)
    if days < 1:
        msg = f"days must be at least 1, got {days}"
        raise ValueError(msg)
    if fmt not in ("csv", "parquet"):
        msg = f"format must be 'csv' or 'parquet', got {fmt!r}"
        raise ValueError(msg)
    clock = time.perf_counter()
    p = params if params is not None else load_params()
    rules = rules if rules is not None else load_rules()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _clear_outputs(out)
    ss = np.random.SeedSequence(seed)
    s_world, s_run, s_vehicles = ss.spawn(3)
    world = build_world(p, residents, start, np.random.default_rng(s_world))
    epoch0 = (start - date(1970, 1, 1)).days * DAY
    summary = SimSummary(out=out, residents=residents, days=days, seed=seed, start=start, format=fmt)
    write_districts(out)
    summary.rows["districts"] = len(world.communities) + len(world.streets) + 1
    _write_sites(world, out, fmt, epoch0, summary)
    writers = {f: FeedWriter(out, f, fmt, epoch0) for f in ("scans", "nat", "meds")}
    run = Run(world, p, rules, days, start, writers, s_run)
    if progress:
        progress(0, days, "world built")
    for d in range(days):
        run.step(d)
        if progress:
            progress(d + 1, days, f"{start.fromordinal(start.toordinal() + d).isoformat()}: "
                                  f"{run.rows['scans']:,} scans, {int(run.actioned.sum())} cases")
    for f, w in writers.items():
        summary.rows[f] = w.close()
    stays = _write_isolation(run, out, fmt, epoch0, summary)
    _write_returnees(run, out, fmt, epoch0, summary)
    veh = simulate_vehicles(world, p, days, np.random.default_rng(s_vehicles))
    for feed, cols in (("passes", veh.passes), ("crossings", veh.crossings)):
        w = FeedWriter(out, feed, fmt, epoch0)
        w.write(cols)
        summary.rows[feed] = w.close()
    t_end = days * DAY
    first_pos = np.where(run.first_pos < t_end, run.first_pos, NEVER)
    truth = write_truth(out, run.store, run.outbreak, first_pos, stays, world.people.ref, world.sites.code, rules,
                        t_end, epoch0)
    summary.scans_per_day = summary.rows["scans"] / days
    summary.scans_per_resident_day = summary.scans_per_day / residents
    summary.active_scans = run.active_scans
    summary.applications = veh.applications
    summary.passes_issued = veh.issued
    summary.approval_median_min = veh.approval_median_min
    summary.crossings = summary.rows["crossings"]
    summary.enterprise_trucks_per_day = veh.enterprise_trucks_per_day
    summary.infections = truth.infections
    summary.cases = truth.cases
    summary.close_contacts = truth.close_contacts
    summary.secondary_contacts = truth.secondary_contacts
    summary.hotel_overflow = run.iso.overflow
    summary.seconds = time.perf_counter() - clock
    return summary


def _clear_outputs(out: Path) -> None:
    """Remove the files an earlier simulation wrote there (either format), nothing else."""
    names = [f"{f}.{ext}" for f in FEEDS if f != "districts" for ext in ("csv", "parquet")]
    names += ["districts.geojson"] + [f"truth/{n}" for n in ("infections.csv", "contacts.csv", "copresence.csv",
                                                           "README.md")]
    for name in names:
        (out / name).unlink(missing_ok=True)


def _write_sites(world, out: Path, fmt: str, epoch0: int, summary: SimSummary) -> None:  # noqa: ANN001
    s = world.sites
    w = FeedWriter(out, "sites", fmt, epoch0)
    comm_codes = world.communities["code"].to_numpy(dtype=object)
    w.write({"site_code": s.code, "kind": s.kind.astype(object), "name": s.name, "lon": s.lon, "lat": s.lat,
             "district_code": comm_codes[s.community], "capacity": s.capacity})
    summary.rows["sites"] = w.close()


def _write_isolation(run: Run, out: Path, fmt: str, epoch0: int, summary: SimSummary) -> Stays:
    st = run.iso.stays
    t_end = run.t_end
    keep = (st["adm"] < t_end) & (st["dis"] > st["adm"])
    order = np.flatnonzero(keep)[np.lexsort((st["person"][keep], st["adm"][keep]))]
    person, site, cat = st["person"][order], st["site"][order], st["category"][order]
    adm, dis = st["adm"][order], st["dis"][order]
    dis = np.where(dis > t_end, NO_TIME, dis)
    w = FeedWriter(out, "isolation", fmt, epoch0)
    w.write({
        "stay_id": make_ids("ST", np.arange(len(order)), 8),
        "person_ref": run.world.people.ref.take(person),
        "site_code": np.asarray(run.world.sites.code, dtype=object)[site],
        "category": np.asarray(CATEGORIES, dtype=object)[cat],
        "admitted_at": adm,
        "discharged_at": dis,
    })
    summary.rows["isolation"] = w.close()
    summary.isolation_stays = len(order)
    return Stays(person=person, site=site, category=cat, adm=adm, dis=dis)


def _write_returnees(run: Run, out: Path, fmt: str, epoch0: int, summary: SimSummary) -> None:
    r = run.ret
    pe = run.world.people
    comm_codes = run.world.communities["code"].to_numpy(dtype=object)
    w = FeedWriter(out, "returnees", fmt, epoch0)
    w.write({
        "registration_id": make_ids("RG", np.arange(len(r.person)), 8),
        "person_ref": pe.ref.take(r.person),
        "origin_city": np.asarray(r.origin_names, dtype=object)[r.origin],
        "origin_risk": np.asarray(RISKS, dtype=object)[r.risk],
        "arrival_date": r.arrival // DAY,
        "community_code": comm_codes[pe.community[r.person]],
        "purpose": np.asarray(PURPOSES, dtype=object)[r.purpose],
    })
    summary.rows["returnees"] = w.close()
