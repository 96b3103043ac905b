"""Building blocks of the reports' JSON Schemas (JSON Schema 2020-12), as plain data.

Each report module writes the schema of its own JSON form next to its ``to_dict`` with these
helpers, and :mod:`natprobe.reports.catalog` lists them for ``natprobe schema``. Objects are
closed (``additionalProperties: false``) and every key is required, so a key added to a
``to_dict`` without its schema, or a schema key no output carries, fails the tests that
validate every ``--json`` output.
"""

from __future__ import annotations

from typing import Any

__all__ = (
    "ADDRESS",
    "BOOL_OR_NULL",
    "DIALECT",
    "FINDING",
    "INT_OR_NULL",
    "NUMBER_OR_NULL",
    "PORT",
    "STRING_LIST",
    "STRING_OR_NULL",
    "JsonSchema",
    "embedded",
    "enum_of",
    "nullable",
    "obj",
    "report_schema",
)

JsonSchema = dict[str, Any]

DIALECT = "https://json-schema.org/draft/2020-12/schema"

STRING_OR_NULL: JsonSchema = {"type": ["string", "null"]}
INT_OR_NULL: JsonSchema = {"type": ["integer", "null"]}
NUMBER_OR_NULL: JsonSchema = {"type": ["number", "null"]}
BOOL_OR_NULL: JsonSchema = {"type": ["boolean", "null"]}
STRING_LIST: JsonSchema = {"type": "array", "items": {"type": "string"}}
PORT: JsonSchema = {"type": "integer", "minimum": 0, "maximum": 65535}


def obj(properties: dict[str, JsonSchema], *, optional: tuple[str, ...] = ()) -> JsonSchema:
    """A closed object: every key but ``optional`` ones required, no other key allowed."""
    return {
        "type": "object",
        "properties": properties,
        "required": [key for key in properties if key not in optional],
        "additionalProperties": False,
    }


def nullable(schema: JsonSchema) -> JsonSchema:
    return {"anyOf": [{"type": "null"}, schema]}


def enum_of(values: Any) -> JsonSchema:
    """The string values of a ``StrEnum`` (or any iterable of strings)."""
    return {"type": "string", "enum": [str(v) for v in values]}


ADDRESS: JsonSchema = obj({"ip": {"type": "string"}, "port": PORT})
"""A transport address: ``{"ip": "192.0.2.1", "port": 3478}``."""

FINDING: JsonSchema = obj(
    {
        "severity": {"type": "string", "enum": ["ok", "info", "warning", "problem"]},
        "title": {"type": "string"},
        "detail": {"type": "string"},
        "advice": STRING_LIST,
        "code": {"type": "string"},
    },
)
"""One finding; ``code`` is the stable identifier programs match on (the text is translated)."""


def report_schema(schema_id: str, version: int, title: str, properties: dict[str, JsonSchema]) -> JsonSchema:
    """The schema of a whole report: ``schema`` and ``schema_version`` pinned, then ``properties``."""
    name = schema_id.removeprefix("natprobe/")
    return {
        "$schema": DIALECT,
        "$id": f"urn:natprobe:schema:{name}:{version}",
        "title": title,
        **obj(
            {
                "schema": {"const": schema_id},
                "schema_version": {"const": version},
                **properties,
            }
        ),
    }


def embedded(schema: JsonSchema) -> JsonSchema:
    """A report's schema for use inside another report (without ``$schema``/``$id``/``title``)."""
    return {k: v for k, v in schema.items() if k not in ("$schema", "$id", "title")}
