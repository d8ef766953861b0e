"""Exceptions shared by every sandtable package.

They subclass the built-ins so that callers may catch at any level.
"""

from __future__ import annotations

__all__ = [
    "SandtableError",
    "ConfigError",
    "DatabaseUnavailable",
    "MissingBinaries",
    "FeedError",
    "AccessDenied",
]


class SandtableError(Exception):
    """Base of every error sandtable raises on purpose."""


class ConfigError(SandtableError, ValueError):
    """A setting or a rule has a value that is not allowed."""


class MissingBinaries(SandtableError, FileNotFoundError):
    """A system program (PostgreSQL, PostGIS, Chromium) is not installed."""


class DatabaseUnavailable(SandtableError, ConnectionError):
    """The database cannot be reached or started."""


class FeedError(SandtableError, ValueError):
    """A feed file cannot be read at all (wrong format, missing id column)."""


class AccessDenied(SandtableError, PermissionError):
    """The viewer's role may not see what was asked."""
