"""``natprobe router`` and ``check --map`` on the command line, without a lab: usage errors and
a gateway that answers nothing (a loopback address: nothing else is ever sent to)."""

from __future__ import annotations

import json

import pytest

from natprobe_cli.main import main
from tests.json_reports import assert_valid_report


@pytest.mark.parametrize("argv", [
    ["router", "--gateway", "junk"],
    ["router", "--gateway", "::1"],
    ["router", "--timeout", "0"],
    ["check", "--udp", "22124", "--map", "--no-router", "--server", "http://127.0.0.1:9"],
    ["check", "--udp", "22124", "--keep", "--server", "http://127.0.0.1:9"],
    ["check", "--udp", "22124", "--map", "--lease", "5", "--server", "http://127.0.0.1:9"],
])
def test_usage_errors_exit_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("natprobe ") and "\n" not in err and "Traceback" not in err


def test_a_gateway_that_answers_nothing_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["router", "--gateway", "127.0.0.77", "--timeout", "0.5", "--json"]) == 1
    data = assert_valid_report(json.loads(capsys.readouterr().out))
    assert data["schema"] == "natprobe/router" and data["gateway"] == "127.0.0.77"
    assert [p["answered"] for p in data["protocols"]] == [False, False, False]
    assert data["external_meaning"] == "unknown"


@pytest.fixture
def _english_afterwards() -> object:
    from natprobe.i18n import use_language

    yield
    use_language("en")


@pytest.mark.usefixtures("_english_afterwards")
def test_router_speaks_french_and_its_json_does_not(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["router", "--gateway", "127.0.0.77", "--timeout", "0.5"]
    assert main(["--lang", "fr", *argv]) == 1
    out = capsys.readouterr().out
    assert "Passerelle : 127.0.0.77" in out and "pas de réponse" in out, out
    assert "La box 127.0.0.77 ne répond ni en UPnP, ni en NAT-PMP, ni en PCP" in out, out
    assert "Gateway" not in out and "answers none" not in out and "no answer" not in out, out
    assert main(argv) == 1
    assert "The router 127.0.0.77 answers none of UPnP, NAT-PMP and PCP" in capsys.readouterr().out

    def report(*lang: str) -> dict[str, object]:
        assert main([*lang, *argv, "--json"]) == 1
        data = json.loads(capsys.readouterr().out)
        del data["duration_ms"]
        return dict(data)

    assert report("--lang", "fr") == report()


@pytest.mark.usefixtures("_english_afterwards")
def test_router_says_whether_this_host_has_global_ipv6(capsys: pytest.CaptureFixture[str]) -> None:
    """The report carries this host's IPv6 fact (read from its own interfaces, as natprobe nat
    does); the text says it in both languages. The gateway is a silent loopback address."""
    from ipaddress import IPv4Address, IPv6Address

    from natprobe_cli.commands.router import render_router
    from natprobe.adapters.interfaces import DEFAULT_TOWARD_V6, ipv6_source_toward
    from natprobe.i18n import use_language
    from natprobe.reports.router_report import RouterReport
    from natprobe.verdicts.router_verdicts import ExternalMeaning

    expected = ipv6_source_toward(DEFAULT_TOWARD_V6).address
    assert main(["router", "--gateway", "127.0.0.77", "--timeout", "0.5", "--json"]) == 1
    data = assert_valid_report(json.loads(capsys.readouterr().out))
    assert data["schema_version"] == 5 and isinstance(data["findings"], list)
    assert data["ipv6"] == {"global": expected is not None, "address": None if expected is None else str(expected)}

    def text(address: IPv6Address | None) -> str:
        report = RouterReport(IPv4Address("127.0.0.77"), IPv4Address("127.0.0.1"), (), None, ExternalMeaning.UNKNOWN,
                              False, (), 0.0, ipv6_address=address, has_global_ipv6=address is not None)
        return render_router(report, ())

    stable = IPv6Address("2001:db8:1::10")
    assert "IPv6: 2001:db8:1::10, a global address" in text(stable) and "pinhole" in text(stable)
    assert "IPv6: this host has no global IPv6 address" in text(None)
    use_language("fr")
    assert "IPv6\u00a0: 2001:db8:1::10, une adresse globale" in text(stable)
    assert "IPv6\u00a0: cette machine n'a pas d'adresse IPv6 globale" in text(None)
