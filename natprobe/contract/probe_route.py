"""``GET /v1/whoami`` and ``POST /v1/probe``: the request, every mode's result, the answers.

The rules that tie fields together (which modes a protocol has, which fields a mode takes)
are data (:data:`~natprobe.contract.terms.MODES`, ``NONCE_MODES``, ``HOST_MODES``,
``COUNT_MODE``): :meth:`ProbeRequest.__post_init__` enforces them and
:func:`probe_request_rules` states them as JSON Schema for the OpenAPI document, so the two
cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Generic, TypeVar, cast

import msgspec
from msgspec import UNSET, UnsetType

from natprobe.addressing import IPAddress
from natprobe.contract.base import AnyPort, Endpoint, Milliseconds, Port, Record, decode, parse_ip
from natprobe.contract.terms import (
    COUNT_MODE,
    COUNT_RANGE,
    DEFAULT_COUNT,
    DEFAULT_TIMEOUT,
    HOST_MODES,
    HOST_PATTERN,
    HTTP_NONCE_MODES,
    HTTP_NONCE_PATH,
    MODES,
    NONCE_MODES,
    NONCE_PATTERN,
    NONCE_PREFIX,
    TIMEOUT_RANGE,
    ProbeMode,
    ServerName,
    TransportProtocol,
)
from natprobe.errors import DecodeError

__all__ = (
    "PROBE_REQUEST_RULES",
    "RESULT_TYPES",
    "ConnectResult",
    "HttpResult",
    "HttpsResult",
    "JamulusResult",
    "ProbeRequest",
    "ProbeResponse",
    "RelayTarget",
    "ProbeResult",
    "SshResult",
    "TlsInfo",
    "UdpNonceResult",
    "UdpServiceResult",
    "WhoAmI",
    "decode_probe_request",
    "decode_probe_response",
    "decode_whoami",
    "probe_request_rules",
    "probe_response_rules",
    "udp_nonce_body_bytes",
)

Nonce = Annotated[
    str,
    msgspec.Meta(
        pattern=NONCE_PATTERN,
        description=(
            "Required for mode `nonce`; optional for `http`, whose GET then asks for "
            f"`{HTTP_NONCE_PATH}<nonce>` instead of `/` (a token an HTTP reverse proxy carries "
            "through to the service, for a relay check); refused otherwise."
        ),
    ),
]
HostName = Annotated[
    str,
    msgspec.Meta(
        pattern=HOST_PATTERN,
        description="DNS name for the Host header and TLS SNI (modes `http`, `https` only; default: your IP).",
    ),
]
Count = Annotated[
    int,
    msgspec.Meta(
        ge=COUNT_RANGE[0],
        le=COUNT_RANGE[1],
        extra_json_schema={"default": DEFAULT_COUNT},
        description=(
            "UDP `nonce` only: datagrams to send, 150 ms apart. The server never sends more UDP "
            "bytes than the request body holds, so it sends min(count, floor(body bytes / "
            f"({len(NONCE_PREFIX)} + nonce length))) datagrams; pad the JSON body with trailing spaces "
            "to get all of them. `result.sent` says how many went out."
        ),
    ),
]
Timeout = Annotated[
    float,
    msgspec.Meta(
        ge=TIMEOUT_RANGE[0],
        le=TIMEOUT_RANGE[1],
        description=(
            "Seconds allowed for each network step: the TCP connect, then the rest of the "
            "exchange (TLS handshake, request, reply); for `jamulus` the whole ping. "
            "`https` may use a second connection (see HttpsResult), so a probe can take up to "
            "4 x timeout; UDP `nonce` does not wait for anything."
        ),
    ),
]

PROBE_REQUEST_RULES: Final = {
    "protocol": "protocol must be 'udp' or 'tcp'",
    "port": "port must be an integer from 1 to 65535",
    "mode": f"mode must be one of {', '.join(m.value for m in ProbeMode)}",
    "nonce": "nonce must be 16 to 64 hexadecimal characters",
    "host": "host must be a DNS name such as 'cloud.example.org' (not an IP address)",
    "count": f"count must be an integer from {COUNT_RANGE[0]} to {COUNT_RANGE[1]}",
    "timeout": f"timeout must be a number of seconds from {TIMEOUT_RANGE[0]} to {TIMEOUT_RANGE[1]}",
    "relay": "relay must be {\"name\": a DNS name, \"address\": one of its IP addresses}",
}
"""The sentence said when a field is wrong (see :func:`natprobe.contract.decode`)."""


# --- whoami --------------------------------------------------------------------------------------


class WhoAmI(Record, frozen=True):
    """``GET /v1/whoami``: the requester's address as seen here, and where probe-backs come from."""

    ip: Annotated[str, msgspec.Meta(description="The requester's source IP as this server sees it.")]
    port: Annotated[Port, msgspec.Meta(description="The TCP source port of this request.")]
    server: ServerName
    version: Annotated[str, msgspec.Meta(description="natprobe version of the server.")]
    probe_source_ip: Annotated[str, msgspec.Meta(description="The IP address probe-backs leave from.")]
    udp_probe_port: Annotated[
        AnyPort,
        msgspec.Meta(
            description="The UDP source port nonce probe-backs leave from when the operator fixed one "
            "(--udp-probe-port); 0: each probe leaves from a fresh port, named in its answer's source."
        ),
    ]
    auth_required: Annotated[bool, msgspec.Meta(description="Whether POST /v1/probe needs a bearer token.")]

    def __post_init__(self) -> None:
        parse_ip(self.ip)
        parse_ip(self.probe_source_ip)

    @property
    def public_ip(self) -> IPAddress:
        """This host's public address, as the echo server saw it."""
        return parse_ip(self.ip)

    @property
    def probe_source(self) -> IPAddress:
        """The address probe-backs leave from."""
        return parse_ip(self.probe_source_ip)



