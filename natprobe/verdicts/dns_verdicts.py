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
from natprobe.i18n import _

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
        raise ValueError(_("the name is empty"))
    if name.endswith("."):
        name = name[:-1]
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(_("{name!r} is not a valid internationalised domain name", name=text)) from None
    name = name.lower()
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(_("the name is {length} characters long; a DNS name has at most {limit}",
                           length=len(name), limit=MAX_NAME_LENGTH))
    for label in name.split("."):
        if not label:
            raise ValueError(_("{name!r} has an empty label (two dots in a row, or a leading dot)", name=text))
        if len(label) > _MAX_LABEL:
            raise ValueError(_("the label {label!r}... is {length} characters long; at most {limit}",
                             label=label[:20], length=len(label), limit=_MAX_LABEL))
        if not set(label) <= _LDH or label.startswith("-") or label.endswith("-"):
            raise ValueError(_(
                "the label {label!r} of {name!r} is not valid: use letters, digits and hyphens, "
                "not starting or ending with a hyphen", label=label, name=text,
            ))
    if "." not in name:
        raise ValueError(_("{name!r} is not a fully qualified name (e.g. cloud.example.org)", name=text))
    if name.rsplit(".", 1)[1].isdigit():
        raise ValueError(_("{name!r} is an address, not a name", name=text))
    return name


def record_type(family: IpFamily) -> str:
    return "A" if family is IpFamily.IPV4 else "AAAA"


def _join(addresses: Sequence[IPAddress]) -> str:
    return ", ".join(str(a) for a in addresses)


def _detail(lookup: FamilyLookup) -> str:
    return lookup.detail or _("unknown error")


def _lookup_failure(name: str, family: IpFamily, lookup: FamilyLookup, outside: bool) -> FamilyDnsVerdict | None:
    # One whole sentence per vantage point (the echo server's resolver or this host's), so a
    # translation never has to agree with a noun phrase pasted in.
    rr = record_type(family)
    if lookup.status is LookupStatus.NXDOMAIN:
        reason = (
            _("the echo server's resolver says {name} does not exist (NXDOMAIN)", name=name) if outside
            else _("this host's resolver says {name} does not exist (NXDOMAIN)", name=name)
        )
        return FamilyDnsVerdict(
            family, DnsVerdict.NO_SUCH_NAME, reason,
            (_("Check the spelling, and that the name is created at your DNS or dynamic-DNS provider "
               "with an {rr} record.", rr=rr),),
        )
    if lookup.status is LookupStatus.SERVFAIL:
        if lookup.detail:
            reason = (
                _("the echo server's resolver could not resolve {name} (SERVFAIL: {detail})", name=name,
                  detail=lookup.detail) if outside
                else _("this host's resolver could not resolve {name} (SERVFAIL: {detail})", name=name,
                       detail=lookup.detail)
            )
        else:
            reason = (
                _("the echo server's resolver could not resolve {name} (SERVFAIL)", name=name) if outside
                else _("this host's resolver could not resolve {name} (SERVFAIL)", name=name)
            )
        return FamilyDnsVerdict(
            family, DnsVerdict.RESOLVER_FAILURE, reason,
            (_("A SERVFAIL often means the domain's name servers do not answer or DNSSEC fails: check the "
               "domain's delegation and signatures at your registrar, then try again."),),
        )
    if lookup.status is LookupStatus.TIMEOUT:
        if lookup.detail:
            reason = (
                _("the echo server's resolver did not answer for {name} in time ({detail})", name=name,
                  detail=lookup.detail) if outside
                else _("this host's resolver did not answer for {name} in time ({detail})", name=name,
                       detail=lookup.detail)
            )
        else:
            reason = (
                _("the echo server's resolver did not answer for {name} in time", name=name) if outside
                else _("this host's resolver did not answer for {name} in time", name=name)
            )
        return FamilyDnsVerdict(
            family, DnsVerdict.RESOLVER_TIMEOUT, reason,
            (_("Check this resolver (the nameserver lines of /etc/resolv.conf) and try again."),),
        )
    if lookup.status is LookupStatus.ERROR:
        reason = (
            _("the echo server's resolver could not look up {name}: {detail}", name=name, detail=_detail(lookup))
            if outside
            else _("this host's resolver could not look up {name}: {detail}", name=name, detail=_detail(lookup))
        )
        return FamilyDnsVerdict(family, DnsVerdict.RESOLVER_FAILURE, reason)
    return None


