"""Socket helpers for lab tests: sockets made inside a namespace, bounded receives."""

from __future__ import annotations

import socket
import time
from ipaddress import IPv4Address

from natprobe.lab import Host

Addr = tuple[str, int]
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


def udp(host: Host, ip: IPv4Address | str = "0.0.0.0", port: int = 0, timeout: float = 2.0,
        rcvbuf: int | None = None) -> socket.socket:
    """A UDP socket living in ``host``'s namespace (usable from any thread afterwards)."""
    with host.entered():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
    sock.bind((str(ip), port))
    sock.settimeout(timeout)
    return sock


def tcp_listener(host: Host, ip: IPv4Address | str, port: int, timeout: float = 2.0) -> socket.socket:
    with host.entered():
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((str(ip), port))
    sock.listen(4)
    sock.settimeout(timeout)
    return sock


def tcp_connect(host: Host, dest: tuple[IPv4Address | str, int], timeout: float = 2.0) -> socket.socket:
    with host.entered():
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((str(dest[0]), dest[1]))
    except BaseException:
        sock.close()
        raise
    return sock


def to(ip: IPv4Address | str, port: int) -> Addr:
    return (str(ip), port)


def recv_one(sock: socket.socket) -> tuple[bytes, Addr]:
    data, addr = sock.recvfrom(2048)
    return data, (addr[0], addr[1])


def collect_until(sock: socket.socket, marker: bytes, timeout: float = 2.0,
                  drain: float = 0.1) -> list[tuple[bytes, Addr]]:
    """Everything ``sock`` receives until ``marker`` arrives, plus a short drain.

    The marker is sent *after* the datagrams under test along the same path, so once it
    is here anything that was going to arrive has arrived; the drain only covers a
    reordering between CPUs. Raises TimeoutError if the marker never comes.
    """
    got: list[tuple[bytes, Addr]] = []
    deadline = time.monotonic() + timeout
    seen_marker = False
    while not seen_marker:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"marker {marker!r} not received; got {got}")
        sock.settimeout(left)
        item = recv_one(sock)
        got.append(item)
        seen_marker = item[0] == marker
    got += drain_for(sock, drain)
    return got


def drain_for(sock: socket.socket, seconds: float) -> list[tuple[bytes, Addr]]:
    """What arrives within ``seconds`` (for "nothing must arrive" checks)."""
    got: list[tuple[bytes, Addr]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            got.append(recv_one(sock))
        except TimeoutError:
            break
    return got


def count_until_quiet(sock: socket.socket, quiet: float = 0.3, limit: float = 10.0) -> list[bytes]:
    """Receive until ``quiet`` seconds pass without a datagram (bounded by ``limit``)."""
    got: list[bytes] = []
    end = time.monotonic() + limit
    while time.monotonic() < end:
        sock.settimeout(quiet)
        try:
            got.append(sock.recv(2048))
        except TimeoutError:
            break
    return got
