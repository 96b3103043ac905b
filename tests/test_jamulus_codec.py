"""The Jamulus CLM codec against the bytes the real 3.9.1 server sent and accepted (facts/jamulus.md §2, §5)."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from natprobe.errors import DecodeError
from natprobe.jamulus import (
    ConnClientsList,
    ConnectedClient,
    Disconnection,
    EmptyMessage,
    ESvrRegResult,
    Message,
    MessageId,
    OsType,
    PingMs,
    PingMsWithNumClients,
    RedServerList,
    RedServerListEntry,
    RegisterServer,
    RegisterServerEx,
    RegisterServerResp,
    ReqConnClientsList,
    ReqServerList,
    ReqVersionAndOs,
    SendEmptyMessage,
    ServerFull,
    ServerList,
    ServerListEntry,
    UnknownMessage,
    UnregisterServer,
    VersionAndOs,
    crc16_genibus,
    decode,
    encode,
    is_connection_less_id,
    is_protocol_frame,
    matches_request,
    parse_frame,
)

LOCALHOST = IPv4Address("127.0.0.1")


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace("|", " "))


def frame(message_id: int, payload: bytes, cnt: int = 0) -> bytes:
    """A correctly CRC'd frame with any payload (to reach payload checks past the frame check)."""
    body = b"\x00\x00" + message_id.to_bytes(2, "little") + bytes([cnt]) + len(payload).to_bytes(2, "little") + payload
    return body + crc16_genibus(body).to_bytes(2, "little")


# --- CRC -------------------------------------------------------------------------------


