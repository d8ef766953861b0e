"""H3 heatmaps: scans, distinct persons, abnormal scans and fever-medicine purchases per cell.

Whole local days come from the daily rollup (``scan_cells_daily``: counts and
HyperLogLog person sketches per cell, resolutions 7-10); the partial days at either end
of the window come from the scan partitions, sketched on the fly and unioned with the
rollup, so any window is exact in scans and consistent in persons. Outside the ``cdc``
role, cells with fewer than k distinct persons are dropped (k from the rules).
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
from shapely.geometry import Polygon
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from analytics._common import as_time, engine_or_default, local_zone, rules_or_default
from analytics.access import Viewer, sees_small_counts
from analytics.suppression import suppression_mask
from geodata.rollups import refresh_days
from geodata.rules import Rules

__all__ = ["heatmap", "MEASURES"]

MEASURES = ("scans", "persons", "abnormal", "meds")

_SCANS = text(
    """
    WITH edges AS (
        SELECT h3_parent(s.h3, :res) AS h3, count(*)::int AS scans,
               count(*) FILTER (WHERE s.code_color <> 'green' OR s.temperature_c >= :max_temp)::int AS abnormal,
               hll_add_agg(hll_hash_bigint(s.person_id)) AS persons,
               coalesce(hll_add_agg(hll_hash_bigint(s.person_id))
                        FILTER (WHERE s.code_color <> 'green' OR s.temperature_c >= :max_temp), hll_empty())
                   AS abnormal_persons
        FROM scans s
        WHERE (s.scanned_at >= :t0 AND s.scanned_at < :e0) OR (s.scanned_at >= :e1 AND s.scanned_at < :t1)
        GROUP BY 1
    ), parts AS (
        SELECT h3, scans, abnormal, persons, abnormal_persons FROM scan_cells_daily
        WHERE res = :res AND day >= :d0 AND day < :d1
        UNION ALL
        SELECT h3, scans, abnormal, persons, abnormal_persons FROM edges
    )
    SELECT h3, sum(scans)::bigint AS scans, sum(abnormal)::bigint AS abnormal,
           round(hll_cardinality(hll_union_agg(persons)))::bigint AS persons,
           round(hll_cardinality(hll_union_agg(abnormal_persons)))::bigint AS abnormal_persons
    FROM parts GROUP BY h3
    """
)

_MEDS = text(
    """SELECT h3_parent(h3, :res) AS h3, count(*)::bigint AS purchases, count(DISTINCT person_id)::bigint AS persons
       FROM med_purchases
       WHERE purchased_at >= :t0 AND purchased_at < :t1
         AND (CAST(:classes AS text[]) IS NULL OR drug_class = ANY(CAST(:classes AS text[])))
       GROUP BY 1"""
)

_STALE = text(
    """SELECT CAST(to_date(substr(c.relname, 8), 'YYYYMMDD') AS date) AS day
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = CAST('scans' AS regclass)
         AND to_date(substr(c.relname, 8), 'YYYYMMDD') >= :d0 AND to_date(substr(c.relname, 8), 'YYYYMMDD') < :d1
         AND NOT EXISTS (SELECT 1 FROM scan_rollup_days r
                         WHERE r.day = to_date(substr(c.relname, 8), 'YYYYMMDD'))"""
)


def _split(t0: datetime, t1: datetime) -> tuple[date, date, datetime, datetime]:
    """Whole local days [d0, d1) inside [t0, t1), and the instants where they start and end."""
    zone = local_zone()
    l0, l1 = t0.astimezone(zone), t1.astimezone(zone)
    d0 = l0.date() if l0.time() == datetime.min.time() else l0.date() + timedelta(days=1)
    d1 = l1.date()
    if d0 >= d1:
        return d0, d0, t1, t1  # no whole day: the edges cover [t0, t1)
    start = datetime(d0.year, d0.month, d0.day, tzinfo=zone)
    end = datetime(d1.year, d1.month, d1.day, tzinfo=zone)
    return d0, d1, start, end


@functools.lru_cache(maxsize=200_000)
def _hexagon(cell: int) -> Polygon:
    """The outline of an H3 cell (memoised: the wall redraws the same cells every refresh)."""
    return Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(h3.int_to_str(cell))])


def _hexagons(cells: np.ndarray) -> list[Polygon]:
    return [_hexagon(int(c)) for c in cells]


def _heal_rollups(conn: Connection, d0: date, d1: date, rules: Rules) -> None:
    stale = conn.execute(_STALE, {"d0": d0, "d1": d1}).scalars().all()
    if stale:
        refresh_days(conn, stale, rules)


def heatmap(
    window: tuple[datetime | str, datetime | str],
    resolution: int = 9,
    measure: str = "scans",
    *,
    viewer: Viewer,
    engine: Engine | None = None,
    rules: Rules | None = None,
    drug_classes: tuple[str, ...] | None = ("antipyretic", "antiviral", "cough"),
) -> gpd.GeoDataFrame:
    """Hexagons of ``measure`` per H3 cell at ``resolution`` (7-10) over ``window`` = (from, to).

    Columns: ``h3`` (cell id), ``value`` (the measure), ``persons`` (distinct persons behind
    the value), ``geometry`` (the hexagon, WGS-84). ``attrs`` holds the measure, the
    resolution, the window, k and how many cells were suppressed.
    """
    if measure not in MEASURES:
        msg = f"measure must be one of {MEASURES!r}, got {measure!r}"
        raise ValueError(msg)
    if not 7 <= int(resolution) <= 10:
        msg = f"resolution must be 7..10, got {resolution!r}"
        raise ValueError(msg)
    t0, t1 = as_time(window[0]), as_time(window[1])
    if t1 <= t0:
        msg = f"the window must end after it starts ({t0.isoformat()} .. {t1.isoformat()})"
        raise ValueError(msg)
    engine = engine_or_default(engine)
    rules = rules_or_default(rules)
    res = int(resolution)
    with engine.begin() as conn:
        if measure == "meds":
            rows = conn.execute(_MEDS, {"res": res, "t0": t0, "t1": t1,
                                        "classes": list(drug_classes) if drug_classes else None}).all()
            df = pd.DataFrame(rows, columns=["h3", "value", "persons"])
        else:
            d0, d1, e0, e1 = _split(t0, t1)
            if d0 < d1:
                _heal_rollups(conn, d0, d1, rules)
            rows = conn.execute(_SCANS, {"res": res, "t0": t0, "t1": t1, "e0": e0, "e1": e1, "d0": d0, "d1": d1,
                                         "max_temp": rules.active_scan.max_temperature_c}).all()
            raw = pd.DataFrame(rows, columns=["h3", "scans", "abnormal", "persons", "abnormal_persons"])
            if measure == "abnormal":
                df = pd.DataFrame({"h3": raw["h3"], "value": raw["abnormal"], "persons": raw["abnormal_persons"]})
                df = df[df["value"] > 0]
            else:
                df = pd.DataFrame({"h3": raw["h3"], "value": raw[measure], "persons": raw["persons"]})
    k = rules.privacy.k
    suppressed = 0
    if not sees_small_counts(viewer):
        # cells under k persons, plus the smallest others so that no hidden cell can be
        # recovered by subtracting the shown cells from a published total
        hide = suppression_mask(df["persons"].to_numpy(), k, weight=df["persons"].to_numpy())
        suppressed = int(hide.sum())
        df = df[~hide]
    df = df.sort_values("value", ascending=False, kind="stable").reset_index(drop=True)
    cells = df["h3"].to_numpy(dtype=np.int64)
    gdf = gpd.GeoDataFrame({
        "h3": [h3.int_to_str(int(c)) for c in cells],
        "value": df["value"].to_numpy(dtype=np.int64),
        "persons": df["persons"].to_numpy(dtype=np.int64),
    }, geometry=_hexagons(cells), crs="EPSG:4326")
    gdf.attrs.update({"measure": measure, "resolution": res, "from": t0.isoformat(), "to": t1.isoformat(),
                      "k": k, "suppressed_cells": suppressed})
    return gdf
