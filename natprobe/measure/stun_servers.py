"""Pick a public RFC 5780 STUN server when the user named none.

Public servers come and go, and many that answer cannot do NAT behaviour discovery
(facts/nat-and-stun.md §3.C: dead defaults, OTHER-ADDRESS equal to the primary, replies from
the wrong source). So each candidate is *validated* with one Binding request before it is
used: the reply must come from the address asked, and its OTHER-ADDRESS must differ from the
primary in both IP and port and be reachable from here. Candidates are tried concurrently and
the first able one wins, so a dead entry costs nothing but its own timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from natprobe.i18n import _
from natprobe.addressing import TransportAddress
from natprobe.adapters.resolve import resolve_host
from natprobe.adapters.stun_udp import StunEndpoint
from natprobe.errors import NatprobeError
from natprobe.addressing import split_host_port
from natprobe.stun.message import binding_request
from natprobe.stun.transaction import RetransmissionPolicy
from natprobe.stun.types import DEFAULT_PORT
from natprobe.observations import Observation, Probe
from natprobe.findings.behavior_words import unreachable_alternate_reason
from natprobe.verdicts.classify import usable_alternate

logger = logging.getLogger(__name__)

__all__ = ("PUBLIC_STUN_SERVERS", "Candidate", "pick_stun_server", "validate_stun_server")

PUBLIC_STUN_SERVERS: tuple[str, ...] = (
    "stun.stunprotocol.org:3478",
    "stun.hot-chilli.net:3478",
    "stun.sipgate.net:3478",
    "stun.ekiga.net:3478",
)
"""Public servers known to run an RFC 5780 server on two addresses (stuntman, coturn).
Replace them with ``stun_servers`` in the user configuration file or
``$NATPROBE_STUN_SERVERS``; tests always do."""

VALIDATION_POLICY = RetransmissionPolicy(rto=0.25, max_sends=4, last_wait=0.75, backoff=1.5)
"""Four sends over about 1.5 s, then 0.75 s more: enough for a lossy path, short enough that
a dead server does not hold the user up."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """One server tried, and why it was not used (``None``: usable)."""

    name: str
    address: TransportAddress | None
    problem: str | None


async def validate_stun_server(name: str, policy: RetransmissionPolicy = VALIDATION_POLICY) -> Candidate:
    """Ask ``name`` (``host[:port]``) once; is it an RFC 5780 server this client can use?"""
    try:
        host, port = split_host_port(name, DEFAULT_PORT)
        target = TransportAddress(await resolve_host(host, ipv4_only=True), port)
    except (ValueError, NatprobeError) as exc:
        return Candidate(name, None, str(exc))
    try:
        async with await StunEndpoint.open(("0.0.0.0", 0)) as endpoint:
            response = await endpoint.transact(binding_request(), target, policy)
    except NatprobeError as exc:
        return Candidate(name, target, str(exc))
    if response is None:
        return Candidate(name, target, _("no answer after {count} requests", count=policy.max_sends))
    message = response.message
    if response.source != target:
        return Candidate(name, target, _("the reply came from {source}, not from {target}", source=response.source,
                                         target=target))
    if message.reflexive_address is None:
        return Candidate(name, target, _("the reply carried no mapped address"))
    observation = Observation(Probe.MAPPING_PRIMARY, endpoint.local_address, target, response.sends, True,
                              response_source=response.source, mapped=message.reflexive_address,
                              other_address=message.other_address)
    if usable_alternate(observation) is None:
        reason = unreachable_alternate_reason(observation)
        if reason is None:
            other = message.other_address
            reason = (_("no OTHER-ADDRESS: not an RFC 5780 server") if other is None
                      else _("OTHER-ADDRESS {other} does not differ from {target} in both IP and port", other=other,
                             target=target))
        return Candidate(name, target, reason)
    return Candidate(name, target, None)


async def pick_stun_server(
    names: Sequence[str], policy: RetransmissionPolicy = VALIDATION_POLICY
) -> tuple[TransportAddress | None, tuple[Candidate, ...]]:
    """Validate every name at once; the first usable server (or ``None``) and what was learnt.

    The remaining validations are cancelled as soon as one server qualifies.
    """
    tried: list[Candidate] = []
    tasks = [asyncio.create_task(validate_stun_server(name, policy)) for name in names]
    try:
        for next_done in asyncio.as_completed(tasks):
            candidate = await next_done
            tried.append(candidate)
            if candidate.problem is None and candidate.address is not None:
                logger.info("using STUN server %s (%s)", candidate.name, candidate.address)
                return candidate.address, tuple(tried)
            logger.info("STUN server %s not usable: %s", candidate.name, candidate.problem)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return None, tuple(tried)
