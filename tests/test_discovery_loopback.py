"""``discover_nat`` and ``natprobe nat`` without root: the in-process echo server on 127.0.0.1 and
127.0.0.2 (its two addresses), ephemeral ports. Loopback has no NAT and no filter, so the
verdicts are "no NAT", "open Internet"; the real NATs are in tests/lab/test_discovery_lab.py."""

from __future__ import annotations

import asyncio
import json

import pytest

from natprobe_cli.main import main as natprobe_main
from natprobe_server import EchoServer
from natprobe import DiscoveryOptions, discover_nat
from natprobe.nat import ClassicNatType, FilteringBehavior, MappingBehavior
from natprobe.addressing import TransportAddress
from natprobe.observations import Probe
from tests.json_reports import assert_valid_report
from tests.echo_server import LO1, LO2



@pytest.fixture
def stun_port(dual_server: EchoServer) -> int:
    return dual_server.port


async def test_discover_nat_on_loopback(stun_port: int) -> None:
    report = await discover_nat(TransportAddress(LO1, stun_port), options=DiscoveryOptions(bind_ip=LO1))
    assert report.mapping.value is MappingBehavior.NO_NAT
    assert report.filtering.value is FilteringBehavior.ENDPOINT_INDEPENDENT
    assert report.nat_type.value is ClassicNatType.OPEN_INTERNET
    assert report.server_alternate is not None and report.server_alternate.ip == LO2
    assert report.local is not None and report.mapped == report.local and report.local.ip == LO1
    probes = {o.probe for o in report.observations}
    assert {Probe.MAPPING_PRIMARY, Probe.FILTERING_CHANGE_IP_PORT, Probe.FILTERING_CHANGE_PORT} <= probes
    assert all(o.answered for o in report.observations if o.probe is not Probe.HAIRPIN)


async def test_natprobe_nat_json_with_lifetime_on_loopback(stun_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    # The CLI runs its own event loop, so it runs in a thread while this loop serves STUN.
    args = ["nat", "--server", f"127.0.0.1:{stun_port}", "--bind", "127.0.0.1", "--json", "--lifetime",
            "--lifetime-max", "2"]
    assert await asyncio.to_thread(natprobe_main, args) == 0
    data = assert_valid_report(json.loads(capsys.readouterr().out))
    assert (data["schema"], data["schema_version"]) == ("natprobe/nat", 5)
    assert [f["code"] for f in data["findings"]]  # the report carries its findings, as the text prints them
    assert data["mapping"]["value"] == "no-nat" and data["nat_type"]["value"] == "open-internet"
    assert data["server_alternate"] == {"ip": "127.0.0.2", "port": data["server_alternate"]["port"]}
    lifetime = assert_valid_report(data["lifetime"])
    assert lifetime["at_least_s"] == 2.0 and lifetime["at_most_s"] is None


async def test_natprobe_nat_text_on_loopback(stun_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["nat", "--server", f"127.0.0.1:{stun_port}", "--bind", "127.0.0.1", "--no-hairpin"]
    assert await asyncio.to_thread(natprobe_main, args) == 0
    out = capsys.readouterr().out
    assert "NAT type           open-internet" in out and "Mapping            no-nat" in out
