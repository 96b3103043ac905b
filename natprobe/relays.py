"""The parts of a relay check (:func:`natprobe.check_relay`, ``natprobe check --host`` behind CGNAT).

Per port a :class:`RelayPortVerdict` (a :class:`RelayStatus`) from a :class:`RelayObservation`:
which way the token came (:class:`RelayVia`), the client address the service saw
(:class:`ClientAddress`, through a :class:`ProxyProtocol` such as a :class:`ProxyHeader`), and
the route the reply took (:class:`ReplyRoute`).
"""

from __future__ import annotations

from natprobe.proxy_header import ProxyHeader
from natprobe.verdicts.relay_verdicts import (
    ClientAddress,
    ProxyProtocol,
    RelayObservation,
    RelayPortVerdict,
    RelayStatus,
    RelayVia,
    ReplyRoute,
)

__all__ = (
    "ClientAddress",
    "ProxyHeader",
    "ProxyProtocol",
    "RelayObservation",
    "RelayPortVerdict",
    "RelayStatus",
    "RelayVia",
    "ReplyRoute",
)
