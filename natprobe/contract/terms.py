"""The contract's terms: enums, formats, limits and byte budgets.

Free of msgspec on purpose: the echo server's STUN-only path (its Jamulus directory) needs
the byte budgets, and a server without ``--http-port`` should not load the record library
(see benchmarks/README.md, "The HTTP contract's library").
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final, Literal

from natprobe.jamulus.constants import (
    MAX_LEN_SERVER_NAME,
    PING_BYTES,
    PING_WITH_NUM_CLIENTS_BYTES,
    REQ_VERSION_AND_OS_BYTES,
    SEND_EMPTY_BYTES,
)

__all__ = (
    "API_SERVER_NAME",
    "COUNT_MODE",
    "COUNT_RANGE",
    "DEFAULT_COUNT",
    "DEFAULT_MAX_BODY_BYTES",
    "MAX_NAME_LENGTH",
    "TOKEN_ENVIRONMENT",
    "token_from_environment",
    "DEFAULT_TIMEOUT",
    "HOLE_PUNCH_FULL_BUDGET",
    "HOLE_PUNCH_MIN_BUDGET",
    "HOLE_PUNCH_PEER_PINGS",
    "HOLE_PUNCH_REQUESTS",
    "HOLE_PUNCH_STRANGER_PINGS",
    "HOST_MODES",
    "HTTP_NONCE_MODES",
    "HTTP_NONCE_PATH",
    "HOST_PATTERN",
    "JAMULUS_PROBE_BODY_BYTES",
    "JAMULUS_PROBE_RESEND_BYTES",
    "JAMULUS_PROBE_ROUNDS",
    "JAMULUS_PROBE_ROUND_BYTES",
    "MODES",
    "NONCE_MODES",
    "NONCE_PATTERN",
    "NONCE_PREFIX",
    "PING_BYTES",
    "PORT_RANGE",
    "REGISTRATION_NAME_PATTERN",
    "SEND_EMPTY_BYTES",
    "TIMEOUT_RANGE",
    "UDP_SERVICE_ATTEMPTS",
    "UDP_SERVICE_BYTES",
    "ErrorCode",
    "ProbeError",
    "ProbeMode",
    "ServerName",
    "TransportProtocol",
    "full_pattern",
    "nonce_payload",
    "udp_service_body_bytes",
)


def full_pattern(body: str) -> str:
    """``body`` anchored at both ends, in a form Python's ``re`` and ECMA-262 read alike.

    msgspec and JSON Schema validators apply a pattern with a *search*; Python's ``$`` also
    matches before a final newline, so ``(?!\\n)`` stops ``"name\\n"`` from passing (in
    ECMA-262 ``$`` is the end of input already and the lookahead changes nothing).
    """
    return f"^(?:{body})$(?!\\n)"


# --- enums ---------------------------------------------------------------------------------------


class TransportProtocol(enum.StrEnum):
    """The transport a port is checked over (the probe request's ``protocol``)."""

    UDP = "udp"
    TCP = "tcp"


class ProbeMode(enum.StrEnum):
    """What the echo server does at the requester's port (the probe request's ``mode``)."""

    NONCE = "nonce"
    """UDP: datagrams carrying the nonce; TCP: connect and write the nonce. The client listens
    for it on the port (the port is free on the client's host)."""
    JAMULUS = "jamulus"
    HTTP = "http"
    HTTPS = "https"
    SSH = "ssh"
    CONNECT = "connect"
    OPENVPN = "openvpn"
    """UDP: OpenVPN's P_CONTROL_HARD_RESET_CLIENT_V2 (answered unless tls-auth/tls-crypt is on)."""
    DNS = "dns"
    """UDP: a DNS query for ``. NS`` (RFC 1035)."""
    NTP = "ntp"
    """UDP: an NTPv4 client packet (RFC 5905)."""
    QUIC = "quic"
    """UDP: a 1200-byte long-header packet with a reserved version: Version Negotiation (RFC 9000)."""


class ErrorCode(enum.StrEnum):
    """``error.code`` of every error body (``{"error": {"code": ..., "message": ...}}``)."""

    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"
    PORT_NOT_ALLOWED = "port_not_allowed"
    RELAY_NOT_ALLOWED = "relay_not_allowed"
    INTERNAL = "internal"


class ProbeError(enum.StrEnum):
    """Why a TCP probe did not get what it came for (the ``error`` field of results).

    An OS error without a name here is reported as its lower-case errno symbol (``"eacces"``),
    so the field is a string, not this enum.
    """

    REFUSED = "refused"
    """The target answered the SYN with a RST: the port is reachable and nothing listens, or a
    firewall rejects (RFC 5382 REQ-4: a NAT without a mapping should not answer at all)."""
    TIMEOUT = "timeout"
    """No answer within the timeout: typically no port forward, or a dropping firewall."""
    UNREACHABLE = "unreachable"
    """ICMP host/network unreachable (or administratively prohibited)."""
    RESET = "reset"
    """Connected, then the peer reset the connection before answering."""
    CLOSED = "closed"
    """Connected, then the peer closed the connection without sending anything useful."""
    PROTOCOL = "protocol"
    """Connected, and the peer sent something that is not the expected protocol."""
    TLS = "tls"
    """Connected, and the TLS handshake failed for a reason other than certificate verification."""


# --- limits and formats --------------------------------------------------------------------------

ServerName = Literal["natprobe-echo"]
API_SERVER_NAME: Final[ServerName] = "natprobe-echo"
"""``whoami``'s ``server`` and the bearer realm."""
DEFAULT_MAX_BODY_BYTES: Final = 4096
"""Request bodies the server accepts by default (an operator may change it)."""
TOKEN_ENVIRONMENT: Final = "NATPROBE_TOKEN"
"""The environment variable the server and the client both read the shared bearer token from."""
MAX_NAME_LENGTH: Final = 253
"""The longest DNS name in text form, without the final dot (RFC 1035 section 2.3.4: 255 octets on the wire)."""
COUNT_RANGE: Final = (1, 5)
DEFAULT_COUNT: Final = 3
TIMEOUT_RANGE: Final = (0.5, 5.0)
DEFAULT_TIMEOUT: Final = 2.0
NONCE_PREFIX: Final = b"natprobe-nonce:"
"""Every nonce datagram (and the TCP nonce) is exactly this prefix followed by the nonce's ASCII."""
NONCE_PATTERN: Final = full_pattern("[0-9a-fA-F]{16,64}")
PORT_RANGE: Final = (1, 0xFFFF)

def nonce_payload(nonce: str) -> bytes:
    """The exact bytes of a nonce datagram / TCP nonce: ``b"natprobe-nonce:" + nonce``."""
    return NONCE_PREFIX + nonce.encode("ascii")



MODES: Final[dict[TransportProtocol, tuple[ProbeMode, ...]]] = {
    TransportProtocol.UDP: (ProbeMode.NONCE, ProbeMode.JAMULUS, ProbeMode.OPENVPN, ProbeMode.DNS, ProbeMode.NTP,
                            ProbeMode.QUIC),
    TransportProtocol.TCP: (ProbeMode.NONCE, ProbeMode.CONNECT, ProbeMode.HTTP, ProbeMode.HTTPS, ProbeMode.SSH),
}
"""The modes each protocol supports."""
NONCE_MODES: Final = (ProbeMode.NONCE,)
"""Modes that need (and alone take) ``nonce``."""
HOST_MODES: Final = (ProbeMode.HTTP, ProbeMode.HTTPS)
"""Modes that take ``host``."""
HTTP_NONCE_MODES: Final = (ProbeMode.HTTP,)
"""Modes that may take ``nonce``: the GET then asks for ``HTTP_NONCE_PATH`` + nonce instead
of ``/`` (a token an HTTP reverse proxy carries through, for a relay check)."""
HTTP_NONCE_PATH: Final = "/.well-known/natprobe/"
COUNT_MODE: Final = (TransportProtocol.UDP, ProbeMode.NONCE)
"""The one protocol/mode pair that takes ``count``."""

HOST_PATTERN: Final = full_pattern(
    r"(?=.{1,253}\.?$)(?:(?!-)[A-Za-z0-9-]{1,63}(?<!-)\.)*(?!-)(?=[A-Za-z0-9-]*[A-Za-z-])[A-Za-z0-9-]{1,63}(?<!-)\.?"
)
"""A DNS name: LDH labels of 1-63 characters, at most 253 in all, last label not all digits
(so IP literals are refused: the Host header and SNI name a site, not an address)."""

# --- what the UDP costs (the server never sends more UDP bytes than the request body holds) ------

HOLE_PUNCH_STRANGER_PINGS: Final = 2
HOLE_PUNCH_REQUESTS: Final = 3
HOLE_PUNCH_PEER_PINGS: Final = 3
HOLE_PUNCH_MIN_BUDGET: Final = 2 * PING_BYTES + SEND_EMPTY_BYTES
"""Request body bytes that pay for one try of each step (41)."""
HOLE_PUNCH_FULL_BUDGET: Final = (
    (HOLE_PUNCH_STRANGER_PINGS + HOLE_PUNCH_PEER_PINGS) * PING_BYTES + HOLE_PUNCH_REQUESTS * SEND_EMPTY_BYTES
)
"""Request body bytes that pay for every retry (110): pad the JSON to this size."""

JAMULUS_PROBE_ROUND_BYTES: Final = PING_WITH_NUM_CLIENTS_BYTES + REQ_VERSION_AND_OS_BYTES
"""Bytes of one ``mode: jamulus`` ping round: CLM_PING_MS_WITHNUMCLIENTS (14) + CLM_REQ_VERSION_AND_OS (9)."""
JAMULUS_PROBE_RESEND_BYTES: Final = REQ_VERSION_AND_OS_BYTES
"""After an answer the probe may re-ask for the version once (natprobe.jamulus.probe.PingProbe)."""
JAMULUS_PROBE_ROUNDS: Final = 3
"""Ping rounds at most in ``mode: jamulus``; fewer when the request body pays for fewer."""
JAMULUS_PROBE_BODY_BYTES: Final = JAMULUS_PROBE_ROUNDS * JAMULUS_PROBE_ROUND_BYTES + JAMULUS_PROBE_RESEND_BYTES
"""Request body bytes that pay for every Jamulus ping round (78)."""

UDP_SERVICE_ATTEMPTS: Final = 3
"""First packets a ``mode: openvpn|dns|ntp|quic`` probe sends at most (one per third of the timeout)."""
UDP_SERVICE_BYTES: Final = {ProbeMode.OPENVPN: 14, ProbeMode.DNS: 17, ProbeMode.NTP: 48, ProbeMode.QUIC: 1200}
"""Bytes of each mode's first packet (natprobe.udp_services): the body must pay for every attempt."""


def udp_service_body_bytes(mode: ProbeMode) -> int:
    """Request body bytes that pay for every attempt of a UDP service probe (0: not one)."""
    return UDP_SERVICE_ATTEMPTS * UDP_SERVICE_BYTES.get(mode, 0)


REGISTRATION_NAME_PATTERN: Final = full_pattern(f"[A-Za-z0-9._~-]{{1,{MAX_LEN_SERVER_NAME}}}")
"""The registration name natprobe uses: a per-test nonce, at most 20 characters (Jamulus' limit)."""


def token_from_environment(environ: Mapping[str, str]) -> str | None:
    """``$NATPROBE_TOKEN`` without surrounding whitespace; ``None`` when unset or blank."""
    token = environ.get(TOKEN_ENVIRONMENT, "").strip()
    return token or None
