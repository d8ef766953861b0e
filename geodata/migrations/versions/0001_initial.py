"""Initial schema: reference geography, persons, the nine feeds, ledgers, audit log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_UP = r"""
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE districts (
    code         text PRIMARY KEY,
    name_zh      text NOT NULL,
    name_en      text NOT NULL,
    level        text NOT NULL CHECK (level IN ('district', 'street', 'community')),
    parent_code  text REFERENCES districts (code),
    population   integer CHECK (population >= 0),
    synthetic    boolean NOT NULL DEFAULT false,
    geom         geometry(MultiPolygon, 4326) NOT NULL
);
CREATE INDEX districts_geom_idx ON districts USING gist (geom);
CREATE INDEX districts_parent_idx ON districts (parent_code);

CREATE TABLE sites (
    site_id        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_code      text NOT NULL UNIQUE,
    kind           text NOT NULL CHECK (kind IN ('checkpoint', 'venue', 'school', 'pharmacy',
                       'isolation_site', 'nat_site', 'clinic', 'community_office')),
    name           text NOT NULL,
    lon            double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat            double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    geom           geometry(Point, 4326) NOT NULL,
    h3             bigint NOT NULL,
    district_code  text REFERENCES districts (code),
    capacity       integer CHECK (capacity >= 0)
);
CREATE INDEX sites_kind_idx ON sites (kind);
CREATE INDEX sites_district_idx ON sites (district_code);
CREATE INDEX sites_geom_idx ON sites USING gist (geom);

CREATE TABLE persons (
    person_id      bigint PRIMARY KEY CHECK (person_id >= 0),
    ref_encrypted  bytea NOT NULL,
    first_seen     timestamptz NOT NULL DEFAULT now()
);

-- Scan events, partitioned by local day (see scan_partition). No foreign keys here on
-- purpose: ingest resolves persons and sites before loading, and per-row FK checks
-- would halve the load rate. The event id is unique per event time (the partition key).
CREATE TABLE scans (
    event_id         text NOT NULL,
    person_id        bigint NOT NULL,
    site_id          integer NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('active_scan', 'venue_checkin')),
    scanned_at       timestamptz NOT NULL,
    lon              double precision NOT NULL,
    lat              double precision NOT NULL,
    h3               bigint NOT NULL,
    code_color       text NOT NULL CHECK (code_color IN ('green', 'yellow', 'red')),
    temperature_c    real CHECK (temperature_c BETWEEN 34 AND 43),
    nat_hours        real CHECK (nat_hours >= 0),
    risk_area_visit  boolean,
    outcome          text NOT NULL CHECK (outcome IN ('admitted', 'denied')),
    PRIMARY KEY (event_id, scanned_at)
) PARTITION BY RANGE (scanned_at);
CREATE INDEX scans_site_time_idx ON scans (site_id, scanned_at) INCLUDE (person_id);
CREATE INDEX scans_person_time_idx ON scans (person_id, scanned_at);
CREATE INDEX scans_h3_time_idx ON scans (h3, scanned_at);

-- One partition per local day (the zone is the argument); idempotent.
CREATE FUNCTION scan_partition(day date, zone text DEFAULT 'Asia/Shanghai') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    part text := format('scans_p%s', to_char(day, 'YYYYMMDD'));
    lo timestamptz := (day::timestamp) AT TIME ZONE zone;
    hi timestamptz := ((day + 1)::timestamp) AT TIME ZONE zone;
BEGIN
    IF to_regclass(part) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF scans FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    END IF;
    RETURN part;
END $$;

-- Geometry view of scan events for GIS tools (points are built on the fly).
CREATE VIEW scans_geo AS
    SELECT s.*, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)::geometry(Point, 4326) AS geom
    FROM scans s;

CREATE TABLE passes (
    pass_id              text PRIMARY KEY,
    plate                text NOT NULL,
    driver_id            bigint NOT NULL REFERENCES persons (person_id),
    category             text NOT NULL CHECK (category IN ('emergency_supplies', 'bulk_cargo', 'resident')),
    enterprise           text,
    origin_city          text NOT NULL,
    destination_site_id  integer REFERENCES sites (site_id),
    applied_at           timestamptz NOT NULL,
    reviewer_dept        text,
    decided_at           timestamptz,
    decision             text CHECK (decision IN ('approved', 'rejected', 'pending')),
    valid_from           timestamptz,
    valid_to             timestamptz,
    CHECK (decided_at IS NULL OR decided_at >= applied_at),
    CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from)
);
CREATE INDEX passes_applied_idx ON passes (applied_at);
CREATE INDEX passes_plate_idx ON passes (plate);

CREATE TABLE crossings (
    crossing_id     text PRIMARY KEY,
    pass_id         text REFERENCES passes (pass_id),
    plate           text NOT NULL,
    checkpoint_id   integer NOT NULL REFERENCES sites (site_id),
    direction       text NOT NULL CHECK (direction IN ('in', 'out')),
    crossed_at      timestamptz NOT NULL,
    verified        boolean NOT NULL,
    sealed          boolean NOT NULL,
    processing_s    real CHECK (processing_s >= 0),
    outcome         text NOT NULL CHECK (outcome IN ('released', 'turned_back'))
);
CREATE INDEX crossings_checkpoint_time_idx ON crossings (checkpoint_id, crossed_at);
CREATE INDEX crossings_time_idx ON crossings (crossed_at);

