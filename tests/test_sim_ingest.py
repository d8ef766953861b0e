"""Every feed file of a simulation loads through the ingest pipeline with zero rejects."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from ingest.sim import load_params, simulate

pytestmark = [pytest.mark.db]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_simulation_ingests_with_zero_rejects(app_env: Path, engine: Engine, tmp_path: Path, fmt: str) -> None:
    from ingest import load_directory

    out = tmp_path / "sim"
    s = simulate(residents=3000, days=7, seed=9, out=out, fmt=fmt,
                 params=load_params(overrides={"outbreak": {"seed_day": 1, "seeds": 4}}))
    results = load_directory(out, engine=engine)
    by_feed = {r.feed: r for r in results}
    assert set(by_feed) == {"districts", "sites", "scans", "passes", "crossings", "nat", "isolation", "meds",
                            "returnees"}
    for feed, r in by_feed.items():
        assert r.rejected == 0, (feed, r)
        if feed != "districts":  # the reference geography is already loaded (upserted)
            assert r.loaded == s.rows[feed], (feed, r.loaded, s.rows[feed])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM scans")).scalar_one() == s.rows["scans"]
        assert conn.execute(text("SELECT count(*) FROM isolation_stays")).scalar_one() == s.rows["isolation"]
