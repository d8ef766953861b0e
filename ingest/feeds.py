"""The feed contract (``shared/DESIGN.md``) as data: one :class:`FeedSpec` per feed.

Each column has a kind that says how its text is checked and turned into a value:

``id``        the feed's unique id (required; empty -> ``missing_id``)
``person``    a person reference (required; empty -> ``missing_person``; never stored in clear)
``text``      free text
``enum``      one of ``allowed`` (case-insensitive; else ``value_not_allowed``)
``time``      ISO 8601 date-time; no offset = the settings' zone (else ``bad_time``)
``date``      ISO 8601 date ``YYYY-MM-DD`` (else ``bad_time``)
``float``     a number, checked against ``low``..``high`` (``range_reason``)
``int``       a whole number, checked against ``low``..``high``
``bool``      ``true``/``false``/``1``/``0`` (any case)
``site``      a site code that must exist (of kind ``site_kind`` when given)
``pass``      a pass id that must exist (``unknown_pass``)
``district``  a district code that must exist (of level ``district_level`` when given)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from geodata.rules import SITE_KINDS

__all__ = ["Column", "FeedSpec", "FEEDS", "LOAD_ORDER", "REASONS"]

#: Every reason code the reject ledger may hold, with what it means.
REASONS: dict[str, str] = {
    "wrong_field_count": "a CSV line with more or fewer fields than the header",
    "malformed_row": "a JSON Lines line that is not one JSON object",
    "missing_id": "the feed's id column is empty",
    "missing_person": "the person reference is empty",
    "missing_value": "a required column is empty (or only one of lon/lat is given)",
    "bad_time": "not an ISO 8601 time (or date), or outside 1970-2099",
    "bad_time_order": "a time before the one it follows (decided before applied, ...)",
    "bad_number": "not a number",
    "bad_boolean": "not true/false/1/0",
    "value_not_allowed": "not one of the values the contract allows",
    "out_of_range_coordinate": "longitude outside -180..180 or latitude outside -90..90",
    "out_of_range_temperature": "temperature_c outside 34..43",
    "out_of_range_value": "a count or duration below 0",
    "unknown_site": "no site with that code (or the site is not of the kind the column names)",
    "unknown_pass": "no pass with that id",
    "unknown_district": "no district with that code (or not of the level the column names)",
    "bad_geometry": "a district feature without a valid (multi)polygon",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = True
    allowed: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    range_reason: str = "out_of_range_value"
    site_kind: str | None = None
    district_level: str | None = None


@dataclass(frozen=True)
class FeedSpec:
    name: str
    table: str
    id_column: str
    columns: tuple[Column, ...]
    #: (later, earlier) column pairs: the later time may not precede the earlier one
    after: tuple[tuple[str, str], ...] = ()
    #: columns given together or not at all
    pairs: tuple[tuple[str, str], ...] = ()
    geojson: bool = False
    extensions: tuple[str, ...] = (".csv", ".jsonl", ".ndjson", ".parquet")
    _by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def person_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.kind == "person"]

    def column(self, name: str) -> Column:
        return self._by_name[name]


def _t(name: str, required: bool = True) -> Column:
    return Column(name, "time", required)


_LON = Column("lon", "float", low=-180, high=180, range_reason="out_of_range_coordinate")
_LAT = Column("lat", "float", low=-90, high=90, range_reason="out_of_range_coordinate")


def _opt(col: Column) -> Column:
    return replace(col, required=False)


FEEDS: dict[str, FeedSpec] = {
    "districts": FeedSpec("districts", "districts", "code", (
        Column("code", "id"),
        Column("name_zh", "text"),
        Column("name_en", "text"),
        Column("level", "enum", allowed=("district", "street", "community")),
        Column("parent_code", "text", required=False),
        Column("population", "int", required=False, low=0),
    ), geojson=True, extensions=(".geojson", ".json")),
    "sites": FeedSpec("sites", "sites", "site_code", (
        Column("site_code", "id"),
        Column("kind", "enum", allowed=SITE_KINDS),
        Column("name", "text"),
        _LON, _LAT,
        Column("district_code", "district", required=False),
        Column("capacity", "int", required=False, low=0),
    )),
    "scans": FeedSpec("scans", "scans", "event_id", (
        Column("event_id", "id"),
        Column("person_ref", "person"),
        Column("site_code", "site"),
        Column("kind", "enum", allowed=("active_scan", "venue_checkin")),
        _t("scanned_at"),
        _opt(_LON), _opt(_LAT),
        Column("code_color", "enum", allowed=("green", "yellow", "red")),
        Column("temperature_c", "float", required=False, low=34, high=43, range_reason="out_of_range_temperature"),
        Column("nat_hours", "float", required=False, low=0),
        Column("risk_area_visit", "bool", required=False),
        Column("outcome", "enum", allowed=("admitted", "denied")),
    ), pairs=(("lon", "lat"),)),
    "passes": FeedSpec("passes", "passes", "pass_id", (
        Column("pass_id", "id"),
        Column("plate", "text"),
        Column("driver_ref", "person"),
        Column("category", "enum", allowed=("emergency_supplies", "bulk_cargo", "resident")),
        Column("enterprise", "text", required=False),
        Column("origin_city", "text"),
        Column("destination_site_code", "site", required=False),
        _t("applied_at"),
        Column("reviewer_dept", "text", required=False),
        _t("decided_at", False),
        Column("decision", "enum", required=False, allowed=("approved", "rejected", "pending")),
        _t("valid_from", False),
        _t("valid_to", False),
    ), after=(("decided_at", "applied_at"), ("valid_to", "valid_from"))),
    "crossings": FeedSpec("crossings", "crossings", "crossing_id", (
        Column("crossing_id", "id"),
        Column("pass_id", "pass", required=False),
        Column("plate", "text"),
        Column("checkpoint_code", "site", site_kind="checkpoint"),
        Column("direction", "enum", allowed=("in", "out")),
        _t("crossed_at"),
        Column("verified", "bool"),
        Column("sealed", "bool"),
        Column("processing_s", "float", required=False, low=0),
        Column("outcome", "enum", allowed=("released", "turned_back")),
    )),
    "nat": FeedSpec("nat", "nat_results", "sample_id", (
        Column("sample_id", "id"),
        Column("person_ref", "person"),
        Column("site_code", "site"),
        _t("sampled_at"),
        _t("reported_at", False),
        Column("result", "enum", allowed=("negative", "positive")),
    ), after=(("reported_at", "sampled_at"),)),
    "isolation": FeedSpec("isolation", "isolation_stays", "stay_id", (
        Column("stay_id", "id"),
        Column("person_ref", "person"),
        Column("site_code", "site"),
        Column("category", "enum", allowed=("case", "close_contact", "secondary_contact", "inbound", "other")),
        _t("admitted_at"),
        _t("discharged_at", False),
    ), after=(("discharged_at", "admitted_at"),)),
    "meds": FeedSpec("meds", "med_purchases", "purchase_id", (
        Column("purchase_id", "id"),
        Column("person_ref", "person"),
        Column("pharmacy_code", "site", site_kind="pharmacy"),
        _t("purchased_at"),
        Column("drug_class", "enum", allowed=("antipyretic", "antibiotic", "antiviral", "cough")),
    )),
    "returnees": FeedSpec("returnees", "returnees", "registration_id", (
        Column("registration_id", "id"),
        Column("person_ref", "person"),
        Column("origin_city", "text"),
        Column("origin_risk", "enum", allowed=("low", "medium", "high")),
        Column("arrival_date", "date"),
        Column("community_code", "district", district_level="community"),
        Column("purpose", "enum", allowed=("family_visit", "business", "return_home")),
    )),
}

#: Feeds in dependency order (districts before sites before everything at a site, ...).
LOAD_ORDER: tuple[str, ...] = (
    "districts", "sites", "passes", "crossings", "scans", "nat", "isolation", "meds", "returnees",
)
