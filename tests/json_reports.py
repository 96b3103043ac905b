"""Validate a ``--json`` report against the JSON Schema it names (``schema`` + ``schema_version``).

Every test that runs the CLI with ``--json`` (or calls a report's ``to_dict``) passes the
parsed document through :func:`assert_valid_report`, so a key added to a report without its
schema, or a schema that no output matches, fails where the output is produced.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from natprobe.reports.catalog import schema_for


def assert_valid_report(document: Any) -> dict[str, Any]:
    """``document`` if it is valid against its own schema; otherwise an ``AssertionError`` listing why."""
    assert isinstance(document, dict), f"a report is a JSON object, not {type(document).__name__}"
    entry = schema_for(document)
    validator = Draft202012Validator(entry.schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, f"{entry.schema_id} v{entry.version}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:5]
    )
    return document
