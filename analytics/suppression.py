"""Small-count suppression for aggregates shown outside the cdc role.

Primary: a count between 1 and k-1 is hidden. Secondary: when the hidden cells of a
column could be recovered from a published total (one hidden cell, or hidden cells that
together hold fewer than k), the smallest shown cells are hidden too until at least two
cells, holding at least k together, are hidden (zero cells are hidden last, when no
other is left, so that the remainder is still spread over several cells).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["suppression_mask", "suppress_columns"]


def suppression_mask(counts: pd.Series | np.ndarray, k: int, *, weight: pd.Series | np.ndarray | None = None
                     ) -> np.ndarray:
    """Which rows to hide. ``counts`` decides primary suppression (1..k-1); ``weight``
    (default ``counts``) is what must reach k among the hidden rows."""
    c = np.asarray(counts, dtype=float)
    w = c if weight is None else np.asarray(weight, dtype=float)
    hide = (c > 0) & (c < k)
    if not hide.any():
        return hide
    # candidates: the smallest shown non-zero cells first, then zero cells (hiding a zero
    # still leaves the remainder spread over several cells)
    nonzero = np.flatnonzero(~hide & (c > 0))
    zeros = np.flatnonzero(~hide & (c <= 0))
    candidates = list(nonzero[np.argsort(c[nonzero], kind="stable")]) + list(zeros)
    for j in candidates:
        enough_weight = w[hide].sum() >= k or not (~hide & (c > 0)).any()
        if hide.sum() >= 2 and enough_weight:
            break
        hide[j] = True
    return hide


def suppress_columns(df: pd.DataFrame, columns: list[str], k: int) -> pd.DataFrame:
    """A copy of ``df`` with each of ``columns`` suppressed (primary + secondary) as None."""
    out = df.copy()
    for col in columns:
        mask = suppression_mask(out[col].fillna(0).to_numpy(), k)
        out[col] = out[col].astype(object).where(~mask, None)
    return out
