"""The Jamulus protocol, sans I/O: connection-less messages and the probes built on them.

- :mod:`natprobe.jamulus.constants`: ports, frame layout, text limits, fixed message sizes.
- :mod:`natprobe.jamulus.crc`: CRC-16/GENIBUS, the frame checksum.
- :mod:`natprobe.jamulus.messages`: frame and message codec (``encode``/``decode``,
  ``is_protocol_frame``, ``matches_request``), wire enums.
- :mod:`natprobe.jamulus.probe`: time-driven state machines for a ping and a list request.
- :mod:`natprobe.jamulus.directory_table`: a directory's registration table (bounded,
  verified by a ping round trip), driven by ``natprobe_server.jamulus.directory``.

Sources: jamulussoftware/jamulus at tag r3_9_1 (src/protocol.h, src/protocol.cpp,
src/util.h) and the observations in the project's facts sheet. natprobe never sends a
datagram a Jamulus server would take for audio: every ``encode`` produces a valid frame.

The names below load on first use (PEP 562): ``natprobe.jamulus.constants`` alone (the
contract's byte budgets need it) does not load the codec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from natprobe.lazy_exports import load_lazy_export as _load_lazy_export

if TYPE_CHECKING:
    from natprobe.jamulus.crc import (
        crc16_genibus,
    )
    from natprobe.jamulus.constants import (
        DEFAULT_PORT,
        DIRECTORY_PORT,
        JAMULUS_KEEPALIVE_S,
        FRAME_OVERHEAD,
        HEADER_LENGTH,
        MAX_LEN_FADER_TAG,
        MAX_LEN_IP_ADDRESS,
        MAX_LEN_SERVER_CITY,
        MAX_LEN_SERVER_NAME,
        MAX_LEN_VERSION_TEXT,
    )
    from natprobe.jamulus.messages import (
        ConnClientsList,
        ConnectedClient,
        Disconnection,
        EmptyMessage,
        ESvrRegResult,
        Frame,
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
        decode,
        encode,
        is_connection_less_id,
        is_protocol_frame,
        matches_request,
        parse_frame,
    )
    from natprobe.jamulus.probe import (
        DIRECTORY_GRACE_MIN,
        LIST_RESEND_INTERVAL,
        Finished,
        ListedServer,
        ListOutcome,
        PingOutcome,
        PingProbe,
        SendMessages,
        ServerListRequest,
        WaitUntil,
        merge_listing,
    )

__all__ = (
    "crc16_genibus",
    "DEFAULT_PORT",
    "DIRECTORY_PORT",
    "JAMULUS_KEEPALIVE_S",
    "FRAME_OVERHEAD",
    "HEADER_LENGTH",
    "MAX_LEN_FADER_TAG",
    "MAX_LEN_IP_ADDRESS",
    "MAX_LEN_SERVER_CITY",
    "MAX_LEN_SERVER_NAME",
    "MAX_LEN_VERSION_TEXT",
    "ConnClientsList",
    "ConnectedClient",
    "Disconnection",
    "EmptyMessage",
    "ESvrRegResult",
    "Frame",
    "Message",
    "MessageId",
    "OsType",
    "PingMs",
    "PingMsWithNumClients",
    "RedServerList",
    "RedServerListEntry",
    "RegisterServer",
    "RegisterServerEx",
    "RegisterServerResp",
    "ReqConnClientsList",
    "ReqServerList",
    "ReqVersionAndOs",
    "SendEmptyMessage",
    "ServerFull",
    "ServerList",
    "ServerListEntry",
    "UnknownMessage",
    "UnregisterServer",
    "VersionAndOs",
    "decode",
    "encode",
    "is_connection_less_id",
    "is_protocol_frame",
    "matches_request",
    "parse_frame",
    "DIRECTORY_GRACE_MIN",
    "LIST_RESEND_INTERVAL",
    "Finished",
    "ListedServer",
    "ListOutcome",
    "PingOutcome",
    "PingProbe",
    "SendMessages",
    "ServerListRequest",
    "WaitUntil",
    "merge_listing",
)

_LAZY_EXPORTS: dict[str, str] = {
    "crc16_genibus": "natprobe.jamulus.crc",
    "DEFAULT_PORT": "natprobe.jamulus.constants",
    "DIRECTORY_PORT": "natprobe.jamulus.constants",
    "JAMULUS_KEEPALIVE_S": "natprobe.jamulus.constants",
    "FRAME_OVERHEAD": "natprobe.jamulus.constants",
    "HEADER_LENGTH": "natprobe.jamulus.constants",
    "MAX_LEN_FADER_TAG": "natprobe.jamulus.constants",
    "MAX_LEN_IP_ADDRESS": "natprobe.jamulus.constants",
    "MAX_LEN_SERVER_CITY": "natprobe.jamulus.constants",
    "MAX_LEN_SERVER_NAME": "natprobe.jamulus.constants",
    "MAX_LEN_VERSION_TEXT": "natprobe.jamulus.constants",
    "ConnClientsList": "natprobe.jamulus.messages",
    "ConnectedClient": "natprobe.jamulus.messages",
    "Disconnection": "natprobe.jamulus.messages",
    "EmptyMessage": "natprobe.jamulus.messages",
    "ESvrRegResult": "natprobe.jamulus.messages",
    "Frame": "natprobe.jamulus.messages",
    "Message": "natprobe.jamulus.messages",
    "MessageId": "natprobe.jamulus.messages",
    "OsType": "natprobe.jamulus.messages",
    "PingMs": "natprobe.jamulus.messages",
    "PingMsWithNumClients": "natprobe.jamulus.messages",
    "RedServerList": "natprobe.jamulus.messages",
    "RedServerListEntry": "natprobe.jamulus.messages",
    "RegisterServer": "natprobe.jamulus.messages",
    "RegisterServerEx": "natprobe.jamulus.messages",
    "RegisterServerResp": "natprobe.jamulus.messages",
    "ReqConnClientsList": "natprobe.jamulus.messages",
    "ReqServerList": "natprobe.jamulus.messages",
    "ReqVersionAndOs": "natprobe.jamulus.messages",
    "SendEmptyMessage": "natprobe.jamulus.messages",
    "ServerFull": "natprobe.jamulus.messages",
    "ServerList": "natprobe.jamulus.messages",
    "ServerListEntry": "natprobe.jamulus.messages",
    "UnknownMessage": "natprobe.jamulus.messages",
    "UnregisterServer": "natprobe.jamulus.messages",
    "VersionAndOs": "natprobe.jamulus.messages",
    "decode": "natprobe.jamulus.messages",
    "encode": "natprobe.jamulus.messages",
    "is_connection_less_id": "natprobe.jamulus.messages",
    "is_protocol_frame": "natprobe.jamulus.messages",
    "matches_request": "natprobe.jamulus.messages",
    "parse_frame": "natprobe.jamulus.messages",
    "DIRECTORY_GRACE_MIN": "natprobe.jamulus.probe",
    "LIST_RESEND_INTERVAL": "natprobe.jamulus.probe",
    "Finished": "natprobe.jamulus.probe",
    "ListedServer": "natprobe.jamulus.probe",
    "ListOutcome": "natprobe.jamulus.probe",
    "PingOutcome": "natprobe.jamulus.probe",
    "PingProbe": "natprobe.jamulus.probe",
    "SendMessages": "natprobe.jamulus.probe",
    "ServerListRequest": "natprobe.jamulus.probe",
    "WaitUntil": "natprobe.jamulus.probe",
    "merge_listing": "natprobe.jamulus.probe",
}


def __getattr__(name: str) -> Any:
    return _load_lazy_export(__name__, _LAZY_EXPORTS, globals(), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
