"""``natprobe watch`` on a real kernel NAT: one message per change, one per recovery, with its cause.

One lab for the module: a real Jamulus server (UDP 22124) on the LAN host behind a port
forward, the lab's DNS server giving ``music.example.test`` the router's public address,
natprobe's echo server in the "Internet" (its ``POST /v1/dns`` asks the lab's DNS server;
exposure scans allowed back to back), and a local HTTP receiver inside the client namespace
that Apprise's ``json://`` target posts each message to. The real ``natprobe watch --once``
runs in the client namespace, its set (the Jamulus port, the name, the exposure scan with
its expected port, the NAT type) read from the ``[watch]`` table of a config file.

The scenario, one watch run after each step:

0. everything fine: no message;
1. the forward is removed: one message naming UDP 22124 and natprobe's reason;
2. the forward is back: one recovery message;
3. the router gets a new public address, the DNS record still names the old one: one message
   naming the name as stale, caused by the address change;
4. the DNS record is updated: one recovery message;
5. a new service (an HTTP server, forwarded) starts answering: one message naming TCP 80;
6. everything is restored (service gone, old address, old record): one message.

Then ``natprobe history`` shows the sequence, ``--json`` validates against its schema, and the
node_exporter textfile carried each state. All traffic stays inside the namespaces made here.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from natprobe.lab import Lab, LabConfig, PortForward
from natprobe.lab.dns_server import PRIMARY_NS, LabDns
from natprobe.lab.netns import namespace_environment
from natprobe.lab.services import EchoServerProcess, start_echo_server
from tests.json_reports import assert_valid_report

pytestmark = [pytest.mark.lab, pytest.mark.interop]

JAMULUS = shutil.which("Jamulus")
NAME = "music.example.test"
HTTP_API_PORT = 8080
NEW_PUBLIC_IP = IPv4Address("203.0.113.77")
WATCH_TIMEOUT_S = 90.0
PORT_KEY = "port/udp/22124/ipv4"
NAME_KEY = f"name/{NAME}/ipv4"


class _Receiver(http.server.BaseHTTPRequestHandler):
    """What Apprise's json:// target posts: {"title", "message", "type", ...}."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
        body = self.rfile.read(length)
        self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Stack:
    lab: Lab
    dns: LabDns
    echo: EchoServerProcess
    home: Path
    receiver: http.server.ThreadingHTTPServer
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @property
    def textfile(self) -> Path:
        return self.home / "metrics" / "natprobe.prom"

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(namespace_environment(), XDG_CONFIG_HOME=str(self.home / "config"))
        return self.lab.client.exec([sys.executable, "-m", "natprobe_cli", *args], check=False, timeout=WATCH_TIMEOUT_S,
                                    env=env)

    def watch(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One ``natprobe watch --once --json`` run: its outcome and the messages it delivered."""
        before = len(self.receiver.received)  # type: ignore[attr-defined]
        done = self.cli("watch", "--once", "--json")
        assert done.returncode in (0, 1), (done.returncode, done.stdout, done.stderr)
        document = assert_valid_report(json.loads(done.stdout.strip().splitlines()[-1]))
        outcome = {**document["run"], "events": document["changes"], "message": document["message"],
                   "deliveries": document["deliveries"]}
        assert not outcome["errors"], outcome
        assert all(d["delivered"] for d in outcome["deliveries"]), outcome["deliveries"]
        new = list(self.receiver.received[before:])  # type: ignore[attr-defined]
        self.messages += new
        return outcome, new

    def metrics(self) -> str:
        return self.textfile.read_text()


def _value(outcome: dict[str, Any], key: str) -> str:
    return next(i["value"] for i in outcome["items"] if i["key"] == key)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if JAMULUS is None:
        pytest.fail("the Jamulus binary (Debian package 'jamulus') is not installed") if os.environ.get(
            "NATPROBE_REQUIRE_LAB") == "1" else pytest.skip("Jamulus is not installed")
    home = tmp_path_factory.mktemp("watch")
    with Lab(LabConfig(forwards=(PortForward("udp", 22124),))) as lab, LabDns(lab) as dns:
        dns.serve({NAME: [lab.public_ip]})
        dns.use(lab.client)
        echo = start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=HTTP_API_PORT,
                                 extra=("--resolver", str(PRIMARY_NS), "--exposure-interval", "0"))
        lab.client.spawn([JAMULUS, "-s", "-n", "-p", "22124", "--serverbindip", str(lab.client.ip),
                          "-o", "Srv;Town;82"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with lab.client.entered():  # the receiver's socket lives in the client namespace
            receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
        receiver.received = []  # type: ignore[attr-defined]
        thread = threading.Thread(target=receiver.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        thread.start()
        (home / "config" / "natprobe").mkdir(parents=True)
        (home / "config" / "natprobe" / "config.toml").write_text(
            f'[watch]\nserver = "{echo.http_url}"\nudp = ["22124:jamulus"]\nhost = "{NAME}"\n'
            f'expect = ["22124/udp"]\nnat = true\nrouter = false\nfamilies = ["ipv4"]\n'
            f'notify = ["json://127.0.0.1:{receiver.server_address[1]}/natprobe"]\n'
            f'state_dir = "{home / "state"}"\ntextfile = "{home / "metrics" / "natprobe.prom"}"\n')
        try:
            _wait_for_jamulus(lab)
            yield Stack(lab, dns, echo, home, receiver)
        finally:
            receiver.shutdown()
            receiver.server_close()
            thread.join(5)


def _wait_for_jamulus(lab: Lab) -> None:
    from natprobe.measure.jamulus_query import ping
    import asyncio

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # bounded: Jamulus binds within a second or two
        with lab.client.entered():
            if asyncio.run(ping(lab.client.ip, 22124, timeout=0.5)).rtt_ms is not None:
                return
    raise AssertionError("the Jamulus server never answered on the LAN")


def _one(messages: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(messages) == 1, [m.get("title") for m in messages]
    return messages[0]


def test_each_change_one_message_with_its_cause_then_the_history(stack: Stack) -> None:
    lab, old_ip = stack.lab, stack.lab.public_ip

    # 0. Everything fine: the baseline, and no message.
    outcome, sent = stack.watch()
    assert _value(outcome, PORT_KEY) == "reachable"
    assert _value(outcome, NAME_KEY) == "matches"
    assert _value(outcome, "public-address/ipv4") == str(old_ip)
    assert _value(outcome, "exposure/udp/22124/ipv4").startswith("open")
    assert _value(outcome, "nat-type") == "port-restricted-cone"  # RFC 5780 against the echo server's STUN
    assert sent == [] and outcome["events"] == []
    assert f'natprobe_watch_item_status{{key="{PORT_KEY}"' in stack.metrics()

    # 1. The router forgets the forward.
    lab.remove_forwards()
    outcome, sent = stack.watch()
    message = _one(sent)
    assert _value(outcome, PORT_KEY) == "not-forwarded-or-filtered"
    assert "UDP 22124" in message["title"] and message["type"] == "failure"
    assert "not-forwarded-or-filtered" in message["message"]
    assert "Likely cause:" in message["message"] and str(lab.client.ip) in message["message"]
    assert f'key="{PORT_KEY}",kind="port",subject="udp/22124",family="ipv4",value="not-forwarded-or-filtered"}} 0' \
        in stack.metrics()

    # 2. The forward is back: one recovery.
    lab.add_forward(PortForward("udp", 22124))
    outcome, sent = stack.watch()
    message = _one(sent)
    assert _value(outcome, PORT_KEY) == "reachable"
    assert message["type"] == "success" and "recovered" in message["title"]
    assert "reachable again" in message["message"]
    assert f'value="reachable"}} 1' in stack.metrics()

    # 3. A new public address; the dynamic-DNS record still names the old one.
    lab.set_public_ip(NEW_PUBLIC_IP)
    outcome, sent = stack.watch()
    message = _one(sent)
    assert _value(outcome, "public-address/ipv4") == str(NEW_PUBLIC_IP)
    assert _value(outcome, NAME_KEY) == "stale"
    assert _value(outcome, PORT_KEY) == "reachable"  # the forward follows the router's address
    assert NAME in message["title"] and "stale" in message["title"]
    assert f"after the public IPv4 address changed from {old_ip} to {NEW_PUBLIC_IP}" in message["message"]

    # 4. The record is updated: the name recovers.
    stack.dns.serve({NAME: [NEW_PUBLIC_IP]})
    outcome, sent = stack.watch()
    message = _one(sent)
    assert _value(outcome, NAME_KEY) == "matches" and message["type"] == "success"
    assert NAME in message["message"]

    # 5. A forgotten test service starts answering from the Internet.
    web = lab.client.spawn([sys.executable, "-m", "http.server", "--bind", str(lab.client.ip), "80"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lab.add_forward(PortForward("tcp", 80))
    _wait_tcp(lab, 80)
    outcome, sent = stack.watch()
    message = _one(sent)
    assert _value(outcome, "exposure/tcp/80/ipv4").startswith("open")
    assert "TCP 80" in message["title"] and message["type"] == "failure"
    assert "did you mean to expose it?" in message["message"]

    # 6. Everything restored: the service and its forward gone, the old address and record.
    web.terminate()
    web.wait(5)
    lab.remove_forwards()
    lab.add_forward(PortForward("udp", 22124))
    lab.set_public_ip(old_ip)
    stack.dns.serve({NAME: [old_ip]})
    outcome, sent = stack.watch()
    message = _one(sent)
    assert _value(outcome, "public-address/ipv4") == str(old_ip)
    assert _value(outcome, NAME_KEY) == "matches" and _value(outcome, PORT_KEY) == "reachable"
    assert "TCP 80" in message["message"] and f"from {NEW_PUBLIC_IP} to {old_ip}" in message["message"]
    assert len(stack.messages) == 6

    # The history shows the sequence, in JSON (valid against its schema) and as a timeline.
    done = stack.cli("history", "--json", "--state-dir", str(stack.state_dir))
    assert done.returncode == 0, done.stderr
    history = assert_valid_report(json.loads(done.stdout))
    assert len(history["runs"]) == 7
    first = history["runs"][0]["id"]
    by_run: dict[int, set[tuple[str, str]]] = {}
    for change in history["changes"]:
        by_run.setdefault(change["run"] - first, set()).add((change["key"], change["event"]))
    exposure_22124, exposure_80 = "exposure/udp/22124/ipv4", "exposure/tcp/80/ipv4"
    assert by_run == {
        # the name's family no longer reaches the site, and the scan sees the port filtered
        1: {(PORT_KEY, "problem"), (NAME_KEY, "problem"), (exposure_22124, "problem")},
        2: {(PORT_KEY, "recovered"), (NAME_KEY, "recovered"), (exposure_22124, "recovered")},
        3: {("public-address/ipv4", "changed"), (NAME_KEY, "problem")},
        4: {(NAME_KEY, "recovered")},
        5: {(exposure_80, "problem")},
        6: {("public-address/ipv4", "changed"), (exposure_80, "recovered")},
    }
    name_down = next(c for c in history["changes"] if c["key"] == NAME_KEY and c["run"] == first + 1)
    assert any("UDP 22124 (IPv4) became not-forwarded-or-filtered" in cause for cause in name_down["causes"])
    stale = next(c for c in history["changes"] if c["key"] == NAME_KEY and c["value"] == "stale")
    assert any(str(NEW_PUBLIC_IP) in cause for cause in stale["causes"])
    assert all(d["delivered"] for d in history["deliveries"]) and len(history["deliveries"]) == 6
    assert [r["public_ips"]["ipv4"] for r in history["runs"]] == [str(old_ip)] * 3 + [str(NEW_PUBLIC_IP)] * 3 + [
        str(old_ip)]
    timeline = stack.cli("history", "--state-dir", str(stack.state_dir))
    assert timeline.returncode == 0 and "\x1b[" not in timeline.stdout  # plain in a pipe
    row = next(line for line in timeline.stdout.splitlines() if line.startswith("UDP 22124 (IPv4)"))
    assert row.rstrip().endswith("+x+++++") or row.rstrip().endswith("●✗●●●●●"), row
    svg = stack.cli("history", "--state-dir", str(stack.state_dir), "--svg", str(stack.home / "h.svg"))
    assert svg.returncode == 0 and (stack.home / "h.svg").read_text().startswith("<svg")


def _wait_tcp(lab: Lab, port: int) -> None:
    import socket

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # bounded
        with lab.client.entered():
            sock = socket.socket()
        try:
            sock.settimeout(0.5)
            sock.connect((str(lab.client.ip), port))
            return
        except OSError:
            time.sleep(0.05)
        finally:
            sock.close()
    raise AssertionError(f"nothing listens on TCP {port}")
