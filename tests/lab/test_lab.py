"""The lab's routers really behave as their names say: proven with real sockets.

Each test builds its own lab (about 0.05 s) and talks only to addresses inside the
namespaces it made. "Must not arrive" checks send a marker after the datagram under test
along the same path and wait for the marker, instead of sleeping.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from natprobe.errors import LabError
from natprobe.lab import Behavior, Lab, LabConfig, PortForward, cleanup_stale_namespaces
from natprobe.lab import nftables
from natprobe.lab.netns import NETNS_DIR, create_namespaces, delete_namespaces, namespace_exists
from tests.lab._net import (
    collect_until,
    count_until_quiet,
    drain_for,
    recv_one,
    tcp_connect,
    tcp_listener,
    to,
    udp,
)

pytestmark = pytest.mark.lab

EIM_BEHAVIORS = (Behavior.FULL_CONE, Behavior.RESTRICTED_CONE, Behavior.PORT_RESTRICTED_CONE)
CGN_NET = IPv4Network("100.64.0.0/10")
DOC_NETS = tuple(
    IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)


def lab_namespaces(prefix: str) -> list[str]:
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix)) \
        if NETNS_DIR.exists() else []


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A default lab (port-restricted cone) for tests that do not care about the NAT."""
    with Lab(LabConfig()) as built:
        yield built


# ---------------------------------------------------------------------- mapping & filtering


@pytest.mark.parametrize("behavior", [*EIM_BEHAVIORS, Behavior.SYMMETRIC], ids=str)
def test_mapping_and_filtering(behavior: Behavior) -> None:
    with Lab(LabConfig(behavior=behavior)) as lab:
        srv = lab.server
        p1 = udp(srv, srv.primary_ip, 3478)
        p2 = udp(srv, srv.primary_ip, 3479)
        a1 = udp(srv, srv.alternate_ip, 3478)
        a2 = udp(srv, srv.alternate_ip, 3479)

        # Mapping: one client socket toward three destinations.
        c = udp(lab.client, port=50000)
        seen = []
        for dest in (p1, p2, a1):
            c.sendto(b"map", dest.getsockname())
            data, src = recv_one(dest)
            assert data == b"map"
            seen.append(src)
        assert {ip for ip, _ in seen} == {str(lab.public_ip)}
        ports = [port for _, port in seen]
        if behavior is Behavior.SYMMETRIC:
            assert len(set(ports)) == 3, f"symmetric NAT reused a mapping: {ports}"
        else:
            # Endpoint-independent, and masquerade keeps the source port when it is free.
            assert ports == [50000, 50000, 50000]

        # Filtering: a fresh socket talks to p1 only; then others knock on its mapping.
        f = udp(lab.client, port=50001)
        f.sendto(b"hello", p1.getsockname())
        _, mapped = recv_one(p1)
        a2.sendto(b"other-ip", mapped)
        p2.sendto(b"other-port", mapped)
        p1.sendto(b"marker", mapped)
        got = {data for data, _ in collect_until(f, b"marker")} - {b"marker"}
        expected = {
            Behavior.FULL_CONE: {b"other-ip", b"other-port"},
            Behavior.RESTRICTED_CONE: {b"other-port"},
            Behavior.PORT_RESTRICTED_CONE: set(),
            Behavior.SYMMETRIC: set(),
        }[behavior]
        assert got == expected
        for s in (p1, p2, a1, a2, c, f):
            s.close()


@pytest.mark.parametrize("behavior", [Behavior.FULL_CONE, Behavior.RESTRICTED_CONE], ids=str)
def test_dynamic_filtering_admits_replies_from_a_new_peer(behavior: Behavior) -> None:
    """A new host let in by EIF/ADF can talk both ways, from the same public port."""
    with Lab(LabConfig(behavior=behavior)) as lab:
        srv = lab.server
        p1 = udp(srv, srv.primary_ip, 3478)
        c = udp(lab.client, port=50002)
        c.sendto(b"out", p1.getsockname())
        _, mapped = recv_one(p1)
        knock = udp(srv, srv.primary_ip if behavior is Behavior.RESTRICTED_CONE
                    else srv.alternate_ip, 4000)
        knock.sendto(b"knock", mapped)
        data, src = recv_one(c)
        assert data == b"knock" and src == knock.getsockname()
        c.sendto(b"answer", src)
        data, src = recv_one(knock)
        assert data == b"answer" and src == mapped  # the same mapping, both ways


