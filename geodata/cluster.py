"""The embedded PostGIS: a private PostgreSQL cluster under ``SANDTABLE_HOME/pg``.

``initdb`` + ``pg_ctl`` with the system's PostgreSQL binaries, listening only on a
unix socket, on a free port, with the server log kept beside the data. As root the
server runs as the unprivileged ``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import grp
import hashlib
import json
import logging
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from geodata.errors import DatabaseUnavailable, MissingBinaries

__all__ = ["EmbeddedCluster", "ClusterStatus", "find_bindir"]

log = logging.getLogger(__name__)

_PG_PACKAGE = "postgresql-15"
_POSTGIS_PACKAGE = "postgresql-15-postgis-3"
_SERVER_USER = "postgres"
_DEFAULT_DB = "sandtable"
# Settings written into postgresql.conf of a new cluster.
_CONF = {
    "listen_addresses": "''",
    "jit": "off",
    "shared_buffers": "'512MB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'256MB'",
    "max_wal_size": "'4GB'",
    "checkpoint_timeout": "'15min'",
    "random_page_cost": "1.1",
    "effective_cache_size": "'8GB'",
    "max_connections": "200",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
    "logging_collector": "off",
    "log_min_messages": "warning",
}


def find_bindir() -> Path:
    """The folder of the newest installed PostgreSQL server binaries."""
    candidates = []
    env = os.environ.get("SANDTABLE_PG_BINDIR")
    if env:
        candidates.append(Path(env))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(versions)
    which = shutil.which("pg_ctl")
    if which:
        candidates.append(Path(which).resolve().parent)
    for c in candidates:
        if all((c / exe).is_file() for exe in ("initdb", "pg_ctl", "postgres")):
            return c
    msg = f"PostgreSQL server binaries not found (initdb, pg_ctl): install the {_PG_PACKAGE} package"
    raise MissingBinaries(msg)


def _postgis_installed(bindir: Path) -> bool:
    pg_config = bindir / "pg_config"
    sharedirs = []
    if pg_config.is_file():
        out = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            sharedirs.append(Path(out.stdout.strip()))
    version = bindir.parent.name
    sharedirs.append(Path("/usr/share/postgresql") / version)
    return any((d / "extension" / "postgis.control").is_file() for d in sharedirs)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class ClusterStatus:
    running: bool
    data_dir: Path
    socket_dir: Path
    port: int | None
    log_file: Path
    url: str | None


class EmbeddedCluster:
    """A private PostgreSQL+PostGIS cluster in ``root`` (created on first ``up``)."""

    def __init__(self, root: Path, *, fsync: bool = True, bindir: Path | None = None) -> None:
        self.root = Path(root).absolute()
        self.data_dir = self.root / "data"
        self.log_file = self.root / "server.log"
        self._state_file = self.root / "cluster.json"
        self._fsync = fsync
        self._bindir = bindir

    # --- paths and identity -------------------------------------------------
    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    @property
    def socket_dir(self) -> Path:
        # unix socket paths are limited to ~107 bytes: fall back to /tmp for deep homes
        local = self.root / "run"
        if len(str(local)) + len("/.s.PGSQL.65535.lock") < 100:
            return local
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        return Path("/tmp") / f"sandtable-{digest}"

    def _run_as(self) -> dict:
        if os.geteuid() != 0:
            return {}
        try:
            pw = pwd.getpwnam(_SERVER_USER)
        except KeyError as err:
            msg = f"running as root needs the unprivileged user {_SERVER_USER!r}: install the {_PG_PACKAGE} package"
            raise MissingBinaries(msg) from err
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            pw = pwd.getpwnam(_SERVER_USER)
            os.chown(path, pw.pw_uid, grp.getgrgid(pw.pw_gid).gr_gid)

    def _exe(self, name: str) -> str:
        return str(self.bindir / name)

    def _state(self) -> dict:
        try:
            return json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _save_state(self, **values) -> None:
        state = self._state() | values
        self._state_file.write_text(json.dumps(state, indent=2))

    @property
    def port(self) -> int | None:
        return self._state().get("port")

    def url(self, database: str = _DEFAULT_DB) -> str:
        port = self.port
        if port is None:
            msg = f"the embedded cluster in {str(self.root)!r} has never been started: run `sandtable db up`"
            raise DatabaseUnavailable(msg)
        return f"postgresql+psycopg://{_SERVER_USER}@/{database}?host={self.socket_dir}&port={port}"

    # --- lifecycle ------------------------------------------------------------
    def check_binaries(self) -> None:
        """Raise :class:`MissingBinaries` with the package to install when something is missing."""
        bindir = self.bindir
        if not _postgis_installed(bindir):
            msg = f"PostGIS is not installed for PostgreSQL {bindir.parent.name}: install the {_POSTGIS_PACKAGE} package"
            raise MissingBinaries(msg)

    @property
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def _run(self, args: list[str], what: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(args, capture_output=True, text=True, check=False, **self._run_as())
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            last = detail[-1] if detail else f"exit code {proc.returncode}"
            msg = f"{what} failed: {last} (server log: {self.log_file})"
            raise DatabaseUnavailable(msg)
        return proc

    def _prepare_dirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for d in (self.root, self.socket_dir):
            d.mkdir(parents=True, exist_ok=True)
            self._chown(d)
        os.chmod(self.socket_dir, 0o700)
        if os.geteuid() == 0:
            probe = subprocess.run(["test", "-w", str(self.root)], check=False, **self._run_as())
            if probe.returncode != 0:
                msg = (f"the server user {_SERVER_USER!r} cannot write to {str(self.root)!r}: "
                       "put SANDTABLE_HOME in a folder every user may enter")
                raise DatabaseUnavailable(msg)

    def init(self) -> None:
        """Create the cluster (initdb) if it does not exist yet."""
        if self.initialised:
            return
        self.check_binaries()
        self._prepare_dirs()
        # collation "C": the same code point order as glibc's C.UTF-8, but compared with
        # memcmp, so text keys sort and index several times faster (ingest's ids)
        self._run(
            [self._exe("initdb"), "-D", str(self.data_dir), "-U", _SERVER_USER, "-A", "trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--lc-collate=C", "--no-sync"],
            "initdb",
        )
        conf = dict(_CONF)
        if not self._fsync:
            conf |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        with open(self.data_dir / "postgresql.auto.conf", "a", encoding="utf-8") as fh:
            fh.write("# written by sandtable\n")
            for key, value in conf.items():
                fh.write(f"{key} = {value}\n")
        log.info("initialised an embedded PostgreSQL cluster in %s", self.data_dir)

    def is_running(self) -> bool:
        if not self.initialised:
            return False
        proc = subprocess.run([self._exe("pg_ctl"), "status", "-D", str(self.data_dir)],
                              capture_output=True, text=True, check=False, **self._run_as())
        return proc.returncode == 0

    def up(self) -> ClusterStatus:
        """Create (first time) and start the cluster; reuse its data afterwards."""
        self.check_binaries()
        self.init()
        if not self.is_running():
            self._prepare_dirs()
            port = self.port
            if port is None or not _port_free(port) or (self.socket_dir / f".s.PGSQL.{port}").exists():
                port = _free_port()
            self._save_state(port=port, socket_dir=str(self.socket_dir))
            self.log_file.touch(exist_ok=True)
            self._chown(self.log_file)
            self._run(
                [self._exe("pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data_dir),
                 "-l", str(self.log_file), "-o", f"-p {port} -k {self.socket_dir}"],
                "starting PostgreSQL",
            )
            log.info("embedded PostgreSQL running on socket %s port %s", self.socket_dir, port)
        self._ensure_database(_DEFAULT_DB)
        return self.status()

    def _psql(self, sql: str, database: str = "postgres") -> str:
        proc = self._run(
            [self._exe("psql") if (self.bindir / "psql").is_file() else "psql", "-X", "-q", "-A", "-t",
             "-h", str(self.socket_dir), "-p", str(self.port), "-U", _SERVER_USER, "-d", database,
             "-v", "ON_ERROR_STOP=1", "-c", sql],
            "psql",
        )
        return proc.stdout.strip()

    def _ensure_database(self, name: str) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            msg = f"bad database name {name!r}"
            raise ValueError(msg)
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if not exists:
            self._psql(f"CREATE DATABASE {name}")
        self._psql("CREATE EXTENSION IF NOT EXISTS postgis", database=name)

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (optionally cloned from ``template``); returns its URL."""
        for n in (name, template or "x"):
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", n):
                msg = f"bad database name {n!r}"
                raise ValueError(msg)
        clause = f" TEMPLATE {template}" if template else ""
        self._psql(f"CREATE DATABASE {name}{clause}")
        return self.url(name)

    def down(self) -> bool:
        """Stop the cluster; returns False when it was not running."""
        if not self.is_running():
            return False
        self._run([self._exe("pg_ctl"), "stop", "-w", "-t", "60", "-m", "fast", "-D", str(self.data_dir)],
                  "stopping PostgreSQL")
        return True

    def destroy(self) -> None:
        """Stop the cluster and delete its folder (tests only)."""
        try:
            self.down()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            if not str(self.socket_dir).startswith(str(self.root)):
                shutil.rmtree(self.socket_dir, ignore_errors=True)

    def status(self) -> ClusterStatus:
        running = self.is_running()
        return ClusterStatus(
            running=running, data_dir=self.data_dir, socket_dir=self.socket_dir,
            port=self.port, log_file=self.log_file, url=self.url() if running else None,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self.socket_dir / f".s.PGSQL.{self.port}").exists():
                return
            time.sleep(0.05)
        msg = f"the embedded PostgreSQL did not open its socket within {timeout:.0f} s"
        raise DatabaseUnavailable(msg)
