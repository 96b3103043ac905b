"""The STUN server's decisions, sans-I/O: request bytes in, one reply (or nothing) out.

:class:`StunService` applies RFC 8489 and RFC 5780 section 6 and says *what* to send, *from*
which of the server's addresses and *to* where; the adapters in :mod:`natprobe_server.stun.udp` and
:mod:`natprobe_server.stun.tcp` only move bytes. Everything a public reflector must guarantee is
decided here, so it is unit-tested without sockets:

* **Only the requester is ever answered.** The destination is always the request's source
  IP; RESPONSE-PORT (RFC 5780 section 7.5) changes only the port; RFC 3489 RESPONSE-ADDRESS is
  never honoured (a request naming another address gets 420). Error responses always go to
  the request's own source port.
* **Replies are bounded by requests.** PADDING (RFC 5780 section 6.1) is sized to the MTU but
  never makes the reply larger than the request; PADDING together with RESPONSE-PORT is a 400
  (RFC 5780 section 6.1/10: it would aim padded replies at another port). No SOFTWARE and no
  reason phrases unless configured, so a 20-byte request gets 44 bytes (one address) or 68
  bytes (two addresses: + RESPONSE-ORIGIN and OTHER-ADDRESS, which section 6.1 requires).

RFC 5780 section 6 rules as implemented:

* Two addresses: Table 1 picks the reply's source (Da/Dp, Ca/Dp, Da/Cp, Ca/Cp) from the
  CHANGE-REQUEST flags; OTHER-ADDRESS is always Ca:Cp; RESPONSE-ORIGIN is always the source
  actually used; both are included even when the request has no RFC 5780 attribute.
* One address: no OTHER-ADDRESS ever; a CHANGE-REQUEST asking to change the IP gets 420
  (section 6). natprobe goes beyond the RFC (which asks for 420 on *any* CHANGE-REQUEST) and
  still serves change-port from N+1, because the port pair exists and it lets a one-IP server
  tell address-dependent from address-and-port-dependent filtering; RESPONSE-ORIGIN is
  included only when the request used an RFC 5780 attribute (coturn's
  ``response-origin-only-with-rfc5780``), keeping the default reply small.
* TCP (RFC 5780 section 3: "STUN forbids a server from creating a new TCP ... connection to
  the client", so a reply can only travel back on the same connection): CHANGE-REQUEST,
  RESPONSE-PORT and PADDING are all answered with **420 Unknown Attribute** listing them.
  RFC 5780 has no section 6.2; the rule applied is section 6's "a server that cannot [send
  from the other address and port] MUST respond with a 420 (Unknown Attribute) to any Request
  with a CHANGE-REQUEST attribute", extended to RESPONSE-PORT (server support is optional,
  section 7.5, and an unsupported comprehension-required attribute is a 420 in RFC 8489
  section 7.3.1) and PADDING (section 3.5: "PADDING only applies to UDP datagrams").
* Behind a 1:1 NAT (a cloud VPS: sockets on private addresses, the public ones mapped onto
  them) every address written into a reply is the public twin (:meth:`Topology.advertised`);
  the reply still *leaves* from the private socket, and the NAT rewrites its source.
* RFC 3489 requests (no magic cookie) get MAPPED-ADDRESS, SOURCE-ADDRESS and, with two
  addresses, CHANGED-ADDRESS (RFC 3489 section 11.2), with the 16-byte transaction id echoed
  (RFC 8489 section 12.2), so classic clients such as pystun3 work.
* Indications and responses are ignored; a request for a method other than Binding gets 400;
  unknown comprehension-required attributes get 420 with UNKNOWN-ATTRIBUTES (RFC 8489
  section 7.3.1); a FINGERPRINT in the request means one in the response, and a request whose
  FINGERPRINT does not verify is dropped as not-STUN (RFC 8489 section 7.3).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Union

from natprobe.errors import DecodeError
from natprobe.stun import (
    Attribute,
    AttributeType,
    ErrorCode,
    ErrorCodeValue,
    Message,
    MessageClass,
    Method,
    decode,
    encode,
    verify_fingerprint,
)
from natprobe.addressing import TransportAddress

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

__all__ = (
    "Reply",
    "ServiceStats",
    "StunService",
    "Topology",
    "Transport",
)

_HEADER = 20
_TLV_HEADER = 4
_FINGERPRINT_TLV = 8
_RFC5780_REQUEST_ATTRIBUTES = frozenset(
    {AttributeType.CHANGE_REQUEST, AttributeType.RESPONSE_PORT, AttributeType.PADDING}
)


class Transport(enum.StrEnum):
    """How a request arrived."""

    UDP = "udp"
    TCP = "tcp"


@dataclass(frozen=True, slots=True)
class Topology:
    """The server's addresses: A1 = ``primary``, A2 = ``alternate``, P1 = ``port``, P2 = ``port + 1``.

    RFC 5780 section 6.1 names them Da/Dp (where a request arrived) and Ca/Cp (the other ones).
    """

    primary: IPAddress
    alternate: IPAddress | None
    port: int
    primary_public: IPAddress | None = None
    """The address clients reach ``primary`` at, when a 1:1 NAT (a cloud VPS) maps a public
    address onto it; ``None`` = ``primary`` itself is public."""
    alternate_public: IPAddress | None = None
    """The same for ``alternate``."""

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 0xFFFE:
            raise ValueError(f"base port must be 1-65534, got {self.port}")
        if self.alternate_public is not None and self.alternate is None:
            raise ValueError("a public alternate address needs an alternate address to map onto")

    def advertised(self, address: TransportAddress) -> TransportAddress:
        """What to tell a client about the server's own ``address``: its public twin behind 1:1 NAT.

        Sockets bind the private addresses; every address *written into a reply*
        (RESPONSE-ORIGIN, OTHER-ADDRESS, SOURCE-ADDRESS, CHANGED-ADDRESS) must be the one the
        client can send to, as coturn's ``-X public/private`` and stuntman's
        ``--primaryadvertised`` do.
        """
        if address.ip == self.primary and self.primary_public is not None:
            return TransportAddress(self.primary_public, address.port)
        if address.ip == self.alternate and self.alternate_public is not None:
            return TransportAddress(self.alternate_public, address.port)
        return address

    @property
    def alternate_port(self) -> int:
        return self.port + 1

    @property
    def endpoints(self) -> tuple[TransportAddress, ...]:
        """Every address:port the server listens on for STUN (2 with one IP, 4 with two)."""
        ips = [self.primary] if self.alternate is None else [self.primary, self.alternate]
        return tuple(TransportAddress(ip, port) for ip in ips for port in (self.port, self.alternate_port))

    def other_ip(self, ip: IPAddress) -> IPAddress | None:
        """Ca for Da = ``ip``; ``None`` on a one-address server."""
        if self.alternate is None:
            return None
        if ip == self.primary:
            return self.alternate
        if ip == self.alternate:
            return self.primary
        raise ValueError(f"{ip} is not one of the server's addresses")

    def other_port(self, port: int) -> int:
        """Cp for Dp = ``port``."""
        if port == self.port:
            return self.alternate_port
        if port == self.alternate_port:
            return self.port
        raise ValueError(f"{port} is not one of the server's ports")

    def other_address(self, local: TransportAddress) -> TransportAddress | None:
        """OTHER-ADDRESS for a request received on ``local``: Ca:Cp (RFC 5780 Table 1), or ``None``."""
        other_ip = self.other_ip(local.ip)
        return None if other_ip is None else TransportAddress(other_ip, self.other_port(local.port))

    def source_for(self, local: TransportAddress, *, change_ip: bool, change_port: bool) -> TransportAddress:
        """RFC 5780 Table 1: the reply's source address for the given CHANGE-REQUEST flags.

        Raises ``ValueError`` for change-IP on a one-address server (the caller answers 420).
        """
        ip = local.ip
        if change_ip:
            other_ip = self.other_ip(local.ip)
            if other_ip is None:
                raise ValueError("change-IP needs an alternate address")
            ip = other_ip
        port = self.other_port(local.port) if change_port else local.port
        return TransportAddress(ip, port)


@dataclass(frozen=True, slots=True)
class Reply:
    """Send ``data`` from the server address ``source`` to ``destination``."""

    data: bytes
    source: TransportAddress
    destination: TransportAddress


@dataclass(slots=True)
class ServiceStats:
    """What the service did with the input it was given (plain counters, for logs and tests)."""

    answered: int = 0
    errors: int = 0
    """Error responses sent (400, 420)."""
    ignored: int = 0
    """Well-formed STUN that is not a request, or a request with a bad FINGERPRINT."""
    malformed: int = 0
    """Input that does not decode as STUN."""
    tcp_requests: int = 0
    """Decoded messages that arrived over TCP (the UDP ones are counted by the UDP server)."""
    tcp_replies: int = 0


def _round_up4(value: int) -> int:
    return (value + 3) & ~3


class StunService:
    """RFC 8489 Binding + RFC 5780 section 6, as a pure function of (request, where it arrived, who sent it)."""

    def __init__(
        self,
        topology: Topology,
        *,
        padding_mtu: int = 1500,
        software: str | None = None,
    ) -> None:
        self.topology = topology
        self.padding_mtu = padding_mtu
        self.software = software
        self.stats = ServiceStats()

    # --- entry points ------------------------------------------------------------------------------

    def handle(
        self,
        data: bytes,
        local: TransportAddress,
        remote: TransportAddress,
        transport: Transport = Transport.UDP,
    ) -> Reply | None:
        """Decide the reply to ``data`` received on ``local`` from ``remote``; ``None`` = send nothing."""
        try:
            message = decode(data)
        except DecodeError:
            self.stats.malformed += 1
            return None
        return self.handle_message(message, local, remote, transport)

    def handle_message(
        self,
        message: Message,
        local: TransportAddress,
        remote: TransportAddress,
        transport: Transport = Transport.UDP,
    ) -> Reply | None:
        """Like :meth:`handle` for an already decoded message (TCP framing decodes for us)."""
        if transport is Transport.TCP:
            self.stats.tcp_requests += 1
            reply = self._handle_message(message, local, remote, transport)
            self.stats.tcp_replies += reply is not None
            return reply
        return self._handle_message(message, local, remote, transport)

    def _handle_message(
        self, message: Message, local: TransportAddress, remote: TransportAddress, transport: Transport
    ) -> Reply | None:
        if message.message_class != MessageClass.REQUEST:
            self.stats.ignored += 1
            return None
        if message.raw is not None and verify_fingerprint(message) is False:
            self.stats.ignored += 1  # RFC 8489 7.3: a bad FINGERPRINT means "not STUN"
            return None
        fingerprint = message.has(AttributeType.FINGERPRINT)
        if message.method != Method.BINDING:
            return self._error(message, ErrorCode.BAD_REQUEST, local, remote, fingerprint)

        unknown = list(message.unknown_comprehension_required())
        response_address = message.get(AttributeType.RESPONSE_ADDRESS)
        if response_address is not None and response_address != remote:
            unknown.append(int(AttributeType.RESPONSE_ADDRESS))  # never reflect to a third party
        change = message.change_request
        response_port = message.response_port
        padding = message.has(AttributeType.PADDING)
        if transport is Transport.TCP:
            unknown.extend(int(t) for t in _message_types(message) if t in _RFC5780_REQUEST_ATTRIBUTES)
        elif change is not None and change.change_ip and self.topology.alternate is None:
            unknown.append(int(AttributeType.CHANGE_REQUEST))  # RFC 5780 section 6
        if unknown:
            return self._error(message, ErrorCode.UNKNOWN_ATTRIBUTE, local, remote, fingerprint, unknown)
        if padding and response_port is not None:
            return self._error(message, ErrorCode.BAD_REQUEST, local, remote, fingerprint)  # RFC 5780 6.1
        if response_port == 0:
            return self._error(message, ErrorCode.BAD_REQUEST, local, remote, fingerprint)  # nothing listens on 0

        source = local
        if change is not None:
            source = self.topology.source_for(local, change_ip=change.change_ip, change_port=change.change_port)
        destination = remote if response_port is None else TransportAddress(remote.ip, response_port)
        uses_rfc5780 = any(a.type in _RFC5780_REQUEST_ATTRIBUTES for a in message.attributes)
        attributes = self.success_attributes(message, remote, source, local, uses_rfc5780=uses_rfc5780)
        response = Message(MessageClass.SUCCESS_RESPONSE, Method.BINDING, message.transaction_id, attributes)
        if padding:
            request_length = len(message.raw) if message.raw is not None else _HEADER
            response = self._padded(response, request_length, fingerprint)
        self.stats.answered += 1
        return Reply(encode(response, fingerprint=fingerprint), source, destination)

    # --- building blocks (also used by the fast path to build its template) ------------------------

    def success_attributes(
        self,
        request: Message,
        remote: TransportAddress,
        source: TransportAddress,
        local: TransportAddress,
        *,
        uses_rfc5780: bool,
    ) -> tuple[Attribute, ...]:
        """The attributes of a Binding success response (without PADDING and FINGERPRINT).

        ``local`` is where the request arrived (Da:Dp), ``source`` where the reply leaves from.
        """
        other = self.topology.other_address(local)
        if other is not None:
            other = self.topology.advertised(other)
        origin = self.topology.advertised(source)
        attributes: list[Attribute]
        if request.is_legacy:
            # RFC 3489 section 11.2.1 / RFC 8489 section 12.2: MAPPED-ADDRESS instead of
            # XOR-MAPPED-ADDRESS, plus SOURCE-ADDRESS and CHANGED-ADDRESS.
            attributes = [
                Attribute(AttributeType.MAPPED_ADDRESS, remote),
                Attribute(AttributeType.SOURCE_ADDRESS, origin),
            ]
            if other is not None:
                attributes.append(Attribute(AttributeType.CHANGED_ADDRESS, other))
        else:
            attributes = [
                Attribute(AttributeType.XOR_MAPPED_ADDRESS, remote),
                Attribute(AttributeType.MAPPED_ADDRESS, remote),  # RFC 5780 6.1: both, ALG detection
            ]
            if other is not None or uses_rfc5780:
                attributes.append(Attribute(AttributeType.RESPONSE_ORIGIN, origin))
            if other is not None:
                attributes.append(Attribute(AttributeType.OTHER_ADDRESS, other))
        if self.software is not None:
            attributes.append(Attribute(AttributeType.SOFTWARE, self.software))
        return tuple(attributes)

    def _padded(self, response: Message, request_length: int, fingerprint: bool) -> Message:
        """Add PADDING: the MTU (rounded up to 4, RFC 5780 7.6), cut so the reply stays <= the request.

        RFC 5780 6.1 makes PADDING mandatory when the request had one; when the request leaves no
        room at all, the attribute is sent empty.
        """
        unpadded = len(encode(response)) + (_FINGERPRINT_TLV if fingerprint else 0)
        room = (request_length - unpadded - _TLV_HEADER) & ~3
        length = max(0, min(_round_up4(self.padding_mtu), room))
        padding = Attribute(AttributeType.PADDING, bytes(length))
        return Message(
            response.message_class, response.method, response.transaction_id, response.attributes + (padding,)
        )

    def _error(
        self,
        request: Message,
        code: ErrorCode,
        local: TransportAddress,
        remote: TransportAddress,
        fingerprint: bool,
        unknown: Iterable[int] = (),
    ) -> Reply:
        """An error response, always from where the request arrived to where it came from.

        No reason phrase (RFC 8489 14.8 allows an empty one): it would only add bytes.
        """
        attributes = [Attribute(AttributeType.ERROR_CODE, ErrorCodeValue(int(code), ""))]
        listed = tuple(dict.fromkeys(unknown))
        if listed:
            attributes.append(Attribute(AttributeType.UNKNOWN_ATTRIBUTES, listed))
        response = Message(MessageClass.ERROR_RESPONSE, request.method, request.transaction_id, tuple(attributes))
        self.stats.errors += 1
        return Reply(encode(response, fingerprint=fingerprint), local, remote)


def _message_types(message: Message) -> tuple[int, ...]:
    """The attribute types of ``message`` in order (duplicates kept)."""
    return tuple(int(a.type) for a in message.attributes)
