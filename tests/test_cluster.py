"""The embedded PostGIS manager and the `sandtable db` commands, on real clusters."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from geodata.cluster import EmbeddedCluster
from geodata.db import head_revision
from geodata.errors import MissingBinaries

pytestmark = pytest.mark.db


@pytest.fixture
def home() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="sandtable-home-"))
    os.chmod(root, 0o755)
    try:
        yield root
    finally:
        cluster = EmbeddedCluster(root / "pg")
        if cluster.initialised:
            cluster.destroy()
        subprocess.run(["rm", "-rf", str(root)], check=False)


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDTABLE_")}
    env["SANDTABLE_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "sandtable", *args], capture_output=True, text=True, env=env,
                          timeout=180, check=False)


def test_up_down_reuse(home: Path) -> None:
    cluster = EmbeddedCluster(home / "pg", fsync=False)
    status = cluster.up()
    assert status.running and status.port
    assert (home / "pg" / "server.log").exists()
    if os.geteuid() == 0:  # as root the server runs as the unprivileged postgres user
        assert (home / "pg" / "data").stat().st_uid != 0
    engine = create_engine(cluster.url(), poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE kept (x int)"))
        conn.execute(text("INSERT INTO kept VALUES (42)"))
    # a second up while running changes nothing
    assert cluster.up().port == status.port
    assert cluster.down() is True
    assert cluster.down() is False
    assert not cluster.is_running()
    cluster.up()
    with create_engine(cluster.url(), poolclass=NullPool).connect() as conn:
        assert conn.execute(text("SELECT x FROM kept")).scalar_one() == 42
        assert conn.execute(text("SELECT postgis_lib_version()")).scalar_one().startswith("3.")
    cluster.down()


def test_missing_server_binaries_named(tmp_path: Path) -> None:
    cluster = EmbeddedCluster(tmp_path / "pg", bindir=tmp_path / "nothing-here")
    with pytest.raises(MissingBinaries, match="postgresql-15-postgis-3"):
        cluster.up()


def test_missing_binaries_message_names_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from geodata import cluster as mod

    monkeypatch.setenv("SANDTABLE_PG_BINDIR", str(tmp_path))
    monkeypatch.setattr(mod.Path, "glob", lambda self, pattern: iter(()))
    monkeypatch.setattr(mod.shutil, "which", lambda name: None)
    with pytest.raises(MissingBinaries, match="install the postgresql-15 package"):
        mod.find_bindir()


def test_cli_db_up_status_down_twice(home: Path) -> None:
    for _ in range(2):
        up = _cli(home, "db", "up")
        assert up.returncode == 0, up.stderr
        assert "database up" in up.stdout and f"schema {head_revision()}" in up.stdout
        st = _cli(home, "db", "status", "--json")
        assert st.returncode == 0, st.stderr
        info = json.loads(st.stdout.strip().splitlines()[-1])
        assert info["running"] is True
        assert info["postgresql"].startswith("15")
        assert info["postgis"].startswith("3.")
        assert info["schema"] == info["schema_head"]
        assert info["data_dir"] == str(home / "pg" / "data")
        human = _cli(home, "db", "status")
        assert "PostGIS 3." in human.stdout and f"port {info['port']}" in human.stdout
        down = _cli(home, "db", "down")
        assert down.returncode == 0 and "stopped" in down.stdout
        st = _cli(home, "db", "status")
        assert "not running" in st.stdout
    # the data survived both restarts: the district is there once; demo simulates and loads
    up = _cli(home, "demo", "--no-serve", "--residents", "300", "--days", "2")
    assert up.returncode == 0, up.stderr
    assert "64 community" in up.stdout and "190.9 km²" in up.stdout
    assert "scans: loaded" in up.stdout and "rejected 0" in up.stdout
    # a new user can log in: the demo account (cdc) with a password printed for them
    assert re.search(r"/login as demo \(role cdc\) with the password \S{12,}", up.stdout), up.stdout[-500:]
    again = _cli(home, "demo", "--no-serve", "--wall")
    assert "already holds scans" in again.stdout
    assert "/login/kiosk?token=" in again.stdout
    users = _cli(home, "users", "list").stdout
    assert re.search(r"demo\s+cdc\s+user\s+active", users) and re.search(r"demo-wall\s+command\s+kiosk", users)
    _cli(home, "db", "down")


def test_cli_error_is_one_line(home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDTABLE_")}
    env |= {"SANDTABLE_HOME": str(home), "SANDTABLE_DATABASE_URL": "mysql://x@y/z"}
    proc = subprocess.run([sys.executable, "-m", "sandtable", "db", "status"], capture_output=True, text=True,
                          env=env, check=False)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("sandtable: error:") and "postgresql://" in lines[0]
    assert "Traceback" not in proc.stderr
