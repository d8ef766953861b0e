"""Ingest on the real database: every feed, three formats, GCJ-02, reruns, partitions."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import h3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geodata.privacy import Pseudonymiser, normalise_ref
from ingest import FEEDS, load_directory, load_feed
from ingest import readers
from tests.ingest_feeds import PERSONS, WORLD_COUNTS, community_points, write_rows, write_world

pytestmark = pytest.mark.db

_TABLE_ROWS = {"sites": "sites", "passes": "passes", "crossings": "crossings", "scans": "scans",
               "nat": "nat_results", "isolation": "isolation_stays", "meds": "med_purchases",
               "returnees": "returnees"}


def _count(engine: Engine, sql: str, **params) -> int:  # noqa: ANN003
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_every_feed_loads(app_env: Path, engine: Engine, tmp_path: Path, fmt: str) -> None:
    files = write_world(tmp_path / "feeds", fmt)
    results = load_directory(tmp_path / "feeds", engine=engine)
    assert [r.feed for r in results] == list(FEEDS)[:1] + ["sites", "passes", "crossings", "scans", "nat",
                                                            "isolation", "meds", "returnees"]
    for r in results:
        assert (r.read, r.loaded, r.duplicates, r.rejected) == (WORLD_COUNTS[r.feed], WORLD_COUNTS[r.feed], 0, 0), r
        assert r.source == str(files[r.feed])
    for feed, table in _TABLE_ROWS.items():
        assert _count(engine, f"SELECT count(*) FROM {table}") == WORLD_COUNTS[feed]
    pseudo = Pseudonymiser.from_settings()
    pts = community_points(6)
    with engine.connect() as conn:
        # sites: point-in-polygon community unless given; H3 at resolution 10
        sites = {r.site_code: r for r in conn.execute(text(
            "SELECT site_code, kind, lon, lat, h3, district_code, capacity, ST_X(geom) AS gx FROM sites"))}
        for (code, lon, lat), sc in zip(pts, ["CP1", "V1", "PH1", "ISO1", "NAT1", "V2"]):
            s = sites[sc]
            assert s.district_code == code
            assert abs(s.lon - lon) < 1e-8 and abs(s.lat - lat) < 1e-8 and s.gx == s.lon
            assert s.h3 == h3.str_to_int(h3.latlng_to_cell(s.lat, s.lon, 10))
        assert sites["ISO1"].capacity == 50 and sites["V1"].capacity is None
        # scans: pseudonyms, site ids, default coordinates, local-day partitions
        scans = {r.event_id: r for r in conn.execute(text(
            """SELECT s.*, si.site_code, s.tableoid::regclass::text AS part FROM scans s
               JOIN sites si USING (site_id)"""))}
        assert scans["E1"].person_id == pseudo.person_id(PERSONS[0]) == scans["E4"].person_id
        assert (scans["E1"].lon, scans["E1"].lat, scans["E1"].h3) == (sites["V1"].lon, sites["V1"].lat, sites["V1"].h3)
        assert abs(scans["E2"].lon - (pts[1][1] + 0.0002)) < 1e-8
        assert scans["E2"].h3 == h3.str_to_int(h3.latlng_to_cell(scans["E2"].lat, scans["E2"].lon, 10))
        assert scans["E2"].scanned_at == datetime(2022, 4, 1, 0, 10, tzinfo=timezone.utc)  # 08:10 local
        assert scans["E3"].part == "scans_p20220401" and scans["E4"].part == "scans_p20220402"
        assert (scans["E3"].temperature_c, scans["E3"].nat_hours, scans["E3"].risk_area_visit) == (
            pytest.approx(37.8), 50.0, True)
        assert (scans["E1"].temperature_c, scans["E1"].risk_area_visit) == (None, None)
        assert scans["E6"].scanned_at.microsecond == 250_000
        # persons: one row per distinct reference, encrypted, never in clear
        persons = conn.execute(text("SELECT person_id, ref_encrypted FROM persons")).all()
        assert {p for p, _ in persons} == {pseudo.person_id(r) for r in PERSONS}
        assert sorted(pseudo.decrypt(b) for _, b in persons) == sorted(normalise_ref(r) for r in PERSONS)
        x = {r.crossing_id: r for r in conn.execute(text("SELECT * FROM crossings"))}
        assert x["X2"].pass_id is None and x["X1"].pass_id == "PS1" and x["X3"].sealed is True
        assert x["X1"].checkpoint_id == x["X2"].checkpoint_id
        assert conn.execute(text("SELECT driver_id FROM passes WHERE pass_id = 'PS1'")).scalar_one() == \
            pseudo.person_id(PERSONS[0])
        assert conn.execute(text("SELECT decided_at IS NULL AND valid_to IS NULL FROM passes WHERE pass_id = 'PS2'"))\
            .scalar_one()
        meds_h3 = conn.execute(text("SELECT DISTINCT h3 FROM med_purchases")).scalars().all()
        assert meds_h3 == [sites["PH1"].h3]
        assert conn.execute(text("SELECT arrival_date FROM returnees WHERE registration_id = 'R1'")).scalar_one() == \
            date(2022, 4, 1)
        new = conn.execute(text("SELECT code, synthetic, parent_code FROM districts WHERE code LIKE '211403901%' "
                                "ORDER BY code")).all()
        assert new == [("211403901", False, "211403"), ("211403901001", False, "211403901")]
        runs = conn.execute(text("SELECT status, file_sha256, read, loaded FROM ingest_runs ORDER BY run_id")).all()
        assert all(r.status == "completed" and len(r.file_sha256) == 64 for r in runs) and len(runs) == 9


def test_rerun_loads_nothing(app_env: Path, engine: Engine, tmp_path: Path) -> None:
    write_world(tmp_path / "feeds", "csv")
    first = load_directory(tmp_path / "feeds", engine=engine)
    before = {t: _count(engine, f"SELECT count(*) FROM {t}") for t in [*_TABLE_ROWS.values(), "persons", "districts"]}
    second = load_directory(tmp_path / "feeds", engine=engine)
    for a, b in zip(first, second):
        assert (b.read, b.loaded, b.duplicates, b.rejected) == (a.read, 0, a.read, 0), b
    after = {t: _count(engine, f"SELECT count(*) FROM {t}") for t in before}
    assert after == before
    with engine.connect() as conn:
        hashes = conn.execute(text("SELECT feed, count(DISTINCT file_sha256), count(*) FROM ingest_runs "
                                   "GROUP BY feed")).all()
    assert all(n_hash == 1 and n == 2 for _, n_hash, n in hashes)


def test_gcj02_input_is_stored_as_wgs84(app_env: Path, engine: Engine, tmp_path: Path) -> None:
    write_world(tmp_path / "wgs", "csv")
    write_world(tmp_path / "gcj", "csv", crs="gcj02")
    load_directory(tmp_path / "gcj", crs="gcj02", engine=engine)
    with engine.connect() as conn:
        got = dict(conn.execute(text("SELECT site_code, ARRAY[lon, lat] FROM sites")).all())
        e2 = conn.execute(text("SELECT lon, lat FROM scans WHERE event_id = 'E2'")).one()
        square = conn.execute(text("SELECT ST_XMin(geom), ST_YMin(geom) FROM districts WHERE code = '211403901001'"))\
            .one()
    pts = community_points(6)
    for (_, lon, lat), sc in zip(pts, ["CP1", "V1", "PH1", "ISO1", "NAT1", "V2"]):
        assert got[sc] == pytest.approx([lon, lat], abs=1e-7)
    assert (e2.lon, e2.lat) == pytest.approx((pts[1][1] + 0.0002, pts[1][2] + 0.0001), abs=1e-7)
    assert square == pytest.approx((pts[0][1] - 0.001, pts[0][2] - 0.001), abs=1e-7)
    # the same world in WGS-84 is nothing new
    again = load_directory(tmp_path / "wgs", engine=engine)
    assert sum(r.loaded for r in again if r.feed != "districts") == 0


def test_parquet_with_typed_columns(app_env: Path, engine: Engine, tmp_path: Path) -> None:
    write_world(tmp_path, "csv")
    for feed in ("districts", "sites"):
        load_feed(feed, next(tmp_path.glob(f"{feed}.*")), engine=engine)
    t0 = datetime(2022, 4, 5, 1, 0, tzinfo=timezone.utc)
    table = pa.table({
        "event_id": ["T1", "T2", "T3"],
        "person_ref": PERSONS[:3],
        "site_code": pa.array(["V1", "V2", "V1"]).dictionary_encode(),
        "kind": ["venue_checkin"] * 3,
        "scanned_at": pa.array([t0, t0 + timedelta(hours=1), t0 + timedelta(hours=2)], pa.timestamp("ms", "UTC")),
        "lon": pa.array([None, None, None], pa.float64()),
        "lat": pa.array([None, None, None], pa.float64()),
        "code_color": ["green"] * 3,
        "temperature_c": pa.array([36.6, None, 38.0], pa.float32()),
        "nat_hours": pa.array([3, 4, None], pa.int32()),
        "risk_area_visit": pa.array([True, False, None]),
        "outcome": ["admitted", "admitted", "denied"],
    })
    pq.write_table(table, tmp_path / "typed.parquet")
    res = load_feed("scans", tmp_path / "typed.parquet", engine=engine)
    assert (res.loaded, res.rejected) == (3, 0)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT event_id, scanned_at, temperature_c, nat_hours, risk_area_visit "
                                 "FROM scans ORDER BY event_id")).all()
    assert rows[0] == ("T1", t0, pytest.approx(36.6), 3.0, True)
    assert rows[2][2:] == (38.0, None, None)


def _scan_rows(n: int, start: datetime, step_s: int, prefix: str = "B") -> list[list]:
    return [[f"{prefix}{i}", PERSONS[i % 4], ["V1", "V2", "CP1"][i % 3], "venue_checkin",
             (start + timedelta(seconds=i * step_s)).isoformat(), None, None, "green", None, None, None, "admitted"]
            for i in range(n)]


_SCAN_COLS = ["event_id", "person_ref", "site_code", "kind", "scanned_at", "lon", "lat", "code_color",
              "temperature_c", "nat_hours", "risk_area_visit", "outcome"]


def test_many_batches_new_and_existing_days(app_env: Path, engine: Engine, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Small CSV blocks: rows of one day span batches; one day has a partition, two are new."""
    monkeypatch.setattr(readers, "_CSV_BLOCK", 8 << 10)
    write_world(tmp_path, "csv")
    for feed in ("districts", "sites"):
        load_feed(feed, next(tmp_path.glob(f"{feed}.*")), engine=engine)
    with engine.begin() as conn:
        conn.execute(text("SELECT scan_partition(CAST('2022-05-02' AS date), 'Asia/Shanghai')"))
    start = datetime(2022, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=8)))
    rows = _scan_rows(1500, start, 173)  # ~3 days
    rows.insert(700, list(rows[10]))  # a repeat across batches
    path = write_rows(tmp_path / "many.csv", _SCAN_COLS, rows)
    res = load_feed("scans", path, engine=engine)
    assert (res.read, res.loaded, res.duplicates, res.rejected) == (1501, 1500, 1, 0)
    assert res.scan_days == (date(2022, 5, 1), date(2022, 5, 2), date(2022, 5, 3), date(2022, 5, 4))
    with engine.connect() as conn:
        per_part = dict(conn.execute(text("SELECT tableoid::regclass::text, count(*) FROM scans GROUP BY 1")).all())
        idx = conn.execute(text(
            """SELECT c.relname, count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               JOIN pg_index x ON x.indrelid = c.oid WHERE i.inhparent = 'scans'::regclass GROUP BY 1""")).all()
        pkeys = conn.execute(text("SELECT count(*) FROM pg_constraint WHERE contype = 'p' "
                                  "AND conrelid::regclass::text LIKE 'scans_p202205%'")).scalar_one()
    assert sum(per_part.values()) == 1500 and len(per_part) == 4
    assert all(n == 4 for _, n in idx)  # every partition has the parent's four indexes
    assert pkeys == 4
    again = load_feed("scans", path, engine=engine)
    assert (again.loaded, again.duplicates) == (0, 1501)


