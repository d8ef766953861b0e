"""Geometry for the screen: GeoJSON for Plotly, outline polylines and the map view.

Pure functions over (Geo)DataFrames; no database, no Dash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["Basemap", "basemap", "feature_collection", "polylines", "fit_view"]

_DIGITS = 5  # ~1 m: plenty for a screen, and a third of the JSON


def _round(coords: object) -> object:
    if isinstance(coords, (list, tuple)):
        if coords and isinstance(coords[0], (int, float)):
            return [round(float(c), _DIGITS) for c in coords]
        return [_round(c) for c in coords]
    return coords


def feature_collection(geoms: list[BaseGeometry], ids: list[str]) -> dict:
    """A GeoJSON FeatureCollection with feature ``id`` = ``ids`` (Plotly's ``locations``)."""
    features = []
    for gid, geom in zip(ids, geoms):
        if geom is None or geom.is_empty:
            continue
        g = shapely.geometry.mapping(geom)
        features.append({"type": "Feature", "id": str(gid),
                         "geometry": {"type": g["type"], "coordinates": _round(g["coordinates"])}})
    return {"type": "FeatureCollection", "features": features}


def polylines(geoms: list[BaseGeometry]) -> tuple[list[float | None], list[float | None]]:
    """Every ring of ``geoms`` as one lon/lat list with ``None`` between rings (one trace)."""
    lons: list[float | None] = []
    lats: list[float | None] = []
    for geom in geoms:
        if geom is None or geom.is_empty:
            continue
        for line in shapely.get_parts(shapely.boundary(geom)):
            xy = np.round(shapely.get_coordinates(line), _DIGITS)
            lons.extend(xy[:, 0].tolist())
            lats.extend(xy[:, 1].tolist())
            lons.append(None)
            lats.append(None)
    return lons, lats


@dataclass(frozen=True)
class Basemap:
    """The offline base map: the communities (GeoJSON + names), street and district
    outlines as polylines, and the district's bounds (west, south, east, north)."""

    communities: dict
    codes: tuple[str, ...]
    names_zh: tuple[str, ...]
    names_en: tuple[str, ...]
    streets: tuple[list, list]
    district: tuple[list, list]
    bounds: tuple[float, float, float, float]


def basemap(communities: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, district: gpd.GeoDataFrame) -> Basemap:
    every = [g for g in (*communities.geometry, *streets.geometry, *district.geometry) if g is not None]
    if every:
        west, south, east, north = shapely.total_bounds(every)
    else:  # an empty database: Longgang's neighbourhood, so the frame still renders
        west, south, east, north = 120.75, 40.65, 120.95, 40.80
    return Basemap(
        communities=feature_collection(list(communities.geometry), list(communities["code"])),
        codes=tuple(communities["code"]), names_zh=tuple(communities["name_zh"]),
        names_en=tuple(communities["name_en"]),
        streets=polylines(list(streets.geometry)), district=polylines(list(district.geometry)),
        bounds=(float(west), float(south), float(east), float(north)),
    )


def fit_view(bounds: tuple[float, float, float, float], width_px: float, height_px: float,
             padding: float = 0.06) -> tuple[dict, float]:
    """The centre and MapLibre zoom (512-pixel tiles) that fit ``bounds`` in a map of
    ``width_px`` x ``height_px``, with ``padding`` (a fraction) left on each side."""
    west, south, east, north = bounds
    centre = {"lon": (west + east) / 2, "lat": (south + north) / 2}
    w = max(width_px * (1 - 2 * padding), 50.0)
    h = max(height_px * (1 - 2 * padding), 50.0)

    def merc(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    dlon = max(east - west, 1e-6)
    dy = max(merc(north) - merc(south), 1e-8)
    zoom_x = math.log2(w * 360 / (512 * dlon))
    zoom_y = math.log2(h * 2 * math.pi / (512 * dy))
    # the centre in Mercator, so the district sits in the middle vertically too
    y = (merc(north) + merc(south)) / 2
    centre["lat"] = math.degrees(2 * math.atan(math.exp(y)) - math.pi / 2)
    return centre, round(min(zoom_x, zoom_y), 2)
