"""Jamulus public mode versus private mode on a real kernel NAT, with real Jamulus 3.9.1.

Per NAT configuration, one lab:

1. natprobe measures (``measure_jamulus_modes``) from the client namespace, with UDP 22124
   free, against the lab's echo server (``--http-port`` + ``--jamulus-port``).
2. Then the real thing: a real Jamulus directory (``Jamulus -s -n -e localhost``) on the
   server namespace's directory address (a documentation-range address: Jamulus never
   hole-punches 10/8, 127/8, 172.16/12 or 192.168/16), a real Jamulus server behind the NAT,
   registered (public mode) and then unregistered (private mode), and a remote client in the
   peer namespace (one address only: facts/linux-nat-lab.md, "Pitfalls") that asks the
   directory for the list and pings each server from the same socket, as the Jamulus connect
   dialog does (``natprobe.measure.jamulus_query.list_servers``), or pings the server's public
   address directly (private mode).

natprobe's verdicts must match what real Jamulus did on the same network.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from natprobe.reports.jamulus_report import JamulusModesReport
from natprobe.verdicts.jamulus_verdicts import ModeStatus
from natprobe.findings.jamulus_findings import explain_jamulus
from natprobe.measure.jamulus_modes import JamulusModesOptions, measure_jamulus_modes
from tests.json_reports import assert_valid_report
from tests.lab.client_catalogue import LINUX_ONLY, judge_verdict
from natprobe.adapters.capabilities import probe_capabilities
from natprobe.observations import CapabilitySet
from natprobe.lab import Behavior, Lab, LabConfig, PortForward
from natprobe.lab.netns import stop_process
from natprobe.lab.services import EchoServerProcess, start_echo_server
from natprobe.reports.jamulus_report import JamulusServerEntry
from natprobe.measure.jamulus_query import list_servers, ping

pytestmark = [pytest.mark.lab, pytest.mark.interop]

JAMULUS_PORT = 22124
DIRECTORY_PORT = 22224
HTTP_PORT = 8080
SERVER_NAME = "Srv"
REGISTRATION_TIMEOUT_S = 15.0
JAMULUS = shutil.which("Jamulus")


@pytest.fixture(autouse=True)
def _jamulus_installed() -> None:
    if JAMULUS is not None:
        return
    message = "the Jamulus binary (Debian package 'jamulus', /usr/bin/Jamulus) is not installed"
    if os.environ.get("CI") or os.environ.get("NATPROBE_REQUIRE_LAB") == "1":
        pytest.fail(message)
    pytest.skip(message)


# --- real Jamulus ------------------------------------------------------------------------------


@dataclass
class RealOutcome:
    """What real Jamulus did on one lab network."""

    public_entry: JamulusServerEntry
    """The registered server as a remote client's list showed it, pinged from the listing socket."""
    private_rtt_ms: float | None
    """A remote client's direct ping of the unregistered server at public_ip:22124."""

    @property
    def public_reachable(self) -> bool:
        return self.public_entry.rtt_ms is not None

    @property
    def private_reachable(self) -> bool:
        return self.private_rtt_ms is not None


def _log(tmp_path: Path, name: str) -> IO[bytes]:
    return (tmp_path / f"{name}.log").open("wb")


def _start_directory(lab: Lab, tmp_path: Path) -> subprocess.Popen[Any]:
    assert JAMULUS is not None
    # "-e localhost" makes it a directory. No --serverpublicip: neither the client (192.0.2.2)
    # nor the registering server (seen as the NAT's public address) is on a private network.
    return lab.server.spawn(
        [JAMULUS, "-s", "-n", "-p", str(DIRECTORY_PORT), "--serverbindip", str(lab.server.directory_ip),
         "-e", "localhost", "-o", "Dir;Town;82"],
        stdout=_log(tmp_path, "directory"), stderr=subprocess.STDOUT,
    )