def test_scan_rollups_of_touched_days_are_dropped(app_env: Path, engine: Engine, tmp_path: Path) -> None:
    from ingest import refresh_rollups

    write_world(tmp_path / "w", "csv")
    results = load_directory(tmp_path / "w", engine=engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM scan_rollup_days")).scalar_one() == 3
    rows = _scan_rows(3, datetime(2022, 4, 2, 9, 0, tzinfo=timezone(timedelta(hours=8))), 60, prefix="L")
    res = load_feed("scans", write_rows(tmp_path / "late.csv", _SCAN_COLS, rows), engine=engine)
    assert res.scan_days == (date(2022, 4, 2),)
    with engine.connect() as conn:
        days = conn.execute(text("SELECT day FROM scan_rollup_days ORDER BY day")).scalars().all()
    assert days == [date(2022, 4, 1), date(2022, 4, 3)]
    assert refresh_rollups([res], engine) == 1
    with engine.connect() as conn:
        scans_0402 = conn.execute(text("SELECT scans FROM scan_cells_daily WHERE day = '2022-04-02' AND res = 7"))\
            .scalars().all()
    assert sum(scans_0402) == 2 + 3 and results


def test_existing_district_updates_but_keeps_synthetic(app_env: Path, engine: Engine, tmp_path: Path) -> None:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT code, name_zh, name_en, level, parent_code, population, synthetic, "
                                "ST_AsGeoJSON(geom, 17) AS g FROM districts WHERE code = '211403001001'")).one()
    assert row.synthetic
    props = {"code": row.code, "name_zh": row.name_zh, "name_en": row.name_en, "level": row.level,
             "parent_code": row.parent_code, "population": row.population}
    same = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": props,
                                                       "geometry": json.loads(row.g)}]}
    path = tmp_path / "d.geojson"
    path.write_text(json.dumps(same))
    res = load_feed("districts", path, engine=engine)
    assert (res.loaded, res.duplicates) == (0, 1)
    same["features"][0]["properties"]["population"] = row.population + 7
    path.write_text(json.dumps(same))
    res = load_feed("districts", path, engine=engine)
    assert (res.loaded, res.duplicates) == (1, 0)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT population, synthetic FROM districts WHERE code = '211403001001'")).one() \
            == (row.population + 7, True)


