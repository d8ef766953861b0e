"""Test harness: one throwaway PostGIS cluster per test session, one database per test.

The cluster is started through the same manager as ``sandtable db up``
(:class:`geodata.cluster.EmbeddedCluster`); ``SANDTABLE_TEST_DATABASE_URL`` points the
suite at an existing server instead. Each test that asks for ``db_url`` gets a fresh
database cloned from a migrated template (about 0.2 s), so tests may commit freely.
Without PostgreSQL binaries the database tests are skipped locally and fail in CI.
"""

from __future__ import annotations

import itertools
import os
import time
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from geodata.cluster import EmbeddedCluster
from geodata.db import dispose_engines, migrate
from geodata.errors import MissingBinaries
from geodata.settings import get_settings

_TEMPLATE = "sandtable_template"
_counter = itertools.count()


class _Server:
    """Creates and drops test databases on a running server."""

    def __init__(self, admin_url: str, cluster: EmbeddedCluster | None = None) -> None:
        self.admin_url = admin_url
        self.cluster = cluster
        self._admin = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")

    def url(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    def execute(self, sql: str) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(sql))

    def create(self, name: str, template: str | None = None) -> str:
        clause = f" TEMPLATE {template}" if template else ""
        for attempt in range(20):
            try:
                self.execute(f"CREATE DATABASE {name}{clause}")
                break
            except OperationalError as err:  # the template is briefly in use (ObjectInUse)
                if "being accessed by other users" not in str(err) or attempt == 19:
                    raise
                if attempt == 8:  # 2 s on: sessions a finished module's pools left behind
                    self._close_sessions(template)
                time.sleep(0.25)
        return self.url(name)

    def _close_sessions(self, database: str) -> None:
        """End every session on ``database`` (a template only: nothing may be using it)."""
        with self._admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": database})

    def drop(self, name: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[_Server]:
    url = os.environ.get("SANDTABLE_TEST_DATABASE_URL")
    root = None
    cluster = None
    if url:
        server = _Server(make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    else:
        root = Path(tempfile.mkdtemp(prefix="sandtable-test-"))
        os.chmod(root, 0o755)  # the server user must be able to enter it
        cluster = EmbeddedCluster(root / "pg", fsync=False)
        try:
            cluster.up()
        except MissingBinaries as err:
            shutil.rmtree(root, ignore_errors=True)
            if os.environ.get("CI"):
                pytest.fail(f"the test database cannot start in CI: {err}")
            pytest.skip(f"no PostgreSQL/PostGIS here: {err}")
        server = _Server(cluster.url("postgres"), cluster)
    server.drop(_TEMPLATE)
    template_url = server.create(_TEMPLATE)
    engine = create_engine(template_url, poolclass=NullPool)
    migrate(engine)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    # no session (autovacuum included) may sit in the template while a test clones it
    server.execute(f"ALTER DATABASE {_TEMPLATE} WITH ALLOW_CONNECTIONS false")
    try:
        yield server
    finally:
        server.execute(f"ALTER DATABASE {_TEMPLATE} WITH ALLOW_CONNECTIONS true")
        server.drop(_TEMPLATE)
        if cluster is not None:
            cluster.destroy()
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def db_url(pg_server: _Server) -> Iterator[str]:
    """A fresh, migrated database with the reference geography loaded."""
    name = f"t_{os.getpid()}_{next(_counter)}"
    url = pg_server.create(name, template=_TEMPLATE)
    try:
        yield url
    finally:
        dispose_engines()
        pg_server.drop(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine(db_url, poolclass=NullPool)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def sandtable_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A clean SANDTABLE_* environment with its own data folder; returns the folder."""
    for key in list(os.environ):
        if key.startswith("SANDTABLE_") and key != "SANDTABLE_TEST_DATABASE_URL":
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    monkeypatch.setenv("SANDTABLE_HOME", str(home))
    get_settings.cache_clear()
    dispose_engines()
    yield home
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture
def app_env(sandtable_env: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``sandtable_env`` pointed at a fresh test database."""
    monkeypatch.setenv("SANDTABLE_DATABASE_URL", db_url)
    get_settings.cache_clear()
    return sandtable_env
