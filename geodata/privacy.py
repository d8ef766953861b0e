"""Pseudonymisation and encryption of person references.

``person_id = HMAC-SHA256(pepper, normalised person_ref)`` cut to a positive BIGINT.
The raw reference is stored only encrypted (AES-256-GCM) with a key kept outside the
database, in ``SANDTABLE_HOME/secrets`` (mode 0600), for the ``cdc`` role to read.
Neither secret is ever logged or shown in an error message.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from geodata.errors import ConfigError

__all__ = ["Pseudonymiser", "normalise_ref", "load_secret"]

_PEPPER_FILE = "pepper"
_KEY_FILE = "person_ref.key"
_SECRET_BYTES = 32
_MASK = (1 << 63) - 1


def normalise_ref(ref: str) -> str:
    """The canonical form of a person reference: NFKC, no surrounding spaces, upper case."""
    if ref.isascii():  # NFKC leaves ASCII as it is (the usual case, and 4x faster)
        return ref.strip().upper()
    return unicodedata.normalize("NFKC", ref).strip().upper()


def load_secret(folder: Path, name: str) -> bytes:
    """Read the secret ``name`` from ``folder``, creating it (0600) on first use."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(_SECRET_BYTES))
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        msg = f"secret file {str(path)!r} is readable by others (mode {mode:o}); chmod 600 it"
        raise ConfigError(msg)
    data = path.read_bytes()
    if len(data) != _SECRET_BYTES:
        msg = f"secret file {str(path)!r} is damaged (expected {_SECRET_BYTES} bytes)"
        raise ConfigError(msg)
    return data


class Pseudonymiser:
    """Turns person references into pseudonyms and encrypted blobs, and back for cdc."""

    __slots__ = ("_pepper", "_aead", "_inner", "_outer")

    def __init__(self, pepper: bytes, key: bytes) -> None:
        self._pepper = pepper
        self._aead = AESGCM(key)
        # HMAC-SHA256 with its two keyed states computed once (RFC 2104); ~2x faster than
        # hmac.digest per reference, and the same digest
        block = (pepper if len(pepper) <= 64 else hashlib.sha256(pepper).digest()).ljust(64, b"\x00")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __repr__(self) -> str:  # never show the secrets
        return "Pseudonymiser(<secret>)"

    @classmethod
    def from_folder(cls, folder: Path) -> Pseudonymiser:
        return cls(load_secret(folder, _PEPPER_FILE), load_secret(folder, _KEY_FILE))

    @classmethod
    def from_settings(cls) -> Pseudonymiser:
        from geodata.settings import get_settings

        return cls.from_folder(get_settings().secrets_dir)

    def person_id(self, ref: str) -> int:
        """The pseudonym (a positive BIGINT) of one reference."""
        inner = self._inner.copy()
        inner.update(normalise_ref(ref).encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return int.from_bytes(outer.digest()[:8], "big") & _MASK

    def person_ids(self, refs: Iterable[str]) -> np.ndarray:
        """Pseudonyms of many references (each distinct reference hashed once)."""
        # pandas.factorize on objects: NumPy's fixed-width strings would drop trailing NULs
        codes, uniques = pd.factorize(pd.Series(list(refs), dtype=object), use_na_sentinel=False)
        if len(uniques) == 0:
            return np.empty(0, dtype=np.int64)
        ids = np.fromiter((self.person_id(str(u)) for u in uniques), dtype=np.int64, count=len(uniques))
        return ids[codes]

    def encrypt(self, ref: str) -> bytes:
        """The normalised reference, encrypted (12-byte nonce + AES-GCM ciphertext)."""
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, normalise_ref(ref).encode("utf-8"), b"person_ref")

    def decrypt(self, blob: bytes) -> str:
        """The reference behind an encrypted blob (for the cdc role only)."""
        if type(blob) is not bytes:  # memoryview from some drivers; bytes need no copy
            blob = bytes(blob)
        return self._aead.decrypt(blob[:12], blob[12:], b"person_ref").decode("utf-8")

    def encrypt_many(self, refs: list[str]) -> list[bytes]:
        """:meth:`encrypt` of each reference (the nonces drawn in one call)."""
        nonces = secrets.token_bytes(12 * len(refs))
        enc = self._aead.encrypt
        out = []
        for i, ref in enumerate(refs):
            nonce = nonces[12 * i:12 * i + 12]
            out.append(nonce + enc(nonce, normalise_ref(ref).encode("utf-8"), b"person_ref"))
        return out

    def encrypt_text(self, text: str, purpose: bytes = b"raw_row") -> bytes:
        """Any text exactly as given (not normalised), encrypted for ``purpose``.

        Ingest keeps each rejected raw row this way: it may hold a person reference.
        """
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, text.encode("utf-8"), purpose)

    def decrypt_text(self, blob: bytes, purpose: bytes = b"raw_row") -> str:
        """The text behind :meth:`encrypt_text` (for the cdc role only)."""
        blob = bytes(blob)
        return self._aead.decrypt(blob[:12], blob[12:], purpose).decode("utf-8")
