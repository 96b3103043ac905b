"""Every report's JSON Schema, by name: what ``natprobe schema`` lists and prints.

The schemas are written as data next to each report's ``to_dict`` rather than generated from
the dataclasses: the JSON form is not the records' image (milliseconds instead of seconds,
rounded numbers, derived keys such as ``answered``, the hole punch flattened), so a schema
generated from the records would describe the records, not the JSON programs read. Tests
validate every ``--json`` output natprobe's suite produces against these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from natprobe.reports.check_report import CHECK_SCHEMA
from natprobe.reports.dns_report import DNS_SCHEMA
from natprobe.reports.doctor_report import DOCTOR_SCHEMA
from natprobe.reports.exposure_report import EXPOSURE_SCHEMA
from natprobe.reports.jamulus_report import JAMULUS_LIST_SCHEMA, JAMULUS_MODES_SCHEMA, JAMULUS_PING_SCHEMA
from natprobe.reports.lifetime_report import LIFETIME_SCHEMA
from natprobe.reports.nat_report import NAT_SCHEMA
from natprobe.reports.relay_report import RELAY_SCHEMA
from natprobe.reports.router_report import CHECK_MAP_SCHEMA, ROUTER_SCHEMA
from natprobe.reports.watch_report import HISTORY_SCHEMA, WATCH_SCHEMA

__all__ = ("ReportSchema", "SCHEMAS", "schema_for")


@dataclass(frozen=True, slots=True)
class ReportSchema:
    """One report's published schema."""

    name: str
    """The short name ``natprobe schema NAME`` takes (the schema id without ``natprobe/``)."""
    schema_id: str
    """The JSON's ``schema`` value, ``natprobe/<name>``."""
    version: int
    """The JSON's ``schema_version``."""
    title: str
    schema: dict[str, Any]
    """The JSON Schema (2020-12) document."""


def _entry(schema: dict[str, Any]) -> ReportSchema:
    properties = schema["properties"]
    schema_id = properties["schema"]["const"]
    return ReportSchema(
        name=schema_id.removeprefix("natprobe/"),
        schema_id=schema_id,
        version=properties["schema_version"]["const"],
        title=schema["title"],
        schema=schema,
    )


SCHEMAS: dict[str, ReportSchema] = {
    entry.name: entry
    for entry in map(
        _entry,
        (
            NAT_SCHEMA,
            LIFETIME_SCHEMA,
            CHECK_SCHEMA,
            RELAY_SCHEMA,
            CHECK_MAP_SCHEMA,
            ROUTER_SCHEMA,
            DNS_SCHEMA,
            EXPOSURE_SCHEMA,
            JAMULUS_MODES_SCHEMA,
            JAMULUS_PING_SCHEMA,
            JAMULUS_LIST_SCHEMA,
            WATCH_SCHEMA,
            HISTORY_SCHEMA,
            DOCTOR_SCHEMA,
        ),
    )
}


def schema_for(document: dict[str, Any]) -> ReportSchema:
    """The schema a report's JSON names in its ``schema`` key; ``KeyError`` if unknown."""
    name = str(document.get("schema", "")).removeprefix("natprobe/")
    entry = SCHEMAS[name]
    if document.get("schema_version") != entry.version:
        raise KeyError(f"{document.get('schema')} version {document.get('schema_version')} (known: {entry.version})")
    return entry
