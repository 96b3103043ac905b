"""natprobe's exceptions: one root, a small tree.

::

    NatprobeError
    ├── DecodeError            bytes from a peer that do not parse (STUN, Jamulus, HTTP API)
    ├── IntegrityError         MESSAGE-INTEGRITY or FINGERPRINT present but wrong
    ├── TransactionError       a STUN transaction did not produce a success response
    │   ├── TransactionTimeout     no response within the retransmission policy
    │   └── ErrorResponse          the server answered with an ERROR-CODE (carries it)
    ├── NetworkError           an OS-level failure (bind, connect, unreachable), mapped
    │                          from OSError at the socket boundary
    ├── ServerError            the echo server's HTTP API refused or failed a request
    ├── PortMappingError       a gateway refused or failed a port-mapping request (UPnP IGD)
    ├── HistoryError           natprobe watch's history database cannot be used (corrupt,
    │                          written by a newer natprobe, not writable); the file is kept
    └── LabError               the network-namespace lab could not be built or torn down

A missing reply during NAT discovery is *not* an exception: discovery records it as an
observation. Exceptions are for callers who asked for one answer and did not get it.
Programming errors by the caller (an out-of-range port) raise ``ValueError`` as usual.
"""

from __future__ import annotations

__all__ = (
    "NatprobeError",
    "DecodeError",
    "IntegrityError",
    "TransactionError",
    "TransactionTimeout",
    "ErrorResponse",
    "NetworkError",
    "ServerError",
    "PortMappingError",
    "HistoryError",
    "LabError",
)


class NatprobeError(Exception):
    """Root of every exception natprobe raises on purpose."""


class DecodeError(NatprobeError):
    """Peer input that does not parse. The only error a decoder raises."""


class IntegrityError(NatprobeError):
    """A MESSAGE-INTEGRITY or FINGERPRINT attribute that does not verify."""


class TransactionError(NatprobeError):
    """A request/response exchange that ended without a success response."""


class TransactionTimeout(TransactionError):
    """Every retransmission went unanswered (RFC 8489 section 6.2.1)."""


class ErrorResponse(TransactionError):
    """The server answered with an error response (RFC 8489 section 14.8)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"STUN error {code}: {reason}" if reason else f"STUN error {code}")
        self.code = code
        self.reason = reason


class NetworkError(NatprobeError):
    """A socket-level failure, mapped from ``OSError`` at the transport boundary."""


class ServerError(NatprobeError):
    """The echo server refused or failed a request over its HTTP API."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        """The error body's ``code`` (``relay_not_allowed``…), when the server sent one."""


class PortMappingError(NatprobeError):
    """A gateway answered a port-mapping request with an error (a UPnP fault, an HTTP
    failure). ``code`` is the UPnP error code when there is one (718: the port is mapped
    to another host; 725: only permanent leases)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class HistoryError(NatprobeError):
    """The watch history (SQLite) cannot be read or written; the message names the file and
    what to do. natprobe never deletes or rewrites a database it cannot read."""


class LabError(NatprobeError):
    """The network-namespace lab could not be built, used or torn down."""
