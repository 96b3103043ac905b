"""Silent-by-default UDP services that answer a correct first packet, behind a real NAT.

One module-scoped lab: the home router forwards UDP 1194 to a real OpenVPN server without
tls-auth (it answers the echo server's hard reset), UDP 1195 to a real OpenVPN server with
tls-auth (silent: only the arrival proves the forward), UDP 53 to a real dnsmasq, UDP 123 to a
real chronyd serving NTP and UDP 443 to a real QUIC server (aioquic, whose own Version
Negotiation answers the echo server's probe). The probes the echo server sends are captured on the client: bounded in number and never more
bytes than the request asked for. Traffic stays inside the namespaces made here.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

import pytest

from natprobe.lab import Host, Lab, LabConfig, PortForward
from natprobe.lab.chrony import chrony_missing, start_chrony
from natprobe.lab.dns_server import dnsmasq_argv
from natprobe.lab.openvpn import openvpn_missing, start_openvpn
from natprobe.lab.services import start_echo_server, wait_udp_bound
from natprobe.udp_services import FIRST_PACKETS
from tests.json_reports import assert_valid_report
from tests.lab.quic_server import quic_missing, start_quic_server

pytestmark = [pytest.mark.lab, pytest.mark.interop]

PLAIN, TLS_AUTH, DNS, NTP, QUIC = 1194, 1195, 53, 123, 443


@dataclass
class ServicesLab:
    lab: Lab
    url: str


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServicesLab]:
    missing = openvpn_missing() or chrony_missing() or quic_missing()
    if missing:
        pytest.skip(missing)
    forwards = tuple(PortForward("udp", p) for p in (PLAIN, TLS_AUTH, DNS, NTP, QUIC))
    with Lab(LabConfig(forwards=forwards)) as lab:
        echo = start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=8080)
        directory = tmp_path_factory.mktemp("openvpn")
        start_openvpn(lab.client, PLAIN, directory)
        start_openvpn(lab.client, TLS_AUTH, directory, tls_auth=True, subnet="10.99.0.1")
        dnsmasq_log = directory / "dnsmasq.log"
        with dnsmasq_log.open("wb") as handle:
            dnsmasq = lab.client.spawn(dnsmasq_argv(lab.client.ip, {"home.example.test": [lab.client.ip]}),
                                       stdout=handle, stderr=subprocess.STDOUT)
        start_chrony(lab.client, NTP, tmp_path_factory.mktemp("chrony"))
        start_quic_server(lab.client, QUIC, tmp_path_factory.mktemp("quic"))
        wait_udp_bound(lab.client, dnsmasq, DNS, dnsmasq_log, "dnsmasq")
        yield ServicesLab(lab, echo.http_url)


def _check(s: ServicesLab, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[int, dict[str, Any]]]:
    done = s.lab.client.exec([sys.executable, "-m", "natprobe_cli", "check", *args, "--server", s.url, "--json",
                              "--no-router"], check=False, timeout=60)
    assert done.stdout, done.stderr
    data = assert_valid_report(json.loads(done.stdout))
    return done, {p["port"]: p for p in data["ports"]}


class _Capture:
    """UDP payloads arriving at ``host`` for ``port`` from one of ``sources`` while the block runs
    (an AF_PACKET socket in the namespace, read by a bounded thread)."""

    def __init__(self, host: Host, sources: tuple[IPv4Address, ...], port: int) -> None:
        with host.entered():
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
        self._sock.settimeout(0.05)
        self._sources, self._port = {a.packed for a in sources}, port
        self.payloads: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        deadline = time.monotonic() + 60
        while not self._stop.is_set() and time.monotonic() < deadline and len(self.payloads) < 1000:
            try:
                packet, address = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            if address[2] == socket.PACKET_OUTGOING or len(packet) < 28 or packet[9] != 17:
                continue
            header = (packet[0] & 0x0F) * 4
            if packet[12:16] in self._sources and int.from_bytes(packet[header + 2:header + 4], "big") == self._port:
                self.payloads.append(bytes(packet[header + 8:]))

    def __enter__(self) -> _Capture:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.2)  # the last frame's way through the lab
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


def test_a_real_openvpn_server_answers_the_hard_reset_and_the_probe_is_bounded(services: ServicesLab) -> None:
    server = services.lab.server
    with _Capture(services.lab.client, (server.primary_ip, server.alternate_ip), PLAIN) as capture:
        done, ports = _check(services, "--udp", str(PLAIN))
    assert done.returncode == 0, done.stderr
    port = ports[PLAIN]
    assert port["status"] == "reachable" and port["details"]["answered"] is True
    assert "an OpenVPN server (P_CONTROL_HARD_RESET_SERVER_V2)" in port["reason"]
    assert 1 <= len(capture.payloads) <= 3  # answered at the first try, usually
    assert all(len(p) == FIRST_PACKETS["openvpn"].size and p[0] >> 3 == 7 for p in capture.payloads)


def test_openvpn_with_tls_auth_stays_silent_and_the_arrival_proves_the_forward(services: ServicesLab) -> None:
    done, ports = _check(services, "--udp", str(TLS_AUTH))
    assert done.returncode == 0, done.stderr
    port = ports[TLS_AUTH]
    assert port["status"] == "arrived-service-silent" and port["reachable"] is True
    assert "OpenVPN" in port["reason"] and port["details"]["answered"] is False
    assert port["details"]["sent"] == 3  # every try within the body's byte budget, then silence
    assert any("tls-auth or tls-crypt" in a for a in port["advice"])


def test_a_real_dns_server_answers_the_query(services: ServicesLab) -> None:
    done, ports = _check(services, "--udp", str(DNS))
    assert done.returncode == 0, done.stderr
    port = ports[DNS]
    assert port["status"] == "reachable" and port["details"]["answered"] is True
    assert "a DNS server (rcode" in port["reason"]


def test_a_service_can_be_named_on_any_port(services: ServicesLab) -> None:
    done, ports = _check(services, "--udp", f"{TLS_AUTH}:dns")
    # dnsmasq does not hold 1195: the OpenVPN server there ignores a DNS query; the arrival decides.
    assert ports[TLS_AUTH]["status"] == "arrived-service-silent", ports


@pytest.mark.parametrize(("port", "mode", "answered_by", "first_bytes"), [
    # chronyd's "local stratum 10", not an echo; the client packet starts LI 0, VN 4, mode 3.
    (NTP, "ntp", "an NTP server (stratum 10)", (0, bytes([0x23]))),
    # aioquic offers QUIC v1 first; each probe is one padded Initial-sized datagram (RFC 9000
    # section 14.1) with the reserved version 0x1a2a3a4a that forces a Version Negotiation.
    (QUIC, "quic", "a QUIC server (versions 0x00000001", (1, bytes.fromhex("1a2a3a4a"))),
], ids=["ntp", "quic"])
def test_a_real_server_answers_the_first_packet_and_the_probe_is_bounded(
        services: ServicesLab, port: int, mode: str, answered_by: str, first_bytes: tuple[int, bytes]) -> None:
    server = services.lab.server
    with _Capture(services.lab.client, (server.primary_ip, server.alternate_ip), port) as capture:
        done, ports = _check(services, "--udp", str(port))
    assert done.returncode == 0, done.stderr
    verdict = ports[port]
    assert verdict["status"] == "reachable" and verdict["reachable"] is True, verdict
    assert verdict["details"]["answered"] is True
    assert answered_by in verdict["reason"]
    assert 1 <= len(capture.payloads) <= 3
    offset, expected = first_bytes
    assert all(len(p) == FIRST_PACKETS[mode].size and p[offset:offset + len(expected)] == expected
               for p in capture.payloads)
