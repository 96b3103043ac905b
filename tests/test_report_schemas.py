"""The reports' JSON Schemas: valid 2020-12 documents, one per report, listed and printed by ``natprobe schema``."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from natprobe_cli.main import main as natprobe_main
from natprobe.reports.catalog import SCHEMAS, schema_for
from natprobe.reports.finding import Finding, Severity
from tests.json_reports import assert_valid_report

EXPECTED = {
    "nat", "lifetime", "check", "check-map", "dns", "router", "exposure", "jamulus-modes", "jamulus-ping", "jamulus-list",
    "relay",
    "watch", "history", "doctor",
}


def test_one_schema_per_report_each_a_valid_2020_12_document() -> None:
    assert set(SCHEMAS) == EXPECTED
    for name, entry in SCHEMAS.items():
        Draft202012Validator.check_schema(entry.schema)
        assert entry.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert entry.schema_id == f"natprobe/{name}"
        assert entry.schema["properties"]["schema"] == {"const": entry.schema_id}
        assert entry.schema["properties"]["schema_version"] == {"const": entry.version}
        assert entry.schema["additionalProperties"] is False


def test_a_document_with_an_unknown_schema_or_version_is_refused() -> None:
    with pytest.raises(KeyError):
        schema_for({"schema": "natprobe/nat-report", "schema_version": 1})
    with pytest.raises(KeyError):
        schema_for({"schema": "natprobe/nat", "schema_version": 1})


def test_a_key_the_schema_does_not_know_fails_validation() -> None:
    document = {"schema": "natprobe/lifetime", "schema_version": 1, "at_least_s": None, "at_most_s": None,
                "max_wait_s": 10.0, "reason": "r", "trials": []}
    assert_valid_report(document)
    with pytest.raises(AssertionError, match="Additional properties"):
        assert_valid_report({**document, "surprise": 1})
    with pytest.raises(AssertionError, match="'reason' is a required property"):
        assert_valid_report({k: v for k, v in document.items() if k != "reason"})


def test_findings_carry_a_string_code() -> None:
    finding = Finding(Severity.INFO, "t", "d", code="jamulus-port-needs-port-forward").to_dict()
    check = SCHEMAS["check"].schema
    validator = Draft202012Validator(check["properties"]["findings"])
    assert validator.is_valid([finding])
    assert not validator.is_valid([{**finding, "code": 7}])
    assert not validator.is_valid([{k: v for k, v in finding.items() if k != "code"}])


def test_natprobe_schema_lists_every_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert natprobe_main(["schema"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(SCHEMAS)
    for line, entry in zip(lines, SCHEMAS.values()):
        name, schema_id, version, *title = line.split()
        assert (name, schema_id, version, " ".join(title)) == (entry.name, entry.schema_id, f"v{entry.version}", entry.title)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_natprobe_schema_prints_one(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert natprobe_main(["schema", name]) == 0
    assert json.loads(capsys.readouterr().out) == SCHEMAS[name].schema


def test_natprobe_schema_takes_the_id_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert natprobe_main(["schema", "natprobe/check"]) == 0
    assert json.loads(capsys.readouterr().out)["$id"] == SCHEMAS["check"].schema["$id"]


def test_natprobe_schema_unknown_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert natprobe_main(["schema", "nat-report"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("natprobe schema: unknown schema 'nat-report'; known: nat, ")
