"""Bad rows, unreadable files, the ledgers, privacy and the command line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from geodata.errors import FeedError
from geodata.privacy import Pseudonymiser, normalise_ref
from ingest import REASONS, load_feed
from sandtable.cli import app
from tests.ingest_feeds import PERSONS, write_rows, write_world

pytestmark = pytest.mark.db

P1, P2, P3, P4 = PERSONS
SCAN_COLS = ["event_id", "person_ref", "site_code", "kind", "scanned_at", "lon", "lat", "code_color",
             "temperature_c", "nat_hours", "risk_area_visit", "outcome"]


def _good(eid: str, person: str = P1, **over: str) -> list[str]:
    row = dict(zip(SCAN_COLS, [eid, person, "V1", "venue_checkin", "2022-04-01T09:00:00+08:00", "", "", "green",
                               "", "", "", "admitted"]))
    row.update(over)
    return [row[c] for c in SCAN_COLS]


@pytest.fixture
def world(app_env: Path, engine: Engine, tmp_path: Path) -> Path:
    files = write_world(tmp_path / "world", "csv")
    for feed in ("districts", "sites", "passes"):
        load_feed(feed, files[feed], engine=engine)
    return tmp_path


def _rejects(engine: Engine, run_id: int) -> dict[int, tuple[str, str]]:
    with engine.connect() as conn:
        return {r.row_number: (r.reason, r.detail) for r in conn.execute(text(
            "SELECT row_number, reason, detail FROM rejects WHERE run_id = :r"), {"r": run_id})}


# one bad scan per reason; the line number of each row is its index + 2 (the header is line 1)
_BAD_SCANS = [
    (_good("", P1), "missing_id"),
    (_good("S2", ""), "missing_person"),
    (_good("S3", site_code="NOPE"), "unknown_site"),
    (_good("S4", kind=""), "missing_value"),
    (_good("S5", kind="walk_in"), "value_not_allowed"),
    (_good("S6", scanned_at="2022-13-01T00:00:00"), "bad_time"),
    (_good("S7", lon="200", lat="40"), "out_of_range_coordinate"),
    (_good("S8", temperature_c="45.1"), "out_of_range_temperature"),
    (_good("S9", nat_hours="-1"), "out_of_range_value"),
    (_good("S10", nat_hours="soon"), "bad_number"),
    (_good("S11", risk_area_visit="maybe"), "bad_boolean"),
    (_good("S12", lon="120.8"), "missing_value"),
]


def test_each_bad_scan_has_its_reason(world: Path, engine: Engine) -> None:
    rows = [_good("G1")] + [r for r, _ in _BAD_SCANS] + [_good("G2", P2)]
    path = write_rows(world / "bad.csv", SCAN_COLS, rows)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("S13,too,few\n")
        fh.write(",".join(_good("G3", P3)) + "\n")
    res = load_feed("scans", path, engine=engine)
    n_bad = len(_BAD_SCANS) + 1
    assert (res.read, res.loaded, res.duplicates, res.rejected) == (len(rows) + 2, 3, 0, n_bad)
    got = _rejects(engine, res.run_id)
    expected = {i + 3: reason for i, (_, reason) in enumerate(_BAD_SCANS)}
    expected[len(rows) + 2] = "wrong_field_count"
    assert {k: v[0] for k, v in got.items()} == expected
    assert got[len(rows) + 2][1] == "3 fields, expected 12"
    assert "site_code='NOPE'" in got[5][1]
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT event_id FROM scans")).scalars()) == ["G1", "G2", "G3"]


def test_every_problem_of_a_row_is_kept(world: Path, engine: Engine) -> None:
    row = _good("M1", scanned_at="yesterday", code_color="purple", temperature_c="hot", site_code="X")
    res = load_feed("scans", write_rows(world / "m.csv", SCAN_COLS, [row]), engine=engine)
    reason, detail = _rejects(engine, res.run_id)[2]
    assert reason == "unknown_site" or reason == "bad_time"
    for part in ("bad_time: scanned_at='yesterday'", "value_not_allowed: code_color='purple'",
                 "bad_number: temperature_c='hot'", "unknown_site: site_code='X'"):
        assert part in detail


def test_other_feeds_reasons(world: Path, engine: Engine) -> None:
    """unknown_pass, unknown_site (wrong kind), unknown_district, bad_time_order, malformed_row, bad_geometry."""
    x = write_rows(world / "x.csv", ["crossing_id", "pass_id", "plate", "checkpoint_code", "direction", "crossed_at",
                                     "verified", "sealed", "processing_s", "outcome"], [
        ["X9", "NOPASS", "辽P1", "CP1", "in", "2022-04-01T10:00:00", "true", "true", "", "released"],
        ["X10", "", "辽P1", "V1", "in", "2022-04-01T10:00:00", "true", "true", "", "released"],  # V1 is no checkpoint
        ["X11", "PS1", "辽P1", "CP1", "out", "2022-04-01T10:00:00", "true", "false", "3", "released"],
    ])
    res = load_feed("crossings", x, engine=engine)
    assert {k: v[0] for k, v in _rejects(engine, res.run_id).items()} == {2: "unknown_pass", 3: "unknown_site"}
    r = write_rows(world / "r.csv", ["registration_id", "person_ref", "origin_city", "origin_risk", "arrival_date",
                                     "community_code", "purpose"], [
        ["R9", P1, "上海", "high", "2022-04-01", "211403001", "business"],  # a street, not a community
        ["R10", P1, "上海", "high", "2022-04-01", "999", "business"],
        ["R11", P1, "上海", "high", "2022-04-31", "211403001001", "business"],
    ])
    res = load_feed("returnees", r, engine=engine)
    assert {k: v[0] for k, v in _rejects(engine, res.run_id).items()} == {
        2: "unknown_district", 3: "unknown_district", 4: "bad_time"}
    s = write_rows(world / "s.csv", ["site_code", "kind", "name", "lon", "lat", "district_code"], [
        ["Z1", "venue", "x", "120.8", "40.7", "nowhere"], ["Z2", "venue", "x", "120.8", "40.7", ""]])
    res = load_feed("sites", s, engine=engine)
    assert ({k: v[0] for k, v in _rejects(engine, res.run_id).items()}, res.loaded) == ({2: "unknown_district"}, 1)
    n = world / "n.jsonl"
    n.write_text(json.dumps({"sample_id": "N8", "person_ref": P2, "site_code": "NAT1",
                             "sampled_at": "2022-04-02T08:00:00", "reported_at": "2022-04-02T07:00:00",
                             "result": "negative"}) + "\n{not json\n\n[1, 2]\n", encoding="utf-8")
    res = load_feed("nat", n, engine=engine)
    assert (res.read, res.rejected) == (3, 3)
    assert {k: v[0] for k, v in _rejects(engine, res.run_id).items()} == {
        1: "bad_time_order", 2: "malformed_row", 4: "malformed_row"}
    g = world / "g.geojson"
    g.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "Q1", "name_zh": "q", "name_en": "q", "level": "community",
                                           "parent_code": "211403001"}, "geometry": {"type": "Point",
                                                                                     "coordinates": [1, 2]}},
        {"type": "Feature", "properties": {"code": "Q2", "name_zh": "q", "name_en": "q", "level": "community",
                                           "parent_code": "NOPE"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}]}))
    res = load_feed("districts", g, engine=engine)
    assert {k: v[0] for k, v in _rejects(engine, res.run_id).items()} == {1: "bad_geometry", 2: "unknown_district"}


def test_every_reason_code_is_reachable(world: Path, engine: Engine) -> None:
    """The ledger of the reason tests above covers REASONS (run here on one database)."""
    test_each_bad_scan_has_its_reason(world, engine)
    test_other_feeds_reasons(world, engine)
    with engine.connect() as conn:
        seen = set(conn.execute(text("SELECT DISTINCT reason FROM rejects")).scalars())
    assert seen == set(REASONS)


def test_mixed_file_counts_match_database_row_for_row(world: Path, engine: Engine) -> None:
    rows, bad_lines = [], set()
    for i in range(300):
        if i % 7 == 3:
            rows.append(_good(f"K{i}", temperature_c="99"))
            bad_lines.add(i + 2)
        elif i % 11 == 5:
            rows.append(_good(f"K{i - 1}"))  # repeats the previous id: a duplicate in the file
        else:
            rows.append(_good(f"K{i}", PERSONS[i % 4], scanned_at=f"2022-04-0{1 + i % 3}T1{i % 10}:00:00+08:00"))
    path = write_rows(world / "mixed.csv", SCAN_COLS, rows)
    res = load_feed("scans", path, engine=engine)
    assert res.read == 300 == res.loaded + res.duplicates + res.rejected
    with engine.connect() as conn:
        loaded = set(conn.execute(text("SELECT event_id FROM scans")).scalars())
        rejected = set(conn.execute(text("SELECT row_number FROM rejects WHERE run_id = :r"), {"r": res.run_id})
                       .scalars())
        ledger = conn.execute(text("SELECT read, loaded, duplicates, rejected, status FROM ingest_runs "
                                   "WHERE run_id = :r"), {"r": res.run_id}).one()
    good_ids = {r[0] for i, r in enumerate(rows) if i + 2 not in bad_lines}
    assert loaded == good_ids and len(loaded) == res.loaded
    assert rejected == bad_lines and len(rejected) == res.rejected
    assert tuple(ledger) == (res.read, res.loaded, res.duplicates, res.rejected, "completed")
    again = load_feed("scans", path, engine=engine)
    assert (again.loaded, again.duplicates, again.rejected) == (0, res.loaded + res.duplicates, res.rejected)


@pytest.mark.parametrize(("name", "content", "needle"), [
    ("scans.txt", "event_id\n", "unknown extension"),
    ("scans.csv", "", "empty file"),
    ("scans.csv", "person_ref,site_code\nx,y\n", "no 'event_id' column"),
    ("scans.csv", "event_id,person_ref\nx,y\n", "missing required columns"),
    ("scans.parquet", "not parquet at all", "not a readable Parquet"),
    ("scans.jsonl", "[1]\nnot json\n", "no JSON object"),
    ("scans.jsonl", '{"person_ref": "x"}\n', "no 'event_id' column"),
])
def test_unreadable_files_load_nothing(world: Path, engine: Engine, name: str, content: str, needle: str) -> None:
    path = world / name
    path.write_text(content)
    with pytest.raises(FeedError, match=needle) as err:
        load_feed("scans", path, engine=engine)
    assert "\n" not in str(err.value)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM scans")).scalar_one() == 0
        run = conn.execute(text("SELECT status, message FROM ingest_runs WHERE feed = 'scans'")).one()
    assert run.status == "failed" and needle in run.message


def test_geojson_that_is_not_a_feature_collection(world: Path, engine: Engine) -> None:
    path = world / "d.geojson"
    path.write_text('{"type": "Feature"}')
    with pytest.raises(FeedError, match="FeatureCollection"):
        load_feed("districts", path, engine=engine)
    with pytest.raises(FeedError, match="unknown feed"):
        load_feed("buses", path, engine=engine)


def test_extra_columns_reported_once(world: Path, engine: Engine) -> None:
    path = write_rows(world / "e.csv", [*SCAN_COLS, "device", "note"], [_good("E9") + ["d1", "n"]])
    res = load_feed("scans", path, engine=engine)
    assert res.extra_columns == ("device", "note") and res.loaded == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT extra_columns FROM ingest_runs WHERE run_id = :r"), {"r": res.run_id})\
            .scalar_one() == ["device", "note"]


def test_no_person_reference_in_clear(world: Path, engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    """Raw references never reach the ledgers, logs or output; the encrypted raw row keeps them."""
    caplog.set_level(logging.DEBUG)
    rows = [_good("P1", P1), _good("P2", P2, code_color="pink"), _good("P3", P3, site_code="NOPE"),
            _good("P4", " " + P4.lower() + " ", scanned_at="never")]
    path = write_rows(world / "p.csv", SCAN_COLS, rows)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"P5,{P1},V1\n")
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", "scans", str(path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["rejected"] == 4 and summary["loaded"] == 1
    pseudo = Pseudonymiser.from_settings()
    with engine.connect() as conn:
        ledger = conn.execute(text("SELECT detail, raw_redacted, raw_encrypted FROM rejects")).all()
        runs = conn.execute(text("SELECT * FROM ingest_runs")).all()
    texts = [result.output, caplog.text, *(str(r) for r in runs)] + [f"{d} {r}" for d, r, _ in ledger]
    for ref in PERSONS:
        for form in (ref, normalise_ref(ref), ref.lower()):
            assert not any(form in t for t in texts), form
    redacted = [r for _, r, _ in ledger if r is not None]
    assert any(f"pid:{pseudo.person_id(P2)}" in r for r in redacted)
    raws = [pseudo.decrypt_text(b) for _, _, b in ledger]
    assert any(P2 in r for r in raws) and any(f"P5,{P1},V1" == r for r in raws)


def test_cli_ingest_folder_and_errors(app_env: Path, tmp_path: Path) -> None:
    write_world(tmp_path / "w", "csv")
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", "all", str(tmp_path / "w"), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.strip().splitlines()]
    assert [x["feed"] for x in lines] == ["districts", "sites", "passes", "crossings", "scans", "nat", "isolation",
                                          "meds", "returnees", "all"]
    assert all(set(x) == {"feed", "read", "loaded", "duplicates", "rejected", "seconds"} for x in lines)
    assert lines[-1]["loaded"] == sum(x["loaded"] for x in lines[:-1]) == 28
    again = runner.invoke(app, ["ingest", "scans", str(tmp_path / "w" / "scans.csv")])
    assert again.exit_code == 0
    assert again.stdout.startswith("scans scans.csv: read 6, loaded 0, duplicates 6, rejected 0 in ")
    bad = runner.invoke(app, ["ingest", "scans", str(tmp_path / "w" / "districts.geojson")])
    assert bad.exit_code != 0
    unknown = runner.invoke(app, ["ingest", "buses", str(tmp_path)])
    assert unknown.exit_code != 0
