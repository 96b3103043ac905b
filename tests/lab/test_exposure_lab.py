"""``natprobe exposure`` against real services behind a real kernel NAT.

One lab for the module: on the LAN host, behind port forwards, a real OpenSSH server with
password authentication (port 22) and another with keys only (port 2222), nginx over plain
HTTP (80), over TLS with a self-signed certificate (443) and with an expired one (8443), a
real Redis without authentication (6379) and a real Jamulus server (UDP 22124); and nginx on
8080, which is *not* forwarded and must not appear. The real ``natprobe exposure`` runs in
the client namespace against natprobe's echo server in the "Internet" namespace, while an
AF_PACKET socket in the server's namespace records every packet the server sends.
All traffic stays inside the namespaces this module creates.
"""

from __future__ import annotations

import asyncio
import datetime
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

import pytest

from natprobe.measure.jamulus_query import ping as jamulus_ping
from natprobe.lab import Lab, LabConfig, PortForward
from natprobe.lab.services import EchoServerProcess, make_nginx_dirs, nginx_preamble, start_echo_server
from tests.json_reports import assert_valid_report
from tests.lab.nginx_tls import NGINX, nginx_missing, self_signed

pytestmark = [pytest.mark.lab, pytest.mark.interop]

SSHD = "/usr/sbin/sshd"
REDIS = "/usr/bin/redis-server"
JAMULUS = "/usr/bin/Jamulus"
HTTP_API_PORT = 8080
FORWARDED = {("tcp", 22), ("tcp", 2222), ("tcp", 80), ("tcp", 443), ("tcp", 8443), ("tcp", 6379), ("udp", 22124)}
UNFORWARDED_NGINX = 8080
READY_S = 10.0


def _missing() -> str | None:
    for path in (SSHD, REDIS, JAMULUS, NGINX, "/usr/bin/ssh-keygen"):
        if not Path(path).is_file():
            return f"{path} is not installed (scripts/setup.sh installs it)"
    return nginx_missing()


