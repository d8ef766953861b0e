"""The migrated schema on the real database."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from geodata.db import current_revision, head_revision, migrate
from geodata.schema import FEED_TABLES, include_object, metadata

pytestmark = pytest.mark.db


def test_models_match_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": include_object})
        assert compare_metadata(ctx, metadata) == []


def test_migrate_is_idempotent(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM districts")).scalar_one() == 73


def test_every_feed_has_a_unique_natural_id(engine: Engine) -> None:
    natural = {"districts": "code", "sites": "site_code", "scans": "event_id", "passes": "pass_id",
               "crossings": "crossing_id", "nat": "sample_id", "isolation": "stay_id",
               "meds": "purchase_id", "returnees": "registration_id"}
    assert set(natural) == set(FEED_TABLES)
    with engine.connect() as conn:
        for feed, column in natural.items():
            table = FEED_TABLES[feed].name
            unique_cols = conn.execute(text(
                """SELECT array_agg(a.attname ORDER BY a.attname) FROM pg_index i
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                   WHERE i.indrelid = CAST(:t AS regclass) AND i.indisunique GROUP BY i.indexrelid"""),
                {"t": table}).scalars().all()
            assert any(column in cols for cols in unique_cols), (feed, unique_cols)


def _site(conn, code: str, lon: float, lat: float) -> int:  # noqa: ANN001
    return conn.execute(text(
        """INSERT INTO sites (site_code, kind, name, lon, lat, geom, h3, district_code)
           VALUES (:c, 'venue', '测试', :lon, :lat, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 0,
                   (SELECT code FROM districts WHERE level = 'community'
                     AND ST_Contains(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))))
           RETURNING site_id"""), {"c": code, "lon": lon, "lat": lat}).scalar_one()


def test_point_in_district_and_community(engine: Engine) -> None:
    with engine.begin() as conn:
        inside = conn.execute(text(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM districts WHERE code = :c"),
            {"c": "211403001001"}).one()
        _site(conn, "S-IN", *inside)
        _site(conn, "S-OUT", 116.4, 39.9)  # Beijing
        rows = conn.execute(text(
            """SELECT s.site_code, s.district_code,
                      ST_Contains(d.geom, s.geom) AS in_longgang
               FROM sites s CROSS JOIN districts d WHERE d.level = 'district' ORDER BY 1""")).all()
    assert rows[0] == ("S-IN", "211403001001", True)
    assert rows[1] == ("S-OUT", None, False)


def test_scan_partitions_by_local_day(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("SELECT scan_partition(CAST('2022-04-01' AS date))"))
        conn.execute(text("SELECT scan_partition(CAST('2022-04-01' AS date))"))  # idempotent
        conn.execute(text("SELECT scan_partition(CAST('2022-04-02' AS date))"))
        ins = text("""INSERT INTO scans (event_id, person_id, site_id, kind, scanned_at, lon, lat, h3,
                                         code_color, outcome)
                      VALUES (:e, 1, 1, 'venue_checkin', :t, 120.8, 40.7, 0, 'green', 'admitted')
                      ON CONFLICT DO NOTHING""")
        # 23:30 local on 1 April is 15:30 UTC the same day; 00:30 local on 2 April is 16:30 UTC on 1 April
        conn.execute(ins, {"e": "a", "t": "2022-04-01T23:30:00+08:00"})
        conn.execute(ins, {"e": "b", "t": "2022-04-02T00:30:00+08:00"})
        dup = conn.execute(ins, {"e": "b", "t": "2022-04-02T00:30:00+08:00"})
        assert dup.rowcount == 0
        where = dict(conn.execute(text("SELECT event_id, tableoid::regclass::text FROM scans")).all())
    assert where == {"a": "scans_p20220401", "b": "scans_p20220402"}


def test_scan_outside_any_partition_is_refused(engine: Engine) -> None:
    with pytest.raises(IntegrityError, match="no partition"), engine.begin() as conn:
        conn.execute(text("""INSERT INTO scans (event_id, person_id, site_id, kind, scanned_at, lon, lat, h3,
                                                code_color, outcome)
                             VALUES ('x', 1, 1, 'venue_checkin', '1999-01-01T00:00:00Z', 0, 0, 0, 'green',
                                     'admitted')"""))


def test_value_checks(engine: Engine) -> None:
    with pytest.raises(IntegrityError, match="check"), engine.begin() as conn:
        conn.execute(text("SELECT scan_partition(CAST('2022-04-01' AS date))"))
        conn.execute(text("""INSERT INTO scans (event_id, person_id, site_id, kind, scanned_at, lon, lat, h3,
                                                code_color, outcome)
                             VALUES ('x', 1, 1, 'venue_checkin', '2022-04-01T10:00:00+08', 0, 0, 0, 'purple',
                                     'admitted')"""))


def test_audit_log_is_append_only(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_log (actor, role, action, purpose) VALUES ('u', 'cdc', 'trace', 'c1')"))
    for sql in ("UPDATE audit_log SET purpose = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT purpose FROM audit_log")).scalar_one() == "c1"
