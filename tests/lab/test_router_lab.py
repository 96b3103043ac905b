"""``natprobe router`` and ``natprobe check --map`` against a real miniupnpd on the lab router.

One lab per module (a port-restricted home NAT, the echo server on 198.51.100.10/.11 with its
HTTP API; it is also miniupnpd's STUN server), a fresh miniupnpd per test, started and ended
by PID in the router namespace. What miniupnpd installed is read from its nftables chain, so
"no mapping left behind" is checked on the router itself. A second lab puts the router behind
the carrier's NAT. All traffic stays inside the namespaces these tests create.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from natprobe.lab import Behavior, Lab, LabConfig
from natprobe.lab.miniupnpd import Miniupnpd, miniupnpd_missing
from natprobe.lab.netns import namespace_environment
from natprobe.lab.services import start_echo_server
from natprobe.measure.portmapping import mapped_ports, probe_router
from tests.json_reports import assert_valid_report

pytestmark = [pytest.mark.lab, pytest.mark.interop]

HTTP_API_PORT = 8080
PORT = 22124
SIGINT_PORT = 22131
"""The port the interrupted --map blocks on the client's firewall."""
CLI_TIMEOUT_S = 40.0


@pytest.fixture(autouse=True)
def _needs_miniupnpd() -> None:
    reason = miniupnpd_missing()
    if reason is not None:
        pytest.skip(reason)


def _lab(config: LabConfig) -> Iterator[tuple[Lab, str]]:
    with Lab(config) as lab:
        echo = start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=HTTP_API_PORT)
        yield lab, echo.http_url


@pytest.fixture(scope="module")
def home() -> Iterator[tuple[Lab, str]]:
    yield from _lab(LabConfig())


@pytest.fixture(autouse=True)
def _fresh_nat_state(request: pytest.FixtureRequest) -> None:
    # A flow of an earlier test (the echo server's probe through a mapping since removed)
    # would stay in conntrack and let the next probe in: every test starts from a clean NAT.
    if "home" in request.fixturenames:
        request.getfixturevalue("home")[0].flush_nat_state()


def _cli(lab: Lab, *args: str, lang: str = "en", state: Path | None = None) -> subprocess.CompletedProcess[str]:
    # The language is explicit: the English assertions must not depend on the tester's locale.
    # ``state``: the folder natprobe records kept mappings in ($XDG_STATE_HOME), for this test alone.
    env = {**namespace_environment(), **({"XDG_STATE_HOME": str(state)} if state is not None else {})}
    return lab.client.exec([sys.executable, "-m", "natprobe_cli", "--lang", lang, *args], check=False,
                           timeout=CLI_TIMEOUT_S, env=env)


def _router_json(lab: Lab, *args: str) -> tuple[int, dict[str, Any]]:
    done = _cli(lab, "router", "--json", *args)
    data = assert_valid_report(json.loads(done.stdout))
    assert data["schema"] == "natprobe/router"
    return done.returncode, data


def _protocols(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["protocol"]: p for p in data["protocols"]}


