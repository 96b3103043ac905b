"""Does the name people type lead here? Pure verdicts for a host name's A and AAAA records.

Inputs: what a resolver answered per family (from this host, and from the echo server: the
outside view), the public address the echo server saw this host as over that family, and
whether the family's ports were reachable. Output: one decision per family
(:class:`DnsDecision`: the verdict, its reason and advice as codes and parameters;
:mod:`natprobe.findings.dns_words` says it as a :class:`FamilyDnsVerdict`). The failures behind them are the ones self-hosters report (facts/self-hosting.md):
a dynamic-DNS record that was not updated, a record left pointing at the LAN address (the
outage workaround), a CGNAT address published by a client reading its own interface, an
AAAA record naming a temporary privacy address, and an AAAA record while IPv6 is firewalled
(browsers try IPv6 first).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address, ip_network

from natprobe.observations import FamilyLookup, LookupStatus
from natprobe.addressing import AddressScope, IPAddress, IpFamily, classify, is_globally_routable
from natprobe.contract.terms import MAX_NAME_LENGTH
from natprobe.verdicts.why import Why

__all__ = (
    "MAX_NAME_LENGTH",
    "DnsVerdict",
    "FamilyDnsVerdict",
    "DnsDecision",
    "InvalidName",
    "NameProblem",
    "Said",
    "validate_name",
    "record_type",
    "decide_family",
)

_MAX_LABEL = 63
_LDH = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


class DnsVerdict(enum.StrEnum):
    """The verdict for one family of a name; the stable strings scripts rely on."""

    MATCHES = "matches"
    STALE = "stale"
    VIA_RELAY = "via-relay"
    """The record is not this network's address, but a token sent there reached this host:
    NAME points at a relay that carries it here (``natprobe check --host``)."""
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


NOT_PROBLEMS = frozenset({DnsVerdict.MATCHES, DnsVerdict.NO_RECORD, DnsVerdict.SPLIT_HORIZON, DnsVerdict.UNVERIFIED,
                          DnsVerdict.VIA_RELAY})
"""Verdicts that ask nothing of the user (unverified: nothing wrong was found, nothing proven)."""
NOT_CHECKED = frozenset({DnsVerdict.RESOLVER_TIMEOUT, DnsVerdict.RESOLVER_FAILURE})
"""The resolver failed: nothing was learnt about the records (a "could not test", not a finding)."""


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


class NameProblem(enum.StrEnum):
    """What is wrong with a host name (a program words it; see :class:`InvalidName`)."""

    EMPTY = "empty"
    BAD_IDNA = "bad-idna"
    TOO_LONG = "too-long"
    EMPTY_LABEL = "empty-label"
    LABEL_TOO_LONG = "label-too-long"
    BAD_LABEL = "bad-label"
    NOT_QUALIFIED = "not-qualified"
    AN_ADDRESS = "an-address"


class InvalidName(ValueError):
    """A text that is not a host name natprobe can check; ``problem`` and ``params`` say why."""

    def __init__(self, problem: NameProblem, name: str, **params: object) -> None:
        self.problem, self.name, self.params = problem, name, params
        super().__init__(_NAME_ENGLISH[problem].format(name=name, **params))


_NAME_ENGLISH = {
    NameProblem.EMPTY: "the name is empty",
    NameProblem.BAD_IDNA: "{name!r} is not a valid internationalised domain name",
    NameProblem.TOO_LONG: "the name is {length} characters long; a DNS name has at most {limit}",
    NameProblem.EMPTY_LABEL: "{name!r} has an empty label (two dots in a row, or a leading dot)",
    NameProblem.LABEL_TOO_LONG: "the label {label!r}... is {length} characters long; at most {limit}",
    NameProblem.BAD_LABEL: ("the label {label!r} of {name!r} is not valid: use letters, digits and hyphens, "
                            "not starting or ending with a hyphen"),
    NameProblem.NOT_QUALIFIED: "{name!r} is not a fully qualified name (e.g. cloud.example.org)",
    NameProblem.AN_ADDRESS: "{name!r} is an address, not a name",
}


def validate_name(text: str) -> str:
    """The name in lower-case ASCII without a final dot; :class:`InvalidName` (a ``ValueError``) if not.

    RFC 1123 section 2.1 host names: labels of letters, digits and hyphens, 1-63 characters,
    not starting or ending with a hyphen; at most 253 characters (RFC 1035 section 2.3.4).
    An internationalised name is converted to its ``xn--`` form (IDNA). An underscore is
    refused: it is valid in DNS but never in a host name a browser opens.
    """
    name = text.strip()
    if not name:
        raise InvalidName(NameProblem.EMPTY, text)
    if name.endswith("."):
        name = name[:-1]
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidName(NameProblem.BAD_IDNA, text) from None
    name = name.lower()
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(NameProblem.TOO_LONG, text, length=len(name), limit=MAX_NAME_LENGTH)
    for label in name.split("."):
        if not label:
            raise InvalidName(NameProblem.EMPTY_LABEL, text)
        if len(label) > _MAX_LABEL:
            raise InvalidName(NameProblem.LABEL_TOO_LONG, text, label=label[:20], length=len(label), limit=_MAX_LABEL)
        if not set(label) <= _LDH or label.startswith("-") or label.endswith("-"):
            raise InvalidName(NameProblem.BAD_LABEL, text, label=label)
    if "." not in name:
        raise InvalidName(NameProblem.NOT_QUALIFIED, text)
    if name.rsplit(".", 1)[1].isdigit():
        raise InvalidName(NameProblem.AN_ADDRESS, text)
    return name


def record_type(family: IpFamily) -> str:
    return "A" if family is IpFamily.IPV4 else "AAAA"


class Said(enum.StrEnum):
    """The reasons and advice of the name verdicts (worded by :mod:`natprobe.findings.dns_words`)."""

    NXDOMAIN = "dns.nxdomain"
    SERVFAIL = "dns.servfail"
    TIMEOUT = "dns.timeout"
    LOOKUP_ERROR = "dns.lookup-error"
    LAN_ADDRESS = "dns.lan-address"
    CGNAT_ADDRESS = "dns.cgnat-address"
    TEMPORARY_ADDRESS = "dns.temporary-address"
    NOT_PUBLIC = "dns.not-public"
    MISSING = "dns.missing"
    NO_RECORD = "dns.no-record"
    UNVERIFIED_LOCAL_ONLY = "dns.unverified-local-only"
    IPV6_UNREACHABLE = "dns.ipv6-unreachable"
    UNVERIFIED_NO_IPV4 = "dns.unverified-no-ipv4"
    STALE = "dns.stale"
    UNVERIFIED_MAYBE_TEMPORARY = "dns.unverified-maybe-temporary"
    FAMILY_UNREACHABLE = "dns.family-unreachable"
    SPLIT_HORIZON = "dns.split-horizon"
    MATCHES = "dns.matches"
    # the note on this host's own view, appended to a reason
    LOCAL_ANSWERS_OTHERWISE = "dns.note.local-answers-otherwise"
    LOCAL_FAILED = "dns.note.local-failed"
    # advice
    CHECK_SPELLING = "dns.advice.check-spelling"
    SERVFAIL_ADVICE = "dns.advice.servfail"
    CHECK_RESOLVER = "dns.advice.check-resolver"
    POINT_AT_PUBLIC = "dns.advice.point-at-public"
    UNDO_LAN_ADDRESS = "dns.advice.undo-lan-address"
    PUBLISH_SEEN_ADDRESS = "dns.advice.publish-seen-address"
    CGNAT_INBOUND = "dns.advice.cgnat-inbound"
    PUBLISH_STABLE = "dns.advice.publish-stable"
    ADD_RECORD = "dns.advice.add-record"
    GIVE_SERVER = "dns.advice.give-server"
    FIX_IPV6 = "dns.advice.fix-ipv6"
    UPDATE_RECORD = "dns.advice.update-record"
    OPEN_PORTS = "dns.advice.open-ports"
    FIND_OVERRIDE = "dns.advice.find-override"


@dataclass(frozen=True, slots=True)
class DnsDecision:
    """A :class:`FamilyDnsVerdict` before it is worded: reason (and the note on this host's own
    view, appended to it) and advice as codes and parameters."""

    family: IpFamily
    verdict: DnsVerdict
    why: Why
    advice: tuple[Why, ...] = ()
    local_note: Why | None = None


def _lookup_failure(name: str, family: IpFamily, lookup: FamilyLookup, outside: bool) -> DnsDecision | None:
    rr = record_type(family)
    facts = {"name": name, "outside": outside, "detail": lookup.detail}
    if lookup.status is LookupStatus.NXDOMAIN:
        return DnsDecision(family, DnsVerdict.NO_SUCH_NAME, Why.of(Said.NXDOMAIN, **facts),
                           (Why.of(Said.CHECK_SPELLING, rr=rr),))
    if lookup.status is LookupStatus.SERVFAIL:
        return DnsDecision(family, DnsVerdict.RESOLVER_FAILURE, Why.of(Said.SERVFAIL, **facts),
                           (Why.of(Said.SERVFAIL_ADVICE),))
    if lookup.status is LookupStatus.TIMEOUT:
        return DnsDecision(family, DnsVerdict.RESOLVER_TIMEOUT, Why.of(Said.TIMEOUT, **facts),
                           (Why.of(Said.CHECK_RESOLVER),))
    if lookup.status is LookupStatus.ERROR:
        return DnsDecision(family, DnsVerdict.RESOLVER_FAILURE, Why.of(Said.LOOKUP_ERROR, **facts))
    return None


def _bad_address(
    name: str, family: IpFamily, addresses: Sequence[IPAddress], public_ip: IPAddress | None,
    temporary: Collection[IPv6Address],
) -> DnsDecision | None:
    """The first record that cannot lead here from outside, as a decision."""
    rr = record_type(family)
    for address in addresses:
        scope = classify(address)
        facts = {"rr": rr, "name": name, "address": address}
        if scope in (AddressScope.PRIVATE, AddressScope.UNIQUE_LOCAL, AddressScope.LINK_LOCAL, AddressScope.LOOPBACK):
            return DnsDecision(family, DnsVerdict.PRIVATE_ADDRESS, Why.of(Said.LAN_ADDRESS, **facts),
                               (Why.of(Said.UNDO_LAN_ADDRESS, rr=rr, public=public_ip),))
        if scope is AddressScope.SHARED:
            return DnsDecision(family, DnsVerdict.CGNAT_ADDRESS, Why.of(Said.CGNAT_ADDRESS, **facts),
                               (Why.of(Said.PUBLISH_SEEN_ADDRESS, public=public_ip), Why.of(Said.CGNAT_INBOUND)))
        if isinstance(address, IPv6Address) and address in temporary:
            return DnsDecision(family, DnsVerdict.TEMPORARY_ADDRESS,
                               Why.of(Said.TEMPORARY_ADDRESS, name=name, address=address),
                               (Why.of(Said.PUBLISH_STABLE, public=public_ip),))
        if not is_globally_routable(scope):
            return DnsDecision(family, DnsVerdict.PRIVATE_ADDRESS, Why.of(Said.NOT_PUBLIC, scope=scope.value, **facts),
                               (Why.of(Said.POINT_AT_PUBLIC, rr=rr, public=public_ip),))
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
    flags_unknown: bool = False,
) -> DnsDecision:
    """The decision for ``family`` of ``name``.

    ``local``: this host's resolver; ``outside``: the echo server's (None: not asked).
    ``public_ip``: the address the echo server saw over this family (None: the family does
    not work, or there was no echo server). ``family_reachable``: the family's ports were all
    reachable (True), none was (False), or no port was tested (None). ``temporary``: this
    host's temporary IPv6 addresses. ``flags_unknown``: this machine cannot tell a temporary IPv6
    address from a stable one, so the address the echo server saw may be a temporary one.
    """
    rr = record_type(family)
    version = family.version
    view = outside if outside is not None else local
    failure = _lookup_failure(name, family, view, outside is not None)
    if failure is not None:
        return failure
    addresses = view.addresses
    split = (
        outside is not None and local.status is LookupStatus.ANSWERED
        and set(local.addresses) != set(outside.addresses)
    )
    # The note about this host's own view is one self-contained parenthesis, appended.
    local_note: Why | None = None
    if split:
        local_note = Why.of(Said.LOCAL_ANSWERS_OTHERWISE, addresses=local.addresses)
    elif outside is not None and local.status is not LookupStatus.ANSWERED:
        local_note = Why.of(Said.LOCAL_FAILED, status=local.status.value, detail=local.detail)
    facts = {"name": name, "rr": rr, "version": version}
    if not addresses:
        if public_ip is not None:
            return DnsDecision(family, DnsVerdict.MISSING, Why.of(Said.MISSING, public=public_ip, **facts),
                               (Why.of(Said.ADD_RECORD, public=public_ip, **facts),), local_note)
        return DnsDecision(family, DnsVerdict.NO_RECORD, Why.of(Said.NO_RECORD, **facts), (), local_note)
    bad = _bad_address(name, family, addresses, public_ip, temporary)
    if bad is not None:
        return DnsDecision(bad.family, bad.verdict, bad.why, bad.advice, local_note)
    if public_ip is None:
        if outside is None:
            return DnsDecision(family, DnsVerdict.UNVERIFIED,
                               Why.of(Said.UNVERIFIED_LOCAL_ONLY, addresses=addresses, **facts),
                               (Why.of(Said.GIVE_SERVER),))
        if family is IpFamily.IPV6:
            return DnsDecision(family, DnsVerdict.UNREACHABLE_FAMILY,
                               Why.of(Said.IPV6_UNREACHABLE, addresses=addresses, **facts), (Why.of(Said.FIX_IPV6),))
        return DnsDecision(family, DnsVerdict.UNVERIFIED, Why.of(Said.UNVERIFIED_NO_IPV4, addresses=addresses, **facts))
    if public_ip not in addresses and flags_unknown and isinstance(public_ip, IPv6Address) and any(
        isinstance(a, IPv6Address) and ip_network(f"{a}/64", strict=False) == ip_network(f"{public_ip}/64", strict=False)
        for a in addresses
    ):
        # The echo server saw an address of this /64 that may be a temporary one (natprobe cannot
        # read the flags here), while the record names another one of the same /64, maybe the
        # stable address: "out of date" would be a guess. Not verified, and why.
        return DnsDecision(family, DnsVerdict.UNVERIFIED, Why.of(Said.UNVERIFIED_MAYBE_TEMPORARY, addresses=addresses,
                                                                 public=public_ip, **facts), (), local_note)
    if public_ip not in addresses:
        return DnsDecision(family, DnsVerdict.STALE, Why.of(Said.STALE, addresses=addresses, public=public_ip, **facts),
                           (Why.of(Said.UPDATE_RECORD, rr=rr, public=public_ip),), local_note)
    if family_reachable is False:
        return DnsDecision(family, DnsVerdict.UNREACHABLE_FAMILY,
                           Why.of(Said.FAMILY_UNREACHABLE, public=public_ip, **facts),
                           (Why.of(Said.OPEN_PORTS, version=version, rr=rr),), local_note)
    others = tuple(a for a in addresses if a != public_ip)
    if split:
        return DnsDecision(family, DnsVerdict.SPLIT_HORIZON,
                           Why.of(Said.SPLIT_HORIZON, addresses=addresses, local=local.addresses, **facts),
                           (Why.of(Said.FIND_OVERRIDE),))
    return DnsDecision(family, DnsVerdict.MATCHES, Why.of(Said.MATCHES, public=public_ip, others=others, **facts),
                       (), local_note)
