"""truth/ against the feed files: every infection explained, every positive isolated,
and the contacts recomputed independently (pandas) from scans.csv under the rules."""

from __future__ import annotations

import pandas as pd
import pytest

from geodata.rules import load_rules
from tests.sim_support import DAYS, Sim, small_sim, times  # noqa: F401

START = pd.Timestamp("2022-04-01T00:00:00+08:00")
END = START + pd.Timedelta(days=DAYS)
RULES = load_rules()
WINDOW = pd.Timedelta(minutes=RULES.copresence.minutes)


@pytest.fixture(scope="module")
def feeds(small_sim: Sim) -> dict[str, pd.DataFrame]:
    scans = small_sim.read("scans.csv")
    scans["t"] = times(scans["scanned_at"])
    sites = small_sim.read("sites.csv")
    kind = dict(zip(sites["site_code"], sites["kind"], strict=True))
    scans["eligible"] = scans["site_code"].map(kind).isin(RULES.copresence.site_kinds)
    nat = small_sim.read("nat.csv")
    for c in ("sampled_at", "reported_at"):
        nat[c + "_t"] = times(nat[c])
    iso = small_sim.read("isolation.csv")
    iso["adm"] = times(iso["admitted_at"])
    iso["dis"] = times(iso["discharged_at"])
    inf = small_sim.read("truth/infections.csv")
    for c in ("infected_at", "infectious_from", "infectious_until", "first_positive_sample_at", "isolated_at"):
        inf[c + "_t"] = times(inf[c])
    return {"scans": scans, "sites": sites, "nat": nat, "iso": iso, "inf": inf,
            "contacts": small_sim.read("truth/contacts.csv"), "pairs": small_sim.read("truth/copresence.csv")}


def test_the_scenario_has_an_outbreak(small_sim: Sim, feeds: dict[str, pd.DataFrame]) -> None:
    inf = feeds["inf"]
    assert (inf["source"] == "seed").sum() == 8
    assert (inf["source"] == "copresence").sum() >= 5
    assert small_sim.summary.cases >= 10
    c = feeds["contacts"]
    assert (c["degree"] == "close").sum() > 20 and (c["degree"] == "secondary").sum() > 20


def test_every_infection_has_an_infectious_source_at_the_site(feeds: dict[str, pd.DataFrame]) -> None:
    inf, scans = feeds["inf"], feeds["scans"]
    by_person = inf.set_index("person_ref")
    for r in inf.itertuples():
        if r.source == "import":
            assert r.site_code == "" and r.infected_by == ""
            continue
        own = scans[(scans["person_ref"] == r.person_ref) & (scans["site_code"] == r.site_code)
                    & (scans["t"] == r.infected_at_t)]
        assert len(own) == 1, r.person_ref  # infected at their own scan
        assert own["eligible"].all()
        if r.source == "seed":
            assert r.infected_by == ""
            continue
        src = by_person.loc[r.infected_by]
        assert src["infected_at_t"] < r.infected_at_t
        theirs = scans[(scans["person_ref"] == r.infected_by) & (scans["site_code"] == r.site_code)
                       & ((scans["t"] - r.infected_at_t).abs() <= WINDOW)]
        infectious = theirs[(theirs["t"] >= src["infectious_from_t"]) & (theirs["t"] < src["infectious_until_t"])]
        assert len(infectious) >= 1, (r.person_ref, r.infected_by)


def test_infections_and_positives_agree(feeds: dict[str, pd.DataFrame]) -> None:
    inf, nat = feeds["inf"], feeds["nat"]
    pos = nat[nat["result"] == "positive"]
    first = pos.groupby("person_ref")["sampled_at_t"].min()
    detected = inf[inf["first_positive_sample_at"] != ""].set_index("person_ref")["first_positive_sample_at_t"]
    assert first.sort_index().equals(detected.sort_index())  # only the infected test positive
    for ref, t in first.items():  # infected before the sample
        assert inf.set_index("person_ref").loc[ref, "infected_at_t"] < t