def test_flush_nat_state_forgets_dynamic_mappings() -> None:
    with Lab(LabConfig(behavior=Behavior.FULL_CONE)) as lab:
        srv = lab.server
        p1, a1 = udp(srv, srv.primary_ip, 3478), udp(srv, srv.alternate_ip, 3478)
        c = udp(lab.client, port=50003)
        c.sendto(b"out", p1.getsockname())
        _, mapped = recv_one(p1)
        a1.sendto(b"before", mapped)
        assert recv_one(c)[0] == b"before"
        lab.flush_nat_state()
        a1.sendto(b"after", mapped)
        assert drain_for(c, 0.4) == []
        # ...and a new outbound packet builds the mapping again.
        c.sendto(b"again", p1.getsockname())
        assert recv_one(p1)[1] == mapped
        a1.sendto(b"back", mapped)
        assert recv_one(c)[0] == b"back"


# ---------------------------------------------------------------------- no NAT, UDP blocked, CGNAT


def test_no_nat_client_holds_a_public_address() -> None:
    with Lab(LabConfig(behavior=Behavior.NO_NAT)) as lab:
        assert lab.public_ip == lab.client.ip
        assert any(lab.client.ip in net for net in DOC_NETS)
        srv = lab.server
        p1 = udp(srv, srv.primary_ip, 3478)
        c = udp(lab.client, port=50000)
        c.sendto(b"hi", p1.getsockname())
        assert recv_one(p1)[1] == to(lab.client.ip, 50000)
        # Nothing filters: a host the client never talked to reaches it.
        stranger = udp(lab.peer, lab.peer.ip, 6000)
        stranger.sendto(b"unsolicited", to(lab.client.ip, 50000))
        assert recv_one(c) == (b"unsolicited", to(lab.peer.ip, 6000))


def test_udp_blocked_but_tcp_is_natted() -> None:
    with Lab(LabConfig(behavior=Behavior.UDP_BLOCKED)) as lab:
        srv = lab.server
        p1 = udp(srv, srv.primary_ip, 3478)
        listener = tcp_listener(srv, srv.primary_ip, 8080)
        c = udp(lab.client, port=50000)
        c.sendto(b"udp", p1.getsockname())
        # TCP afterwards along the same path: once it is through, the UDP had its chance.
        conn = tcp_connect(lab.client, (srv.primary_ip, 8080))
        accepted, peer = listener.accept()
        assert peer[0] == str(lab.public_ip)
        conn.sendall(b"tcp")
        assert accepted.recv(16) == b"tcp"
        assert drain_for(p1, 0.2) == []
        for s in (accepted, conn, listener, p1, c):
            s.close()


def test_cgnat_two_layers() -> None:
    fwd = PortForward("udp", 40000)
    with Lab(LabConfig(cgnat=True, forwards=(fwd,))) as lab:
        assert lab.carrier is not None
        assert lab.router.wan_ip in CGN_NET
        assert lab.public_ip == lab.carrier.wan_ip != lab.router.wan_ip
        assert any(lab.public_ip in net for net in DOC_NETS)
        srv = lab.server
        p1, a1 = udp(srv, srv.primary_ip, 3478), udp(srv, srv.alternate_ip, 3478)
        c = udp(lab.client, port=50000)
        seen = []
        for dest in (p1, a1):
            c.sendto(b"map", dest.getsockname())
            seen.append(recv_one(dest)[1])
        # The Internet sees the carrier's address, with one (EIM) mapping for both.
        assert seen[0] == seen[1] and seen[0][0] == str(lab.public_ip)

        listener = udp(lab.client, port=40000)
        # The home router's forward works from inside the carrier network...
        inside = udp(lab.carrier, lab.carrier.lan_ip, 7000)
        inside.sendto(b"from-cgn", to(lab.router.wan_ip, 40000))
        assert recv_one(listener) == (b"from-cgn", to(lab.carrier.lan_ip, 7000))
        # ...but not from the Internet: the carrier has no forward.
        stranger = udp(lab.peer, lab.peer.ip, 7000)
        stranger.sendto(b"from-internet", to(lab.public_ip, 40000))
        assert drain_for(listener, 0.4) == []


