"""Daily H3 rollups of scan events (resolutions 7-10) with HyperLogLog person sketches.

Distinct persons over many days are not additive; a HyperLogLog sketch per cell and
day is (postgresql-hll: exact below ~160 persons per cell, ~2% error above). The
rollups are refreshed per local day by ``refresh_scan_rollup`` after each ingest.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_UP = r"""
CREATE EXTENSION IF NOT EXISTS hll;

-- The parent of an H3 cell (BIGINT) at a coarser resolution: set the resolution field
-- (bits 52-55) and mark every digit past it unused (7 = binary 111).
CREATE FUNCTION h3_parent(cell bigint, res integer) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (cell & ~(15::bigint << 52)) | (res::bigint << 52) | ((1::bigint << (3 * (15 - res))) - 1)
$$;

CREATE TABLE scan_cells_daily (
    res               smallint NOT NULL CHECK (res BETWEEN 7 AND 10),
    day               date NOT NULL,
    h3                bigint NOT NULL,
    scans             integer NOT NULL,
    abnormal          integer NOT NULL,
    persons           hll NOT NULL,
    abnormal_persons  hll NOT NULL,
    PRIMARY KEY (res, day, h3)
);

-- Which local days have been rolled up, and when.
CREATE TABLE scan_rollup_days (
    day           date PRIMARY KEY,
    refreshed_at  timestamptz NOT NULL DEFAULT now(),
    cells         integer NOT NULL
);

-- Recompute one local day of the rollup from its scan partition. An abnormal scan is a
-- yellow or red code or a temperature at or above max_temp (the active-scan rule).
CREATE FUNCTION refresh_scan_rollup(d date, zone text, max_temp real) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz := (d::timestamp) AT TIME ZONE zone;
    hi timestamptz := ((d + 1)::timestamp) AT TIME ZONE zone;
    n integer;
BEGIN
    DELETE FROM scan_cells_daily WHERE day = d;
    INSERT INTO scan_cells_daily (res, day, h3, scans, abnormal, persons, abnormal_persons)
    SELECT r.res, d, h3_parent(s.h3, r.res), count(*),
           count(*) FILTER (WHERE s.code_color <> 'green' OR s.temperature_c >= max_temp),
           hll_add_agg(hll_hash_bigint(s.person_id)),
           coalesce(hll_add_agg(hll_hash_bigint(s.person_id))
                    FILTER (WHERE s.code_color <> 'green' OR s.temperature_c >= max_temp), hll_empty())
    FROM scans s CROSS JOIN (VALUES (7), (8), (9), (10)) AS r(res)
    WHERE s.scanned_at >= lo AND s.scanned_at < hi
    GROUP BY r.res, h3_parent(s.h3, r.res);
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO scan_rollup_days (day, refreshed_at, cells) VALUES (d, now(), n)
        ON CONFLICT (day) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at, cells = EXCLUDED.cells;
    RETURN n;
END $$;
"""

_DOWN = """
DROP FUNCTION IF EXISTS refresh_scan_rollup(date, text, real);
DROP TABLE IF EXISTS scan_cells_daily, scan_rollup_days;
DROP FUNCTION IF EXISTS h3_parent(bigint, integer);
"""


def upgrade() -> None:
    op.execute(_UP)


def downgrade() -> None:
    op.execute(_DOWN)
