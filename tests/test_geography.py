"""The reference geography: the real Longgang outline and its synthetic communities."""

from __future__ import annotations

import itertools

import pytest
import shapely
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geodata.geography import DISTRICT_CODE, district_outline, districts, huludao

_GEOD = Geod(ellps="WGS84")


def _km2(geom) -> float:  # noqa: ANN001
    return abs(_GEOD.geometry_area_perimeter(geom)[0]) / 1e6


def test_outline_is_longgang_in_wgs84() -> None:
    outline = district_outline()
    assert 185 < _km2(outline) < 197  # "about 191 km²"
    assert outline.is_valid
    # the converted outline sits south-west of the GCJ-02 original (the datum shift)
    hl = huludao()
    assert set(hl["adcode"]) >= {"211400", "211402", "211403", "211404", "211421", "211422", "211481"}
    minx, miny, maxx, maxy = outline.bounds
    assert 120.70 < minx < maxx < 121.10 and 40.60 < miny < maxy < 40.90


@pytest.mark.parametrize("level", ["street", "community"])
def test_level_tiles_the_district_exactly(level: str) -> None:
    outline = district_outline()
    parts = districts(level).geometry.tolist()
    union = shapely.union_all(parts)
    assert shapely.symmetric_difference(union, outline).area / outline.area < 1e-9
    total = sum(p.area for p in parts)
    assert abs(total - outline.area) / outline.area < 1e-9  # no overlaps either
    for a, b in itertools.combinations(parts, 2):
        assert shapely.intersection(a, b).area < 1e-12


def test_communities_nest_in_their_streets() -> None:
    gdf = districts()
    streets = gdf[gdf.level == "street"].set_index("code")
    comms = gdf[gdf.level == "community"]
    assert len(streets) == 8 and 60 <= len(comms) <= 70
    for row in comms.itertuples():
        street = streets.loc[row.parent_code]
        assert row.code.startswith(row.parent_code)
        assert shapely.difference(row.geometry, street.geometry).area < 1e-12
    assert (streets.parent_code == DISTRICT_CODE).all()
    assert gdf.code.is_unique


def test_names_real_where_the_seed_gives_them_and_marked_synthetic() -> None:
    gdf = districts()
    by_name = gdf.set_index("name_zh")
    assert by_name.loc["铎小社区", "parent_code"] == by_name.loc["马仗房街道", "code"]
    assert by_name.loc["书芳苑社区", "parent_code"] == by_name.loc["玉皇街道", "code"]
    assert gdf.name_zh.is_unique and gdf.name_en.is_unique
    assert gdf[gdf.level != "district"].synthetic.all()
    assert not gdf[gdf.level == "district"].synthetic.any()


def test_population_adds_up_and_density_varies() -> None:
    gdf = districts()
    comms = gdf[gdf.level == "community"]
    streets = gdf[gdf.level == "street"]
    assert comms.population.sum() == gdf[gdf.level == "district"].population.iloc[0]
    assert streets.population.sum() == comms.population.sum()
    assert comms.population.max() > 5 * comms.population.min()


def test_generation_is_deterministic() -> None:
    a = districts()
    from geodata import geography

    geography._generate.cache_clear()
    b = districts()
    assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    assert all(x.equals_exact(y, 0) for x, y in zip(a.geometry, b.geometry))


@pytest.mark.db
def test_loaded_geography_covers_the_district(engine: Engine) -> None:
    with engine.connect() as conn:
        row = conn.execute(text(
            """SELECT ST_Area(ST_SymDifference(ST_Union(c.geom), d.geom)) / ST_Area(d.geom),
                      ST_Area(d.geom::geography) / 1e6, count(*)
               FROM districts c, districts d
               WHERE c.level = 'community' AND d.level = 'district' GROUP BY d.geom""")).one()
        assert row[0] < 1e-9
        assert 185 < row[1] < 197
        assert row[2] == 64
        srid = conn.execute(text("SELECT DISTINCT ST_SRID(geom) FROM districts")).scalars().all()
        assert srid == [4326]
