"""The simulator's parameters: ``params.toml`` (the documented defaults) plus overrides.

The TOML file is the single source of the defaults. An override (a TOML file or a
nested dict) may set any subset of keys; a key the defaults do not have, or a value
of the wrong type, is an error naming it. Arrays of tables (``returnees.origins``,
``vehicles.checkpoints``, ``vehicles.origins``) are replaced as a whole.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from geodata.errors import ConfigError

__all__ = ["SimParams", "load_params", "AGE_GROUPS"]

#: The age groups of every per-group list, in order.
AGE_GROUPS = ("child", "student", "adult", "elderly")


class SimParams:
    """Read-only attribute view of the parameters (``p.outbreak.beta``)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", data)

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._data[name]
        except KeyError:
            msg = f"no simulator parameter {name!r}"
            raise AttributeError(msg) from None
        return SimParams(value) if isinstance(value, dict) else value

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        msg = "SimParams is read-only: use load_params(overrides=...)"
        raise AttributeError(msg)

    def __contains__(self, name: str) -> bool:
        return name in self._data

    def keys(self) -> list[str]:
        return list(self._data)

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the parameters as plain dicts and lists."""
        return copy.deepcopy(dict(self._data))

    def replace(self, overrides: Mapping[str, Any]) -> SimParams:
        """A copy with ``overrides`` (nested dict) applied and checked."""
        return SimParams(_merge(self.to_dict(), overrides, ""))

    def __repr__(self) -> str:
        return f"SimParams({', '.join(self._data)})"


def _defaults() -> dict[str, Any]:
    text = resources.files("ingest.sim").joinpath("params.toml").read_text("utf-8")
    return tomllib.loads(text)


def _compatible(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float))
    if isinstance(default, list):
        return isinstance(value, list)
    return isinstance(value, type(default))


def _merge(base: dict[str, Any], override: Mapping[str, Any], where: str) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in base:
            msg = f"unknown simulator parameter {path!r}"
            raise ConfigError(msg)
        default = base[key]
        if isinstance(default, dict):
            if not isinstance(value, Mapping):
                msg = f"simulator parameter {path!r} must be a table, got {value!r}"
                raise ConfigError(msg)
            out[key] = _merge(default, value, path)
        elif not _compatible(default, value):
            msg = f"simulator parameter {path!r} must be like {default!r}, got {value!r}"
            raise ConfigError(msg)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_params(path: Path | str | None = None, overrides: Mapping[str, Any] | None = None) -> SimParams:
    """The defaults, overridden by the TOML file ``path`` and then by ``overrides``."""
    data = _defaults()
    if path is not None:
        try:
            from_file = tomllib.loads(Path(path).read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            msg = f"cannot read simulator parameters {str(path)!r}: {err}"
            raise ConfigError(msg) from err
        data = _merge(data, from_file, "")
    if overrides:
        data = _merge(data, overrides, "")
    return SimParams(data)