def _crc_bitwise(data: bytes) -> int:
    """An independent, bit-serial CRC-16/GENIBUS (poly 0x1021, init 0xFFFF, MSB first, xorout 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        for bit in range(7, -1, -1):
            top = (crc >> 15) & 1
            crc = (crc << 1) & 0xFFFF
            if top ^ ((byte >> bit) & 1):
                crc ^= 0x1021
    return crc ^ 0xFFFF


def test_crc_check_value() -> None:
    assert crc16_genibus(b"123456789") == 0xD64E
    assert _crc_bitwise(b"123456789") == 0xD64E


@settings(deadline=None)
@given(st.binary(max_size=300))
def test_crc_table_matches_bitwise_reference(data: bytes) -> None:
    assert crc16_genibus(data) == _crc_bitwise(data)


# --- worked byte examples (every one observed from or sent to Jamulus 3.9.1) -----------

WORKED = [
    ("00 00 | e9 03 | 00 | 04 00 | 78 56 34 12 | 95 b0", PingMs(0x12345678)),
    ("00 00 | ea 03 | 00 | 05 00 | 78 56 34 12 00 | 7a 25", PingMsWithNumClients(0x12345678, 0)),
    ("00 00 ea 03 00 05 00 78 56 34 12 01 5b 35", PingMsWithNumClients(0x12345678, 1)),
    ("00 00 f4 03 00 00 00 bd 23", ReqVersionAndOs()),
    ("00 00 f3 03 00 08 00 | 02 | 05 00 332e392e31 | 67 3c", VersionAndOs(OsType.LINUX, "3.9.1")),
    ("00 00 f6 03 00 00 00 3e 67", ReqConnClientsList()),
    ("00 00 f5 03 00 00 00 ec 89", ConnClientsList(())),
    ("00 00 ef 03 00 00 00 18 cb", ReqServerList()),
    ("00 00 f1 03 00 00 00 ea 00", EmptyMessage()),
    ("00 00 eb 03 00 00 00 1e 42", ServerFull()),
    ("00 00 ed 03 00 00 00 9b 8f", UnregisterServer()),
    ("00 00 f2 03 00 00 00 38 ee", Disconnection()),
    ("00 00 f8 03 00 01 00 00 dd 8b", RegisterServerResp(ESvrRegResult.REGISTERED)),
    (
        "00 00 f0 03 00 06 00 | 01 00 00 7f | 80 85 | e3 bf",
        SendEmptyMessage(LOCALHOST, 34176),
    ),
    (
        # §5: the 53-byte registration the real server sent to its directory
        "00 00 f9 03 00 2c 00 | 6d 56 | 00 00 | 0a | 00 | 08 00 50726f6265537276 | 09 00 3139322e302e322e32"
        "| 07 00 537276746f776e | 02 | 05 00 332e392e31 | 05 65",
        RegisterServerEx(22125, 0, 10, False, "ProbeSrv", "192.0.2.2", "Srvtown", OsType.LINUX, "3.9.1"),
    ),
]


@pytest.mark.parametrize(("wire", "message"), WORKED, ids=[type(m).__name__ for _, m in WORKED])
def test_worked_examples_encode_and_decode(wire: str, message: Message) -> None:
    data = h(wire)
    assert encode(message) == data
    assert decode(data) == message
    assert is_protocol_frame(data)


def test_register_server_ex_is_53_bytes() -> None:
    data = encode(RegisterServerEx(22125, 0, 10, False, "ProbeSrv", "192.0.2.2", "Srvtown", OsType.LINUX, "3.9.1"))
    assert len(data) == 53
    assert parse_frame(data).message_id == MessageId.CLM_REGISTER_SERVER_EX


def test_ping_reply_is_an_echo() -> None:
    request = encode(PingMs(0x12345678))
    reply = decode(h("00 00 e9 03 00 04 00 78 56 34 12 95 b0"))
    assert matches_request(decode(request), reply)


def test_connected_mode_frames_survive_as_unknown() -> None:
    # §5: what the server sent to a socket it had mistaken for an audio client
    client_id = h("00 00 20 00 00 01 00 00 f9 cc")
    levels = h("00 00 f7 03 00 01 00 f0 c1 a1")
    assert decode(client_id) == UnknownMessage(MessageId.CLIENT_ID, b"\x00", 0)
    assert decode(levels) == UnknownMessage(MessageId.CLM_CHANNEL_LEVEL_LIST, b"\xf0", 0)
    assert encode(decode(client_id)) == client_id
    assert encode(decode(levels)) == levels
    assert not is_connection_less_id(MessageId.CLIENT_ID)
    assert is_connection_less_id(MessageId.CLM_CHANNEL_LEVEL_LIST)


def test_unassigned_id_keeps_its_number_and_counter() -> None:
    data = frame(1999, b"abc", cnt=7)
    message = decode(data)
    assert message == UnknownMessage(1999, b"abc", 7)
    assert encode(message) == data


def test_ping_with_a_wrong_crc_is_audio_to_the_server() -> None:
    # §5: this exact datagram made the real server open a channel
    bad = h("00 00 e9 03 00 04 00 78 56 34 12 95 4f")
    assert not is_protocol_frame(bad)
    with pytest.raises(DecodeError, match="CRC"):
        decode(bad)


# --- directory lists -------------------------------------------------------------------

OBSERVED_RED = RedServerList(
    (RedServerListEntry(IPv4Address(0), 0, "ProbeDir"), RedServerListEntry(LOCALHOST, 22125, "ProbeSrv"))
)
OBSERVED_FULL = ServerList(
    (
        ServerListEntry(IPv4Address(0), 0, 82, 10, True, "ProbeDir", "", "Dirtown"),
        ServerListEntry(LOCALHOST, 22125, 82, 10, False, "ProbeSrv", "", "Srvtown"),
    )
)


def test_red_server_list_round_trip_and_layout() -> None:
    data = encode(OBSERVED_RED)
    assert decode(data) == OBSERVED_RED
    payload = parse_frame(data).payload
    # entry 0: 0.0.0.0:0, 1-byte name length
    assert payload[:7] == h("00000000 0000 08") and payload[7:15] == b"ProbeDir"
    # entry 1: 127.0.0.1 reversed, port 22125 little-endian
    assert payload[15:22] == h("0100007f 6d56 08") and payload[22:] == b"ProbeSrv"


def test_server_list_round_trip_and_layout() -> None:
    data = encode(OBSERVED_FULL)
    assert decode(data) == OBSERVED_FULL
    payload = parse_frame(data).payload
    first = h("00000000 0000 5200 0a 01 0800") + b"ProbeDir" + h("0000 0700") + b"Dirtown"
    assert payload.startswith(first)
    assert payload[len(first) : len(first) + 12] == h("0100007f 6d56 5200 0a 00 0800")


def test_empty_lists_decode() -> None:
    assert decode(encode(ServerList())) == ServerList(())
    assert decode(encode(RedServerList())) == RedServerList(())


def test_unknown_status_and_os_survive() -> None:
    assert decode(frame(MessageId.CLM_REGISTER_SERVER_RESP, b"\x09")) == RegisterServerResp(9)
    assert decode(frame(MessageId.CLM_VERSION_AND_OS, b"\x07\x01\x00x")) == VersionAndOs(7, "x")
    assert OsType.MACOS.label == "macOS"


# --- malformed input -------------------------------------------------------------------

MALFORMED = {
    "empty": b"",
    "short": h("00 00 e9 03 00 00 00 bd"),
    "tag": h("01 00 e9 03 00 04 00 78 56 34 12 95 b0"),
    "length too big": h("00 00 e9 03 00 05 00 78 56 34 12 95 b0"),
    "length too small": h("00 00 e9 03 00 03 00 78 56 34 12 95 b0"),
    "trailing byte": h("00 00 e9 03 00 04 00 78 56 34 12 95 b0 00"),
    "ping 3 bytes": frame(MessageId.CLM_PING_MS, b"\x01\x02\x03"),
    "ping 5 bytes": frame(MessageId.CLM_PING_MS, b"\x01\x02\x03\x04\x05"),
    "ping-with-clients 4 bytes": frame(MessageId.CLM_PING_MS_WITHNUMCLIENTS, b"\x01\x02\x03\x04"),
    "send-empty 5 bytes": frame(MessageId.CLM_SEND_EMPTY_MESSAGE, b"\x01\x00\x00\x7f\x80"),
    "resp 2 bytes": frame(MessageId.CLM_REGISTER_SERVER_RESP, b"\x00\x00"),
    "empty message with data": frame(MessageId.CLM_REQ_SERVER_LIST, b"\x00"),
    "version truncated string": frame(MessageId.CLM_VERSION_AND_OS, b"\x02\x05\x003.9"),
    "version missing length": frame(MessageId.CLM_VERSION_AND_OS, b"\x02\x05"),
    "version trailing": frame(MessageId.CLM_VERSION_AND_OS, b"\x02\x01\x00xZ"),
    "version bad utf-8": frame(MessageId.CLM_VERSION_AND_OS, b"\x02\x02\x00\xc3\x28"),
    "red list cut name": frame(MessageId.CLM_RED_SERVER_LIST, h("0100007f 6d56 08") + b"Probe"),
    "red list cut address": frame(MessageId.CLM_RED_SERVER_LIST, h("0100007f 6d")),
    "server list cut": frame(MessageId.CLM_SERVER_LIST, h("0100007f 6d56 5200 0a 00 0800") + b"ProbeSrv"),
    "clients list cut": frame(MessageId.CLM_CONN_CLIENTS_LIST, h("00 5200 00000000 00 00000000 0300") + b"ab"),
    "register-ex without version": frame(
        MessageId.CLM_REGISTER_SERVER_EX, h("6d56 0000 0a 00 0000 0000 0000 02")
    ),
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_raises_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    try:
        decode(data)
    except DecodeError:
        return
    assert is_protocol_frame(data)  # whatever decodes was a valid frame


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from([int(m) for m in MessageId] + [0, 999, 1999, 65535]),
    st.binary(max_size=120),
    st.integers(0, 255),
)
def test_any_valid_frame_decodes_or_raises_decode_error(message_id: int, payload: bytes, cnt: int) -> None:
    data = frame(message_id, payload, cnt)
    assert is_protocol_frame(data)
    try:
        decode(data)
    except DecodeError:
        pass


# --- encode limits ---------------------------------------------------------------------


def test_name_city_version_limits() -> None:
    def ex(name: str = "n", city: str = "c", version: str = "3.9.1") -> RegisterServerEx:
        return RegisterServerEx(22124, 0, 10, False, name, "", city, OsType.LINUX, version)

    encode(ex(name="x" * 20, city="y" * 20, version="z" * 30))
    with pytest.raises(ValueError, match="name"):
        encode(ex(name="x" * 21))
    with pytest.raises(ValueError, match="city"):
        encode(ex(city="y" * 21))
    with pytest.raises(ValueError, match="version"):
        encode(ex(version="z" * 31))
    with pytest.raises(ValueError, match="version"):
        encode(VersionAndOs(OsType.LINUX, "z" * 31))
    with pytest.raises(ValueError, match="name"):
        encode(RedServerList((RedServerListEntry(LOCALHOST, 1, "x" * 21),)))
    with pytest.raises(ValueError, match="internal_address"):
        encode(RegisterServer(22124, 0, 10, False, "n", "255.255.255.2555", "c"))
    # Qt counts UTF-16 code units: an emoji is two
    encode(ex(name="é" * 20))
    with pytest.raises(ValueError):
        encode(ex(name="\N{GUITAR}" * 11))


def _text_field(raw: bytes) -> bytes:
    return len(raw).to_bytes(2, "little") + raw


def _register_ex_payload(name: bytes, city: bytes = b"c", version: bytes = b"3.9.1") -> bytes:
    body = (22124).to_bytes(2, "little") + (0).to_bytes(2, "little") + bytes([10, 0])
    body += _text_field(name) + _text_field(b"") + _text_field(city)
    return body + bytes([OsType.LINUX]) + _text_field(version)


def test_decode_enforces_the_field_limits() -> None:
    """Issue #9: 1,024 registrations with 60 KB names cost the directory 59 MiB."""
    ex = int(RegisterServerEx.MESSAGE_ID)
    assert decode(frame(ex, _register_ex_payload("é".encode() * 20))) is not None  # 20 chars, 40 bytes: fine
    for payload in (
        _register_ex_payload(b"x" * 60_000),  # refused on its length alone, before any copy
        _register_ex_payload(b"x" * 21),
        _register_ex_payload(b"n", city=b"y" * 21),
        _register_ex_payload(b"n", version=b"z" * 31),
        _register_ex_payload("\N{GUITAR}".encode() * 11),  # 22 UTF-16 code units
    ):
        with pytest.raises(DecodeError):
            decode(frame(ex, payload))
    with pytest.raises(DecodeError):
        decode(frame(int(RegisterServer.MESSAGE_ID), _register_ex_payload(b"x" * 80)[: -9]))


