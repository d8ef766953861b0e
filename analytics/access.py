"""Who is asking: the viewer's role, what each role may see, and the audit log.

Role rules are enforced here, in the analytics layer, not only in the dashboard:
``cdc`` may trace and see person references; ``analyst`` sees pseudonyms;
``command``, ``leader`` and ``transport`` see aggregates only. Every view of a named
person writes an audit record (who, role, what, which person, purpose, rows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.errors import AccessDenied

__all__ = ["Viewer", "ROLES", "require", "sees_persons", "sees_small_counts", "write_audit", "CLI_VIEWER"]

ROLES = ("cdc", "command", "transport", "leader", "analyst")


@dataclass(frozen=True)
class Viewer:
    """The person (or screen) asking, and their role."""

    name: str
    role: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            msg = f"unknown role {self.role!r}; allowed: {list(ROLES)!r}"
            raise ValueError(msg)


def _cli_viewer() -> Viewer:
    import getpass

    from geodata.settings import get_settings

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "operator"
    return Viewer(name=f"cli:{user}", role=get_settings().role)


CLI_VIEWER = _cli_viewer


def require(viewer: Viewer, *roles: str, what: str) -> None:
    """Raise :class:`AccessDenied` unless the viewer has one of ``roles``."""
    if viewer.role not in roles:
        msg = f"role {viewer.role!r} may not {what} (allowed: {', '.join(roles)})"
        raise AccessDenied(msg)


def sees_persons(viewer: Viewer) -> bool:
    """True when the viewer may see person references (not only pseudonyms)."""
    return viewer.role == "cdc"


def sees_small_counts(viewer: Viewer) -> bool:
    """True when aggregates may show counts below k to this viewer."""
    return viewer.role == "cdc"


_AUDIT = text(
    """INSERT INTO audit_log (actor, role, action, person_id, purpose, rows_returned, detail)
       VALUES (:actor, :role, :action, :person_id, :purpose, :rows, CAST(:detail AS jsonb))"""
)


def write_audit(conn: Connection, viewer: Viewer, action: str, *, person_id: int | None, purpose: str | None,
                rows: int | None, detail: dict[str, Any] | None = None) -> None:
    """Append one audit record (inside the caller's transaction)."""
    conn.execute(_AUDIT, {
        "actor": viewer.name, "role": viewer.role, "action": action, "person_id": person_id,
        "purpose": purpose, "rows": rows, "detail": json.dumps(detail or {}, ensure_ascii=False, default=str),
    })
