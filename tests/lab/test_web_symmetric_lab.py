"""The web checker in a real browser behind a symmetric NAT, with a real Jamulus server and no
forward (see ``test_web_lab.py``; a module of its own because Playwright's sync API drives one
browser per thread at a time, and each lab needs its own, in its own namespace).

The page must find what the CLI finds there: UDP 22124 not forwarded, with the forward advice,
and an address-and-port-dependent mapping, which breaks Jamulus public mode. With UDP to the
STUN ports dropped, WebRTC gives nothing, and the page says so (``data-mapping="unknown"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from natprobe.lab import Behavior, Lab, LabConfig
from natprobe.lab.services import EchoServerProcess, start_echo_server
from tests.lab.web_browser import (
    HTTP_PORT,
    JAMULUS,
    JAMULUS_PORT,
    LabBrowser,
    assert_clean,
    browser_missing,
    natprobe_json,
    start_jamulus,
)

pytestmark = [pytest.mark.lab, pytest.mark.interop]


@pytest.fixture(scope="module", autouse=True)
def _prerequisites() -> None:
    for reason in (browser_missing(), None if JAMULUS else "Jamulus is not installed"):
        if reason is not None:
            pytest.skip(reason)


@dataclass
class Symmetric:
    lab: Lab
    echo: EchoServerProcess
    browser: LabBrowser


@pytest.fixture(scope="module")
def symmetric(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Symmetric]:
    tmp = tmp_path_factory.mktemp("web-symmetric")
    with Lab(LabConfig(behavior=Behavior.SYMMETRIC)) as lab:
        echo = start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=HTTP_PORT)
        start_jamulus(lab, tmp, ipv6=False)
        browser = LabBrowser(lab.client)
        try:
            yield Symmetric(lab, echo, browser)
        finally:
            browser.close()


def test_symmetric_nat_and_a_jamulus_server_without_forward(symmetric: Symmetric) -> None:
    url = f"http://{symmetric.lab.server.primary_ip}:{HTTP_PORT}"
    opened = symmetric.browser.open(f"{url}/jamulus")
    try:
        opened.wait_done()
        port = opened.port("udp", JAMULUS_PORT)
        assert port.get_attribute("data-status") == "not-forwarded-or-filtered"
        assert f"On the router, forward UDP port {JAMULUS_PORT} to" in port.inner_text()
        assert opened.page.get_attribute("#mapping", "data-mapping") == "address-and-port-dependent"
        codes = opened.finding_codes()
        assert {"jamulus-port-needs-port-forward", "jamulus-public-symmetric-nat"} <= set(codes)
        assert_clean(opened, symmetric.lab, None)
    finally:
        opened.close()
    report = natprobe_json(symmetric.lab, "check", "--udp", str(JAMULUS_PORT), "--ipv4", "--server", url)
    assert report["ports"][0]["status"] == "not-forwarded-or-filtered"
    nat = natprobe_json(symmetric.lab, "nat", "--server", f"{symmetric.lab.server.primary_ip}:3478")
    assert nat["mapping"]["value"] == "address-and-port-dependent"


BLOCK_STUN = """table inet nptest_webrtc {
    chain out {
        type filter hook output priority 0;
        udp dport { 3478, 3479 } drop
    }
}
"""


def test_the_page_says_so_when_webrtc_gives_no_candidate(symmetric: Symmetric) -> None:
    """The client's own firewall drops UDP to the STUN ports: the browser gathers nothing."""
    url = f"http://{symmetric.lab.server.primary_ip}:{HTTP_PORT}"
    symmetric.lab.client.exec(["nft", "-f", "-"], input=BLOCK_STUN, timeout=10)
    try:
        opened = symmetric.browser.open(f"{url}/?udp=51820")
        try:
            opened.wait_done()
            assert opened.page.get_attribute("#mapping", "data-mapping") == "unknown"
            assert "browser-mapping-unknown" in opened.finding_codes()
            assert "gathered no server-reflexive candidate" in opened.page.inner_text("#mapping")
            assert_clean(opened, symmetric.lab, None)
        finally:
            opened.close()
    finally:
        symmetric.lab.client.exec(["nft", "delete", "table", "inet", "nptest_webrtc"], timeout=10)
