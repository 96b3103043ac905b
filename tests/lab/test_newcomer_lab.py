"""What a careful newcomer hit (issue #18): diagnoses that were wrong, now checked on real NATs.

One lab for the module: a home router with nftables NAT that hairpins, natprobe's echo server
(HTTP API, STUN on two addresses) on 198.51.100.10/.11, and the lab's dnsmasq naming the site.
Each test adds the forwards it needs and removes them after. All traffic stays inside the
namespaces made here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from natprobe.lab import Lab, LabConfig, PortForward
from natprobe.lab.dns_server import LabDns
from natprobe.lab.services import EchoServerProcess, start_echo_server
from tests.json_reports import assert_valid_report
from tests.lab.nginx_tls import nginx_missing, start_nginx_tls

pytestmark = pytest.mark.lab

HTTPS_PORT = 8443
UDP_PORT = 22124
TCP_PORT = 9000
SITE = "cloud.example.test"
STALE = "stale.example.test"
OTHER = "other.example.test"
STALE_ADDRESS = "203.0.113.99"
CLI_TIMEOUT_S = 40.0


@dataclass
class Net:
    lab: Lab
    dns: LabDns
    echo: EchoServerProcess


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    with Lab(LabConfig(hairpin=True)) as lab, LabDns(lab) as dns:
        dns.serve({SITE: [lab.public_ip], OTHER: [lab.public_ip], STALE: [STALE_ADDRESS]})
        dns.use(lab.client)
        dns.use(lab.server)  # before the echo server starts: its /v1/dns resolves through it
        # This module's checks run back to back against one server, each done as soon as its
        # token arrives: more than the default burst of 10 probes per source within seconds.
        echo = start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=8080,
                                 extra=("--probe-burst", "60"))
        yield Net(lab, dns, echo)


@pytest.fixture
def forwards(net: Net) -> Iterator[Lab]:
    """The lab, with every forward a test adds removed after it."""
    yield net.lab
    net.lab.remove_forwards()


def _cli(net: Net, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    kw: dict[str, Any] = {"check": False, "timeout": CLI_TIMEOUT_S}
    if env is not None:
        from natprobe.lab.netns import namespace_environment

        kw["env"] = {**namespace_environment(), **env}
    return net.lab.client.exec([sys.executable, "-m", "natprobe_cli", *args], **kw)


def _check(net: Net, *args: str) -> subprocess.CompletedProcess[str]:
    return _cli(net, "check", *args, "--server", net.echo.http_url, "--no-router")


def _port(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data = assert_valid_report(json.loads(done.stdout))
    assert len(data["ports"]) == 1, data["ports"]
    port: dict[str, Any] = data["ports"][0]
    return port


# ------------------------------------------------------------------- 1. service down, forward fine


def test_forward_fine_but_nothing_listens_says_so_and_not_to_forward_again(net: Net, forwards: Lab) -> None:
    forwards.add_forward(PortForward("tcp", HTTPS_PORT))
    done = _check(net, "--tcp", f"{HTTPS_PORT}:https", "--json")
    text = _check(net, "--tcp", f"{HTTPS_PORT}:https")
    assert done.returncode == 1, (done.stdout, done.stderr)
    port = _port(done)
    assert port["status"] == "forwarded-but-nothing-answering", port
    assert "the forward works" in port["reason"] and f"nothing listens on TCP port {HTTPS_PORT}" in port["reason"]
    assert "another machine" not in port["reason"]
    # It does not advise forwarding the port to this host: that is done already.
    assert not any("forward TCP port" in advice for advice in port["advice"]), port["advice"]
    assert any("Start the service" in advice for advice in port["advice"]), port["advice"]
    assert text.returncode == 1 and "nothing listens on TCP port 8443" in " ".join(text.stdout.split())


def test_a_refused_connection_with_a_listener_here_is_this_hosts_firewall(net: Net, forwards: Lab) -> None:
    forwards.add_forward(PortForward("tcp", TCP_PORT))
    lab = net.lab
    # A program listens, and this host's firewall answers the probe with a reset.
    lab.client.exec(["nft", "-f", "-"], input=(
        "table inet newcomer_reject {\n  chain input {\n    type filter hook input priority filter; policy accept;\n"
        f"    tcp dport {TCP_PORT} ip saddr != 127.0.0.0/8 reject with tcp reset\n  }}\n}}\n"
    ), timeout=10)
    holder = lab.client.spawn([sys.executable, "-c", (
        "import socket,time\n"
        f"s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', {TCP_PORT}))\n"
        "s.listen(); print('ready', flush=True); time.sleep(60)\n"
    )], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        done = _check(net, "--tcp", f"{TCP_PORT}:tcp", "--json")
    finally:
        holder.kill()
        holder.wait(10)
        lab.client.exec(["nft", "delete", "table", "inet", "newcomer_reject"], check=False, timeout=10)
    port = _port(done)
    assert port["status"] == "dropped-by-host-firewall", port
    assert "firewall rejects it" in port["reason"]


# ------------------------------------------------------------------- 2. hairpin without a forward


def test_hairpin_through_a_port_not_forwarded_is_not_tested(net: Net, forwards: Lab) -> None:
    done = _check(net, "--udp", str(UDP_PORT), "--hairpin", "--json")
    assert done.returncode == 1, (done.stdout, done.stderr)
    data = assert_valid_report(json.loads(done.stdout))
    (hairpin,) = data["hairpin"]
    assert hairpin["works"] is None, hairpin
    assert "not tested" in hairpin["reason"] and "not reachable from outside" in hairpin["reason"]
    assert "does not hairpin" not in hairpin["reason"]
    # The same router does hairpin: natprobe nat measures it, and so does check once forwarded.
    nat = _cli(net, "nat", "--server", str(net.lab.server.primary_ip), "--json")
    assert assert_valid_report(json.loads(nat.stdout))["hairpinning"]["value"] is True, nat.stdout
    forwards.add_forward(PortForward("udp", UDP_PORT))
    after = _check(net, "--udp", str(UDP_PORT), "--hairpin", "--json")
    assert assert_valid_report(json.loads(after.stdout))["hairpin"][0]["works"] is True, after.stdout


# ------------------------------------------------------------------- 3. --share keeps the --host verdicts


def test_share_carries_the_names_verdicts_and_the_headline_says_so(net: Net, forwards: Lab) -> None:
    forwards.add_forward(PortForward("udp", UDP_PORT))
    terminal = _check(net, "--udp", str(UDP_PORT), "--host", STALE)
    shared = _check(net, "--udp", str(UDP_PORT), "--host", STALE, "--share")
    assert terminal.returncode == shared.returncode == 1, (shared.stdout, shared.stderr)
    assert "A record: PROBLEM (stale)" in terminal.stdout
    headline = shared.stdout.splitlines()[0]
    assert "1 of 1 port(s) reachable" in headline and "DNS records have a problem" in headline, headline
    assert "`stale`" in shared.stdout and "203.x.x.x" in shared.stdout
    assert STALE not in shared.stdout and STALE_ADDRESS not in shared.stdout  # still scrubbed


# ------------------------------------------------------------------- 4. a certificate that does not verify


def test_text_output_says_when_the_certificate_does_not_verify(net: Net, forwards: Lab, tmp_path: Path) -> None:
    if (reason := nginx_missing()) is not None:
        pytest.skip(reason)
    forwards.add_forward(PortForward("tcp", HTTPS_PORT))
    nginx = start_nginx_tls(net.lab.client, net.lab.client.ip, HTTPS_PORT, SITE, tmp_path / "nginx")
    try:
        own = _check(net, "--tcp", f"{HTTPS_PORT}:https", "--host", SITE)
        other = _check(net, "--tcp", f"{HTTPS_PORT}:https", "--host", OTHER, "--json")
    finally:
        nginx.process.terminate()
        nginx.process.wait(10)
    text = " ".join(own.stdout.split())
    assert "REACHABLE" in text and "certificate does not verify" in text, own.stdout
    assert "Let's Encrypt" in text
    port = _port(other)
    assert port["reachable"] is True and port["details"]["tls"]["verified"] is False
    assert f"it is not for {OTHER}" in port["reason"], port["reason"]


# ------------------------------------------------------------------- 5. natprobe nat


def test_nat_asks_the_configured_echo_server_and_takes_its_url(net: Net) -> None:
    url = net.echo.http_url
    configured = _cli(net, "nat", "--no-hairpin", "--json", env={"NATPROBE_SERVER": url})
    assert configured.returncode == 0, configured.stderr
    report = assert_valid_report(json.loads(configured.stdout))
    assert report["server"] == {"ip": str(net.lab.server.primary_ip), "port": 3478}, report["server"]
    assert "public STUN server" not in configured.stderr
    given = _cli(net, "nat", "--server", url, "--no-hairpin", "--json")
    assert given.returncode == 0, given.stderr
    assert assert_valid_report(json.loads(given.stdout))["server"]["port"] == 3478


def test_nat_with_nothing_at_the_address_says_so_plainly(net: Net) -> None:
    done = _cli(net, "nat", "--server", f"{net.lab.server.primary_ip}:3999", "--no-hairpin")
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert done.stdout == "" and "nothing answered at" in done.stderr, done.stderr
    assert "loss 0%" not in done.stderr and "RFC 5780" not in done.stderr


def test_nat_udp_blocked_is_a_measured_failure(net: Net) -> None:
    lab = net.lab
    lab.client.exec(["nft", "-f", "-"], input=(
        "table inet newcomer_udp {\n  chain output {\n    type filter hook output priority filter; policy accept;\n"
        "    udp dport 3478 drop\n  }\n}\n"
    ), timeout=10)
    try:
        done = _cli(net, "nat", "--server", str(lab.server.primary_ip), "--no-hairpin", "--json")
    finally:
        lab.client.exec(["nft", "delete", "table", "inet", "newcomer_udp"], check=False, timeout=10)
    assert assert_valid_report(json.loads(done.stdout))["nat_type"]["value"] == "udp-blocked", done.stdout
    assert done.returncode == 1, done.stderr


# ------------------------------------------------------------------- 9. the demo stays on this machine

ROUTER_COUNTER = """table inet newcomer_count {
  counter asked { }
  chain input {
    type filter hook input priority filter; policy accept;
    meta l4proto { udp, tcp } th dport { 1900, 5351, 5000, 49152-65535 } counter name asked
  }
}
"""


def test_the_loopback_demo_asks_nothing_of_the_router(net: Net) -> None:
    """The loopback demo, run on a LAN host whose default gateway is the lab's router (and with
    $NATPROBE_GATEWAY unset, as for a user): not one UPnP, NAT-PMP or PCP request reaches it."""
    lab = net.lab
    lab.router.exec(["nft", "-f", "-"], input=ROUTER_COUNTER, timeout=10)
    try:
        done = lab.client.exec([sys.executable, "-c", "from natprobe_cli.commands.demo import _loopback_demo; "
                                "raise SystemExit(_loopback_demo('test'))"], check=False, timeout=120)
        counted = lab.router.exec(["nft", "list", "counter", "inet", "newcomer_count", "asked"], timeout=10).stdout
    finally:
        lab.router.exec(["nft", "delete", "table", "inet", "newcomer_count"], check=False, timeout=10)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "natprobe check --udp 22124" in done.stdout and "REACHABLE" in done.stdout, done.stdout
    assert "packets 0 bytes 0" in counted, counted


# ------------------------------------------------------------------- 14. --map errors and router --unmap

MAPPED_PORT = 40123


def _miniupnpd_or_skip() -> None:
    from natprobe.lab.miniupnpd import miniupnpd_missing

    if (reason := miniupnpd_missing()) is not None:
        pytest.skip(reason)


@pytest.mark.interop
def test_a_router_that_stops_answering_gives_a_readable_upnp_error(net: Net) -> None:
    """miniupnpd paused (SIGSTOP) after natprobe found it: AddPortMapping times out, and the
    error says so in words, not "[Errno TimeoutError()] None"."""
    import asyncio
    import signal

    from natprobe.adapters.upnp_igd import discover_igd
    from natprobe.errors import PortMappingError
    from natprobe.lab.miniupnpd import Miniupnpd

    _miniupnpd_or_skip()
    lab = net.lab

    async def add_while_paused(pid: int) -> str:
        igd = await discover_igd(lab.router.lan_ip, timeout=2.0)
        assert igd is not None
        igd.timeout = 1.0
        os.kill(pid, signal.SIGSTOP)
        try:
            await igd.add_mapping("UDP", MAPPED_PORT, str(lab.client.ip), MAPPED_PORT, 120, "natprobe test")
        except PortMappingError as exc:
            return str(exc)
        finally:
            os.kill(pid, signal.SIGCONT)
        return "no error"

    with Miniupnpd(lab) as daemon:
        assert daemon.process is not None
        with lab.client.entered():
            error = asyncio.run(add_while_paused(daemon.process.pid))
    assert error == "AddPortMapping failed: the router did not answer within 1 s", error


@pytest.mark.interop
def test_router_unmap_removes_a_kept_mapping_and_leaves_another_hosts_alone(net: Net, tmp_path: Path) -> None:
    """The kept mapping is removed through UPnP's listing, as for one natprobe holds no record of
    (kept by another run's state folder, or the record lost); the PCP path with the recorded
    nonce is tests/lab/test_router_lab.py's."""
    from natprobe.lab.miniupnpd import Miniupnpd

    _miniupnpd_or_skip()
    lab = net.lab
    no_record = {"XDG_STATE_HOME": str(tmp_path / "elsewhere")}
    with Miniupnpd(lab, secure_mode=False) as daemon:
        kept = _cli(net, "check", "--tcp", str(MAPPED_PORT), "--map", "--keep", "--lease", "120", "--no-trace",
                    "--server", net.echo.http_url)
        assert "kept as asked" in kept.stderr, kept.stderr
        # Another program forwards UDP on the same port to another LAN machine.
        other = lab.client.exec(["upnpc", "-i", "-a", str(lab.lan_spare_ip), str(MAPPED_PORT), str(MAPPED_PORT),
                                 "UDP", "300"], check=False, timeout=20)
        assert other.returncode == 0, other.stdout + other.stderr
        before = daemon.dnat_rules()
        done = _cli(net, "router", "--unmap", str(MAPPED_PORT), env=no_record)
        after = daemon.dnat_rules()
        again = _cli(net, "router", "--unmap", str(MAPPED_PORT), env=no_record)
    tcp, udp = f"0x6 th dport {MAPPED_PORT}", f"0x11 th dport {MAPPED_PORT}"  # nft's rendering of miniupnpd's rules
    assert any(tcp in r and str(lab.client.ip) in r for r in before), before
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert f"TCP {MAPPED_PORT} (UPnP): this host's mapping removed" in done.stdout, done.stdout
    assert f"another machine ({lab.lan_spare_ip}:{MAPPED_PORT}): not touched" in done.stdout, done.stdout
    assert not any(tcp in r for r in after), after
    assert any(udp in r and str(lab.lan_spare_ip) in r for r in after), after
    assert f"TCP {MAPPED_PORT} (UPnP): the router lists no mapping of it" in again.stdout, again.stdout


def test_a_bad_gateway_setting_is_a_usage_error(net: Net) -> None:
    for command in (["router"], ["check", "--udp", str(UDP_PORT), "--server", net.echo.http_url]):
        done = net.lab.client.exec([sys.executable, "-m", "natprobe_cli", *command], check=False, timeout=CLI_TIMEOUT_S,
                                   env={**__import__("natprobe.lab.netns", fromlist=["x"]).namespace_environment(),
                                        "NATPROBE_GATEWAY": "bogus"})
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "NATPROBE_GATEWAY must be an IPv4 address" in done.stderr
