"""``natprobe check`` on a real kernel NAT: every verdict proven with the real thing.

Each test builds its own lab (home router with nftables NAT, an "Internet" with natprobe's
echo server on 198.51.100.10), runs the real ``natprobe check`` inside the client namespace
(the CLI as a process, or the library through ``lab.client.entered()``), and compares the
verdict with what the lab was built to be: a forward or none, a forward to another LAN
machine, a real Jamulus server or a real nginx TLS virtual host holding the port, the
client's own nftables firewall, carrier-grade NAT, hairpinning, or no echo server at all.
The abuse tests hit the echo server's HTTP API from inside the lab as a hostile client would.
All traffic stays inside the namespaces these tests create.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from natprobe.reports.check_report import CheckReport
from natprobe.verdicts.port_spec import PortSpec
from natprobe.measure.check import CheckOptions, check_ports
from natprobe.jamulus.messages import is_connection_less_id, parse_frame
from natprobe.lab import Host, Lab, LabConfig, PortForward
from natprobe.lab.services import EchoServerProcess, start_echo_server
from natprobe.contract import TransportProtocol
from natprobe.verdicts.reachability import PortStatus
from natprobe.measure import jamulus_query as jamulus_transport
from tests.json_reports import assert_valid_report
from tests.lab._net import collect_until, drain_for, udp
from tests.lab.nginx_tls import DEFAULT_NAME, nginx_missing, start_nginx_tls

pytestmark = pytest.mark.lab

UDP_PORT = 22124
TCP_PORT = 9000
HTTPS_PORT = 8443
HTTP_API_PORT = 8080
SITE = "moodle.example.org"
JAMULUS = "/usr/bin/Jamulus"
CLI_TIMEOUT_S = 40.0


# --------------------------------------------------------------------------- helpers


def _echo(lab: Lab) -> EchoServerProcess:
    return start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=HTTP_API_PORT)


def _check_cli(lab: Lab, url: str, *args: str, timeout: float = CLI_TIMEOUT_S) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``natprobe check ... --server URL`` in the client namespace; the process and its wall time."""
    started = time.monotonic()
    done = lab.client.exec([sys.executable, "-m", "natprobe_cli", "check", *args, "--server", url],
                           check=False, timeout=timeout)
    return done, time.monotonic() - started


def _json_ports(done: subprocess.CompletedProcess[str]) -> dict[tuple[str, int], dict[str, Any]]:
    """The ``--json`` report's ports by (protocol, port), after checking the per-port schema."""
    data = assert_valid_report(json.loads(done.stdout))
    assert data["schema"] == "natprobe/check" and data["schema_version"] == 7
    ports: dict[tuple[str, int], dict[str, Any]] = {}
    for entry in data["ports"]:
        assert {"port", "protocol", "reachable", "status", "reason", "advice"} <= set(entry), entry
        assert isinstance(entry["port"], int) and entry["protocol"] in ("udp", "tcp")
        assert entry["reachable"] in (True, False, None)
        assert entry["status"] in {s.value for s in PortStatus}
        assert isinstance(entry["reason"], str) and entry["reason"]
        ports[(entry["protocol"], entry["port"])] = entry
    return ports


def _check_lib(lab: Lab, url: str, specs: list[PortSpec], **kw: Any) -> CheckReport:
    with lab.client.entered():
        return asyncio.run(check_ports(url, specs, CheckOptions(**kw)))


