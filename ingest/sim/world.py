"""The synthetic Longgang: its sites and its residents (built once per simulation).

Residents live in households in the communities of :func:`geodata.geography.districts`
(households per community in proportion to its population), with ages, sex,
identity numbers, printed QR cards for the "one old, one young", schools, employers,
usual sites for each kind of errand, and their habits (how often they go out, how
faithfully they join the NAT rounds, at what hour). Sites are placed at random
inside their community (checkpoints on the district's land border).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import geopandas as gpd
import numpy as np
import pyarrow as pa
import shapely
from shapely.ops import nearest_points, unary_union

from geodata.geography import DISTRICT_CODE, district_outline, districts, huludao
from ingest.sim.idnum import id_numbers
from ingest.sim.names import ENTERPRISE, SiteNamer
from ingest.sim.params import SimParams

__all__ = ["World", "Sites", "People", "build_world", "SUBKINDS", "KIND_OF", "ACTIVITIES"]

#: Internal site types and the contract's site kind of each.
KIND_OF: dict[str, str] = {
    "checkpoint": "checkpoint", "market": "venue", "supermarket": "venue", "restaurant": "venue",
    "bathhouse": "venue", "workplace": "venue", "enterprise": "venue", "primary": "school",
    "middle": "school", "high": "school", "vocational": "school", "pharmacy": "pharmacy",
    "hotel": "isolation_site", "case_site": "isolation_site", "nat_site": "nat_site",
    "clinic": "clinic", "community_office": "community_office",
}
SUBKINDS: tuple[str, ...] = tuple(KIND_OF)
SUB = {s: i for i, s in enumerate(SUBKINDS)}
#: Discretionary errands, each to a site of the type of the same name.
ACTIVITIES: tuple[str, ...] = ("market", "supermarket", "restaurant", "bathhouse", "clinic", "pharmacy",
                               "community_office")
_SCHOOL_TYPES = ("primary", "middle", "high", "vocational")
_PREFIX = {"checkpoint": "CP", "venue": "VN", "school": "SC", "pharmacy": "PH", "isolation_site": "IS",
           "nat_site": "NA", "clinic": "CL", "community_office": "CO"}
DAY = 86_400


@dataclass
class Sites:
    code: list[str]
    sub: np.ndarray          # int8 index into SUBKINDS
    kind: np.ndarray         # contract kind (str)
    name: list[str]
    lon: np.ndarray
    lat: np.ndarray
    community: np.ndarray    # int32 index into World.communities
    capacity: np.ndarray     # int32, -1 = none
    attraction: np.ndarray   # float64

    def __len__(self) -> int:
        return len(self.code)

    def of(self, sub: str) -> np.ndarray:
        """Indices of the sites of one internal type."""
        return np.flatnonzero(self.sub == SUB[sub])


@dataclass
class People:
    n: int
    ref: pa.StringArray      # identity numbers
    age: np.ndarray          # int16
    male: np.ndarray         # bool
    group: np.ndarray        # int8: 0 child, 1 student, 2 adult, 3 elderly
    community: np.ndarray    # int32
    household: np.ndarray    # int32 (people are ordered by household)
    hh_start: np.ndarray     # int64 offsets, len = households + 1
    card: np.ndarray         # bool: printed QR card, scanned by staff
    activity: np.ndarray     # float64, mean 1 per group
    nat_p: np.ndarray        # float32: probability to join a NAT round
    nat_hour: np.ndarray     # float32: usual sampling hour
    nat_site: np.ndarray     # int32 site index
    school: np.ndarray       # int32 site index or -1
    grade: np.ndarray        # int8: 1..12, 0 = none, 20 = vocational
    work: np.ndarray         # int32 site index or -1
    work_hour: np.ndarray    # float32 (n, 2): usual arrival [mean hour, sd] at work
    work_daily: np.ndarray   # bool: works every day (shops), not only on working days
    usual: np.ndarray        # int32 (n, len(ACTIVITIES)): usual site per errand


@dataclass
class World:
    communities: gpd.GeoDataFrame   # the 64 communities, in code order
    community_street: np.ndarray    # int32 street index per community
    streets: gpd.GeoDataFrame
    sites: Sites
    people: People
    start: date


# --- geometry helpers -----------------------------------------------------------
def _points_in(geom, n: int, rng: np.random.Generator) -> np.ndarray:  # noqa: ANN001
    """``n`` uniform random points inside ``geom`` (rejection sampling)."""
    if n == 0:
        return np.empty((0, 2))
    minx, miny, maxx, maxy = geom.bounds
    shapely.prepare(geom)
    out: list[np.ndarray] = []
    got = 0
    while got < n:
        cand = rng.uniform((minx, miny), (maxx, maxy), size=(max(16, 3 * (n - got)), 2))
        cand = cand[shapely.contains_xy(geom, cand[:, 0], cand[:, 1])]
        out.append(cand)
        got += len(cand)
    return np.concatenate(out)[:n]


def _land_border():  # noqa: ANN202
    outline = district_outline()
    h = huludao()
    others = h[(h["adcode"] != DISTRICT_CODE) & (h["level"] != "city")]
    return outline, outline.boundary.intersection(unary_union(list(others.geometry)).buffer(0.002))


def _checkpoint_points(near: list[list[float]]) -> np.ndarray:
    """Reference points snapped onto the district's land border, moved ~150 m inside."""
    outline, border = _land_border()
    centre = np.array(outline.centroid.coords[0])
    pts = []
    for lon, lat in near:
        on = np.array(nearest_points(border, shapely.Point(lon, lat))[0].coords[0])
        step = 0.0018
        best = None
        for ang in np.linspace(0, 2 * np.pi, 24, endpoint=False):
            cand = on + step * np.array([np.cos(ang), np.sin(ang)])
            if outline.contains(shapely.Point(*cand)):
                score = np.hypot(*(cand - centre))
                if best is None or score < best[0]:
                    best = (score, cand)
        pts.append(best[1] if best is not None else on)
    return np.round(np.array(pts), 6)