# ---------------------------------------------------------------------- hairpinning


@pytest.mark.parametrize("hairpin", [True, False], ids=["hairpin-on", "hairpin-off"])
def test_hairpin(hairpin: bool) -> None:
    fwd = PortForward("udp", 40000)
    with Lab(LabConfig(hairpin=hairpin, forwards=(fwd,))) as lab:
        srv = lab.server
        p1 = udp(srv, srv.primary_ip, 3478)
        a = udp(lab.client, port=50010)
        a.sendto(b"learn", p1.getsockname())
        _, a_mapped = recv_one(p1)
        listener = udp(lab.client, port=40000)
        b = udp(lab.client, port=50011)
        b.sendto(b"via-mapping", a_mapped)           # dynamic mapping of socket a
        b.sendto(b"via-forward", to(lab.public_ip, 40000))  # the port forward
        if hairpin:
            data, src = recv_one(a)
            assert data == b"via-mapping" and src[0] == str(lab.public_ip)
            data, src = recv_one(listener)
            # The target sees the router's public address, as a remote host would.
            assert data == b"via-forward" and src[0] == str(lab.public_ip)
            # The answer goes back the same way.
            listener.sendto(b"reply", src)
            assert recv_one(b) == (b"reply", to(lab.public_ip, 40000))
        else:
            assert drain_for(a, 0.4) == [] and drain_for(listener, 0.05) == []


def test_hairpin_symmetric_nat() -> None:
    with Lab(LabConfig(behavior=Behavior.SYMMETRIC, hairpin=True)) as lab:
        srv = lab.server
        p1 = udp(srv, srv.primary_ip, 3478)
        a = udp(lab.client, port=50010)
        a.sendto(b"learn", p1.getsockname())
        _, a_mapped = recv_one(p1)
        b = udp(lab.client, port=50011)
        b.sendto(b"hairpin", a_mapped)
        data, src = recv_one(a)
        assert data == b"hairpin" and src[0] == str(lab.public_ip)


# ---------------------------------------------------------------------- lifetime


def _conntrack_has(lab: Lab, sport: int, dport: int) -> bool:
    out = lab.router.exec(
        ["conntrack", "-L", "-p", "udp", "--orig-port-src", str(sport),
         "--orig-port-dst", str(dport)], timeout=5,
    ).stdout
    return f"sport={sport}" in out


@pytest.mark.slow
def test_short_udp_mapping_lifetime() -> None:
    root_timeout = Path("/proc/sys/net/netfilter/nf_conntrack_udp_timeout")
    root_before = root_timeout.read_text() if root_timeout.exists() else None
    with Lab(LabConfig(udp_timeout_s=10)) as lab:
        got = lab.router.exec(["sysctl", "-n", "net.netfilter.nf_conntrack_udp_timeout",
                               "net.netfilter.nf_conntrack_udp_timeout_stream"]).stdout.split()
        assert got == ["10", "10"]
        srv = lab.server
        p1 = udp(srv, srv.primary_ip, 3478)
        c = udp(lab.client, port=50020)
        c.sendto(b"open", p1.getsockname())
        _, mapped = recv_one(p1)
        p1.sendto(b"reply", mapped)
        assert recv_one(c)[0] == b"reply"
        last_packet = time.monotonic()
        # Watch the entry (reading conntrack does not refresh it), bounded at 15 s.
        while _conntrack_has(lab, 50020, 3478):
            assert time.monotonic() - last_packet < 15, "mapping outlived 15 s"
            time.sleep(0.2)
        idle = time.monotonic() - last_packet
        assert 9.5 <= idle <= 11.5, f"mapping vanished after {idle:.1f} s idle"
        # The server can no longer reach the client through the old mapping.
        p1.sendto(b"late", mapped)
        c.sendto(b"again", p1.getsockname())
        assert recv_one(p1)[0] == b"again"
        p1.sendto(b"marker", mapped)
        assert [d for d, _ in collect_until(c, b"marker")] == [b"marker"]
    if root_before is not None:
        assert root_timeout.read_text() == root_before  # the root namespace is untouched


