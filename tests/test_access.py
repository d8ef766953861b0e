"""Accounts, the append-only audit log (privileges), retention, and the audit command."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from geodata.accounts import add_kiosk, add_user, disable_user, list_users, verify_password, verify_token
from geodata.errors import ConfigError
from geodata.retention import parse_age, purge
from sandtable.cli import app
from tests.scenario import World

pytestmark = pytest.mark.db
runner = CliRunner()


def test_accounts(engine: Engine) -> None:
    with engine.begin() as conn:
        add_user(conn, "li.wei", "cdc", "correct horse battery")
        token = add_kiosk(conn, "wall-1")
        with pytest.raises(ConfigError, match="exists already"):
            add_user(conn, "li.wei", "leader", "another password 1")
        with pytest.raises(ConfigError, match="role must be"):
            add_user(conn, "x", "mayor", "correct horse battery")
        with pytest.raises(ConfigError, match="10 characters"):
            add_user(conn, "y", "cdc", "short")
    with engine.begin() as conn:
        assert verify_password(conn, "li.wei", "correct horse battery") == "cdc"
        assert verify_password(conn, "li.wei", "wrong horse battery") is None
        assert verify_password(conn, "nobody", "correct horse battery") is None
        assert verify_password(conn, "wall-1", token) is None  # kiosks have no password
        assert verify_token(conn, token) == ("wall-1", "command")
        assert verify_token(conn, token + "x") is None
        stored = conn.execute(text("SELECT password_hash, token_hash FROM users ORDER BY name")).all()
        assert stored[0].password_hash.startswith("scrypt$") and "correct" not in stored[0].password_hash
        assert token not in (stored[1].token_hash or "")
        disable_user(conn, "li.wei")
        assert verify_password(conn, "li.wei", "correct horse battery") is None
        assert [a.name for a in list_users(conn) if a.disabled] == ["li.wei"]


def _as_app(db_url: str) -> Engine:
    return create_engine(make_url(db_url).set(username="sandtable_app"), poolclass=NullPool)


def test_audit_log_cannot_be_changed_by_the_application_role(engine: Engine, db_url: str) -> None:
    app_engine = _as_app(db_url)
    with app_engine.begin() as conn:  # the application may append
        conn.execute(text("INSERT INTO audit_log (actor, role, action, purpose) VALUES ('u', 'cdc', 'trace', 'c1')"))
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 1
    attempts = [
        "UPDATE audit_log SET purpose = 'nothing to see'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
        "SELECT purge_audit(now() - interval '1 year')",
        "SET sandtable.audit_purge = 'on'; DELETE FROM audit_log",
        "UPDATE users SET role = 'cdc'",
        "DELETE FROM scans",
    ]
    for sql in attempts:
        with pytest.raises(DBAPIError, match="permission denied|must be owner"), app_engine.begin() as conn:
            conn.exec_driver_sql(sql)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT purpose FROM audit_log")).scalar_one() == "c1"
    app_engine.dispose()


def test_audit_purge_keeps_six_months(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update"))
        conn.execute(text("INSERT INTO audit_log (at, actor, role, action) VALUES "
                          "(now() - interval '200 days', 'old', 'cdc', 'trace'), (now(), 'new', 'cdc', 'trace')"))
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update"))
    with pytest.raises(DBAPIError, match="183 days"), engine.begin() as conn:
        conn.execute(text("SELECT purge_audit(now() - interval '30 days')"))
    with engine.begin() as conn:
        assert conn.execute(text("SELECT purge_audit(now() - interval '190 days')")).scalar_one() == 1
        assert conn.execute(text("SELECT actor FROM audit_log")).scalars().all() == ["new"]


@pytest.fixture
def world(app_env: Path, engine: Engine) -> World:
    w = World(engine)
    w.site("V1")
    w.site("N1", kind="nat_site", community=2)
    w.scan("OLD", "V1", "04-01 10:00")
    w.scan("BOTH", "V1", "04-01 11:00")
    w.scan("BOTH", "V1", "04-20 11:00")
    w.scan("NEW", "V1", "04-20 12:00")
    w.nat("OLD", "04-01 09:00", result="negative", site="N1")
    w.nat("NEW", "04-20 09:00", result="negative", site="N1")
    return w


def test_purge_drops_old_days_and_orphans_keeps_rollups(world: World, engine: Engine, tmp_path: Path) -> None:
    from analytics import Viewer, heatmap

    heatmap(("2022-04-01", "2022-04-21"), 9, "scans", viewer=Viewer("e", "cdc"), engine=engine)  # build rollups
    now = datetime(2022, 5, 10, 12, tzinfo=timezone.utc)
    dry = purge(engine, parse_age("28d"), dry_run=True, now=now, report_dir=tmp_path)
    assert dry["deleted"]["scans"] == 2 and dry["deleted"]["persons"] == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM scans")).scalar_one() == 4  # nothing went
    report = purge(engine, parse_age("28d"), now=now, report_dir=tmp_path)
    assert report["cutoff"].startswith("2022-04-12")
    assert [p["day"] for p in report["scan_partitions_dropped"]] == ["2022-04-01"]
    assert report["deleted"]["scans"] == 2 and report["deleted"]["nat_results"] == 1
    assert report["deleted"]["persons"] == 1  # OLD is gone; BOTH still has a recent scan
    saved = json.loads(Path(report["report_file"]).read_text())
    assert saved["deleted"] == report["deleted"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM scans")).scalar_one() == 2
        assert conn.execute(text("SELECT to_regclass('scans_p20220401')")).scalar_one() is None
        assert conn.execute(text("SELECT count(*) FROM persons")).scalar_one() == 2
        assert conn.execute(text("SELECT action FROM audit_log ORDER BY audit_id DESC LIMIT 1")).scalar_one() == "purge"
    # the aggregate of the purged day is still there
    g = heatmap(("2022-04-01", "2022-04-02"), 9, "scans", viewer=Viewer("e", "cdc"), engine=engine)
    assert int(g["value"].sum()) == 2


def test_parse_age() -> None:
    assert parse_age("28d") == timedelta(days=28) and parse_age("4w") == timedelta(days=28)
    with pytest.raises(ValueError, match="28d"):
        parse_age("a month")


def test_cli_users_audit_purge(world: World, engine: Engine, app_env: Path) -> None:
    r = runner.invoke(app, ["users", "add", "zhang", "--role", "leader", "--password-stdin"],
                      input="a long enough password\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "add", "wall", "--role", "command", "--kiosk"])
    assert r.exit_code == 0 and len(r.output.strip().splitlines()[-1]) >= 40
    r = runner.invoke(app, ["users", "disable", "zhang"])
    assert r.exit_code == 0
    listing = runner.invoke(app, ["users", "list"]).output
    assert "zhang" in listing and "disabled" in listing and "kiosk" in listing
    runner.invoke(app, ["trace", "BOTH", "--purpose", "case 9"])
    r = runner.invoke(app, ["audit", "--person", "BOTH", "--json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.strip().splitlines()]
    assert [(x["action"], x["purpose"]) for x in rows] == [("trace", "case 9")]
    r = runner.invoke(app, ["purge", "--older-than", "1d", "--dry-run"])
    assert r.exit_code == 0 and "would delete" in r.output
