"""Where things are, and how far the data reach: sites (checkpoints, isolation sites,
venues ...), area outlines, and the newest scan.

Reference data for maps. Every role may call these: a site is a public place (no person
appears), an outline is an administrative boundary, the newest scan time is a single
instant. The dashboard draws its offline base map from :func:`outlines`, places the
checkpoint and isolation-site markers from :func:`sites`, and anchors its time windows
at :func:`data_as_of`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.types import Text

from analytics._common import engine_or_default
from analytics.access import ROLES, Viewer, require
from analytics.tracing import newest_scan

__all__ = ["sites", "outlines", "data_as_of", "SITE_KINDS", "LEVELS"]

SITE_KINDS = ("checkpoint", "venue", "school", "pharmacy", "isolation_site", "nat_site", "clinic", "community_office")
LEVELS = ("district", "street", "community")

SITE_COLUMNS = ["site_code", "kind", "name", "lon", "lat", "district_code", "capacity"]

_SITES = text(
    """SELECT site_code, kind, name, lon, lat, district_code, capacity FROM sites
       WHERE CAST(:kinds AS text[]) IS NULL OR kind = ANY(CAST(:kinds AS text[]))
       ORDER BY site_code"""
).bindparams(bindparam("kinds", type_=ARRAY(Text)))

# Simplified in the database (topology kept, so neighbouring outlines still meet), sent as WKB.
_OUTLINES = text(
    """SELECT code, name_zh, name_en, level, parent_code, population,
              ST_AsBinary(CASE WHEN :tol > 0 THEN ST_SimplifyPreserveTopology(geom, :tol) ELSE geom END) AS wkb
       FROM districts WHERE level = :level ORDER BY code"""
)


def _check_viewer(viewer: Viewer) -> None:
    if not isinstance(viewer, Viewer):
        msg = f"viewer must be an analytics.access.Viewer, got {type(viewer).__name__}"
        raise TypeError(msg)
    require(viewer, *ROLES, what="see sites and outlines")


def sites(
    kind: str | Sequence[str] | None = None,
    *,
    viewer: Viewer,
    engine: Engine | None = None,
) -> gpd.GeoDataFrame:
    """Sites of ``kind`` (one kind, several, or every kind with None), ordered by code.

    Columns: ``site_code, kind, name, lon, lat, district_code`` (the community),
    ``capacity`` (Int64; isolation sites), ``geometry`` (points, WGS-84).
    """
    _check_viewer(viewer)
    kinds = [kind] if isinstance(kind, str) else (list(kind) if kind is not None else None)
    if kinds is not None:
        bad = [k for k in kinds if k not in SITE_KINDS]
        if bad:
            msg = f"unknown site kind(s) {bad!r}; allowed: {list(SITE_KINDS)!r}"
            raise ValueError(msg)
    with engine_or_default(engine).connect() as conn:
        rows = conn.execute(_SITES, {"kinds": kinds}).all()
    df = pd.DataFrame(rows, columns=SITE_COLUMNS)
    df["capacity"] = pd.array(df["capacity"].tolist(), dtype="Int64")
    for col in ("lon", "lat"):
        df[col] = df[col].astype("float64")
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")


def outlines(
    level: str = "community",
    *,
    viewer: Viewer,
    engine: Engine | None = None,
    tolerance: float = 0.0002,
) -> gpd.GeoDataFrame:
    """The outlines of every area of ``level`` (district, street, community), ordered by code.

    Columns: ``code, name_zh, name_en, level, parent_code, population, geometry``
    (WGS-84). ``tolerance`` (degrees; 0 keeps every vertex) simplifies the outlines in the
    database with their shared edges kept, which is plenty for a screen map.
    """
    _check_viewer(viewer)
    if level not in LEVELS:
        msg = f"level must be one of {LEVELS!r}, got {level!r}"
        raise ValueError(msg)
    if not tolerance >= 0:
        msg = f"tolerance must be >= 0 degrees, got {tolerance!r}"
        raise ValueError(msg)
    with engine_or_default(engine).connect() as conn:
        rows = conn.execute(_OUTLINES, {"level": level, "tol": float(tolerance)}).all()
    df = pd.DataFrame(rows, columns=["code", "name_zh", "name_en", "level", "parent_code", "population", "wkb"])
    geoms = shapely.from_wkb([bytes(w) for w in df.pop("wkb")]) if len(df) else []
    return gpd.GeoDataFrame(df, geometry=list(geoms), crs="EPSG:4326")


def data_as_of(*, viewer: Viewer, engine: Engine | None = None) -> datetime | None:
    """The newest scan time (None: no scan yet), read from the newest day partition, so
    it costs a few milliseconds however many days are kept."""
    _check_viewer(viewer)
    with engine_or_default(engine).connect() as conn:
        return newest_scan(conn)
