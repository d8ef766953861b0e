"""sandtable's command line (``sandtable ...``), wiring geodata, ingest, analytics and dashboard."""

from __future__ import annotations

from geodata import __version__

__all__ = ["__version__"]