@contextmanager
def _capture_udp(host: Host, source: IPv4Address, port: int) -> Iterator[list[bytes]]:
    """UDP payloads from ``source`` arriving at ``host`` for ``port`` while the block runs
    (an AF_PACKET socket in ``host``'s namespace, read by a bounded thread)."""
    with host.entered():
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    sock.settimeout(0.05)
    payloads: list[bytes] = []
    stop = threading.Event()

    def reader() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline and len(payloads) < 10_000:
            try:
                packet, address = sock.recvfrom(4096)
            except TimeoutError:
                continue
            if address[2] == socket.PACKET_OUTGOING or len(packet) < 28 or packet[9] != 17:
                continue
            if packet[12:16] != source.packed:
                continue
            header = (packet[0] & 0x0F) * 4
            if int.from_bytes(packet[header + 2:header + 4], "big") == port:
                payloads.append(bytes(packet[header + 8:]))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        yield payloads
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def _api(host: Host, server: IPv4Address, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    """One HTTP request to the echo server's API from inside ``host``'s namespace."""
    with host.entered():
        conn = http.client.HTTPConnection(str(server), HTTP_API_PORT, timeout=10)
        conn.connect()
    try:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = json.loads(response.read() or b"{}")
        return response.status, data, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()



# --------------------------------------------------------------------------- UDP: forward or not


def test_udp_forwarded_with_natprobe_listening_is_reachable() -> None:
    with Lab(LabConfig(forwards=(PortForward("udp", UDP_PORT),))) as lab:
        echo = _echo(lab)
        done, _ = _check_cli(lab, echo.http_url, "--udp", str(UDP_PORT), "--json")
    assert done.returncode == 0, (done.stdout, done.stderr)
    port = _json_ports(done)[("udp", UDP_PORT)]
    assert port["reachable"] is True and port["status"] == "reachable"
    assert "one-time token" in port["proof"]
    data = json.loads(done.stdout)
    assert data["public_ip"] == str(lab.public_ip) and data["local_ip"] == str(lab.client.ip)
    assert data["topology"]["layers"] == "one-nat"


def test_a_removed_forward_is_not_reachable_right_after_even_with_its_flow_still_tracked() -> None:
    """The router keeps the first probe's conntrack entry (30 s for UDP) after the forward goes:
    a second probe from the same server port would ride it in. Each probe leaves from a fresh
    port, so the second check, right after, sees the port closed. No conntrack flush here."""
    with Lab(LabConfig(forwards=(PortForward("udp", UDP_PORT),))) as lab:
        echo = _echo(lab)
        before, _ = _check_cli(lab, echo.http_url, "--udp", str(UDP_PORT), "--json")
        lab.remove_forwards()
        after, _ = _check_cli(lab, echo.http_url, "--udp", str(UDP_PORT), "--json")
    assert before.returncode == 0, (before.stdout, before.stderr)
    assert after.returncode == 1, (after.stdout, after.stderr)
    assert _json_ports(after)[("udp", UDP_PORT)]["status"] == "not-forwarded-or-filtered"


@contextmanager
def _send_again(router: Host, source: IPv4Address, target: tuple[str, int], payload: bytes) -> Iterator[None]:
    """While the block runs, send ``payload`` from ``source`` (the echo server's address) to
    ``target`` on the LAN every 20 ms, from the router (IP_TRANSPARENT: a source that is not
    the router's own), as an earlier probe's late datagram arrives after the router's forward;
    bounded in count and time."""
    with router.entered():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, 19, 1)  # IP_TRANSPARENT (linux/in.h): bind and send from it
    sock.bind((str(source), 0))
    stop = threading.Event()

    def sender() -> None:
        deadline = time.monotonic() + 20
        for _ in range(1000):
            if stop.wait(0.02) or time.monotonic() > deadline:
                return
            sock.sendto(payload, target)

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def test_an_earlier_checks_late_datagrams_do_not_count_for_the_next() -> None:
    """A check ends as soon as its token arrives, while the server still paces its other
    datagrams. The next check of the same port, right after and with the forward gone, must
    not take them for its own probe reaching this host (and blame this host's firewall): its
    watch counts only datagrams carrying its own token. The first check's token is also sent
    again during the second, so the two overlap whatever the timing; the capture proves that
    it did arrive then."""
    spec = [PortSpec(TransportProtocol.UDP, UDP_PORT)]
    with Lab(LabConfig(forwards=(PortForward("udp", UDP_PORT),))) as lab:
        echo = _echo(lab)
        _, whoami, _ = _api(lab.client, lab.server.primary_ip, "GET", "/v1/whoami")
        probe_source = IPv4Address(whoami["probe_source_ip"])
        with _capture_udp(lab.client, probe_source, UDP_PORT) as first_arrived:
            first = _check_lib(lab, echo.http_url, spec, trace=False)
        assert first.ports[0].status is PortStatus.REACHABLE, first.ports[0]
        assert first_arrived and first_arrived[0].startswith(b"natprobe-nonce:"), first_arrived
        earlier_token = first_arrived[0]
        lab.remove_forwards()  # the second probe leaves from a fresh port: the router drops it
        with _capture_udp(lab.client, probe_source, UDP_PORT) as second_arrived, \
                _send_again(lab.router, probe_source, (str(lab.client.ip), UDP_PORT), earlier_token):
            second = _check_lib(lab, echo.http_url, spec, trace=False)
    assert second_arrived and set(second_arrived) == {earlier_token}, second_arrived[:3]
    verdict = second.ports[0]
    assert verdict.status is PortStatus.NOT_FORWARDED, verdict


