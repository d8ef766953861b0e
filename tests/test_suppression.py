from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from analytics.suppression import suppress_columns, suppression_mask


@given(st.lists(st.integers(0, 30), min_size=2, max_size=40), st.integers(2, 10))
def test_suppression_properties(counts: list[int], k: int) -> None:
    c = np.array(counts)
    hide = suppression_mask(c, k)
    assert hide[(c > 0) & (c < k)].all()                 # primary
    if hide.any():
        assert hide.sum() >= 2                            # never a lone hidden cell
        assert c[hide].sum() >= k or (~hide & (c > 0)).sum() == 0
    else:
        assert not ((c > 0) & (c < k)).any()


def test_suppress_columns_example() -> None:
    import pandas as pd

    df = pd.DataFrame({"n": [0, 3, 12, 7, 40]})
    out = suppress_columns(df, ["n"], 5)
    assert out["n"].tolist() == [0, None, 12, None, 40]   # 3 hidden, then 7 (the smallest shown)
