"""Vehicle passes and checkpoint crossings (车辆出入通行证明).

Drivers apply online by category (emergency supplies, bulk cargo, residents'
vehicles); the industry departments (工信, 交通, 商务) or the resident's street office
decide, with a median near ten minutes and a long tail (reviewers away from the
phone); many first applications are rejected and resubmitted (the seed: 37,516
applications, 17,756 passes). The large non-ferrous metals enterprise runs a fleet
on weekly passes, dozens to a hundred trucks a day. At the checkpoints staff scan the
pass, seal inbound trucks and release them in a few minutes; vehicles without a
valid pass are turned back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.sim.idnum import id_numbers, plates
from ingest.sim.names import ENTERPRISE
from ingest.sim.params import SimParams
from ingest.sim.world import World
from ingest.sim.writers import make_ids

__all__ = ["simulate_vehicles", "VehicleFeeds", "CATEGORIES"]

DAY = 86_400
NO_TIME = np.iinfo(np.int64).min
CATEGORIES = ("emergency_supplies", "bulk_cargo", "resident")
_TRUCK_HOURS = [[0.5, 9.5, 2.5], [0.35, 15.0, 2.5], [0.15, 21.0, 2.0]]
_APPLY_HOURS = [[0.35, 9.5, 1.5], [0.35, 15.0, 2.0], [0.2, 20.0, 1.5], [0.1, 2.5, 2.0]]


@dataclass
class VehicleFeeds:
    passes: dict[str, object]
    crossings: dict[str, object]
    applications: int
    issued: int
    approval_median_min: float
    enterprise_trucks_per_day: float


def _hours(spec: list[list[float]], n: int, rng: np.random.Generator) -> np.ndarray:
    w = np.array([c[0] for c in spec])
    comp = rng.choice(len(spec), n, p=w / w.sum())
    return np.mod(rng.normal(np.array([c[1] for c in spec])[comp], np.array([c[2] for c in spec])[comp]), 24.0)


def _lognormal_s(median: float, sigma: float, n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.lognormal(np.log(median), sigma, n)


def _choice(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    w = np.asarray(weights, float)
    return rng.choice(len(w), size=n, p=w / w.sum())


class _Apps:
    """Columns of applications, appended in batches."""

    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {}

    def add(self, **cols: np.ndarray) -> None:
        for k, v in cols.items():
            self.cols.setdefault(k, []).append(np.asarray(v))

    def get(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) for k, v in self.cols.items()}


def _decide(p: SimParams, applied: np.ndarray, approve_p: np.ndarray, pending_p: float,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(decided_at, decision: 0 approved, 1 rejected, 2 pending)."""
    v = p.vehicles
    n = len(applied)
    minutes = _lognormal_s(v.decision_median_min, v.decision_sigma, n, rng)
    hour = (applied % DAY) / 3600
    minutes = np.where((hour >= 22) | (hour < 7), minutes * v.night_factor, minutes)
    offline = rng.random(n) < v.offline
    minutes = minutes + offline * rng.uniform(*v.offline_hours, n) * 60
    decided = applied + np.round(minutes * 60).astype(np.int64)
    u = rng.random(n)
    decision = np.where(u < approve_p, 0, np.where(u < approve_p + pending_p, 2, 1))
    decided = np.where(decision == 2, NO_TIME, decided)
    return decided, decision


