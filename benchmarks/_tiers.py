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
    #: the city tier's 33 M negative NAT results (mass testing every 48 h) are not needed
    #: by the trace and heatmap benchmarks and would take most of an hour to load here
    negative_nat: bool = True
    #: scans per resident a day (the simulator's default 0.1 is the seed's district)
    scan_rate: float | None = None

    @property
    def key(self) -> str:
        """The folder of this tier's cluster: changes when what it holds changes."""
        return self.name if self.scan_rate is None else f"{self.name}-rate{self.scan_rate:g}"


TIERS = {
    "district": Tier("district", 100_000, 54),
    # the city tier: 2.4 M residents, 30 days, about 13 M scans (0.18 a day each)
    "city": Tier("city", 2_400_000, 30, negative_nat=False, scan_rate=0.18),
}


def _home() -> Path:
    root = Path(os.environ.get("SANDTABLE_BENCH_HOME", "/tmp/sandtable-bench"))
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    return root


def _load_without_negative_nat(sim_dir: Path, engine: Engine) -> None:
    from ingest.pipeline import feed_files, load_feed, refresh_rollups

    results = []
    for feed, path in feed_files(sim_dir):
        if feed == "nat":
            kept = sim_dir / "positives" / "nat.csv"
            kept.parent.mkdir(exist_ok=True)
            with open(path, encoding="utf-8") as src, open(kept, "w", encoding="utf-8") as dst:
                dst.write(src.readline())
                dst.writelines(line for line in src if ",positive" in line)
            path = kept
        results.append(load_feed(feed, path, engine=engine))
    refresh_rollups(results, engine)


def loaded_tier(tier: Tier) -> tuple[Engine, Path]:
    """An engine on a database holding ``tier`` (simulated and ingested on first use)."""
    root = _home() / tier.key
    root.mkdir(exist_ok=True)
    os.chmod(root, 0o755)
    os.environ["SANDTABLE_HOME"] = str(root / "home")  # secrets (pepper, key) of this tier
    from geodata.settings import get_settings

    get_settings.cache_clear()
    cluster = EmbeddedCluster(root / "pg", fsync=False)
    cluster.up()
    engine = make_engine(cluster.url())
    migrate(engine)
    marker = root / "loaded"  # written once every feed is in
    sim_dir = root / "sim"
    if not marker.exists():
        from ingest import load_directory
        from ingest.sim import simulate

        if not (sim_dir / "truth" / "contacts.csv").exists():  # a finished simulation is reused
            t = time.perf_counter()
            params = None
            if tier.scan_rate is not None:
                from ingest.sim import load_params

                params = load_params(overrides={"routines": {"scans_per_resident_day": tier.scan_rate}})
            simulate(residents=tier.residents, days=tier.days, seed=tier.seed, out=sim_dir, params=params)
            print(f"[{tier.name}] simulated in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        if tier.negative_nat:
            load_directory(sim_dir, engine=engine)
        else:
            _load_without_negative_nat(sim_dir, engine)
        print(f"[{tier.name}] ingested in {time.perf_counter() - t:.1f} s")
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
    return engine, sim_dir