def test_every_positive_is_followed_by_isolation(feeds: dict[str, pd.DataFrame]) -> None:
    nat, iso, scans = feeds["nat"], feeds["iso"], feeds["scans"]
    pos = nat[nat["result"] == "positive"]
    report = pos.groupby("person_ref")["reported_at_t"].min()
    transfer = pd.Timedelta(hours=4)  # params: outbreak.transfer_hours
    cases = iso[iso["category"] == "case"].set_index("person_ref")
    for ref, r in report.items():
        if r + transfer >= END:
            continue
        assert ref in cases.index, ref
        adm = cases.loc[ref, "adm"]
        assert r <= adm <= r + transfer
        until = cases.loc[ref, "dis"] if pd.notna(cases.loc[ref, "dis"]) else END
        after = scans[(scans["person_ref"] == ref) & (scans["t"] >= r) & (scans["t"] < until)]
        assert after.empty, ref  # no scans from the report until discharge


def test_isolation_durations_follow_the_rules(feeds: dict[str, pd.DataFrame]) -> None:
    iso = feeds["iso"]
    done = iso[iso["discharged_at"] != ""]
    days = (done["dis"] - done["adm"]).dt.total_seconds() / 86400
    want = {"case": RULES.isolation.case_days, "close_contact": RULES.isolation.close_contact_central_days,
            "secondary_contact": RULES.isolation.secondary_contact_home_days,
            "inbound": RULES.isolation.inbound_high_risk_central_days}
    next_adm = iso.sort_values("adm").groupby("person_ref")["adm"].shift(-1).reindex(iso.index)
    for cat, d in want.items():
        sel = done["category"] == cat
        got = days[sel]
        assert (got <= d + 1e-9).all(), cat
        # exactly the rules' days, or shorter when moved on: the next stay (as a case) begins
        short = done[sel][got < d - 1e-9]
        assert (short["dis"] == next_adm[short.index]).all(), cat
    sites = feeds["sites"].set_index("site_code")
    kinds = iso["site_code"].map(sites["kind"])
    assert set(kinds[iso["category"].isin(["case", "close_contact"])]) == {"isolation_site"}
    assert set(kinds[iso["category"] == "secondary_contact"]) <= {"community_office"}  # home isolation


def test_close_contacts_are_isolated(feeds: dict[str, pd.DataFrame]) -> None:
    c, iso, nat = feeds["contacts"], feeds["iso"], feeds["nat"]
    report = nat[nat["result"] == "positive"].groupby("person_ref")["reported_at_t"].min()
    close = c[c["degree"] == "close"].copy()
    close["report"] = close["case_ref"].map(report)
    close["fe"] = times(close["first_exposure_at"])
    close = close[close["report"] < END - pd.Timedelta(days=3)]
    assert len(close) > 10
    stays = iso.groupby("person_ref")["adm"].apply(list)
    isolated = [any(a >= fe for a in stays.get(ref, [])) for ref, fe in zip(close["contact_ref"], close["fe"],
                                                                            strict=True)]
    assert pd.Series(isolated).mean() >= 0.8  # trace_reach 0.9 of them, plus those already isolated


def _first_admission(iso: pd.DataFrame, q: pd.DataFrame, person: str, at: str) -> pd.Series:
    """Per row of ``q``: the earliest admission of ``q[person]`` at or after ``q[at]``, else the end."""
    left = q[[person, at]].reset_index().rename(columns={person: "person_ref"}).sort_values(at)
    right = iso[["person_ref", "adm"]].sort_values("adm")
    m = pd.merge_asof(left, right, left_on=at, right_on="adm", by="person_ref", direction="forward",
                      allow_exact_matches=True)
    return m.set_index("index")["adm"].reindex(q.index).fillna(END)


