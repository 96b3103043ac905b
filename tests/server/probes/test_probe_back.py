"""Probe-back implementations against real loopback peers (no HTTP in between).

Every target is 127.0.0.1 on a socket this test bound (the peers are :mod:`tests.server.peers`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from natprobe.jamulus import PingMsWithNumClients, ReqVersionAndOs, decode, is_protocol_frame
from natprobe.addressing import TransportAddress

from natprobe.contract import (
    ConnectResult,
    HttpResult,
    HttpsResult,
    JamulusResult,
    ProbeError,
    SshResult,
    UdpNonceResult,
    nonce_payload,
    to_json_object,
)

from natprobe_server.probes import probe_back
from tests.server.peers import (
    NONCE,
    Scripted,
    UdpSink,
    http_responder,
    make_pki,
    read_all,
    sender,
    server_tls,
    silent,
    tcp_server,
)
from natprobe_server.probes.probe_back import (
    UdpProbeSocket,
    describe_certificate,
    jamulus_attempts,
    parse_http_head,
    scan_ssh_banner,
)

LOCALHOST = ipaddress.IPv4Address("127.0.0.1")


def target(port: int) -> TransportAddress:
    return TransportAddress(LOCALHOST, port)


# =====================================================================================
# Pure parsers
# =====================================================================================


def test_parse_http_head_reads_status_server_and_location() -> None:
    head = parse_http_head(
        b"HTTP/1.1 301 Moved Permanently\r\nserver: nginx/1.22.1\r\nLocation: https://x.test/\r\n"
        b"Server: second\r\n\r\nbody"
    )
    assert head == probe_back.HttpHead(301, "nginx/1.22.1", "https://x.test/")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"HTTP/1.0 200\r\n\r\n", probe_back.HttpHead(200, None, None)),
        (b"HTTP/1.1 404 Not Found\n\n", probe_back.HttpHead(404, None, None)),  # bare LF servers
        (b"HTTP/1.1 200 OK\r\nServer: cut-off", probe_back.HttpHead(200, None, None)),  # incomplete header line
        (b"HTTP/1.1 200 OK", None),  # status line not complete yet
        (b"SSH-2.0-OpenSSH\r\n", None),
        (b"hello\r\n\r\n", None),
        (b"HTTP/1.1 20 OK\r\n\r\n", None),
        (b"", None),
    ],
)
def test_parse_http_head_cases(data: bytes, expected: probe_back.HttpHead | None) -> None:
    assert parse_http_head(data) == expected


def test_parse_http_head_cleans_and_cuts_header_values() -> None:
    head = parse_http_head(b"HTTP/1.1 200 OK\r\nServer: a\x00b" + b"x" * 1000 + b"\r\n\r\n")
    assert head is not None and head.server is not None
    assert "\x00" not in head.server and len(head.server) == probe_back.REPORTED_TEXT_MAX


@given(st.binary(max_size=300))
def test_parse_http_head_never_raises(data: bytes) -> None:
    head = parse_http_head(data)
    assert head is None or 100 <= head.status <= 999


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"SSH-2.0-Test\r\n", ("SSH-2.0-Test", True)),
        (b"SSH-2.0-Test\n", ("SSH-2.0-Test", True)),
        (b"Welcome to the box\r\nSSH-2.0-OpenSSH_9.2\r\n", ("SSH-2.0-OpenSSH_9.2", True)),  # RFC 4253 4.2
        (b"SSH-2.0-Te", (None, False)),
        (b"SSH-" + b"x" * 300 + b"\r\n", (None, True)),  # longer than 255
        (b"SSH-" + b"x" * 300, (None, True)),
        (b"x" * probe_back.SSH_MAX_READ, (None, True)),
        (b"HTTP/1.1 400 Bad Request\r\n", (None, False)),
    ],
)
def test_scan_ssh_banner(data: bytes, expected: tuple[str | None, bool]) -> None:
    assert scan_ssh_banner(data) == expected


@given(st.binary(max_size=2000))
def test_scan_ssh_banner_never_raises(data: bytes) -> None:
    banner, done = scan_ssh_banner(data)
    assert banner is None or (banner.startswith("SSH-") and done and len(banner) < probe_back.SSH_MAX_BANNER)


def test_describe_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    der = ssl.PEM_cert_to_DER_cert(pki.leaf_cert.read_text())
    info = describe_certificate(der)
    assert info.subject_cn == "probe.test"
    assert info.san == ("probe.test", "www.probe.test", "127.0.0.1")
    assert info.issuer_cn == "natprobe test CA"
    assert info.not_after == "2031-01-02T03:04:05Z"
    assert describe_certificate(b"not a certificate") == probe_back.CertificateInfo(None, (), None, None)


def test_nonce_payload() -> None:
    assert nonce_payload("abcdef0123456789") == b"natprobe-nonce:abcdef0123456789"


@pytest.mark.parametrize(("budget", "attempts"), [(0, 1), (31, 1), (54, 1), (55, 2), (78, 3), (4096, 3)])
def test_jamulus_attempts_fit_the_budget(budget: int, attempts: int) -> None:
    assert jamulus_attempts(budget) == attempts


# =====================================================================================
# UDP
# =====================================================================================


async def test_udp_nonce_sends_count_datagrams_from_the_probe_socket(udp_sink: Callable[..., UdpSink]) -> None:
    sink = udp_sink()
    sock = await UdpProbeSocket.open(LOCALHOST)
    try:
        payload = nonce_payload(NONCE)
        outcome = await probe_back.probe_udp_nonce(sock, target(sink.port), payload, count=3, byte_budget=4096, spacing=0)
        assert outcome.result == UdpNonceResult(sent=3)
        assert outcome.source == sock.local
        got = await sink.receive(3)
        assert [data for data, _ in got] == [payload] * 3
        assert {addr for _, addr in got} == {("127.0.0.1", sock.local.port)}
    finally:
        sock.close()


async def test_udp_nonce_never_sends_more_bytes_than_the_budget(udp_sink: Callable[..., UdpSink]) -> None:
    sink = udp_sink()
    sock = await UdpProbeSocket.open(LOCALHOST)
    try:
        payload = nonce_payload(NONCE)  # 47 bytes
        outcome = await probe_back.probe_udp_nonce(sock, target(sink.port), payload, count=5, byte_budget=100, spacing=0)
        assert outcome.result == UdpNonceResult(sent=2)
        assert len(await sink.receive(2)) == 2
        # A marker from the same socket is the next thing to arrive: nothing else was sent.
        sock.send(b"marker", target(sink.port))
        assert (await sink.receive(1))[0][0] == b"marker"
    finally:
        sock.close()


async def test_jamulus_probe_stays_within_budget_and_sends_only_clm_frames(udp_sink: Callable[..., UdpSink]) -> None:
    """A silent port (no responder): every round goes out, but never past the byte budget."""

    async def run(budget: int) -> tuple[JamulusResult, list[bytes], int]:
        sink = udp_sink()
        outcome = await probe_back.probe_jamulus(target(sink.port), source_ip=LOCALHOST, timeout=0.5, byte_budget=budget)
        assert isinstance(outcome.result, JamulusResult)
        return outcome.result, sink.pending(), outcome.source.port

    results = await asyncio.gather(run(40), run(60), run(4096))
    for (result, datagrams, _), budget, rounds in zip(results, (40, 60, 4096), (1, 2, 3)):
        assert result == JamulusResult(False, None, None, None, None)
        assert sum(map(len, datagrams)) <= budget
        assert all(is_protocol_frame(d) for d in datagrams)
        kinds = [type(decode(d)) for d in datagrams]
        assert kinds == [PingMsWithNumClients, ReqVersionAndOs] * rounds


async def test_budgeted_jamulus_socket_refuses_past_the_budget(udp_sink: Callable[..., UdpSink]) -> None:
    sink = udp_sink()
    jsock = await probe_back._BudgetedJamulusSocket.open(("127.0.0.1", 0))
    assert isinstance(jsock, probe_back._BudgetedJamulusSocket)
    jsock.budget = 20
    async with jsock:
        peer = (LOCALHOST, sink.port)
        jsock.send(PingMsWithNumClients(1, 0), peer)  # 14 bytes: fits
        jsock.send(ReqVersionAndOs(), peer)  # 9 more: would be 23 > 20, dropped
        assert jsock.sent_bytes == 14
        jsock.budget = 100
        jsock.send(ReqVersionAndOs(), peer)
    got = [data for data, _ in await sink.receive(2)]
    assert [type(decode(d)) for d in got] == [PingMsWithNumClients, ReqVersionAndOs]


# =====================================================================================
# TCP
# =====================================================================================


async def test_tcp_nonce_is_written_and_the_connection_closed() -> None:
    async with tcp_server(read_all) as server:
        payload = nonce_payload(NONCE)
        outcome = await probe_back.probe_tcp(target(server.port), source_ip=LOCALHOST, timeout=2.0, payload=payload)
        await server.next_connection()
    assert isinstance(outcome.result, ConnectResult)
    assert outcome.result.connected and outcome.result.error is None
    assert outcome.result.connect_ms is not None and outcome.result.connect_ms >= 0
    assert server.received == [payload]
    assert server.peers == [("127.0.0.1", outcome.source.port)]


async def test_tcp_connect_to_a_closed_port_is_refused(closed_tcp_port: Callable[[], int]) -> None:
    outcome = await probe_back.probe_tcp(target(closed_tcp_port()), source_ip=LOCALHOST, timeout=2.0)
    assert outcome.result == ConnectResult(False, ProbeError.REFUSED, None)
    assert outcome.source.ip == LOCALHOST and outcome.source.port > 0


async def test_probe_source_that_is_not_local_raises_network_error() -> None:
    from natprobe.errors import NetworkError

    with pytest.raises(NetworkError):
        await probe_back.probe_tcp(target(9), source_ip=ipaddress.IPv4Address("192.0.2.1"), timeout=0.5)
    with pytest.raises(NetworkError):
        await UdpProbeSocket.open(ipaddress.IPv4Address("192.0.2.1"))


async def test_http_probe_reports_status_server_and_location_and_sends_host() -> None:
    response = b"HTTP/1.1 302 Found\r\nServer: test-httpd/1.0\r\nLocation: /login\r\nContent-Length: 0\r\n\r\n"
    async with tcp_server(http_responder(response)) as server:
        outcome = await probe_back.probe_http(target(server.port), source_ip=LOCALHOST, timeout=2.0, host="cloud.test")
        await server.next_connection()
    assert outcome.result == HttpResult(True, None, 302, "test-httpd/1.0", "/login")
    request = server.received[0].decode("ascii")
    assert request.startswith("GET / HTTP/1.1\r\n")
    assert f"\r\nHost: cloud.test:{server.port}\r\n" in request  # RFC 9110 7.2: non-default port included
    assert "\r\nConnection: close\r\n" in request


async def test_http_probe_without_host_uses_the_target_ip() -> None:
    async with tcp_server(http_responder(b"HTTP/1.1 200 OK\r\n\r\n")) as server:
        outcome = await probe_back.probe_http(target(server.port), source_ip=LOCALHOST, timeout=2.0)
        await server.next_connection()
    assert outcome.result == HttpResult(True, None, 200, None, None)
    assert f"\r\nHost: 127.0.0.1:{server.port}\r\n".encode() in server.received[0]


async def test_http_probe_reads_at_most_16_kib_of_headers() -> None:
    huge = b"HTTP/1.1 200 OK\r\nServer: big\r\n" + b"X-Filler: " + b"y" * 40_000 + b"\r\n\r\n"
    async with tcp_server(http_responder(huge)) as server:
        outcome = await probe_back.probe_http(target(server.port), source_ip=LOCALHOST, timeout=2.0)
    assert outcome.result == HttpResult(True, None, 200, "big", None)


async def test_http_probe_failures_are_results(closed_tcp_port: Callable[[], int]) -> None:
    """Not HTTP, closed at once, silent, refused: each is a result with its own error."""
    async with (
        tcp_server(http_responder(b"220 smtp.test ESMTP\r\n\r\n")) as not_http,
        tcp_server(http_responder(b"")) as closes,  # reads the request, answers nothing
        tcp_server(silent) as quiet,
    ):
        results = await asyncio.gather(
            probe_back.probe_http(target(not_http.port), source_ip=LOCALHOST, timeout=2.0),
            probe_back.probe_http(target(closes.port), source_ip=LOCALHOST, timeout=2.0),
            probe_back.probe_http(target(quiet.port), source_ip=LOCALHOST, timeout=0.5),
            probe_back.probe_http(target(closed_tcp_port()), source_ip=LOCALHOST, timeout=2.0),
        )
    assert [o.result for o in results] == [
        HttpResult(True, ProbeError.PROTOCOL, None, None, None),
        HttpResult(True, ProbeError.CLOSED, None, None, None),
        HttpResult(True, ProbeError.TIMEOUT, None, None, None),
        HttpResult(False, ProbeError.REFUSED, None, None, None),
    ]


async def test_https_self_signed_is_read_but_not_verified(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    tls = server_tls(pki.self_signed_cert, pki.self_signed_key)
    response = b"HTTP/1.1 200 OK\r\nServer: tls-test\r\n\r\n"
    async with tcp_server(http_responder(response), tls=tls) as server:
        outcome = await probe_back.probe_http(
            target(server.port), source_ip=LOCALHOST, timeout=2.0, host="probe.test", https=True
        )
    result = outcome.result
    assert isinstance(result, HttpsResult)
    assert (result.connected, result.error, result.status, result.server_header) == (True, None, 200, "tls-test")
    assert result.tls is not None
    assert result.tls.version in ("TLSv1.2", "TLSv1.3")
    assert (result.tls.subject_cn, result.tls.san, result.tls.issuer_cn) == ("probe.test", ("probe.test",), "probe.test")
    assert result.tls.not_after == "2031-01-02T03:04:05Z"
    assert result.tls.verified is False
    assert result.tls.verify_error is not None and "self-signed" in result.tls.verify_error
    assert "tls" in to_json_object(result)
    # verify first, then read: two handshakes, the GET on the second
    assert len(server.received) == 1 and server.received[0].startswith(b"GET / HTTP/1.1\r\nHost: probe.test:")


async def test_https_verification_against_a_trust_store(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    trust = ssl.create_default_context(cafile=str(pki.ca_cert))
    tls = server_tls(pki.leaf_cert, pki.leaf_key)
    async with tcp_server(http_responder(b"HTTP/1.1 204 No Content\r\n\r\n"), tls=tls) as server:
        good, wrong_name, by_ip = await asyncio.gather(
            probe_back.probe_http(
                target(server.port), source_ip=LOCALHOST, timeout=2.0, host="probe.test", verify_context=trust, https=True
            ),
            probe_back.probe_http(
                target(server.port), source_ip=LOCALHOST, timeout=2.0, host="other.test", verify_context=trust, https=True
            ),
            probe_back.probe_http(target(server.port), source_ip=LOCALHOST, timeout=2.0, verify_context=trust, https=True),
        )
    for outcome in (good, wrong_name, by_ip):
        assert isinstance(outcome.result, HttpsResult) and outcome.result.status == 204
        assert outcome.result.tls is not None and outcome.result.tls.subject_cn == "probe.test"
    assert good.result.tls is not None and good.result.tls.verified and good.result.tls.verify_error is None  # type: ignore[union-attr]
    wrong = wrong_name.result.tls  # type: ignore[union-attr]
    assert wrong is not None and not wrong.verified and "other.test" in (wrong.verify_error or "")
    assert by_ip.result.tls is not None and by_ip.result.tls.verified  # type: ignore[union-attr]  # IP SAN 127.0.0.1


async def plain_http_400(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: Scripted) -> None:
    """What nginx does on its plain-HTTP port when a TLS ClientHello arrives."""
    state.received.append(await reader.read(4096))
    writer.write(b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n")
    await writer.drain()


async def test_https_against_plain_http_reports_a_tls_error() -> None:
    async with tcp_server(plain_http_400) as server:
        outcome = await probe_back.probe_http(target(server.port), source_ip=LOCALHOST, timeout=2.0, https=True)
    result = outcome.result
    assert isinstance(result, HttpsResult)
    assert result.connected and result.status is None
    assert result.error == ProbeError.TLS
    assert result.tls is not None and not result.tls.verified
    assert result.tls.verify_error is not None and "wrong version number" in result.tls.verify_error


async def test_https_to_a_closed_port(closed_tcp_port: Callable[[], int]) -> None:
    outcome = await probe_back.probe_http(target(closed_tcp_port()), source_ip=LOCALHOST, timeout=2.0, https=True)
    assert outcome.result == HttpsResult(False, ProbeError.REFUSED, None, None, None, None)
    assert to_json_object(outcome.result)["tls"] is None


async def test_ssh_banner_and_failures() -> None:
    async with (
        tcp_server(sender(b"SSH-2.0-Test\r\n")) as ssh,
        tcp_server(sender(b"Please wait\r\nSSH-2.0-Later\r\n")) as preamble,
        tcp_server(sender(b"HTTP/1.1 400 Bad Request\r\n" + b"x" * 2000)) as not_ssh,
        tcp_server(silent) as quiet,
    ):
        results = await asyncio.gather(
            probe_back.probe_ssh(target(ssh.port), source_ip=LOCALHOST, timeout=2.0),
            probe_back.probe_ssh(target(preamble.port), source_ip=LOCALHOST, timeout=2.0),
            probe_back.probe_ssh(target(not_ssh.port), source_ip=LOCALHOST, timeout=2.0),
            probe_back.probe_ssh(target(quiet.port), source_ip=LOCALHOST, timeout=0.5),
        )
    assert [o.result for o in results] == [
        SshResult(True, None, "SSH-2.0-Test"),
        SshResult(True, None, "SSH-2.0-Later"),
        SshResult(True, ProbeError.PROTOCOL, None),
        SshResult(True, ProbeError.TIMEOUT, None),
    ]
