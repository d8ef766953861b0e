"""sandtable's spatial data layer: settings, rules, the database, reference geography.

``geodata`` imports none of sandtable's other packages.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from geodata.errors import (
    AccessDenied, ConfigError, DatabaseUnavailable, FeedError, MissingBinaries, SandtableError,
)
from geodata.rules import Rules, load_rules
from geodata.settings import Settings, get_settings

try:
    __version__ = version("sandtable")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "__version__",
    "Settings", "get_settings", "Rules", "load_rules",
    "SandtableError", "ConfigError", "DatabaseUnavailable", "MissingBinaries", "FeedError", "AccessDenied",
]


def __dir__() -> list[str]:
    return sorted(__all__)
