"""The relay guard of ``POST /v1/probe``: may this request aim the probe at a relay?

Applies :mod:`natprobe.contract.relay_rule` with records the server resolves itself (NAME's
A/AAAA over the request's family and the TXT strings at ``_natprobe.NAME``, one bounded
lookup each, both at once), then charges the per-target limiter. Called inside the
requester's admitted slot, so the per-source budget is spent before any lookup.
"""

from __future__ import annotations

import asyncio
import math

from natprobe.adapters.dns_resolver import lookup_family, lookup_txt
from natprobe.addressing import IPAddress, IpFamily, source_key
from natprobe.contract import ErrorCode, RelayTarget
from natprobe.contract.relay_rule import RelayDecision, RelayRefusal, allow_record_name, authorize_target

from natprobe_server.api.guards import ApiError, ApiState

__all__ = ("LOOKUP_LIFETIME_S", "authorize_relay")

LOOKUP_LIFETIME_S = 2.0
"""Bound of the server's lookups for one relay probe."""


async def authorize_relay(state: ApiState, requester: IPAddress, relay: RelayTarget) -> RelayDecision:
    """The rule's grant for probing ``relay`` for ``requester``; :class:`ApiError` 403 when the
    rule refuses (the message names the record to add), 429 when the target's budget is spent."""
    config = state.config
    target = relay.ip
    decision = authorize_target(requester, target, name=relay.name, server_addresses=config.server_addresses)
    if decision.refusal is RelayRefusal.NOT_NAME_ADDRESS:  # only the name's records can still allow it
        nameservers = config.resolvers or None
        family = IpFamily.IPV4 if target.version == 4 else IpFamily.IPV6
        async with asyncio.TaskGroup() as group:
            addresses = group.create_task(
                lookup_family(relay.name, family, nameservers=nameservers, lifetime=LOOKUP_LIFETIME_S))
            texts = group.create_task(
                lookup_txt(allow_record_name(relay.name), nameservers=nameservers, lifetime=LOOKUP_LIFETIME_S))
        decision = authorize_target(requester, target, name=relay.name, server_addresses=config.server_addresses,
                                    name_addresses=addresses.result().addresses, allow_texts=texts.result())
    if not decision.allowed:
        raise ApiError(403, ErrorCode.RELAY_NOT_ALLOWED, decision.detail)
    limiter = state.target_limiter
    if limiter is not None and not limiter.allow(source_key(target), state.clock()):
        state.rate_limited += 1
        wait = max(1, math.ceil(1.0 / config.target_rate_per_s))
        raise ApiError(429, ErrorCode.RATE_LIMITED,
                       f"{target} was probed for others too often: {config.target_burst:g} at once, then "
                       f"{config.target_rate_per_s:g} per second", {"Retry-After": str(wait)})
    return decision
