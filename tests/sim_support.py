"""Shared simulations for the simulator tests (tests/test_sim*.py).

``small_sim``: 8,000 residents over 14 days with an outbreak seeded on day 2 (eight
seeds, a more infectious virus), simulated once per test session; its summary is in
``small_sim.summary``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from ingest.sim import SimSummary, load_params, simulate

RESIDENTS, DAYS, SEED = 8000, 14, 6
OUTBREAK = {"outbreak": {"seeds": 8, "seed_day": 2, "beta": 10.0}}


@dataclass
class Sim:
    out: Path
    summary: SimSummary

    def read(self, name: str, **kw) -> pd.DataFrame:  # noqa: ANN003
        return pd.read_csv(self.out / name, dtype=str, keep_default_na=False, **kw)


@pytest.fixture(scope="session")
def small_sim(tmp_path_factory: pytest.TempPathFactory) -> Sim:
    out = tmp_path_factory.mktemp("sim") / "small"
    summary = simulate(residents=RESIDENTS, days=DAYS, seed=SEED, out=out, params=load_params(overrides=OUTBREAK))
    return Sim(out, summary)


def times(series: pd.Series) -> pd.Series:
    """ISO 8601 text (with offset) as UTC timestamps; empty -> NaT."""
    return pd.to_datetime(series.replace("", None), utc=True, format="ISO8601")
