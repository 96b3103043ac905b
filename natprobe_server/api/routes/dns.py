"""``POST /v1/dns``: resolve a name's A and AAAA records with this server's resolver.

The outside view for ``natprobe check --host NAME`` and ``natprobe dns NAME``. The server
only resolves (one bounded lookup per record type, both at once): it sends nothing to the
addresses it finds, so the route cannot aim traffic anywhere. The name is validated before
any lookup, and the request spends the same per-source budget as a probe.
"""

from __future__ import annotations

import time

from aiohttp import web

from natprobe.adapters.dns_resolver import lookup_both
from natprobe.addressing import IpFamily
from natprobe.contract.dns import DnsAnswer, DnsResponse, decode_request, encode
from natprobe.verdicts.dns_verdicts import validate_name
from natprobe.observations import FamilyLookup

from natprobe_server.api.guards import accept, admitted, api_state

__all__ = ("LOOKUP_LIFETIME_S", "dns_lookup")

LOOKUP_LIFETIME_S = 2.0
"""Bound of the server's lookups: a request never holds its slot longer than this."""


def _name(body: bytes) -> str:
    """The request's name, validated before any lookup (``ValueError`` with the rule it breaks)."""
    return validate_name(decode_request(body).name)


def _answer(lookup: FamilyLookup) -> DnsAnswer:
    return DnsAnswer(lookup.status.value, tuple(str(a) for a in lookup.addresses), lookup.detail)


async def dns_lookup(request: web.Request) -> web.Response:
    """``POST /v1/dns`` ``{"name": "cloud.example.org"}``."""
    state = api_state(request)
    accepted = await accept(request, _name)
    name = accepted.request
    with admitted(state, accepted.source):
        started = time.monotonic()
        lookups = await lookup_both(name, nameservers=state.config.resolvers or None, lifetime=LOOKUP_LIFETIME_S)
        elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    response = DnsResponse(name, _answer(lookups[IpFamily.IPV4]), _answer(lookups[IpFamily.IPV6]), elapsed_ms)
    return web.Response(body=encode(response), content_type="application/json")