# ---------------------------------------------------------------------- port forwards & host firewall


def test_port_forwards_udp_tcp_and_spare_address() -> None:
    forwards = (
        PortForward("udp", 40000),
        PortForward("tcp", 40001),
        PortForward("udp", 40003, to_port=40004),
    )
    with Lab(LabConfig(forwards=forwards)) as lab:
        peer = lab.peer
        u = udp(lab.client, port=40000)
        remote = udp(peer, peer.ip, 6000)
        remote.sendto(b"udp-in", to(lab.public_ip, 40000))
        data, src = recv_one(u)
        assert data == b"udp-in" and src == to(peer.ip, 6000)  # no SNAT on the way in
        u.sendto(b"udp-out", src)
        assert recv_one(remote) == (b"udp-out", to(lab.public_ip, 40000))

        listener = tcp_listener(lab.client, "0.0.0.0", 40001)
        conn = tcp_connect(peer, (lab.public_ip, 40001))
        accepted, addr = listener.accept()
        assert addr[0] == str(peer.ip)
        accepted.sendall(b"tcp-ok")
        assert conn.recv(16) == b"tcp-ok"
        for s in (accepted, conn, listener):
            s.close()

        other = udp(lab.client, port=40004)
        remote.sendto(b"to-40004", to(lab.public_ip, 40003))
        assert recv_one(other)[0] == b"to-40004"

        # A forward to a LAN address nobody holds never reaches the client.
        spare = udp(lab.client, port=40002)
        lab.add_forward(PortForward("udp", 40002, to_ip=lab.lan_spare_ip))
        assert lab.forwards[-1].to_ip == lab.lan_spare_ip
        remote.sendto(b"to-spare", to(lab.public_ip, 40002))
        remote.sendto(b"marker", to(lab.public_ip, 40000))
        assert [d for d, _ in collect_until(u, b"marker")] == [b"marker"]
        assert drain_for(spare, 0.05) == []

        lab.remove_forwards()
        assert lab.forwards == ()
        fresh = udp(peer, peer.ip, 6001)  # a new flow: existing conntrack entries keep theirs
        fresh.sendto(b"after-removal", to(lab.public_ip, 40000))
        assert drain_for(u, 0.4) == []


def test_runtime_forward_reaches_client() -> None:
    with Lab(LabConfig()) as lab:
        u = udp(lab.client, port=41000)
        remote = udp(lab.peer, lab.peer.ip, 6000)
        lab.add_forward(PortForward("udp", 41000))
        remote.sendto(b"in", to(lab.public_ip, 41000))
        assert recv_one(u) == (b"in", to(lab.peer.ip, 6000))


def test_block_on_client_drops() -> None:
    forwards = (PortForward("udp", 40000), PortForward("udp", 40001),
                PortForward("tcp", 40002), PortForward("tcp", 40003))
    with Lab(LabConfig(forwards=forwards)) as lab:
        blocked, open_ = udp(lab.client, port=40000), udp(lab.client, port=40001)
        remote = udp(lab.peer, lab.peer.ip, 6000)
        remote.sendto(b"before", to(lab.public_ip, 40000))
        assert recv_one(blocked)[0] == b"before"
        t_blocked = tcp_listener(lab.client, "0.0.0.0", 40002)
        t_open = tcp_listener(lab.client, "0.0.0.0", 40003)

        lab.block_on_client("udp", 40000)
        lab.block_on_client("tcp", 40002)
        remote.sendto(b"after", to(lab.public_ip, 40000))
        remote.sendto(b"marker", to(lab.public_ip, 40001))
        assert recv_one(open_)[0] == b"marker"
        assert drain_for(blocked, 0.05) == []
        with pytest.raises(TimeoutError):
            tcp_connect(lab.peer, (lab.public_ip, 40002), timeout=0.5)
        tcp_connect(lab.peer, (lab.public_ip, 40003)).close()
        for s in (t_blocked, t_open):
            s.close()
        with pytest.raises(ValueError):
            lab.block_on_client("sctp", 1)


