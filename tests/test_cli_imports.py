"""The client commands load only what they use: never the echo server, never aiohttp.

Each command runs for real in a fresh interpreter (the checks against a closed loopback port,
with the conftest's loopback gateway and STUN servers), and the interpreter lists what it
imported. ``benchmarks/startup.py`` measures the time the same imports take.

``check`` goes further: before its first packet (the TCP connection to the echo server) it
loads only what that connection needs; the answers' records, the decisions, their words, the
report and the router's modules load once the connection is under way.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

SERVER_PACKAGES = ("echo_server", "natprobe_server")
HEAVY = ("aiohttp", "async_upnp_client")
_DUMP = (
    "import json, sys\n"
    "from natprobe_cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "print('\\nNATPROBE-MODULES ' + json.dumps(sorted(sys.modules)))\n"
)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def imported_by(*argv: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", _DUMP, *argv], capture_output=True, text=True, timeout=60)
    line = next((l for l in done.stdout.splitlines() if l.startswith("NATPROBE-MODULES ")), None)
    assert line is not None, done.stderr
    return set(json.loads(line.split(" ", 1)[1]))


_AT_FIRST_PACKET = (
    "import json, socket, sys\n"
    "seen = []\n"
    "connect = socket.socket.connect\n"
    "def first(self, address):\n"
    "    if self.type == socket.SOCK_STREAM and not seen:\n"
    "        seen.append(sorted(sys.modules))\n"
    "    return connect(self, address)\n"
    "socket.socket.connect = first\n"
    "from natprobe_cli.main import main\n"
    "main(sys.argv[1:])\n"
    "print('\\nNATPROBE-MODULES ' + json.dumps(seen[0] if seen else None))\n"
)
LOADED_AFTER_THE_FIRST_PACKET = (
    "msgspec", "natprobe.contract.base", "natprobe.contract.probe_route", "natprobe.jamulus.messages",
    "natprobe.verdicts.reachability", "natprobe.verdicts.limits",
    "natprobe.findings", "natprobe.reports.check_report", "natprobe.reports.router_report",
    "natprobe.measure.portmapping", "natprobe.adapters.sniff", "natprobe.adapters.holder_lookup",
    "natprobe_cli.render_check", "dns", "aiohttp", "async_upnp_client", "natprobe_server",
)
"""What ``check`` needs only once its connection to the echo server is under way."""


def imported_at_first_connect(*argv: str) -> set[str]:
    """The modules loaded when the command opened its first TCP connection."""
    done = subprocess.run([sys.executable, "-c", _AT_FIRST_PACKET, *argv], capture_output=True, text=True, timeout=60)
    line = next((l for l in done.stdout.splitlines() if l.startswith("NATPROBE-MODULES ")), None)
    assert line is not None, done.stderr
    modules = json.loads(line.split(" ", 1)[1])
    assert modules is not None, f"no TCP connection was opened: {done.stderr}"
    return set(modules)


def _top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.mark.parametrize("args", [
    ("check", "--udp", "22124", "--server", "http://127.0.0.1:{port}", "--json"),
    ("check", "--udp", "22124", "--no-router", "--ipv4", "--server", "http://127.0.0.1:{port}"),
], ids=["check", "check-no-router"])
def test_check_runs_without_the_echo_server_or_aiohttp(args: tuple[str, ...]) -> None:
    port = _closed_port()
    modules = imported_by(*(a.format(port=port) for a in args))
    assert "natprobe.measure.check" in modules  # the check really ran
    assert not _top(modules) & {*SERVER_PACKAGES, *HEAVY}, sorted(_top(modules) & {*SERVER_PACKAGES, *HEAVY})


@pytest.mark.parametrize("args", [
    ("check", "--udp", "22124", "--ipv4", "--server", "http://127.0.0.1:{port}", "--json"),
    ("check", "--udp", "22124,22125", "--tcp", "443:https", "--no-router", "--server", "http://127.0.0.1:{port}"),
], ids=["check", "check-no-router"])
def test_check_loads_only_its_connection_before_the_first_packet(args: tuple[str, ...]) -> None:
    port = _closed_port()
    modules = imported_at_first_connect(*(a.format(port=port) for a in args))
    assert "natprobe.adapters.echo_client" in modules and "natprobe.verdicts.port_spec" in modules
    early = sorted(m for m in modules if m.startswith(LOADED_AFTER_THE_FIRST_PACKET))
    assert not early, early


def test_nat_loads_no_port_verdicts_before_its_first_packet() -> None:
    """``nat`` names the facilities its report leaned on with the check's words, which load the
    port verdicts and msgspec: only once its first requests are out (STUN over UDP, and over
    TCP beside it: the TCP connect is the moment recorded)."""
    modules = imported_at_first_connect("nat", "--server", f"127.0.0.1:{_closed_port()}", "--json")
    assert "natprobe.measure.discovery" in modules
    late = ("msgspec", "natprobe.verdicts.reachability", "natprobe.findings.facility_words", "natprobe.contract.base",
            "natprobe_server", "aiohttp")
    early = sorted(m for m in modules if m.startswith(late))
    assert not early, early


@pytest.mark.parametrize("command", ["check", "nat", "dns", "router", "explain", "jamulus", "exposure", "config"])
def test_client_commands_do_not_load_the_echo_server(command: str) -> None:
    modules = imported_by(command, "--help")
    assert f"natprobe_cli.commands.{command}" in modules
    assert not _top(modules) & set(SERVER_PACKAGES)


def test_serve_still_has_its_options() -> None:
    done = subprocess.run([sys.executable, "-m", "natprobe_cli", "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--http-port" in done.stdout, done.stderr


def test_version_and_help_list_every_command() -> None:
    version = subprocess.run([sys.executable, "-m", "natprobe_cli", "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.startswith("natprobe ") and version.returncode == 0
    modules = imported_by("--version")
    assert not {m for m in modules if m.startswith("natprobe_cli.commands.")}
    helped = subprocess.run([sys.executable, "-m", "natprobe_cli", "--help"], capture_output=True, text=True, timeout=60)
    for command in ("check", "nat", "serve", "exposure", "demo"):
        assert command in helped.stdout


def test_the_mapping_lease_default_is_the_routers() -> None:
    """``mapped_check`` states the default lease itself so it need not load the router's modules."""
    from natprobe.measure import mapped_check, portmapping

    assert mapped_check.DEFAULT_LEASE_S == portmapping.DEFAULT_LEASE_S