# --- the request ---------------------------------------------------------------------------------


class RelayTarget(Record, frozen=True, forbid_unknown_fields=True):
    """Probe a relay that carries ``name`` to you, at ``address``, instead of your own address.

    Allowed only by the rule of :mod:`natprobe.contract.relay_rule`: ``address`` is one of the
    server's own addresses, or one of ``name``'s A/AAAA addresses as the server resolves them
    while a TXT record at ``_natprobe.<name>`` holds ``natprobe-allow=<your address>``.
    Refused with 403 ``relay_not_allowed`` (its message names the record to add)."""

    name: Annotated[str, msgspec.Meta(pattern=HOST_PATTERN, description="The relay's DNS name (NAME).")]
    address: Annotated[str, msgspec.Meta(description="One of NAME's addresses, to probe instead of yours.")]

    def __post_init__(self) -> None:
        parse_ip(self.address)

    @property
    def ip(self) -> IPAddress:
        return parse_ip(self.address)


class ProbeRequest(Record, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """What to probe. There is no free target address: the server probes the IP address the
    request came from (the TCP peer of this HTTP connection), on ``port``, or a ``relay`` the
    relay rule allows (:class:`RelayTarget`). Unknown fields are refused with 400, and
    integers are written as integers (``22124``, not ``22124.0``)."""

    protocol: TransportProtocol
    port: Port
    mode: Annotated[
        ProbeMode,
        msgspec.Meta(
            description=(
                "udp: `nonce` (datagrams `natprobe-nonce:<nonce>`), `jamulus` (connection-less "
                "ping), `openvpn` (P_CONTROL_HARD_RESET_CLIENT_V2), `dns` (a query for `. NS`), `ntp` (an "
                "NTPv4 client packet), `quic` (a 1200-byte packet forcing Version Negotiation); each of these "
                "four sends at most 3 packets and never more bytes than the request body holds (pad it). tcp: `nonce` (connect, write `natprobe-nonce:<nonce>`, close), `connect`, "
                "`http` (GET /, or the nonce's path), `https` (TLS, certificate report, GET /), `ssh` (read the banner)."
            )
        ),
    ]
    nonce: Nonce | UnsetType = UNSET
    host: HostName | UnsetType = UNSET
    count: Count | UnsetType = UNSET
    timeout: Timeout = DEFAULT_TIMEOUT
    relay: RelayTarget | UnsetType = UNSET

    def __post_init__(self) -> None:
        protocol, mode = self.protocol, self.mode
        if mode not in MODES[protocol]:
            allowed = ", ".join(sorted(m.value for m in MODES[protocol]))
            raise ValueError(f"mode {mode.value!r} does not work over {protocol.value}; {protocol.value} modes are: {allowed}")
        if mode in NONCE_MODES and self.nonce is UNSET:
            raise ValueError(f"mode {mode.value!r} needs a 'nonce': 16 to 64 hexadecimal characters")
        if mode not in NONCE_MODES and mode not in HTTP_NONCE_MODES and self.nonce is not UNSET:
            raise ValueError("'nonce' is only used by modes 'nonce' and 'http'")
        if mode not in HOST_MODES and self.host is not UNSET:
            raise ValueError("'host' is only used by modes 'http' and 'https'")
        if (protocol, mode) != COUNT_MODE and self.count is not UNSET:
            raise ValueError("'count' is only used by UDP mode 'nonce'")

    @classmethod
    def build(
        cls,
        protocol: TransportProtocol,
        port: int,
        mode: ProbeMode,
        *,
        nonce: str | None = None,
        host: str | None = None,
        count: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        relay: RelayTarget | None = None,
    ) -> ProbeRequest:
        """A request with ``None`` for the fields it leaves out.

        ``ValueError`` for a combination the server refuses; ranges and patterns are checked
        where a body is decoded (the server answers 400 with the rule)."""
        return cls(
            protocol,
            port,
            mode,
            UNSET if nonce is None else nonce,
            UNSET if host is None else host,
            UNSET if count is None else count,
            timeout,
            UNSET if relay is None else relay,
        )

    @property
    def datagrams(self) -> int:
        """UDP nonce datagrams asked for (``count``, or its default)."""
        return DEFAULT_COUNT if self.count is UNSET else self.count

    @property
    def virtual_host(self) -> str | None:
        """``host``, or ``None`` when the request names none."""
        return None if self.host is UNSET else self.host

    @property
    def relay_target(self) -> RelayTarget | None:
        """``relay``, or ``None`` for the ordinary probe of the requester's own address."""
        return None if self.relay is UNSET else self.relay

    @property
    def payload(self) -> bytes | None:
        """The nonce probe's exact bytes (``None`` for other modes)."""
        if self.nonce is UNSET or self.mode not in NONCE_MODES:
            return None
        return NONCE_PREFIX + self.nonce.encode("ascii")

    @property
    def http_path(self) -> str:
        """The path an ``http`` probe asks for: ``/``, or the token's path when it has a nonce."""
        return "/" if self.nonce is UNSET else HTTP_NONCE_PATH + self.nonce


def udp_nonce_body_bytes(request: ProbeRequest) -> int:
    """Request bytes that pay for every datagram of a UDP nonce probe: the server never sends
    more UDP bytes than the body holds, so a client pads the JSON with spaces to this size."""
    payload = request.payload
    return 0 if payload is None else request.datagrams * len(payload)


def decode_probe_request(body: bytes) -> ProbeRequest:
    """A validated ``POST /v1/probe`` body; :class:`~natprobe.errors.DecodeError` if it is wrong."""
    return decode(
        body,
        ProbeRequest,
        rules=PROBE_REQUEST_RULES,
        unknown=(
            f"; allowed fields are {', '.join(ProbeRequest.__struct_fields__)}. There is no way to name "
            "a target address: the server only ever probes the address this request came from (or a 'relay' "
            "its name's owner allows in DNS)"
        ),
    )


def _when(**consts: object) -> dict[str, Any]:
    properties = {name: ({"enum": list(v)} if isinstance(v, tuple) else {"const": v}) for name, v in consts.items()}
    return {"properties": properties, "required": list(consts)}


def _forbid(field: str) -> dict[str, Any]:
    return {"not": {"required": [field]}}


def probe_request_rules() -> list[dict[str, Any]]:
    """The cross-field rules of :class:`ProbeRequest` as JSON Schema (``allOf`` entries)."""
    rules: list[dict[str, Any]] = [
        {"if": _when(protocol=p.value), "then": {"properties": {"mode": {"enum": [m.value for m in modes]}}}}
        for p, modes in MODES.items()
    ]
    nonce = tuple(m.value for m in NONCE_MODES)
    http_nonce = tuple(m.value for m in HTTP_NONCE_MODES)
    rules.append({"if": _when(mode=nonce), "then": {"required": ["nonce"]},
                  "else": {"if": _when(mode=http_nonce), "else": _forbid("nonce")}})
    rules.append({"if": _when(mode=tuple(m.value for m in HOST_MODES)), "else": _forbid("host")})
    rules.append({"if": _when(protocol=COUNT_MODE[0].value, mode=COUNT_MODE[1].value), "else": _forbid("count")})
    return rules


# --- results -------------------------------------------------------------------------------------

TcpError = Annotated[
    str | None,
    msgspec.Meta(
        description=(
            "Why the probe did not get what it came for; null on success. Known values: "
            "`refused` (RST: reachable, nothing listening, or a rejecting firewall), "
            "`timeout` (no answer: usually no port forward or a dropping firewall), "
            "`unreachable` (ICMP unreachable), `reset`, `closed` (connected, then closed without "
            "an answer), `protocol` (the answer is not the expected protocol), `tls` (the TLS "
            "handshake failed). Other OS errors appear as their lower-case errno name (`eacces`)."
        )
    ),
]
Status = Annotated[int, msgspec.Meta(ge=100, le=999)]


class UdpNonceResult(Record, frozen=True):
    """UDP nonce datagrams handed to the kernel (no reply is expected: the client watches for them)."""

    sent: Annotated[int, msgspec.Meta(ge=0, le=COUNT_RANGE[1], description="Datagrams sent.")]


class UdpServiceResult(Record, frozen=True):
    """A UDP service's answer to its first packet (modes ``openvpn``, ``dns``, ``ntp``, ``quic``)."""

    sent: Annotated[int, msgspec.Meta(ge=0, le=3, description="First packets sent (the body pays for each).")]
    answered: Annotated[bool, msgspec.Meta(description="The expected answer to this very request came back.")]
    rtt_ms: Milliseconds | None
    detail: Annotated[str, msgspec.Meta(description="What answered, e.g. `stratum 2`, `rcode REFUSED`.")] | None


class ConnectResult(Record, frozen=True):
    """A TCP connect (modes ``connect`` and ``nonce`` over TCP)."""

    connected: bool
    error: TcpError
    connect_ms: Milliseconds | None


class JamulusResult(Record, frozen=True):
    """A Jamulus connection-less ping. ``answered`` false: no echo within the timeout."""

    answered: Annotated[bool, msgspec.Meta(description="A Jamulus server echoed the ping.")]
    rtt_ms: Milliseconds | None
    clients: Annotated[int, msgspec.Meta(ge=0, description="Connected clients.")] | None
    version: Annotated[str, msgspec.Meta(description="e.g. 3.9.1")] | None
    os: Annotated[str, msgspec.Meta(description="e.g. Linux")] | None


class TlsInfo(Record, frozen=True):
    """What the TLS handshake showed. ``verified``: the chain and name check against the trust store."""

    version: Annotated[str, msgspec.Meta(description="e.g. TLSv1.3")] | None
    subject_cn: str | None
    san: Annotated[tuple[str, ...], msgspec.Meta(description="DNS names and IP addresses.")]
    issuer_cn: str | None
    not_after: Annotated[str, msgspec.Meta(description="Expiry, ISO 8601 UTC (2026-05-01T12:00:00Z).")] | None
    verified: Annotated[
        bool, msgspec.Meta(description="The chain verifies against the server's trust store for `host` (or your IP).")
    ]
    verify_error: Annotated[str, msgspec.Meta(description="Why it does not verify (or why TLS failed).")] | None


class HttpResult(Record, frozen=True):
    """``GET /`` over plain HTTP."""

    connected: bool
    error: TcpError
    status: Status | None
    server_header: str | None
    location: str | None


class HttpsResult(Record, frozen=True):
    """HttpResult plus ``tls`` (null when TCP did not connect). The handshake is tried with
    verification first; if only verification fails, a second connection reads the
    certificate without trusting it and sends the GET."""

    connected: bool
    error: TcpError
    status: Status | None
    server_header: str | None
    location: str | None
    tls: TlsInfo | None


class SshResult(Record, frozen=True):
    """The SSH identification line (RFC 4253 section 4.2), e.g. ``"SSH-2.0-OpenSSH_9.2p1"``."""

    connected: bool
    error: TcpError
    banner: Annotated[str, msgspec.Meta(description="The identification line, e.g. SSH-2.0-OpenSSH_9.2p1")] | None


ProbeResult = UdpNonceResult | ConnectResult | JamulusResult | HttpResult | HttpsResult | SshResult | UdpServiceResult

RESULT_TYPES: Final[dict[tuple[TransportProtocol, ProbeMode], type[ProbeResult]]] = {
    (TransportProtocol.UDP, ProbeMode.NONCE): UdpNonceResult,
    (TransportProtocol.UDP, ProbeMode.JAMULUS): JamulusResult,
    (TransportProtocol.UDP, ProbeMode.OPENVPN): UdpServiceResult,
    (TransportProtocol.UDP, ProbeMode.DNS): UdpServiceResult,
    (TransportProtocol.UDP, ProbeMode.NTP): UdpServiceResult,
    (TransportProtocol.UDP, ProbeMode.QUIC): UdpServiceResult,
    (TransportProtocol.TCP, ProbeMode.NONCE): ConnectResult,
    (TransportProtocol.TCP, ProbeMode.CONNECT): ConnectResult,
    (TransportProtocol.TCP, ProbeMode.HTTP): HttpResult,
    (TransportProtocol.TCP, ProbeMode.HTTPS): HttpsResult,
    (TransportProtocol.TCP, ProbeMode.SSH): SshResult,
}
"""The result record of each protocol/mode pair."""

R = TypeVar("R", bound=Record)


class ProbeResponse(Record, Generic[R], frozen=True):
    """The answer to ``POST /v1/probe``. A closed or silent port is a result here
    (``connected: false``, ``answered: false``), not an error; ``result``'s shape depends on
    the protocol and the mode."""

    target: Annotated[Endpoint, msgspec.Meta(description="Your own IP (or the relay's, when the request named an allowed one), and the port you asked for.")]
    protocol: TransportProtocol
    mode: ProbeMode
    source: Annotated[Endpoint, msgspec.Meta(description="Where the probe left from.")]
    result: R
    elapsed_ms: Milliseconds

    def __post_init__(self) -> None:
        expected = RESULT_TYPES.get((self.protocol, self.mode))
        if expected is None or not isinstance(self.result, expected):
            raise ValueError(f"a {self.protocol.value}/{self.mode.value} probe cannot have a {type(self.result).__name__}")


class _ProbeKind(Record, frozen=True):
    protocol: TransportProtocol
    mode: ProbeMode


def decode_probe_response(body: bytes) -> ProbeResponse[Any]:
    """An answer of ``POST /v1/probe``, its ``result`` typed by protocol and mode."""
    kind = decode(body, _ProbeKind)
    result_type = RESULT_TYPES.get((kind.protocol, kind.mode))
    if result_type is None:
        raise DecodeError(f"mode {kind.mode.value!r} does not work over {kind.protocol.value}")
    # Two passes because msgspec decodes a union of records only by a tag field, and the
    # result's "tag" is the protocol/mode pair beside it. Answers are a few hundred bytes.
    return cast("ProbeResponse[Any]", decode(body, ProbeResponse[result_type]))  # type: ignore[valid-type]


def probe_response_rules(ref: str) -> list[dict[str, Any]]:
    """Which result schema goes with which protocol/mode, as JSON Schema (``allOf`` entries).

    ``ref`` formats a schema name into a reference (``"#/components/schemas/{name}"``).
    """
    by_type: dict[str, list[tuple[TransportProtocol, ProbeMode]]] = {}
    for key, result_type in RESULT_TYPES.items():
        by_type.setdefault(result_type.__name__, []).append(key)
    rules = []
    for name, keys in by_type.items():
        protocols = sorted({p.value for p, _ in keys})
        modes = sorted({m.value for _, m in keys})
        condition = _when(
            protocol=protocols[0] if len(protocols) == 1 else tuple(protocols),
            mode=modes[0] if len(modes) == 1 else tuple(modes),
        )
        rules.append({"if": condition, "then": {"properties": {"result": {"$ref": ref.format(name=name)}}}})
    return rules


def decode_whoami(body: bytes) -> WhoAmI:
    """An answer of ``GET /v1/whoami``."""
    return decode(body, WhoAmI)
