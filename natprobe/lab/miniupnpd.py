"""A real miniupnpd (UPnP IGD, NAT-PMP, PCP) on the lab's home router.

::

    with Lab() as lab:
        start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip)
        with Miniupnpd(lab) as daemon:          # in the router namespace, ended by PID
            ...                                  # the client maps ports on 192.168.77.1
            daemon.dnat_rules()                  # what it installed, read from nftables

Debian's ``miniupnpd-nftables`` 2.3.1 (installed by scripts/setup.sh). It writes its rules
into chains that must exist before it starts (Debian's ``nft_init.sh`` does not run as
shipped), so :class:`Miniupnpd` creates them in a table of its own, ``inet npupnp``, and
deletes that table when the daemon stops. The lab's "public" addresses are documentation
ranges, which miniupnpd counts as reserved ("port forwarding is impossible"), so it learns
its public address by STUN from the lab's RFC 5780 echo server (``ext_perform_stun``): it
enables forwarding only when its four CHANGE-REQUEST bindings are all answered, so the
router's input firewall gets one accept rule for those replies. Behind the lab's CGNAT the
carrier filters them, and miniupnpd reports the carrier's public address and refuses to map,
as it would on a real double-NAT line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import selectors
import shutil
import subprocess
import tempfile
import time
import uuid
from ipaddress import IPv4Address
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from natprobe.errors import LabError
from natprobe.lab.netns import stop_process
from natprobe.lab.network import Lab, RouterHost

__all__ = ("Miniupnpd", "NFT_TABLE", "miniupnpd_missing")

logger = logging.getLogger(__name__)

NFT_TABLE: Final = "npupnp"
HTTP_PORT: Final = 5000
READY_TIMEOUT_S: Final = 15.0
_STUN_COMMENT: Final = "natprobe-lab miniupnpd stun"
# The lines miniupnpd -d prints once STUN has decided (2.3.1's wording).
_READY: Final = re.compile(r"Port forwarding is now (enabled|disabled)|STUN: \.\.\. done|Performing STUN failed")


def miniupnpd_missing() -> str | None:
    """Why miniupnpd cannot run here, or None."""
    for tool in ("miniupnpd", "nft"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed (scripts/setup.sh installs miniupnpd-nftables)"
    return None


def _chains() -> str:
    t = NFT_TABLE
    return (
        f"table inet {t} {{\n"
        "  chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }\n"
        "  chain miniupnpd { }\n"
        "  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }\n"
        "  chain prerouting_miniupnpd { }\n"
        "  chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }\n"
        "  chain postrouting_miniupnpd { }\n"
        "}\n"
    )


class Miniupnpd:
    """miniupnpd in the home router's (or the carrier's) namespace; a context manager that starts and stops it."""

    def __init__(self, lab: Lab, *, upnp: bool = True, natpmp: bool = True, secure_mode: bool = True,
                 stun_server: IPv4Address | None = None, stun_port: int = 3478,
                 on_carrier: bool = False) -> None:
        self.lab = lab
        if on_carrier and lab.carrier is None:
            raise LabError("on_carrier needs a lab built with cgnat=True")
        self.host: RouterHost = lab.carrier if on_carrier and lab.carrier is not None else lab.router
        """Where it runs: the home router, or (``on_carrier``) the carrier's NAT, whose "LAN" is
        the home router's WAN link -- so a client behind the home router reaches it through a NAT."""
        self.lan = lab.plan.home_wan if on_carrier else lab.plan.lan
        self.upnp = upnp
        self.natpmp = natpmp
        self.secure_mode = secure_mode
        """False lets a LAN client map ports to another LAN host (as many routers do)."""
        self.stun_server = stun_server if stun_server is not None else lab.server.primary_ip
        self.stun_port = stun_port
        self.process: subprocess.Popen[Any] | None = None
        self.forwarding_enabled: bool | None = None
        """What miniupnpd concluded from STUN (None: it printed neither)."""
        self.log: list[str] = []
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    # ------------------------------------------------------------------ lifecycle

    def config_text(self) -> str:
        return "\n".join([
            "ext_ifname=wan0",
            "listening_ip=lan0",
            f"http_port={HTTP_PORT}",
            f"enable_natpmp={'yes' if self.natpmp else 'no'}",
            f"enable_upnp={'yes' if self.upnp else 'no'}",
            f"secure_mode={'yes' if self.secure_mode else 'no'}",
            "system_uptime=yes",
            f"uuid={uuid.uuid4()}",
            "ext_perform_stun=yes",
            f"ext_stun_host={self.stun_server}",
            f"ext_stun_port={self.stun_port}",
            f"upnp_table_name={NFT_TABLE}",
            f"upnp_nat_table_name={NFT_TABLE}",
            f"allow 1024-65535 {self.lan} 1024-65535",
            "deny 0-65535 0.0.0.0/0 0-65535",
            "",
        ])

    def __enter__(self) -> Miniupnpd:
        reason = miniupnpd_missing()
        if reason is not None:
            raise LabError(reason)
        router = self.host
        try:
            router.exec(["nft", "-f", "-"], input=_chains(), timeout=10)
            # miniupnpd's STUN replies come from the server's other address and port:
            # unsolicited for the router's input chain, which drops them otherwise.
            router.exec(["nft", "insert", "rule", "ip", "nplab", "input", "iifname", "wan0", "udp", "sport",
                         f"{self.stun_port}-{self.stun_port + 1}", "accept", "comment", f'"{_STUN_COMMENT}"'],
                        timeout=10)
            self._dir = tempfile.TemporaryDirectory(prefix="natprobe-miniupnpd-")
            conf = Path(self._dir.name) / "miniupnpd.conf"
            conf.write_text(self.config_text())
            binary = shutil.which("miniupnpd") or "/usr/sbin/miniupnpd"
            self.process = router.spawn(
                [binary, "-d", "-f", str(conf), "-P", str(Path(self._dir.name) / "miniupnpd.pid")],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            self._wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _wait_ready(self) -> None:
        proc = self.process
        assert proc is not None and proc.stderr is not None
        fd = proc.stderr.fileno()
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + READY_TIMEOUT_S
        pending = b""
        try:
            # Raw reads: a buffered readline() could hold the ready line while select() waits.
            while time.monotonic() < deadline and len(self.log) < 2000:
                if not selector.select(max(0.0, deadline - time.monotonic())):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    text = line.decode(errors="replace").rstrip()
                    self.log.append(text)
                    found = _READY.search(text)
                    if found is None:
                        continue
                    if "failed" in text:
                        raise LabError("miniupnpd: " + " | ".join(self.log[-8:]))
                    if found.group(1) is not None:
                        self.forwarding_enabled = found.group(1) == "enabled"
                    # Let the HTTP/NAT-PMP sockets open: they follow right after STUN.
                    self._wait_listening(deadline)
                    return
        finally:
            selector.close()
        raise LabError(f"miniupnpd did not get ready within {READY_TIMEOUT_S:g} s (exit {proc.poll()}): "
                       + " | ".join(self.log[-8:]))

    def _wait_listening(self, deadline: float) -> None:
        want = f":{HTTP_PORT}" if self.upnp else ":5351"
        while time.monotonic() < deadline:
            listing = self.host.exec(["ss", "-lnt" if self.upnp else "-lnu"], check=False, timeout=5).stdout
            if want in listing:
                return
            time.sleep(0.05)
        raise LabError(f"miniupnpd is not listening on {want} after STUN")

    def close(self) -> None:
        """Stop the daemon (by PID) and delete its nftables table and the STUN accept rule."""
        proc, self.process = self.process, None
        if proc is not None:
            stop_process(proc, 5)
        if proc is not None and proc.stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                rest = proc.stderr.read()
                self.log += rest.decode(errors="replace").splitlines()
                proc.stderr.close()
        router = self.host
        with contextlib.suppress(LabError, OSError, subprocess.SubprocessError):
            router.exec(["nft", "delete", "table", "inet", NFT_TABLE], check=False, timeout=10)
            listing = router.exec(["nft", "-a", "list", "chain", "ip", "nplab", "input"], check=False, timeout=10)
            for line in listing.stdout.splitlines():
                if _STUN_COMMENT in line and "# handle" in line:
                    handle = line.rsplit("# handle", 1)[1].strip()
                    router.exec(["nft", "delete", "rule", "ip", "nplab", "input", "handle", handle],
                                check=False, timeout=10)
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    # ------------------------------------------------------------------ what it did

    def dnat_rules(self) -> list[str]:
        """The DNAT rules miniupnpd keeps in its prerouting chain: one per live mapping."""
        listing = self.host.exec(
            ["nft", "list", "chain", "inet", NFT_TABLE, "prerouting_miniupnpd"], check=False, timeout=10)
        if listing.returncode != 0:
            raise LabError(f"cannot read miniupnpd's chain: {listing.stderr.strip()}")
        return [line.strip() for line in listing.stdout.splitlines() if "dnat" in line]
