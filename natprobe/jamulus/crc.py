"""The 16-bit CRC that closes every Jamulus protocol frame.

Jamulus (``CCRC`` in src/util.h / src/util.cpp; the frame comment in src/protocol.cpp)
computes the CCITT polynomial x^16 + x^12 + x^5 + 1 over the whole frame, initial state
all ones, bits fed most-significant first, and transmits the result inverted. In the CRC
catalogue that is CRC-16/GENIBUS (poly 0x1021, init 0xFFFF, no reflection, xorout 0xFFFF;
check value 0xD64E for ``b"123456789"``).
"""

from __future__ import annotations

__all__ = ("crc16_genibus",)

_POLY = 0x1021


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ _POLY) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_TABLE = _make_table()


def crc16_genibus(data: bytes) -> int:
    """CRC-16/GENIBUS of ``data`` (what Jamulus appends, little-endian, to each frame)."""
    crc = 0xFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[(crc >> 8) ^ byte]
    return crc ^ 0xFFFF
