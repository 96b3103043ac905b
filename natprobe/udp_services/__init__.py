"""First packets of UDP services that stay silent to a stray datagram but answer a correct
first packet (pure: ``bytes -> record``): OpenVPN's hard reset, a DNS query, an NTP client
packet, a QUIC version-forcing Initial.

The echo server sends one of these to a requester's own port (``POST /v1/probe`` modes
``openvpn``, ``dns``, ``ntp``, ``quic``) and reports whether the service answered. Each
:class:`FirstPacket` makes its request from a few random bytes (so the answer can be matched
to it) and parses an answer, raising :class:`~natprobe.errors.DecodeError` for anything that
is not the expected answer to *this* request. Requests are small and fixed-size; the server
sends at most as many bytes as the HTTP request body held (the contract's "never amplifying"
rule), and only ever to the requester.
"""

from __future__ import annotations

from natprobe.udp_services.first_packet import FIRST_PACKETS, FirstPacket, ServiceAnswer

__all__ = ("FIRST_PACKETS", "FirstPacket", "ServiceAnswer")
