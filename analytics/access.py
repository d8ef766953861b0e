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

__all__ = ["Viewer", "ROLES", "require", "sees_persons", "sees_small_counts", "write_audit", "CLI_VIEWER",
           "PERSON_VIEWS", "require_purpose", "own_lookups"]

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


#: Actions that show named persons: each needs a purpose (a case number or a reason).
PERSON_VIEWS = frozenset({"trace", "trace_export", "list_cases", "person_lookup"})


def require_purpose(purpose: str | None, *, what: str = "look at a named person") -> str:
    """The purpose, stripped; :class:`AccessDenied` when there is none."""
    text_ = (purpose or "").strip()
    if not text_:
        msg = f"a purpose (a case number or a reason) is required to {what}; it is written to the audit log"
        raise AccessDenied(msg)
    return text_


def write_audit(conn: Connection, viewer: Viewer, action: str, *, person_id: int | None, purpose: str | None,
                rows: int | None, detail: dict[str, Any] | None = None) -> None:
    """Append one audit record (inside the caller's transaction).

    A view of a named person (``person_id`` set, or an action of :data:`PERSON_VIEWS`)
    without a purpose is refused with :class:`AccessDenied`, which rolls the caller's
    transaction back: no such view happens, and none is recorded without a purpose."""
    if person_id is not None or action in PERSON_VIEWS:
        purpose = require_purpose(purpose)
    conn.execute(_AUDIT, {
        "actor": viewer.name, "role": viewer.role, "action": action, "person_id": person_id,
        "purpose": purpose, "rows": rows, "detail": json.dumps(detail or {}, ensure_ascii=False, default=str),
    })


_OWN = text(
    """SELECT a.at, a.action, a.person_id, a.purpose, a.rows_returned, p.ref_encrypted
       FROM audit_log a LEFT JOIN persons p ON p.person_id = a.person_id
       WHERE a.actor = :actor AND a.action = ANY(:actions)
       ORDER BY a.at DESC, a.audit_id DESC LIMIT :lim"""
)


def _mask(ref: str) -> str:
    """A reference with its middle hidden (``211403********1234``), enough to tell one's
    own lookups apart without showing the whole reference again."""
    keep = 4 if len(ref) > 10 else 1
    return ref[:keep] + "*" * max(len(ref) - 2 * keep, 1) + ref[-keep:] if len(ref) > 2 else "*" * len(ref)


def own_lookups(viewer: Viewer, *, engine: Any = None, limit: int = 10, pseudonymiser: Any = None) -> list[dict]:
    """The viewer's own most recent views of named persons, newest first, from the audit
    log: ``at``, ``action``, ``person`` (the reference masked, for ``cdc``; else the
    pseudonym), ``purpose``, ``rows``. Not itself audited: it shows nobody new."""
    from analytics._common import engine_or_default

    with engine_or_default(engine).connect() as conn:
        rows = conn.execute(_OWN, {"actor": viewer.name, "actions": sorted(PERSON_VIEWS), "lim": int(limit)}).all()
    pseudo = None
    if sees_persons(viewer) and any(r.ref_encrypted is not None for r in rows):
        from geodata.privacy import Pseudonymiser

        pseudo = pseudonymiser or Pseudonymiser.from_settings()
    out = []
    for r in rows:
        if r.person_id is None:
            person = None
        elif pseudo is not None and r.ref_encrypted is not None:
            person = _mask(pseudo.decrypt(r.ref_encrypted))
        else:
            person = f"#{r.person_id}"
        out.append({"at": r.at, "action": r.action, "person": person, "purpose": r.purpose,
                    "rows": r.rows_returned})
    return out
