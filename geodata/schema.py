"""The database schema as SQLAlchemy Core tables (GeoAlchemy2 for geometries).

The migrations in ``geodata/migrations`` create it; a test checks that these
definitions and the migrated database agree. Queries elsewhere use these tables
(or parameterised ``text()``), never values formatted into SQL.
"""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger, Boolean, Column, Date, Float, ForeignKey, Index, Integer, LargeBinary,
    MetaData, SmallInteger, Table, Text, text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, REAL as Real, TIMESTAMP
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.types import UserDefinedType

__all__ = [
    "metadata", "districts", "sites", "persons", "scans", "passes", "crossings",
    "nat_results", "isolation_stays", "med_purchases", "returnees", "ingest_runs",
    "rejects", "audit_log", "scan_cells_daily", "scan_rollup_days", "users",
    "FEED_TABLES", "include_object",
]

metadata = MetaData()
TS = TIMESTAMP(timezone=True)


def _geom(kind: str) -> Geometry:
    return Geometry(kind, srid=4326, spatial_index=False)


districts = Table(
    "districts", metadata,
    Column("code", Text, primary_key=True),
    Column("name_zh", Text, nullable=False),
    Column("name_en", Text, nullable=False),
    Column("level", Text, nullable=False),
    Column("parent_code", Text, ForeignKey("districts.code")),
    Column("population", Integer),
    Column("synthetic", Boolean, nullable=False, server_default=text("false")),
    Column("geom", _geom("MULTIPOLYGON"), nullable=False),
    Index("districts_geom_idx", "geom", postgresql_using="gist"),
    Index("districts_parent_idx", "parent_code"),
)

