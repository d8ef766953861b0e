"""A small outbreak worked out by hand: a dozen scans, one case, its close and secondary
contacts, infection by co-presence, and isolation stays replacing one another."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from geodata.rules import load_rules
from ingest.sim import load_params
from ingest.sim.contacts import DayIndex, ScanStore, close_contacts, secondary_contacts
from ingest.sim.isolation import CASE, CLOSE, SECONDARY, Isolation
from ingest.sim.outbreak import NEVER, Outbreak
from ingest.sim.truth import Stays, first_admission
from ingest.sim.world import build_world

H, D = 3600, 86_400
A, B, C, D_, E, F, G, HH, I, J = range(10)  # people (indices in the tiny world)
WINDOW = load_rules().copresence.minutes * 60  # 30 minutes


@pytest.fixture(scope="module")
def world():  # noqa: ANN201
    return build_world(load_params(), 200, date(2022, 4, 1), np.random.default_rng(0))


def _sites(world) -> tuple[int, int, int]:  # noqa: ANN001
    s = world.sites
    return int(s.of("market")[0]), int(s.of("restaurant")[0]), int(s.of("checkpoint")[0])


def _store(world) -> ScanStore:  # noqa: ANN001
    """The scans of the scenario (person, site, time), by day; checkpoints do not count."""
    V, W, K = _sites(world)
    days = [
        [(A, V, 10 * H), (B, V, 10 * H + 20 * 60), (C, V, 10 * H + 30 * 60), (D_, V, 10 * H + 31 * 60),
         (E, K, 10 * H), (F, W, 10 * H)],
        [(B, W, D + 9 * H), (G, W, D + 9 * H + 10 * 60), (C, W, D + 9 * H + 25 * 60), (HH, W, D + 12 * H)],
        [(B, W, 2 * D + 9 * H), (HH, W, 2 * D + 9 * H + 5 * 60), (C, V, 2 * D + 15 * H), (I, V, 2 * D + 15 * H + 60)],
        [(A, V, 3 * D + 21 * H), (J, V, 3 * D + 21 * H + 10 * 60)],
    ]
    store = ScanStore()
    row = 0
    for scans in days:
        person = np.array([p for p, s, _ in scans if s != K], dtype=np.int32)
        site = np.array([s for _, s, _ in scans if s != K], dtype=np.int32)
        t = np.array([t for _, s, t in scans if s != K], dtype=np.int64)
        store.add(DayIndex.build(person, site, t, np.arange(row, row + len(person))))
        row += len(scans)
    return store


def test_contacts_by_hand(world) -> None:  # noqa: ANN001
    store = _store(world)
    end = 5 * D
    # A: first positive sample on day 3 at 08:00, admitted on day 3 at 20:00; B admitted on day 2 at 00:00
    stays = Stays(person=np.array([A, B]), site=np.zeros(2, int), category=np.array([CASE, CLOSE]),
                  adm=np.array([3 * D + 20 * H, 2 * D]), dis=np.array([17 * D, 9 * D]))
    w_from = np.array([3 * D + 8 * H - 4 * D])
    w_to = first_admission(stays, np.array([A]), w_from, end)
    assert w_to.tolist() == [3 * D + 20 * H]
    cl = close_contacts(store, np.array([A]), w_from, w_to, WINDOW)
    # B 20 min after A, C exactly 30 min (inclusive); not D (31 min), not E (a checkpoint),
    # not F (another site), not J (after A's admission)
    assert dict(zip(cl.contact.tolist(), cl.first_exposure.tolist(), strict=True)) == {
        B: 10 * H + 20 * 60, C: 10 * H + 30 * 60}
    k_to = first_admission(stays, cl.contact, cl.first_exposure, end)
    assert dict(zip(cl.contact.tolist(), k_to.tolist(), strict=True)) == {B: 2 * D, C: end}
    keys = (cl.case.astype(np.int64) << 32) | cl.contact
    sec = secondary_contacts(store, cl.case, cl.contact, cl.first_exposure, k_to, keys, WINDOW)
    got = {}
    for x, v in zip(sec.contact.tolist(), sec.via.tolist(), strict=True):
        got.setdefault(x, set()).add(v)
    # D (31 min after A) met B and C at that same visit, inside their windows (from their
    # first exposure, inclusive); G met B (10 min) and C (15 min) on day 1; I met C on
    # day 2 (C was never isolated); H met B only after B's admission; C meeting B does
    # not make C secondary (C is close)
    assert got == {D_: {B, C}, G: {B, C}, I: {C}}


def test_infection_by_copresence_by_hand(world) -> None:  # noqa: ANN001
    store = _store(world)
    day0 = store.days[0]
    p = load_params(overrides={"outbreak": {"beta": 1000.0}})  # every co-present scan infects
    elig = np.ones(len(world.sites), dtype=float)
    ob = Outbreak(world, p, WINDOW, elig)
    rng = np.random.default_rng(1)
    ob.infect(np.array([A]), np.array([-3 * D]), np.array([-1]), np.array([-1]), 3, rng)
    ob.inf_from[A], ob.inf_until[A] = -D, 10 * D  # infectious throughout
    assert ob.transmit(day0, rng) == 2
    V, _, _ = _sites(world)
    assert set(np.flatnonzero(ob.inf_t != NEVER).tolist()) == {A, B, C}
    assert ob.inf_t[B] == 10 * H + 20 * 60 and ob.inf_t[C] == 10 * H + 30 * 60  # at their own scans
    assert ob.infector[B] == A and ob.infector[C] == A and ob.site[B] == V == ob.site[C]
    assert (ob.inf_from[[B, C]] >= ob.inf_t[[B, C]] + D).all()  # a latent period of at least a day
    # nobody infected twice, nobody by a latent person
    assert ob.transmit(day0, rng) == 0


def test_infection_probability_is_frequency_dependent(world) -> None:  # noqa: ANN001
    """With n co-present scans each is infected with beta * per_visit / max(n, crowd_min)."""
    V, _, _ = _sites(world)
    n_others = 40
    person = np.arange(n_others + 1, dtype=np.int32)
    day = DayIndex.build(person, np.full(n_others + 1, V, np.int32), np.full(n_others + 1, 10 * H, np.int64),
                         np.arange(n_others + 1))
    p = load_params(overrides={"outbreak": {"beta": 4.0}})
    per_visit = p.outbreak.per_visit.market
    hits = []
    for seed in range(300):
        ob = Outbreak(world, p, WINDOW, np.ones(len(world.sites)))
        rng = np.random.default_rng(seed)
        ob.inf_t[0], ob.inf_from[0], ob.inf_until[0] = -3 * D, -D, 10 * D
        hits.append(ob.transmit(day, rng))
    expected = 4.0 * per_visit  # infections per infectious scan in a crowd of 40
    assert abs(np.mean(hits) - expected) < 0.25, (np.mean(hits), expected)


def test_stays_replace_one_another_by_priority() -> None:
    iso = Isolation(10, hotels=np.array([5]), hotel_capacity=np.array([2]))
    # a secondary contact at home from day 1, then found to be a close contact: moved to a hotel on day 2
    iso.admit(np.array([1]), np.array([9]), SECONDARY, np.array([1 * D]), 7)
    iso.admit(np.array([1]), np.array([5]), CLOSE, np.array([2 * D]), 7)
    # a close contact found again as a secondary contact stays where they are
    assert not iso.admit(np.array([1]), np.array([9]), SECONDARY, np.array([3 * D]), 7).any()
    # and confirmed as a case on day 4: transferred
    iso.admit(np.array([1]), np.array([7]), CASE, np.array([4 * D]), 14)
    st = iso.stays
    assert st["category"].tolist() == [SECONDARY, CLOSE, CASE]
    assert st["adm"].tolist() == [1 * D, 2 * D, 4 * D]
    assert st["dis"].tolist() == [2 * D, 4 * D, 18 * D]
    # out of circulation from day 1 until discharge as a case
    assert iso.blocked(np.array([1, 1, 1, 1]), np.array([D - 1, D, 10 * D, 18 * D])).tolist() == [
        False, True, True, False]
    # two beds: the third admission overflows into the largest hotel, and is counted
    iso2 = Isolation(10, hotels=np.array([5, 6]), hotel_capacity=np.array([1, 1]))
    assert iso2.hotel_for(3, 0).tolist() == [5, 6, 5]
    assert iso2.overflow == 1
