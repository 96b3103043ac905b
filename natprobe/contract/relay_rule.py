"""Whom the echo server may probe besides the requester: the relay authorisation rule.

The server is a public reflector, so by default it probes only the address a request came
from. A relay (a VPS that carries ``NAME`` to a home behind carrier-grade NAT) is a third
party until proven otherwise. The server probes an address other than the requester's own
only when one of these holds:

1. **The address is one of the server's own.** The operator runs the echo server and the
   relay on one VPS. Locally generated probes go through the ``output`` hook, never
   ``prerouting``: a DNAT rule written for ``prerouting`` (the usual WireGuard relay) does
   not apply to them, so such a relay is not proven from the same machine.
2. **The name's owner allows it in DNS**, the way SPF and ACME dns-01 do: a TXT record at
   ``_natprobe.NAME`` holding ``natprobe-allow=ADDRESS``, where ADDRESS is the requester's
   public address (an IPv4 address, an IPv6 address, or an IPv6 /64 written
   ``natprobe-allow=2001:db8:1:2::/64``). Several records may be given. The server resolves
   them itself, and only NAME's own A/AAAA addresses (as the server resolves them) may be
   probed, and only public ones: a TXT record cannot point the server anywhere else, nor at
   the server's own internal network.

A name's owner can point the name at any public address; the per-target limit (applied by
the server) bounds what that allows to a few small probes.

Anything else is refused with the exact record that would allow it (:func:`allow_record`),
and the client reports the relay as ``relay-unverified``, never guessed. Pure: the caller
resolves the records and passes them in.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Address, IPv6Network
from typing import Final

from natprobe.addressing import IPAddress, classify, is_globally_routable

__all__ = (
    "ALLOW_LABEL",
    "ALLOW_PREFIX",
    "RelayDecision",
    "RelayGrant",
    "RelayRefusal",
    "allow_record",
    "allow_record_name",
    "allow_value",
    "authorize_target",
    "parse_allow_texts",
)

ALLOW_LABEL: Final = "_natprobe"
"""The label under NAME whose TXT records hold the permissions."""
ALLOW_PREFIX: Final = "natprobe-allow="
"""How a permission starts inside a TXT string."""


class RelayGrant(enum.StrEnum):
    """Why the server may probe the target."""

    REQUESTER = "requester"
    """The target is the requester's own address (the ordinary probe-back)."""
    SERVER_OWN = "server-own"
    """The target is one of the server's own addresses."""
    DNS_ALLOWED = "dns-allowed"
    """``_natprobe.NAME`` allows the requester, and the target is one of NAME's addresses."""


class RelayRefusal(enum.StrEnum):
    """Why the server refuses to probe the target."""

    NOT_NAME_ADDRESS = "not-name-address"
    """The target is not one of NAME's A/AAAA addresses as the server resolves them."""
    NO_ALLOW_RECORD = "no-allow-record"
    """``_natprobe.NAME`` holds no ``natprobe-allow=`` permission."""
    NOT_ALLOWED = "not-allowed"
    """Permissions exist, but none names the requester's address."""
    NOT_PUBLIC = "not-public"
    """The target is not a public address (private, loopback, link-local…): a name's owner
    could otherwise aim the server at the server's own internal network."""
    FAMILY_MISMATCH = "family-mismatch"
    """The target's address family differs from the requester's (the server probes over the
    family the request came in on)."""


@dataclass(frozen=True, slots=True)
class RelayDecision:
    """The rule's answer: a grant or a refusal, with a sentence and the record that would allow it."""

    grant: RelayGrant | None
    refusal: RelayRefusal | None
    detail: str
    record: str | None = None
    """For a refusal the operator can lift: the exact TXT record to add."""

    @property
    def allowed(self) -> bool:
        return self.grant is not None


AllowNetwork = IPv4Network | IPv6Network


def allow_record_name(name: str) -> str:
    """The owner name of the permission records: ``_natprobe.NAME``."""
    return f"{ALLOW_LABEL}.{name.rstrip('.')}"


