"""The ``districts`` feed: GeoJSON features, upserted by code.

Properties ``code, name_zh, name_en, level, parent_code, population`` are checked like
any feed's columns; the geometry must be a (Multi)Polygon (``bad_geometry``); a parent
must exist in the database or earlier in the file (``unknown_district``). A feature
whose code exists already updates the row when something differs (counted as loaded)
and is a duplicate when nothing does; the row's ``synthetic`` flag is never changed
(new rows get ``false``). Geometries come in the file's CRS (``gcj02`` is converted).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import shapely
from shapely.geometry import MultiPolygon, shape

from geodata.crs import gcj02_to_wgs84
from geodata.errors import FeedError
from geodata.privacy import Pseudonymiser
from geodata.settings import get_settings
from ingest.feeds import FEEDS
from ingest.load import Reject
from ingest.readers import Broken, RawBatch
from ingest.validate import validate

__all__ = ["load_districts_file"]

_LEVELS = {"district": 0, "street": 1, "community": 2}
_UPSERT = """
INSERT INTO districts (code, name_zh, name_en, level, parent_code, population, synthetic, geom)
VALUES (%s, %s, %s, %s, %s, %s, false, ST_Multi(ST_GeomFromWKB(%s, 4326)))
ON CONFLICT (code) DO UPDATE SET
    name_zh = EXCLUDED.name_zh, name_en = EXCLUDED.name_en, level = EXCLUDED.level,
    parent_code = EXCLUDED.parent_code, population = EXCLUDED.population, geom = EXCLUDED.geom
WHERE (districts.name_zh, districts.name_en, districts.level, districts.parent_code, districts.population)
      IS DISTINCT FROM
      (EXCLUDED.name_zh, EXCLUDED.name_en, EXCLUDED.level, EXCLUDED.parent_code, EXCLUDED.population)
   OR ST_AsBinary(districts.geom) <> ST_AsBinary(EXCLUDED.geom)
"""


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _features(path: Path) -> list:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as err:
        raise FeedError(f"{path.name}: not readable as GeoJSON ({err.__class__.__name__}: {err})") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(
            data.get("features"), list):
        raise FeedError(f"{path.name}: not a GeoJSON FeatureCollection")
    feats = data["features"]
    if feats and not any(isinstance(f, dict) and "code" in (f.get("properties") or {}) for f in feats):
        raise FeedError(f"{path.name}: no feature has a 'code' property (the districts feed's id)")
    return feats


def _geometry(feat: dict, crs: str) -> MultiPolygon | None:
    try:
        geom = shape(feat["geometry"])
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException):
        return None
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        return None
    if crs == "gcj02":
        geom = shapely.transform(geom, lambda xy: np.column_stack(gcj02_to_wgs84(xy[:, 0], xy[:, 1])))
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
        parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
        if not parts:
            return None
        geom = shapely.union_all(parts)
    return geom if geom.geom_type == "MultiPolygon" else MultiPolygon([geom])


def load_districts_file(path: Path, crs: str, conn: psycopg.Connection, run_id: int) -> dict:
    """Upsert the districts of a GeoJSON file; returns the run's counts."""
    spec = FEEDS["districts"]
    feats = _features(path)
    props = [(f.get("properties") or {}) if isinstance(f, dict) else {} for f in feats]
    names = spec.names
    extra = sorted({k for p in props for k in p} - set(names))
    table = pa.table({c: pa.array([_text(p.get(c)) for p in props], pa.string()) for c in names})
    raw = RawBatch(table, np.arange(1, len(feats) + 1, dtype=np.int64),
                   [Broken(i + 1, "malformed_row", "not a GeoJSON feature", json.dumps(f, ensure_ascii=False))
                    for i, f in enumerate(feats) if not isinstance(f, dict)])
    checked = validate(raw, spec, get_settings().timezone)
    geoms = [_geometry(f, crs) if isinstance(f, dict) else None for f in feats]
    checked.problems.add(np.array([g is None for g in geoms], dtype=bool), "bad_geometry", "geometry")
    broken = {b.row - 1 for b in raw.broken}
    checked.problems.add(np.array([i in broken for i in range(len(feats))], dtype=bool), "malformed_row", "feature")
    known = {r[0] for r in conn.execute("SELECT code FROM districts").fetchall()}
    codes = checked.text["code"].to_pylist()
    parents = checked.text["parent_code"].to_pylist()
    levels = checked.text["level"].to_pylist()
    bad = checked.problems.bad()
    in_file = {c for c, b in zip(codes, bad) if not b}
    checked.problems.add(np.array([bool(p) and p not in known and p not in in_file for p in parents], dtype=bool),
                         "unknown_district", "parent_code")
    bad = checked.problems.bad()
    pseudo = Pseudonymiser.from_settings()
    described = checked.problems.describe(checked.text, set())
    rejects = [Reject(i + 1, *described[i], json.dumps(props[i], ensure_ascii=False),
                      pseudo.encrypt_text(json.dumps(feats[i], ensure_ascii=False)))
               for i in np.flatnonzero(bad).tolist()]
    seen: set[str] = set()
    rows = []
    duplicates = 0
    good = [i for i in np.flatnonzero(~bad).tolist()]
    good.sort(key=lambda i: _LEVELS.get(levels[i], 3))
    pop = checked.values["population"]
    for i in good:
        if codes[i] in seen:
            duplicates += 1
            continue
        seen.add(codes[i])
        t = checked.text
        rows.append((codes[i], t["name_zh"][i].as_py(), t["name_en"][i].as_py(), levels[i], parents[i] or None,
                     int(pop[i]) if checked.present["population"][i] else None, shapely.to_wkb(geoms[i])))
    loaded = 0
    with conn.transaction():
        cur = conn.cursor()
        for row in rows:  # parents first; a few hundred rows at most
            cur.execute(_UPSERT, row)
            loaded += cur.rowcount
        if rejects:
            with cur.copy("COPY rejects (run_id, feed, source, row_number, reason, detail, raw_redacted, "
                          "raw_encrypted) FROM STDIN") as cp:
                for r in rejects:
                    cp.write_row((run_id, "districts", str(path), r.row, r.reason, r.detail, r.raw_redacted,
                                  r.raw_encrypted))
    duplicates += len(rows) - loaded
    return {"read": len(feats), "loaded": loaded, "duplicates": duplicates, "rejected": len(rejects),
            "extra": extra}
