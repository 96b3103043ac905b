"""Which program holds a port, and what kind of service that is (pure).

When natprobe cannot listen on a UDP port because a program holds it, naming the program
turns "something holds the port" into advice worded for it: WireGuard never answers a
stranger (its handshake answers only known keys), OpenVPN answers a hard reset unless
tls-auth/tls-crypt is on, Jamulus answers a ping. The I/O that finds the holder
(``/proc/net/udp`` + ``/proc/*/fd``, ``ss -p``, ``wg show``) is in
:mod:`natprobe.adapters.holder_lookup`; this module parses its text and classifies.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from natprobe.addressing import IPAddress
from natprobe.observations import HolderKind, PortHolder

__all__ = (
    "ProcSocket",
    "classify_program",
    "parse_proc_net_udp",
    "parse_ss_processes",
    "parse_wg_listen_ports",
)


@dataclass(frozen=True, slots=True)
class ProcSocket:
    """One line of ``/proc/net/udp`` or ``udp6``: a local address, its state and socket inode."""

    local_ip: IPAddress
    port: int
    state: int
    inode: int


def _hex_ip(text: str) -> IPAddress:
    """``/proc/net/udp`` prints addresses as host-order 32-bit words in hex."""
    raw = bytes.fromhex(text)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return IPv4Address(words) if len(words) == 4 else IPv6Address(words)


def parse_proc_net_udp(text: str) -> tuple[ProcSocket, ...]:
    """Parse ``/proc/net/udp``/``udp6`` (or ``tcp``/``tcp6``: the same columns) (header line, then ``sl local rem st ... uid timeout inode``).

    Malformed lines are skipped: this is this kernel's own text, but a parser never raises on it.
    """
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or ":" not in fields[1]:
            continue
        address, _sep, port = fields[1].rpartition(":")
        try:
            sockets.append(ProcSocket(_hex_ip(address), int(port, 16), int(fields[3], 16), int(fields[9])))
        except ValueError:
            continue
    return tuple(sockets)


def parse_ss_processes(text: str, port: int) -> tuple[tuple[str, int], ...]:
    """``(program, pid)`` pairs of ``ss -ulpnH`` lines whose local port is ``port``.

    A line looks like ``UNCONN 0 0 0.0.0.0:51820 0.0.0.0:* users:(("wireguard-go",pid=812,fd=9))``.
    """
    found: list[tuple[str, int]] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or not fields[3].rsplit(":", 1)[-1].isdigit():
            continue
        if int(fields[3].rsplit(":", 1)[-1]) != port:
            continue
        for chunk in line.split("((", 1)[-1].split("),(") if "users:((" in line else ():
            parts = chunk.split(",")
            name = parts[0].strip('"()')
            pid = next((p.removeprefix("pid=") for p in parts if p.startswith("pid=")), "")
            if name and pid.isdigit():
                found.append((name, int(pid)))
    return tuple(found)


def parse_wg_listen_ports(text: str) -> dict[str, int]:
    """``wg show all listen-port`` (``<interface>\\t<port>`` per line) as ``{interface: port}``."""
    ports: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].isdigit():
            ports[fields[0]] = int(fields[1])
    return ports


_PROGRAMS = (
    (HolderKind.WIREGUARD, ("wireguard-go", "wireguard", "boringtun", "wg-quick")),
    (HolderKind.OPENVPN, ("openvpn",)),
    (HolderKind.JAMULUS, ("jamulus",)),
)


def classify_program(program: str | None, *, wireguard_port: bool = False) -> HolderKind:
    """The kind of ``program`` (its process name); ``wireguard_port``: ``wg show`` lists the port
    as a WireGuard interface's listen port (kernel WireGuard has no process to name)."""
    name = (program or "").lower()
    for kind, names in _PROGRAMS:
        if any(name == n or name.startswith(n) for n in names):
            return kind
    if wireguard_port and not name:
        return HolderKind.WIREGUARD
    return HolderKind.OTHER
