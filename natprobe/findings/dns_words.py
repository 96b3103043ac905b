"""The words of the name verdicts of ``natprobe dns`` (and of ``natprobe check --host``).

:mod:`natprobe.verdicts.dns_verdicts` decides (a :class:`~natprobe.verdicts.dns_verdicts.DnsDecision`);
this module says it as a :class:`~natprobe.verdicts.dns_verdicts.FamilyDnsVerdict`
(:func:`word_dns`), and words a refused name
(:func:`invalid_name_text`).
"""

from __future__ import annotations

from collections.abc import Sequence

from natprobe.addressing import IPAddress
from natprobe.i18n import _
from natprobe.verdicts.dns_verdicts import (
    DnsDecision,
    FamilyDnsVerdict,
    InvalidName,
    NameProblem,
    Said,
)
from natprobe.verdicts.why import Why

__all__ = ("invalid_name_text", "word_dns")


def invalid_name_text(exc: InvalidName) -> str:
    """Why a name was refused, in the user's language."""
    name, p = exc.name, exc.params
    match exc.problem:
        case NameProblem.EMPTY:
            return _("the name is empty")
        case NameProblem.BAD_IDNA:
            return _("{name!r} is not a valid internationalised domain name", name=name)
        case NameProblem.TOO_LONG:
            return _("the name is {length} characters long; a DNS name has at most {limit}",
                     length=p["length"], limit=p["limit"])
        case NameProblem.EMPTY_LABEL:
            return _("{name!r} has an empty label (two dots in a row, or a leading dot)", name=name)
        case NameProblem.LABEL_TOO_LONG:
            return _("the label {label!r}... is {length} characters long; at most {limit}",
                     label=p["label"], length=p["length"], limit=p["limit"])
        case NameProblem.BAD_LABEL:
            return _("the label {label!r} of {name!r} is not valid: use letters, digits and hyphens, "
                     "not starting or ending with a hyphen", label=p["label"], name=name)
        case NameProblem.NOT_QUALIFIED:
            return _("{name!r} is not a fully qualified name (e.g. cloud.example.org)", name=name)
        case NameProblem.AN_ADDRESS:
            return _("{name!r} is an address, not a name", name=name)
    return str(exc)


def _join(addresses: Sequence[IPAddress]) -> str:
    return ", ".join(str(a) for a in addresses)


