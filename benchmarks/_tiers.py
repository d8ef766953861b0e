"""Simulated tiers for the benchmarks: a private cluster with a simulated district loaded.

Each tier is simulated and ingested once and kept (cluster under
``$SANDTABLE_BENCH_HOME``, default ``/tmp/sandtable-bench``), so later runs start at once.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from geodata.cluster import EmbeddedCluster
from geodata.db import make_engine, migrate

__all__ = ["Tier", "TIERS", "loaded_tier"]


@dataclass(frozen=True)
class Tier:
    name: str
    residents: int
    days: int
    seed: int = 2022


TIERS = {
    "district": Tier("district", 100_000, 54),
    "city": Tier("city", 2_400_000, 30),
}


def _home() -> Path:
    root = Path(os.environ.get("SANDTABLE_BENCH_HOME", "/tmp/sandtable-bench"))
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    return root


def loaded_tier(tier: Tier) -> tuple[Engine, Path]:
    """An engine on a database holding ``tier`` (simulated and ingested on first use)."""
    root = _home() / tier.name
    root.mkdir(exist_ok=True)
    os.chmod(root, 0o755)
    os.environ["SANDTABLE_HOME"] = str(root / "home")  # secrets (pepper, key) of this tier
    from geodata.settings import get_settings

    get_settings.cache_clear()
    cluster = EmbeddedCluster(root / "pg", fsync=False)
    cluster.up()
    engine = make_engine(cluster.url())
    migrate(engine)
    with engine.connect() as conn:
        done = conn.execute(text("SELECT count(*) FROM ingest_runs WHERE feed = 'scans' AND status = 'completed'")
                            ).scalar_one()
    sim_dir = root / "sim"
    if not done:
        from ingest import load_directory
        from ingest.sim import simulate

        t = time.perf_counter()
        simulate(residents=tier.residents, days=tier.days, seed=tier.seed, out=sim_dir)
        print(f"[{tier.name}] simulated in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        load_directory(sim_dir, engine=engine)
        print(f"[{tier.name}] ingested in {time.perf_counter() - t:.1f} s")
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return engine, sim_dir
