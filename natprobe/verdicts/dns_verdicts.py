"""Does the name people type lead here? Pure verdicts for a host name's A and AAAA records.

Inputs: what a resolver answered per family (from this host, and from the echo server: the
outside view), the public address the echo server saw this host as over that family, and
whether the family's ports were reachable. Output: one verdict per family with its reason
and advice. The failures behind them are the ones self-hosters report (facts/self-hosting.md):
a dynamic-DNS record that was not updated, a record left pointing at the LAN address (the
outage workaround), a CGNAT address published by a client reading its own interface, an
AAAA record naming a temporary privacy address, and an AAAA record while IPv6 is firewalled
(browsers try IPv6 first).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address

from natprobe.addressing import AddressScope, IPAddress, IpFamily, classify, is_globally_routable

__all__ = (
    "MAX_NAME_LENGTH",
    "DnsVerdict",
    "LookupStatus",
    "FamilyLookup",
    "FamilyDnsVerdict",
    "validate_name",
    "record_type",
    "decide_family",
)

MAX_NAME_LENGTH = 253
"""RFC 1035 section 2.3.4: 255 octets on the wire, 253 characters in text without the final dot."""
_MAX_LABEL = 63
_LDH = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


class LookupStatus(enum.StrEnum):
    """How one resolver answered one question (RFC 1035 section 4.1.1 RCODEs, RFC 2308)."""

    ANSWERED = "answered"
    """NOERROR; ``addresses`` may be empty (NODATA: the name exists, not this type)."""
    NXDOMAIN = "nxdomain"
    """RCODE 3: the name does not exist."""
    SERVFAIL = "servfail"
    """RCODE 2 (or every server refused): the resolver could not get an answer."""
    TIMEOUT = "timeout"
    """No answer within the bound."""
    ERROR = "error"
    """Anything else (no resolver configured, a malformed answer)."""


class DnsVerdict(enum.StrEnum):
    """The verdict for one family of a name; the stable strings scripts rely on."""

    MATCHES = "matches"
    STALE = "stale"
    PRIVATE_ADDRESS = "private-address"
    CGNAT_ADDRESS = "cgnat-address"
    TEMPORARY_ADDRESS = "temporary-address"
    MISSING = "missing"
    UNREACHABLE_FAMILY = "unreachable-family"
    SPLIT_HORIZON = "split-horizon"
    NO_RECORD = "no-record"
    """No record for a family that does not work here either: nothing to fix."""
    UNVERIFIED = "unverified"
    """Records exist but the public address is unknown (no echo server): cannot compare."""
    NO_SUCH_NAME = "no-such-name"
    RESOLVER_FAILURE = "resolver-failure"
    RESOLVER_TIMEOUT = "resolver-timeout"
    INVALID_NAME = "invalid-name"


NOT_PROBLEMS = frozenset({DnsVerdict.MATCHES, DnsVerdict.NO_RECORD, DnsVerdict.SPLIT_HORIZON, DnsVerdict.UNVERIFIED})
"""Verdicts that ask nothing of the user (unverified: nothing wrong was found, nothing proven)."""
NOT_CHECKED = frozenset({DnsVerdict.RESOLVER_TIMEOUT, DnsVerdict.RESOLVER_FAILURE})
"""The resolver failed: nothing was learnt about the records (a "could not test", not a finding)."""


@dataclass(frozen=True, slots=True)
class FamilyLookup:
    """One resolver's answer for one family of a name."""

    status: LookupStatus
    addresses: tuple[IPAddress, ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FamilyDnsVerdict:
    family: IpFamily
    verdict: DnsVerdict
    reason: str
    advice: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.verdict in NOT_PROBLEMS

    @property
    def problem(self) -> bool:
        """Something was found wrong with the records (not just a resolver that failed)."""
        return self.verdict not in NOT_PROBLEMS and self.verdict not in NOT_CHECKED


def validate_name(text: str) -> str:
    """The name in lower-case ASCII without a final dot; ``ValueError`` with one clear sentence.

    RFC 1123 section 2.1 host names: labels of letters, digits and hyphens, 1-63 characters,
    not starting or ending with a hyphen; at most 253 characters (RFC 1035 section 2.3.4).
    An internationalised name is converted to its ``xn--`` form (IDNA). An underscore is
    refused: it is valid in DNS but never in a host name a browser opens.
    """
    name = text.strip()
    if not name:
        raise ValueError("the name is empty")
    if name.endswith("."):
        name = name[:-1]
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"{text!r} is not a valid internationalised domain name") from None
    name = name.lower()
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"the name is {len(name)} characters long; a DNS name has at most {MAX_NAME_LENGTH}")
    for label in name.split("."):
        if not label:
            raise ValueError(f"{text!r} has an empty label (two dots in a row, or a leading dot)")
        if len(label) > _MAX_LABEL:
            raise ValueError(f"the label {label[:20]!r}... is {len(label)} characters long; at most {_MAX_LABEL}")
        if not set(label) <= _LDH or label.startswith("-") or label.endswith("-"):
            raise ValueError(
                f"the label {label!r} of {text!r} is not valid: use letters, digits and hyphens, "
                "not starting or ending with a hyphen"
            )
    if "." not in name:
        raise ValueError(f"{text!r} is not a fully qualified name (e.g. cloud.example.org)")
    if name.rsplit(".", 1)[1].isdigit():
        raise ValueError(f"{text!r} is an address, not a name")
    return name