def _reason(why: Why) -> str:
    # One whole sentence per vantage point (the echo server's resolver or this host's), so a
    # translation never has to agree with a noun phrase pasted in.
    p = why.get
    name, outside, detail = p("name"), p("outside"), p("detail")
    match why.code:
        case Said.NXDOMAIN:
            return (_("the echo server's resolver says {name} does not exist (NXDOMAIN)", name=name) if outside
                    else _("this host's resolver says {name} does not exist (NXDOMAIN)", name=name))
        case Said.SERVFAIL:
            if detail:
                return (_("the echo server's resolver could not resolve {name} (SERVFAIL: {detail})", name=name,
                          detail=detail) if outside
                        else _("this host's resolver could not resolve {name} (SERVFAIL: {detail})", name=name,
                               detail=detail))
            return (_("the echo server's resolver could not resolve {name} (SERVFAIL)", name=name) if outside
                    else _("this host's resolver could not resolve {name} (SERVFAIL)", name=name))
        case Said.TIMEOUT:
            if detail:
                return (_("the echo server's resolver did not answer for {name} in time ({detail})", name=name,
                          detail=detail) if outside
                        else _("this host's resolver did not answer for {name} in time ({detail})", name=name,
                               detail=detail))
            return (_("the echo server's resolver did not answer for {name} in time", name=name) if outside
                    else _("this host's resolver did not answer for {name} in time", name=name))
        case Said.LOOKUP_ERROR:
            detail = detail or _("unknown error")
            return (_("the echo server's resolver could not look up {name}: {detail}", name=name, detail=detail)
                    if outside
                    else _("this host's resolver could not look up {name}: {detail}", name=name, detail=detail))
        case Said.LAN_ADDRESS:
            return _("the {rr} record of {name} is {address}, a LAN address: it works only inside your network, "
                     "visitors from the Internet cannot use it", rr=p("rr"), name=name, address=p("address"))
        case Said.CGNAT_ADDRESS:
            return _("the {rr} record of {name} is {address}, inside 100.64.0.0/10: that is your carrier's NAT, "
                     "not an address anyone outside can reach (a dynamic-DNS client read the router's WAN address)",
                     rr=p("rr"), name=name, address=p("address"))
        case Said.TEMPORARY_ADDRESS:
            return _("the AAAA record of {name} is {address}, a temporary privacy address of this host: it "
                     "changes within a day and the record then points nowhere", name=name, address=p("address"))
        case Said.NOT_PUBLIC:
            return _("the {rr} record of {name} is {address}, which is not a public address ({scope})",
                     rr=p("rr"), name=name, address=p("address"), scope=p("scope"))
        case Said.MISSING:
            return _("{name} has no {rr} record, but IPv{version} works here (the echo server saw {public}): "
                     "IPv{version}-only visitors cannot reach the site", name=name, rr=p("rr"),
                     version=p("version"), public=p("public"))
        case Said.NO_RECORD:
            return _("{name} has no {rr} record, and IPv{version} is not in use here: nothing to fix",
                     name=name, rr=p("rr"), version=p("version"))
        case Said.UNVERIFIED_LOCAL_ONLY:
            return _("{name} has the {rr} record {addresses}; without an echo server natprobe cannot tell "
                     "whether that is this network's public address (local view only)",
                     name=name, rr=p("rr"), addresses=_join(p("addresses")))
        case Said.IPV6_UNREACHABLE:
            return _("{name} has the AAAA record {addresses}, but this host could not reach the echo server "
                     "over IPv6: IPv6 visitors (browsers try IPv6 first) will fail or wait before falling back",
                     name=name, addresses=_join(p("addresses")))
        case Said.UNVERIFIED_NO_IPV4:
            return _("{name} has the A record {addresses}, but this host could not reach the echo server over "
                     "IPv4 to learn its public address, so the record cannot be compared",
                     name=name, addresses=_join(p("addresses")))
        case Said.STALE:
            return _("the {rr} record of {name} is {addresses}, but this network's public address is now "
                     "{public}: the record is out of date (the dynamic-DNS client did not update it)",
                     rr=p("rr"), name=name, addresses=_join(p("addresses")), public=p("public"))
        case Said.UNVERIFIED_MAYBE_TEMPORARY:
            return _("the AAAA record of {name} is {addresses}, in the same network as {public}, the address this "
                     "host was seen from; natprobe cannot tell here whether that one is a temporary privacy "
                     "address, so whether the record names this host's stable address is not verified",
                     name=name, addresses=_join(p("addresses")), public=p("public"))
        case Said.FAMILY_UNREACHABLE:
            if p("version") == 6:
                return _("the AAAA record of {name} points here ({public}), but no port checked was reachable "
                         "over IPv6: visitors using IPv6 cannot reach the site (browsers try IPv6 first)",
                         name=name, public=p("public"))
            return _("the A record of {name} points here ({public}), but no port checked was reachable over "
                     "IPv4: visitors using IPv4 cannot reach the site", name=name, public=p("public"))
        case Said.SPLIT_HORIZON:
            return _("outside, {name} resolves to {addresses} (this network's public address), but this host's "
                     "resolver answers {local}: split-horizon DNS, which is fine when meant (LAN clients use the "
                     "LAN address)", name=name, addresses=_join(p("addresses")),
                     local=_join(p("local")) or _("nothing"))
        case Said.MATCHES:
            others = p("others")
            if others:
                return _("the {rr} record of {name} is {public}, the public address the echo server saw (also "
                         "{others}: check that those are yours too)", rr=p("rr"), name=name, public=p("public"),
                         others=_join(others))
            return _("the {rr} record of {name} is {public}, the public address the echo server saw",
                     rr=p("rr"), name=name, public=p("public"))
    raise ValueError(f"no words for the name reason {why.code!r}")