def _start_server(lab: Lab, tmp_path: Path, *, public: bool) -> subprocess.Popen[Any]:
    assert JAMULUS is not None
    argv = [JAMULUS, "-s", "-n", "-p", str(JAMULUS_PORT), "--serverbindip", str(lab.client.ip),
            "-o", f"{SERVER_NAME};Town;82"]
    if public:
        argv += ["-e", f"{lab.server.directory_ip}:{DIRECTORY_PORT}"]
    return lab.client.spawn(argv, stdout=_log(tmp_path, "server-public" if public else "server-private"),
                            stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[Any]) -> None:
    """Stop one Jamulus we started, by its PID (it unregisters on SIGTERM)."""
    stop_process(proc, 5.0)


def _listed_by_directory(lab: Lab) -> JamulusServerEntry:
    """Ask the real directory for its list from the peer, as a Jamulus client does, until the
    server appears (bounded); the entry carries the ping made from the listing socket."""
    directory = lab.server.directory_ip
    deadline = time.monotonic() + REGISTRATION_TIMEOUT_S
    seen: list[str] = []
    while time.monotonic() < deadline:
        with lab.peer.entered():
            listing = asyncio.run(list_servers(directory, DIRECTORY_PORT, timeout=2.0, ping_timeout=2.0))
        for entry in listing.servers:
            if entry.name == SERVER_NAME:
                return entry
        seen.append(f"answered={listing.answered} names={[e.name for e in listing.servers]}")
    raise AssertionError(f"the directory never listed {SERVER_NAME!r} within {REGISTRATION_TIMEOUT_S:g} s: {seen[-3:]}")


def _real_jamulus(lab: Lab, tmp_path: Path) -> RealOutcome:
    lab.flush_nat_state()  # forget whatever natprobe's measurement left in the NAT
    _start_directory(lab, tmp_path)
    server = _start_server(lab, tmp_path, public=True)
    entry = _listed_by_directory(lab)
    _stop(server)
    lab.flush_nat_state()
    private = _start_server(lab, tmp_path, public=False)
    try:
        with lab.peer.entered():
            # Up to 3 pings over 3 s: the server is up within that, and nothing else can let them in.
            result = asyncio.run(ping(lab.public_ip, JAMULUS_PORT, timeout=3.0, attempts=3, probe_directory=False))
    finally:
        _stop(private)
    return RealOutcome(entry, result.rtt_ms)


# --- natprobe --------------------------------------------------------------------------------


def _echo_server(lab: Lab) -> EchoServerProcess:
    return start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=HTTP_PORT,
                             extra=("--jamulus-port", str(DIRECTORY_PORT)))


def _natprobe(lab: Lab, echo: EchoServerProcess, lifetime_max_s: float | None = None,
             capabilities: CapabilitySet | None = None) -> JamulusModesReport:
    with lab.client.entered():
        return asyncio.run(measure_jamulus_modes(echo.http_url, JamulusModesOptions(
            port=JAMULUS_PORT, lifetime_max_s=lifetime_max_s, capabilities=capabilities)))


@dataclass(frozen=True)
class Case:
    config: LabConfig
    public_reachable: bool
    private_reachable: bool
    port_preserved: bool
    public_status: ModeStatus
    private_status: ModeStatus


CASES = {
    "port-restricted-cone": Case(LabConfig(behavior=Behavior.PORT_RESTRICTED_CONE), True, False, True,
                                 ModeStatus.WORKS, ModeStatus.NEEDS_PORT_FORWARD),
    "symmetric": Case(LabConfig(behavior=Behavior.SYMMETRIC), False, False, False,
                      ModeStatus.SYMMETRIC_NAT, ModeStatus.NEEDS_PORT_FORWARD),
    "port-restricted-cone-forwarded": Case(
        LabConfig(behavior=Behavior.PORT_RESTRICTED_CONE, forwards=(PortForward("udp", JAMULUS_PORT),)),
        True, True, True, ModeStatus.WORKS, ModeStatus.WORKS),
    "cgnat": Case(LabConfig(behavior=Behavior.PORT_RESTRICTED_CONE, cgnat=True), True, False, True,
                  ModeStatus.WORKS, ModeStatus.CGNAT),
}


@pytest.fixture
def outcomes() -> Iterator[list[str]]:
    lines: list[str] = []
    yield lines
    print("\n" + "\n".join(lines))