def _rule_contacts(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Close and secondary contacts recomputed from the feed files, per the rules, with
    pandas joins (independent of the simulator's own implementation)."""
    scans = f["scans"][f["scans"]["eligible"]][["person_ref", "site_code", "t"]]
    nat, iso = f["nat"], f["iso"]
    cases = (nat[nat["result"] == "positive"].groupby("person_ref")["sampled_at_t"].min()
             .rename("sample").reset_index().rename(columns={"person_ref": "case_ref"}))
    cases["ws"] = cases["sample"] - pd.Timedelta(days=RULES.exposure.days_before_sample)
    cases["we"] = _first_admission(iso, cases, "case_ref", "ws")

    def partners(own: pd.DataFrame) -> pd.DataFrame:
        m = own.merge(scans, on="site_code", suffixes=("", "_o"))
        return m[((m["t"] - m["t_o"]).abs() <= WINDOW) & (m["person_ref"] != m["person_ref_o"])]

    own = cases.merge(scans, left_on="case_ref", right_on="person_ref")
    own = own[(own["t"] >= own["ws"]) & (own["t"] <= own["we"])]
    close = (partners(own).groupby(["case_ref", "person_ref_o"])["t_o"].min().reset_index()
             .rename(columns={"person_ref_o": "k", "t_o": "fe"}))
    close["ke"] = _first_admission(iso, close, "k", "fe")
    k_own = close.merge(scans, left_on="k", right_on="person_ref")
    k_own = k_own[(k_own["t"] >= k_own["fe"]) & (k_own["t"] <= k_own["ke"])]
    sec = partners(k_own)[["case_ref", "k", "person_ref_o"]].rename(columns={"person_ref_o": "x"})
    closed = set(zip(close["case_ref"], close["k"], strict=True))
    sec = sec[(sec["x"] != sec["case_ref"])
              & ~pd.Series([(c, x) in closed for c, x in zip(sec["case_ref"], sec["x"], strict=True)],
                           index=sec.index, dtype=bool)]
    via = sec.groupby(["case_ref", "x"])["k"].agg(lambda v: ";".join(sorted(set(v)))).reset_index()
    out = pd.concat([
        pd.DataFrame({"case_ref": close["case_ref"], "contact_ref": close["k"], "degree": "close", "via": "",
                      "fe": close["fe"]}),
        pd.DataFrame({"case_ref": via["case_ref"], "contact_ref": via["x"], "degree": "secondary", "via": via["k"],
                      "fe": pd.NaT}),
    ], ignore_index=True)
    return out


def test_contacts_match_the_rules_recomputed_from_the_scans(feeds: dict[str, pd.DataFrame]) -> None:
    ours = _rule_contacts(feeds)
    truth = feeds["contacts"]
    assert len(ours) == len(truth)
    key = ["case_ref", "contact_ref", "degree"]
    assert set(map(tuple, ours[key].to_numpy())) == set(map(tuple, truth[key].to_numpy()))
    t_via = {(r.case_ref, r.contact_ref): ";".join(sorted(r.via.split(";"))) for r in truth.itertuples()
             if r.degree == "secondary"}
    o_via = {(r.case_ref, r.contact_ref): r.via for r in ours.itertuples() if r.degree == "secondary"}
    assert t_via == o_via
    t_fe = {(r.case_ref, r.contact_ref): r.first_exposure_at for r in truth.itertuples() if r.degree == "close"}
    o_fe = {(r.case_ref, r.contact_ref): r.fe for r in ours.itertuples() if r.degree == "close"}
    assert {k: times(pd.Series([v])).iloc[0] for k, v in t_fe.items()} == o_fe
    # a person once per case, never the case itself
    assert not truth.duplicated(["case_ref", "contact_ref"]).any()
    assert (truth["case_ref"] != truth["contact_ref"]).all()


def test_copresence_pairs_satisfy_the_rule(feeds: dict[str, pd.DataFrame]) -> None:
    pairs, scans = feeds["pairs"], feeds["scans"].set_index("event_id")
    assert len(pairs) > 0
    own, other = scans.loc[pairs["event_id"]], scans.loc[pairs["contact_event_id"]]
    assert (own["person_ref"].to_numpy() == pairs["person_ref"].to_numpy()).all()
    assert (other["person_ref"].to_numpy() == pairs["contact_ref"].to_numpy()).all()
    assert (own["site_code"].to_numpy() == pairs["site_code"].to_numpy()).all()
    assert (other["site_code"].to_numpy() == pairs["site_code"].to_numpy()).all()
    assert own["eligible"].all()
    gap = (own["t"].to_numpy() - other["t"].to_numpy())
    assert (abs(gap) <= WINDOW.to_timedelta64()).all()
    assert (pairs["person_ref"] != pairs["contact_ref"]).all()
    # every contact has its evidence, and every pair is evidence of a listed contact
    c = feeds["contacts"]
    listed = set(zip(c["case_ref"], c["contact_ref"], c["degree"], strict=True))
    shown = set(zip(pairs["case_ref"], pairs["contact_ref"], pairs["degree"], strict=True))
    assert shown == listed
