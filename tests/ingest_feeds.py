"""Small hand-made feed files for the ingest tests (every feed of the contract).

Sites sit at representative points of the reference communities, so that the
point-in-polygon of a site without ``district_code`` has one known answer. Person
references look like resident ID numbers; none of them may ever reach the database,
a log or the output in clear (the tests look for them).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from geodata.crs import wgs84_to_gcj02
from geodata.geography import districts

__all__ = ["PERSONS", "community_points", "write_rows", "write_world", "WORLD_COUNTS"]

#: Person references used by the world (secret: never to appear in clear).
PERSONS = ["211403199001010011", "211403198502020022", "211403197703030033", "21140320000404004X"]


def community_points(n: int = 6) -> list[tuple[str, float, float]]:
    """(code, lon, lat) of the representative point of the first ``n`` communities."""
    comm = districts("community").sort_values("code").head(n)
    return [(r.code, r.geometry.representative_point().x, r.geometry.representative_point().y)
            for r in comm.itertuples()]


def write_rows(path: Path, columns: list[str], rows: list[list], fmt: str | None = None) -> Path:
    """Write rows (lists of str/None) as CSV, JSON Lines or Parquet (by ``fmt`` or extension)."""
    fmt = fmt or path.suffix.lstrip(".")
    if fmt == "csv":
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(columns)
            w.writerows([["" if v is None else v for v in r] for r in rows])
    elif fmt == "jsonl":
        with open(path, "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps({c: v for c, v in zip(columns, r) if v is not None}, ensure_ascii=False) + "\n")
    elif fmt == "parquet":
        table = pa.table({c: pa.array([r[i] for r in rows], pa.string()) for i, c in enumerate(columns)})
        pq.write_table(table, path)
    else:  # pragma: no cover
        raise ValueError(fmt)
    return path


def _pt(lon: float, lat: float, crs: str) -> tuple[str, str]:
    if crs == "gcj02":
        glon, glat = wgs84_to_gcj02([lon], [lat])
        lon, lat = float(glon[0]), float(glat[0])
    return f"{lon:.9f}", f"{lat:.9f}"


#: rows each feed file of ``write_world`` holds (all good)
WORLD_COUNTS = {"districts": 2, "sites": 6, "passes": 2, "crossings": 3, "scans": 6, "nat": 3, "isolation": 2,
                "meds": 2, "returnees": 2}


def write_world(folder: Path, fmt: str = "csv", crs: str = "wgs84") -> dict[str, Path]:
    """One good file per feed (districts as GeoJSON); returns feed -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    pts = community_points(6)
    p1, p2, p3, p4 = PERSONS
    out: dict[str, Path] = {}
    # districts: a new street with one new community (a small square inside the first community)
    code0, lon0, lat0 = pts[0]
    sq = [[lon0 - 0.001, lat0 - 0.001], [lon0 + 0.001, lat0 - 0.001], [lon0 + 0.001, lat0 + 0.001],
          [lon0 - 0.001, lat0 + 0.001], [lon0 - 0.001, lat0 - 0.001]]
    if crs == "gcj02":
        sq = [list(map(float, _pt(x, y, crs))) for x, y in sq]
    feats = [
        {"type": "Feature", "properties": {"code": "211403901001", "name_zh": "测试社区", "name_en": "Test Community",
                                           "level": "community", "parent_code": "211403901", "population": 1200},
         "geometry": {"type": "Polygon", "coordinates": [sq]}},
        {"type": "Feature", "properties": {"code": "211403901", "name_zh": "测试街道", "name_en": "Test Street",
                                           "level": "street", "parent_code": "211403", "population": 1200},
         "geometry": {"type": "MultiPolygon", "coordinates": [[sq]]}},
    ]
    out["districts"] = folder / "districts.geojson"
    out["districts"].write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    ext = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}[fmt]

    def put(feed: str, columns: list[str], rows: list[list]) -> None:
        out[feed] = write_rows(folder / f"{feed}.{ext}", columns, rows, fmt)

    site_rows = []
    for (code, lon, lat), (sc, kind, cap, given) in zip(pts, [
        ("CP1", "checkpoint", None, False), ("V1", "venue", None, False), ("PH1", "pharmacy", None, True),
        ("ISO1", "isolation_site", "50", False), ("NAT1", "nat_site", None, False), ("V2", "venue", None, False),
    ]):
        x, y = _pt(lon, lat, crs)
        site_rows.append([sc, kind, f"场所{sc}", x, y, code if given else None, cap])
    put("sites", ["site_code", "kind", "name", "lon", "lat", "district_code", "capacity"], site_rows)
    put("passes", ["pass_id", "plate", "driver_ref", "category", "enterprise", "origin_city", "destination_site_code",
                   "applied_at", "reviewer_dept", "decided_at", "decision", "valid_from", "valid_to"], [
        ["PS1", "辽P12345", p1, "emergency_supplies", "某物流公司", "沈阳", "V1", "2022-04-01T08:00:00+08:00",
         "交通局", "2022-04-01T09:00:00+08:00", "approved", "2022-04-01T09:00:00+08:00", "2022-04-08T09:00:00+08:00"],
        ["PS2", "辽P54321", p2, "resident", None, "锦州", None, "2022-04-02 10:00:00", None, None, "pending", None,
         None],
    ])
    put("crossings", ["crossing_id", "pass_id", "plate", "checkpoint_code", "direction", "crossed_at", "verified",
                      "sealed", "processing_s", "outcome"], [
        ["X1", "PS1", "辽P12345", "CP1", "in", "2022-04-01T10:00:00+08:00", "true", "true", "95.5", "released"],
        ["X2", None, "辽P99999", "CP1", "in", "2022-04-01T11:00:00+08:00", "false", "0", None, "turned_back"],
        ["X3", "PS1", "辽P12345", "CP1", "out", "2022-04-01T18:00:00Z", "1", "TRUE", "40", "released"],
    ])
    vx, vy = _pt(pts[1][1] + 0.0002, pts[1][2] + 0.0001, crs)
    put("scans", ["event_id", "person_ref", "site_code", "kind", "scanned_at", "lon", "lat", "code_color",
                  "temperature_c", "nat_hours", "risk_area_visit", "outcome"], [
        ["E1", p1, "V1", "venue_checkin", "2022-04-01T08:00:00+08:00", None, None, "green", None, None, None,
         "admitted"],
        ["E2", p2, "V1", "venue_checkin", "2022-04-01T08:10:00", vx, vy, "green", None, None, "false", "admitted"],
        ["E3", p3, "CP1", "active_scan", "2022-04-01T23:59:00+08:00", None, None, "yellow", "37.8", "50", "true",
         "denied"],
        ["E4", p1, "V2", "venue_checkin", "2022-04-02T00:01:00+08:00", None, None, "green", "36.5", "12", "0",
         "admitted"],
        ["E5", p4, "V2", "venue_checkin", "2022-04-02T12:00:00+08:00", None, None, "red", None, None, None, "denied"],
        ["E6", p2, "PH1", "active_scan", "2022-04-03T09:00:00.250+08:00", None, None, "green", "36.9", "24.5",
         "false", "admitted"],
    ])
    put("nat", ["sample_id", "person_ref", "site_code", "sampled_at", "reported_at", "result"], [
        ["N1", p1, "NAT1", "2022-04-01T07:00:00+08:00", "2022-04-01T19:00:00+08:00", "negative"],
        ["N2", p3, "NAT1", "2022-04-02T07:00:00+08:00", None, "positive"],
        ["N3", p4, "NAT1", "2022-04-02T07:30:00+08:00", "2022-04-02T20:00:00+08:00", "negative"],
    ])
    put("isolation", ["stay_id", "person_ref", "site_code", "category", "admitted_at", "discharged_at"], [
        ["I1", p3, "ISO1", "case", "2022-04-03T10:00:00+08:00", None],
        ["I2", p1, "ISO1", "close_contact", "2022-04-03T12:00:00+08:00", "2022-04-10T12:00:00+08:00"],
    ])
    put("meds", ["purchase_id", "person_ref", "pharmacy_code", "purchased_at", "drug_class"], [
        ["M1", p2, "PH1", "2022-04-02T15:00:00+08:00", "antipyretic"],
        ["M2", p4, "PH1", "2022-04-02T16:00:00+08:00", "cough"],
    ])
    put("returnees", ["registration_id", "person_ref", "origin_city", "origin_risk", "arrival_date",
                      "community_code", "purpose"], [
        ["R1", p4, "上海", "high", "2022-04-01", pts[2][0], "return_home"],
        ["R2", p2, "大连", "low", "2022-04-02", "211403901001", "business"],
    ])
    return out
