"""Access: dashboard accounts, the application's database role, and retention helpers.

- ``users``: local accounts (scrypt password hashes), kiosk tokens (hashed) bound to a role.
- ``sandtable_app``: the role the dashboard connects as. It may read everything, append to
  ``audit_log`` (never update, delete or truncate it: privileges, on top of the trigger),
  keep the heatmap rollups fresh and record logins; nothing else.
- ``purge_audit(cutoff)``: the only way to delete audit rows, refusing anything younger
  than 183 days; owned by the schema owner, so the application role cannot bypass it.
- ``drop_scan_partition(day)``: retention drops whole day partitions.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_UP = r"""
CREATE TABLE users (
    name           text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    role           text NOT NULL CHECK (role IN ('cdc', 'command', 'transport', 'leader', 'analyst')),
    password_hash  text,
    token_hash     text UNIQUE,
    kiosk          boolean NOT NULL DEFAULT false,
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login     timestamptz,
    CHECK (password_hash IS NOT NULL OR token_hash IS NOT NULL),
    CHECK (NOT kiosk OR role = 'command')
);

CREATE FUNCTION purge_audit(cutoff timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    IF cutoff > now() - interval '183 days' THEN
        RAISE EXCEPTION 'the audit log is kept at least 183 days (cutoff % refused)', cutoff;
    END IF;
    PERFORM set_config('sandtable.audit_purge', 'on', true);
    DELETE FROM audit_log WHERE at < cutoff;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('sandtable.audit_purge', 'off', true);
    RETURN n;
END $$;

CREATE FUNCTION drop_scan_partition(day date) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    part text := format('scans_p%s', to_char(day, 'YYYYMMDD'));
    n bigint := 0;
BEGIN
    IF to_regclass(part) IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format('SELECT count(*) FROM %I', part) INTO n;
    EXECUTE format('DROP TABLE %I', part);
    RETURN n;
END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sandtable_app') THEN
        CREATE ROLE sandtable_app LOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'cannot create the role sandtable_app here: the dashboard will use the migration role';
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sandtable_app') THEN
        EXECUTE format('GRANT CONNECT, TEMP ON DATABASE %I TO sandtable_app', current_database());
        GRANT USAGE ON SCHEMA public TO sandtable_app;
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO sandtable_app;
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM sandtable_app;
        GRANT INSERT ON audit_log TO sandtable_app;
        GRANT INSERT, UPDATE, DELETE ON scan_cells_daily, scan_rollup_days TO sandtable_app;
        GRANT UPDATE (last_login) ON users TO sandtable_app;
        REVOKE EXECUTE ON FUNCTION purge_audit(timestamptz) FROM PUBLIC;
        REVOKE EXECUTE ON FUNCTION drop_scan_partition(date) FROM PUBLIC;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO sandtable_app;
    END IF;
END $$;
"""

_DOWN = """
DROP FUNCTION IF EXISTS drop_scan_partition(date);
DROP FUNCTION IF EXISTS purge_audit(timestamptz);
DROP TABLE IF EXISTS users;
"""


def upgrade() -> None:
    op.execute(_UP)


def downgrade() -> None:
    op.execute(_DOWN)
