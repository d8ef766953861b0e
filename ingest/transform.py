"""Turn validated feed text into the rows of the target table.

GCJ-02 -> WGS-84 (``crs="gcj02"``), site codes -> site ids, pass and district checks,
H3 cells (each distinct point once), person references -> pseudonyms (each distinct
reference hashed once per run; new persons encrypted for the ``persons`` table).
Unknown references become row problems (``unknown_site``, ``unknown_pass``,
``unknown_district``): rows are rejected, never invented.
"""

from __future__ import annotations

from dataclasses import dataclass

import h3.api.basic_int as h3i
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from geodata.crs import gcj02_to_wgs84

try:  # vectorised H3 (Rust); the h3 package's loop is the fallback
    from h3ronpy.vector import coordinates_to_cells as _coordinates_to_cells
except ImportError:  # pragma: no cover
    _coordinates_to_cells = None
from geodata.privacy import Pseudonymiser
from ingest.copybin import Field
from ingest.validate import Checked

__all__ = ["Lookups", "Persons", "Prepared", "transform", "take", "h3_cells", "local_days"]

#: Feed column -> target column, where they differ.
_RENAME = {
    "person_ref": "person_id", "driver_ref": "driver_id", "site_code": "site_id",
    "checkpoint_code": "checkpoint_id", "destination_site_code": "destination_site_id",
    "pharmacy_code": "site_id",
}
#: Float columns stored as real.
_REAL = {"temperature_c", "nat_hours", "processing_s"}


def h3_cells(lon: np.ndarray, lat: np.ndarray, res: int) -> np.ndarray:
    """H3 cells (BIGINT) of points (vectorised with h3ronpy; the h3 package otherwise)."""
    lon = np.ascontiguousarray(lon, dtype=np.float64)
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    if len(lon) == 0:
        return np.empty(0, dtype=np.int64)
    if _coordinates_to_cells is not None:
        cells = pa.array(_coordinates_to_cells(lat, lon, res))
        return cells.to_numpy(zero_copy_only=False).astype(np.uint64, copy=False).view(np.int64)
    codes, uniq = pd.factorize(lon + 1j * lat)
    cells = np.fromiter((h3i.latlng_to_cell(y, x, res) for x, y in zip(uniq.real.tolist(), uniq.imag.tolist())),
                        dtype=np.uint64, count=len(uniq)).view(np.int64)
    return cells[codes]


def local_days(ts_us: np.ndarray, zone: str) -> np.ndarray:
    """The local day (days since the Unix epoch) of each UTC microsecond time."""
    arr = pa.array(ts_us, pa.timestamp("us", zone))
    return pc.local_timestamp(arr).cast(pa.date32()).cast(pa.int32()).to_numpy(zero_copy_only=False)