def _expired_cert(directory: Path, name: str) -> tuple[Path, Path]:
    """A certificate for ``name`` that expired yesterday (openssl req cannot backdate one)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30)).not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "expired.crt", directory / "expired.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def _nginx_conf(d: Path, ip: IPv4Address, selfsigned: tuple[Path, Path], expired: tuple[Path, Path]) -> str:
    return f"""\
{nginx_preamble(d)}    server {{ listen {ip}:80; location / {{ return 200 "plain\\n"; }} }}
    server {{ listen {ip}:{UNFORWARDED_NGINX}; location / {{ return 200 "inside only\\n"; }} }}
    server {{ listen {ip}:443 ssl; ssl_certificate {selfsigned[0]}; ssl_certificate_key {selfsigned[1]};
             location / {{ return 200 "self-signed\\n"; }} }}
    server {{ listen {ip}:8443 ssl; ssl_certificate {expired[0]}; ssl_certificate_key {expired[1]};
             location / {{ return 200 "expired\\n"; }} }}
}}
"""


def _sshd_conf(d: Path, ip: IPv4Address, port: int, *, passwords: bool) -> Path:
    conf = d / f"sshd_{port}.conf"
    yes_no = "yes" if passwords else "no"
    conf.write_text(
        f"ListenAddress {ip}:{port}\nHostKey {d / 'host_key'}\nPidFile none\nUsePAM no\nStrictModes no\n"
        f"PasswordAuthentication {yes_no}\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        "PermitRootLogin no\nLogLevel VERBOSE\nAuthorizedKeysFile none\n"
    )
    return conf


def _wait_tcp(lab: Lab, ip: IPv4Address, port: int) -> None:
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:  # bounded by READY_S
        with lab.client.entered():
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.settimeout(0.5)
            sock.connect((str(ip), port))
            return
        except OSError:
            time.sleep(0.05)
        finally:
            sock.close()
    raise AssertionError(f"nothing listens on {ip}:{port} after {READY_S} s")


class _Capture:
    """Destinations of every IP packet the server namespace sends, from an AF_PACKET socket.

    ETH_P_ALL, not ETH_P_IP: a socket bound to ETH_P_IP on a veth sees only inbound frames."""

    def __init__(self, lab: Lab) -> None:
        with lab.server.entered():
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))
        self.sock.settimeout(0.05)
        self.destinations: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        deadline = time.monotonic() + 120
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                packet, address = self.sock.recvfrom(64)
            except TimeoutError:
                continue
            if address[2] != socket.PACKET_OUTGOING or address[0] == "lo":
                continue
            if address[1] == 0x0800 and len(packet) >= 20:
                dst = str(IPv4Address(packet[16:20]))
            elif address[1] == 0x86DD and len(packet) >= 40:
                if packet[24] == 0xFF and packet[25] & 0x0F == 2:
                    continue  # link-local multicast (neighbour discovery, MLD): the link's own upkeep
                dst = str(IPv6Address(packet[24:40]))
            else:
                continue  # ARP: asks who holds the next hop, sends nothing to anyone
            self.destinations[dst] = self.destinations.get(dst, 0) + 1

    def __enter__(self) -> _Capture:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.3)  # the scan's last FIN/ACKs leave after the answer
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@dataclass
class Scanned:
    lab: Lab
    echo: EchoServerProcess
    done: subprocess.CompletedProcess[str]
    wall_s: float
    destinations: dict[str, int]
    ssh_logs: str


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    reason = _missing()
    if reason is not None:
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("exposure")
    forwards = tuple(PortForward(proto, port) for proto, port in sorted(FORWARDED))  # type: ignore[arg-type]
    created_run_sshd = not Path("/run/sshd").exists()
    with Lab(LabConfig(forwards=forwards)) as lab:
        try:
            ip = lab.client.ip
            echo = start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=HTTP_API_PORT)
            # OpenSSH: a host key of its own, two daemons (passwords on 22, keys only on 2222).
            subprocess.run(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")],
                           check=True, timeout=30)  # fmt: skip
            os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege-separation directory
            ssh_logs = []
            for port, passwords in ((22, True), (2222, False)):
                log = d / f"sshd_{port}.log"
                lab.client.spawn([SSHD, "-D", "-e", "-f", str(_sshd_conf(d, ip, port, passwords=passwords))],
                                 stdout=subprocess.DEVNULL, stderr=log.open("wb"))  # fmt: skip
                ssh_logs.append(log)
            make_nginx_dirs(d)
            conf = d / "nginx.conf"
            conf.write_text(_nginx_conf(d, ip, self_signed(d, "home.example.org", "site"),
                                        _expired_cert(d, "old.example.org")))  # fmt: skip
            lab.client.spawn([NGINX, "-p", str(d), "-e", str(d / "error.log"), "-c", str(conf)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            lab.client.spawn([REDIS, "--bind", str(ip), "--port", "6379", "--protected-mode", "no", "--save", "",
                              "--appendonly", "no", "--dir", str(d)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            lab.client.spawn([JAMULUS, "-s", "-n", "-p", "22124", "--serverbindip", str(ip)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            for port in (22, 2222, 80, 443, 8443, 6379, UNFORWARDED_NGINX):
                _wait_tcp(lab, ip, port)
            with lab.client.entered():  # bounded: a few ping windows while Jamulus starts
                for _ in range(5):
                    if asyncio.run(jamulus_ping(ip, 22124, timeout=2.0, probe_directory=False)).answered:
                        break
            with _Capture(lab) as capture:
                started = time.monotonic()
                done = lab.client.exec(
                    [sys.executable, "-m", "natprobe_cli", "exposure", "--server", echo.http_url,
                     "--expect", f"80,443,2222,22124/udp,{UNFORWARDED_NGINX}", "--host", "home.example.org", "--json"],
                    check=False, timeout=40,
                )  # fmt: skip
                wall = time.monotonic() - started
            yield Scanned(lab, echo, done, wall, dict(capture.destinations),
                          "\n".join(p.read_text(errors="replace") for p in ssh_logs))  # fmt: skip
        finally:
            if created_run_sshd:
                shutil.rmtree("/run/sshd", ignore_errors=True)


def _report(s: Scanned) -> dict[str, Any]:
    assert s.done.returncode == 1, (s.done.stdout, s.done.stderr)  # bad findings: exit 1
    data: dict[str, Any] = assert_valid_report(json.loads(s.done.stdout))
    assert data["schema"] == "natprobe/exposure" and data["schema_version"] == 3
    return data


def _ports(data: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(p["protocol"], p["port"]): p for p in data["ports"]}


def _codes(port: dict[str, Any]) -> dict[str, str]:
    return {f["code"]: f["severity"] for f in port["findings"]}


def test_finds_exactly_the_forwarded_services_within_15_s(scanned: Scanned) -> None:
    data = _report(scanned)
    open_ports = {(p["protocol"], p["port"]) for p in data["scanned"] if p["state"] == "open"}
    assert open_ports == FORWARDED
    states = {(p["protocol"], p["port"]): p["state"] for p in data["scanned"]}
    assert states[("tcp", UNFORWARDED_NGINX)] == "filtered"  # listening inside, not forwarded: unseen
    assert states[("tcp", 23)] == "filtered"
    assert scanned.wall_s < 15.0 + 3.0 and data["duration_ms"] < 15_000


def test_each_service_is_identified_and_graded(scanned: Scanned) -> None:
    ports = _ports(_report(scanned))
    ssh = ports[("tcp", 22)]
    assert ssh["service"] == "ssh" and ssh["details"]["ssh"]["version"].startswith("SSH-2.0-OpenSSH")
    assert "password" in ssh["details"]["ssh"]["auth_methods"]
    assert _codes(ssh) == {"ssh-accepts-passwords": "problem", "unexpected-open-port": "warning"}
    keys = ports[("tcp", 2222)]
    assert keys["details"]["ssh"]["auth_methods"] == ["publickey"] and keys["expected"] is True
    assert _codes(keys) == {"ssh-keys-only": "ok"}
    web = ports[("tcp", 80)]
    assert web["service"] == "http" and web["details"]["http"]["server"].startswith("nginx")
    selfsigned = ports[("tcp", 443)]
    assert selfsigned["service"] == "https" and selfsigned["details"]["tls"]["san"] == ["home.example.org"]
    assert _codes(selfsigned) == {"tls-self-signed": "warning"}
    expired = ports[("tcp", 8443)]
    assert expired["details"]["tls"]["subject_cn"] == "old.example.org"
    assert _codes(expired)["tls-certificate-expired"] == "problem"
    assert _codes(expired)["tls-wrong-name"] == "warning"  # --host home.example.org: not this certificate's name
    redis = ports[("tcp", 6379)]
    assert redis["service"] == "redis" and redis["details"]["auth_required"] is False
    assert _codes(redis)["redis-without-authentication"] == "problem"
    jamulus = ports[("udp", 22124)]
    assert jamulus["service"] == "jamulus" and jamulus["details"]["jamulus_version"]
    assert _codes(jamulus) == {"jamulus-server": "ok"}


def test_an_expected_port_that_is_not_forwarded_gets_the_reachability_verdict(scanned: Scanned) -> None:
    port = _ports(_report(scanned))[("tcp", UNFORWARDED_NGINX)]
    assert port["state"] == "filtered" and port["expected"] is True
    [finding] = port["findings"]
    assert finding["code"] == "expected-port-not-reachable" and finding["severity"] == "problem"
    assert "does not forward" in finding["detail"]
    assert any(str(scanned.lab.client.ip) in advice for advice in finding["advice"])


def test_ssh_exchange_stops_before_any_authentication(scanned: Scanned) -> None:
    _report(scanned)
    logs = scanned.ssh_logs
    assert "natprobe" in logs  # the 'none' request reached sshd (it logs the user name)
    for attempt in ("Failed password", "Accepted", "Failed publickey", "Postponed"):
        assert attempt not in logs, logs


def test_no_packet_left_the_server_toward_any_other_address(scanned: Scanned) -> None:
    _report(scanned)
    assert scanned.destinations, "the capture saw nothing: it cannot vouch for anything"
    assert set(scanned.destinations) == {str(scanned.lab.public_ip)}, scanned.destinations


def _post(s: Scanned, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
    with s.lab.client.entered():
        conn = http.client.HTTPConnection(str(s.lab.server.primary_ip), HTTP_API_PORT, timeout=20)
        conn.connect()
    try:
        conn.request("POST", "/v1/exposure", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read()), {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def test_abuse_second_scan_is_429_and_another_address_is_refused(scanned: Scanned) -> None:
    _report(scanned)
    status, body, headers = _post(scanned, b"{}")
    assert status == 429 and int(headers["retry-after"]) > 60, body
    assert "one exposure scan per" in body["error"]["message"]
    status, body, _ = _post(scanned, json.dumps({"target": str(scanned.lab.peer.ip)}).encode())
    assert status == 400 and "no way to name a target" in body["error"]["message"]
    status, body, _ = _post(scanned, json.dumps({"extra": [{"port": 22, "ip": str(scanned.lab.peer.ip)}]}).encode())
    assert status == 400 and "unknown field" in body["error"]["message"]
