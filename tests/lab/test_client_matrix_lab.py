"""The client lab suite's verdicts (``tests/lab/client_catalogue.py``) on real kernel NATs,
with every facility, with each Linux-only facility switched off alone and all together (what
a Mac or a Windows machine has), and as an ordinary user: each verdict stays right or becomes
honest, naming what natprobe could not do (``client_catalogue.judge``).

Three labs, one module-scoped fixture each:

* a dual-stack home (an nftables NAT that hairpins and forwards, an IPv6 firewall with
  pinholes, the client preferring a temporary IPv6 address, two real ``wireguard-go``, a real
  nginx TLS site, the lab's dnsmasq naming the site and the echo server). ``natprobe check``
  runs as a process over all of its ports, both families, ``--hairpin`` and ``--host`` at once,
  once per capability set: the sets are injected with ``$NATPROBE_FACILITIES_OFF``; the
  ordinary user is created here (removed at the end) and runs the system's Python of the
  test's version with this checkout on ``PYTHONPATH``. ``nat``, ``dns``, ``exposure``,
  ``doctor`` and the other commands run as root, with every Linux-only facility off, and as
  the user;
* two NATs in a row, one lab each: a carrier-grade NAT, and an ISP box that NATs too (double
  NAT), checked through the library with an injected
  :class:`~natprobe.observations.CapabilitySet` (``probe_capabilities().without(...)``).

Every ``--json`` output is validated against its schema. Traffic stays inside the
namespaces made here.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import natprobe
from natprobe.adapters.capabilities import probe_capabilities
from natprobe.addressing import IpFamily
from natprobe.contract import TransportProtocol
from natprobe.findings.facility_words import limit_sentence
from natprobe.lab import Behavior, Lab, LabConfig, PortForward
from natprobe.lab.dns_server import LabDns
from natprobe.lab.ipv6_net import Ipv6Lab, enable_ipv6
from natprobe.lab.netns import namespace_environment
from natprobe.lab.services import start_echo_server
from natprobe.lab.wireguard import start_wireguard, wireguard_missing
from natprobe.measure.check import CheckOptions, check_ports
from natprobe.observations import Facility
from natprobe.verdicts.port_spec import PortSpec
from natprobe.verdicts.reachability import PortStatus
from tests.json_reports import assert_valid_report
from tests.lab.client_catalogue import CARRIER, DOUBLE, HOME, LINUX_ONLY, Seen, judge, seen_in_report
from tests.lab.nginx_tls import nginx_missing, start_nginx_tls

pytestmark = [pytest.mark.lab, pytest.mark.interop]

SITE = "moodle.example.test"
ECHO_NAME = "echo.example.test"
URL = f"http://{ECHO_NAME}:8080"
SYSTEM_PYTHON = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
CLI_TIMEOUT_S = 90.0

ALL_OFF = ",".join(f.value for f in LINUX_ONLY)
SETS: dict[str, str | None] = {"every-facility": None, **{f.value: f.value for f in LINUX_ONLY},
                               "all-linux-only-off": ALL_OFF, "ordinary-user": None}
"""Each run of the home lab: its name, and the facilities ``$NATPROBE_FACILITIES_OFF`` switches off."""


@dataclass
class User:
    name: str
    uid: int
    gid: int
    home: Path


@dataclass
class Home:
    lab: Lab
    v6: Ipv6Lab
    user: User
    runs: dict[str, tuple[subprocess.CompletedProcess[str], dict[str, Any]]] = field(default_factory=dict)


# --------------------------------------------------------------------------- the ordinary user


def _code_paths() -> tuple[Path, Path]:
    """The checkout and the virtual environment's packages the user's Python imports."""
    return Path(natprobe.__file__).resolve().parent.parent, Path(sysconfig.get_paths()["purelib"]).resolve()


def _let_others_traverse(paths: tuple[Path, ...]) -> list[tuple[Path, int]]:
    """Give "others" what the created user needs to import the code it runs, where it is
    missing (a checkout under /root or in a private temporary directory): search permission on
    every directory above ``paths``, and read permission on ``paths`` themselves (Python lists
    the directories it imports from). Returns what to restore."""
    changed: dict[Path, int] = {}
    for path in paths:
        for directory, bits in ((path, stat.S_IXOTH | stat.S_IROTH), *((d, stat.S_IXOTH) for d in path.parents)):
            mode = stat.S_IMODE(directory.stat().st_mode)
            if mode & bits != bits:
                changed.setdefault(directory, mode)  # the first mode seen is the original
                os.chmod(directory, mode | bits)
    return list(changed.items())


@pytest.fixture(scope="module")
def user() -> Iterator[User]:
    if not Path(SYSTEM_PYTHON).is_file():
        pytest.skip(f"{SYSTEM_PYTHON} is missing")
    name = "npuser" + secrets.token_hex(3)
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True, timeout=30)
    home = Path(tempfile.mkdtemp(prefix="natprobe-user-"))
    opened = _let_others_traverse(_code_paths())
    try:
        entry = pwd.getpwnam(name)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        yield User(name, entry.pw_uid, entry.pw_gid, home)
    finally:
        for directory, mode in opened:
            os.chmod(directory, mode)
        shutil.rmtree(home, ignore_errors=True)
        subprocess.run(["userdel", name], check=False, capture_output=True, timeout=30)


# --------------------------------------------------------------------------- the home lab


@pytest.fixture(scope="module")
def home(user: User, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    for reason in (wireguard_missing(), nginx_missing()):
        if reason:
            pytest.skip(reason)
    forwards = tuple(PortForward(s.protocol, s.port) for s in HOME if s.forward)
    with Lab(LabConfig(hairpin=True, forwards=forwards)) as lab, LabDns(lab) as dns:
        v6 = enable_ipv6(lab, client_global=True, temporary=True)
        for scenario in HOME:
            if scenario.pinhole:
                v6.add_pinhole(scenario.protocol, scenario.port)  # to the stable address, as a user opens it
            if scenario.built_by == "block":
                lab.block_on_client(scenario.protocol, scenario.port)  # both families (an inet table)
            elif scenario.built_by == "elsewhere":
                lab.add_forward(PortForward(scenario.protocol, scenario.port, to_ip=lab.lan_spare_ip))
            elif scenario.built_by == "wireguard":
                start_wireguard(lab.client, scenario.port)
            elif scenario.built_by == "nginx":
                start_nginx_tls(lab.client, lab.client.ip, scenario.port, SITE, tmp_path_factory.mktemp("nginx"))
        dns.serve({SITE: [lab.public_ip, v6.plan.client_ip], ECHO_NAME: [lab.server.primary_ip, v6.plan.primary_ip]})
        dns.use(lab.client)
        dns.use(lab.server)  # before the echo server starts: its outside view resolves through it
        start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=8080, extra=(
            "--primary", str(v6.plan.primary_ip), "--alternate", str(v6.plan.alternate_ip),
            "--exposure-interval", "0"))  # each run here scans once
        yield Home(lab, v6, user)


def _cli(home: Home, *args: str, off: str | None = None, as_user: bool = False) -> subprocess.CompletedProcess[str]:
    return _cli_in(home.lab, home.user, *args, off=off, as_user=as_user)


def _cli_in(lab: Lab, user: User, *args: str, off: str | None = None,
            as_user: bool = False) -> subprocess.CompletedProcess[str]:
    """``natprobe ARGS`` in ``lab``'s client namespace, as root or as the created ``user``."""
    env = namespace_environment()
    env.pop("NATPROBE_FACILITIES_OFF", None)
    if off is not None:
        env["NATPROBE_FACILITIES_OFF"] = off
    argv = [sys.executable, "-m", "natprobe_cli", *args]
    if as_user:
        checkout, packages = _code_paths()
        env.update({"HOME": str(user.home), "XDG_CONFIG_HOME": str(user.home), "PYTHONPATH": f"{checkout}:{packages}",
                    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        argv = ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", SYSTEM_PYTHON, *argv[1:]]
    done = lab.client.exec(argv, check=False, timeout=CLI_TIMEOUT_S, env=env, cwd=str(user.home) if as_user else None)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.stdout, done.stderr
    return assert_valid_report(json.loads(done.stdout))


def _check(home: Home, run: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """The home lab's one ``check`` of run ``run`` (made once, shared by the tests that read it)."""
    if run not in home.runs:
        udp = ",".join(s.argument for s in HOME if s.protocol == "udp" and not s.service)
        tcp = [a for s in HOME if s.protocol == "tcp" for a in ("--tcp", s.argument)]
        # Without the interfaces facility the router step finds no gateway, and asks nobody: it
        # runs there to show that (elsewhere the lab's silent router would only cost time).
        router = () if "interfaces" in (SETS[run] or "") else ("--no-router",)
        done = _cli(home, "check", "--udp", udp, *tcp, "--host", SITE, "--hairpin", "--server", URL,
                    "--timeout", "1", "--json", *router, off=SETS[run], as_user=run == "ordinary-user")
        home.runs[run] = (done, _json(done))
    return home.runs[run]


@pytest.mark.parametrize("run", list(SETS))
def test_every_home_verdict_is_right_or_honest(home: Home, run: str) -> None:
    done, data = _check(home, run)
    assert done.returncode == 1, done.stderr  # some ports are meant to be closed
    seen = seen_in_report(data)
    limits = [entry["text"] for entry in data["limits"]]
    expected = {(family, s.protocol, s.port): (s, truth) for s in HOME for family, truth in s.truth.items()}
    assert set(seen) == set(expected), sorted(set(seen) ^ set(expected))
    wrong = [f"{s.name} over {key[0]}: {problem}" for key, (s, truth) in expected.items()
             if (problem := judge(seen[key], truth, limits, unprivileged=run == "ordinary-user"))]
    assert not wrong, "\n".join(wrong)
    off = {Facility(name) for name in (SETS[run] or "").split(",") if name}
    by_key = {key: s.status for key, s in seen.items()}
    if run == "every-facility":
        assert by_key == {key: truth.value for key, (_s, truth) in expected.items()}
        assert data["limits"] == [] and data["topology"]["layers"] == "one-nat"
        assert data["hops"] and data["hops"][0]["ip"] == str(home.lab.router.lan_ip), data["hops"]
    assert {e["facility"] for e in data["limits"]} <= {f.value for f in off} | (
        {"arrival-watch", "bind-below-1024"} if run == "ordinary-user" else set())
    for entry in data["limits"]:
        assert entry["text"] and (entry["missing"] == "disabled") == (run != "ordinary-user"), entry
        if run != "ordinary-user":
            assert "NATPROBE_FACILITIES_OFF" in entry["text"], entry
    if Facility.HOP_TRACE in off:
        assert data["hops"] == [] and "hop-trace" in {e["facility"] for e in data["limits"]}
    if Facility.ARRIVAL_WATCH in off or run == "ordinary-user":
        for family in ("ipv4", "ipv6"):
            wireguard = seen[(family, "udp", 51820)]
            assert wireguard.status == "not-tested" and wireguard.reachable is None, wireguard
            assert "could not watch for it" in wireguard.reason
    if Facility.IPV6_TEMPORARY in off:
        # The kernel's choice, the temporary address, is what was tested: pinholes name the
        # stable one, so every IPv6 port ends not-tested or filtered, saying why.
        v6 = {f["family"]: f for f in data["families"]}["ipv6"]
        assert v6["local_ip"] == str(home.v6.temporary_address()), v6
        assert "cannot tell here whether it is this host's stable address" in v6["note"], v6  # no claim either way
        assert "ipv6-temporary" in {e["facility"] for e in data["limits"]}
    if Facility.INTERFACES in off:  # only the router step needed them, to find the gateway
        assert "interfaces" in {e["facility"] for e in data["limits"]}
        assert not any(f["code"].startswith("router-") for f in data["findings"]), data["findings"]
    if off == {Facility.INTERFACES}:  # no verdict leans on the interface listing: nothing changes
        assert by_key == {key: s.status for key, s in seen_in_report(_check(home, "every-facility")[1]).items()}
    # The name's records name this network's addresses. Without the IPv6 address flags the
    # address seen may be a temporary one: the AAAA record is then "not verified", saying why,
    # never "out of date".
    names = data["dns"]["verdicts"]
    assert names["ipv4"]["verdict"] == "matches", names
    if Facility.IPV6_TEMPORARY in off:  # seen from the temporary address; the record names the stable one
        assert names["ipv6"]["verdict"] == "unverified" and "temporary privacy address" in names["ipv6"]["reason"], names
    else:
        assert names["ipv6"]["verdict"] == "matches", names


@pytest.mark.parametrize("run", list(SETS))
def test_hairpin_is_right_or_honest(home: Home, run: str) -> None:
    _done, data = _check(home, run)
    verdicts = seen_in_report(data)
    for hairpin in data["hairpin"]:
        verdict = verdicts[("ipv4", hairpin["protocol"], hairpin["port"])]
        truth = next(s for s in HOME if s.protocol == hairpin["protocol"] and s.port == hairpin["port"]).truth["ipv4"]
        # The router hairpins: a port reachable from outside loops back; one that is not is not tested.
        if truth is PortStatus.REACHABLE and verdict.status == "reachable":
            assert hairpin["works"] is True, hairpin
        else:
            assert hairpin["works"] is not False, (hairpin, verdict)


def test_the_user_run_names_each_limit_and_the_command_that_lifts_it(home: Home) -> None:
    _done, data = _check(home, "ordinary-user")
    seen = seen_in_report(data)
    ports = {(p["family"], p["protocol"], p["port"]): p for p in data["ports"]}
    assert seen[("ipv4", "udp", 22124)].status == "reachable"  # natprobe listens above 1024 as anyone
    closed = seen[("ipv4", "udp", 22125)]
    assert closed.status == "not-forwarded-or-filtered" and "this host's own" in closed.reason
    assert "needs a privilege" in closed.reason
    wireguard = ports[("ipv4", "udp", 51820)]
    assert any(a.startswith("Run the check with the packet watch allowed: sudo natprobe") for a in wireguard["advice"])
    # Port 443 below 1024: natprobe may not bind it, but nginx holds it: the TLS probe decides.
    https = ports[("ipv4", "tcp", 443)]
    assert https["status"] == "reachable" and https["details"]["tls"]["subject_cn"] == SITE, https
    # Port 80 below 1024, held by nothing: nothing to speak to, and natprobe may not listen.
    for family in ("ipv4", "ipv6"):
        http = seen[(family, "tcp", 80)]
        assert http.status == "not-tested" and "ports below 1024" in http.reason
        assert "sudo natprobe check --tcp 80" in http.reason and "cap_net_bind_service" in http.reason
    (hairpin,) = [h for h in data["hairpin"] if h["port"] == 80]
    assert hairpin["works"] is None and "may not listen" in hairpin["reason"], hairpin
    assert [(e["facility"], e["missing"]) for e in data["limits"]] == [("arrival-watch", "permission"),
                                                                      ("bind-below-1024", "permission")]


# --------------------------------------------------------------------------- the other commands


@pytest.mark.parametrize("run", ["every-facility", "all-linux-only-off", "ordinary-user"])
def test_nat_dns_and_exposure_stay_right_and_name_their_limits(home: Home, run: str) -> None:
    """The same conclusions as root, with every Linux-only facility off (only the IPv6 address
    flags bear on them: each report names that limit) and as the user (who lacks nothing they
    lean on: no limit)."""
    off, as_user = SETS[run], run == "ordinary-user"
    blind = run == "all-linux-only-off"
    expected_limits = ["ipv6-temporary"] if blind else []
    nat = _json(_cli(home, "nat", "--server", str(home.lab.server.primary_ip), "--json", off=off, as_user=as_user))
    assert (nat["mapping"]["value"], nat["filtering"]["value"], nat["hairpinning"]["value"]) == (
        "endpoint-independent", "address-and-port-dependent", True), nat
    # Without the flags the kernel's choice (the temporary address) is named, and the limit says so.
    address = home.v6.temporary_address() if blind else home.v6.plan.client_ip
    assert nat["ipv6"] == {"global": True, "address": str(address)}, nat["ipv6"]
    assert [e["facility"] for e in nat["limits"]] == expected_limits, nat["limits"]
    dns = _json(_cli(home, "dns", SITE, "--server", URL, "--json", off=off, as_user=as_user))
    # Seen from the temporary address, with the record naming the stable one: not verified, not stale.
    assert {f: v["verdict"] for f, v in dns["verdicts"].items()} == {
        "ipv4": "matches", "ipv6": "unverified" if blind else "matches"}, dns["verdicts"]
    assert [e["facility"] for e in dns["limits"]] == expected_limits, dns["limits"]
    scanned = _json(_cli(home, "exposure", "--server", URL, "--json", off=off, as_user=as_user))
    # nginx is the one service exposed (port 80 is forwarded and pinholed, but nothing listens).
    assert {(p["family"], p["protocol"], p["port"]): p["state"] for p in scanned["ports"]} == {
        ("ipv4", "tcp", 443): "open"}, scanned["ports"]
    assert [e["facility"] for e in scanned["limits"]] == expected_limits, scanned["limits"]


# --------------------------------------------------------------------------- doctor and the variable


def test_the_user_is_really_unprivileged(home: Home) -> None:
    data = _json(_cli(home, "doctor", "--json", as_user=True))
    assert data["privileged"] is False
    facilities = {f["facility"]: f for f in data["facilities"]}
    watch = facilities["arrival-watch"]
    assert watch["available"] is False and watch["missing"] == "permission"
    assert "sudo natprobe" in watch["remedy"] and "setcap cap_net_raw+ep" in watch["remedy"]
    assert "--copies" in watch["remedy"]  # the system Python must not get the capability
    assert facilities["hop-trace"]["available"] is True  # IP_RECVERR needs no privilege
    low = facilities["bind-below-1024"]
    assert low["available"] is False and low["missing"] == "permission"
    assert "setcap cap_net_bind_service+ep" in low["remedy"]


def test_doctor_shows_what_the_variable_switched_off_and_refuses_an_unknown_name(home: Home) -> None:
    data = _json(_cli(home, "doctor", "--json", off="hop-trace, arrival-watch"))
    facilities = {f["facility"]: f for f in data["facilities"]}
    for name in ("hop-trace", "arrival-watch"):
        assert facilities[name]["available"] is False and facilities[name]["missing"] == "disabled"
        assert facilities[name]["detail"] == "switched off by NATPROBE_FACILITIES_OFF"
    assert facilities["ipv6-temporary"]["available"] is True
    bad = _cli(home, "check", "--udp", "22124", "--server", URL, "--no-router", off="hop-trace,arival-watch")
    assert bad.returncode == 2 and bad.stdout == "", bad
    assert bad.stderr.strip().count("\n") == 0 and "'arival-watch'" in bad.stderr and "arrival-watch" in bad.stderr


def test_without_the_interfaces_the_router_is_not_asked_and_the_report_says_why(home: Home) -> None:
    asked = _cli(home, "router", "--json", "--timeout", "0.5")
    assert asked.returncode == 1 and _json(asked)["gateway"] == str(home.lab.router.lan_ip)  # silent lab router
    done = _cli(home, "router", "--json", "--timeout", "0.5", off="interfaces")
    assert done.returncode == 3, done.stderr
    data = _json(done)
    assert data["gateway"] is None and data["protocols"] == []
    assert [f["code"] for f in data["findings"]] == ["router-gateway-unknown"]  # not "no default gateway"
    (limit,) = data["limits"]
    assert limit["facility"] == "interfaces" and "switched off by NATPROBE_FACILITIES_OFF" in limit["text"], limit


def test_check_as_a_user_in_text_says_what_is_limited(home: Home) -> None:
    done = _cli(home, "check", "--udp", "22125", "--ipv4", "--server", URL, "--no-router", "--lang", "fr",
                as_user=True)
    assert done.returncode == 1, done.stderr
    assert "limite : natprobe n'a pas pu guetter" in " ".join(done.stdout.split()), done.stdout


@pytest.mark.parametrize("command", [
    ("router", "--json"),
    ("schema", "check"),
    ("config", "show"),
    ("jamulus", "ping", "{server}:22124", "--timeout", "1", "--json"),
])
def test_the_other_commands_run_as_a_user(home: Home, command: tuple[str, ...]) -> None:
    args = [a.format(server=home.lab.server.primary_ip) for a in command]
    done = _cli(home, *args, as_user=True)
    assert done.returncode in (0, 1), (done.returncode, done.stdout[-500:], done.stderr[-500:])
    if "--json" in args:
        data = _json(done)
        # Nothing these measurements lean on needs a privilege: a user's report has no limit to name.
        assert data.get("limits", []) == [], data["limits"]


# --------------------------------------------------------------------------- two NATs in a row


OUTER = {
    "cgnat": (LabConfig(cgnat=True, forwards=tuple(PortForward(x.protocol, x.port) for x in CARRIER)), CARRIER,
              "100.64.0.1", ("endpoint-independent", "address-and-port-dependent")),
    "double-nat": (LabConfig(double_nat=True, carrier_behavior=Behavior.SYMMETRIC,
                             forwards=tuple(PortForward(x.protocol, x.port) for x in DOUBLE)),
                   DOUBLE, "192.168.1.1", ("address-and-port-dependent", "address-and-port-dependent")),
}
"""Each lab with a second NAT in front of the home router: its config, its scenarios, the outer
NAT's inside address (the trace's second hop), and the mapping and filtering ``natprobe nat``
must find (the ISP box of the double NAT is symmetric)."""


@pytest.fixture(scope="module", params=list(OUTER))
def outer(request: pytest.FixtureRequest) -> Iterator[tuple[str, Lab, str]]:
    config = OUTER[request.param][0]
    with Lab(config) as lab:
        echo = start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=8080)
        yield request.param, lab, echo.http_url


def test_two_nats_in_a_row_as_a_user(outer: tuple[str, Lab, str], user: User) -> None:
    """The check (its topology from the hop trace, which needs no privilege) and the NAT
    discovery, run by the user through the CLI: the same truth as root's (the library runs
    below, ``test_discovery_lab``)."""
    as_user = True
    layers, lab, url = outer
    _config, scenarios, _hop, behaviour = OUTER[layers]
    args = [a for s in scenarios for a in (f"--{s.protocol}", s.argument)]
    checked = _cli_in(lab, user, "check", *args, "--server", url, "--timeout", "1", "--json", "--no-router",
                      as_user=as_user)
    data = _json(checked)
    assert checked.returncode == 1 and data["topology"]["layers"] == layers, data["topology"]
    limits = [e["text"] for e in data["limits"]]
    seen = seen_in_report(data)
    for scenario in scenarios:
        problem = judge(seen[("ipv4", scenario.protocol, scenario.port)], scenario.truth["ipv4"], limits)
        assert problem is None, f"{scenario.name}: {problem}"
    nat = _json(_cli_in(lab, user, "nat", "--server", str(lab.server.primary_ip), "--no-hairpin", "--json",
                        as_user=as_user))
    assert (nat["mapping"]["value"], nat["filtering"]["value"]) == behaviour, nat


@pytest.mark.parametrize("off", [(), *((f,) for f in LINUX_ONLY), LINUX_ONLY],
                         ids=["every-facility", *(f.value for f in LINUX_ONLY), "all-linux-only-off"])
def test_two_nats_in_a_row_are_right_or_honest(outer: tuple[str, Lab, str], off: tuple[Facility, ...]) -> None:
    """Through the library, with an injected capability set: the port verdicts per catalogue, and
    the topology named from the hop trace, or (without it) a single NAT not claimed for sure."""
    layers, lab, url = outer
    _config, scenarios, second_hop, _behaviour = OUTER[layers]
    caps = probe_capabilities().without(*off)
    specs = [PortSpec(TransportProtocol(s.protocol), s.port) for s in scenarios]
    with lab.client.entered():
        report = asyncio.run(check_ports(url, specs, CheckOptions(capabilities=caps, families=(IpFamily.IPV4,),
                                                                   probe_timeout=1.0)))
    texts = [limit_sentence(caps[f]) for f in off]
    for verdict, scenario in zip(report.ports, scenarios, strict=True):
        seen = Seen("ipv4", verdict.protocol.value, verdict.port, verdict.status.value, verdict.reachable, verdict.reason)
        problem = judge(seen, scenario.truth["ipv4"], texts)
        assert problem is None, f"{scenario.name}: {problem}"
        assert verdict.reachable is False, verdict
        if Facility.HOP_TRACE not in off:
            assert verdict.status is scenario.truth["ipv4"], verdict
    assert {e.facility for e in report.limits} <= set(off)
    if Facility.HOP_TRACE in off:
        assert report.hops == () and Facility.HOP_TRACE in {e.facility for e in report.limits}
        assert report.topology.layers.value == layers or report.topology.confidence.value != "high", report.topology
    else:
        assert [str(h.address) for h in report.hops[:2]] == [str(lab.router.lan_ip), second_hop], report.hops
        assert report.topology.layers.value == layers, report.topology
