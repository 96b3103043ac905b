"""The Jamulus protocol's fixed numbers, apart from the codec: ports, the frame's layout, text
limits, the keep-alive interval and the sizes of the fixed-size messages.

Free of :mod:`natprobe.jamulus.messages` on purpose: the echo-server contract's byte budgets
(:mod:`natprobe.contract.terms`) need the sizes, and ``natprobe check`` loads that contract
before its first packet, when the codec (dozens of message classes) is not needed yet. The
sizes are the frame overhead plus each message's payload; ``tests/test_jamulus_codec.py``
checks each against ``len(encode(...))``. Source: jamulussoftware/jamulus r3_9_1,
src/global.h, src/protocol.h, src/protocol.cpp, src/serverlist.h.
"""

from __future__ import annotations

from typing import Final

__all__ = (
    "DEFAULT_PORT",
    "DIRECTORY_PORT",
    "FRAME_OVERHEAD",
    "HEADER_LENGTH",
    "JAMULUS_KEEPALIVE_S",
    "MAX_LEN_FADER_TAG",
    "MAX_LEN_IP_ADDRESS",
    "MAX_LEN_SERVER_CITY",
    "MAX_LEN_SERVER_NAME",
    "MAX_LEN_VERSION_TEXT",
    "PING_BYTES",
    "PING_WITH_NUM_CLIENTS_BYTES",
    "REQ_VERSION_AND_OS_BYTES",
    "SEND_EMPTY_BYTES",
)

DEFAULT_PORT: Final = 22124
"""``DEFAULT_PORT_NUMBER`` (src/global.h): the server port and the port assumed when none is given."""
DIRECTORY_PORT: Final = 22224
"""Port of the second any-genre directory (src/global.h, 3.9.x). natprobe's echo server plays
a directory on it by default (``natprobe serve --http-port``)."""
JAMULUS_KEEPALIVE_S: Final = 59.0
"""Servers and directories refresh their registration, and so their NAT mapping, every 59 s
(``SERVLIST_UPDATE_PING_SERVERS_MS``, src/serverlist.h)."""
HEADER_LENGTH: Final = 7
"""``MESS_HEADER_LENGTH_BYTE``: tag (2), id (2), cnt (1), length (2)."""
FRAME_OVERHEAD: Final = 9
"""``MESS_LEN_WITHOUT_DATA_BYTE``: header plus CRC; the smallest frame."""

# Text limits in characters (Qt ``QString::size()``, i.e. UTF-16 code units), src/global.h.
MAX_LEN_SERVER_NAME: Final = 20
MAX_LEN_SERVER_CITY: Final = 20
MAX_LEN_IP_ADDRESS: Final = 15
MAX_LEN_VERSION_TEXT: Final = 30
MAX_LEN_FADER_TAG: Final = 16

# Datagram sizes of the fixed-size connection-less messages (protocol.cpp's payload layouts).
PING_BYTES: Final = FRAME_OVERHEAD + 4
"""CLM_PING_MS: the time in ms (u32)."""
PING_WITH_NUM_CLIENTS_BYTES: Final = FRAME_OVERHEAD + 4 + 1
"""CLM_PING_MS_WITHNUMCLIENTS: the time in ms (u32) and the number of clients (u8)."""
REQ_VERSION_AND_OS_BYTES: Final = FRAME_OVERHEAD
"""CLM_REQ_VERSION_AND_OS: no payload."""
SEND_EMPTY_BYTES: Final = FRAME_OVERHEAD + 4 + 2
"""CLM_SEND_EMPTY_MESSAGE: an IPv4 address (u32) and a port (u16)."""
