"""``$NATPROBE_FACILITIES_OFF``: an injected capability set for a whole run of the command."""

from __future__ import annotations

import pytest

from natprobe.adapters.capabilities import facilities_off_from_environment, probe_capabilities
from natprobe.findings.facility_words import limit_sentence
from natprobe.observations import Facility, Missing, parse_facilities
from natprobe_cli.main import main


def test_the_names_are_parsed_once_each_in_order() -> None:
    assert parse_facilities(" arrival-watch, hop-trace,,arrival-watch ") == (Facility.ARRIVAL_WATCH, Facility.HOP_TRACE)
    assert parse_facilities("") == ()
    with pytest.raises(ValueError, match="unknown facility 'hop_trace'; known: hop-trace"):
        parse_facilities("hop_trace")


def test_the_variable_switches_the_facilities_off_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATPROBE_FACILITIES_OFF", "hop-trace,ipv6-temporary")
    caps = probe_capabilities()
    for facility in (Facility.HOP_TRACE, Facility.IPV6_TEMPORARY):
        entry = caps[facility]
        assert not entry.available and entry.missing is Missing.DISABLED
        assert "switched off by NATPROBE_FACILITIES_OFF" in limit_sentence(entry)
    assert caps.has(Facility.PORT_UNREACHABLE)
    monkeypatch.delenv("NATPROBE_FACILITIES_OFF")
    assert probe_capabilities().has(Facility.PORT_UNREACHABLE)
    assert facilities_off_from_environment({}) == ()


def test_an_unknown_name_is_a_one_line_usage_error(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NATPROBE_FACILITIES_OFF", "arival-watch")
    assert main(["doctor"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "NATPROBE_FACILITIES_OFF" in err and "'arival-watch'" in err and "arrival-watch" in err