# ---------------------------------------------------------------------- impairments


def _delivered(sender: socket.socket, receiver: socket.socket, dest: tuple[str, int],
               count: int) -> float:
    """Send ``count`` numbered datagrams and return the fraction that arrived."""
    for i in range(count):
        sender.sendto(b"%d" % i, dest)
    got = count_until_quiet(receiver, quiet=0.3)
    return len(set(got)) / count


def test_loss_on_the_wan_link() -> None:
    with Lab(LabConfig(loss_percent=20)) as lab:
        srv = lab.server
        p1 = udp(srv, srv.primary_ip, 3478, rcvbuf=1 << 21)
        c = udp(lab.client, port=50030, rcvbuf=1 << 21)
        mapped = None
        for _ in range(50):  # open the mapping; any one try may be lost
            c.sendto(b"open", p1.getsockname())
            try:
                p1.settimeout(0.1)
                mapped = recv_one(p1)[1]
                break
            except TimeoutError:
                continue
        assert mapped is not None
        drain_for(p1, 0.1)
        # 400 per direction at 20 % loss: 320 expected, sd 8; accept +-5 sd.
        up = _delivered(c, p1, p1.getsockname(), 400)
        down = _delivered(p1, c, mapped, 400)
        assert 0.70 <= up <= 0.90, up
        assert 0.70 <= down <= 0.90, down
        lab.set_loss(0)
        assert lab.loss_percent == 0
        assert _delivered(c, p1, p1.getsockname(), 200) == 1.0
        assert _delivered(p1, c, mapped, 200) == 1.0


def _rtts(lab: Lab, n: int = 10) -> list[float]:
    srv = lab.server
    p1 = udp(srv, srv.primary_ip, 3478)
    c = udp(lab.client, port=50040)
    rtts = []
    for i in range(n):
        token = b"ping%d" % i
        start = time.perf_counter()
        c.sendto(token, p1.getsockname())
        data, src = recv_one(p1)
        assert data == token
        p1.sendto(data, src)
        while recv_one(c)[0] != token:  # a duplicate of an earlier one is skipped
            pass
        rtts.append(time.perf_counter() - start)
    return rtts


def test_wire_delay() -> None:
    with Lab(LabConfig()) as plain:
        assert plain.wire is None
        base = statistics.median(_rtts(plain))
    with Lab(LabConfig(delay_ms=25)) as lab:
        assert lab.wire is not None and lab.wire.processes
        rtt = statistics.median(_rtts(lab))
    assert base < 0.010, base
    assert 0.048 <= rtt <= 0.080, rtt  # 2 x 25 ms, plus a little scheduling
    assert lab.wire_summary, "the wire's closing summary was not collected"


def test_wire_duplicates() -> None:
    with Lab(LabConfig(duplicate_percent=50)) as lab:
        srv = lab.server
        p1 = udp(srv, srv.primary_ip, 3478, rcvbuf=1 << 21)
        c = udp(lab.client, port=50050)
        for i in range(200):
            c.sendto(b"%d" % i, p1.getsockname())
        got = count_until_quiet(p1, quiet=0.3)
        assert len(set(got)) == 200  # nothing lost
        extra = len(got) - 200
        assert 65 <= extra <= 135, extra  # Binomial(200, 0.5): 100 +- 5 sd


# ---------------------------------------------------------------------- rulesets, hosts, cleanup