def test_udp_without_forward_is_not_reachable_and_says_to_forward_it() -> None:
    with Lab(LabConfig()) as lab:
        echo = _echo(lab)
        done, _ = _check_cli(lab, echo.http_url, "--udp", str(UDP_PORT), "--json")
    assert done.returncode == 1, (done.stdout, done.stderr)
    port = _json_ports(done)[("udp", UDP_PORT)]
    assert port["reachable"] is False and port["status"] == "not-forwarded-or-filtered"
    assert "does not forward UDP port 22124" in port["reason"] and str(lab.client.ip) in port["reason"]
    assert any(f"forward UDP port {UDP_PORT} to {lab.client.ip}" in advice for advice in port["advice"])


def test_udp_forwarded_to_another_lan_address_names_this_hosts_address() -> None:
    with Lab(LabConfig()) as lab:
        lab.add_forward(PortForward("udp", UDP_PORT, to_ip=lab.lan_spare_ip))
        echo = _echo(lab)
        done, _ = _check_cli(lab, echo.http_url, "--udp", str(UDP_PORT), "--json")
    assert done.returncode == 1, (done.stdout, done.stderr)
    port = _json_ports(done)[("udp", UDP_PORT)]
    assert port["reachable"] is False
    assert port["status"] == "not-forwarded-or-filtered"
    assert str(lab.client.ip) == "192.168.77.10" and "192.168.77.10" in port["reason"]
    assert any("192.168.77.10" in advice for advice in port["advice"])


# --------------------------------------------------------------------------- TCP: forward or not


def test_tcp_forwarded_with_natprobe_listening_is_reachable_by_nonce() -> None:
    with Lab(LabConfig(forwards=(PortForward("tcp", TCP_PORT),))) as lab:
        echo = _echo(lab)
        report = _check_lib(lab, echo.http_url, [PortSpec(TransportProtocol.TCP, TCP_PORT)], trace=False)
    verdict = report.ports[0]
    assert verdict.reachable is True and verdict.status is PortStatus.REACHABLE, verdict
    assert verdict.proof is not None and "one-time token" in verdict.proof


def test_tcp_without_forward_is_not_reachable() -> None:
    with Lab(LabConfig()) as lab:
        echo = _echo(lab)
        done, _ = _check_cli(lab, echo.http_url, "--tcp", str(TCP_PORT), "--timeout", "1", "--json")
    assert done.returncode == 1, (done.stdout, done.stderr)
    port = _json_ports(done)[("tcp", TCP_PORT)]
    assert port["reachable"] is False and port["status"] == "not-forwarded-or-filtered"
    assert f"TCP port {TCP_PORT}" in port["reason"] and str(lab.client.ip) in port["reason"]


# --------------------------------------------------------------------------- real services


