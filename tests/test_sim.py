"""The simulator's files: the contract's columns and formats, determinism, rates."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from geodata.errors import ConfigError
from geodata.geography import districts
from ingest.sim import FEEDS, load_params, simulate
from ingest.sim.idnum import check_char
from ingest.sim.names import ENTERPRISE, FLAGSHIP_SCHOOL
from tests.sim_support import DAYS, RESIDENTS, Sim, small_sim, times  # noqa: F401

# The ingest contract, as written in shared/DESIGN.md ("Feeds").
CONTRACT = {
    "sites": "site_code kind name lon lat district_code capacity",
    "scans": "event_id person_ref site_code kind scanned_at lon lat code_color temperature_c nat_hours "
             "risk_area_visit outcome",
    "passes": "pass_id plate driver_ref category enterprise origin_city destination_site_code applied_at "
              "reviewer_dept decided_at decision valid_from valid_to",
    "crossings": "crossing_id pass_id plate checkpoint_code direction crossed_at verified sealed processing_s outcome",
    "nat": "sample_id person_ref site_code sampled_at reported_at result",
    "isolation": "stay_id person_ref site_code category admitted_at discharged_at",
    "meds": "purchase_id person_ref pharmacy_code purchased_at drug_class",
    "returnees": "registration_id person_ref origin_city origin_risk arrival_date community_code purpose",
}
IDS = {"sites": "site_code", "scans": "event_id", "passes": "pass_id", "crossings": "crossing_id",
       "nat": "sample_id", "isolation": "stay_id", "meds": "purchase_id", "returnees": "registration_id"}
TIME_COLS = {"scans": ["scanned_at"], "passes": ["applied_at", "decided_at", "valid_from", "valid_to"],
             "crossings": ["crossed_at"], "nat": ["sampled_at", "reported_at"],
             "isolation": ["admitted_at", "discharged_at"], "meds": ["purchased_at"]}
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")
ENUMS = {
    ("sites", "kind"): {"checkpoint", "venue", "school", "pharmacy", "isolation_site", "nat_site", "clinic",
                        "community_office"},
    ("scans", "kind"): {"active_scan", "venue_checkin"},
    ("scans", "code_color"): {"green", "yellow", "red"},
    ("scans", "outcome"): {"admitted", "denied"},
    ("scans", "risk_area_visit"): {"true", "false"},
    ("passes", "category"): {"emergency_supplies", "bulk_cargo", "resident"},
    ("passes", "decision"): {"approved", "rejected", "pending"},
    ("crossings", "direction"): {"in", "out"},
    ("crossings", "verified"): {"true", "false"},
    ("crossings", "sealed"): {"true", "false"},
    ("crossings", "outcome"): {"released", "turned_back"},
    ("nat", "result"): {"negative", "positive"},
    ("isolation", "category"): {"case", "close_contact", "secondary_contact", "inbound", "other"},
    ("meds", "drug_class"): {"antipyretic", "antibiotic", "antiviral", "cough"},
    ("returnees", "origin_risk"): {"low", "medium", "high"},
    ("returnees", "purpose"): {"family_visit", "business", "return_home"},
}


def _valid_id_number(ref: str) -> bool:
    return bool(re.fullmatch(r"\d{17}[\dX]", ref)) and check_char(ref[:17]) == ref[17]


# --- the contract ----------------------------------------------------------------
def test_exactly_the_feed_files_and_truth(small_sim: Sim) -> None:
    names = sorted(p.name for p in small_sim.out.iterdir())
    assert names == sorted([f"{f}.csv" for f in FEEDS if f != "districts"] + ["districts.geojson", "truth"])
    assert sorted(p.name for p in (small_sim.out / "truth").iterdir()) == [
        "README.md", "contacts.csv", "copresence.csv", "infections.csv"]


@pytest.mark.parametrize("feed", sorted(CONTRACT))
def test_contract_columns_exactly(small_sim: Sim, feed: str) -> None:
    header = (small_sim.out / f"{feed}.csv").read_text("utf-8").splitlines()[0]
    assert header.split(",") == CONTRACT[feed].split()
    from ingest.feeds import FEEDS as INGEST_FEEDS  # the ingest pipeline's reading of the same contract

    assert header.split(",") == INGEST_FEEDS[feed].names


@pytest.mark.parametrize("feed", sorted(CONTRACT))
def test_values_written_as_a_real_source(small_sim: Sim, feed: str) -> None:
    df = small_sim.read(f"{feed}.csv")
    assert len(df) > 0
    assert df[IDS[feed]].is_unique and (df[IDS[feed]] != "").all()
    for col in TIME_COLS.get(feed, []):
        filled = df[col][df[col] != ""]
        assert filled.str.match(ISO).all(), (feed, col, filled[~filled.str.match(ISO)].head())
    for (f, col), allowed in ENUMS.items():
        if f == feed:
            assert set(df[col]) - {""} <= allowed, (feed, col)
    if "person_ref" in df:
        assert df["person_ref"].map(_valid_id_number).all()


def test_value_ranges_and_references(small_sim: Sim) -> None:
    sites = small_sim.read("sites.csv")
    scans = small_sim.read("scans.csv")
    minx, miny, maxx, maxy = districts(level="district").total_bounds
    for df in (sites, scans):
        lon, lat = df["lon"].astype(float), df["lat"].astype(float)
        assert lon.between(minx - 0.01, maxx + 0.01).all() and lat.between(miny - 0.01, maxy + 0.01).all()
    comm = set(districts(level="community")["code"])
    assert set(sites["district_code"]) <= comm
    cap = sites["capacity"]
    assert (cap[sites["kind"] == "isolation_site"] != "").all() and (cap[sites["kind"] != "isolation_site"] == "").all()
    temp = scans["temperature_c"][scans["temperature_c"] != ""].astype(float)
    assert temp.between(34, 43).all()
    assert (scans["temperature_c"][scans["kind"] == "venue_checkin"] == "").all()  # no thermometer at self check-in
    assert (scans["nat_hours"][scans["nat_hours"] != ""].astype(float) >= 0).all()
    codes = set(sites["site_code"])
    kind = dict(zip(sites["site_code"], sites["kind"], strict=True))
    for feed, col in (("scans", "site_code"), ("nat", "site_code"), ("isolation", "site_code"),
                      ("meds", "pharmacy_code"), ("crossings", "checkpoint_code")):
        used = set(small_sim.read(f"{feed}.csv")[col])
        assert used <= codes, feed
    assert {kind[c] for c in small_sim.read("meds.csv")["pharmacy_code"]} == {"pharmacy"}
    assert {kind[c] for c in small_sim.read("crossings.csv")["checkpoint_code"]} == {"checkpoint"}
    passes = small_sim.read("passes.csv")
    crossings = small_sim.read("crossings.csv")
    assert set(crossings["pass_id"]) - {""} <= set(passes["pass_id"])
    dest = set(passes["destination_site_code"]) - {""}
    assert dest <= codes


def test_times_are_ordered_as_they_happen(small_sim: Sim) -> None:
    p = small_sim.read("passes.csv")
    decided = p[p["decided_at"] != ""]
    assert (times(decided["decided_at"]) >= times(decided["applied_at"])).all()
    ok = p[p["decision"] == "approved"]
    assert (ok["valid_from"] != "").all() and (times(ok["valid_to"]) > times(ok["valid_from"])).all()
    assert (p.loc[p["decision"] == "pending", "decided_at"] == "").all()
    n = small_sim.read("nat.csv")
    assert (times(n["reported_at"]) >= times(n["sampled_at"])).all()
    iso = small_sim.read("isolation.csv")
    done = iso[iso["discharged_at"] != ""]
    assert (times(done["discharged_at"]) > times(done["admitted_at"])).all()
    scans = small_sim.read("scans.csv")
    t = times(scans["scanned_at"])
    assert t.is_monotonic_increasing  # written in time order, as a platform exports them
    start = pd.Timestamp("2022-04-01T00:00:00+08:00")
    assert t.min() >= start and t.max() < start + pd.Timedelta(days=DAYS)


def test_districts_geojson_carries_the_contract_properties(small_sim: Sim) -> None:
    data = json.loads((small_sim.out / "districts.geojson").read_text("utf-8"))
    feats = data["features"]
    assert len(feats) == 1 + 8 + 64
    for f in feats:
        assert set(f["properties"]) == {"code", "name_zh", "name_en", "level", "parent_code", "population"}
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
    levels = [f["properties"]["level"] for f in feats]
    assert levels.count("community") == 64 and levels.count("street") == 8


def test_sites_of_the_seed_and_of_every_kind(small_sim: Sim) -> None:
    sites = small_sim.read("sites.csv")
    names = set(sites["name"])
    assert {FLAGSHIP_SCHOOL, "京哈高速葫芦岛出口"} <= names
    gates = sites[sites["name"].str.startswith(ENTERPRISE)]
    assert len(gates) == len(load_params().work.enterprise_gates) and set(gates["kind"]) == {"venue"}
    assert set(sites["kind"]) == ENUMS[("sites", "kind")]
    offices = sites[sites["kind"] == "community_office"]
    assert sorted(offices["district_code"]) == sorted(districts(level="community")["code"])  # one per community
    cps = sites[sites["kind"] == "checkpoint"]
    assert len(cps) >= 5


# --- people ------------------------------------------------------------------------
def test_identity_numbers_are_plausible(small_sim: Sim) -> None:
    scans = small_sim.read("scans.csv")
    refs = pd.Series(scans["person_ref"].unique())
    assert refs.map(_valid_id_number).all()
    assert (refs.str[:6] == "211403").all()  # residents of Longgang
    births = pd.to_datetime(refs.str[6:14], format="%Y%m%d")
    ages = (pd.Timestamp("2022-04-01") - births).dt.days / 365.25
    assert ages.between(0, 100).all()
    drivers = small_sim.read("passes.csv")["driver_ref"]
    assert drivers.map(_valid_id_number).all()
    assert (drivers.str[:6] != "211403").mean() > 0.4  # truck drivers from other cities
    age = (pd.Timestamp("2022-04-01") - pd.to_datetime(scans["person_ref"].str[6:14], format="%Y%m%d")).dt.days / 365.25
    old_young = (age < 18) | (age >= 60)
    active = scans["kind"] == "active_scan"
    # the "one old, one young" (printed cards, scanned by staff) are over-represented in active scans
    assert old_young[active].mean() > 1.5 * old_young[~active].mean()


# --- rates and distributions ------------------------------------------------------------
def test_scan_rate_near_the_target(small_sim: Sim) -> None:
    s = small_sim.summary
    per_resident_day = s.rows["scans"] / (RESIDENTS * DAYS)
    assert 0.085 <= per_resident_day <= 0.115, per_resident_day  # target 0.1 (the seed: ~10,000/day per 100,000)


def test_active_scan_outcomes_follow_the_rule(small_sim: Sim) -> None:
    scans = small_sim.read("scans.csv")
    temp = pd.to_numeric(scans["temperature_c"])
    nat = pd.to_numeric(scans["nat_hours"])
    admitted = (scans["code_color"] == "green") & (temp.isna() | (temp < 37.3)) & nat.le(48)
    assert ((scans["outcome"] == "admitted") == admitted).all()
    assert 0.005 < (scans["outcome"] == "denied").mean() < 0.2  # some are turned away, most are not


def test_vehicle_figures(small_sim: Sim) -> None:
    passes = small_sim.read("passes.csv")
    crossings = small_sim.read("crossings.csv")
    s = small_sim.summary
    # applications scale with the population from the seed's 37,516 in 66 days per 100,000
    expected = 37_516 / 66 * DAYS * RESIDENTS / 100_000
    general = passes[passes["enterprise"] != ENTERPRISE]  # the enterprise's weekly passes come on top
    assert 0.85 * expected < len(general) < 1.15 * expected
    issued = (general["decision"] == "approved").mean()
    assert abs(issued - 17_756 / 37_516) < 0.06  # the seed: 47% of applications end in a pass
    approved = passes[passes["decision"] == "approved"]
    minutes = (times(approved["decided_at"]) - times(approved["applied_at"])).dt.total_seconds() / 60
    assert 8 <= minutes.median() <= 13  # "about 10 minutes"
    assert minutes.quantile(0.95) > 3 * minutes.median()  # a long tail
    assert abs(s.approval_median_min - minutes.median()) < 1e-6
    assert {"rejected", "pending"} <= set(passes["decision"])
    assert set(passes["reviewer_dept"]) >= {"龙港区工信局", "龙港区交通运输局", "龙港区商务局"}
    assert passes["reviewer_dept"].str.endswith("街道办事处").any()
    released_in = crossings[(crossings["outcome"] == "released") & (crossings["direction"] == "in")]
    proc = released_in["processing_s"].astype(float)
    assert 60 <= proc.median() <= 300  # "a few minutes"
    back = crossings[crossings["outcome"] == "turned_back"]
    assert len(back) > 0 and (back["verified"] == "false").all()
    # every released crossing is on a pass valid at that moment
    rel = crossings[crossings["outcome"] == "released"].merge(passes, on="pass_id")
    t = times(rel["crossed_at"])
    assert ((t >= times(rel["valid_from"])) & (t <= times(rel["valid_to"])) & (rel["decision"] == "approved")).all()


def test_enterprise_trucks_and_checkpoint_shares(small_sim: Sim) -> None:
    passes = small_sim.read("passes.csv")
    crossings = small_sim.read("crossings.csv").merge(passes[["pass_id", "enterprise"]], on="pass_id", how="left")
    ent = crossings[(crossings["enterprise"] == ENTERPRISE) & (crossings["direction"] == "in")]
    per_day = ent.groupby(times(ent["crossed_at"]).dt.tz_convert("Asia/Shanghai").dt.date)["plate"].nunique()
    full_days = per_day.iloc[2:]  # the fleet's first passes come through in the first day and a half
    assert 24 <= full_days.mean() <= 100, full_days  # "dozens to a hundred trucks a day"
    sites = small_sim.read("sites.csv").set_index("site_code")
    weights = {c["name"]: c["weight"] for c in load_params().vehicles.checkpoints}
    others = crossings[(crossings["enterprise"] != ENTERPRISE)]
    share = others["checkpoint_code"].map(sites["name"]).value_counts(normalize=True)
    total = sum(weights.values())
    # a pass's crossings share one checkpoint: the independent draws are the passes (and
    # the vehicles turned back without one); allow four standard errors
    n = others["pass_id"].replace("", np.nan).nunique() + (others["pass_id"] == "").sum()
    for name, w in weights.items():
        q = w / total
        assert abs(share.get(name, 0.0) - q) < 4 * np.sqrt(q * (1 - q) / n), (name, share.get(name), q, n)
    assert crossings["checkpoint_code"].map(sites["name"]).value_counts().index[0] == "京哈高速葫芦岛出口"


# --- determinism -------------------------------------------------------------------------
def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path, fmt: str) -> None:
    kw = {"residents": 3000, "days": 5, "fmt": fmt, "params": load_params(overrides={"outbreak": {"seed_day": 1}})}
    a = _digest(Path(simulate(seed=4, out=tmp_path / "a", **kw).out))
    b = _digest(Path(simulate(seed=4, out=tmp_path / "b", **kw).out))
    c = _digest(Path(simulate(seed=5, out=tmp_path / "c", **kw).out))
    assert a == b
    assert len(a) == 9 + 4
    differ = {k for k in a if a[k] != c.get(k)}
    assert {f"scans.{fmt}", f"nat.{fmt}", f"passes.{fmt}", f"crossings.{fmt}"} <= differ
    assert "districts.geojson" not in differ  # the reference geography does not depend on the seed


def test_parquet_is_typed_with_the_same_columns(tmp_path: Path) -> None:
    s = simulate(residents=500, days=2, seed=1, out=tmp_path, fmt="parquet")
    for feed, cols in CONTRACT.items():
        schema = pq.read_schema(tmp_path / f"{feed}.parquet")
        assert schema.names == cols.split()
    scans = pq.read_table(tmp_path / "scans.parquet")
    assert str(scans.schema.field("scanned_at").type) in ("timestamp[s, tz=+08:00]", "timestamp[ms, tz=+08:00]")
    assert str(scans.schema.field("risk_area_visit").type) == "bool"
    first = scans.column("scanned_at")[0].as_py()
    assert first.date() >= date(2022, 4, 1) and first.utcoffset().total_seconds() == 8 * 3600
    assert s.rows["scans"] == scans.num_rows


# --- parameters --------------------------------------------------------------------------
def test_parameters_override_and_validate(tmp_path: Path) -> None:
    p = load_params(overrides={"outbreak": {"beta": 2}})
    assert p.outbreak.beta == 2 and p.outbreak.seeds == load_params().outbreak.seeds
    with pytest.raises(ConfigError, match="outbreak.betta"):
        load_params(overrides={"outbreak": {"betta": 2}})
    with pytest.raises(ConfigError, match="routines.scans_per_resident_day"):
        load_params(overrides={"routines": {"scans_per_resident_day": "many"}})
    f = tmp_path / "p.toml"
    f.write_text("[routines]\nscans_per_resident_day = 0.2\n", "utf-8")
    assert load_params(f).routines.scans_per_resident_day == 0.2
    with pytest.raises(AttributeError):
        p.outbreak.beta = 3  # read-only


def test_scan_rate_is_a_parameter(tmp_path: Path) -> None:
    p = load_params(overrides={"routines": {"scans_per_resident_day": 0.2}})
    s = simulate(residents=3000, days=7, seed=2, out=tmp_path, params=p)
    assert 0.17 <= s.scans_per_resident_day <= 0.23


def test_bad_arguments_say_so(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        simulate(residents=500, days=1, out=tmp_path, fmt="xlsx")
    with pytest.raises(ValueError, match="days"):
        simulate(residents=500, days=0, out=tmp_path)
    with pytest.raises(ValueError, match="residents"):
        simulate(residents=10, days=1, out=tmp_path)


def test_identity_numbers_unique_and_checked() -> None:
    from ingest.sim.idnum import id_numbers

    rng = np.random.default_rng(0)
    birth = np.full(900, 10_000)  # 900 people born on one day: sequences must still differ
    male = np.arange(900) % 2 == 0
    refs = id_numbers(211403, birth, male, rng).to_pylist()
    assert len(set(refs)) == 900
    assert all(_valid_id_number(r) for r in refs)
    assert all((int(r[16]) % 2 == 1) == m for r, m in zip(refs, male, strict=True))  # odd = men
    assert {r[6:14] for r in refs} == {"19970519"}  # day 10,000 after 1970-01-01


# --- the command line --------------------------------------------------------------------
def test_cli_simulate(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "-m", "sandtable", "simulate", "--residents", "500", "--days", "2",
                           "--seed", "3", "--out", str(out), "--format", "parquet"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith("simulated 500 residents x 2 days (seed 3)") and "scans/day" in line and "passes" in line
    assert "simulate: day 2/2" in proc.stderr  # plain log lines when not on a terminal
    assert (out / "scans.parquet").exists() and (out / "truth" / "contacts.csv").exists()
    from typer.testing import CliRunner

    from geodata.errors import SandtableError
    from sandtable.cli import app

    bad = CliRunner().invoke(app, ["simulate", "--format", "xlsx", "--out", str(out)])
    assert isinstance(bad.exception, SandtableError) and "--format must be csv or parquet" in str(bad.exception)


def test_a_new_run_replaces_an_earlier_one_in_the_same_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", "utf-8")
    simulate(residents=300, days=1, seed=1, out=tmp_path, fmt="parquet")
    simulate(residents=300, days=1, seed=1, out=tmp_path, fmt="csv")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not [n for n in names if n.endswith(".parquet")]  # no stale feed files of the other format
    assert "notes.txt" in names and "scans.csv" in names