def test_every_ruleset_variant_loads() -> None:
    """Each behaviour x hairpin x forwards ruleset is accepted by this kernel's nft."""
    name = f"np-{os.getpid()}-ffff-check"
    create_namespaces([name])
    try:
        for behavior in Behavior:
            for hairpin in (False, True):
                spec = nftables.RouterSpec(
                    lan_if="lo", wan_if="lo", lan_net=IPv4Network("192.168.77.0/24"),
                    wan_ip=IPv4Address("203.0.113.2"), default_target=IPv4Address("192.168.77.10"),
                    behavior=behavior, hairpin=hairpin, mapping_timeout_s=10,
                )
                text = nftables.router_ruleset(
                    spec, (PortForward("udp", 1), PortForward("tcp", 2, IPv4Address("192.168.77.9"), 3)))
                subprocess.run(["ip", "netns", "exec", name, "nft", "-c", "-f", "-"],
                               input=text, text=True, check=True, capture_output=True, timeout=10)
    finally:
        delete_namespaces([name])


def test_entered_switches_only_the_calling_thread(lab: Lab) -> None:
    def ns_id() -> int:
        return os.stat("/proc/thread-self/ns/net").st_ino

    home = ns_id()
    inside = lab.client.path.stat().st_ino
    other: list[int] = []
    with lab.client.entered():
        assert ns_id() == inside
        t = threading.Thread(target=lambda: other.append(ns_id()))
        t.start()
        t.join(5)
    assert ns_id() == home
    assert other == [inside]  # threads started inside inherit it


def test_nothing_is_created_in_the_root_namespace() -> None:
    before = sorted(socket.if_nameindex())
    with Lab(LabConfig(cgnat=True, delay_ms=1)):
        assert sorted(socket.if_nameindex()) == before


def test_exec_errors_carry_command_and_stderr(lab: Lab) -> None:
    with pytest.raises(LabError, match=r"sh -c .*exit status 3: oops"):
        lab.client.exec(["sh", "-c", "echo oops >&2; exit 3"])
    assert lab.client.exec(["sh", "-c", "exit 4"], check=False).returncode == 4
    with pytest.raises(LabError, match="timed out"):
        lab.client.exec(["sleep", "5"], timeout=0.2)


def test_teardown_after_normal_exit_kills_processes() -> None:
    lab = Lab(LabConfig(behavior=Behavior.FULL_CONE))
    with lab:
        assert len(lab_namespaces(lab.prefix)) == len(lab.hosts)
        proc = lab.server.spawn(["sleep", "60"])
    assert lab_namespaces(lab.prefix) == []
    assert proc.poll() is not None


@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt])
def test_teardown_after_exception(exc_type: type[BaseException]) -> None:
    lab = Lab(LabConfig(cgnat=True, delay_ms=5))
    with pytest.raises(exc_type):
        with lab:
            proc = lab.peer.spawn(["sleep", "60"])
            assert lab.wire is not None
            wire_procs = lab.wire.processes
            assert len(wire_procs) == 1 and wire_procs[0].poll() is None
            raise exc_type("boom")
    assert lab_namespaces(lab.prefix) == []
    assert proc.poll() is not None
    assert wire_procs[0].poll() is not None


def test_teardown_after_a_failed_build(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Lab) -> None:
        raise LabError("injected failure after links and addresses")

    monkeypatch.setattr(Lab, "_load_rulesets", broken)
    lab = Lab(LabConfig())
    with pytest.raises(LabError, match="injected"):
        with lab:
            pass  # pragma: no cover
    assert lab_namespaces(lab.prefix) == []


def test_cleanup_stale_namespaces() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = f"np-{dead.pid}-dead-stale"
    live = f"np-{os.getpid()}-beef-live"
    create_namespaces([stale, live])
    try:
        removed = cleanup_stale_namespaces()
        assert stale in removed and not namespace_exists(stale)
        assert live not in removed and namespace_exists(live)
    finally:
        delete_namespaces([stale, live])