sites = Table(
    "sites", metadata,
    Column("site_id", Integer, primary_key=True),
    Column("site_code", Text, nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("geom", _geom("POINT"), nullable=False),
    Column("h3", BigInteger, nullable=False),
    Column("district_code", Text, ForeignKey("districts.code")),
    Column("capacity", Integer),
    Index("sites_kind_idx", "kind"),
    Index("sites_district_idx", "district_code"),
    Index("sites_geom_idx", "geom", postgresql_using="gist"),
)

persons = Table(
    "persons", metadata,
    Column("person_id", BigInteger, primary_key=True, autoincrement=False),
    Column("ref_encrypted", LargeBinary, nullable=False),
    Column("first_seen", TS, nullable=False, server_default=text("now()")),
)

scans = Table(
    "scans", metadata,
    Column("event_id", Text, primary_key=True),
    Column("person_id", BigInteger, nullable=False),
    Column("site_id", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("scanned_at", TS, primary_key=True),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("h3", BigInteger, nullable=False),
    Column("code_color", Text, nullable=False),
    Column("temperature_c", Real),
    Column("nat_hours", Real),
    Column("risk_area_visit", Boolean),
    Column("outcome", Text, nullable=False),
    Index("scans_site_time_idx", "site_id", "scanned_at", postgresql_include=["person_id"]),
    Index("scans_person_time_idx", "person_id", "scanned_at"),
    Index("scans_h3_time_idx", "h3", "scanned_at"),
    postgresql_partition_by="RANGE (scanned_at)",
)

passes = Table(
    "passes", metadata,
    Column("pass_id", Text, primary_key=True),
    Column("plate", Text, nullable=False),
    Column("driver_id", BigInteger, ForeignKey("persons.person_id"), nullable=False),
    Column("category", Text, nullable=False),
    Column("enterprise", Text),
    Column("origin_city", Text, nullable=False),
    Column("destination_site_id", Integer, ForeignKey("sites.site_id")),
    Column("applied_at", TS, nullable=False),
    Column("reviewer_dept", Text),
    Column("decided_at", TS),
    Column("decision", Text),
    Column("valid_from", TS),
    Column("valid_to", TS),
    Index("passes_applied_idx", "applied_at"),
    Index("passes_plate_idx", "plate"),
)

crossings = Table(
    "crossings", metadata,
    Column("crossing_id", Text, primary_key=True),
    Column("pass_id", Text, ForeignKey("passes.pass_id")),
    Column("plate", Text, nullable=False),
    Column("checkpoint_id", Integer, ForeignKey("sites.site_id"), nullable=False),
    Column("direction", Text, nullable=False),
    Column("crossed_at", TS, nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("sealed", Boolean, nullable=False),
    Column("processing_s", Real),
    Column("outcome", Text, nullable=False),
    Index("crossings_checkpoint_time_idx", "checkpoint_id", "crossed_at"),
    Index("crossings_time_idx", "crossed_at"),
)

nat_results = Table(
    "nat_results", metadata,
    Column("sample_id", Text, primary_key=True),
    Column("person_id", BigInteger, ForeignKey("persons.person_id"), nullable=False),
    Column("site_id", Integer, ForeignKey("sites.site_id"), nullable=False),
    Column("sampled_at", TS, nullable=False),
    Column("reported_at", TS),
    Column("result", Text, nullable=False),
    Index("nat_person_time_idx", "person_id", "sampled_at"),
    Index("nat_positive_idx", "sampled_at", postgresql_where=text("result = 'positive'")),
)

isolation_stays = Table(
    "isolation_stays", metadata,
    Column("stay_id", Text, primary_key=True),
    Column("person_id", BigInteger, ForeignKey("persons.person_id"), nullable=False),
    Column("site_id", Integer, ForeignKey("sites.site_id"), nullable=False),
    Column("category", Text, nullable=False),
    Column("admitted_at", TS, nullable=False),
    Column("discharged_at", TS),
    Index("isolation_site_time_idx", "site_id", "admitted_at"),
    Index("isolation_person_idx", "person_id", "admitted_at"),
)

med_purchases = Table(
    "med_purchases", metadata,
    Column("purchase_id", Text, primary_key=True),
    Column("person_id", BigInteger, ForeignKey("persons.person_id"), nullable=False),
    Column("site_id", Integer, ForeignKey("sites.site_id"), nullable=False),
    Column("purchased_at", TS, nullable=False),
    Column("drug_class", Text, nullable=False),
    Column("h3", BigInteger, nullable=False),
    Index("meds_time_idx", "purchased_at"),
    Index("meds_h3_time_idx", "h3", "purchased_at"),
)

returnees = Table(
    "returnees", metadata,
    Column("registration_id", Text, primary_key=True),
    Column("person_id", BigInteger, ForeignKey("persons.person_id"), nullable=False),
    Column("origin_city", Text, nullable=False),
    Column("origin_risk", Text, nullable=False),
    Column("arrival_date", Date, nullable=False),
    Column("community_code", Text, ForeignKey("districts.code"), nullable=False),
    Column("purpose", Text, nullable=False),
    Index("returnees_arrival_idx", "arrival_date"),
    Index("returnees_community_idx", "community_code"),
)

ingest_runs = Table(
    "ingest_runs", metadata,
    Column("run_id", BigInteger, primary_key=True),
    Column("feed", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("file_sha256", Text),
    Column("crs", Text, nullable=False, server_default=text("'wgs84'")),
    Column("started_at", TS, nullable=False, server_default=text("now()")),
    Column("finished_at", TS),
    Column("status", Text, nullable=False, server_default=text("'running'")),
    Column("read", BigInteger, nullable=False, server_default=text("0")),
    Column("loaded", BigInteger, nullable=False, server_default=text("0")),
    Column("duplicates", BigInteger, nullable=False, server_default=text("0")),
    Column("rejected", BigInteger, nullable=False, server_default=text("0")),
    Column("seconds", Float),
    Column("extra_columns", ARRAY(Text)),
    Column("message", Text),
    Index("ingest_runs_feed_idx", "feed", "started_at"),
)

rejects = Table(
    "rejects", metadata,
    Column("reject_id", BigInteger, primary_key=True),
    Column("run_id", BigInteger, ForeignKey("ingest_runs.run_id"), nullable=False),
    Column("feed", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("row_number", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("detail", Text),
    Column("raw_redacted", Text),
    Column("raw_encrypted", LargeBinary),
    Index("rejects_run_idx", "run_id"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("audit_id", BigInteger, primary_key=True),
    Column("at", TS, nullable=False, server_default=text("now()")),
    Column("actor", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("person_id", BigInteger),
    Column("purpose", Text),
    Column("rows_returned", Integer),
    Column("detail", JSONB),
    Index("audit_person_idx", "person_id", "at"),
    Index("audit_actor_idx", "actor", "at"),
)

class _HLL(UserDefinedType):
    """postgresql-hll's sketch type."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:  # noqa: ANN003
        return "hll"


ischema_names["hll"] = _HLL  # let reflection (alembic's compare) recognise the type

scan_cells_daily = Table(
    "scan_cells_daily", metadata,
    Column("res", SmallInteger, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("h3", BigInteger, primary_key=True),
    Column("scans", Integer, nullable=False),
    Column("abnormal", Integer, nullable=False),
    Column("persons", _HLL, nullable=False),
    Column("abnormal_persons", _HLL, nullable=False),
)

scan_rollup_days = Table(
    "scan_rollup_days", metadata,
    Column("day", Date, primary_key=True),
    Column("refreshed_at", TS, nullable=False, server_default=text("now()")),
    Column("cells", Integer, nullable=False),
)

users = Table(
    "users", metadata,
    Column("name", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("password_hash", Text),
    Column("token_hash", Text, unique=True),
    Column("kiosk", Boolean, nullable=False, server_default=text("false")),
    Column("disabled", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", TS, nullable=False, server_default=text("now()")),
    Column("last_login", TS),
)

#: The table each feed of the ingest contract loads into.
FEED_TABLES: dict[str, Table] = {
    "districts": districts,
    "sites": sites,
    "scans": scans,
    "passes": passes,
    "crossings": crossings,
    "nat": nat_results,
    "isolation": isolation_stays,
    "meds": med_purchases,
    "returnees": returnees,
}


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    """Alembic filter: leave PostGIS's own tables and the daily scan partitions alone."""
    if type_ == "table" and (name == "spatial_ref_sys" or (name or "").startswith("scans_p")):
        return False
    table = getattr(obj, "table", None)
    return not (type_ == "index" and table is not None and table.name.startswith("scans_p"))
