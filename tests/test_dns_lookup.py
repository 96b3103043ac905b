"""The name check against a real DNS server on loopback: dnsmasq (installed by scripts/setup.sh)
on a unique 127.53.x.y address, the resolver adapter, ``POST /v1/dns`` and ``natprobe dns``.

Nothing here asks the machine's own resolver: every lookup names the loopback server.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from natprobe_server.config.http import HttpApiConfig
from natprobe.adapters.dns_resolver import lookup_both, lookup_family
from natprobe.adapters.echo_client import EchoApiClient
from natprobe.addressing import IpFamily
from natprobe.contract.dns import DnsRequest, decode_request, encode
from natprobe.errors import DecodeError, ServerError
from natprobe.lab.dns_server import dnsmasq_argv
from natprobe.measure.name_check import NameCheckOptions, check_name
from natprobe.verdicts.dns_verdicts import DnsVerdict
from natprobe.observations import LookupStatus
from tests.echo_server import loopback_api
from tests.json_reports import assert_valid_report

pytestmark = pytest.mark.interop

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NS = ipaddress.IPv4Address(f"127.53.{os.getpid() % 250 + 1}.1")
SILENT = f"127.53.{os.getpid() % 250 + 1}.2"
RECORDS = {
    "www.example.test": [ipaddress.ip_address("203.0.113.7"), ipaddress.ip_address("2001:db8::7")],
    "v4only.example.test": [ipaddress.ip_address("192.168.1.10")],
}


@pytest.fixture(scope="module")
def nameserver() -> Iterator[str]:
    if shutil.which("dnsmasq") is None and not os.path.exists("/usr/sbin/dnsmasq"):
        pytest.skip("dnsmasq is not installed (scripts/setup.sh installs dnsmasq-base)")
    if os.geteuid() != 0:
        pytest.skip("dnsmasq needs root to bind port 53")
    proc = subprocess.Popen(dnsmasq_argv(NS, RECORDS), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # bounded wait for the socket
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind((str(NS), 53))
                except OSError:
                    break  # bound by dnsmasq: ready
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.02)
        yield str(NS)
    finally:
        proc.terminate()
        proc.wait(5)
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture
def silent() -> Iterator[str]:
    """A resolver address that receives queries and never answers."""
    if os.geteuid() != 0:
        pytest.skip("binding port 53 needs root")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind((SILENT, 53))
        yield SILENT


async def test_answers_nodata_and_nxdomain(nameserver: str) -> None:
    both = await lookup_both("www.example.test", nameservers=[nameserver])
    assert both[IpFamily.IPV4].addresses == (ipaddress.ip_address("203.0.113.7"),)
    assert both[IpFamily.IPV6].addresses == (ipaddress.ip_address("2001:db8::7"),)
    nodata = await lookup_family("v4only.example.test", IpFamily.IPV6, nameservers=[nameserver])
    assert nodata.status is LookupStatus.ANSWERED and nodata.addresses == ()
    nx = await lookup_family("nope.example.test", IpFamily.IPV4, nameservers=[nameserver])
    assert nx.status is LookupStatus.NXDOMAIN
    # Outside its zone, with nothing to forward to, dnsmasq refuses: no server could answer.
    refused = await lookup_family("www.other.test", IpFamily.IPV4, nameservers=[nameserver])
    assert refused.status is LookupStatus.SERVFAIL and "REFUSED" in refused.detail


async def test_a_silent_resolver_is_a_timeout_within_the_lifetime(silent: str) -> None:
    started = time.monotonic()
    result = await lookup_family("www.example.test", IpFamily.IPV4, nameservers=[silent], lifetime=0.5)
    assert result.status is LookupStatus.TIMEOUT and time.monotonic() - started < 1.5


async def test_the_echo_server_resolves_with_its_resolver_and_refuses_bad_names(nameserver: str) -> None:
    config = HttpApiConfig(probe_source_ip=ipaddress.ip_address("127.0.0.1"), resolvers=(nameserver,))
    async with loopback_api(config) as running:
        port = running.port
        async with EchoApiClient(f"http://127.0.0.1:{port}") as api:
            answer = await api.dns("WWW.example.test.")
            assert answer.name == "www.example.test"
            assert answer.a.addresses == ("203.0.113.7",) and answer.aaaa.addresses == ("2001:db8::7",)
            with pytest.raises(ServerError, match="empty label"):
                await api.dns("a..example.test")
        options = NameCheckOptions(server=f"http://127.0.0.1:{port}", nameservers=(nameserver,))
        report = await check_name("v4only.example.test", options)
        verdicts = {v.family: v.verdict for v in report.verdicts}
        assert verdicts[IpFamily.IPV4] is DnsVerdict.PRIVATE_ADDRESS
        assert report.outside is not None and report.outside[IpFamily.IPV4].addresses == (ipaddress.ip_address("192.168.1.10"),)


def test_request_contract_refuses_unknown_fields_and_long_names() -> None:
    assert decode_request(encode(DnsRequest("www.example.test"))).name == "www.example.test"
    with pytest.raises(DecodeError):
        decode_request(b'{"name": "www.example.test", "target": "192.0.2.1"}')
    with pytest.raises(DecodeError):
        decode_request(json.dumps({"name": "a" * 300}).encode())
    with pytest.raises(DecodeError):
        decode_request(b"not json")


def test_natprobe_dns_local_view_only_says_so(nameserver: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "natprobe_cli", "dns", "www.example.test", "--resolver", nameserver, "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=30, env={**os.environ, "NATPROBE_SERVER": "", "XDG_CONFIG_HOME": str(tmp_path)})
    data = assert_valid_report(json.loads(done.stdout))
    assert data["schema"] == "natprobe/dns" and data["server"] is None
    assert {v["verdict"] for v in data["verdicts"].values()} == {"unverified"}
    assert any("local view" in note for note in data["notes"]) and done.returncode == 0
    bad = subprocess.run([sys.executable, "-m", "natprobe_cli", "dns", ""], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "empty" in bad.stderr and "Traceback" not in bad.stderr


def test_check_name_never_raises_for_a_bad_name() -> None:
    report = asyncio.run(check_name("-bad-.example.test"))
    assert not report.valid and {v.verdict for v in report.verdicts} == {DnsVerdict.INVALID_NAME}


def test_reports_validate_against_the_dns_schema_whatever_is_missing() -> None:
    bad = asyncio.run(check_name("a..example.test"))
    assert_valid_report(bad.to_dict())
    partial = asyncio.run(check_name("x.example.test", NameCheckOptions(
        public_ips={IpFamily.IPV4: ipaddress.ip_address("203.0.113.7")}, nameservers=(SILENT,), lifetime=0.5,
    ))) if os.geteuid() == 0 else bad
    data = assert_valid_report(partial.to_dict())
    assert set(data["public_ips"]) == {"ipv4", "ipv6"}
