"""Dashboard accounts: local users with salted, slow password hashes, and kiosk tokens.

Passwords are hashed with scrypt (N=2**15, r=8, p=1, 16-byte salt); kiosk tokens (for a
wall screen that logs in once, bound to the ``command`` role) are random 32-byte values
of which only a SHA-256 is stored. Verification takes the same time whether or not the
account exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from geodata.errors import ConfigError

__all__ = ["Account", "add_user", "add_kiosk", "list_users", "disable_user", "verify_password", "verify_token",
           "hash_password", "check_password", "ROLES", "account", "set_password", "new_kiosk_token", "touch_login",
           "audit_access"]

ROLES = ("cdc", "command", "transport", "leader", "analyst")
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_N, _R, _P = 2**15, 8, 1
_DUMMY = None  # a hash to verify against when the account does not exist


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    kiosk: bool
    disabled: bool
    created_at: datetime
    last_login: datetime | None


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` of ``password``."""
    if len(password) < 10:
        msg = "a password needs at least 10 characters"
        raise ConfigError(msg)
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, maxmem=64 << 20, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                         maxmem=64 << 20, dklen=32)
    return hmac.compare_digest(got, base64.b64decode(digest))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check(name: str, role: str) -> None:
    if not _NAME.match(name or ""):
        msg = f"account names are 1-64 letters, digits, '_', '.', '@' or '-', got {name!r}"
        raise ConfigError(msg)
    if role not in ROLES:
        msg = f"role must be one of {', '.join(ROLES)}, got {role!r}"
        raise ConfigError(msg)


def add_user(conn: Connection, name: str, role: str, password: str) -> None:
    """Create an account (or raise ConfigError when the name is taken)."""
    _check(name, role)
    try:
        with conn.begin_nested():
            conn.execute(text("INSERT INTO users (name, role, password_hash) VALUES (:n, :r, :h)"),
                         {"n": name, "r": role, "h": hash_password(password)})
    except IntegrityError as err:
        msg = f"an account named {name!r} exists already"
        raise ConfigError(msg) from err


def add_kiosk(conn: Connection, name: str) -> str:
    """Create a wall-screen account bound to the command role; returns its token (shown once)."""
    _check(name, "command")
    token = secrets.token_urlsafe(32)
    try:
        with conn.begin_nested():
            conn.execute(text("INSERT INTO users (name, role, token_hash, kiosk) VALUES (:n, 'command', :t, true)"),
                         {"n": name, "t": _token_hash(token)})
    except IntegrityError as err:
        msg = f"an account named {name!r} exists already"
        raise ConfigError(msg) from err
    return token


def list_users(conn: Connection) -> list[Account]:
    rows = conn.execute(text(
        "SELECT name, role, kiosk, disabled, created_at, last_login FROM users ORDER BY name")).all()
    return [Account(*r) for r in rows]


def disable_user(conn: Connection, name: str) -> None:
    done = conn.execute(text("UPDATE users SET disabled = true WHERE name = :n"), {"n": name}).rowcount
    if not done:
        msg = f"no account named {name!r}"
        raise ConfigError(msg)


def verify_password(conn: Connection, name: str, password: str) -> str | None:
    """The account's role when ``password`` is right and the account enabled, else None."""
    global _DUMMY
    row = conn.execute(text("SELECT role, password_hash, disabled FROM users WHERE name = :n AND NOT kiosk"),
                       {"n": name}).one_or_none()
    if row is None or row.password_hash is None:
        if _DUMMY is None:
            _DUMMY = hash_password("x" * 16)
        check_password(password, _DUMMY)  # same cost as a real check
        return None
    if not check_password(password, row.password_hash) or row.disabled:
        return None
    return row.role


def verify_token(conn: Connection, token: str) -> tuple[str, str] | None:
    """(name, role) of the enabled kiosk account holding ``token``, else None."""
    row = conn.execute(text("SELECT name, role FROM users WHERE token_hash = :t AND kiosk AND NOT disabled"),
                       {"t": _token_hash(token)}).one_or_none()
    return (row.name, row.role) if row else None


def account(conn: Connection, name: str) -> Account | None:
    """The account called ``name`` (None when there is none): one primary-key lookup,
    which the dashboard makes on every request so that a disabled account's session
    ends at its next request."""
    if not _NAME.match(name or ""):
        return None
    row = conn.execute(text("SELECT name, role, kiosk, disabled, created_at, last_login FROM users WHERE name = :n"),
                       {"n": name}).one_or_none()
    return Account(*row) if row else None


def set_password(conn: Connection, name: str, role: str, password: str) -> bool:
    """Create the account, or give the existing one this role and password and enable it
    (``sandtable demo``'s account); returns True when it was created."""
    _check(name, role)
    hashed = hash_password(password)
    created = conn.execute(text(
        """INSERT INTO users (name, role, password_hash) VALUES (:n, :r, :h)
           ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, password_hash = EXCLUDED.password_hash,
               token_hash = NULL, kiosk = false, disabled = false
           RETURNING (xmax = 0)"""), {"n": name, "r": role, "h": hashed}).scalar_one()
    return bool(created)


def new_kiosk_token(conn: Connection, name: str) -> str:
    """Create the kiosk account, or replace its token (the old one stops working); returns
    the new token (shown once)."""
    _check(name, "command")
    token = secrets.token_urlsafe(32)
    conn.execute(text(
        """INSERT INTO users (name, role, token_hash, kiosk) VALUES (:n, 'command', :t, true)
           ON CONFLICT (name) DO UPDATE SET role = 'command', token_hash = EXCLUDED.token_hash,
               password_hash = NULL, kiosk = true, disabled = false"""), {"n": name, "t": _token_hash(token)})
    return token


def touch_login(conn: Connection, name: str) -> None:
    """Record a successful login (``users list`` shows it)."""
    conn.execute(text("UPDATE users SET last_login = now() WHERE name = :n"), {"n": name})


_AUDIT = text(
    """INSERT INTO audit_log (actor, role, action, purpose, detail)
       VALUES (:actor, :role, :action, NULL, CAST(:detail AS jsonb))"""
)


def audit_access(conn: Connection, action: str, *, name: str | None, role: str | None,
                 detail: dict | None = None) -> None:
    """Append a login, logout or failed-login record to the audit log (never a password
    or a token). Callers pass ``name=None`` for a name that is no account (it may be a
    password typed into the wrong field): the actor is then ``?``."""
    conn.execute(_AUDIT, {"actor": name if name and _NAME.match(name) else "?", "role": role or "-",
                          "action": action, "detail": json.dumps(detail or {}, ensure_ascii=False, default=str)})
