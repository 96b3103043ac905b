"""``GET /metrics`` on a real server process: the counters move after real requests, and every
probe-back leaves one log line. Everything stays on loopback; the probe targets a port this
test holds closed."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from natprobe.addressing import TransportAddress
from natprobe.adapters.stun_tcp import tcp_transact
from natprobe.stun import binding_request, decode, encode

from tests.echo_server import REPO, UdpClient, echo_server_process

HTTP = re.compile(r" http=(\S+):(\d+)")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_counters_move_after_real_requests(tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    config.write_text('primary = "127.0.0.1"\nport = 0\nhttp_port = 0\njamulus_port = 0\nlog_level = "INFO"\n')
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    closed_port = closed.getsockname()[1]
    try:
        with echo_server_process("--config", str(config)) as process:
            line = process.ready()
            port = int(re.search(r"port=(\d+)", line).group(1))  # type: ignore[union-attr]
            echo_port = int(re.search(r"echo_udp=\S+:(\d+)", line).group(1))  # type: ignore[union-attr]
            http = HTTP.search(line)
            assert http, line
            base = f"http://127.0.0.1:{http.group(2)}"
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{base}/metrics") as response:
                    assert response.status == 200
                    assert response.headers["Content-Type"].startswith("text/plain; version=")
                    before = samples(await response.text())

                client = UdpClient()
                server = TransportAddress.parse("127.0.0.1", port)
                await client.send(encode(binding_request()), server)
                assert decode((await client.receive())[0]).reflexive_address == client.address
                await client.send(b"\x00junk-that-is-not-stun", server)
                await client.send(b"hello", TransportAddress.parse("127.0.0.1", echo_port))
                assert (await client.receive())[0] == b"hello"
                client.sock.close()
                await tcp_transact(binding_request(), server, timeout=2.0)

                probe = {"protocol": "tcp", "port": closed_port, "mode": "connect"}
                async with session.post(f"{base}/v1/probe", json=probe) as response:
                    assert response.status == 200, await response.text()
                async with session.get(f"{base}/no-such-route") as response:
                    assert response.status == 404
                # One scan of this loopback address (only the closed port: it is refused at once),
                # then one refused by the per-address interval.
                scan = {"extra": [{"port": closed_port, "protocol": "tcp"}]}
                async with session.post(f"{base}/v1/exposure", json=scan) as response:
                    assert response.status == 200, await response.text()
                async with session.post(f"{base}/v1/exposure", json=scan) as response:
                    assert response.status == 429, await response.text()
                async with session.get(f"{base}/metrics") as response:
                    after = samples(await response.text())
            _, _, stderr = process.finish(terminate=True)
    finally:
        closed.close()

    def moved(name: str, by: float, **labels: str) -> None:
        assert value(after, name, **labels) - value(before, name, **labels) == by, (name, labels)

    moved("natprobe_requests_total", 2, service="stun_udp")  # the request and the junk
    moved("natprobe_replies_total", 1, service="stun_udp")
    moved("natprobe_dropped_total", 1, service="stun", reason="malformed")
    moved("natprobe_requests_total", 1, service="echo")
    moved("natprobe_requests_total", 1, service="stun_tcp")
    moved("natprobe_replies_total", 1, service="stun_tcp")
    moved("natprobe_probe_backs_total", 1, protocol="tcp", mode="connect", outcome="not_connected")
    moved("natprobe_http_requests_total", 1, route="/v1/probe", status="200")
    moved("natprobe_http_requests_total", 1, route="unmatched", status="404")
    moved("natprobe_exposure_scans_total", 1, outcome="scanned")
    moved("natprobe_exposure_scans_total", 1, outcome="rate_limited")
    moved("natprobe_exposure_scans_total", 0, outcome="busy")
    assert value(after, "natprobe_exposure_ports_scanned_total") > value(before, "natprobe_exposure_ports_scanned_total")
    assert value(after, "natprobe_rate_limiter_entries", limiter="stun") >= 1
    assert value(after, "natprobe_rate_limiter_entries", limiter="http_probe") == 1
    assert ("natprobe_probes_in_flight", ()) in after
    # One log line for the probe-back: who asked, what, the outcome.
    lines = [entry for entry in stderr.splitlines() if "probe-back for" in entry]
    assert len(lines) == 1, stderr
    assert f"probe-back for 127.0.0.1: tcp/connect to port {closed_port}" in lines[0]
    assert "not_connected" in lines[0]


def test_a_stun_only_server_never_imports_prometheus_or_aiohttp() -> None:
    code = (
        "import sys, argparse\n"
        "import natprobe_server.command, natprobe_server.deploy\n"
        "import natprobe_server.config.options as s\n"
        "p = argparse.ArgumentParser(); s.add_arguments(p)\n"
        "a = s.resolve_args(p.parse_args(['--primary', '127.0.0.1']), 'x')\n"
        "s.settings_from_args(a)\n"
        "print(sorted(m for m in ('prometheus_client', 'aiohttp') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": REPO})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_keepalives_the_budget_cannot_pay_are_counted() -> None:
    import ipaddress

    from natprobe.jamulus.directory_table import EMPTY_BYTES, PING_BYTES, RESP_BYTES, DirectoryTable

    from natprobe_server.config.jamulus import JamulusDirectoryConfig
    from natprobe.jamulus import PingMs, RegisterServerEx, encode as encode_jamulus

    from tests.server.jamulus.test_jamulus_directory import registration

    config = JamulusDirectoryConfig(ip=ipaddress.IPv4Address("127.0.0.1"), min_keepalive_s=5.0)
    table = DirectoryTable(config.table_limits, cookie=lambda: 7)
    message = registration(city="keepalive=10")
    assert isinstance(message, RegisterServerEx)
    size = len(encode_jamulus(message))
    source = TransportAddress.parse("127.0.0.1", 40000)
    table.register(source, message, size, now=0.0)
    assert table.due(0.0) == [(source, PingMs(7))]  # verification ping, echoed: paid back
    table.received(source, PingMs(7), PING_BYTES)
    affordable = (size - RESP_BYTES) // EMPTY_BYTES
    rounds = affordable + 3
    sent = sum(len(table.due(10.0 * (i + 1))) for i in range(rounds))
    assert (sent, table.budget_skipped) == (affordable, 3)


async def test_metrics_answer_only_the_listed_networks(tmp_path: Path) -> None:
    # Loopback is not listed here, so this (loopback) client is a stranger: no /metrics for it,
    # while the API itself answers as usual.
    config = tmp_path / "serve.toml"
    config.write_text('primary = "127.0.0.1"\nport = 0\nhttp_port = 0\njamulus_port = 0\n'
                      'metrics_allow = ["192.0.2.0/24"]\n')
    with echo_server_process("--config", str(config)) as process:
        line = process.ready()
        http = HTTP.search(line)
        assert http, line
        base = f"http://127.0.0.1:{http.group(2)}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/metrics") as response:
                assert response.status == 404
                assert "natprobe_" not in await response.text()
                assert response.headers["Server"] == "natprobe"
            async with session.get(f"{base}/v1/whoami") as response:
                assert response.status == 200


async def test_metrics_on_their_own_listen_address(tmp_path: Path) -> None:
    # node_exporter's way: /metrics alone on an address of the operator's choosing (127.0.0.2
    # here), open to whoever reaches it; the public API port keeps refusing strangers.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.2", 0))
        metrics_port = probe.getsockname()[1]
    config = tmp_path / "serve.toml"
    config.write_text('primary = "127.0.0.1"\nport = 0\nhttp_port = 0\njamulus_port = 0\n'
                      f'metrics_allow = ["192.0.2.0/24"]\nmetrics_listen = "127.0.0.2:{metrics_port}"\n')
    with echo_server_process("--config", str(config)) as process:
        line = process.ready()
        http = HTTP.search(line)
        assert http, line
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.2:{metrics_port}/metrics") as response:
                assert response.status == 200 and "natprobe_" in await response.text()
                assert response.headers["Server"] == "natprobe"
            async with session.get(f"http://127.0.0.2:{metrics_port}/v1/whoami") as response:
                assert response.status == 404  # nothing but /metrics there
            async with session.get(f"http://127.0.0.1:{http.group(2)}/metrics") as response:
                assert response.status == 404
