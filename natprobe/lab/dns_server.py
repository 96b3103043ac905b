"""A small authoritative DNS server in the lab's Internet, and the resolv.conf that points at it.

``dnsmasq`` (Debian's ``dnsmasq-base``: the binary, no service) runs in the Internet
namespace on ``198.51.100.53`` with the zone given as host records; names under the zone
it does not know get NXDOMAIN, a known name without a record of a type gets an empty answer
(NODATA), and it never forwards anywhere (``--no-resolv``). A second server on
``198.51.100.54`` gives another view of the same names (split horizon), and
``198.51.100.55`` is a resolver address whose queries the Internet namespace silently
drops: a resolver that never answers.

Hosts use a server through ``/etc/netns/<namespace>/resolv.conf`` (:mod:`natprobe.lab.resolv`):
``ip netns exec`` (which :meth:`Host.spawn` and :meth:`Host.exec` use) bind-mounts it over
``/etc/resolv.conf`` for the process it starts, so start the process *after*
:meth:`LabDns.use`. Code running in this process through :meth:`Host.entered` still sees
the machine's own resolv.conf: pass the nameserver explicitly there. :meth:`LabDns.close`
(or leaving the ``with`` block) stops the servers and points the hosts back at the lab's
default (no resolver); the lab removes the files with its namespaces.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from types import TracebackType
from typing import Any

from natprobe.errors import LabError
from natprobe.lab.netns import NETNS_DIR, Host, stop_process
from natprobe.lab.resolv import write_resolv_conf
from natprobe.lab.network import Lab

__all__ = ("LabDns", "ZONE", "PRIMARY_NS", "SECOND_NS", "SILENT_NS")

ZONE = "example.test"
"""RFC 2606 reserves .test: no real name is ever shadowed."""
PRIMARY_NS = IPv4Address("198.51.100.53")
SECOND_NS = IPv4Address("198.51.100.54")
SILENT_NS = IPv4Address("198.51.100.55")
_READY_TIMEOUT_S = 5.0
_SILENT_TABLE = "nplab_dns"

Records = Mapping[str, Sequence[IPv4Address | IPv6Address]]


def dnsmasq_argv(address: IPv4Address, records: Records, zone: str = ZONE,
                 txt: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """The dnsmasq command line serving ``records`` (name → addresses) and ``txt`` (name → TXT
    strings, one record each) for ``zone`` on ``address``."""
    binary = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    argv = [
        binary, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
        "--bind-interfaces", f"--listen-address={address}", "--port=53", "--pid-file=",
        "--local-ttl=0", f"--local=/{zone}/", "--user=root", "--group=root",
    ]  # fmt: skip
    for name, addresses in sorted(records.items()):
        if not name.endswith("." + zone) and name != zone:
            raise ValueError(f"{name} is outside the lab's zone {zone}")
        if addresses:
            argv.append(f"--host-record={name},{','.join(str(a) for a in addresses)}")
    for name, texts in sorted((txt or {}).items()):
        if not name.endswith("." + zone):
            raise ValueError(f"{name} is outside the lab's zone {zone}")
        for text in texts:
            if "," in text or '"' in text:
                raise ValueError(f"TXT text must not hold ',' or '\"': {text!r}")
            argv.append(f"--txt-record={name},{text}")
    return argv


class LabDns:
    """The lab's DNS servers; see the module docstring."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self._servers: dict[IPv4Address, subprocess.Popen[Any]] = {}
        self._used: list[str] = []
        self._silenced = False

    def __enter__(self) -> LabDns:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def serve(self, records: Records, *, address: IPv4Address = PRIMARY_NS,
              txt: Mapping[str, Sequence[str]] | None = None) -> None:
        """(Re)start the server on ``address`` with exactly ``records`` (and ``txt``)."""
        self._stop(address)
        internet = self.lab.internet
        internet.exec(["ip", "addr", "replace", f"{address}/32", "dev", "lo"])
        proc = internet.spawn(dnsmasq_argv(address, records, txt=txt), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._servers[address] = proc
        self._wait_ready(proc, address)

    def silence(self, address: IPv4Address = SILENT_NS) -> IPv4Address:
        """Make ``address`` a resolver that never answers (queries dropped, no ICMP error)."""
        internet = self.lab.internet
        internet.exec(["ip", "addr", "replace", f"{address}/32", "dev", "lo"])
        if not self._silenced:
            internet.exec(["nft", "-f", "-"], input=(
                f"table inet {_SILENT_TABLE} {{\n  chain input {{ type filter hook input priority filter; policy accept;\n"
                f"    ip daddr {address} meta l4proto {{ udp, tcp }} th dport 53 drop\n  }}\n}}\n"
            ))
            self._silenced = True
        return address

    def use(self, host: Host, nameserver: IPv4Address = PRIMARY_NS) -> Path:
        """Point ``host``'s resolver at ``nameserver`` (for processes started from now on)."""
        if host.name not in self._used:
            self._used.append(host.name)
        return write_resolv_conf(host.name, nameserver)

    def _wait_ready(self, proc: subprocess.Popen[Any], address: IPv4Address) -> None:
        import dns.exception
        import dns.message
        import dns.query

        query = dns.message.make_query(ZONE, "SOA")
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise LabError(f"dnsmasq exited with status {proc.returncode}: {err.strip()}")
            with self.lab.internet.entered():
                try:
                    dns.query.udp(query, str(address), timeout=0.2)
                    return
                except (OSError, dns.exception.Timeout):
                    time.sleep(0.05)
        raise LabError(f"dnsmasq did not answer on {address} within {_READY_TIMEOUT_S:g} s")

    def _stop(self, address: IPv4Address) -> None:
        proc = self._servers.pop(address, None)
        if proc is None or proc.poll() is not None:
            return
        stop_process(proc, 2.0)
        if proc.stderr is not None:
            with contextlib.suppress(OSError):
                proc.stderr.close()

    def close(self) -> None:
        """Stop the servers this object started and remove the resolv.conf directories."""
        for address in list(self._servers):
            with contextlib.suppress(Exception):
                self._stop(address)
        for name in self._used:  # back to the lab's default (no resolver), if the lab is still up
            if (NETNS_DIR / name).exists():
                write_resolv_conf(name)
        self._used = []


def lookup(host: Host, name: str, rdtype: str, nameserver: IPv4Address = PRIMARY_NS) -> list[str]:
    """Ask ``nameserver`` from inside ``host`` (for tests of the lab itself)."""
    import dns.message
    import dns.query

    with host.entered():
        answer = dns.query.udp(dns.message.make_query(name, rdtype), str(nameserver), timeout=1.0)
    return [item.to_text() for rrset in answer.answer for item in rrset]