@pytest.mark.parametrize("name", list(CASES))
def test_natprobe_verdicts_match_real_jamulus(name: str, tmp_path: Path, outcomes: list[str]) -> None:
    case = CASES[name]
    with Lab(case.config) as lab:
        echo = _echo_server(lab)
        report = _natprobe(lab, echo)
        lab.flush_nat_state()  # each run starts from a NAT that has seen nothing
        limited = _natprobe(lab, echo, capabilities=probe_capabilities().without(*LINUX_ONLY))
        real = _real_jamulus(lab, tmp_path)
    entry = real.public_entry
    outcomes.append(
        f"[{name}] real Jamulus: public listed at {entry.ip}:{entry.port} rtt={entry.rtt_ms} "
        f"punched={entry.hole_punched}; private direct ping rtt={real.private_rtt_ms}"
    )
    outcomes.append(
        f"[{name}] natprobe: private={report.private_mode.status} public={report.public_mode.status} "
        f"published={report.published_address} preserved={report.port_preserved} "
        f"stranger_admitted={report.unsolicited_from_new_peer_admitted} punch_port={report.punch_sent_from_port} "
        f"punched_ping={report.punched_ping_answered} ({report.duration_s:.1f} s)"
    )

    outcomes.append(
        f"[{name}] natprobe, Linux-only facilities off: private={limited.private_mode.status} "
        f"public={limited.public_mode.status} limits={[e.facility.value for e in limited.limits]} "
        f"({limited.duration_s:.1f} s)"
    )

    # What real Jamulus did.
    assert entry.ip == lab.public_ip
    assert (entry.port == JAMULUS_PORT) is case.port_preserved, entry
    assert real.public_reachable is case.public_reachable, entry
    assert real.private_reachable is case.private_reachable, real.private_rtt_ms
    if case.public_reachable and not case.private_reachable:
        assert entry.hole_punched  # the directory's punch is what let the client in

    # natprobe's verdicts on the same network.
    assert report.port == report.measured_port == JAMULUS_PORT and not report.port_in_use
    assert report.registered is True and report.punches_sent >= 1
    assert report.public_mode.works is real.public_reachable, report.public_mode
    assert report.private_mode.works is real.private_reachable, report.private_mode
    assert (report.public_mode.status, report.private_mode.status) == (case.public_status, case.private_status)
    assert report.published_address is not None and report.published_address.ip == lab.public_ip
    assert report.port_preserved is (entry.port == JAMULUS_PORT)
    assert report.punch_sent_from_port is not None
    assert (report.punch_sent_from_port == report.published_address.port) is case.port_preserved
    # A stranger gets in only through the forward (private mode's condition).
    assert report.unsolicited_from_new_peer_admitted is real.private_reachable
    titles = [f.title for f in explain_jamulus(report)]
    assert ("Public mode works without a port forward" in titles) is case.public_reachable
    assert ("Private mode needs a port forward" in titles) is (case.private_status is ModeStatus.NEEDS_PORT_FORWARD)

    # Every Linux-only facility off (what a Mac or Windows host can do): each mode's verdict is the
    # full run's, or an honest undecided one whose reason names the missing facility, listed in limits.
    texts = [entry.text for entry in limited.limits]
    assert {entry.facility for entry in limited.limits} <= set(LINUX_ONLY), limited.limits
    for mode, full, seen in (("public", report.public_mode, limited.public_mode),
                             ("private", report.private_mode, limited.private_mode)):
        problem = judge_verdict(f"{mode} mode", seen.status.value, seen.works, seen.reason, full.status.value,
                                full.works, texts)
        assert problem is None, problem
    assert_valid_report(limited.to_dict())


