"""``truth/``: who infected whom, and every case's true contacts under the rules.

Computed at the end from exactly what the feed files hold (the scans written, the
positive results in nat.csv, the isolation stays in isolation.csv), with the rule
functions of :mod:`ingest.sim.contacts`. ``truth/README.md`` states the definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa

from geodata.rules import Rules
from ingest.sim.contacts import ScanStore, close_contacts, secondary_contacts
from ingest.sim.outbreak import NEVER, Outbreak
from ingest.sim.writers import NO_TIME, iso_times, make_ids, write_csv_table

__all__ = ["Stays", "TruthStats", "first_admission", "write_truth"]

DAY = 86_400


@dataclass
class Stays:
    """The isolation stays as written (times in seconds since the period start)."""

    person: np.ndarray
    site: np.ndarray
    category: np.ndarray
    adm: np.ndarray
    dis: np.ndarray  # NO_TIME = not discharged by the end of the period


@dataclass
class TruthStats:
    infections: int
    cases: int
    close_contacts: int
    secondary_contacts: int
    copresence_pairs: int


def first_admission(stays: Stays, person: np.ndarray, t: np.ndarray, end: int) -> np.ndarray:
    """For each (person, t): the earliest admission at or after ``t``, else ``end``."""
    out = np.full(len(person), end, dtype=np.int64)
    if len(stays.person) == 0 or len(person) == 0:
        return out
    order = np.lexsort((stays.adm, stays.person))
    sp = stays.person[order].astype(np.int64)
    sa = stays.adm[order]
    key = (sp << 40) + sa
    i = np.searchsorted(key, (np.asarray(person, dtype=np.int64) << 40) + t, side="left")
    ok = i < len(key)
    ok[ok] &= sp[i[ok]] == np.asarray(person)[ok]
    out[ok] = sa[i[ok]]
    return out


def _ts(local_rel: np.ndarray, epoch0: int) -> pa.Array:
    v = np.asarray(local_rel, dtype=np.int64)
    mask = (v == NO_TIME) | (v == NEVER)
    return iso_times(np.where(mask, 0, v + epoch0), mask)


def _opt_str(values: np.ndarray, mask: np.ndarray) -> pa.Array:
    return pa.array(np.where(mask, None, values), type=pa.string())


def write_truth(out: Path, store: ScanStore, outbreak: Outbreak, first_pos: np.ndarray, stays: Stays,
                refs: pa.StringArray, site_codes: list[str], rules: Rules, t_end: int, epoch0: int) -> TruthStats:
    """Write ``out/truth/{infections,copresence,contacts}.csv`` and the README."""
    tdir = Path(out) / "truth"
    tdir.mkdir(parents=True, exist_ok=True)
    codes = np.asarray(site_codes, dtype=object)
    window_s = rules.copresence.minutes * 60

    # infections
    inf = outbreak.infected
    inf = inf[np.lexsort((inf, outbreak.inf_t[inf]))]
    site = outbreak.site[inf]
    by = outbreak.infector[inf]
    onset = outbreak.onset[inf]
    onset = np.where(onset < t_end, onset, NEVER)
    iso_at = first_admission(stays, inf, outbreak.inf_t[inf], NEVER)
    how = np.array(["", "seed", "copresence", "import"], dtype=object)[outbreak.how[inf]]
    infections = pa.table({
        "person_ref": refs.take(inf),
        "infected_at": _ts(outbreak.inf_t[inf], epoch0),
        "site_code": _opt_str(codes[np.maximum(site, 0)], site < 0),
        "infected_by": pa.array(np.where(by < 0, None, np.asarray(refs.take(np.maximum(by, 0)).to_pylist(),
                                                                  dtype=object)), type=pa.string()),
        "onset_at": _ts(onset, epoch0),
        "first_positive_sample_at": _ts(first_pos[inf], epoch0),
        "isolated_at": _ts(iso_at, epoch0),
        "infectious_from": _ts(outbreak.inf_from[inf], epoch0),
        "infectious_until": _ts(outbreak.inf_until[inf], epoch0),
        "source": pa.array(how, type=pa.string()),
    })
    write_csv_table(tdir / "infections.csv", infections)

    # cases and their contacts
    cases = np.flatnonzero(first_pos != NEVER)
    cases = cases[np.lexsort((cases, first_pos[cases]))]
    w_from = first_pos[cases] - rules.exposure.days_before_sample * DAY
    w_to = first_admission(stays, cases, w_from, t_end)
    cl = close_contacts(store, cases, w_from, w_to, window_s)
    k_to = first_admission(stays, cl.contact, cl.first_exposure, t_end)
    keys = (cl.case.astype(np.int64) << 32) | cl.contact
    sec = secondary_contacts(store, cl.case, cl.contact, cl.first_exposure, k_to, keys, window_s)
    # secondary: one row per (case, contact); via = every close contact, joined by ';'
    s_key = (sec.case.astype(np.int64) << 32) | sec.contact
    _, start = np.unique(s_key, return_index=True)
    bounds = np.r_[start, len(s_key)]
    via_refs = np.asarray(refs.take(sec.via).to_pylist(), dtype=object) if len(sec.via) else np.empty(0, object)
    via_joined = [";".join(sorted(set(via_refs[a:b]))) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    s_first = np.minimum.reduceat(sec.first_exposure, start) if len(start) else np.empty(0, np.int64)
    s_case = sec.case[start]
    s_contact = sec.contact[start]
    rank = np.full(len(refs), -1, dtype=np.int64)
    rank[cases] = np.arange(len(cases))
    c_rank = rank[cl.case]
    s_rank = rank[s_case]
    all_case = np.r_[cl.case, s_case].astype(np.int64)
    all_contact = np.r_[cl.contact, s_contact].astype(np.int64)
    all_rank = np.r_[c_rank, s_rank]
    degree = np.r_[np.zeros(len(cl.case), np.int8), np.ones(len(s_case), np.int8)]
    first = np.r_[cl.first_exposure, s_first]
    via = np.r_[np.full(len(cl.case), None, dtype=object), np.asarray(via_joined, dtype=object)]
    order = np.lexsort((all_contact, degree, all_rank))
    contacts = pa.table({
        "case_ref": refs.take(all_case[order]),
        "contact_ref": refs.take(all_contact[order]),
        "degree": pa.array(np.array(["close", "secondary"], dtype=object)[degree[order]], type=pa.string()),
        "via": pa.array(via[order], type=pa.string()),
        "first_exposure_at": _ts(first[order], epoch0),
    })
    write_csv_table(tdir / "contacts.csv", contacts)

    # the evidence: co-presence pairs that make each contact
    cp, sp = cl.pairs, sec.pairs
    c_case = cases[cp["q"]] if len(cp["q"]) else np.empty(0, np.int64)
    s_case_p = cl.case[sp["q"]] if len(sp["q"]) else np.empty(0, np.int64)
    s_via_p = cl.contact[sp["q"]] if len(sp["q"]) else np.empty(0, np.int64)
    p_case = np.r_[c_case, s_case_p].astype(np.int64)
    p_deg = np.r_[np.zeros(len(c_case), np.int8), np.ones(len(s_case_p), np.int8)]
    p_person = np.r_[c_case, s_via_p].astype(np.int64)
    p_row = np.r_[cp["own_row"], sp["own_row"]]
    p_t = np.r_[cp["own_t"], sp["own_t"]]
    p_other = np.r_[cp["other_person"], sp["other_person"]].astype(np.int64)
    p_orow = np.r_[cp["other_row"], sp["other_row"]]
    p_ot = np.r_[cp["other_t"], sp["other_t"]]
    p_site = np.r_[cp["site"], sp["site"]]
    p_rank = rank[p_case]
    order = np.lexsort((p_orow, p_row, p_person, p_deg, p_rank))
    copresence = pa.table({
        "case_ref": refs.take(p_case[order]),
        "degree": pa.array(np.array(["close", "secondary"], dtype=object)[p_deg[order]], type=pa.string()),
        "person_ref": refs.take(p_person[order]),
        "event_id": make_ids("E", p_row[order], 11),
        "scanned_at": _ts(p_t[order], epoch0),
        "contact_ref": refs.take(p_other[order]),
        "contact_event_id": make_ids("E", p_orow[order], 11),
        "contact_scanned_at": _ts(p_ot[order], epoch0),
        "site_code": pa.array(codes[p_site[order]], type=pa.string()),
    })
    write_csv_table(tdir / "copresence.csv", copresence)
    readme = resources.files("ingest.sim").joinpath("truth_README.md").read_text("utf-8")
    (tdir / "README.md").write_text(readme.format(minutes=rules.copresence.minutes,
                                                  days=rules.exposure.days_before_sample,
                                                  kinds=", ".join(rules.copresence.site_kinds)), "utf-8")
    return TruthStats(infections=len(inf), cases=len(cases), close_contacts=len(cl.case),
                      secondary_contacts=len(s_case), copresence_pairs=copresence.num_rows)