def test_numeric_ranges_and_types() -> None:
    with pytest.raises(ValueError):
        encode(PingMs(1 << 32))
    with pytest.raises(ValueError):
        encode(PingMs(-1))
    with pytest.raises(ValueError):
        encode(PingMsWithNumClients(0, 256))
    with pytest.raises(ValueError):
        encode(SendEmptyMessage(LOCALHOST, 65536))
    with pytest.raises(TypeError):
        encode(PingMs(True))
    with pytest.raises(TypeError):
        encode(SendEmptyMessage("127.0.0.1", 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        encode(UnknownMessage(MessageId.CLM_PING_MS, b"\x00\x00\x00\x00"))
    with pytest.raises(ValueError):
        encode(UnknownMessage(1999, b"x" * 70000))


# --- matcher ---------------------------------------------------------------------------


def test_matches_request() -> None:
    assert matches_request(PingMs(5), PingMs(5))
    assert not matches_request(PingMs(5), PingMs(6))
    assert not matches_request(PingMs(5), PingMsWithNumClients(5, 0))
    assert matches_request(PingMsWithNumClients(5, 0), PingMsWithNumClients(5, 3))
    assert not matches_request(PingMsWithNumClients(5, 0), PingMsWithNumClients(4, 3))
    assert matches_request(ReqVersionAndOs(), VersionAndOs(OsType.LINUX, "3.9.1"))
    assert matches_request(ReqServerList(), OBSERVED_RED)
    assert matches_request(ReqServerList(), OBSERVED_FULL)
    assert not matches_request(ReqServerList(), EmptyMessage())
    assert matches_request(ReqConnClientsList(), ConnClientsList())
    assert matches_request(
        RegisterServer(1, 0, 1, False, "", "", ""), RegisterServerResp(ESvrRegResult.SERVER_LIST_FULL)
    )
    assert not matches_request(EmptyMessage(), EmptyMessage())


# --- properties ------------------------------------------------------------------------

_CHARS = st.characters(exclude_categories=["Cs"])


def _text(limit: int) -> st.SearchStrategy[str]:
    return st.text(_CHARS, max_size=limit).filter(lambda s: len(s.encode("utf-16-le")) // 2 <= limit)


_u8 = st.integers(0, 0xFF)
_u16 = st.integers(0, 0xFFFF)
_u32 = st.integers(0, 0xFFFFFFFF)
_ip = st.builds(IPv4Address, _u32)
_os = st.one_of(st.sampled_from(OsType), st.integers(6, 255))

_server_body = (_u16, _u16, _u8, st.booleans(), _text(20), _text(15), _text(20))

MESSAGES: st.SearchStrategy[Message] = st.one_of(
    st.builds(PingMs, _u32),
    st.builds(PingMsWithNumClients, _u32, _u8),
    st.just(ServerFull()),
    st.builds(RegisterServer, *_server_body),
    st.just(UnregisterServer()),
    st.builds(
        ServerList,
        st.lists(st.builds(ServerListEntry, _ip, *_server_body), max_size=6).map(tuple),
    ),
    st.just(ReqServerList()),
    st.builds(SendEmptyMessage, _ip, _u16),
    st.just(EmptyMessage()),
    st.just(Disconnection()),
    st.builds(VersionAndOs, _os, _text(30)),
    st.just(ReqVersionAndOs()),
    st.builds(
        ConnClientsList,
        st.lists(
            st.builds(ConnectedClient, _u8, _u16, _u32, _u8, _text(16), _text(20), _u32), max_size=6
        ).map(tuple),
    ),
    st.just(ReqConnClientsList()),
    st.builds(RegisterServerResp, st.one_of(st.sampled_from(ESvrRegResult), st.integers(4, 255))),
    st.builds(RegisterServerEx, *_server_body, _os, _text(30)),
    st.builds(RedServerList, st.lists(st.builds(RedServerListEntry, _ip, _u16, _text(20)), max_size=8).map(tuple)),
    st.builds(
        UnknownMessage,
        st.sampled_from([1015, 1019, 1020, 1999, 32, 1, 2001, 0]),
        st.binary(max_size=64),
        _u8,
    ),
)


@settings(max_examples=300, deadline=None)
@given(MESSAGES)
def test_round_trip_and_every_frame_is_a_protocol_frame(message: Message) -> None:
    data = encode(message)
    assert is_protocol_frame(data)  # never mistaken for audio by a Jamulus server
    assert decode(data) == message
    assert encode(decode(data)) == data


@settings(max_examples=200, deadline=None)
@given(MESSAGES, st.data())
def test_any_single_bit_flip_is_detected(message: Message, data: st.DataObject) -> None:
    wire = bytearray(encode(message))
    bit = data.draw(st.integers(0, len(wire) * 8 - 1))
    wire[bit // 8] ^= 1 << (bit % 8)
    assert not is_protocol_frame(bytes(wire))


def test_fixed_message_sizes_equal_the_codec() -> None:
    """``natprobe.jamulus.constants`` states the sizes without the codec (the contract loads it
    before ``check``'s first packet); they must be what :func:`encode` produces."""
    from natprobe.jamulus import constants

    assert constants.PING_BYTES == len(encode(PingMs(0))) == len(encode(PingMs(0xFFFFFFFF)))
    assert constants.PING_WITH_NUM_CLIENTS_BYTES == len(encode(PingMsWithNumClients(7, 3)))
    assert constants.REQ_VERSION_AND_OS_BYTES == len(encode(ReqVersionAndOs()))
    assert constants.SEND_EMPTY_BYTES == len(encode(SendEmptyMessage(IPv4Address("198.51.100.7"), 22124)))


def test_the_constants_load_without_the_codec() -> None:
    import subprocess
    import sys

    code = ("import sys, natprobe.contract.terms, natprobe.jamulus.constants; "
            "print(sorted(m for m in sys.modules if m.startswith('natprobe.jamulus')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "['natprobe.jamulus', 'natprobe.jamulus.constants']", done.stderr
