"""Tracing every simulated case recovers exactly the contacts the rules define (truth/)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from analytics import Viewer, trace

pytestmark = [pytest.mark.db, pytest.mark.slow]

CDC = Viewer("truth-check", "cdc")


@pytest.fixture
def simulated(app_env: Path, engine: Engine, tmp_path: Path) -> Path:
    from ingest import load_directory
    from ingest.sim import simulate

    out = tmp_path / "sim"
    summary = simulate(residents=10000, days=28, seed=11, out=out)
    assert summary.cases >= 5, "the scenario needs an outbreak to check"
    results = load_directory(out, engine=engine)
    assert sum(r.rejected for r in results) == 0
    return out


def test_every_case_traced_exactly(simulated: Path, engine: Engine) -> None:
    truth = pd.read_csv(simulated / "truth" / "contacts.csv", dtype=str)
    inf = pd.read_csv(simulated / "truth" / "infections.csv", dtype=str)
    cases = inf.dropna(subset=["first_positive_sample_at"])["person_ref"].tolist()
    assert len(cases) >= 5
    n_close = n_secondary = 0
    for ref in cases:
        res = trace(ref, viewer=CDC, purpose="truth check", engine=engine)
        assert res.is_case
        want = truth[truth["case_ref"] == ref]
        want_close = set(want.loc[want["degree"] == "close", "contact_ref"])
        want_sec = set(want.loc[want["degree"] == "secondary", "contact_ref"])
        assert set(res.close_contacts["person"]) == want_close, ref
        assert set(res.secondary_contacts["person"]) == want_sec, ref
        via_truth = {r.contact_ref: sorted(r.via.split(";")) for r in want[want["degree"] == "secondary"].itertuples()}
        via_ours = {r.person: sorted(r.via) for r in res.secondary_contacts.itertuples()}
        assert via_ours == via_truth, ref
        n_close += len(want_close)
        n_secondary += len(want_sec)
    assert n_close > 0 and n_secondary > 0