def record_type(family: IpFamily) -> str:
    return "A" if family is IpFamily.IPV4 else "AAAA"


def _join(addresses: Sequence[IPAddress]) -> str:
    return ", ".join(str(a) for a in addresses)


def _lookup_failure(name: str, family: IpFamily, lookup: FamilyLookup, where: str) -> FamilyDnsVerdict | None:
    rr = record_type(family)
    if lookup.status is LookupStatus.NXDOMAIN:
        return FamilyDnsVerdict(
            family, DnsVerdict.NO_SUCH_NAME,
            f"{where} says {name} does not exist (NXDOMAIN)",
            (f"Check the spelling, and that the name is created at your DNS or dynamic-DNS provider "
             f"with an {rr} record.",),
        )
    if lookup.status is LookupStatus.SERVFAIL:
        return FamilyDnsVerdict(
            family, DnsVerdict.RESOLVER_FAILURE,
            f"{where} could not resolve {name} (SERVFAIL{': ' + lookup.detail if lookup.detail else ''})",
            ("A SERVFAIL often means the domain's name servers do not answer or DNSSEC fails: check the "
             "domain's delegation and signatures at your registrar, then try again.",),
        )
    if lookup.status is LookupStatus.TIMEOUT:
        return FamilyDnsVerdict(
            family, DnsVerdict.RESOLVER_TIMEOUT,
            f"{where} did not answer for {name} in time{': ' + lookup.detail if lookup.detail else ''}",
            ("Check this resolver (the nameserver lines of /etc/resolv.conf) and try again.",),
        )
    if lookup.status is LookupStatus.ERROR:
        return FamilyDnsVerdict(
            family, DnsVerdict.RESOLVER_FAILURE,
            f"{where} could not look up {name}: {lookup.detail or 'unknown error'}",
        )
    return None


def _bad_address(
    name: str, family: IpFamily, addresses: Sequence[IPAddress], public_ip: IPAddress | None,
    temporary: Collection[IPv6Address],
) -> FamilyDnsVerdict | None:
    """The first record that cannot lead here from outside, as a verdict."""
    rr = record_type(family)
    target = f" ({public_ip})" if public_ip is not None else ""
    for address in addresses:
        scope = classify(address)
        if scope in (AddressScope.PRIVATE, AddressScope.UNIQUE_LOCAL, AddressScope.LINK_LOCAL, AddressScope.LOOPBACK):
            return FamilyDnsVerdict(
                family, DnsVerdict.PRIVATE_ADDRESS,
                f"the {rr} record of {name} is {address}, a LAN address: it works only inside your network, "
                "visitors from the Internet cannot use it",
                (f"Point the {rr} record at your public address{target}. If you set the LAN address on purpose "
                 "(an outage workaround, or because the router does not hairpin), undo it, and give LAN clients "
                 "the LAN address through split DNS on your own resolver instead.",),
            )
        if scope is AddressScope.SHARED:
            return FamilyDnsVerdict(
                family, DnsVerdict.CGNAT_ADDRESS,
                f"the {rr} record of {name} is {address}, inside 100.64.0.0/10: that is your carrier's NAT, "
                "not an address anyone outside can reach (a dynamic-DNS client read the router's WAN address)",
                (f"Set the dynamic-DNS client to publish the address the Internet sees{target} (its 'web' or "
                 "'external IP' method), not the router's interface address.",
                 "Behind carrier-grade NAT, inbound connections need a public IPv4 address from your ISP, "
                 "IPv6, or a tunnel to a VPS."),
            )
        if isinstance(address, IPv6Address) and address in temporary:
            return FamilyDnsVerdict(
                family, DnsVerdict.TEMPORARY_ADDRESS,
                f"the AAAA record of {name} is {address}, a temporary privacy address of this host: it "
                "changes within a day and the record then points nowhere",
                (f"Publish this host's stable address{target} in the AAAA record (and open the pinhole for "
                 "that one); have the dynamic-DNS client pick the stable address, not the temporary one.",),
            )
        if not is_globally_routable(scope):
            return FamilyDnsVerdict(
                family, DnsVerdict.PRIVATE_ADDRESS,
                f"the {rr} record of {name} is {address}, which is not a public address ({scope.value})",
                (f"Point the {rr} record at your public address{target}.",),
            )
    return None


