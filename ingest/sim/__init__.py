"""The synthetic Longgang: a deterministic, vectorised simulator of the district and
an outbreak, writing every feed of the ingest contract plus ``truth/``.

>>> from ingest.sim import simulate
>>> summary = simulate(residents=100_000, days=54, seed=1, out="sim")  # doctest: +SKIP

Parameters: ``ingest/sim/params.toml`` (documented defaults; :func:`load_params`);
the epidemiological rules come from :func:`geodata.load_rules`.
"""

from __future__ import annotations

from ingest.sim.core import FEEDS, SimSummary, simulate
from ingest.sim.params import SimParams, load_params

__all__ = ["simulate", "SimSummary", "SimParams", "load_params", "FEEDS"]