class Lookups:
    """Reference data of a run, read once from the database (passes per batch)."""

    def __init__(self, conn: psycopg.Connection, res: int) -> None:
        self.conn = conn
        rows = conn.execute("SELECT site_code, site_id, kind, lon, lat FROM sites").fetchall()
        self.sites = pd.DataFrame(rows, columns=["site_code", "site_id", "kind", "lon", "lat"]).set_index("site_code")
        self.sites["h3"] = h3_cells(self.sites["lon"].to_numpy(float), self.sites["lat"].to_numpy(float), res)
        self.districts = dict(conn.execute("SELECT code, level FROM districts").fetchall())

    def known_passes(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        rows = self.conn.execute("SELECT pass_id FROM passes WHERE pass_id = ANY(%s)", (ids,)).fetchall()
        return {r[0] for r in rows}


class Persons:
    """Pseudonyms of a run's person references, and which persons the database lacks."""

    def __init__(self, pseudo: Pseudonymiser, conn: psycopg.Connection) -> None:
        self.pseudo = pseudo
        self.conn = conn
        self._ids: dict[str | None, int] = {None: 0, "": 0}  # reference -> pseudonym, this run
        self._known = np.empty(0, dtype=np.int64)

    def ids(self, refs: pa.Array) -> np.ndarray:
        """The pseudonym of each reference (0 where empty); each distinct reference hashed once per run."""
        if isinstance(refs, pa.ChunkedArray):
            refs = refs.combine_chunks()
        enc = pc.dictionary_encode(refs)  # the batch's distinct references, found in C
        table, person_id = self._ids, self.pseudo.person_id
        distinct = enc.dictionary.to_pylist()
        values = np.empty(len(distinct) + 1, dtype=np.int64)
        for i, ref in enumerate(distinct):
            pid = table.get(ref)
            if pid is None:
                pid = table[ref] = person_id(ref)
            values[i] = pid
        values[-1] = 0  # an empty (null) reference
        index = pc.fill_null(enc.indices, len(distinct)).to_numpy(zero_copy_only=False)
        return values[index]

    def new(self, refs: pa.Array, ids: np.ndarray) -> tuple[np.ndarray, list[bytes]]:
        """Persons among (refs, ids) that the database does not hold yet, encrypted.

        They count as stored from now on (their batch commits before the run ends, or
        the run fails).
        """
        if len(ids) == 0:
            return np.empty(0, np.int64), []
        uniq, first = np.unique(ids, return_index=True)
        fresh = ~np.isin(uniq, self._known)
        uniq, first = uniq[fresh], first[fresh]
        if len(uniq):
            literal = "{" + ",".join(uniq.astype(str).tolist()) + "}"
            rows = self.conn.execute("SELECT person_id FROM persons WHERE person_id = ANY(%s::bigint[])",
                                     (literal,)).fetchall()
            self._known = np.concatenate([self._known, uniq])
            if rows:
                missing = ~np.isin(uniq, np.array([r[0] for r in rows], dtype=np.int64))
                uniq, first = uniq[missing], first[missing]
        texts = refs.take(pa.array(first, pa.int64())).to_pylist()
        blobs = self.pseudo.encrypt_many(texts)
        return uniq, blobs


@dataclass
class Prepared:
    """Target-table columns for every row of a batch (rows with problems are filtered later)."""

    fields: list[Field]
    person_refs: dict[str, pa.Array]
    person_ids: dict[str, np.ndarray]
    day: np.ndarray | None = None


def _text_field(name: str, t: pa.Array, present: np.ndarray, required: bool) -> Field:
    return Field(name, "text", t, None if required else present)


def _site_lookup(checked: Checked, name: str, lookups: Lookups, site_kind: str | None) -> np.ndarray:
    """Row index into ``lookups.sites`` (-1 unknown); unknown present codes become problems."""
    codes = checked.text[name]
    enc = pc.dictionary_encode(codes)
    pos = lookups.sites.index.get_indexer(enc.dictionary.to_pylist())
    if site_kind is not None:
        kinds = lookups.sites["kind"].to_numpy()
        pos = np.where((pos >= 0) & (kinds[np.maximum(pos, 0)] == site_kind), pos, -1)
    idx = pos[enc.indices.to_numpy(zero_copy_only=False)] if len(pos) else np.full(len(codes), -1)
    checked.problems.add((idx < 0) & checked.present[name], "unknown_site", name)
    return idx


def _points(checked: Checked, crs: str) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = checked.values["lon"], checked.values["lat"]
    if crs == "gcj02":
        given = checked.present["lon"] & checked.present["lat"]
        if given.any():
            codes, uniq = pd.factorize(lon[given] + 1j * lat[given])
            wlon, wlat = gcj02_to_wgs84(uniq.real, uniq.imag)
            lon, lat = lon.copy(), lat.copy()
            lon[given], lat[given] = wlon[codes], wlat[codes]
    return lon, lat


def transform(checked: Checked, lookups: Lookups, persons: Persons, *, crs: str, res: int, zone: str) -> Prepared:
    """The target columns of every row of ``checked`` (adds lookup problems to it)."""
    spec = checked.spec
    n = checked.n
    fields: list[Field] = []
    refs: dict[str, pa.Array] = {}
    pids: dict[str, np.ndarray] = {}
    site_rows: np.ndarray | None = None
    for col in spec.columns:
        name, t, present = col.name, checked.text[col.name], checked.present[col.name]
        target = _RENAME.get(name, name) if col.kind in ("person", "site") else name
        if col.kind in ("id", "text"):
            fields.append(_text_field(target, t, present, col.required))
        elif col.kind == "enum":
            codes = pa.array(np.maximum(checked.values[name], 0), pa.int8())
            values = pa.DictionaryArray.from_arrays(codes, pa.array(col.allowed, pa.string()))
            fields.append(Field(target, "text", values, None if col.required else present))
        elif col.kind == "person":
            refs[target] = t
            pids[target] = persons.ids(t)
            fields.append(Field(target, "int8", pids[target]))
        elif col.kind == "site":
            idx = _site_lookup(checked, name, lookups, col.site_kind)
            site_rows = idx if col.required else site_rows
            ids = lookups.sites["site_id"].to_numpy(np.int64)[np.maximum(idx, 0)] if len(lookups.sites) else \
                np.zeros(n, np.int64)
            fields.append(Field(target, "int4", ids.astype(np.int32), None if col.required else idx >= 0))
        elif col.kind == "pass":
            wanted = [p for p in pc.unique(t.filter(pa.array(present))).to_pylist()]
            known = lookups.known_passes(wanted)
            ok = pc.is_in(t, value_set=pa.array(sorted(known), pa.string())).to_numpy(zero_copy_only=False)
            checked.problems.add(present & ~ok.astype(bool), "unknown_pass", name)
            fields.append(_text_field(target, t, present, col.required))
        elif col.kind == "district":
            codes = t.to_pylist()
            levels = [lookups.districts.get(c) for c in codes]
            bad = np.fromiter(((lv is None or (col.district_level is not None and lv != col.district_level))
                               for lv in levels), dtype=bool, count=n)
            checked.problems.add(bad & present, "unknown_district", name)
            fields.append(_text_field(target, t, present, col.required))
        elif col.kind == "time":
            fields.append(Field(target, "timestamptz", checked.values[name], None if col.required else present))
        elif col.kind == "date":
            fields.append(Field(target, "date", checked.values[name], None if col.required else present))
        elif col.kind == "bool":
            fields.append(Field(target, "bool", checked.values[name], None if col.required else present))
        elif col.kind == "int":
            fields.append(Field(target, "int4", checked.values[name].astype(np.int32), None if col.required else present))
        elif col.kind == "float" and name not in ("lon", "lat"):
            kind = "float4" if name in _REAL else "float8"
            fields.append(Field(target, kind, checked.values[name], None if col.required else present))
    prepared = Prepared(fields, refs, pids)
    if spec.name in ("scans", "sites"):
        lon, lat = _points(checked, crs)
        given = checked.present["lon"] & checked.present["lat"]
        usable = given & np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        lon, lat = np.where(usable, lon, 0.0), np.where(usable, lat, 0.0)
        cells = np.zeros(n, dtype=np.int64)
        cells[usable] = h3_cells(lon[usable], lat[usable], res)
        if spec.name == "scans":
            site = lookups.sites.iloc[np.maximum(site_rows, 0)] if len(lookups.sites) else None
            if site is not None:  # no coordinates: the site's point and cell
                lon = np.where(usable, lon, site["lon"].to_numpy(float))
                lat = np.where(usable, lat, site["lat"].to_numpy(float))
                cells = np.where(usable, cells, site["h3"].to_numpy(np.int64))
            prepared.day = local_days(checked.values["scanned_at"], zone)
        fields += [Field("lon", "float8", lon), Field("lat", "float8", lat), Field("h3", "int8", cells)]
    elif spec.name == "meds":
        cells = lookups.sites["h3"].to_numpy(np.int64)[np.maximum(site_rows, 0)] if len(lookups.sites) else \
            np.zeros(n, np.int64)
        fields.append(Field("h3", "int8", cells))
    return prepared


def take(prepared: Prepared, idx: np.ndarray) -> list[Field]:
    """The fields of the rows at ``idx`` (in that order)."""
    out = []
    sel = pa.array(idx, pa.int64())
    for f in prepared.fields:
        vals = f.values.take(sel) if isinstance(f.values, pa.Array) else np.asarray(f.values)[idx]
        out.append(Field(f.name, f.pgtype, vals, None if f.valid is None else f.valid[idx]))
    return out