def _note(why: Why) -> str:
    """The parenthesis on this host's own view, appended to a reason."""
    if why.code == Said.LOCAL_ANSWERS_OTHERWISE:
        return _("(this host's resolver answers {addresses} instead)", addresses=_join(why.get("addresses")) or _("nothing"))
    detail = why.get("detail")
    return _("(this host's own resolver failed: {status})", status=why.get("status") + (f", {detail}" if detail else ""))


def _point_at_public(rr: str, public_ip: IPAddress | None) -> str:
    if public_ip is None:
        return _("Point the {rr} record at your public address.", rr=rr)
    return _("Point the {rr} record at your public address ({public}).", rr=rr, public=public_ip)


def _advice(why: Why) -> str:
    p = why.get
    match why.code:
        case Said.CHECK_SPELLING:
            return _("Check the spelling, and that the name is created at your DNS or dynamic-DNS provider "
                     "with an {rr} record.", rr=p("rr"))
        case Said.SERVFAIL_ADVICE:
            return _("A SERVFAIL often means the domain's name servers do not answer or DNSSEC fails: check the "
                     "domain's delegation and signatures at your registrar, then try again.")
        case Said.CHECK_RESOLVER:
            return _("Check this resolver (the nameserver lines of /etc/resolv.conf) and try again.")
        case Said.POINT_AT_PUBLIC:
            return _point_at_public(p("rr"), p("public"))
        case Said.UNDO_LAN_ADDRESS:
            return (_point_at_public(p("rr"), p("public")) + " "
                    + _("If you set the LAN address on purpose (an outage workaround, or because the router does "
                        "not hairpin), undo it, and give LAN clients the LAN address through split DNS on your "
                        "own resolver instead."))
        case Said.PUBLISH_SEEN_ADDRESS:
            if p("public") is not None:
                return _("Set the dynamic-DNS client to publish the address the Internet sees ({public}) (its 'web' "
                         "or 'external IP' method), not the router's interface address.", public=p("public"))
            return _("Set the dynamic-DNS client to publish the address the Internet sees (its 'web' or "
                     "'external IP' method), not the router's interface address.")
        case Said.CGNAT_INBOUND:
            return _("Behind carrier-grade NAT, inbound connections need a public IPv4 address from your ISP, "
                     "IPv6, or a tunnel to a VPS.")
        case Said.PUBLISH_STABLE:
            if p("public") is not None:
                return _("Publish this host's stable address ({public}) in the AAAA record (and open the pinhole "
                         "for that one); have the dynamic-DNS client pick the stable address, not the temporary "
                         "one.", public=p("public"))
            return _("Publish this host's stable address in the AAAA record (and open the pinhole for that one); "
                     "have the dynamic-DNS client pick the stable address, not the temporary one.")
        case Said.ADD_RECORD:
            return _("Add an {rr} record for {name} pointing at {public} (with dynamic DNS if it changes).",
                     rr=p("rr"), name=p("name"), public=p("public"))
        case Said.GIVE_SERVER:
            return _("Give an echo server (--server or NATPROBE_SERVER) to compare the record with the address "
                     "the Internet sees.")
        case Said.FIX_IPV6:
            return _("Fix IPv6 on this host (a global address and a default route), or remove the AAAA record.")
        case Said.UPDATE_RECORD:
            return _("Update the {rr} record to {public}; check that the dynamic-DNS client runs and can log in, "
                     "and that it updates this record type.", rr=p("rr"), public=p("public"))
        case Said.OPEN_PORTS:
            return _("Open the ports over IPv{version} (see the port results), or remove the {rr} record "
                     "until it works.", version=p("version"), rr=p("rr"))
        case Said.FIND_OVERRIDE:
            return _("If you did not set up split DNS on purpose, find the local override (router DNS, /etc/hosts, "
                     "a Pi-hole entry) and remove it.")
    raise ValueError(f"no words for the name advice {why.code!r}")


def word_dns(decision: DnsDecision) -> FamilyDnsVerdict:
    """The family's verdict in the user's language."""
    reason = _reason(decision.why)
    if decision.local_note is not None:
        reason += " " + _note(decision.local_note)
    return FamilyDnsVerdict(decision.family, decision.verdict, reason, tuple(_advice(why) for why in decision.advice))