def allow_value(requester: IPAddress) -> str:
    """The permission for ``requester``: its IPv4 address, or its IPv6 /64 (an IPv6 host's
    public address changes within its /64 with privacy addresses; the server keys IPv6
    sources by /64 too)."""
    if isinstance(requester, IPv6Address):
        return f"{ALLOW_PREFIX}{IPv6Network((requester, 64), strict=False)}"
    return f"{ALLOW_PREFIX}{requester}"


def allow_record(name: str, requester: IPAddress) -> str:
    """The exact record to add, in zone-file form: ``_natprobe.NAME. IN TXT "natprobe-allow=…"``."""
    return f'{allow_record_name(name)}. IN TXT "{allow_value(requester)}"'


def parse_allow_texts(texts: Iterable[str]) -> tuple[tuple[AllowNetwork, ...], tuple[str, ...]]:
    """The permissions in TXT strings, and the ``natprobe-allow=`` values that are not valid.

    Strings without the prefix are ignored (the name may hold other TXT data). A value is an
    address or a network; an IPv6 network must be a /64 or longer, an IPv4 network a /32
    (one home, never a provider's whole range). Peer data: nothing here raises.
    """
    allowed: list[AllowNetwork] = []
    bad: list[str] = []
    for text in texts:
        text = text.strip()
        if not text.startswith(ALLOW_PREFIX):
            continue
        value = text[len(ALLOW_PREFIX):].strip()
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError:
            bad.append(value[:80])
            continue
        minimum = 64 if isinstance(network, IPv6Network) else 32
        if network.prefixlen < minimum:
            bad.append(value[:80])
            continue
        allowed.append(network)
    return tuple(allowed), tuple(bad)


def authorize_target(
    requester: IPAddress,
    target: IPAddress,
    *,
    name: str | None,
    server_addresses: Iterable[IPAddress],
    name_addresses: Iterable[IPAddress] = (),
    allow_texts: Iterable[str] = (),
) -> RelayDecision:
    """May the server probe ``target`` for ``requester``? (see the module docstring)

    ``name_addresses`` and ``allow_texts`` are NAME's A/AAAA addresses and the TXT strings
    at ``_natprobe.NAME``, both as the server itself resolved them.
    """
    if target == requester:
        return RelayDecision(RelayGrant.REQUESTER, None, f"{target} is your own address")
    if target.version != requester.version:
        return RelayDecision(None, RelayRefusal.FAMILY_MISMATCH,
                             f"the server probes over the family your request came in on (IPv{requester.version}), "
                             f"not IPv{target.version}")
    if target in set(server_addresses):
        return RelayDecision(RelayGrant.SERVER_OWN, None,
                             f"{target} is one of this server's own addresses (probes from the same machine do not "
                             "pass a DNAT rule in prerouting)")
    if name is None:
        return RelayDecision(None, RelayRefusal.NOT_NAME_ADDRESS,
                             f"{target} is neither your address nor this server's; name the relay's DNS name")
    record = allow_record(name, requester)
    if not is_globally_routable(classify(target)):
        return RelayDecision(None, RelayRefusal.NOT_PUBLIC,
                             f"{target} is not a public address ({classify(target).value}): this server probes only "
                             "public relay addresses")
    if target not in set(name_addresses):
        return RelayDecision(None, RelayRefusal.NOT_NAME_ADDRESS,
                             f"{target} is not an address of {name} as this server resolves it: only the name's own "
                             "A/AAAA addresses may be probed")
    allowed, bad = parse_allow_texts(allow_texts)
    if not allowed:
        extra = f" (not valid: {', '.join(bad)})" if bad else ""
        return RelayDecision(None, RelayRefusal.NO_ALLOW_RECORD,
                             f"{allow_record_name(name)} holds no natprobe-allow permission{extra}; to let this "
                             f"server probe {target} for you, add: {record}", record)
    if any(requester in network for network in allowed):
        return RelayDecision(RelayGrant.DNS_ALLOWED, None,
                             f"{allow_record_name(name)} allows {requester}, and {target} is an address of {name}")
    return RelayDecision(None, RelayRefusal.NOT_ALLOWED,
                         f"{allow_record_name(name)} does not allow {requester}; add: {record}", record)
