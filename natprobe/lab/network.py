"""The lab itself: namespaces, veth links, addresses and a real kernel NAT between them.

::

    [client] eth0 ─ lan0 [router] wan0 ─┬─────────────── up0 [internet] srv0 ─ eth0 [server]
                                        │ (cgnat: lan0 [carrier] wan0 ─ …)   peer0 ─ eth0 [peer]
                                        └ (impairments: wl [wire] wr ─ …)

``with Lab(LabConfig(...)) as lab:`` builds everything in ``__enter__`` (about a dozen
subprocesses: batched ``ip`` and ``nft`` scripts, sysctls written in-process) and tears
it all down in ``__exit__``: spawned processes killed by PID, then the namespaces
deleted, also after an exception, a Ctrl-C or a build that failed halfway. An ``atexit``
hook catches labs that were never exited, and :func:`cleanup_stale_namespaces` (run at
every build) removes what a killed process left behind.

Neighbours are static (``nud permanent``, fixed MAC addresses), so no packet of a lab
ever waits for ARP: the first datagram of a test sees the same path as the hundredth,
even through loss or the wire's delay. Only ``lan_spare_ip`` has no neighbour: what is
sent there is lost, like a forward to a switched-off machine.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from types import TracebackType
from typing import IO, Any

from natprobe.errors import LabError
from natprobe.lab import nftables
from natprobe.lab.config import AddressPlan, Behavior, LabConfig, PortForward
from natprobe.lab.resolv import remove_resolv_conf, remove_stale_resolv_dirs, write_resolv_conf
from natprobe.lab.netns import (
    PREFIX,
    Host,
    cleanup_stale_namespaces,
    create_namespaces,
    delete_namespaces,
    new_run_id,
    pids_in_namespaces,
    run,
    terminate_pids,
    write_sysctls,
)

__all__ = ("Lab", "RouterHost", "ServerHost")

logger = logging.getLogger(__name__)

#: The wire stops by itself after this long even if nobody signals it.
WIRE_MAX_SECONDS = 7200.0
_WIRE_READY_TIMEOUT_S = 10.0
_OFFLOADS = ("gro", "gso", "tso", "tx", "rx")
_KERNEL_UDP_STREAM_TIMEOUT_S = 120


class RouterHost(Host):
    """A NAT (or plain) router: ``ip`` is its WAN address."""

    def __init__(self, name: str, role: str, lan_ip: IPv4Address, wan_ip: IPv4Address) -> None:
        super().__init__(name, wan_ip, role)
        self.lan_ip = lan_ip
        self.wan_ip = wan_ip


class ServerHost(Host):
    """The Internet host of the echo server: three public addresses on one interface."""

    def __init__(
        self,
        name: str,
        primary_ip: IPv4Address,
        alternate_ip: IPv4Address,
        directory_ip: IPv4Address,
    ) -> None:
        super().__init__(name, primary_ip, "server")
        self.primary_ip = primary_ip
        self.alternate_ip = alternate_ip
        self.directory_ip = directory_ip


@dataclass(frozen=True, slots=True)
class _End:
    host: Host
    ifname: str
    ips: tuple[IPv4Address, ...]
    prefixlen: int


@dataclass(frozen=True, slots=True)
class _Link:
    """A logical point-to-point link: one veth pair, or two through the wire."""

    a: _End
    b: _End
    index: int

    def mac(self, side: int) -> str:
        return f"02:6e:70:00:{self.index:02x}:{side + 1:02x}"


_LIVE: set[Lab] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _teardown_leftovers() -> None:
    with _LIVE_LOCK:
        labs = list(_LIVE)
    for lab in labs:
        logger.warning("lab %s was never closed; tearing it down at exit", lab.run_id)
        with contextlib.suppress(Exception):
            lab.close()


class Lab:
    """A client behind a real Linux NAT, an Internet with servers, and the knobs to turn."""

    def __init__(self, config: LabConfig | None = None) -> None:
        self.config = config if config is not None else LabConfig()
        cfg = self.config
        self.plan = AddressPlan.for_config(cfg)
        plan = self.plan
        self.run_id = new_run_id()
        self.prefix = f"{PREFIX}{self.run_id}-"
        p = self.prefix

        self.client = Host(p + "client", plan.client_ip, "client")
        self.router = RouterHost(p + "router", "router", plan.router_lan_ip, plan.router_wan_ip)
        self.carrier: RouterHost | None = None
        if cfg.cgnat or cfg.double_nat:  # the outer NAT: a carrier's, or an ISP box's
            assert plan.carrier_inside_ip is not None and plan.carrier_outside_ip is not None
            self.carrier = RouterHost(
                p + "carrier", "carrier", plan.carrier_inside_ip, plan.carrier_outside_ip
            )
        self.wire: Host | None = None
        if cfg.needs_wire:
            self.wire = Host(p + "wire", IPv4Address("0.0.0.0"), "wire")
        self.internet = Host(p + "inet", plan.uplink_core_ip, "internet")
        self.server = ServerHost(p + "server", plan.primary_ip, plan.alternate_ip, plan.directory_ip)
        self.peer = Host(p + "peer", plan.peer_ip, "peer")
        self.public_ip: IPv4Address = plan.public_ip
        self.lan_spare_ip: IPv4Address = plan.lan_spare_ip

        self._router_spec = nftables.RouterSpec(
            lan_if="lan0",
            wan_if="wan0",
            lan_net=plan.lan,
            wan_ip=plan.router_wan_ip,
            default_target=plan.client_ip,
            behavior=cfg.behavior,
            hairpin=cfg.hairpin,
            mapping_timeout_s=cfg.udp_timeout_s or _KERNEL_UDP_STREAM_TIMEOUT_S,
        )
        self._carrier_spec: nftables.RouterSpec | None = None
        if self.carrier is not None:
            self._carrier_spec = nftables.RouterSpec(
                lan_if="lan0",
                wan_if="wan0",
                lan_net=plan.home_wan,
                wan_ip=self.carrier.wan_ip,
                default_target=plan.router_wan_ip,
                behavior=cfg.carrier_behavior,
            )
        self._forwards: list[PortForward] = list(cfg.forwards)
        self._loss_percent = cfg.loss_percent
        self._state = "new"
        self._wire_log: IO[bytes] | None = None
        self.wire_summary: str | None = None
        """The wire's closing statistics line, once the lab is torn down."""

    def __repr__(self) -> str:
        return f"<Lab {self.run_id} {self.config.behavior} state={self._state}>"

    # ------------------------------------------------------------------ hosts & plan

    @property
    def hosts(self) -> tuple[Host, ...]:
        """Every namespace of this lab, in build order."""
        hosts: list[Host] = [self.client, self.router]
        if self.carrier is not None:
            hosts.append(self.carrier)
        if self.wire is not None:
            hosts.append(self.wire)
        hosts += [self.internet, self.server, self.peer]
        return tuple(hosts)

    @property
    def edge(self) -> RouterHost:
        """The NAT that faces the Internet: the carrier with CGNAT, else the home router."""
        return self.carrier if self.carrier is not None else self.router

    @property
    def forwards(self) -> tuple[PortForward, ...]:
        return tuple(self._forwards)

    @property
    def loss_percent(self) -> float:
        return self._loss_percent

    def _links(self) -> list[_Link]:
        plan = self.plan
        lan_len = plan.lan.prefixlen
        links = [
            _Link(
                _End(self.client, "eth0", (plan.client_ip,), lan_len),
                _End(self.router, "lan0", (plan.router_lan_ip,), lan_len),
                1,
            )
        ]
        if self.carrier is not None:
            wan_len = plan.home_wan.prefixlen
            links.append(
                _Link(
                    _End(self.router, "wan0", (plan.router_wan_ip,), wan_len),
                    _End(self.carrier, "lan0", (self.carrier.lan_ip,), wan_len),
                    2,
                )
            )
        up_len = plan.uplink.prefixlen
        links.append(
            _Link(
                _End(self.edge, "wan0", (self.edge.wan_ip,), up_len),
                _End(self.internet, "up0", (plan.uplink_core_ip,), up_len),
                3,
            )
        )
        srv = self.server
        links.append(
            _Link(
                _End(self.internet, "srv0", (plan.server_core_ip,), plan.server_net.prefixlen),
                _End(
                    srv,
                    "eth0",
                    (srv.primary_ip, srv.alternate_ip, srv.directory_ip),
                    plan.server_net.prefixlen,
                ),
                4,
            )
        )
        links.append(
            _Link(
                _End(self.internet, "peer0", (plan.peer_core_ip,), plan.peer_net.prefixlen),
                _End(self.peer, "eth0", (plan.peer_ip,), plan.peer_net.prefixlen),
                5,
            )
        )
        return links

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Lab:
        if self._state != "new":
            raise LabError(f"lab {self.run_id} cannot be entered twice (state {self._state})")
        self._state = "building"
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            cleanup_stale_namespaces()
            remove_stale_resolv_dirs()
            started = time.monotonic()
            self._build()
            logger.info(
                "lab %s (%s) built in %.2f s", self.run_id, self.config, time.monotonic() - started
            )
        except BaseException:
            # Also on KeyboardInterrupt: never leave half a lab behind.
            self._state = "failed"
            try:
                self.close()
            except LabError as exc:
                logger.error("teardown after a failed build also failed: %s", exc)
            raise
        self._state = "up"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        # Do not hide the exception that ended the with-block behind a teardown error.
        try:
            self.close()
        except LabError as teardown:
            logger.error("lab teardown failed: %s", teardown)

    def close(self) -> None:
        """Kill every process started in the lab and delete its namespaces (idempotent)."""
        if self._state == "closed":
            return
        errors: list[str] = []
        for host in self.hosts:
            try:
                host.kill_processes()
            except Exception as exc:  # keep going: the namespaces must go regardless
                errors.append(f"{host.name}: {exc}")
        self._collect_wire_summary()
        names = [h.name for h in self.hosts]
        try:
            # Anything else still inside (a process a test started by hand) goes too.
            for pids in pids_in_namespaces(names).values():
                terminate_pids(pids)
        except Exception as exc:
            errors.append(f"process scan: {exc}")
        try:
            delete_namespaces(names)
        except LabError as exc:
            errors.append(str(exc))
        for name in names:
            remove_resolv_conf(name)
        self._state = "closed"
        with _LIVE_LOCK:
            _LIVE.discard(self)
        if errors:
            raise LabError(f"lab {self.run_id} teardown: " + "; ".join(errors))

    # ------------------------------------------------------------------ build

    def _build(self) -> None:
        hosts = self.hosts
        links = self._links()
        create_namespaces(h.name for h in hosts)
        for host in hosts:  # no lab process ever asks the machine's own resolver
            write_resolv_conf(host.name)
        self._sysctls_before_links()
        self._create_links(links)
        self._configure_addresses(links)
        self._load_rulesets()
        if self.config.udp_timeout_s is not None:
            t = str(self.config.udp_timeout_s)
            write_sysctls(
                self.router.name,
                {
                    "net/netfilter/nf_conntrack_udp_timeout": t,
                    "net/netfilter/nf_conntrack_udp_timeout_stream": t,
                },
            )
        if self.wire is not None:
            self._start_wire(self.wire)

    def _sysctls_before_links(self) -> None:
        routers = {self.router.name, self.internet.name}
        if self.carrier is not None:
            routers.add(self.carrier.name)
        for host in self.hosts:
            values = {
                # Asymmetric paths are the point of a NAT lab: no reverse-path filter.
                "net/ipv4/conf/all/rp_filter": "0",
                "net/ipv4/conf/default/rp_filter": "0",
                # No IPv6 on the veths (lo keeps ::1): no DAD, MLD or RS chatter on links.
                "net/ipv6/conf/default/disable_ipv6": "1",
            }
            if host.name in routers:
                values["net/ipv4/ip_forward"] = "1"
                # Hairpinning sends packets back out of the LAN port; a redirect would
                # tell the client to bypass the NAT.
                values["net/ipv4/conf/all/send_redirects"] = "0"
                values["net/ipv4/conf/default/send_redirects"] = "0"
            write_sysctls(host.name, values)

    def _create_links(self, links: Sequence[_Link]) -> None:
        lines = []
        for link in links:
            a, b = link.a, link.b
            if self.wire is not None and link.index == 3:
                # Two veth pairs through the wire; the same MACs at the two IP ends.
                w = self.wire.name
                lines.append(
                    f"link add {a.ifname} netns {a.host.name} address {link.mac(0)} "
                    f"type veth peer name wl netns {w} address 02:6e:70:00:{link.index:02x}:11"
                )
                lines.append(
                    f"link add wr netns {w} address 02:6e:70:00:{link.index:02x}:12 "
                    f"type veth peer name {b.ifname} netns {b.host.name} address {link.mac(1)}"
                )
            else:
                lines.append(
                    f"link add {a.ifname} netns {a.host.name} address {link.mac(0)} "
                    f"type veth peer name {b.ifname} netns {b.host.name} address {link.mac(1)}"
                )
        # Created straight inside the target namespaces: nothing ever exists in the root one.
        run(["ip", "-batch", "-"], input="".join(line + "\n" for line in lines))

    def _configure_addresses(self, links: Sequence[_Link]) -> None:
        script: dict[str, list[str]] = {h.name: ["link set lo up"] for h in self.hosts}
        for link in links:
            for side, (end, other) in enumerate(((link.a, link.b), (link.b, link.a))):
                cmds = script[end.host.name]
                for ip in end.ips:
                    cmds.append(f"addr add {ip}/{end.prefixlen} dev {end.ifname}")
                cmds.append(f"link set {end.ifname} up")
                for ip in other.ips:
                    cmds.append(
                        f"neigh replace {ip} lladdr {link.mac(1 - side)} "
                        f"dev {end.ifname} nud permanent"
                    )
        plan = self.plan
        script[self.client.name].append(f"route add default via {plan.router_lan_ip}")
        script[self.router.name].append(f"route add default via {plan.home_wan_gateway}")
        if self.carrier is not None:
            script[self.carrier.name].append(f"route add default via {plan.uplink_core_ip}")
        if self.config.behavior is Behavior.NO_NAT:
            script[self.internet.name].append(f"route add {plan.lan} via {plan.router_wan_ip}")
        script[self.server.name].append(
            f"route add default via {plan.server_core_ip} src {plan.primary_ip}"
        )
        script[self.peer.name].append(f"route add default via {plan.peer_core_ip}")
        if self.wire is not None:
            script[self.wire.name] += ["link set wl up", "link set wr up"]
        for name, cmds in script.items():
            run(["ip", "-n", name, "-batch", "-"], input="".join(c + "\n" for c in cmds))

    def _nft(self, host: Host, script: str) -> None:
        host.exec(["nft", "-f", "-"], input=script, timeout=10)

    def _load_rulesets(self) -> None:
        self._nft(
            self.router,
            nftables.router_ruleset(self._router_spec, self._forwards)
            + nftables.loss_ruleset(self._router_spec.wan_if, self._loss_percent),
        )
        if self.carrier is not None and self._carrier_spec is not None:
            self._nft(self.carrier, nftables.router_ruleset(self._carrier_spec))
        self._nft(self.client, nftables.host_ruleset())

    def _start_wire(self, wire: Host) -> None:
        edge = self.edge
        for host, ifname in ((edge, "wan0"), (self.internet, "up0"), (wire, "wl"), (wire, "wr")):
            # Offloads off on both ends of both pairs: frames cross the wire as they are
            # on the link, no oversized GSO frames, no checksums left for later.
            host.exec(["ethtool", "-K", ifname, *(x for o in _OFFLOADS for x in (o, "off"))],
                      check=False, timeout=10)
        cfg = self.config
        seed = int(self.run_id.rsplit("-", 1)[1], 16)
        argv = [
            sys.executable, "-m", "natprobe.lab.wire",
            "--left", "wl", "--right", "wr",
            "--delay-ms", f"{cfg.delay_ms:g}",
            "--reorder-percent", f"{cfg.reorder_percent:g}",
            "--duplicate-percent", f"{cfg.duplicate_percent:g}",
            "--first-extra-ms", f"{cfg.first_packet_delay_ms:g}",
            "--seed", str(seed),
            "--max-seconds", f"{WIRE_MAX_SECONDS:g}",
        ]  # fmt: skip
        self._wire_log = tempfile.TemporaryFile()
        env = dict(os.environ)
        # The child must import this very natprobe, wherever the caller runs from.
        pkg_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(
            x for x in (pkg_root, env.get("PYTHONPATH", "")) if x
        )
        proc = wire.spawn(argv, stdout=subprocess.PIPE, stderr=self._wire_log, env=env)
        logger.info("wire seed %d: %s", seed, " ".join(argv[1:]))
        self._wait_wire_ready(proc)

    def _wait_wire_ready(self, proc: subprocess.Popen[Any]) -> None:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + _WIRE_READY_TIMEOUT_S
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LabError(f"the wire did not get ready within {_WIRE_READY_TIMEOUT_S:g} s: "
                               f"{self._wire_stderr()}")
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                proc.wait(5)
                raise LabError(f"the wire exited with status {proc.returncode} before it was "
                               f"ready: {self._wire_stderr()}")
            buf += chunk
        if not buf.startswith(b"natprobe-wire ready"):
            raise LabError(f"unexpected first line from the wire: {buf!r}")

    def _wire_stderr(self) -> str:
        if self._wire_log is None:
            return ""
        with contextlib.suppress(OSError):
            self._wire_log.seek(0)
            return self._wire_log.read().decode(errors="replace").strip()
        return ""

    def _collect_wire_summary(self) -> None:
        if self._wire_log is None:
            return
        text = self._wire_stderr()
        self._wire_log.close()
        self._wire_log = None
        lines = [line for line in text.splitlines() if line.strip()]
        self.wire_summary = lines[-1] if lines else None
        if text:
            logger.info("wire: %s", text)

    # ------------------------------------------------------------------ runtime knobs

    def _require_up(self) -> None:
        if self._state != "up":
            raise LabError(f"lab {self.run_id} is not up (state {self._state})")

    def add_forward(self, fwd: PortForward) -> None:
        """Add a port forward on the home router (takes effect for new flows)."""
        self._require_up()
        forwards = [*self._forwards, fwd]
        self._nft(self.router, nftables.replace_forwards(self._router_spec, forwards))
        self._forwards = forwards

    def remove_forwards(self) -> None:
        """Remove every port forward of the home router (existing flows keep theirs)."""
        self._require_up()
        self._nft(self.router, nftables.replace_forwards(self._router_spec, ()))
        self._forwards = []

    def set_public_ip(self, address: IPv4Address) -> None:
        """Give the home router a new WAN (public) address in the uplink network, as an ISP's
        new DHCP lease does: the old address is gone, the NAT and the forwards use the new
        one, every NAT mapping is forgotten. Not with carrier-grade NAT (the carrier's
        address is the public one)."""
        self._require_up()
        if self.carrier is not None:
            raise LabError("set_public_ip: with carrier-grade NAT the public address is the carrier's")
        plan = self.plan
        if address not in plan.uplink or address in (plan.uplink_core_ip, plan.uplink.network_address,
                                                     plan.uplink.broadcast_address):
            raise ValueError(f"{address} is not a free address of the uplink {plan.uplink}")
        old = self.router.wan_ip
        if address == old:
            return
        link = next(link for link in self._links() if link.index == 3)
        router_mac = link.mac(0)
        prefix = plan.uplink.prefixlen
        # Without this, deleting the old (primary) address would delete the new one with it.
        write_sysctls(self.router.name, {"net/ipv4/conf/wan0/promote_secondaries": "1"})
        run(["ip", "-n", self.router.name, "-batch", "-"], input=(
            f"addr add {address}/{prefix} dev wan0\n"
            f"addr del {old}/{prefix} dev wan0\n"
            f"route replace default via {plan.home_wan_gateway}\n"))
        run(["ip", "-n", self.internet.name, "-batch", "-"], input=(
            f"neigh del {old} dev up0\n"
            f"neigh replace {address} lladdr {router_mac} dev up0 nud permanent\n"))
        spec = dataclasses.replace(self._router_spec, wan_ip=address)
        self._nft(self.router, f"delete table ip {nftables.ROUTER_TABLE}\n"
                  + nftables.router_ruleset(spec, self._forwards))
        self._router_spec = spec
        self.router.wan_ip = address
        self.public_ip = address
        self.flush_nat_state()

    def set_loss(self, percent: float) -> None:
        """Change the random loss on the home router's WAN link (each direction)."""
        self._require_up()
        if not 0.0 <= percent <= 100.0:
            raise ValueError(f"percent must be within 0..100, not {percent}")
        self._nft(self.router, nftables.replace_loss(percent))
        self._loss_percent = percent

    def block_on_client(self, protocol: str, port: int) -> None:
        """Make the client's own firewall drop inbound ``protocol``/``port``."""
        self._require_up()
        self._nft(self.client, nftables.block_rule(protocol, port))

    def flush_nat_state(self) -> None:
        """Forget every NAT mapping: conntrack entries and the dynamic map/set."""
        self._require_up()
        nat_boxes: list[tuple[RouterHost, nftables.RouterSpec]] = [
            (self.router, self._router_spec)
        ]
        if self.carrier is not None and self._carrier_spec is not None:
            nat_boxes.append((self.carrier, self._carrier_spec))
        for host, spec in nat_boxes:
            host.exec(["conntrack", "-F"], timeout=10)
            script = nftables.flush_dynamic_state(spec)
            if script is not None:
                self._nft(host, script)

    def address_plan(self) -> dict[str, str | list[str]]:
        """Who has which address, for logs and reports."""
        plan = self.plan
        out: dict[str, str | list[str]] = {
            "client": str(self.client.ip),
            "router_lan": str(self.router.lan_ip),
            "router_wan": str(self.router.wan_ip),
            "public": str(self.public_ip),
            "lan_spare": str(self.lan_spare_ip),
            "server": [str(x) for x in (plan.primary_ip, plan.alternate_ip, plan.directory_ip)],
            "peer": str(self.peer.ip),
        }
        if self.carrier is not None:
            out["carrier_inside"] = str(self.carrier.lan_ip)
            out["carrier_outside"] = str(self.carrier.wan_ip)
        return out
