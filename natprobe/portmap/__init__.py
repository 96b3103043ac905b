"""Port-mapping protocols as pure codecs: NAT-PMP (RFC 6886) and PCP (RFC 6887).

``bytes -> record -> bytes``, no sockets: :mod:`natprobe.adapters.portmap_udp` sends them to
the gateway, :mod:`natprobe.measure.router` decides what to ask. Both share UDP port 5351;
a PCP server that meets a NAT-PMP request (or the reverse) answers with the other
protocol's "unsupported version" (RFC 6887 section 9), which :func:`pcp.decode_response`
and :func:`natpmp.decode_response` report rather than reject. Every decoder raises
:class:`~natprobe.errors.DecodeError` and nothing else on bad input.
"""

from __future__ import annotations

from typing import Final

SERVER_PORT: Final = 5351
"""The gateway's NAT-PMP/PCP port (RFC 6886 section 3, RFC 6887 section 19.1)."""

__all__ = ("SERVER_PORT",)
