"""Settings: one validated place, read from ``SANDTABLE_*`` environment variables.

Secrets (the pseudonymisation pepper and the key that encrypts person references)
are never settings values: they live in files inside ``SANDTABLE_HOME/secrets``,
created on first use with mode 0600 (see :mod:`geodata.privacy`).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings", "get_settings"]

Role = Literal["cdc", "command", "transport", "leader", "analyst"]


class Settings(BaseSettings):
    """Every setting of sandtable, with its default.

    ``home``: the data folder (embedded cluster, logs, secrets).
    ``database_url``: an external PostGIS server; unset means the embedded cluster.
    ``rules_file``: a TOML file overriding the epidemiological rules.
    ``role``: the role of the command-line operator.
    ``log_level``: logging level of the command line and the server.
    ``timezone``: the district's local zone (feed times without an offset; local days).

    The dashboard's sessions (:mod:`dashboard.auth`): ``session_hours`` (a login lasts
    this long), ``kiosk_session_days`` (a wall screen's kiosk login), ``cookie_secure``
    (``auto``: the cookie is ``Secure`` when the request came over https),
    ``trust_proxy_header`` (off unless set: the header a reverse proxy puts the
    authenticated account name in) and ``trusted_proxies`` (the addresses or networks
    that header is honoured from; comma-separated).
    """

    model_config = SettingsConfigDict(env_prefix="SANDTABLE_", extra="ignore")

    home: Path = Field(default=Path(".sandtable"))
    database_url: str | None = None
    rules_file: Path | None = None
    role: Role = "cdc"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    timezone: str = "Asia/Shanghai"
    session_hours: float = Field(default=12.0, gt=0, le=24 * 31)
    kiosk_session_days: float = Field(default=30.0, gt=0, le=366)
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    trust_proxy_header: str | None = None
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("trust_proxy_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", value):
            msg = f"SANDTABLE_TRUST_PROXY_HEADER must be an HTTP header name (letters, digits, '-'), got {value!r}"
            raise ValueError(msg)
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value or ())
        out = []
        for item in (str(x).strip() for x in items):
            if not item:
                continue
            try:
                out.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError as err:
                msg = f"SANDTABLE_TRUSTED_PROXIES: {item!r} is not an IP address or network"
                raise ValueError(msg) from err
        return tuple(out)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            msg = f"SANDTABLE_TIMEZONE {value!r} is not a known time zone"
            raise ValueError(msg) from err
        return value

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
            msg = f"SANDTABLE_DATABASE_URL must be a postgresql:// URL, got scheme {value.split(':', 1)[0]!r}"
            raise ValueError(msg)
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://"):]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://"):]
        return value

    @field_validator("rules_file")
    @classmethod
    def _rules_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            msg = f"SANDTABLE_RULES_FILE {str(value)!r} is not a file"
            raise ValueError(msg)
        return value

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    @property
    def cluster_dir(self) -> Path:
        return self.home / "pg"


@functools.cache
def get_settings() -> Settings:
    """The settings of this process (read once from the environment)."""
    return Settings()