def decide_family(
    name: str,
    family: IpFamily,
    local: FamilyLookup,
    outside: FamilyLookup | None,
    public_ip: IPAddress | None,
    *,
    family_reachable: bool | None = None,
    temporary: Collection[IPv6Address] = (),
) -> FamilyDnsVerdict:
    """The verdict for ``family`` of ``name``.

    ``local``: this host's resolver; ``outside``: the echo server's (None: not asked).
    ``public_ip``: the address the echo server saw over this family (None: the family does
    not work, or there was no echo server). ``family_reachable``: the family's ports were all
    reachable (True), none was (False), or no port was tested (None). ``temporary``: this
    host's temporary IPv6 addresses.
    """
    rr = record_type(family)
    view = outside if outside is not None else local
    where = "the echo server's resolver" if outside is not None else "this host's resolver"
    failure = _lookup_failure(name, family, view, where)
    if failure is not None:
        return failure
    addresses = view.addresses
    split = (
        outside is not None and local.status is LookupStatus.ANSWERED
        and set(local.addresses) != set(outside.addresses)
    )
    if split:
        local_note = f" (this host's resolver answers {_join(local.addresses) or 'nothing'} instead)"
    elif outside is not None and local.status is not LookupStatus.ANSWERED:
        local_note = f" (this host's own resolver failed: {local.status.value}{', ' + local.detail if local.detail else ''})"
    else:
        local_note = ""
    if not addresses:
        if public_ip is not None:
            return FamilyDnsVerdict(
                family, DnsVerdict.MISSING,
                f"{name} has no {rr} record, but IPv{family.version} works here (the echo server saw "
                f"{public_ip}): IPv{family.version}-only visitors cannot reach the site{local_note}",
                (f"Add an {rr} record for {name} pointing at {public_ip} (with dynamic DNS if it changes).",),
            )
        return FamilyDnsVerdict(
            family, DnsVerdict.NO_RECORD,
            f"{name} has no {rr} record, and IPv{family.version} is not in use here: nothing to fix{local_note}",
        )
    bad = _bad_address(name, family, addresses, public_ip, temporary)
    if bad is not None:
        return FamilyDnsVerdict(bad.family, bad.verdict, bad.reason + local_note, bad.advice)
    if public_ip is None:
        if outside is None:
            return FamilyDnsVerdict(
                family, DnsVerdict.UNVERIFIED,
                f"{name} has the {rr} record {_join(addresses)}; without an echo server natprobe cannot tell "
                "whether that is this network's public address (local view only)",
                ("Give an echo server (--server or NATPROBE_SERVER) to compare the record with the address "
                 "the Internet sees.",),
            )
        if family is IpFamily.IPV6:
            return FamilyDnsVerdict(
                family, DnsVerdict.UNREACHABLE_FAMILY,
                f"{name} has the AAAA record {_join(addresses)}, but this host could not reach the echo server "
                "over IPv6: IPv6 visitors (browsers try IPv6 first) will fail or wait before falling back",
                ("Fix IPv6 on this host (a global address and a default route), or remove the AAAA record.",),
            )
        return FamilyDnsVerdict(
            family, DnsVerdict.UNVERIFIED,
            f"{name} has the A record {_join(addresses)}, but this host could not reach the echo server over "
            "IPv4 to learn its public address, so the record cannot be compared",
        )
    if public_ip not in addresses:
        return FamilyDnsVerdict(
            family, DnsVerdict.STALE,
            f"the {rr} record of {name} is {_join(addresses)}, but this network's public address is now "
            f"{public_ip}: the record is out of date (the dynamic-DNS client did not update it){local_note}",
            (f"Update the {rr} record to {public_ip}; check that the dynamic-DNS client runs and can log in, "
             "and that it updates this record type.",),
        )
    if family_reachable is False:
        return FamilyDnsVerdict(
            family, DnsVerdict.UNREACHABLE_FAMILY,
            f"the {rr} record of {name} points here ({public_ip}), but no port checked was reachable over "
            f"IPv{family.version}: visitors using IPv{family.version} cannot reach the site"
            + (" (browsers try IPv6 first)" if family is IpFamily.IPV6 else "") + local_note,
            (f"Open the ports over IPv{family.version} (see the port results), or remove the {rr} record "
             "until it works.",),
        )
    others = [a for a in addresses if a != public_ip]
    extra = f" (also {_join(others)}: check that those are yours too)" if others else ""
    if split:
        return FamilyDnsVerdict(
            family, DnsVerdict.SPLIT_HORIZON,
            f"outside, {name} resolves to {_join(addresses)} (this network's public address), but this host's "
            f"resolver answers {_join(local.addresses) or 'nothing'}: split-horizon DNS, which is fine when "
            "meant (LAN clients use the LAN address)",
            ("If you did not set up split DNS on purpose, find the local override (router DNS, /etc/hosts, a "
             "Pi-hole entry) and remove it.",),
        )
    return FamilyDnsVerdict(
        family, DnsVerdict.MATCHES,
        f"the {rr} record of {name} is {public_ip}, the public address the echo server saw{extra}{local_note}",
    )