def _port_entry(done: subprocess.CompletedProcess[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The check report and its entry for PORT; with --map, the check-map document's fields
    (``router``, ``mappings``) are merged in beside the check's own."""
    data = assert_valid_report(json.loads(done.stdout))
    if data["schema"] == "natprobe/check-map":
        data = {**data["check"], "router": data["router"], "mappings": data["mappings"]}
    assert data["schema"] == "natprobe/check"
    return data, next(p for p in data["ports"] if p["port"] == PORT)


def test_router_sees_upnp_natpmp_and_pcp_and_the_external_address(home: tuple[Lab, str]) -> None:
    lab, _ = home
    with Miniupnpd(lab) as daemon:
        assert daemon.forwarding_enabled
        # A mapping made by another client (natpmpc) is listed, and marked as this host's.
        made = lab.client.exec(["natpmpc", "-g", str(lab.router.lan_ip), "-a", "40000", "40000", "udp", "120"],
                               check=False, timeout=20)
        assert made.returncode == 0, made.stdout + made.stderr
        code, data = _router_json(lab)
        human = _cli(lab, "router")
        french = _cli(lab, "router", lang="fr")
    assert code == 0 and human.returncode == 0 and french.returncode == 0
    assert "PCP      answers" in human.stdout and "<- this host" in human.stdout, human.stdout
    assert f"reports the external address {lab.public_ip}" in human.stdout, human.stdout
    assert "PCP      répond" in french.stdout and "<- cette machine" in french.stdout, french.stdout
    assert f"La box annonce l'adresse externe {lab.public_ip}" in french.stdout, french.stdout
    protocols = _protocols(data)
    assert protocols["pcp"]["answered"] and protocols["pcp"]["result"] is None
    assert protocols["nat-pmp"]["external_address"] == str(lab.public_ip)
    assert protocols["upnp"]["answered"] and "IGD:2" in protocols["upnp"]["detail"]
    assert protocols["upnp"]["external_address"] == str(lab.public_ip)
    assert data["gateway"] == str(lab.router.lan_ip) and data["external_meaning"] == "public"
    listed = [m for m in data["mappings"] if m["external_port"] == 40000]
    assert listed and listed[0]["points_here"] and listed[0]["internal_client"] == str(lab.client.ip)


def test_check_map_proves_the_mapping_from_outside_and_removes_it(home: tuple[Lab, str]) -> None:
    lab, url = home
    with Miniupnpd(lab) as daemon:
        plain = _cli(lab, "check", "--udp", str(PORT), "--no-trace", "--json", "--server", url)
        baseline, entry = _port_entry(plain)
        assert entry["reachable"] is False  # no forward: the baseline
        # A plain check asks the router too (read-only): its address is topology evidence.
        assert any(f"router reports its external address as {lab.public_ip}" in e
                   for e in baseline["topology"]["evidence"]), baseline["topology"]
        done = _cli(lab, "check", "--udp", str(PORT), "--map", "--no-trace", "--json", "--server", url)
        rules_after = daemon.dnat_rules()
    data, port = _port_entry(done)
    assert done.returncode == 0, done.stdout + done.stderr
    assert port["reachable"] is True and port["status"] == "reachable"
    assert "PCP mapping" in port["reason"]
    [mapping] = data["mappings"]
    assert mapping["via"] == "pcp" and mapping["created"] and mapping["removed"] is True
    assert 0 < mapping["lease_s"] <= 600
    assert rules_after == []


def test_keep_leaves_the_mapping_and_a_plain_check_then_finds_the_port_open(home: tuple[Lab, str]) -> None:
    lab, url = home
    with Miniupnpd(lab) as daemon:
        done = _cli(lab, "check", "--tcp", str(PORT), "--map", "--keep", "--lease", "120", "--no-trace",
                    "--server", url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "kept as asked" in done.stderr and "expires after" in done.stderr
        rules = daemon.dnat_rules()
        assert any(f"dport {PORT}" in r and str(lab.client.ip) in r for r in rules), rules
        # Interop: miniupnpc's upnpc lists natprobe's PCP mapping.
        listing = lab.client.exec(["upnpc", "-i", "-l"], check=False, timeout=20).stdout
        assert f"TCP {PORT}->{lab.client.ip}:{PORT}" in listing, listing
        lab.flush_nat_state()  # only the kept mapping, not the first probe's flow, may let it in
        again = _cli(lab, "check", "--tcp", str(PORT), "--no-trace", "--json", "--server", url)
        assert _port_entry(again)[1]["reachable"] is True
        # Clean up the kept mapping as a user would, with miniupnpc's client.
        lab.client.exec(["upnpc", "-i", "-d", str(PORT), "TCP"], check=False, timeout=20)
        remaining = daemon.dnat_rules()
    assert not any(f"dport {PORT}" in r for r in remaining), remaining


def test_router_unmap_deletes_a_kept_pcp_mapping_with_the_nonce_natprobe_recorded(home: tuple[Lab, str],
                                                                                  tmp_path: Path) -> None:
    """A router that speaks PCP and NAT-PMP but no UPnP: no listing to delete through, and a
    NAT-PMP deletion does not touch a PCP mapping. Only the nonce that made it deletes it
    (RFC 6887 section 15), which ``--keep`` recorded in the user's state folder."""
    lab, url = home
    state = tmp_path / "state"
    record = state / "natprobe" / "kept-mappings.json"
    with Miniupnpd(lab, upnp=False) as daemon:
        kept = _cli(lab, "check", "--tcp", str(PORT), "--map", "--keep", "--lease", "120", "--no-trace", "--json",
                    "--server", url, state=state)
        during = daemon.dnat_rules()
        recorded = json.loads(record.read_text())["mappings"]
        status, listed = _cli(lab, "router", "--json", state=state), _cli(lab, "router", state=state)
        done = _cli(lab, "router", "--unmap", str(PORT), state=state)
        after = daemon.dnat_rules()
        again = _cli(lab, "router", "--json", state=state)
    [mapping] = _port_entry(kept)[0]["mappings"]
    assert mapping["via"] == "pcp" and mapping["kept"] is True, mapping
    assert any(f"0x6 th dport {PORT}" in r and str(lab.client.ip) in r for r in during), during
    assert [(r["protocol"], r["internal_port"], r["via"], len(bytes.fromhex(r["nonce"]))) for r in recorded] == [
        ("tcp", PORT, "pcp", 12)]
    assert (record.stat().st_mode & 0o777) == 0o600
    [shown] = assert_valid_report(json.loads(status.stdout))["kept"]
    assert (shown["via"], shown["internal_port"], shown["gateway"]) == ("pcp", PORT, str(lab.router.lan_ip))
    assert "nonce" not in shown
    assert f"TCP {PORT} -> this host:{PORT} with PCP on {lab.router.lan_ip}, expires in" in listed.stdout, listed.stdout
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert f"TCP {PORT} (PCP): this host's mapping removed" in done.stdout, done.stdout
    assert after == [], after  # gone on miniupnpd itself
    assert assert_valid_report(json.loads(again.stdout))["kept"] == []
    assert json.loads(record.read_text())["mappings"] == []


def test_sigint_in_the_middle_still_removes_the_mapping(home: tuple[Lab, str]) -> None:
    lab, url = home
    # This host's firewall drops the port (no other test uses it): the check through the new
    # mapping then waits for the server's answer and its grace, long enough to be interrupted;
    # a token that arrived would end it within milliseconds.
    lab.block_on_client("udp", SIGINT_PORT)
    with Miniupnpd(lab) as daemon:
        proc = lab.client.spawn([sys.executable, "-m", "natprobe_cli", "check", "--udp", str(SIGINT_PORT), "--map",
                                 "--no-trace", "--timeout", "5", "--server", url],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        seen = False
        while time.monotonic() < deadline and proc.poll() is None:
            if any(f"dport {SIGINT_PORT}" in r for r in daemon.dnat_rules()):
                seen = True
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.02)
        _, err = proc.communicate(timeout=20)
        remaining = daemon.dnat_rules()
    assert seen, "the mapping never appeared on the router"
    assert proc.returncode == 130, err
    assert remaining == [], remaining


def test_without_upnp_the_mapping_uses_pcp_or_nat_pmp(home: tuple[Lab, str]) -> None:
    lab, _ = home

    async def map_one() -> tuple[Any, Any]:
        session = await probe_router(gateway=lab.router.lan_ip)
        async with mapped_ports(session, [(True, PORT)], lease_s=60) as outcomes:
            during = daemon.dnat_rules()
        return session, (outcomes, during)

    with Miniupnpd(lab, upnp=False) as daemon:
        with lab.client.entered():
            session, (outcomes, during) = asyncio.run(map_one())
        remaining = daemon.dnat_rules()
    answers = {a.protocol.value: a for a in session.report.answers}
    assert not answers["upnp"].answered and answers["pcp"].answered
    assert outcomes[0].via.value in ("pcp", "nat-pmp") and outcomes[0].removed is True
    assert len(during) == 1 and remaining == []


def test_an_error_or_a_timeout_inside_the_block_still_removes_the_mappings(home: tuple[Lab, str]) -> None:
    lab, _ = home
    seen: list[list[str]] = []

    async def fail_inside(daemon: Miniupnpd) -> None:
        async with mapped_ports(await probe_router(gateway=lab.router.lan_ip), [(True, PORT), (False, PORT)], lease_s=120):
            seen.append(daemon.dnat_rules())
            raise RuntimeError("boom")

    async def time_out_inside(daemon: Miniupnpd) -> None:
        async with asyncio.timeout(0.5):  # cancels the block: CancelledError inside, TimeoutError out
            async with mapped_ports(await probe_router(gateway=lab.router.lan_ip, timeout=0.3), [(True, PORT)], lease_s=120):
                seen.append(daemon.dnat_rules())
                await asyncio.sleep(10)

    with Miniupnpd(lab) as daemon:
        with lab.client.entered():
            with pytest.raises(RuntimeError):
                asyncio.run(fail_inside(daemon))
            after_error = daemon.dnat_rules()
            with pytest.raises(TimeoutError):
                asyncio.run(time_out_inside(daemon))
            after_timeout = daemon.dnat_rules()
    assert len(seen[0]) == 2 and len(seen[1]) == 1, seen
    assert after_error == [] and after_timeout == []


def test_an_offer_of_another_external_port_is_undone(home: tuple[Lab, str]) -> None:
    lab, _ = home

    async def map_one() -> Any:
        async with mapped_ports(await probe_router(gateway=lab.router.lan_ip), [(True, PORT)], lease_s=120) as outcomes:
            return list(outcomes)

    with Miniupnpd(lab, upnp=False) as daemon:
        # External 22124 already goes to another port: miniupnpd offers 22125 instead.
        lab.client.exec(["natpmpc", "-g", str(lab.router.lan_ip), "-a", str(PORT), "23000", "udp", "120"],
                        check=True, timeout=20)
        with lab.client.entered():
            [outcome] = asyncio.run(map_one())
        remaining = daemon.dnat_rules()
    assert not outcome.created and f"external port {PORT + 1} instead of {PORT}" in outcome.refused
    assert remaining == [f'iif "wan0" @nh,72,8 0x11 th dport {PORT} dnat ip to {lab.client.ip}:23000'], remaining


def test_upnp_only_maps_and_names_a_rule_that_forwards_the_port_elsewhere(home: tuple[Lab, str]) -> None:
    lab, url = home
    with Miniupnpd(lab, natpmp=False, secure_mode=False) as daemon:
        done = _cli(lab, "check", "--udp", str(PORT), "--map", "--no-trace", "--json", "--server", url)
        _, port = _port_entry(done)
        [mapping] = _port_entry(done)[0]["mappings"]
        assert port["reachable"] is True and mapping["via"] == "upnp" and mapping["removed"] is True
        # Ports below 1024 are outside miniupnpd's allow rule: refused, and said so.
        refused = _cli(lab, "check", "--tcp", "80", "--map", "--no-trace", "--json", "--server", url)
        [denied] = assert_valid_report(json.loads(refused.stdout))["mappings"]
        assert not denied["created"] and "refused the UPnP mapping" in denied["refused"], denied
        # Another program put a forward of the port to another LAN host (miniupnpc's client).
        other = lab.client.exec(["upnpc", "-i", "-a", str(lab.lan_spare_ip), str(PORT), str(PORT), "UDP", "300"],
                                check=False, timeout=20)
        assert other.returncode == 0, other.stdout + other.stderr
        lab.flush_nat_state()  # the first probe's flow must not carry the next one in
        conflict = _cli(lab, "check", "--udp", str(PORT), "--map", "--no-trace", "--json", "--server", url)
        rules = daemon.dnat_rules()
    _, port = _port_entry(conflict)
    assert port["status"] == "forwarded-to-another-host", port
    assert f"{lab.lan_spare_ip}:{PORT}" in port["reason"] and "libminiupnpc" in port["reason"], port
    assert rules == [f'iif "wan0" @nh,72,8 0x11 th dport {PORT} dnat ip to {lab.lan_spare_ip}:{PORT}'], rules


def test_nothing_answering_exit_1_and_a_clear_line(home: tuple[Lab, str]) -> None:
    lab, url = home
    code, data = _router_json(lab)
    assert code == 1 and not any(p["answered"] for p in data["protocols"])
    done = _cli(lab, "check", "--udp", str(PORT), "--map", "--no-trace", "--server", url)
    assert done.returncode == 1
    assert "answers none of UPnP, NAT-PMP and PCP: nothing was mapped" in done.stderr
    french = _cli(lab, "check", "--udp", str(PORT), "--map", "--no-trace", "--server", url, lang="fr")
    assert french.returncode == 1
    assert "la box ne répond ni en UPnP, ni en NAT-PMP, ni en PCP : aucune redirection" in french.stderr, french.stderr
    assert f"Redirection sur la box : UDP {PORT} : pas de redirection : aucune box n'a répondu" in french.stderr, \
        french.stderr


def test_behind_cgnat_the_router_refuses_and_the_port_is_never_reachable_on_its_word() -> None:
    for lab, url in _lab(LabConfig(cgnat=True)):
        with Miniupnpd(lab) as daemon:
            # miniupnpd's own STUN test saw the carrier's filtering NAT and disabled forwarding.
            assert daemon.forwarding_enabled is False
            code, data = _router_json(lab)
            done = _cli(lab, "check", "--udp", str(PORT), "--map", "--json", "--server", url)
            rules = daemon.dnat_rules()
        assert code == 0 and _protocols(data)["nat-pmp"]["external_address"] == str(lab.public_ip)
        report, port = _port_entry(done)
        assert port["reachable"] is False and port["status"] == "behind-cgnat", port
        assert "carrier-grade NAT" in port["reason"]
        assert report["topology"]["layers"] == "cgnat"
        assert any(str(IPv4Address("100.64.0.1")) in e for e in report["topology"]["evidence"])
        assert any("learns its address by STUN" in e for e in report["topology"]["evidence"])
        assert not report["mappings"][0]["created"] and rules == []


def test_behind_a_full_cone_cgnat_the_accepted_mapping_is_not_taken_for_reachable() -> None:
    # miniupnpd's STUN test passes through a full-cone carrier NAT, so it maps -- and the
    # carrier never forwards: the gateway's word against the outside probe.
    for lab, url in _lab(LabConfig(cgnat=True, carrier_behavior=Behavior.FULL_CONE)):
        with Miniupnpd(lab) as daemon:
            assert daemon.forwarding_enabled is True
            done = _cli(lab, "check", "--udp", str(PORT), "--map", "--json", "--server", url)
            rules = daemon.dnat_rules()
        report, port = _port_entry(done)
        assert done.returncode == 1, done.stderr
        [mapping] = report["mappings"]
        assert mapping["created"] and mapping["via"] == "pcp" and mapping["removed"] is True
        assert port["reachable"] is False and port["status"] == "behind-cgnat", port
        assert "accepted the PCP mapping" in port["reason"] and "did not arrive" in port["reason"]
        assert rules == []


def test_pcp_address_mismatch_names_a_nat_between_this_host_and_the_gateway() -> None:
    # miniupnpd on the carrier, asked from behind the home router's NAT: the PCP server sees
    # the home router's WAN address, not the client address the request carries.
    for lab, _ in _lab(LabConfig(cgnat=True)):
        assert lab.carrier is not None
        with Miniupnpd(lab, on_carrier=True) as daemon:
            assert daemon.forwarding_enabled is True
            code, data = _router_json(lab, "--gateway", str(lab.carrier.lan_ip))
            human = _cli(lab, "router", "--gateway", str(lab.carrier.lan_ip))
        assert code == 0 and data["address_mismatch"] is True
        assert _protocols(data)["pcp"]["result"] == "ADDRESS_MISMATCH"
        assert "another NAT sits between this host and the gateway" in human.stdout, human.stdout