CREATE TABLE nat_results (
    sample_id    text PRIMARY KEY,
    person_id    bigint NOT NULL REFERENCES persons (person_id),
    site_id      integer NOT NULL REFERENCES sites (site_id),
    sampled_at   timestamptz NOT NULL,
    reported_at  timestamptz,
    result       text NOT NULL CHECK (result IN ('negative', 'positive')),
    CHECK (reported_at IS NULL OR reported_at >= sampled_at)
);
CREATE INDEX nat_person_time_idx ON nat_results (person_id, sampled_at);
CREATE INDEX nat_positive_idx ON nat_results (sampled_at) WHERE result = 'positive';

CREATE TABLE isolation_stays (
    stay_id        text PRIMARY KEY,
    person_id      bigint NOT NULL REFERENCES persons (person_id),
    site_id        integer NOT NULL REFERENCES sites (site_id),
    category       text NOT NULL CHECK (category IN ('case', 'close_contact', 'secondary_contact', 'inbound', 'other')),
    admitted_at    timestamptz NOT NULL,
    discharged_at  timestamptz,
    CHECK (discharged_at IS NULL OR discharged_at >= admitted_at)
);
CREATE INDEX isolation_site_time_idx ON isolation_stays (site_id, admitted_at);
CREATE INDEX isolation_person_idx ON isolation_stays (person_id, admitted_at);

CREATE TABLE med_purchases (
    purchase_id   text PRIMARY KEY,
    person_id     bigint NOT NULL REFERENCES persons (person_id),
    site_id       integer NOT NULL REFERENCES sites (site_id),
    purchased_at  timestamptz NOT NULL,
    drug_class    text NOT NULL CHECK (drug_class IN ('antipyretic', 'antibiotic', 'antiviral', 'cough')),
    h3            bigint NOT NULL
);
CREATE INDEX meds_time_idx ON med_purchases (purchased_at);
CREATE INDEX meds_h3_time_idx ON med_purchases (h3, purchased_at);

CREATE TABLE returnees (
    registration_id  text PRIMARY KEY,
    person_id        bigint NOT NULL REFERENCES persons (person_id),
    origin_city      text NOT NULL,
    origin_risk      text NOT NULL CHECK (origin_risk IN ('low', 'medium', 'high')),
    arrival_date     date NOT NULL,
    community_code   text NOT NULL REFERENCES districts (code),
    purpose          text NOT NULL CHECK (purpose IN ('family_visit', 'business', 'return_home'))
);
CREATE INDEX returnees_arrival_idx ON returnees (arrival_date);
CREATE INDEX returnees_community_idx ON returnees (community_code);

CREATE TABLE ingest_runs (
    run_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feed           text NOT NULL,
    source         text NOT NULL,
    file_sha256    text,
    crs            text NOT NULL DEFAULT 'wgs84' CHECK (crs IN ('wgs84', 'gcj02')),
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    status         text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
    read           bigint NOT NULL DEFAULT 0,
    loaded         bigint NOT NULL DEFAULT 0,
    duplicates     bigint NOT NULL DEFAULT 0,
    rejected       bigint NOT NULL DEFAULT 0,
    seconds        double precision,
    extra_columns  text[],
    message        text
);
CREATE INDEX ingest_runs_feed_idx ON ingest_runs (feed, started_at);

-- The reject ledger. The raw row is kept twice: redacted (person references
-- replaced by their pseudonym) for everyone, and encrypted with the person-ref key
-- for the cdc role; a raw reference is never stored in clear.
CREATE TABLE rejects (
    reject_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id         bigint NOT NULL REFERENCES ingest_runs (run_id),
    feed           text NOT NULL,
    source         text NOT NULL,
    row_number     bigint NOT NULL,
    reason         text NOT NULL,
    detail         text,
    raw_redacted   text,
    raw_encrypted  bytea
);
CREATE INDEX rejects_run_idx ON rejects (run_id);

-- Append-only audit log of every view of a named person.
CREATE TABLE audit_log (
    audit_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    actor          text NOT NULL,
    role           text NOT NULL,
    action         text NOT NULL,
    person_id      bigint,
    purpose        text,
    rows_returned  integer,
    detail         jsonb
);
CREATE INDEX audit_person_idx ON audit_log (person_id, at);
CREATE INDEX audit_actor_idx ON audit_log (actor, at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('sandtable.audit_purge', true) = 'on' AND TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
"""

_DOWN = """
DROP TABLE IF EXISTS audit_log, rejects, ingest_runs, returnees, med_purchases, isolation_stays,
    nat_results, crossings, passes CASCADE;
DROP VIEW IF EXISTS scans_geo;
DROP TABLE IF EXISTS scans CASCADE;
DROP FUNCTION IF EXISTS scan_partition(date, text);
DROP FUNCTION IF EXISTS audit_log_append_only() CASCADE;
DROP TABLE IF EXISTS persons, sites, districts CASCADE;
"""


def upgrade() -> None:
    op.execute(_UP)


def downgrade() -> None:
    op.execute(_DOWN)