def simulate_vehicles(world: World, p: SimParams, days: int, rng: np.random.Generator) -> VehicleFeeds:
    v = p.vehicles
    sites = world.sites
    pe = world.people
    t_end = days * DAY
    origins = v.origins
    o_names = [o["name"] for o in origins]
    o_region = np.array([int(o["region"]) for o in origins])
    o_plate = [o["plate"] for o in origins]
    o_weight = np.array([o["weight"] for o in origins], float)
    o_ent = np.array([o["enterprise"] for o in origins], float)
    cps = np.flatnonzero(sites.kind == "checkpoint")
    cp_weight = np.array([c["weight"] for c in v.checkpoints], float)
    enterprise_site = int(sites.of("enterprise")[0])
    offices = np.array([f"{s}办事处" for s in world.streets["name_zh"]], dtype=object)

    # --- general applications, in chains -----------------------------------------------
    cats = list(CATEGORIES)
    cat_share = np.array([v.category_shares[c] for c in cats], float)
    r1 = 1.0 - v.first_approve - v.pending
    per_chain = 1.0 + r1 * v.resubmit
    n_chain = int(rng.poisson(v.applications_per_100k_day * pe.n / 100_000 * days / per_chain))
    day = rng.integers(0, days, n_chain)
    applied = day * DAY + np.round(_hours(_APPLY_HOURS, n_chain, rng) * 3600).astype(np.int64)
    cat = _choice(cat_share, n_chain, rng)
    origin = _choice(o_weight, n_chain, rng)
    truck = cat != 2
    # drivers: truck drivers from the origin's region (a pool, so some apply again);
    # residents' cars: a resident adult of the district
    pool = max(1, n_chain // 2)
    pool_origin = _choice(o_weight, pool, rng)
    pool_birth = (np.datetime64("1990-01-01", "D").astype(np.int64)
                  - rng.integers(-8 * 365, 27 * 365, pool))
    pool_ref = id_numbers(o_region[pool_origin], pool_birth, rng.random(pool) < 0.95, rng)
    pool_plate = plates(o_plate, pool_origin, rng)
    pool_pick = rng.integers(0, pool, n_chain)
    adults = np.flatnonzero((pe.age >= 22) & (pe.age <= 70))
    resident = adults[rng.integers(0, len(adults), n_chain)]
    res_plate = plates(["辽P"], np.zeros(n_chain, dtype=np.int64), rng)
    driver = np.where(truck, pool_pick, -1)
    origin = np.where(truck, pool_origin[pool_pick], origin)
    driver_ref = pa.chunked_array([pool_ref.take(pa.array(pool_pick)), pe.ref.take(pa.array(resident))])
    drv = np.where(truck, np.arange(n_chain), n_chain + np.arange(n_chain))
    driver_ref = driver_ref.take(pa.array(drv)).combine_chunks()
    plate = pa.chunked_array([pool_plate.take(pa.array(pool_pick)), res_plate]).take(pa.array(drv)).combine_chunks()
    del driver
    # destinations and the enterprise the vehicle is claimed by
    shops = np.concatenate([sites.of("market"), sites.of("supermarket"), sites.of("pharmacy")])
    works = sites.of("workplace")
    dest = np.full(n_chain, -1)
    em = cat == 0
    dest[em] = shops[rng.integers(0, len(shops), int(em.sum()))]
    bc = cat == 1
    dest[bc] = works[rng.integers(0, len(works), int(bc.sum()))]
    claimed = (cat == 1) | ((cat == 0) & (rng.random(n_chain) < 0.6))
    # reviewers
    dept = np.empty(n_chain, dtype=object)
    for ci, c in enumerate(cats):
        sel = np.flatnonzero(cat == ci)
        opts = v.reviewers[c]
        pick = _choice(np.array([o[1] for o in opts]), len(sel), rng)
        names = np.array([o[0] for o in opts], dtype=object)[pick]
        street = offices[world.community_street[pe.community[resident[sel]]]]
        dept[sel] = np.where(names == "street", street, names)
    decided, decision = _decide(p, applied, np.full(n_chain, v.first_approve), v.pending, rng)
    apps = _Apps()
    chain = np.arange(n_chain)
    apps.add(chain=chain, applied=applied, decided=decided, decision=decision)
    again = np.flatnonzero((decision == 1) & (rng.random(n_chain) < v.resubmit))
    applied2 = decided[again] + np.round(rng.uniform(*v.resubmit_hours, len(again)) * 3600).astype(np.int64)
    d2, dec2 = _decide(p, applied2, np.full(len(again), v.second_approve), 0.0, rng)
    apps.add(chain=again, applied=applied2, decided=d2, decision=dec2)
    a = apps.get()
    ch = a["chain"]
    n_general = len(ch)

    # --- the enterprise's fleet on weekly passes ---------------------------------------
    fleet = int(v.enterprise_fleet)
    f_origin = _choice(o_ent, fleet, rng)
    f_birth = np.datetime64("1985-01-01", "D").astype(np.int64) - rng.integers(-10 * 365, 20 * 365, fleet)
    f_ref = id_numbers(o_region[f_origin], f_birth, rng.random(fleet) < 0.97, rng)
    f_plate = plates(o_plate, f_origin, rng)
    valid_s = int(v.enterprise_valid_days * DAY)
    f_truck, f_applied = [], []
    first = np.round(rng.uniform(0, 1.5, fleet) * DAY).astype(np.int64)  # in the first day and a half
    for k in range(fleet):
        t = int(first[k])
        while t < t_end:
            f_truck.append(k)
            f_applied.append(t)
            t += valid_s - int(rng.uniform(2, 20) * 3600)
    f_truck = np.array(f_truck, dtype=np.int64)
    f_applied = np.array(f_applied, dtype=np.int64)
    f_decided, f_decision = _decide(p, f_applied, np.full(len(f_truck), 0.97), 0.0, rng)
    f_decision = np.where(f_decided == NO_TIME, 2, f_decision)

    # --- all applications ---------------------------------------------------------------
    n_all = n_general + len(f_truck)
    is_f = np.r_[np.zeros(n_general, bool), np.ones(len(f_truck), bool)]
    app_applied = np.r_[a["applied"], f_applied]
    app_decided = np.r_[a["decided"], f_decided]
    app_decision = np.r_[a["decision"], f_decision]
    app_cat = np.r_[cat[ch], np.ones(len(f_truck), dtype=np.int64)]  # the fleet: bulk cargo
    undecided_yet = (app_decided != NO_TIME) & (app_decided > t_end)
    app_decision = np.where(undecided_yet, 2, app_decision)
    app_decided = np.where(app_decision == 2, NO_TIME, app_decided)
    keep = app_applied < t_end
    valid_days = np.array([v.valid_days[c] for c in cats]) * DAY
    app_from = np.where(app_decision == 0, app_decided, NO_TIME)
    app_to = np.where(app_decision == 0, app_decided + np.where(is_f, valid_s, valid_days[app_cat]), NO_TIME)
    order = np.flatnonzero(keep)[np.argsort(app_applied[keep], kind="stable")]
    rank = np.empty(n_all, dtype=np.int64)
    rank[order] = np.arange(len(order))
    src = np.where(is_f, n_chain + np.r_[np.zeros(n_general, np.int64), f_truck], np.r_[ch, np.zeros(len(f_truck),
                                                                                                      np.int64)])
    all_ref = pa.chunked_array([driver_ref, f_ref]).combine_chunks()
    all_plate = pa.chunked_array([plate, f_plate]).combine_chunks()
    ent_names = np.array([sites.name[d] if d >= 0 else None for d in dest], dtype=object)
    enterprise = np.r_[np.where(claimed, ent_names, None)[ch], np.full(len(f_truck), ENTERPRISE, dtype=object)]
    dest_all = np.r_[dest[ch], np.full(len(f_truck), enterprise_site)]
    dept_all = np.r_[dept[ch], np.full(len(f_truck), "龙港区工信局", dtype=object)]
    origin_all = np.r_[origin[ch], f_origin[f_truck]]
    site_codes = np.array(sites.code, dtype=object)
    sel = order
    passes = {
        "pass_id": make_ids("TX", np.arange(len(sel)), 8),
        "plate": all_plate.take(pa.array(src[sel])),
        "driver_ref": all_ref.take(pa.array(src[sel])),
        "category": np.array(cats, dtype=object)[app_cat[sel]],
        "enterprise": enterprise[sel],
        "origin_city": np.array(o_names, dtype=object)[origin_all[sel]],
        "destination_site_code": np.where(dest_all[sel] >= 0, site_codes[np.maximum(dest_all[sel], 0)], None),
        "applied_at": app_applied[sel],
        "reviewer_dept": dept_all[sel],
        "decided_at": app_decided[sel],
        "decision": np.array(["approved", "rejected", "pending"], dtype=object)[app_decision[sel]],
        "valid_from": app_from[sel],
        "valid_to": app_to[sel],
    }

    # --- trips and crossings ------------------------------------------------------------------
    trips_p, trips_in, trips_out, trips_cp, trips_truck = [], [], [], [], []
    ok = np.flatnonzero(keep & (app_decision == 0) & ~is_f)
    trip_mean = np.array([v.trips[c] for c in cats])
    n_trips = np.maximum(1, rng.poisson(trip_mean[app_cat[ok]]))
    tp = np.repeat(ok, n_trips)
    c_tp = app_cat[tp]
    truck_t = c_tp != 2
    stay = np.round(rng.uniform(*v.truck_stay_hours, len(tp)) * 3600).astype(np.int64)
    away = np.round(rng.uniform(*v.resident_away_hours, len(tp)) * 3600).astype(np.int64)
    round_trip = ~truck_t & (rng.random(len(tp)) < v.resident_round_trip)
    # the whole trip within the pass's validity: trucks in, then out after their stay;
    # residents out and back in, or just back in; several trips on one pass one after
    # the other (trip k in the k-th slice of the validity)
    k = np.arange(len(tp)) - np.repeat(np.cumsum(n_trips) - n_trips, n_trips)
    n_of = np.repeat(n_trips, n_trips)
    slot = (app_to[tp] - app_from[tp]) // n_of
    start = app_from[tp] + k * slot
    span = np.minimum(np.where(truck_t, stay, np.where(round_trip, away, 0)), slot * 4 // 5)
    first_t = start + np.round(rng.random(len(tp)) * np.maximum(slot - span, 1)).astype(np.int64)
    second_t = np.where(truck_t | round_trip, first_t + span, NO_TIME)
    cp = cps[_choice(cp_weight, len(tp), rng)]
    trips_p += [tp]
    trips_in += [np.where(round_trip, second_t, first_t)]
    trips_out += [np.where(truck_t, second_t, np.where(round_trip, first_t, NO_TIME))]
    trips_cp += [cp]
    trips_truck += [truck_t]
    # the fleet: each truck crosses in on a day with trip_prob while its pass is valid
    f_ok = np.flatnonzero(keep & (app_decision == 0) & is_f)
    grid_t = (np.arange(days)[None, :] * DAY)
    for_truck = f_truck[f_ok - n_general]
    f_from, f_to = app_from[f_ok], app_to[f_ok]
    hours = np.round(_hours(_TRUCK_HOURS, fleet * days, rng).reshape(fleet, days) * 3600).astype(np.int64)
    go = rng.random((fleet, days)) < v.enterprise_trip_prob
    t_grid = grid_t + hours
    cand_truck, cand_day = np.nonzero(go)
    cand_t = t_grid[cand_truck, cand_day]
    # the pass valid at that time (latest decided before it)
    key = for_truck * (np.int64(1) << 40) + f_from
    korder = np.argsort(key)
    i = np.searchsorted(key[korder], cand_truck * (np.int64(1) << 40) + cand_t, side="right") - 1
    has = i >= 0
    has[has] &= for_truck[korder][i[has]] == cand_truck[has]
    j = np.where(has, korder[np.maximum(i, 0)], 0)
    valid = has & (cand_t < f_to[j])
    fp = f_ok[j[valid]]
    f_tin = cand_t[valid]
    f_stay = np.round(rng.uniform(*v.truck_stay_hours, len(fp)) * 3600).astype(np.int64)
    f_stay = np.maximum(60, np.minimum(f_stay, app_to[fp] - f_tin - 60))  # out before the pass expires
    jingha = cps[0]
    f_cp = np.where(rng.random(len(fp)) < 0.8, jingha, cps[_choice(cp_weight, len(fp), rng)])
    trips_p += [fp]
    trips_in += [f_tin]
    trips_out += [f_tin + f_stay]
    trips_cp += [f_cp]
    trips_truck += [np.ones(len(fp), bool)]
    ent_per_day = len(fp) / days
    tp = np.concatenate(trips_p)
    tin, tout = np.concatenate(trips_in), np.concatenate(trips_out)
    tcp, ttruck = np.concatenate(trips_cp), np.concatenate(trips_truck)
    proc = v.processing
    sig = proc["sigma"]
    # crossing rows: released ins and outs
    rows_pass = np.r_[tp, tp]
    rows_t = np.r_[tin, tout]
    rows_dir = np.r_[np.zeros(len(tp), np.int8), np.ones(len(tp), np.int8)]
    rows_cp = np.r_[tcp, tcp]
    rows_truck = np.r_[ttruck, ttruck]
    there = (rows_t != NO_TIME) & (rows_t >= 0) & (rows_t < t_end)
    rows_pass, rows_t, rows_dir, rows_cp, rows_truck = (x[there] for x in (rows_pass, rows_t, rows_dir, rows_cp,
                                                                           rows_truck))
    median = np.where(rows_dir == 1, proc["out"], np.where(rows_truck, proc["truck_in"], proc["car_in"]))
    rows_proc = np.round(median * rng.lognormal(0, sig, len(rows_t)))
    rows_verified = np.ones(len(rows_t), bool)
    rows_sealed = rows_truck & (rows_dir == 0)
    rows_out = np.zeros(len(rows_t), np.int8)
    # turned back: arrivals without a pass, and with an expired one
    n_in = int((rows_dir == 0).sum())
    n_np = int(rng.poisson(v.no_pass_per_100 / 100 * n_in))
    np_t = rng.integers(0, t_end, n_np)
    np_cp = cps[_choice(cp_weight, n_np, rng)]
    np_origin = _choice(o_weight, n_np, rng)
    np_plate = plates(o_plate, np_origin, rng)
    exp_src = ok[rng.integers(0, len(ok), int(rng.poisson(v.expired_per_100 / 100 * n_in)))] if len(ok) else ok
    exp_t = app_to[exp_src] + np.round(rng.uniform(1, 48, len(exp_src)) * 3600).astype(np.int64)
    in_period = exp_t < t_end
    exp_src, exp_t = exp_src[in_period], exp_t[in_period]
    exp_cp = cps[_choice(cp_weight, len(exp_src), rng)]
    tb_n = n_np + len(exp_src)
    all_pass = np.r_[rows_pass, np.full(n_np, -1), exp_src]
    all_t = np.r_[rows_t, np_t, exp_t]
    all_dir = np.r_[rows_dir, np.zeros(tb_n, np.int8)]
    all_cp = np.r_[rows_cp, np_cp, exp_cp]
    all_proc = np.r_[rows_proc, np.round(proc["turned_back"] * rng.lognormal(0, sig, tb_n))]
    all_ver = np.r_[rows_verified, np.zeros(tb_n, bool)]
    all_seal = np.r_[rows_sealed, np.zeros(tb_n, bool)]
    all_out = np.r_[rows_out, np.ones(tb_n, np.int8)]
    plate_src = pa.chunked_array([all_plate.take(pa.array(src[np.maximum(rows_pass, 0)])), np_plate,
                                  all_plate.take(pa.array(src[exp_src]))]).combine_chunks()
    corder = np.lexsort((all_cp, all_t))
    pass_code = np.where(all_pass >= 0, rank[np.maximum(all_pass, 0)], -1)
    pc_sorted = pass_code[corder]
    pass_ids = pc.if_else(pa.array(pc_sorted < 0), pa.scalar(None, pa.string()),
                          make_ids("TX", np.maximum(pc_sorted, 0), 8))
    cp_codes = np.array(sites.code, dtype=object)[all_cp[corder]]
    crossings = {
        "crossing_id": make_ids("CX", np.arange(len(corder)), 9),
        "pass_id": pass_ids,
        "plate": plate_src.take(pa.array(corder)),
        "checkpoint_code": cp_codes,
        "direction": np.array(["in", "out"], dtype=object)[all_dir[corder]],
        "crossed_at": all_t[corder],
        "verified": all_ver[corder],
        "sealed": all_seal[corder],
        "processing_s": all_proc[corder].astype(float),
        "outcome": np.array(["released", "turned_back"], dtype=object)[all_out[corder]],
    }
    approved = app_decision[sel] == 0
    minutes = (app_decided[sel][approved] - app_applied[sel][approved]) / 60.0
    return VehicleFeeds(passes=passes, crossings=crossings, applications=len(sel), issued=int(approved.sum()),
                        approval_median_min=float(np.median(minutes)) if len(minutes) else float("nan"),
                        enterprise_trucks_per_day=ent_per_day)