def _point_at_public(rr: str, public_ip: IPAddress | None) -> str:
    if public_ip is None:
        return _("Point the {rr} record at your public address.", rr=rr)
    return _("Point the {rr} record at your public address ({public}).", rr=rr, public=public_ip)


def _bad_address(
    name: str, family: IpFamily, addresses: Sequence[IPAddress], public_ip: IPAddress | None,
    temporary: Collection[IPv6Address],
) -> FamilyDnsVerdict | None:
    """The first record that cannot lead here from outside, as a verdict."""
    rr = record_type(family)
    for address in addresses:
        scope = classify(address)
        if scope in (AddressScope.PRIVATE, AddressScope.UNIQUE_LOCAL, AddressScope.LINK_LOCAL, AddressScope.LOOPBACK):
            return FamilyDnsVerdict(
                family, DnsVerdict.PRIVATE_ADDRESS,
                _("the {rr} record of {name} is {address}, a LAN address: it works only inside your network, "
                  "visitors from the Internet cannot use it", rr=rr, name=name, address=address),
                (_point_at_public(rr, public_ip) + " "
                 + _("If you set the LAN address on purpose (an outage workaround, or because the router does "
                     "not hairpin), undo it, and give LAN clients the LAN address through split DNS on your "
                     "own resolver instead."),),
            )
        if scope is AddressScope.SHARED:
            return FamilyDnsVerdict(
                family, DnsVerdict.CGNAT_ADDRESS,
                _("the {rr} record of {name} is {address}, inside 100.64.0.0/10: that is your carrier's NAT, "
                  "not an address anyone outside can reach (a dynamic-DNS client read the router's WAN address)",
                  rr=rr, name=name, address=address),
                (_("Set the dynamic-DNS client to publish the address the Internet sees ({public}) (its 'web' or "
                   "'external IP' method), not the router's interface address.", public=public_ip)
                 if public_ip is not None else
                 _("Set the dynamic-DNS client to publish the address the Internet sees (its 'web' or "
                   "'external IP' method), not the router's interface address."),
                 _("Behind carrier-grade NAT, inbound connections need a public IPv4 address from your ISP, "
                   "IPv6, or a tunnel to a VPS.")),
            )
        if isinstance(address, IPv6Address) and address in temporary:
            return FamilyDnsVerdict(
                family, DnsVerdict.TEMPORARY_ADDRESS,
                _("the AAAA record of {name} is {address}, a temporary privacy address of this host: it "
                  "changes within a day and the record then points nowhere", name=name, address=address),
                (_("Publish this host's stable address ({public}) in the AAAA record (and open the pinhole for "
                   "that one); have the dynamic-DNS client pick the stable address, not the temporary one.",
                   public=public_ip)
                 if public_ip is not None else
                 _("Publish this host's stable address in the AAAA record (and open the pinhole for that one); "
                   "have the dynamic-DNS client pick the stable address, not the temporary one."),),
            )
        if not is_globally_routable(scope):
            return FamilyDnsVerdict(
                family, DnsVerdict.PRIVATE_ADDRESS,
                _("the {rr} record of {name} is {address}, which is not a public address ({scope})",
                  rr=rr, name=name, address=address, scope=scope.value),
                (_point_at_public(rr, public_ip),),
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
    if split:
        local_note = " " + _("(this host's resolver answers {addresses} instead)",
                             addresses=_join(local.addresses) or _("nothing"))
    elif outside is not None and local.status is not LookupStatus.ANSWERED:
        local_note = " " + _("(this host's own resolver failed: {status})", status=local.status.value
                             + (f", {local.detail}" if local.detail else ""))
    else:
        local_note = ""
    if not addresses:
        if public_ip is not None:
            return FamilyDnsVerdict(
                family, DnsVerdict.MISSING,
                _("{name} has no {rr} record, but IPv{version} works here (the echo server saw {public}): "
                  "IPv{version}-only visitors cannot reach the site", name=name, rr=rr, version=version,
                  public=public_ip) + local_note,
                (_("Add an {rr} record for {name} pointing at {public} (with dynamic DNS if it changes).",
                   rr=rr, name=name, public=public_ip),),
            )
        return FamilyDnsVerdict(
            family, DnsVerdict.NO_RECORD,
            _("{name} has no {rr} record, and IPv{version} is not in use here: nothing to fix",
              name=name, rr=rr, version=version) + local_note,
        )
    bad = _bad_address(name, family, addresses, public_ip, temporary)
    if bad is not None:
        return FamilyDnsVerdict(bad.family, bad.verdict, bad.reason + local_note, bad.advice)
    if public_ip is None:
        if outside is None:
            return FamilyDnsVerdict(
                family, DnsVerdict.UNVERIFIED,
                _("{name} has the {rr} record {addresses}; without an echo server natprobe cannot tell "
                  "whether that is this network's public address (local view only)",
                  name=name, rr=rr, addresses=_join(addresses)),
                (_("Give an echo server (--server or NATPROBE_SERVER) to compare the record with the address "
                   "the Internet sees."),),
            )
        if family is IpFamily.IPV6:
            return FamilyDnsVerdict(
                family, DnsVerdict.UNREACHABLE_FAMILY,
                _("{name} has the AAAA record {addresses}, but this host could not reach the echo server "
                  "over IPv6: IPv6 visitors (browsers try IPv6 first) will fail or wait before falling back",
                  name=name, addresses=_join(addresses)),
                (_("Fix IPv6 on this host (a global address and a default route), or remove the AAAA record."),),
            )
        return FamilyDnsVerdict(
            family, DnsVerdict.UNVERIFIED,
            _("{name} has the A record {addresses}, but this host could not reach the echo server over "
              "IPv4 to learn its public address, so the record cannot be compared",
              name=name, addresses=_join(addresses)),
        )
    if public_ip not in addresses:
        return FamilyDnsVerdict(
            family, DnsVerdict.STALE,
            _("the {rr} record of {name} is {addresses}, but this network's public address is now "
              "{public}: the record is out of date (the dynamic-DNS client did not update it)",
              rr=rr, name=name, addresses=_join(addresses), public=public_ip) + local_note,
            (_("Update the {rr} record to {public}; check that the dynamic-DNS client runs and can log in, "
               "and that it updates this record type.", rr=rr, public=public_ip),),
        )
    if family_reachable is False:
        reason = (
            _("the AAAA record of {name} points here ({public}), but no port checked was reachable over "
              "IPv6: visitors using IPv6 cannot reach the site (browsers try IPv6 first)",
              name=name, public=public_ip) if family is IpFamily.IPV6
            else _("the A record of {name} points here ({public}), but no port checked was reachable over "
                   "IPv4: visitors using IPv4 cannot reach the site", name=name, public=public_ip)
        )
        return FamilyDnsVerdict(
            family, DnsVerdict.UNREACHABLE_FAMILY, reason + local_note,
            (_("Open the ports over IPv{version} (see the port results), or remove the {rr} record "
               "until it works.", version=version, rr=rr),),
        )
    others = [a for a in addresses if a != public_ip]
    if split:
        return FamilyDnsVerdict(
            family, DnsVerdict.SPLIT_HORIZON,
            _("outside, {name} resolves to {addresses} (this network's public address), but this host's "
              "resolver answers {local}: split-horizon DNS, which is fine when meant (LAN clients use the "
              "LAN address)", name=name, addresses=_join(addresses), local=_join(local.addresses) or _("nothing")),
            (_("If you did not set up split DNS on purpose, find the local override (router DNS, /etc/hosts, a "
               "Pi-hole entry) and remove it."),),
        )
    if others:
        reason = _("the {rr} record of {name} is {public}, the public address the echo server saw (also "
                   "{others}: check that those are yours too)", rr=rr, name=name, public=public_ip,
                   others=_join(others))
    else:
        reason = _("the {rr} record of {name} is {public}, the public address the echo server saw",
                   rr=rr, name=name, public=public_ip)
    return FamilyDnsVerdict(family, DnsVerdict.MATCHES, reason + local_note)
