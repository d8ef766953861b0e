"""Synthetic resident identity numbers (GB 11643) and licence plates, vectorised.

An 18-character number: 6-digit region code, birth date ``YYYYMMDD``, a 3-digit
sequence (odd for men, even for women) and an ISO 7064 MOD 11-2 check character.
Numbers are unique per (region, birth date, sequence); they are made up.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow as pa

__all__ = ["id_numbers", "check_char", "plates", "fixed_width_strings"]

_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
_PLATE_CHARS = np.frombuffer(b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", dtype=np.uint8)


def check_char(first17: str) -> str:
    """The check character of the first 17 digits of an identity number."""
    digits = np.frombuffer(first17.encode("ascii"), dtype=np.uint8) - 48
    return chr(_CHECK[int((digits * _WEIGHTS).sum() % 11)])


def fixed_width_strings(chars: np.ndarray) -> pa.StringArray:
    """Rows of an ``(n, w)`` uint8 array of ASCII codes as an Arrow string array."""
    n, w = chars.shape
    offsets = np.arange(0, n * w + 1, w, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars))])


def id_numbers(region: np.ndarray, birth_days: np.ndarray, male: np.ndarray,
               rng: np.random.Generator) -> pa.StringArray:
    """Identity numbers for people with region codes (int), birth dates (days since
    1970-01-01) and sex; unique within the batch."""
    n = len(birth_days)
    region = np.broadcast_to(np.asarray(region, dtype=np.int64), (n,))
    # rank within (region, birth date, sex) in a random order -> distinct sequences
    order = np.lexsort((rng.random(n), male, birth_days, region))
    key = np.stack([region[order], birth_days[order], male[order].astype(np.int64)])
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = np.any(key[:, 1:] != key[:, :-1], axis=0)
    starts = np.flatnonzero(new_group)
    rank_sorted = np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))
    if n and rank_sorted.max() >= 499:
        msg = "more than 499 people share a birth date and sex: identity numbers would repeat"
        raise ValueError(msg)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = rank_sorted
    offset = (birth_days.astype(np.int64) * 7919) % 499
    k = 1 + (rank + offset) % 499
    seq = np.where(male, 2 * k - 1, 2 * k)  # odd for men, even for women
    chars = np.empty((n, 18), dtype=np.uint8)
    # region and birth-date digits from small tables of the distinct values
    regs, r_inv = np.unique(region, return_inverse=True)
    r_tab = np.frombuffer("".join(f"{int(r):06d}" for r in regs).encode(), dtype=np.uint8).reshape(-1, 6)
    days, d_inv = np.unique(np.asarray(birth_days, dtype=np.int64), return_inverse=True)
    base = date(1970, 1, 1)
    d_tab = np.frombuffer("".join((base + timedelta(days=int(x))).strftime("%Y%m%d") for x in days).encode(),
                          dtype=np.uint8).reshape(-1, 8)
    chars[:, :6] = r_tab[r_inv]
    chars[:, 6:14] = d_tab[d_inv]
    for j, div in enumerate((100, 10, 1)):
        chars[:, 14 + j] = 48 + (seq // div) % 10
    total = ((r_tab.astype(np.int64) - 48) @ _WEIGHTS[:6])[r_inv] + ((d_tab.astype(np.int64) - 48) @ _WEIGHTS[6:14])[d_inv]
    total += ((chars[:, 14:17].astype(np.int64) - 48) * _WEIGHTS[14:17]).sum(axis=1)
    chars[:, 17] = _CHECK[total % 11]
    return fixed_width_strings(chars)


def plates(prefixes: list[str], which: np.ndarray, rng: np.random.Generator) -> pa.StringArray:
    """Licence plates: ``prefixes[which[i]]`` + 5 letters and digits (no I or O)."""
    n = len(which)
    tail = _PLATE_CHARS[rng.integers(0, len(_PLATE_CHARS), size=(n, 5))]
    # keep at most two letters, as most plates do: positions 2..4 are digits
    tail[:, 2:] = 48 + rng.integers(0, 10, size=(n, 3))
    tails = fixed_width_strings(tail).to_numpy(zero_copy_only=False).astype(object)
    pre = np.asarray(prefixes, dtype=object)[which]
    return pa.array(pre + tails, type=pa.string())