def test_copy_payload_round_trip(engine: Engine) -> None:
    """Every column type the encoder writes, with NULLs, reads back as written."""
    from ingest.copybin import Field, encode
    from ingest.load import _copy
    from psycopg import sql

    n = 5
    valid = np.array([True, False, True, True, False])
    fields = [
        Field("t", "text", pa.array(["a", "", "中文", "x" * 300, "e"]), valid),
        Field("i8", "int8", np.array([1, -2, 2**62, 0, 5], dtype=np.int64)),
        Field("i4", "int4", np.array([1, -2, 3, 4, 5], dtype=np.int32), valid),
        Field("f8", "float8", np.array([0.1, -1e300, 3.5, 0.0, 1.0])),
        Field("f4", "float4", np.array([36.6, 0, 1, 2, 3], dtype=np.float64), valid),
        Field("b", "bool", np.array([True, False, True, False, True]), valid),
        Field("ts", "timestamptz", np.array([0, 1, 1648771200123456, 4102444799000000, 5], dtype=np.int64)),
        Field("d", "date", np.array([0, 19083, 1, 2, 3], dtype=np.int32), valid),
        Field("e", "text", pa.DictionaryArray.from_arrays(pa.array([0, 1, 1, 0, 1], pa.int8()),
                                                          pa.array(["green", "red"])), valid),
        Field("y", "bytea", pa.array([b"\x00\x01", b"", b"z", b"\xff" * 3, b"q"], pa.binary())),
    ]
    payload = encode(fields, n)
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        cur = conn.cursor()
        cur.execute("CREATE TEMP TABLE rt (t text, i8 bigint, i4 integer, f8 double precision, f4 real, b boolean, "
                    "ts timestamptz, d date, e text, y bytea)")
        _copy(cur, sql.Identifier("rt"), payload.columns, [payload.data])
        rows = cur.execute("SELECT t, i8, i4, f8, f4, b, ts, d, e, y FROM rt").fetchall()
    finally:
        raw.close()
    assert rows[1] == (None, -2, None, -1e300, None, None, datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=timezone.utc),
                       None, None, b"")
    assert rows[2][0] == "中文" and rows[2][6] == datetime(2022, 4, 1, 0, 0, 0, 123456, tzinfo=timezone.utc)
    assert rows[0][4] == pytest.approx(36.6) and rows[0][7] == date(1970, 1, 1) and rows[0][8] == "green"
    assert rows[3][0] == "x" * 300 and rows[3][1] == 0 and rows[3][9] == b"\xff" * 3 and rows[3][8] == "green"
    assert payload.rows(1, 3).nbytes == int(payload.offsets[3] - payload.offsets[1])


def test_new_persons_fall_back_to_on_conflict(app_env: Path, engine: Engine) -> None:
    """A person written meanwhile by someone else (here: twice in one batch) does not fail the batch."""
    from ingest.load import Batch, Loader

    pseudo = Pseudonymiser.from_settings()
    pid = pseudo.person_id(PERSONS[0])
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        conn.autocommit = True
        loader = Loader(conn, feed="nat", table="nat_results", run_id=0, source="x", zone="Asia/Shanghai")
        batch = Batch(None, person_ids=np.array([pid, pid, pid + 1], dtype=np.int64),
                      person_blobs=[pseudo.encrypt(PERSONS[0])] * 2 + [pseudo.encrypt(PERSONS[1])])
        loader.load(batch)
        loader.load(batch)  # all stored already: nothing to do
    finally:
        raw.close()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT person_id, ref_encrypted FROM persons ORDER BY person_id")).all()
    assert [r[0] for r in rows] == [pid, pid + 1]
    assert pseudo.decrypt(rows[0][1]) == normalise_ref(PERSONS[0])
