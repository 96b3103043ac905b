"""Jamulus connection-less (CLM) messages: a sans-I/O codec, ``bytes -> Message -> bytes``.

Wire format (Jamulus 3.9.1, src/protocol.cpp top comment, ``GenMessageFrame`` /
``ParseMessageFrame``)::

    +--------+-------+-----+----------+---------+-------+
    | TAG 00 | ID    | cnt | length n | data    | CRC   |
    | 2 B    | 2 B LE| 1 B | 2 B LE   | n bytes | 2 B LE|
    +--------+-------+-----+----------+---------+-------+

Every integer is little-endian (not network order); an IPv4 address inside a payload is
``QHostAddress::toIPv4Address()`` written little-endian, so 127.0.0.1 goes out as
``01 00 00 7f``; strings are a 2-byte byte count plus UTF-8 (1-byte count for the names
in ``CLM_RED_SERVER_LIST``). ``cnt`` is always 0 for CLM messages.

A Jamulus server demultiplexes each datagram on one question: does it parse as a frame
(tag 0, length field equal to the datagram length minus 9, CRC correct)? Anything else is
*audio*, and audio from an unknown address makes the server open a channel for it (a
phantom "connected client"). :func:`is_protocol_frame` asks exactly that question.
natprobe never sends a datagram a Jamulus server would take for audio: every
:func:`encode` produces a valid frame, and the transport only sends what :func:`encode`
returned (there is no API to send raw bytes).

:func:`decode` raises only :class:`~natprobe.errors.DecodeError` for malformed input.
Unknown or unmodelled message IDs (connected-mode messages, ``CLM_CHANNEL_LEVEL_LIST``,
IDs newer than 3.9.1) survive as :class:`UnknownMessage`. Payload lengths must be exactly
what the message needs, as in Jamulus' own evaluators. Decoding does not enforce the
text-length limits (a diagnostic tool should show what a peer sent); :func:`encode`
does, with ``ValueError``, counting characters as Qt does (UTF-16 code units).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv4Address
from typing import ClassVar, Self, TypeAlias

from natprobe.errors import DecodeError
from natprobe.jamulus.constants import (
    DEFAULT_PORT,
    DIRECTORY_PORT,
    FRAME_OVERHEAD,
    HEADER_LENGTH,
    JAMULUS_KEEPALIVE_S,
    MAX_LEN_FADER_TAG,
    MAX_LEN_IP_ADDRESS,
    MAX_LEN_SERVER_CITY,
    MAX_LEN_SERVER_NAME,
    MAX_LEN_VERSION_TEXT,
)
from natprobe.jamulus.crc import crc16_genibus

__all__ = (
    "DEFAULT_PORT",
    "DIRECTORY_PORT",
    "JAMULUS_KEEPALIVE_S",
    "HEADER_LENGTH",
    "FRAME_OVERHEAD",
    "MAX_LEN_SERVER_NAME",
    "MAX_LEN_SERVER_CITY",
    "MAX_LEN_IP_ADDRESS",
    "MAX_LEN_VERSION_TEXT",
    "MAX_LEN_FADER_TAG",
    "MessageId",
    "OsType",
    "ESvrRegResult",
    "Frame",
    "PingMs",
    "PingMsWithNumClients",
    "ServerFull",
    "RegisterServer",
    "UnregisterServer",
    "ServerListEntry",
    "ServerList",
    "ReqServerList",
    "SendEmptyMessage",
    "EmptyMessage",
    "Disconnection",
    "VersionAndOs",
    "ReqVersionAndOs",
    "ConnectedClient",
    "ConnClientsList",
    "ReqConnClientsList",
    "RegisterServerResp",
    "RegisterServerEx",
    "RedServerListEntry",
    "RedServerList",
    "UnknownMessage",
    "Message",
    "is_connection_less_id",
    "parse_frame",
    "is_protocol_frame",
    "encode",
    "decode",
    "matches_request",
)

_MAX_PAYLOAD = 0xFFFF  # the length field is 16 bits


class MessageId(IntEnum):
    """Protocol message IDs (``PROTMESSID_*`` in src/protocol.h, Jamulus 3.9.1).

    IDs 1000-1999 are connection-less (``IsConnectionLessMessageID``): never acknowledged,
    never resent, cnt 0. IDs below 1000 belong to a connected channel and are acknowledged.
    1019-1022 were added after 3.9.x (first tagged in r4_0_0beta1).
    """

    ACKN = 1
    JITT_BUF_SIZE = 10
    REQ_JITT_BUF_SIZE = 11
    CHANNEL_GAIN = 13
    REQ_CONN_CLIENTS_LIST = 16
    CHAT_TEXT = 18
    NETW_TRANSPORT_PROPS = 20
    REQ_NETW_TRANSPORT_PROPS = 21
    REQ_CHANNEL_INFOS = 23
    CONN_CLIENTS_LIST = 24
    CHANNEL_INFOS = 25
    OPUS_SUPPORTED = 26
    LICENCE_REQUIRED = 27
    VERSION_AND_OS = 29
    CHANNEL_PAN = 30
    MUTE_STATE_CHANGED = 31
    CLIENT_ID = 32
    RECORDER_STATE = 33
    REQ_SPLIT_MESS_SUPPORT = 34
    SPLIT_MESS_SUPPORTED = 35

    CLM_PING_MS = 1001
    CLM_PING_MS_WITHNUMCLIENTS = 1002
    CLM_SERVER_FULL = 1003
    CLM_REGISTER_SERVER = 1004
    CLM_UNREGISTER_SERVER = 1005
    CLM_SERVER_LIST = 1006
    CLM_REQ_SERVER_LIST = 1007
    CLM_SEND_EMPTY_MESSAGE = 1008
    CLM_EMPTY_MESSAGE = 1009
    CLM_DISCONNECTION = 1010
    CLM_VERSION_AND_OS = 1011
    CLM_REQ_VERSION_AND_OS = 1012
    CLM_CONN_CLIENTS_LIST = 1013
    CLM_REQ_CONN_CLIENTS_LIST = 1014
    CLM_CHANNEL_LEVEL_LIST = 1015
    CLM_REGISTER_SERVER_RESP = 1016
    CLM_REGISTER_SERVER_EX = 1017
    CLM_RED_SERVER_LIST = 1018
    CLM_SERVER_FEATURES = 1019
    CLM_REQ_SERVER_FEATURES = 1020
    CLM_WELCOME_MESSAGE = 1021
    CLM_REQ_WELCOME_MESSAGE = 1022

    SPECIAL_SPLIT_MESSAGE = 2001


class OsType(IntEnum):
    """Operating system byte of ``CLM_VERSION_AND_OS`` (``COSUtil::EOpSystemType``, src/util.h)."""

    WINDOWS = 0
    MACOS = 1
    LINUX = 2
    ANDROID = 3
    IOS = 4
    UNIX = 5

    @property
    def label(self) -> str:
        """The name a person reads, e.g. ``"macOS"``."""
        return _OS_LABELS[self]


_OS_LABELS = {
    OsType.WINDOWS: "Windows",
    OsType.MACOS: "macOS",
    OsType.LINUX: "Linux",
    OsType.ANDROID: "Android",
    OsType.IOS: "iOS",
    OsType.UNIX: "Unix",
}


class ESvrRegResult(IntEnum):
    """Status byte of ``CLM_REGISTER_SERVER_RESP`` (``ESvrRegResult``, src/util.h)."""

    REGISTERED = 0
    SERVER_LIST_FULL = 1
    VERSION_TOO_OLD = 2
    REQUIREMENTS_NOT_FULFILLED = 3


def is_connection_less_id(message_id: int) -> bool:
    """``CProtocol::IsConnectionLessMessageID``: 1000 <= id < 2000."""
    return 1000 <= message_id < 2000


# --- reading ---------------------------------------------------------------------------


class _Reader:
    """A cursor over a payload; every shortfall becomes a :class:`DecodeError`."""

    __slots__ = ("_data", "_pos", "_context")

    def __init__(self, data: bytes, context: str) -> None:
        self._data = data
        self._pos = 0
        self._context = context

    @property
    def at_end(self) -> bool:
        return self._pos >= len(self._data)

    def _take(self, size: int, what: str) -> bytes:
        end = self._pos + size
        if end > len(self._data):
            raise DecodeError(
                f"{self._context}: truncated {what} (needs {size} bytes at offset {self._pos}, "
                f"{len(self._data) - self._pos} left)"
            )
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def u8(self, what: str) -> int:
        return self._take(1, what)[0]

    def u16(self, what: str) -> int:
        return int.from_bytes(self._take(2, what), "little")

    def u32(self, what: str) -> int:
        return int.from_bytes(self._take(4, what), "little")

    def ipv4(self, what: str) -> IPv4Address:
        return IPv4Address(self.u32(what))

    def text(self, what: str, max_chars: int, length_size: int = 2) -> str:
        """A length-prefixed UTF-8 string of at most ``max_chars`` characters (src/global.h).

        The limit is Jamulus' own, in UTF-16 code units (what ``QString::size()`` counts); the
        byte length is checked against 4 bytes per character before anything is copied, so a
        peer cannot make a decoder hold 64 KiB per field.
        """
        size = self.u8(f"{what} length") if length_size == 1 else self.u16(f"{what} length")
        if size > 4 * max_chars:
            raise DecodeError(f"{self._context}: {what} is {size} bytes long, more than {max_chars} characters can be")
        raw = self._take(size, what)
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"{self._context}: {what} is not valid UTF-8") from exc
        if len(value.encode("utf-16-le")) // 2 > max_chars:
            raise DecodeError(f"{self._context}: {what} is longer than Jamulus' {max_chars} characters")
        return value

    def finish(self) -> None:
        left = len(self._data) - self._pos
        if left:
            raise DecodeError(f"{self._context}: {left} unexpected trailing bytes")


# --- writing ---------------------------------------------------------------------------


def _uint(value: int, size: int, field: str) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field} must be an int, not {type(value).__name__}")
    if not 0 <= value < 1 << (8 * size):
        raise ValueError(f"{field} must fit in {size} byte(s) (0..{(1 << (8 * size)) - 1}), got {value}")
    return value.to_bytes(size, "little")


def _text(value: str, max_chars: int, field: str, length_size: int = 2) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, not {type(value).__name__}")
    chars = len(value.encode("utf-16-le")) // 2  # Qt counts UTF-16 code units
    if chars > max_chars:
        raise ValueError(f"{field} is limited to {max_chars} characters by Jamulus, got {chars}: {value!r}")
    raw = value.encode("utf-8")
    return _uint(len(raw), length_size, f"{field} UTF-8 length") + raw


def _ipv4(value: IPv4Address, field: str) -> bytes:
    if not isinstance(value, IPv4Address):
        raise TypeError(f"{field} must be an IPv4Address, not {type(value).__name__}")
    return int(value).to_bytes(4, "little")


def _empty(payload: bytes, context: str) -> None:
    if payload:
        raise DecodeError(f"{context}: expected an empty payload, got {len(payload)} bytes")


# --- framing ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """One parsed protocol frame, before its payload is interpreted."""

    message_id: int
    cnt: int
    payload: bytes


def parse_frame(datagram: bytes) -> Frame:
    """Check and split a frame as ``CProtocol::ParseMessageFrame`` does; :class:`DecodeError` if invalid."""
    data = bytes(datagram)
    if len(data) < FRAME_OVERHEAD:
        raise DecodeError(f"datagram of {len(data)} bytes is shorter than the {FRAME_OVERHEAD}-byte minimum frame")
    if data[0:2] != b"\x00\x00":
        raise DecodeError(f"tag is {data[0:2].hex()}, not 0000: not a Jamulus protocol frame")
    length = int.from_bytes(data[5:7], "little")
    if length != len(data) - FRAME_OVERHEAD:
        raise DecodeError(f"length field says {length} bytes of data, datagram carries {len(data) - FRAME_OVERHEAD}")
    end = HEADER_LENGTH + length
    expected = crc16_genibus(data[:end])
    received = int.from_bytes(data[end : end + 2], "little")
    if expected != received:
        raise DecodeError(f"CRC mismatch: frame carries {received:#06x}, computed {expected:#06x}")
    return Frame(int.from_bytes(data[2:4], "little"), data[4], data[HEADER_LENGTH:end])


def is_protocol_frame(datagram: bytes) -> bool:
    """Would a Jamulus server treat ``datagram`` as a protocol message (``True``) or as audio (``False``)?"""
    try:
        parse_frame(datagram)
    except DecodeError:
        return False
    return True


def _build_frame(message_id: int, payload: bytes, cnt: int = 0) -> bytes:
    if len(payload) > _MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes does not fit the 16-bit length field")
    head = b"\x00\x00" + _uint(message_id, 2, "message id") + _uint(cnt, 1, "cnt") + len(payload).to_bytes(2, "little")
    body = head + payload
    return body + crc16_genibus(body).to_bytes(2, "little")


# --- messages --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PingMs:
    """``CLM_PING_MS`` (1001): u32 time value; a server echoes the message verbatim."""

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_PING_MS
    time_ms: int

    def _payload(self) -> bytes:
        return _uint(self.time_ms, 4, "time_ms")

    @classmethod
    def _parse(cls, r: _Reader) -> Self:
        return cls(r.u32("time"))


@dataclass(frozen=True, slots=True)
class PingMsWithNumClients:
    """``CLM_PING_MS_WITHNUMCLIENTS`` (1002): u32 time, u8 clients (0 in requests; the live count in replies)."""

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_PING_MS_WITHNUMCLIENTS
    time_ms: int
    num_clients: int = 0

    def _payload(self) -> bytes:
        return _uint(self.time_ms, 4, "time_ms") + _uint(self.num_clients, 1, "num_clients")

    @classmethod
    def _parse(cls, r: _Reader) -> Self:
        return cls(r.u32("time"), r.u8("number of clients"))


@dataclass(frozen=True, slots=True)
class ServerFull:
    """``CLM_SERVER_FULL`` (1003): no channel free for the sender of an audio datagram."""

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_SERVER_FULL

    def _payload(self) -> bytes:
        return b""


def _server_body(
    port: int, country: int, max_clients: int, permanent: bool, name: str, internal_address: str, city: str
) -> bytes:
    """The ``CLM_REGISTER_SERVER`` body, also the tail of every ``CLM_SERVER_LIST`` entry."""
    return b"".join(
        (
            _uint(port, 2, "port"),
            _uint(country, 2, "country"),
            _uint(max_clients, 1, "max_clients"),
            b"\x01" if permanent else b"\x00",
            _text(name, MAX_LEN_SERVER_NAME, "name"),
            _text(internal_address, MAX_LEN_IP_ADDRESS, "internal_address"),
            _text(city, MAX_LEN_SERVER_CITY, "city"),
        )
    )


def _read_server_body(r: _Reader) -> tuple[int, int, int, bool, str, str, str]:
    port = r.u16("port")
    country = r.u16("country")
    max_clients = r.u8("maximum clients")
    permanent = r.u8("permanent flag") != 0
    name = r.text("name", MAX_LEN_SERVER_NAME)
    internal_address = r.text("internal address", MAX_LEN_IP_ADDRESS)
    city = r.text("city", MAX_LEN_SERVER_CITY)
    return port, country, max_clients, permanent, name, internal_address, city


def _os_type(value: int) -> OsType | int:
    try:
        return OsType(value)
    except ValueError:
        return value


@dataclass(frozen=True, slots=True)
class RegisterServer:
    """``CLM_REGISTER_SERVER`` (1004), legacy registration, still accepted (and answered) by 3.9.1.

    ``country`` is a Qt5 ``QLocale::Country`` number (82 = Germany, 0 = any).
    ``internal_address`` is a dotted quad as text, the "server internal address" used for
    same-NAT cases; it is kept as received.
    """

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_REGISTER_SERVER
    port: int
    country: int
    max_clients: int
    permanent: bool
    name: str
    internal_address: str
    city: str

    def _payload(self) -> bytes:
        return _server_body(
            self.port, self.country, self.max_clients, self.permanent, self.name, self.internal_address, self.city
        )

    @classmethod
    def _parse(cls, r: _Reader) -> Self:
        return cls(*_read_server_body(r))


@dataclass(frozen=True, slots=True)
class UnregisterServer:
    """``CLM_UNREGISTER_SERVER`` (1005): the directory drops the entry keyed by the source ip:port."""

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_UNREGISTER_SERVER

    def _payload(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class ServerListEntry:
    """One entry of ``CLM_SERVER_LIST``: address, then the registration body.

    Entry 0 is the directory itself, sent as 0.0.0.0:0 (the client substitutes the address
    it asked). ``internal_address`` is always sent empty by 3.9.1 directories.
    """

    ip: IPv4Address
    port: int
    country: int
    max_clients: int
    permanent: bool
    name: str
    internal_address: str
    city: str

    def _encode(self) -> bytes:
        return _ipv4(self.ip, "ip") + _server_body(
            self.port, self.country, self.max_clients, self.permanent, self.name, self.internal_address, self.city
        )


@dataclass(frozen=True, slots=True)
class ServerList:
    """``CLM_SERVER_LIST`` (1006): directory -> client, the full list."""

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_SERVER_LIST
    entries: tuple[ServerListEntry, ...] = ()

    def _payload(self) -> bytes:
        return b"".join(entry._encode() for entry in self.entries)

    @classmethod
    def _parse(cls, r: _Reader) -> Self:
        entries = []
        while not r.at_end:
            ip = r.ipv4("server address")
            entries.append(ServerListEntry(ip, *_read_server_body(r)))
        return cls(tuple(entries))


@dataclass(frozen=True, slots=True)
class ReqServerList:
    """``CLM_REQ_SERVER_LIST`` (1007): a directory answers with the lists; a plain server ignores it."""

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_REQ_SERVER_LIST

    def _payload(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class SendEmptyMessage:
    """``CLM_SEND_EMPTY_MESSAGE`` (1008): directory -> server, "send an empty message to ip:port" (the hole punch)."""

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_SEND_EMPTY_MESSAGE
    ip: IPv4Address
    port: int

    def _payload(self) -> bytes:
        return _ipv4(self.ip, "ip") + _uint(self.port, 2, "port")

    @classmethod
    def _parse(cls, r: _Reader) -> Self:
        return cls(r.ipv4("target address"), r.u16("target port"))


@dataclass(frozen=True, slots=True)
class EmptyMessage:
    """``CLM_EMPTY_MESSAGE`` (1009): hole punch and NAT keep-alive; receivers drop it."""

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_EMPTY_MESSAGE

    def _payload(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class Disconnection:
    """``CLM_DISCONNECTION`` (1010): drop the sender's channel."""

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_DISCONNECTION

    def _payload(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class VersionAndOs:
    """``CLM_VERSION_AND_OS`` (1011): u8 OS, version text (e.g. ``"3.9.1"``)."""

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_VERSION_AND_OS
    os: OsType | int
    version: str

    def _payload(self) -> bytes:
        return _uint(int(self.os), 1, "os") + _text(self.version, MAX_LEN_VERSION_TEXT, "version")

    @classmethod
    def _parse(cls, r: _Reader) -> Self:
        return cls(_os_type(r.u8("operating system")), r.text("version", MAX_LEN_VERSION_TEXT))


@dataclass(frozen=True, slots=True)
class ReqVersionAndOs:
    """``CLM_REQ_VERSION_AND_OS`` (1012)."""

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_REQ_VERSION_AND_OS

    def _payload(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class ConnectedClient:
    """One entry of ``CLM_CONN_CLIENTS_LIST``.

    ``legacy_ip`` is the 4-byte field that once carried the client's IP; servers send 0.
    """

    channel_id: int
    country: int
    instrument: int
    skill_level: int
    name: str
    city: str
    legacy_ip: int = 0

    def _encode(self) -> bytes:
        return b"".join(
            (
                _uint(self.channel_id, 1, "channel_id"),
                _uint(self.country, 2, "country"),
                _uint(self.instrument, 4, "instrument"),
                _uint(self.skill_level, 1, "skill_level"),
                _uint(self.legacy_ip, 4, "legacy_ip"),
                _text(self.name, MAX_LEN_FADER_TAG, "name"),
                _text(self.city, MAX_LEN_SERVER_CITY, "city"),
            )
        )


@dataclass(frozen=True, slots=True)
class ConnClientsList:
    """``CLM_CONN_CLIENTS_LIST`` (1013): who is connected (empty when nobody is)."""

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_CONN_CLIENTS_LIST
    clients: tuple[ConnectedClient, ...] = ()

    def _payload(self) -> bytes:
        return b"".join(client._encode() for client in self.clients)

    @classmethod
    def _parse(cls, r: _Reader) -> Self:
        clients = []
        while not r.at_end:
            channel_id = r.u8("channel id")
            country = r.u16("country")
            instrument = r.u32("instrument")
            skill_level = r.u8("skill level")
            legacy_ip = r.u32("legacy address")
            name = r.text("name", MAX_LEN_FADER_TAG)
            city = r.text("city", MAX_LEN_SERVER_CITY)
            clients.append(ConnectedClient(channel_id, country, instrument, skill_level, name, city, legacy_ip))
        return cls(tuple(clients))


@dataclass(frozen=True, slots=True)
class ReqConnClientsList:
    """``CLM_REQ_CONN_CLIENTS_LIST`` (1014)."""

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_REQ_CONN_CLIENTS_LIST

    def _payload(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class RegisterServerResp:
    """``CLM_REGISTER_SERVER_RESP`` (1016): directory -> server, the registration status.

    Unknown status values are kept as plain ints (a 3.9.1 server would ignore them).
    """

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_REGISTER_SERVER_RESP
    status: ESvrRegResult | int

    def _payload(self) -> bytes:
        return _uint(int(self.status), 1, "status")

    @classmethod
    def _parse(cls, r: _Reader) -> Self:
        value = r.u8("status")
        try:
            return cls(ESvrRegResult(value))
        except ValueError:
            return cls(value)


@dataclass(frozen=True, slots=True)
class RegisterServerEx:
    """``CLM_REGISTER_SERVER_EX`` (1017): the ``CLM_REGISTER_SERVER`` body plus OS and version (what 3.9.1 sends)."""

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_REGISTER_SERVER_EX
    port: int
    country: int
    max_clients: int
    permanent: bool
    name: str
    internal_address: str
    city: str
    os: OsType | int
    version: str

    def _payload(self) -> bytes:
        return b"".join(
            (
                _server_body(
                    self.port,
                    self.country,
                    self.max_clients,
                    self.permanent,
                    self.name,
                    self.internal_address,
                    self.city,
                ),
                _uint(int(self.os), 1, "os"),
                _text(self.version, MAX_LEN_VERSION_TEXT, "version"),
            )
        )

    @classmethod
    def _parse(cls, r: _Reader) -> Self:
        body = _read_server_body(r)
        os = _os_type(r.u8("operating system"))
        return cls(*body, os, r.text("version", MAX_LEN_VERSION_TEXT))


@dataclass(frozen=True, slots=True)
class RedServerListEntry:
    """One entry of ``CLM_RED_SERVER_LIST``: address and name (1-byte length) only."""

    ip: IPv4Address
    port: int
    name: str

    def _encode(self) -> bytes:
        return _ipv4(self.ip, "ip") + _uint(self.port, 2, "port") + _text(self.name, MAX_LEN_SERVER_NAME, "name", 1)


@dataclass(frozen=True, slots=True)
class RedServerList:
    """``CLM_RED_SERVER_LIST`` (1018): the reduced list, sent before the full one to survive fragment loss."""

    MESSAGE_ID: ClassVar[MessageId] = MessageId.CLM_RED_SERVER_LIST
    entries: tuple[RedServerListEntry, ...] = ()

    def _payload(self) -> bytes:
        return b"".join(entry._encode() for entry in self.entries)

    @classmethod
    def _parse(cls, r: _Reader) -> Self:
        entries = []
        while not r.at_end:
            ip = r.ipv4("server address")
            port = r.u16("port")
            entries.append(RedServerListEntry(ip, port, r.text("name", MAX_LEN_SERVER_NAME, length_size=1)))
        return cls(tuple(entries))


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A valid frame whose ID this codec does not model; kept so nothing is lost.

    ``message_id`` is a :class:`MessageId` member when the ID is known (for instance
    ``CLIENT_ID`` or ``CLM_CHANNEL_LEVEL_LIST``), a plain int otherwise.
    """

    message_id: MessageId | int
    payload: bytes
    cnt: int = 0


Message: TypeAlias = (
    PingMs
    | PingMsWithNumClients
    | ServerFull
    | RegisterServer
    | UnregisterServer
    | ServerList
    | ReqServerList
    | SendEmptyMessage
    | EmptyMessage
    | Disconnection
    | VersionAndOs
    | ReqVersionAndOs
    | ConnClientsList
    | ReqConnClientsList
    | RegisterServerResp
    | RegisterServerEx
    | RedServerList
    | UnknownMessage
)
"""Everything :func:`decode` returns and :func:`encode` accepts."""

_EMPTY_MESSAGES: dict[int, Message] = {
    MessageId.CLM_SERVER_FULL: ServerFull(),
    MessageId.CLM_UNREGISTER_SERVER: UnregisterServer(),
    MessageId.CLM_REQ_SERVER_LIST: ReqServerList(),
    MessageId.CLM_EMPTY_MESSAGE: EmptyMessage(),
    MessageId.CLM_DISCONNECTION: Disconnection(),
    MessageId.CLM_REQ_VERSION_AND_OS: ReqVersionAndOs(),
    MessageId.CLM_REQ_CONN_CLIENTS_LIST: ReqConnClientsList(),
}

_PARSERS: dict[int, Callable[[_Reader], Message]] = {
    cls.MESSAGE_ID: cls._parse
    for cls in (
        PingMs,
        PingMsWithNumClients,
        RegisterServer,
        ServerList,
        SendEmptyMessage,
        VersionAndOs,
        ConnClientsList,
        RegisterServerResp,
        RegisterServerEx,
        RedServerList,
    )
}

_MODELLED_IDS = frozenset(_EMPTY_MESSAGES) | frozenset(_PARSERS)


def encode(message: Message) -> bytes:
    """The complete datagram for ``message`` (cnt 0, CRC appended).

    Raises ``ValueError`` when a field breaks a Jamulus limit (text too long, number out of
    range) and ``TypeError`` for a wrong field type.
    """
    if isinstance(message, UnknownMessage):
        if message.message_id in _MODELLED_IDS:
            raise ValueError(
                f"message id {int(message.message_id)} has its own record type; encode that instead of UnknownMessage"
            )
        if not isinstance(message.payload, bytes):
            raise TypeError("UnknownMessage.payload must be bytes")
        return _build_frame(int(message.message_id), message.payload, message.cnt)
    return _build_frame(message.MESSAGE_ID, message._payload())


def decode(datagram: bytes) -> Message:
    """Parse one datagram. Raises :class:`~natprobe.errors.DecodeError` (only) when it is malformed."""
    frame = parse_frame(datagram)
    message_id = frame.message_id
    empty = _EMPTY_MESSAGES.get(message_id)
    if empty is not None:
        _empty(frame.payload, _name(message_id))
        return empty
    parser = _PARSERS.get(message_id)
    if parser is None:
        known: MessageId | int
        try:
            known = MessageId(message_id)
        except ValueError:
            known = message_id
        return UnknownMessage(known, frame.payload, frame.cnt)
    reader = _Reader(frame.payload, _name(message_id))
    message = parser(reader)
    reader.finish()
    return message


def _name(message_id: int) -> str:
    try:
        return MessageId(message_id).name
    except ValueError:
        return f"message {message_id}"


def matches_request(request: Message, reply: Message) -> bool:
    """Is ``reply`` an answer to ``request``? Pings match on the echoed time value.

    The caller checks that the reply came from the exact ip:port the request went to.
    """
    match request:
        case PingMs(time_ms=sent):
            return isinstance(reply, PingMs) and reply.time_ms == sent
        case PingMsWithNumClients(time_ms=sent):
            return isinstance(reply, PingMsWithNumClients) and reply.time_ms == sent
        case ReqVersionAndOs():
            return isinstance(reply, VersionAndOs)
        case ReqServerList():
            return isinstance(reply, (ServerList, RedServerList))
        case ReqConnClientsList():
            return isinstance(reply, ConnClientsList)
        case RegisterServer() | RegisterServerEx():
            return isinstance(reply, RegisterServerResp)
        case _:
            return False