# --- sites ----------------------------------------------------------------------
def _build_sites(p: SimParams, n_res: int, comms: gpd.GeoDataFrame, comm_street: np.ndarray,
                 rng: np.random.Generator) -> Sites:
    pop = comms["population"].to_numpy(float)
    share = pop / pop.sum()
    n_comm = len(comms)
    per10k = p.sites.per_10k
    mins = p.sites.min
    namer = SiteNamer(rng)
    rows: list[tuple[str, int, float, float, int]] = []  # (sub, community, lon, lat, capacity)

    def place(sub: str, counts: np.ndarray, capacity: np.ndarray | None = None) -> None:
        k = 0
        for c in range(n_comm):
            if counts[c] == 0:
                continue
            pts = _points_in(comms.geometry.iloc[c], int(counts[c]), rng)
            for x, y in pts:
                cap = -1 if capacity is None else int(capacity[k])
                rows.append((sub, c, float(x), float(y), cap))
                k += 1

    def total(sub: str) -> int:
        return max(int(mins[sub]), int(round(per10k[sub] * n_res / 10_000)))

    core = np.array([120.862, 40.712])
    cent = np.array([g.representative_point().coords[0] for g in comms.geometry])
    central = int(np.argmin(np.hypot(*(cent - core).T)))
    # the flagship middle school (市实验中学) first, in the most central community
    for sub in ("primary", "middle", "high", "vocational", "workplace", "market", "supermarket", "restaurant",
                "bathhouse", "clinic", "pharmacy"):
        t = total(sub)
        if sub == "middle":  # one of them, the flagship, in the most central community
            counts = rng.multinomial(t - 1, share)
            counts[central] += 1
        else:
            counts = rng.multinomial(t, share)
        place(sub, counts)
        if sub == "middle":  # the flagship comes first among the middle schools
            mids = [i for i, r in enumerate(rows) if r[0] == "middle"]
            first_central = next(i for i in mids if rows[i][1] == central)
            rows[mids[0]], rows[first_central] = rows[first_central], rows[mids[0]]
    # the enterprise: in the zinc-plant community (锌厂社区) if there is one
    zh = comms["name_zh"].tolist()
    ent_c = zh.index("锌厂社区") if "锌厂社区" in zh else int(np.argmax(pop))
    # one site per gate, around the plant's centre (东门 east, 西门 west, 南门 south, 北门 north)
    cx, cy = _points_in(comms.geometry.iloc[ent_c], 1, rng)[0]
    compass = {"东": (1, 0), "西": (-1, 0), "南": (0, -1), "北": (0, 1)}
    for gate in p.work.enterprise_gates:
        dx, dy = compass.get(gate[:1], (0, 0))
        rows.append(("enterprise", ent_c, float(cx + 0.004 * dx), float(cy + 0.003 * dy), -1))
    # one community office per community; NAT sites: at least one per community
    place("community_office", np.ones(n_comm, dtype=int))
    extra = max(0, total("nat_site") - n_comm)
    place("nat_site", 1 + rng.multinomial(extra, share))
    # isolation hotels and the case site
    beds = max(p.sites.hotel_beds[0], int(round(p.sites.hotel_beds_per_10k * n_res / 10_000)))
    lo, hi = p.sites.hotel_beds
    caps: list[int] = []
    while sum(caps) < beds:
        caps.append(int(rng.integers(lo // 10, hi // 10 + 1)) * 10)
    place("hotel", rng.multinomial(len(caps), share), np.array(caps))
    case_beds = max(50, int(round(p.sites.case_site_beds_per_10k * n_res / 10_000 / 10)) * 10)
    place("case_site", np.eye(n_comm, dtype=int)[int(rng.choice(n_comm, p=share))], np.array([case_beds]))
    # checkpoints on the land border
    cps = p.vehicles.checkpoints
    cp_xy = _checkpoint_points([c["near"] for c in cps])
    cp_comm = np.full(len(cps), -1)
    for c in range(n_comm):
        inside = shapely.contains_xy(comms.geometry.iloc[c], cp_xy[:, 0], cp_xy[:, 1])
        cp_comm[inside & (cp_comm < 0)] = c
    if (cp_comm < 0).any():  # on a community's edge: the nearest community
        for i in np.flatnonzero(cp_comm < 0):
            cp_comm[i] = int(np.argmin(comms.geometry.distance(shapely.Point(*cp_xy[i]))))

    sub_arr = [r[0] for r in rows]
    order = np.argsort(np.array([SUB[s] for s in sub_arr]), kind="stable")
    rows = [rows[i] for i in order]
    subs = [r[0] for r in rows] + ["checkpoint"] * len(cps)
    comm_idx = np.array([r[1] for r in rows] + list(cp_comm), dtype=np.int32)
    lon = np.round(np.array([r[2] for r in rows] + list(cp_xy[:, 0])), 6)
    lat = np.round(np.array([r[3] for r in rows] + list(cp_xy[:, 1])), 6)
    cap = np.array([r[4] for r in rows] + [-1] * len(cps), dtype=np.int32)
    names: list[str] = []
    seen: dict[tuple[str, int], int] = {}
    seen_sub: dict[str, int] = {}
    for s, c in zip(subs[: len(rows)], comm_idx[: len(rows)], strict=True):
        seen[(s, c)] = seen.get((s, c), 0) + 1
        seen_sub[s] = seen_sub.get(s, 0) + 1
        index = seen[(s, c)] if s == "nat_site" else seen_sub[s]
        names.append(namer.name(s, zh[c], index) if s != "enterprise"
                     else ENTERPRISE + p.work.enterprise_gates[index - 1])
    names += [c["name"] for c in cps]
    kinds = np.array([KIND_OF[s] for s in subs])
    counters: dict[str, int] = {}
    codes = []
    for k in kinds:
        counters[k] = counters.get(k, 0) + 1
        codes.append(f"LG{_PREFIX[k]}{counters[k]:05d}")
    attraction = rng.lognormal(0.0, p.sites.attraction_sigma, size=len(subs))
    sub_idx = np.array([SUB[s] for s in subs], dtype=np.int8)
    middle = np.flatnonzero(sub_idx == SUB["middle"])
    attraction[middle[0]] = p.schools.flagship_weight * np.median(attraction[middle])
    return Sites(code=codes, sub=sub_idx, kind=kinds, name=names, lon=lon, lat=lat, community=comm_idx,
                 capacity=cap, attraction=attraction)


# --- people ---------------------------------------------------------------------
# household templates: roles per member (see _ages); three_generation has 1 or 2 grandparents
_TEMPLATES: tuple[tuple[int, ...], ...] = (
    (6,), (7,), (8, 9), (0, 1), (0, 1, 2), (0, 1, 2, 3), (0, 1, 2, 4, 5), (0, 2),
)


def _households(n: int, p: SimParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(household type per person, role per person, household index per person)."""
    shares = np.asarray(p.population.household_shares, float)
    shares = shares / shares.sum()
    sizes = np.array([len(t) for t in _TEMPLATES], float)
    sizes[6] = 4.5
    n_hh = int(np.ceil(n / float(shares @ sizes) * 1.05)) + 8
    htype = rng.choice(len(_TEMPLATES), size=n_hh, p=shares)
    hsize = np.array([len(t) for t in _TEMPLATES])[htype]
    hsize[htype == 6] -= (rng.random(int((htype == 6).sum())) < 0.5).astype(int)  # 4 or 5 members
    cum = np.cumsum(hsize)
    keep = int(np.searchsorted(cum, n)) + 1
    htype, hsize = htype[:keep], hsize[:keep]
    person_hh = np.repeat(np.arange(keep), hsize)[:n]
    starts = np.concatenate([[0], np.cumsum(hsize)[:-1]])
    pos = np.arange(len(person_hh)) - starts[person_hh]
    roles_table = np.full((len(_TEMPLATES), 5), -1)
    for i, t in enumerate(_TEMPLATES):
        roles_table[i, : len(t)] = t
    role = roles_table[htype[person_hh], pos]
    return htype[person_hh], role, person_hh


def _ages(htype: np.ndarray, role: np.ndarray, hh: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ages from household roles: 0 parent, 1 partner, 2-3 children, 4-5 grandparents,
    6 single adult, 7 single elderly, 8-9 elderly couple."""
    n_hh = int(hh.max()) + 1
    htype_hh = np.zeros(n_hh, dtype=int)
    htype_hh[hh] = htype
    gap1 = rng.uniform(23, 35, n_hh)
    gap2 = rng.uniform(1, 8, n_hh)
    child1 = 28 * rng.beta(1.3, 1.0, n_hh)  # the eldest child at home (low fertility: fewer small ones)
    family = child1 + gap1
    couple = rng.uniform(22, 59, n_hh)       # couples without children at home
    p_age = np.where(htype_hh == 3, couple, family)
    single = rng.uniform(20, 59, n_hh)
    elder = 60 + 30 * rng.beta(1.4, 2.6, n_hh)
    partner_d = rng.normal(0, 2.5, n_hh)
    gp_gap = rng.uniform(23, 32, n_hh)
    gp2_d = rng.normal(0, 2.5, n_hh)
    h = hh
    a = np.select(
        [role == 0, role == 1, role == 2, role == 3, role == 4, role == 5, role == 6, role == 7, role == 8, role == 9],
        [p_age[h], p_age[h] + partner_d[h], child1[h], np.where(child1[h] >= gap2[h], child1[h] - gap2[h], child1[h] + gap2[h]),
         p_age[h] + gp_gap[h], p_age[h] + gp_gap[h] + gp2_d[h], single[h], elder[h],
         elder[h], elder[h] + partner_d[h]],
        30.0,
    )
    return np.clip(np.floor(a), 0, 99).astype(np.int16)


def _choose_weighted(cands: np.ndarray, weights: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    cum = np.cumsum(weights)
    return cands[np.minimum(np.searchsorted(cum, rng.random(size) * cum[-1], side="right"), len(cands) - 1)]


def _local_choice(sites: Sites, cand_all: np.ndarray, person_comm: np.ndarray, comm_street: np.ndarray,
                  rng: np.random.Generator, own_weight: float = 4.0) -> np.ndarray:
    """For each person a site among ``cand_all``: in their street (own community
    weighted ``own_weight``), else anywhere, by attraction."""
    out = np.full(len(person_comm), -1, dtype=np.int32)
    if len(cand_all) == 0:
        return out
    site_street = comm_street[sites.community[cand_all]]
    for c in np.unique(person_comm):
        who = np.flatnonzero(person_comm == c)
        local = cand_all[site_street == comm_street[c]]
        cands = local if len(local) else cand_all
        w = sites.attraction[cands] * np.where(sites.community[cands] == c, own_weight, 1.0)
        out[who] = _choose_weighted(cands, w, len(who), rng)
    return out


def _build_people(p: SimParams, n: int, comms: gpd.GeoDataFrame, comm_street: np.ndarray, sites: Sites,
                  start: date, rng: np.random.Generator) -> People:
    htype, role, hh = _households(n, p, rng)
    age = _ages(htype, role, hh, rng)
    male = rng.random(n) < 0.5
    partner = np.flatnonzero((role == 1) | (role == 9))
    male[partner] = ~male[partner - 1]
    pop = comms["population"].to_numpy(float)
    hh_comm = rng.choice(len(comms), size=int(hh.max()) + 1, p=pop / pop.sum()).astype(np.int32)
    community = hh_comm[hh]
    group = np.select([age < 6, age < 18, age < 60], [0, 1, 2], 3).astype(np.int8)
    pp = p.population
    elderly_card = np.clip(pp.card_elderly_at_60 + (age - 60) / 25 * (pp.card_elderly_at_85 - pp.card_elderly_at_60),
                           0, 1)
    card = ((age >= pp.card_min_age) & (age < 18)) | ((group == 3) & (rng.random(n) < elderly_card))
    start_days = (np.datetime64(start, "D") - np.datetime64("1970-01-01", "D")).astype(np.int64)
    birth = start_days - np.floor(age * 365.2425 + rng.uniform(1, 365, n)).astype(np.int64)
    ref = id_numbers(211403, birth, male, rng)
    # NAT habits and how often one goes out
    m = np.asarray(p.nat.participation, float)[group]
    k = p.nat.beta_k
    nat_p = rng.beta(m * k, (1 - m) * k).astype(np.float32)
    sigma = pp.activity_sigma
    act = rng.lognormal(-sigma**2 / 2, sigma, n) * (nat_p / m) ** 2  # who goes out keeps their NAT up
    for g in range(4):
        sel = group == g
        if sel.any():
            act[sel] /= act[sel].mean()
    hours = np.asarray(p.nat.sample_hour, float)[group]
    nat_hour = np.clip(np.abs(rng.normal(hours[:, 0], hours[:, 1]) - 6.0) + 6.0, 6.0, 19.5).astype(np.float32)
    nat_sites = sites.of("nat_site")
    nat_site = np.full(n, -1, dtype=np.int32)
    for c in range(len(comms)):
        who = np.flatnonzero(community == c)
        local = nat_sites[sites.community[nat_sites] == c]
        nat_site[who] = local[rng.integers(0, len(local), len(who))]
    # schools
    grade = np.where((age >= 6) & (age <= 17), age - 5, 0).astype(np.int8)
    vocational = (grade >= 10) & (rng.random(n) < p.schools.vocational_share)
    stype = np.select([(grade >= 1) & (grade <= 6), (grade >= 7) & (grade <= 9), vocational, grade >= 10],
                      [0, 1, 3, 2], -1)
    grade[vocational] = 20
    school = np.full(n, -1, dtype=np.int32)
    for t, name in enumerate(_SCHOOL_TYPES):
        who = np.flatnonzero(stype == t)
        school[who] = _local_choice(sites, sites.of(name), community[who], comm_street, rng, own_weight=2.0)
    # employers on the platform, the enterprise among them
    employed = (group == 2) & (age >= 18) & (rng.random(n) < p.population.employed_share)
    work = np.full(n, -1, dtype=np.int32)
    work_hour = np.zeros((n, 2), dtype=np.float32)
    work_daily = np.zeros(n, dtype=bool)
    emp_idx = np.flatnonzero(employed)
    n_ent = min(len(emp_idx), int(p.work.enterprise_workers_max),
                int(round(p.work.enterprise_workers_per_100k * n / 100_000)))
    ent_workers = np.sort(rng.choice(emp_idx, size=n_ent, replace=False)) if n_ent else np.empty(0, int)
    gates = sites.of("enterprise")
    work[ent_workers] = gates[rng.integers(0, len(gates), n_ent)]
    shifts = np.asarray(p.work.enterprise_shifts, float)
    work_hour[ent_workers] = shifts[rng.choice(len(shifts), size=n_ent, p=shifts[:, 0] / shifts[:, 0].sum()), 1:]
    # staff of shops, markets, bathhouses, clinics, pharmacies and community offices
    # (fewer per site when they would exceed `staff_share_max` of the employed)
    staff = p.work.staff.to_dict()
    needed = sum(int(v[0]) * len(sites.of(sub)) for sub, v in staff.items())
    factor = min(1.0, p.work.staff_share_max * int(employed.sum()) / max(needed, 1))
    for sub, (per_site, hour, sd, daily) in staff.items():
        at = sites.of(sub)
        per = np.floor(per_site * factor + rng.random(len(at))).astype(np.int64)
        free = np.flatnonzero(employed & (work < 0))
        k = min(len(free), int(per.sum()))
        if k == 0:
            continue
        who = np.sort(rng.choice(free, size=k, replace=False))
        work[who] = np.repeat(at, per)[:k]
        work_hour[who] = (hour, sd)
        work_daily[who] = bool(daily)
    others = np.flatnonzero(employed & (work < 0) & (rng.random(n) < p.work.platform_share))
    wp = sites.of("workplace")
    work[others] = _choose_weighted(wp, sites.attraction[wp], len(others), rng)
    mix = np.asarray(p.routines.time["work"], float)
    work_hour[others] = mix[rng.choice(len(mix), size=len(others), p=mix[:, 0] / mix[:, 0].sum()), 1:]
    # usual site for each errand
    usual = np.empty((n, len(ACTIVITIES)), dtype=np.int32)
    for a, name in enumerate(ACTIVITIES):
        usual[:, a] = _local_choice(sites, sites.of(name), community, comm_street, rng)
    hh_start = np.concatenate([[0], np.flatnonzero(np.diff(hh)) + 1, [n]]).astype(np.int64)
    return People(n=n, ref=ref, age=age, male=male, group=group, community=community, household=hh.astype(np.int32),
                  hh_start=hh_start, card=card, activity=act, nat_p=nat_p, nat_hour=nat_hour, nat_site=nat_site,
                  school=school, grade=grade, work=work, work_hour=work_hour, work_daily=work_daily,
                  usual=usual)


def build_world(p: SimParams, residents: int, start: date, rng: np.random.Generator) -> World:
    """Sites and residents of the synthetic Longgang for ``residents`` people."""
    if residents < 100:
        msg = f"residents must be at least 100, got {residents}"
        raise ValueError(msg)
    gdf = districts()
    comms = gdf[gdf["level"] == "community"].sort_values("code").reset_index(drop=True)
    streets = gdf[gdf["level"] == "street"].sort_values("code").reset_index(drop=True)
    street_of = {c: i for i, c in enumerate(streets["code"])}
    comm_street = np.array([street_of[c] for c in comms["parent_code"]], dtype=np.int32)
    site_rng, people_rng = rng.spawn(2)
    sites = _build_sites(p, residents, comms, comm_street, site_rng)
    people = _build_people(p, residents, comms, comm_street, sites, start, people_rng)
    return World(communities=comms, community_street=comm_street, streets=streets, sites=sites, people=people,
                 start=start)
