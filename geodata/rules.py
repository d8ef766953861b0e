"""The epidemiological rules, in one file shared by analytics and the simulator.

Defaults ship as ``geodata/rules.toml`` (protocol 9th edition); a user file named by
``SANDTABLE_RULES_FILE`` overrides any subset of keys.
"""

from __future__ import annotations

import functools
import tomllib
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from geodata.errors import ConfigError

__all__ = ["Rules", "load_rules", "SITE_KINDS"]

SITE_KINDS = (
    "checkpoint", "venue", "school", "pharmacy", "isolation_site",
    "nat_site", "clinic", "community_office",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Exposure(_Frozen):
    days_before_sample: int = Field(4, ge=0, le=30)


class Copresence(_Frozen):
    minutes: int = Field(30, ge=1, le=24 * 60)
    site_kinds: tuple[str, ...] = ("venue", "school", "clinic", "pharmacy", "community_office")

    @field_validator("site_kinds")
    @classmethod
    def _known(cls, kinds: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(kinds) - set(SITE_KINDS))
        if unknown:
            msg = f"unknown site kinds {unknown!r}; allowed: {list(SITE_KINDS)!r}"
            raise ValueError(msg)
        return tuple(kinds)

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.minutes)


class Isolation(_Frozen):
    close_contact_central_days: int = Field(7, ge=0)
    close_contact_home_days: int = Field(3, ge=0)
    secondary_contact_home_days: int = Field(7, ge=0)
    inbound_high_risk_central_days: int = Field(7, ge=0)
    case_days: int = Field(14, ge=1)


class ActiveScan(_Frozen):
    max_temperature_c: float = Field(37.3, ge=35, le=40)
    max_nat_hours: float = Field(48, gt=0)


class RiskArea(_Frozen):
    window_days: int = Field(7, ge=1)
    copresent_cases_for_high: int = Field(2, ge=2)


class RiskScore(_Frozen):
    cases: float = Field(0.35, ge=0)
    contacts: float = Field(0.20, ge=0)
    abnormal_scans: float = Field(0.15, ge=0)
    fever_medicine: float = Field(0.15, ge=0)
    returnees: float = Field(0.15, ge=0)

    def weights(self) -> dict[str, float]:
        return {"cases": self.cases, "contacts": self.contacts, "abnormal_scans": self.abnormal_scans,
                "fever_medicine": self.fever_medicine, "returnees": self.returnees}


class Privacy(_Frozen):
    k: int = Field(5, ge=1)
    retention_days: int = Field(28, ge=1)
    audit_retention_days: int = Field(183, ge=183)


class H3(_Frozen):
    event_resolution: int = Field(10, ge=7, le=15)


class Rules(_Frozen):
    version: str = "protocol-9/2022-06"
    exposure: Exposure = Exposure()
    copresence: Copresence = Copresence()
    isolation: Isolation = Isolation()
    active_scan: ActiveScan = ActiveScan()
    risk_area: RiskArea = RiskArea()
    risk_score: RiskScore = RiskScore()
    privacy: Privacy = Privacy()
    h3: H3 = H3()


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@functools.cache
def _load(path: Path | None) -> Rules:
    defaults = tomllib.loads(resources.files("geodata").joinpath("rules.toml").read_text("utf-8"))
    data = defaults
    if path is not None:
        try:
            override = tomllib.loads(Path(path).read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            msg = f"cannot read rules file {str(path)!r}: {err}"
            raise ConfigError(msg) from err
        data = _merge(defaults, override)
    try:
        return Rules.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        msg = f"rules file {str(path)!r}: {where}: {first['msg']}"
        raise ConfigError(msg) from err


def load_rules(path: Path | str | None = None) -> Rules:
    """The rules: the protocol defaults, overridden by ``path`` (or the settings' file)."""
    if path is None:
        from geodata.settings import get_settings

        path = get_settings().rules_file
    return _load(Path(path) if path is not None else None)
