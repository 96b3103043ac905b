"""``natprobe check --host NAME`` through real relays: a home host behind carrier-grade NAT, a VPS.

One lab for the whole module (:mod:`natprobe.lab.relay`): the home host (the lab's client,
behind its router and a carrier NAT), the VPS (the lab's ``peer``, 192.0.2.2) with OpenSSH,
nginx (HTTP by name with X-Forwarded-For; stream with PROXY protocol) and WireGuard
(wireguard-go) DNAT into the tunnel, the echo server (198.51.100.10, probes from .11) resolving
names through the lab DNS, where ``_natprobe.relay.example.test`` allows the home's public
address. Each test runs the real CLI in the home namespace and sets the relay's state it needs
(tunnel up or down, MASQUERADE, policy routing) first. Everything stays in the namespaces.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from natprobe.measure import jamulus_query
from natprobe.lab import Lab, LabConfig
from natprobe.lab.dns_server import PRIMARY_NS, LabDns
from natprobe.lab.netns import namespace_environment
from natprobe.lab.relay import HOME_TUNNEL_IP, THIRD_PARTY_IP, VPS_IP, VPS_TUNNEL_IP, RelayLab, relay_lab_missing
from natprobe.lab.services import EchoServerProcess, start_echo_server
from natprobe.observations import FACILITIES_OFF_VARIABLE
from tests.json_reports import assert_valid_report
from tests.lab.client_catalogue import LINUX_ONLY, judge_verdict

pytestmark = pytest.mark.lab

RELAY = "relay.example.test"
WEB = "web.example.test"
STALE = "old.example.test"
SSH_PORT = 8443          # ssh -R 0.0.0.0:8443 -> home 127.0.0.1:8443
STREAM_PORT = 9443       # nginx stream (PROXY v1) -> 127.0.0.1:9444 -> ssh -R -> home 9443
HTTP_PORT = 80           # nginx http (X-Forwarded-For) -> 127.0.0.1:8081 -> ssh -R -> home 80
WG_TCP, WG_UDP, JAMULUS_PORT = 7000, 7001, 22124   # DNAT into WireGuard
JAMULUS = "/usr/bin/Jamulus"
CLI_TIMEOUT_S = 60.0
TUNNEL = ("0.0.0.0:8443:127.0.0.1:8443", "127.0.0.1:9444:127.0.0.1:9443", "127.0.0.1:8081:127.0.0.1:80")
CAPTURE_TABLE = "nprelay_capture"


@dataclass
class Relay:
    lab: Lab
    relay: RelayLab
    echo: EchoServerProcess

    def check(self, *args: str, server: bool = True,
              facilities_off: str | None = None) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        argv = [sys.executable, "-m", "natprobe_cli", "check", *args, "--json", "--no-router",
                "--timeout", "1"]
        if server:
            argv += ["--server", self.echo.http_url]
        env = namespace_environment()
        env.pop(FACILITIES_OFF_VARIABLE, None)
        if facilities_off is not None:
            env[FACILITIES_OFF_VARIABLE] = facilities_off
        done = self.lab.client.exec(argv, check=False, timeout=CLI_TIMEOUT_S, env=env)
        assert done.stdout, done.stderr
        return done, assert_valid_report(json.loads(done.stdout))

    def third_party_packets(self) -> int:
        """Packets the Internet namespace forwarded toward THIRD_PARTY_IP (an nftables counter)."""
        out = self.lab.internet.exec(["nft", "-j", "list", "table", "inet", CAPTURE_TABLE]).stdout
        for item in json.loads(out)["nftables"]:
            rule = item.get("rule")
            if rule:
                for expression in rule["expr"]:
                    if "counter" in expression:
                        return int(expression["counter"]["packets"])
        raise AssertionError("no counter in the capture table")


def _ports(report: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    relay = report["relay"] if report["schema"] == "natprobe/check" else report
    assert relay is not None, report
    return {(p["protocol"], p["port"]): p for p in relay["ports"]}


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    missing = relay_lab_missing()
    if missing is not None:
        pytest.skip(missing)
    if not Path(JAMULUS).is_file():
        pytest.skip("Debian's jamulus is not installed (scripts/setup.sh installs it)")
    directory = tmp_path_factory.mktemp("relay")
    with Lab(LabConfig(cgnat=True)) as lab, LabDns(lab) as dns:
        relay_lab = RelayLab(lab, directory)
        try:
            allow = [f"natprobe-allow={lab.public_ip}"]
            dns.serve({RELAY: [VPS_IP], WEB: [VPS_IP], STALE: [THIRD_PARTY_IP]},
                      txt={f"_natprobe.{RELAY}": allow, f"_natprobe.{WEB}": allow})
            dns.use(lab.client)
            echo = start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=8080,
                                     # Every test of this module probes the one relay address.
                                     extra=("--resolver", str(PRIMARY_NS), "--relay-probe-burst", "60"))
            lab.internet.exec(["nft", "-f", "-"], input=(
                f"table inet {CAPTURE_TABLE} {{\n  chain watch {{ type filter hook forward priority -10; policy accept;\n"
                f"    ip daddr {THIRD_PARTY_IP} counter\n  }}\n}}\n"))
            relay_lab.start_sshd()
            relay_lab.start_nginx(http_port=HTTP_PORT, http_name=WEB, http_upstream=8081,
                                  stream_port=STREAM_PORT, stream_upstream=9444)
            relay_lab.start_tunnel(*TUNNEL)
            relay_lab.start_wireguard(dnat_tcp=(WG_TCP,), dnat_udp=(WG_UDP, JAMULUS_PORT))
            yield Relay(lab, relay_lab, echo)
        finally:
            relay_lab.close()


# --------------------------------------------------------------------------- reverse SSH tunnel, nginx


def test_ssh_reverse_tunnel_and_nginx_stream_with_proxy_protocol(relay: Relay) -> None:
    if relay.relay.tunnel is None:
        relay.relay.start_tunnel(*TUNNEL)
    done, report = relay.check("--tcp", f"{SSH_PORT},{STREAM_PORT}", "--host", RELAY)
    assert report["schema_version"] == 7
    # Behind CGNAT the direct check fails; the name leads here through the relay.
    assert {p["status"] for p in report["ports"]} == {"behind-cgnat"}
    assert report["dns"]["verdicts"]["ipv4"]["verdict"] == "via-relay"
    ports = _ports(report)
    ssh = ports[("tcp", SSH_PORT)]
    assert (ssh["status"], ssh["client_address"], ssh["relay_ip"], ssh["via"]) == (
        "reachable-via-relay", "loopback", str(VPS_IP), "echo-server")
    assert ssh["proxy_protocol"] == "none"
    stream = ports[("tcp", STREAM_PORT)]
    assert (stream["status"], stream["proxy_protocol"], stream["client_address"]) == ("reachable-via-relay", "v1", "kept")
    assert str(relay.lab.server.alternate_ip) in stream["evidence"]  # the echo server's probe source, via the header
    assert done.returncode == 0, done.stderr
    assert report["advice"] == []  # reachable through the relay: no remedies to list
    codes = {f["code"] for f in report["relay"]["findings"]}
    assert {"relay-reachable-via-relay", "relay-client-loopback", "relay-client-kept"} <= codes


def test_nginx_http_proxy_keeps_the_client_in_x_forwarded_for(relay: Relay) -> None:
    if relay.relay.tunnel is None:
        relay.relay.start_tunnel(*TUNNEL)
    done, report = relay.check("--tcp", f"{HTTP_PORT}:http", "--host", WEB)
    web = _ports(report)[("tcp", HTTP_PORT)]
    # The echo server's GET carries the token in its path, through nginx and the tunnel.
    assert (web["status"], web["via"], web["client_address"]) == ("reachable-via-relay", "echo-server", "kept")
    assert web["forwarded_for"] == str(relay.lab.server.alternate_ip)  # the probe's source, per nginx
    assert done.returncode == 0, done.stderr


def test_without_an_echo_server_the_relay_is_tested_from_this_host(relay: Relay) -> None:
    if relay.relay.tunnel is None:
        relay.relay.start_tunnel(*TUNNEL)
    done, report = relay.check("--tcp", str(SSH_PORT), "--host", RELAY, server=False)
    assert report["schema"] == "natprobe/relay" and report["via"] == "this-host"
    port = _ports(report)[("tcp", SSH_PORT)]
    assert (port["status"], port["client_address"], port["via"]) == ("reachable-via-relay", "loopback", "this-host")
    assert done.returncode == 0


def test_tunnel_stopped_behind_ssh_and_nginx_is_relay_tunnel_down(relay: Relay) -> None:
    relay.relay.stop_tunnel()
    try:
        done, report = relay.check("--tcp", str(SSH_PORT), "--host", RELAY)
        assert _ports(report)[("tcp", SSH_PORT)]["status"] == "relay-tunnel-down"
        assert done.returncode == 1
        done, report = relay.check("--tcp", f"{HTTP_PORT}:http", "--host", WEB)
        web = _ports(report)[("tcp", HTTP_PORT)]
        assert web["status"] == "relay-tunnel-down"
        assert any("502" in f["detail"] for f in report["relay"]["findings"])
        # A forward cannot work here and the relay does not carry the port: the remedies, in order.
        assert [f["code"] for f in report["advice"]] == [
            "remedy-ipv6", "remedy-ssh-tunnel", "remedy-wireguard-relay", "remedy-ask-isp"]
        assert all(f["advice"][0].startswith("Verify with: natprobe check") for f in report["advice"])
    finally:
        relay.relay.start_tunnel(*TUNNEL)


# --------------------------------------------------------------------------- WireGuard + DNAT


def _start_jamulus(relay: Relay) -> subprocess.Popen[Any]:
    proc = relay.lab.client.spawn([JAMULUS, "-s", "-n", "-p", str(JAMULUS_PORT)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with relay.lab.client.entered():  # bounded: a few ping windows
        for _ in range(5):
            if asyncio.run(jamulus_query.ping(HOME_TUNNEL_IP, JAMULUS_PORT, timeout=2.0, probe_directory=False)).answered:
                return proc
    proc.kill()
    raise AssertionError("Jamulus never answered a ping at home")


def test_wireguard_dnat_with_masquerade_carries_tcp_udp_and_jamulus(relay: Relay) -> None:
    relay.relay.set_masquerade(True)
    relay.relay.set_policy_routing(False)
    jamulus = _start_jamulus(relay)
    try:
        done, report = relay.check("--tcp", str(WG_TCP), "--udp", f"{WG_UDP},{JAMULUS_PORT}:jamulus", "--host", RELAY)
    finally:
        jamulus.kill()
        jamulus.wait(5)
    ports = _ports(report)
    for key in (("tcp", WG_TCP), ("udp", WG_UDP)):
        assert (ports[key]["status"], ports[key]["client_address"]) == ("reachable-via-relay", "relay"), ports[key]
        assert str(VPS_TUNNEL_IP) in ports[key]["evidence"]
    jamulus_port = ports[("udp", JAMULUS_PORT)]
    assert (jamulus_port["status"], jamulus_port["client_address"]) == ("reachable-via-relay", "relay")
    assert jamulus_port["evidence"].startswith(f"inferred from UDP {WG_UDP} through the same relay")
    assert done.returncode == 0, done.stderr


def test_wireguard_without_masquerade_with_policy_routing_keeps_the_client(relay: Relay) -> None:
    relay.relay.set_masquerade(False)
    relay.relay.set_policy_routing(True)
    done, report = relay.check("--tcp", str(WG_TCP), "--udp", str(WG_UDP), "--host", RELAY)
    ports = _ports(report)
    for key in (("tcp", WG_TCP), ("udp", WG_UDP)):
        assert (ports[key]["status"], ports[key]["client_address"]) == ("reachable-via-relay", "kept"), ports[key]
        assert str(relay.lab.server.alternate_ip) in ports[key]["evidence"]
    assert done.returncode == 0, done.stderr


REPLY_PATH_BROKEN = {("udp", WG_UDP): "relay-reply-path-broken",
                     ("tcp", WG_TCP): "relay-reply-path-broken"}  # TCP: seen arriving (root), never connected
"""WireGuard DNAT without MASQUERADE or policy routing: what the check finds with every facility."""


def test_wireguard_without_policy_routing_is_relay_reply_path_broken(relay: Relay) -> None:
    relay.relay.set_masquerade(False)
    relay.relay.set_policy_routing(False)
    done, report = relay.check("--tcp", str(WG_TCP), "--udp", str(WG_UDP), "--host", RELAY)
    ports = _ports(report)
    assert {key: ports[key]["status"] for key in REPLY_PATH_BROKEN} == REPLY_PATH_BROKEN
    assert report["dns"]["verdicts"]["ipv4"]["verdict"] == "via-relay"  # it arrived: not a stale record
    details = " ".join(f["detail"] for f in report["relay"]["findings"])
    assert relay.relay.wg_home in details and "eth0" in details
    assert done.returncode == 1


def test_without_the_linux_only_facilities_the_relay_verdicts_are_right_or_honest(relay: Relay) -> None:
    """The relay check with every Linux-only facility off (what a Mac or Windows host can do):
    each relay port's verdict is the full run's, or an honest not-tested whose words name the
    missing facility, and ``limits`` lists it. Without the arrival watch, a TCP token that never
    completed cannot tell a dead tunnel from a reply that leaves the wrong way."""
    relay.relay.set_masquerade(False)
    relay.relay.set_policy_routing(False)
    done, report = relay.check("--tcp", str(WG_TCP), "--udp", str(WG_UDP), "--host", RELAY,
                               facilities_off=",".join(f.value for f in LINUX_ONLY))
    limits = {entry["facility"]: entry["text"] for entry in report["limits"]}
    assert set(limits) <= {f.value for f in LINUX_ONLY}, limits
    assert FACILITIES_OFF_VARIABLE in limits["arrival-watch"]
    ports = _ports(report)
    findings = report["relay"]["findings"]
    for (protocol, port), truth in REPLY_PATH_BROKEN.items():
        seen = ports[(protocol, port)]
        words = " ".join(f"{f['title']} {f['detail']}" for f in findings if f"{protocol.upper()} {port}" in f["title"])
        problem = judge_verdict(f"{protocol} {port}", seen["status"], seen["reachable"], words, truth, False,
                                limits.values())
        assert problem is None, problem
    # UDP needs no watch (the datagram reaches natprobe's socket); TCP becomes honest.
    assert ports[("udp", WG_UDP)]["status"] == "relay-reply-path-broken"
    assert ports[("tcp", WG_TCP)]["status"] == "not-tested" and ports[("tcp", WG_TCP)]["reachable"] is None
    assert done.returncode == 1


def test_wireguard_stopped_at_home_is_relay_tunnel_down(relay: Relay) -> None:
    relay.relay.stop_home_wireguard()
    done, report = relay.check("--tcp", str(WG_TCP), "--host", RELAY)
    assert _ports(report)[("tcp", WG_TCP)]["status"] == "relay-tunnel-down"
    assert done.returncode == 1


# --------------------------------------------------------------------------- a stale record: a third party


def test_a_stale_record_is_never_probed_by_the_echo_server(relay: Relay) -> None:
    before = relay.third_party_packets()
    done, report = relay.check("--tcp", str(SSH_PORT), "--host", STALE)
    port = _ports(report)[("tcp", SSH_PORT)]
    assert port["status"] == "relay-unverified" and port["reachable"] is None
    assert port["record"] == f'_natprobe.{STALE}. IN TXT "natprobe-allow={relay.lab.public_ip}"'
    assert report["dns"]["verdicts"]["ipv4"]["verdict"] == "stale"
    assert any(port["record"] in " ".join(f["advice"]) for f in report["relay"]["findings"])
    # The capture: not one packet went toward the third party, from the echo server or anyone.
    assert relay.third_party_packets() == before == 0
    assert done.returncode == 1
