"""The echo server's web checker in a real browser, on a LAN behind the lab's kernel NAT.

Debian's chromium runs headless in the client namespace (``tests/lab/web_browser.py``); the echo
server (``natprobe_server`` with ``--http-port``, the page on by default) runs in the lab's
Internet. One lab per NAT behaviour, each with one browser shared by its tests:

* **home**: a port-restricted cone NAT (endpoint-independent mapping) forwarding UDP 22124 to
  a real Jamulus server and TCP 80/443 to a real nginx (plain HTTP, self-signed HTTPS), plus
  routed IPv6 behind a stateful firewall with a pinhole for UDP 22124, and the lab's DNS
  server naming the site;
* **symmetric** (``test_web_symmetric_lab.py``, a module of its own: Playwright's sync API
  drives one browser per thread at a time): a symmetric NAT and a real Jamulus server with no
  forward.

What the page shows must be what the CLI says on the same network: the same statuses, the
same finding codes, the same DNS verdicts. The page loads nothing from another origin than the
echo server's own addresses, and the console stays free of errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv6Address

import pytest

from natprobe.findings.browser_findings import silent_udp_port
from natprobe.addressing import IpFamily
from natprobe.i18n import use_language
from natprobe.lab import Behavior, Lab, LabConfig, PortForward
from natprobe.lab.dns_server import LabDns
from natprobe.lab.ipv6_net import Ipv6Lab, enable_ipv6
from natprobe.lab.services import EchoServerProcess, start_echo_server
from tests.lab.nginx_tls import nginx_missing, start_nginx_tls
from tests.lab.web_browser import (
    HTTP_PORT,
    JAMULUS,
    JAMULUS_PORT,
    LabBrowser,
    assert_clean,
    browser_missing,
    natprobe_json,
    server_origins,
    start_jamulus,
)

pytestmark = [pytest.mark.lab, pytest.mark.interop]

SITE = "cloud.example.test"
ECHO_NAME = "echo.example.test"


@pytest.fixture(scope="module", autouse=True)
def _prerequisites() -> None:
    for reason in (browser_missing(), nginx_missing(), None if JAMULUS else "Jamulus is not installed"):
        if reason is not None:
            pytest.skip(reason)


@dataclass
class Home:
    lab: Lab
    v6: Ipv6Lab
    echo: EchoServerProcess
    browser: LabBrowser

    @property
    def url(self) -> str:
        return f"http://{self.lab.server.primary_ip}:{HTTP_PORT}"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    tmp = tmp_path_factory.mktemp("web-home")
    forwards = (PortForward("udp", JAMULUS_PORT), PortForward("tcp", 80), PortForward("tcp", 443))
    with Lab(LabConfig(behavior=Behavior.PORT_RESTRICTED_CONE, forwards=forwards)) as lab, LabDns(lab) as dns:
        v6 = enable_ipv6(lab, client_global=True)
        v6.add_pinhole("udp", JAMULUS_PORT)
        dns.serve({SITE: [lab.public_ip, v6.plan.client_ip], ECHO_NAME: [lab.server.primary_ip, v6.plan.primary_ip]})
        dns.use(lab.client)
        dns.use(lab.server)  # before the echo server starts: its /v1/dns resolves with the lab's server
        echo = start_echo_server(
            lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=HTTP_PORT,
            extra=("--primary", str(v6.plan.primary_ip), "--alternate", str(v6.plan.alternate_ip)),
        )
        start_jamulus(lab, tmp, ipv6=True)
        start_nginx_tls(lab.client, lab.client.ip, 443, SITE, tmp / "nginx", http_port=80)
        browser = LabBrowser(lab.client)
        try:
            yield Home(lab, v6, echo, browser)
        finally:
            browser.close()


def test_jamulus_link_proves_a_forwarded_jamulus_server_as_the_cli_does(home: Home) -> None:
    opened = home.browser.open(f"{home.url}/jamulus")
    try:
        opened.wait_done()
        port = opened.port("udp", JAMULUS_PORT)
        assert port.get_attribute("data-status") == "reachable"
        assert port.get_attribute("data-family") == "ipv4"
        assert "A Jamulus server answered: version 3." in port.inner_text()
        assert opened.page.get_attribute("#mapping", "data-mapping") == "endpoint-independent"
        codes = opened.finding_codes()
        assert {"jamulus-port-private-works", "jamulus-public-mapping-endpoint-independent",
                "browser-mapping-endpoint-independent"} <= set(codes)
        assert_clean(opened, home.lab, home.v6)
    finally:
        opened.close()
    report = natprobe_json(home.lab, "check", "--udp", str(JAMULUS_PORT), "--ipv4", "--server", home.url)
    (cli_port,) = report["ports"]
    assert cli_port["status"] == "reachable"
    assert "jamulus-port-private-works" in [f["code"] for f in report["findings"]]


def test_web_servers_behind_forwards_with_their_certificate_and_the_name_check(home: Home) -> None:
    opened = home.browser.open(f"{home.url}/?tcp=80,443&host={SITE}")
    try:
        opened.wait_done()
        http, https = opened.port("tcp", 80), opened.port("tcp", 443)
        assert http.get_attribute("data-status") == "reachable"
        assert "HTTP 200" in http.inner_text()
        assert https.get_attribute("data-status") == "reachable"
        tls = https.inner_text()
        assert f"Certificate for {SITE}, valid until 20" in tls and "not trusted" in tls  # self-signed
        page_dns = dict(opened.page.eval_on_selector_all(
            "#dns > li", "nodes => nodes.map(n => [n.dataset.family, n.dataset.dnsVerdict])"))
        share = opened.page.input_value("#share")
        assert share.startswith("### natprobe check: 2 of 2 port(s) reachable")
        assert str(home.lab.public_ip) not in share and SITE not in share  # masked as --share masks
        opened.page.click("#copy")
        assert opened.page.inner_text("#copy-status") in ("Copied.", "Select the text and copy it.")
        assert_clean(opened, home.lab, home.v6)
    finally:
        opened.close()
    # By a name with A and AAAA, so the CLI learns this network's public address over both families.
    cli = natprobe_json(home.lab, "dns", SITE, "--server", f"http://{ECHO_NAME}:{HTTP_PORT}")
    assert page_dns == {family: v["verdict"] for family, v in cli["verdicts"].items()}
    assert page_dns["ipv4"] == "matches"


def test_french_from_accept_language_and_the_visible_switch(home: Home) -> None:
    opened = home.browser.open(f"{home.url}/?udp=51820", locale="fr-FR")
    try:
        opened.wait_done()
        assert opened.page.get_attribute("html", "lang") == "fr"
        assert opened.page.inner_text("h1") == "Internet peut-il joindre mon serveur ?".replace(" ?", "\u00a0?")
        port = opened.port("udp", 51820)
        assert port.get_attribute("data-status") == "not-tested"
        use_language("fr")
        try:
            expected = silent_udp_port(51820, IpFamily.IPV4, home.url)
        finally:
            use_language("en")
        text = port.inner_text()
        assert expected.reason in text
        assert f"natprobe check --udp 51820 --server {home.url}" in text
        opened.page.click('nav a[hreflang="en"]')
        opened.wait_done()
        assert opened.page.get_attribute("html", "lang") == "en"
        assert "a silent UDP port cannot be told from a filtered one" in opened.port("udp", 51820).inner_text()
        assert_clean(opened, home.lab, home.v6)
    finally:
        opened.close()


def test_both_families_over_the_ipv6_address(home: Home) -> None:
    opened = home.browser.open(f"http://[{home.v6.plan.primary_ip}]:{HTTP_PORT}/?udp={JAMULUS_PORT}")
    try:
        opened.wait_done()
        families = dict(opened.page.eval_on_selector_all(
            "#families > li", "nodes => nodes.map(n => [n.dataset.family, n.dataset.publicIp || null])"))
        assert families == {"ipv4": str(home.lab.public_ip), "ipv6": str(home.v6.plan.client_ip)}
        port = opened.port("udp", JAMULUS_PORT)
        assert port.get_attribute("data-family") == "ipv6"
        assert port.get_attribute("data-status") == "reachable"
        assert "jamulus-ipv6-direct-works" in opened.finding_codes()
        assert IPv6Address(families["ipv6"]) == home.v6.plan.client_ip
        assert_clean(opened, home.lab, home.v6)
    finally:
        opened.close()


def test_keyboard_and_a_360_px_phone(home: Home) -> None:
    opened = home.browser.open(home.url, width=360, height=740)
    try:
        page = opened.page
        page.wait_for_selector("body[data-ready]", state="attached")
        unlabelled = page.eval_on_selector_all(
            "input, textarea, select", "nodes => nodes.filter(n => !n.labels || n.labels.length === 0).map(n => n.id)")
        assert unlabelled == []
        for _ in range(12):  # bounded: Tab to the UDP field, as a keyboard user does
            if page.evaluate("document.activeElement && document.activeElement.id") == "udp":
                break
            page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "udp"
        page.keyboard.type("51820")
        page.keyboard.press("Enter")
        opened.wait_done()
        assert opened.port("udp", 51820).get_attribute("data-status") == "not-tested"
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert_clean(opened, home.lab, home.v6)
    finally:
        opened.close()


def test_exposure_button_then_its_429(home: Home) -> None:
    opened = home.browser.open(home.url)
    try:
        page = opened.page
        page.wait_for_selector("body[data-ready]", state="attached")
        page.click("#exposure")
        page.wait_for_selector("#exposure-results[data-done]", state="attached")
        open_ports = page.eval_on_selector_all(
            "#exposure-results li[data-status=open]", "nodes => nodes.map(n => n.dataset.protocol + '/' + n.dataset.port)")
        assert {"tcp/80", "tcp/443"} <= set(open_ports)
        assert any(code.startswith("exposure-") for code in opened.finding_codes("#exposure-results"))
        page.click("#exposure")
        refusal = page.wait_for_selector("#exposure-results .problem[data-http-status]")
        assert refusal is not None and refusal.get_attribute("data-http-status") == "429"
        assert refusal.inner_text().startswith(f"one exposure scan per 180 s per address (and per IPv6 /64): "
                                               f"{home.lab.public_ip} scanned recently; retry in ")
        # The only console line allowed: the browser's own note of the refused request.
        assert all("429" in line for line in opened.console_errors)
        assert opened.origins() <= server_origins(home.lab, home.v6)
    finally:
        opened.close()
