"""``natprobe exposure`` per address family on loopback: the echo server on ``::1`` scans the
IPv6 address the request came from; a family the server has no address in is said so."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from natprobe_server.api.routes.exposure import EXPOSURE_KEY
from natprobe_server.config.http import HttpApiConfig
from natprobe.addressing import IpFamily
from natprobe.contract.exposure_route import PortRef
from natprobe.errors import NetworkError, ServerError
from natprobe.measure.exposure import ExposureOptions, scan_exposure
from tests.json_reports import assert_valid_report

from tests.echo_server import has_ipv6_loopback, loopback_api
from tests.server.api.test_exposure_route import FAST
from tests.server.peers import greeting_server, server_port


@asynccontextmanager
async def _echo(ip: str) -> AsyncIterator[str]:
    async with loopback_api(HttpApiConfig(probe_source_ip=ipaddress.ip_address(ip)), ip) as running:
        running.app[EXPOSURE_KEY].limits = FAST
        yield running.url


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback")
async def test_a_server_on_ipv6_scans_the_requesters_ipv6_address_and_ipv4_is_said_untested() -> None:
    service = await greeting_server("::1", b"220 natprobe test\r\n")
    port = server_port(service)
    try:
        async with _echo("::1") as url:
            options = ExposureOptions(expect=(PortRef(port),))
            report = await scan_exposure(url, options)
            data = assert_valid_report(report.to_dict())
            # The same source within the interval: the rate limit applies to IPv6 requesters too.
            with pytest.raises(ServerError, match="one exposure scan per"):
                await scan_exposure(url, options)
    finally:
        service.close()
    families = {f["family"]: f for f in data["families"]}
    assert families["ipv6"]["tested"] is True and families["ipv6"]["public_ip"] == "::1"
    assert families["ipv4"]["tested"] is False and "no IPv4 address" in families["ipv4"]["note"]
    assert data["family"] == "ipv6" and data["public_ip"] == "::1" and data["scanned_from"] == "::1"
    [mine] = [p for p in data["ports"] if p["port"] == port]
    assert mine["family"] == "ipv6" and mine["state"] == "open" and mine["expected"] is True
    assert {s["family"] for s in data["scanned"]} == {"ipv6"}


async def test_ipv4_only_scans_the_ipv4_address_and_asks_nothing_over_ipv6() -> None:
    service = await greeting_server("127.0.0.1", b"220 natprobe test\r\n")
    port = server_port(service)
    try:
        async with _echo("127.0.0.1") as url:
            report = await scan_exposure(url, ExposureOptions(expect=(PortRef(port),),
                                                              families=(IpFamily.IPV4,)))  # fmt: skip
    finally:
        service.close()
    data = assert_valid_report(report.to_dict())
    assert [(f["family"], f["tested"]) for f in data["families"]] == [("ipv4", True)]
    [mine] = [p for p in data["ports"] if p["port"] == port]
    assert mine["family"] == "ipv4" and mine["state"] == "open"


async def test_no_family_that_can_be_scanned_is_an_error_not_an_empty_report() -> None:
    async with _echo("127.0.0.1") as url:
        with pytest.raises(NetworkError, match="IPv6 was not tested"):
            await asyncio.wait_for(scan_exposure(url, ExposureOptions(families=(IpFamily.IPV6,))), 10)
