"""``POST /v1/exposure``: what the Internet sees of the requester's own public address.

The echo server scans the address the request came from (never an address the request
names: there is no field for one, and unknown fields are refused) on a fixed, server-side
list of ports home networks most often expose (:data:`DEFAULT_PORTS`), plus at most
:data:`MAX_EXTRA_PORTS` ports the requester names. For each port it reports the state
(``open``, ``closed``, ``filtered``) and what answered, read before any authentication:
banners, the TLS certificate, the HTTP ``Server`` header, the SSH version and the
authentication methods the server offers (RFC 4252 section 5.2, the ``none`` request).

The request records are the contract's (:class:`~natprobe.contract.base.Record`, refusing
unknown fields) and decode with the contract's one decoder (:func:`natprobe.contract.decode`);
the answer's records are frozen dataclasses, encoded and validated with msgspec. Pure.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Annotated, Any, Final

import msgspec

from natprobe.contract.base import Port, Record, decode
from natprobe.contract.terms import HOST_PATTERN, JAMULUS_PROBE_BODY_BYTES, TransportProtocol
from natprobe.errors import DecodeError

__all__ = (
    "DEFAULT_PORTS",
    "MAX_EXTRA_PORTS",
    "MIN_SCAN_INTERVAL_S",
    "SCAN_DEADLINE_S",
    "UDP_BUDGET_PER_PORT",
    "ExposureRequest",
    "ExposureResponse",
    "HttpDetails",
    "PortRef",
    "PortState",
    "ScanProtocol",
    "ScannedPort",
    "SshDetails",
    "TlsDetails",
    "EXPOSURE_REQUEST_RULES",
    "RequestError",
    "decode_request",
    "decode_response",
    "encode",
    "openapi_fragment",
    "valid_host",
)


ScanProtocol = TransportProtocol
"""The scan's ``protocol``: the contract's one transport enum."""


class PortState(enum.StrEnum):
    """What a port did (ShieldsUP's open / closed / stealth)."""

    OPEN = "open"
    """A TCP connection was accepted, or the UDP service answered."""
    CLOSED = "closed"
    """Refused: a RST (or an ICMP reject) came back; nothing listens or a firewall rejects."""
    FILTERED = "filtered"
    """No answer at all within the timeout: nothing forwarded, or a firewall drops."""


class PortRef(Record, frozen=True, forbid_unknown_fields=True):
    """A port the requester names (``--expect``)."""

    port: Port
    protocol: ScanProtocol = ScanProtocol.TCP


# The server-side list. Why each is here: the guides' "only the ports you need" and what
# scans of home address space find open most (ShieldsUP's "common ports" preset, Shodan's
# top home-router services). Service names are the IANA ones.
DEFAULT_PORTS: tuple[tuple[int, ScanProtocol, str], ...] = (
    (21, ScanProtocol.TCP, "ftp"),
    (22, ScanProtocol.TCP, "ssh"),
    (23, ScanProtocol.TCP, "telnet"),
    (25, ScanProtocol.TCP, "smtp"),
    (80, ScanProtocol.TCP, "http"),
    (443, ScanProtocol.TCP, "https"),
    (445, ScanProtocol.TCP, "smb"),
    (1433, ScanProtocol.TCP, "mssql"),
    (1883, ScanProtocol.TCP, "mqtt"),
    (3306, ScanProtocol.TCP, "mysql"),
    (3389, ScanProtocol.TCP, "rdp"),
    (5000, ScanProtocol.TCP, "upnp"),
    # miniupnpd and many router firmwares serve the UPnP IGD control URLs here (it is also
    # Synology DSM's admin port): either way an admin/control surface.
    (5432, ScanProtocol.TCP, "postgresql"),
    (5900, ScanProtocol.TCP, "vnc"),
    (6379, ScanProtocol.TCP, "redis"),
    (7547, ScanProtocol.TCP, "tr-069"),
    # TR-069/CWMP: the ISP's remote management of the router (the 2016 Mirai wave came in here).
    (8080, ScanProtocol.TCP, "http-alt"),
    (8443, ScanProtocol.TCP, "https-alt"),
    (27017, ScanProtocol.TCP, "mongodb"),
    (49152, ScanProtocol.TCP, "upnp"),
    # libupnp/Broadcom routers' UPnP control port. UDP 1900 (SSDP) is deliberately not probed:
    # soliciting an SSDP answer is the classic reflection-amplification pattern, and a router
    # that answers SSDP from the Internet almost always also exposes its control port above.
    (22124, ScanProtocol.UDP, "jamulus"),
)
MAX_EXTRA_PORTS = 16
"""Ports a request may add to :data:`DEFAULT_PORTS`."""
MIN_SCAN_INTERVAL_S = 180.0
"""One scan per source address (and per IPv6 /64) at most this often."""
SCAN_DEADLINE_S = 13.0
"""The whole scan ends within this many seconds (ports still running are reported filtered)."""
UDP_BUDGET_PER_PORT = JAMULUS_PROBE_BODY_BYTES
"""Request body bytes that pay for the Jamulus ping rounds of one UDP port: the server never
sends more UDP bytes than the request carried (reflection safety), so a client pads its body."""

_HOST = re.compile(HOST_PATTERN, re.ASCII)

EXPOSURE_REQUEST_RULES: Final = {
    "extra": (
        f"'extra' must list at most {MAX_EXTRA_PORTS} extra ports, each "
        '{"port": an integer from 1 to 65535, "protocol": "tcp" or "udp"}'
    ),
    "host": "host must be a DNS name such as 'cloud.example.org' (not an address)",
}
"""The sentence said when a field is wrong (see :func:`natprobe.contract.decode`)."""
_UNKNOWN = (
    "; a request has only 'extra' (ports with 'port' and 'protocol') and 'host'. There is no way to name "
    "a target address: the server only ever scans the address this request came from"
)


class ExposureRequest(Record, frozen=True, forbid_unknown_fields=True):
    """A validated ``POST /v1/exposure`` body. There is deliberately no target address in it."""

    extra: Annotated[tuple[PortRef, ...], msgspec.Meta(max_length=MAX_EXTRA_PORTS)] = ()
    host: Annotated[str, msgspec.Meta(pattern=HOST_PATTERN)] | None = None
    """A DNS name sent as TLS SNI and HTTP ``Host`` (name-based virtual hosts); never a target."""

    def ports(self) -> tuple[tuple[int, ScanProtocol, str | None], ...]:
        """The scan list: the defaults, then the extra ports not already in them (in order)."""
        seen = {(port, protocol) for port, protocol, _ in DEFAULT_PORTS}
        ports: list[tuple[int, ScanProtocol, str | None]] = list(DEFAULT_PORTS)
        for ref in self.extra:
            if (ref.port, ref.protocol) not in seen:
                seen.add((ref.port, ref.protocol))
                ports.append((ref.port, ref.protocol, None))
        return tuple(ports)


@dataclass(frozen=True, slots=True)
class TlsDetails:
    version: str | None
    subject_cn: str | None
    san: tuple[str, ...]
    issuer_cn: str | None
    not_after: str | None
    """ISO 8601 UTC."""
    verified: bool
    """The chain and the name (the scanned address) verify against the server's trust store."""
    verify_error: str | None
    self_signed: bool


@dataclass(frozen=True, slots=True)
class HttpDetails:
    status: int | None
    server: str | None
    location: str | None


@dataclass(frozen=True, slots=True)
class SshDetails:
    version: str | None
    """The identification line, e.g. ``SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3``."""
    auth_methods: tuple[str, ...] | None
    """What the server offers before login (``password``, ``publickey``,
    ``keyboard-interactive``...); ``None`` when the exchange did not get that far."""


@dataclass(frozen=True, slots=True)
class ScannedPort:
    port: int
    protocol: ScanProtocol
    state: PortState
    service: str | None
    """What answered, when identified (``ssh``, ``http``, ``https``, ``redis``, ``jamulus``,
    ``ftp``, ``smtp``, ``telnet``, ``vnc``, ``mysql``...), else the port's usual service."""
    identified: bool = False
    """``service`` comes from what answered, not only from the port number."""
    error: str | None = None
    """Why the state is what it is (``refused``, ``timeout``...)."""
    banner: str | None = None
    http: HttpDetails | None = None
    tls: TlsDetails | None = None
    ssh: SshDetails | None = None
    auth_required: bool | None = None
    """Redis: whether it demanded authentication (``None``: not asked)."""
    jamulus_version: str | None = None


@dataclass(frozen=True, slots=True)
class ExposureResponse:
    target: str
    """The scanned address: always the address the request came from."""
    ports: tuple[ScannedPort, ...]
    elapsed_ms: float
    source: str
    """The address the scan left from."""


class RequestError(DecodeError, ValueError):
    """A server's answer that does not follow the contract (one sentence)."""


def decode_request(body: bytes) -> ExposureRequest:
    """Validate a request body with the contract's decoder; :class:`DecodeError` with a plain
    sentence if it is wrong. An empty body (or only the padding) asks for the standard list."""
    if not body.strip():
        return ExposureRequest()
    return decode(body, ExposureRequest, rules=EXPOSURE_REQUEST_RULES, unknown=_UNKNOWN)


def valid_host(host: str) -> bool:
    """A DNS name: LDH labels, at most 253 characters, the last label not all digits (which
    refuses IPv4 literals; IPv6 literals fail on ':')."""
    return _HOST.search(host) is not None  # the contract's one host rule (probe requests use it too)


def encode(record: ExposureRequest | ExposureResponse) -> bytes:
    """The JSON bytes of a request (every field, as clients always sent) or an answer."""
    return msgspec.json.encode(record)


def decode_response(body: bytes) -> ExposureResponse:
    """A server's answer; :class:`RequestError` if it does not follow the contract."""
    try:
        return msgspec.json.decode(body, type=ExposureResponse)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise RequestError(f"malformed exposure answer: {exc}") from None


def openapi_fragment() -> tuple[dict[str, Any], dict[str, Any]]:
    """``(path item, component schemas)`` of ``POST /v1/exposure`` for the OpenAPI document,
    the schemas generated from the records above (the request's limits and its refusal of
    unknown fields included)."""
    _, generated = msgspec.json.schema_components(
        [ExposureRequest, ExposureResponse], ref_template="#/components/schemas/{name}"
    )
    # Through JSON: defaults such as ``()`` become the lists a JSON document holds.
    components: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(generated))
    error = {"$ref": "#/components/schemas/ErrorBody"}  # natprobe.contract.ErrorBody
    json_type = "application/json"

    def refused(description: str, code: str, message: str) -> dict[str, Any]:
        example = {"value": {"error": {"code": code, "message": message}}}
        return {"description": description, "content": {json_type: {"schema": error, "examples": {code: example}}}}

    too_soon = refused(
        "Scanned recently: one scan per source address and IPv6 /64 per interval (`Retry-After` says when), "
        "or the server runs its maximum of scans.",
        "rate_limited",
        f"one exposure scan per {MIN_SCAN_INTERVAL_S:g} s per address (and per IPv6 /64): 203.0.113.7 scanned "
        "recently; retry in 170 s",
    )
    too_soon["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    path_item = {
        "post": {
            "operationId": "exposure",
            "summary": "Scan your own public address for exposed services",
            "description": (
                "The server scans the address this request came from (never another: there is no field "
                "for one) on its list of commonly exposed ports plus at most "
                f"{MAX_EXTRA_PORTS} named ports, within {SCAN_DEADLINE_S:g} s, and reports what answers "
                "(banner, TLS certificate, HTTP Server header, SSH version and offered authentication "
                "methods). No login is attempted. Pad the body with whitespace to "
                f"{UDP_BUDGET_PER_PORT} bytes per UDP port: UDP bytes sent never exceed the body."
            ),
            "security": [{}, {"bearerAuth": []}],
            "requestBody": {
                "required": False,
                "content": {
                    json_type: {
                        "schema": {"$ref": "#/components/schemas/ExposureRequest"},
                        "examples": {
                            "default": {
                                "summary": "The standard list plus TCP 2222 and UDP 51820",
                                "value": {"extra": [{"port": 2222}, {"port": 51820, "protocol": "udp"}]},
                            }
                        },
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "The scan ran; every port has a state (open, closed, filtered).",
                    "content": {json_type: {"schema": {"$ref": "#/components/schemas/ExposureResponse"}}},
                },
                "400": refused(
                    "The body is not a valid request (for example it names a target address).",
                    "bad_request",
                    "unknown field 'target'" + _UNKNOWN,
                ),
                "401": refused("A token is required or wrong.", "unauthorized",
                               "this server needs a token: send 'Authorization: Bearer <token>'"),  # fmt: skip
                "429": too_soon,
                "500": {"$ref": "#/components/responses/Internal"},
            },
        }
    }
    return path_item, components