@pytest.mark.interop
def test_real_jamulus_server_behind_a_forward_is_identified_with_its_version() -> None:
    if not Path(JAMULUS).is_file():
        pytest.skip("Debian's jamulus is not installed (scripts/setup.sh installs it)")
    installed = subprocess.run([JAMULUS, "--version"], capture_output=True, text=True, timeout=10, check=False)
    match = re.search(r"Version (\d+\.\d+\.\d+)", installed.stdout + installed.stderr)
    assert match, installed
    with Lab(LabConfig(forwards=(PortForward("udp", UDP_PORT),))) as lab:
        echo = _echo(lab)
        lab.client.spawn([JAMULUS, "-s", "-n", "-p", str(UDP_PORT), "--serverbindip", str(lab.client.ip)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with lab.client.entered():  # bounded: ping retries inside a fixed window, a few windows
            ready = None
            for _ in range(5):
                ready = asyncio.run(jamulus_transport.ping(lab.client.ip, UDP_PORT, timeout=2.0,
                                                           probe_directory=False))
                if ready.answered:
                    break
        assert ready is not None and ready.answered, "Jamulus never answered a ping on the client"
        _, whoami, _ = _api(lab.client, lab.server.primary_ip, "GET", "/v1/whoami")
        probe_source = IPv4Address(whoami["probe_source_ip"])  # where probe-backs come from
        with _capture_udp(lab.client, probe_source, UDP_PORT) as arrived:
            done, _ = _check_cli(lab, echo.http_url, "--udp", str(UDP_PORT), "--json")
    assert done.returncode == 0, (done.stdout, done.stderr)
    port = _json_ports(done)[("udp", UDP_PORT)]
    assert port["reachable"] is True and port["status"] == "reachable"
    assert port["details"]["answered"] is True
    assert port["details"]["version"] == match.group(1)
    assert f"Jamulus server {match.group(1)}" in port["reason"]
    assert "spoke jamulus" in port["proof"]
    # The Jamulus server got only well-formed connection-less frames: never a raw nonce,
    # which it would take for audio and open a phantom channel for.
    assert arrived, "the probe never reached the client's interface"
    for payload in arrived:
        assert not payload.startswith(b"natprobe-nonce:"), payload
        assert is_connection_less_id(parse_frame(payload).message_id), payload


@pytest.mark.interop
def test_real_nginx_tls_virtual_host_behind_a_forward(tmp_path: Path) -> None:
    if (reason := nginx_missing()) is not None:
        pytest.skip(reason)
    with Lab(LabConfig(forwards=(PortForward("tcp", HTTPS_PORT),))) as lab:
        echo = _echo(lab)
        start_nginx_tls(lab.client, lab.client.ip, HTTPS_PORT, SITE, tmp_path / "nginx")
        named, _ = _check_cli(lab, echo.http_url, "--tcp", f"{HTTPS_PORT}:https", "--host", SITE, "--json")
        anonymous, _ = _check_cli(lab, echo.http_url, "--tcp", f"{HTTPS_PORT}:https", "--json")
        text, _ = _check_cli(lab, echo.http_url, "--tcp", f"{HTTPS_PORT}:https", "--host", SITE)
    assert named.returncode == 0, (named.stdout, named.stderr)
    port = _json_ports(named)[("tcp", HTTPS_PORT)]
    assert port["reachable"] is True and port["status"] == "reachable"
    details = port["details"]
    assert details["status"] == 200
    assert details["server_header"].startswith("nginx")
    tls = details["tls"]
    assert tls["subject_cn"] == SITE and SITE in tls["san"]
    assert tls["verified"] is False and tls["verify_error"]  # self-signed
    assert SITE in port["reason"] and "HTTP 200" in port["reason"]
    # Without --host nginx's default server answers, with its own certificate: the name matters.
    other = _json_ports(anonymous)[("tcp", HTTPS_PORT)]["details"]
    assert other["status"] == 421 and other["tls"]["subject_cn"] == DEFAULT_NAME
    # The text report names the site too.
    assert text.returncode == 0 and SITE in text.stdout and "REACHABLE" in text.stdout


# --------------------------------------------------------------------------- why not


def test_client_firewall_drop_is_reported_as_this_hosts_firewall() -> None:
    config = LabConfig(forwards=(PortForward("udp", UDP_PORT), PortForward("tcp", TCP_PORT)))
    with Lab(config) as lab:
        echo = _echo(lab)
        lab.block_on_client("udp", UDP_PORT)
        lab.block_on_client("tcp", TCP_PORT)
        done, _ = _check_cli(lab, echo.http_url, "--udp", str(UDP_PORT), "--tcp", str(TCP_PORT),
                             "--timeout", "1", "--json")
    assert done.returncode == 1, (done.stdout, done.stderr)
    ports = _json_ports(done)
    for key in (("udp", UDP_PORT), ("tcp", TCP_PORT)):
        port = ports[key]
        assert port["reachable"] is False and port["status"] == "dropped-by-host-firewall", port
        assert "this host's own firewall" in port["reason"]
        assert any("firewall" in advice and str(key[1]) in advice for advice in port["advice"])


def test_cgnat_is_reported_with_its_advice() -> None:
    with Lab(LabConfig(cgnat=True, forwards=(PortForward("udp", UDP_PORT),))) as lab:
        echo = _echo(lab)
        done, _ = _check_cli(lab, echo.http_url, "--udp", str(UDP_PORT), "--json")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert json.loads(done.stdout)["topology"]["layers"] == "cgnat"
    port = _json_ports(done)[("udp", UDP_PORT)]
    assert port["reachable"] is False and port["status"] == "behind-cgnat"
    assert "carrier-grade NAT" in port["reason"]
    advice = " ".join(port["advice"])
    assert "public IPv4" in advice and "IPv6" in advice and "VPS" in advice and "tunnel" in advice


HAIRPIN_FORWARDS = (PortForward("udp", UDP_PORT), PortForward("tcp", TCP_PORT))
HAIRPIN_ARGS = ("--udp", str(UDP_PORT), "--tcp", str(TCP_PORT), "--hairpin", "--json")


def test_hairpin_works_when_the_router_loops_back() -> None:
    with Lab(LabConfig(hairpin=True, forwards=HAIRPIN_FORWARDS)) as lab:
        echo = _echo(lab)
        done, _ = _check_cli(lab, echo.http_url, *HAIRPIN_ARGS)
    assert done.returncode == 0, (done.stdout, done.stderr)
    hairpins = {(h["protocol"], h["port"]): h for h in assert_valid_report(json.loads(done.stdout))["hairpin"]}
    assert set(hairpins) == {("udp", UDP_PORT), ("tcp", TCP_PORT)}
    for hairpin in hairpins.values():
        assert hairpin["works"] is True and hairpin["advice"] == [], hairpin
        assert str(lab.public_ip) in hairpin["reason"]


def test_no_hairpin_gives_the_lan_address_and_split_dns_advice() -> None:
    with Lab(LabConfig(forwards=HAIRPIN_FORWARDS)) as lab:
        echo = _echo(lab)
        done, _ = _check_cli(lab, echo.http_url, *HAIRPIN_ARGS)
    # The ports themselves are reachable from outside; only the loop-back fails.
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert all(p["reachable"] is True for p in _json_ports(done).values())
    hairpins = assert_valid_report(json.loads(done.stdout))["hairpin"]
    assert {(h["protocol"], h["port"]) for h in hairpins} == {("udp", UDP_PORT), ("tcp", TCP_PORT)}
    for hairpin in hairpins:
        assert hairpin["works"] is False, hairpin
        assert "hairpin" in hairpin["reason"] and str(lab.public_ip) in hairpin["reason"]
        advice = " ".join(hairpin["advice"])
        assert "LAN address" in advice and "split DNS" in advice


SERVER_FIREWALL = """table inet natprobe_test {
  chain input {
    type filter hook input priority filter; policy accept;
    tcp dport %d drop
  }
}
"""


@pytest.mark.parametrize("how", ["refused", "dropped"])
def test_echo_server_down_exits_3_with_a_clear_message(how: str) -> None:
    # How quickly (the connect bound, not the long per-request one): the "no connection within
    # 3 s" line below names the bound used; benchmarks/bounded_waits.py times the refused case.
    with Lab(LabConfig(forwards=(PortForward("udp", UDP_PORT),))) as lab:
        url = f"http://{lab.server.primary_ip}:{HTTP_API_PORT}"  # nothing listens there
        if how == "dropped":  # ... and a firewall on the server host silently drops the SYN
            lab.server.exec(["nft", "-f", "-"], input=SERVER_FIREWALL % HTTP_API_PORT, timeout=10)
        done, _ = _check_cli(lab, url, "--udp", str(UDP_PORT), timeout=30)
        as_json, _ = _check_cli(lab, url, "--udp", str(UDP_PORT), "--json", timeout=30)
        # The library does not raise: its report says nothing could be tested, and why.
        report = _check_lib(lab, url, [PortSpec(TransportProtocol.UDP, UDP_PORT)])
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "cannot reach echo server" in done.stderr and "nothing could be tested" in done.stderr, done.stderr
    assert done.stdout == ""
    assert not report.server_reached and [p.status for p in report.ports] == [PortStatus.UNTESTED]
    assert "cannot reach echo server" in report.ports[0].reason
    assert as_json.returncode == 3, as_json.stderr
    printed = assert_valid_report(json.loads(as_json.stdout))
    assert printed["public_ip"] is None and printed["ports"][0]["reason"] == report.ports[0].reason
    if how == "dropped":
        assert "no connection within 3 s" in done.stderr, done.stderr


def test_udp_port_held_by_an_unknown_silent_program_is_proven_by_arrival_and_the_program_named() -> None:
    """The holder here is this test process's own socket: it never answers, like WireGuard."""
    with Lab(LabConfig(forwards=(PortForward("udp", 5000),))) as lab:
        echo = _echo(lab)
        holder = udp(lab.client, "0.0.0.0", 5000)  # some program natprobe cannot speak to
        try:
            done, _ = _check_cli(lab, echo.http_url, "--udp", "5000", "--json")
        finally:
            holder.close()
    assert done.returncode == 0, (done.stdout, done.stderr)
    port = _json_ports(done)[("udp", 5000)]
    assert port["reachable"] is True and port["status"] == "arrived-service-silent"
    program = Path("/proc/self/comm").read_text().strip()
    assert f"{program} holds UDP port 5000" in port["reason"], port["reason"]


# --------------------------------------------------------------------------- abuse of the API


def _nonce_body(port: int, nonce: str, **extra: Any) -> bytes:
    return json.dumps({"protocol": "udp", "port": port, "mode": "nonce", "nonce": nonce, "count": 1, **extra}).encode()


def test_api_refuses_third_party_targets_and_malformed_requests() -> None:
    with Lab(LabConfig()) as lab:
        _echo(lab)
        server = lab.server.primary_ip
        sink = udp(lab.peer, lab.peer.ip, 0)
        sink_port = sink.getsockname()[1]
        try:
            bad = secrets.token_hex(16)
            # From the client: probe the peer (a third party) instead of me.
            for extra in ({"ip": str(lab.peer.ip)}, {"target": f"{lab.peer.ip}:{sink_port}"}):
                status, body, _ = _api(lab.client, server, "POST", "/v1/probe", _nonce_body(sink_port, bad, **extra))
                assert status == 400 and body["error"]["code"] == "bad_request", body
                assert "target address" in body["error"]["message"]
            # A forwarded-for header naming the peer is ignored: the probe goes to the requester.
            status, body, _ = _api(lab.client, server, "POST", "/v1/probe",
                                   _nonce_body(sink_port, secrets.token_hex(16)),
                                   {"X-Forwarded-For": str(lab.peer.ip), "Forwarded": f"for={lab.peer.ip}"})
            assert status == 200 and body["target"]["ip"] == str(lab.public_ip), body
            # A list of ports, and a huge body.
            listed = json.dumps({"protocol": "udp", "port": list(range(1, 200)), "mode": "nonce",
                                 "nonce": bad}).encode()
            status, body, _ = _api(lab.peer, server, "POST", "/v1/probe", listed)
            assert status == 400 and "port must be an integer" in body["error"]["message"], body
            status, body, _ = _api(lab.peer, server, "POST", "/v1/probe", b" " * 65_536 + _nonce_body(sink_port, bad))
            assert status == 413, body
            # Nothing of the above reached the peer: the peer's own probe (sent after, along the
            # same path) arrives alone.
            marker = secrets.token_hex(16)
            status, _, _ = _api(lab.peer, server, "POST", "/v1/probe", _nonce_body(sink_port, marker))
            assert status == 200
            got = collect_until(sink, b"natprobe-nonce:" + marker.encode(), timeout=5)
            assert [data for data, _ in got] == [b"natprobe-nonce:" + marker.encode()]
        finally:
            sink.close()


def test_api_rate_limits_a_burst_from_one_source() -> None:
    with Lab(LabConfig()) as lab:
        _echo(lab)  # defaults: a burst of 10, then 1 probe per second per source
        server = lab.server.primary_ip
        sink = udp(lab.peer, lab.peer.ip, 0)
        sink_port = sink.getsockname()[1]
        try:
            allowed: list[str] = []
            refused: list[dict[str, Any]] = []
            started = time.monotonic()
            for _ in range(20):
                nonce = secrets.token_hex(16)
                status, body, headers = _api(lab.peer, server, "POST", "/v1/probe", _nonce_body(sink_port, nonce))
                if status == 200:
                    allowed.append(nonce)
                    continue
                assert status == 429 and body["error"]["code"] == "rate_limited", body
                assert int(headers["retry-after"]) >= 1
                refused.append(body)
                if len(refused) == 3:
                    break
            elapsed = time.monotonic() - started
            assert len(refused) == 3
            # The burst, plus at most what the 1/s refill gave back while we were sending
            # (so a probe may be allowed between two refusals, when a token came back).
            assert 10 <= len(allowed) <= 10 + int(elapsed) + 1, (len(allowed), elapsed)
            # Exactly the allowed probes were sent, each once; the refused ones sent nothing.
            expected = {b"natprobe-nonce:" + n.encode() for n in allowed}
            got = collect_until(sink, b"natprobe-nonce:" + allowed[-1].encode(), timeout=5)
            got += drain_for(sink, 0.2)
            assert sorted(data for data, _ in got) == sorted(expected)
        finally:
            sink.close()