def _wait_mappings_gone(lab: Lab, port: int, *, timeout: float) -> None:
    """Poll the router's conntrack table until no UDP entry from the client's ``port`` is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = lab.router.exec(["conntrack", "-L", "-p", "udp", "--orig-port-src", str(port)], check=False)
        if not [line for line in listed.stdout.splitlines() if line.startswith("udp")]:
            return
        time.sleep(0.5)  # polling the kernel's table: there is no event to wait for
    raise AssertionError(f"the router still tracks UDP {port} after {timeout:g} s")


@pytest.mark.slow
def test_short_mapping_lifetime_breaks_public_mode_between_keepalives(tmp_path: Path, outcomes: list[str]) -> None:
    """A NAT that forgets idle UDP mappings after 10 s: natprobe says public mode drops between
    Jamulus' 59 s keep-alives, and real Jamulus shows it (listed, then unreachable once idle)."""
    with Lab(LabConfig(behavior=Behavior.PORT_RESTRICTED_CONE, udp_timeout_s=10)) as lab:
        echo = _echo_server(lab)
        report = _natprobe(lab, echo, lifetime_max_s=20)
        lab.flush_nat_state()
        _start_directory(lab, tmp_path)
        server = _start_server(lab, tmp_path, public=True)
        fresh = _listed_by_directory(lab)
        # Wait until the router has forgotten the server's mappings (10 s idle), long before
        # the next 59 s keep-alive; from then on the directory's punches are dropped too.
        _wait_mappings_gone(lab, JAMULUS_PORT, timeout=20.0)
        with lab.peer.entered():
            idle = asyncio.run(list_servers(lab.server.directory_ip, DIRECTORY_PORT, timeout=2.0, ping_timeout=2.0))
        _stop(server)
    stale = next(e for e in idle.servers if e.name == SERVER_NAME)
    outcomes.append(f"[udp timeout 10 s] real Jamulus: fresh rtt={fresh.rtt_ms}, once the mapping expired rtt={stale.rtt_ms}")
    outcomes.append(f"[udp timeout 10 s] natprobe: lifetime={report.lifetime} public={report.public_mode.status}")
    assert fresh.rtt_ms is not None and stale.rtt_ms is None
    lifetime = report.lifetime
    assert lifetime is not None and lifetime.at_most_s is not None and lifetime.at_most_s <= 14
    assert report.keepalive_outlives_mapping is False
    assert report.public_mode.works is False and report.public_mode.status is ModeStatus.MAPPING_TOO_SHORT
    text = " ".join(f"{f.title} {f.detail}" for f in explain_jamulus(report))
    assert "expire before Jamulus' 59 s keep-alive" in text and "between two keep-alives" in text


def test_cli_explain_and_check_in_the_lab() -> None:
    """The real commands, in the client namespace: JSON of ``explain jamulus`` and the Jamulus
    findings of ``check --udp 22124``."""
    with Lab(LabConfig(behavior=Behavior.PORT_RESTRICTED_CONE)) as lab:
        echo = _echo_server(lab)
        explained = lab.client.exec(
            [sys.executable, "-m", "natprobe_cli", "explain", "jamulus", "--server", echo.http_url, "--json"],
            check=False, timeout=60,
        )
        checked = lab.client.exec(
            [sys.executable, "-m", "natprobe_cli", "check", "--udp", str(JAMULUS_PORT), "--server", echo.http_url],
            check=False, timeout=60,
        )
        human = lab.client.exec(
            [sys.executable, "-m", "natprobe_cli", "explain", "jamulus", "--server", echo.http_url, "--no-trace"],
            check=False, timeout=60,
        )
    assert explained.returncode == 0, explained.stderr
    data = assert_valid_report(json.loads(explained.stdout))
    assert data["schema"] == "natprobe/jamulus-modes" and data["schema_version"] == 4
    assert data["public_mode"]["works"] is True and data["private_mode"]["status"] == "needs-port-forward"
    assert data["published_address"] == {"ip": str(lab.public_ip), "port": JAMULUS_PORT}
    assert data["port_preserved"] is True and data["unsolicited_from_new_peer_admitted"] is False
    assert checked.returncode == 1, checked.stderr  # not reachable: no forward
    assert "Jamulus: private mode needs a port forward; public mode may not" in checked.stdout
    assert "natprobe explain jamulus" in checked.stdout
    assert human.returncode == 0, human.stderr
    assert "Why public mode needs no port forward" in human.stdout
    assert f"created the NAT mapping {lab.public_ip}:{JAMULUS_PORT}" in " ".join(human.stdout.split())
