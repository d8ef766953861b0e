"""Database access: the engine (embedded cluster or ``SANDTABLE_DATABASE_URL``) and migrations."""

from __future__ import annotations

import functools
import logging
import threading
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from geodata.cluster import EmbeddedCluster
from geodata.errors import DatabaseUnavailable
from geodata.settings import Settings, get_settings

__all__ = ["database_url", "get_engine", "make_engine", "migrate", "current_revision", "head_revision",
           "embedded_cluster", "dispose_engines"]

log = logging.getLogger(__name__)
_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def embedded_cluster(settings: Settings | None = None) -> EmbeddedCluster:
    """The embedded cluster of the settings' data folder."""
    settings = settings or get_settings()
    return EmbeddedCluster(settings.cluster_dir)


def database_url(settings: Settings | None = None, *, start: bool = True) -> str:
    """The URL to use: ``SANDTABLE_DATABASE_URL``, else the embedded cluster (started when down)."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    cluster = embedded_cluster(settings)
    if start and not cluster.is_running():
        log.info("starting the embedded PostgreSQL in %s", cluster.root)
        cluster.up()
    return cluster.url()


def make_engine(url: str, **kwargs) -> Engine:
    """A new engine for ``url`` with sandtable's connection defaults."""
    opts = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}
    opts |= kwargs
    return create_engine(url, **opts)


def get_engine(settings: Settings | None = None) -> Engine:
    """The shared engine of this process (one per URL)."""
    url = database_url(settings)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests, and after fork)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("geodata").joinpath("migrations")))
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this version of sandtable."""
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine | None = None, *, load_geography: bool = True) -> str:
    """Bring the schema to the newest migration and load the reference geography.

    Idempotent: a second run changes nothing. Returns the revision reached.
    """
    from geodata.geography import load_districts

    engine = engine or get_engine()
    cfg = _alembic_config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            if load_geography:
                have = conn.execute(text("SELECT count(*) FROM districts")).scalar_one()
                if have == 0:
                    n = load_districts(conn)
                    log.info("loaded %d districts, streets and communities", n)
    except OperationalError as err:
        msg = f"cannot reach the database: {err.orig}"
        raise DatabaseUnavailable(msg) from err
    return head_revision()
