"""Ingest: one pipeline per feed (read -> validate -> transform -> load with COPY).

``load_feed(feed, path, crs="wgs84", engine=None, progress=None) -> IngestResult`` and
``load_directory(folder, crs="wgs84", engine=None) -> list[IngestResult]``; ``FEEDS``
holds the feed contract. The names are imported lazily so that ``ingest.sim`` (the
simulator) does not pay for the pipeline's imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["load_feed", "load_directory", "IngestResult", "FEEDS", "LOAD_ORDER", "REASONS",
           "refresh_rollups"]

if TYPE_CHECKING:  # pragma: no cover
    from ingest.feeds import FEEDS, LOAD_ORDER, REASONS
    from ingest.pipeline import IngestResult, load_directory, load_feed, refresh_rollups


def __getattr__(name: str):  # noqa: ANN202
    if name in ("FEEDS", "LOAD_ORDER", "REASONS"):
        from ingest import feeds

        return getattr(feeds, name)
    if name in ("load_feed", "load_directory", "IngestResult", "refresh_rollups"):
        from ingest import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'ingest' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
