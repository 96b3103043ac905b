"""The words of the NAT behaviour verdicts (mapping, filtering, RFC 3489 type, hairpinning).

:func:`natprobe.verdicts.classify.classify` decides (each a
:class:`~natprobe.verdicts.classify.Decision`: value, confidence, coded reason, evidence);
:func:`word_verdict` says it as the report's :class:`~natprobe.verdicts.classify.Verdict`.
"""

from __future__ import annotations

from typing import TypeVar

from natprobe.i18n import _
from natprobe.observations import Observation
from natprobe.verdicts.classify import Decision, Said, Verdict, unreachable_alternate
from natprobe.findings.scope_words import scope_name
from natprobe.verdicts.why import AS_SAID, Why

__all__ = ("reason_text", "unreachable_alternate_reason", "word_verdict")

T = TypeVar("T")


def reason_text(why: Why) -> str:
    """A NAT behaviour reason in words (a reason inside a reason is worded first)."""
    p = why.get

    def inner(name: str) -> str:
        return reason_text(p(name))

    match why.code:
        case Said.FIRST_UNANSWERED:
            return _("the server did not answer the first Binding request")
        case Said.OWN_ADDRESS:
            return _("the server saw this host's own address {address}", address=p("address"))
        case Said.NO_USABLE_ALTERNATE:
            return _("the server has no usable alternate address (OTHER-ADDRESS missing or equal to the primary)")
        case Said.UNREACHABLE_ALTERNATE:
            return _(
                "the server was reached at the public address {server} but names {alternate} as its alternate, "
                "a {scope} address nobody outside its network can reach: the server is probably behind a 1:1 NAT "
                "(a cloud VPS) without its public addresses configured (natprobe serve --primary-public / "
                "--alternate-public)",
                server=p("server"), alternate=p("alternate"), scope=scope_name(p("scope")),
            )
        case Said.SECOND_DESTINATION_UNTESTABLE:
            return _("{reason}, so mapping toward a second destination cannot be tested", reason=inner("reason"))
        case Said.NO_ALTERNATE_ANSWER:
            return _("no answer from the server's alternate address")
        case Said.SAME_EXTERNAL:
            return _("the same external address {address} was used toward two server addresses", address=p("address"))
        case Said.THIRD_UNANSWERED:
            return _("the mapping changed with the destination IP, but the third test got no answer")
        case Said.ADDRESS_DEPENDENT_MAPPING:
            return _("the external address changed with the destination IP but not with the destination port")
        case Said.EVERY_DESTINATION:
            return _("every destination got its own external address ({first}, {second}, {third})",
                     first=p("first"), second=p("second"), third=p("third"))
        case Said.FOREIGN_REPLY_CAME:
            return _("a reply from an address and port this socket never sent to came through")
        case Said.CHANGE_PORT_NOT_HONOURED:
            return _("the server did not honour the change-port request (error, or a reply from the wrong source)")
        case Said.OTHER_PORT_DROPPED:
            return _("a reply from the server's other port was dropped: only the exact address and port "
                     "this socket sent to may answer")
        case Said.OTHER_PORT_MAYBE_LOST:
            return _("no reply from the other port, but with the loss measured on this path "
                     "({doubt:.0%} chance it was only lost) that does not prove filtering", doubt=p("doubt"))
        case Said.OTHER_IP_DROPPED:
            return _("a reply from the server's other port came through, one from its other IP did not")
        case Said.OTHER_IP_MAYBE_LOST:
            return _("a reply from the other port came through; the other IP stayed silent, but loss "
                     "({doubt:.0%} chance) could explain that", doubt=p("doubt"))
        case Said.NO_SECOND_IP:
            return _("the server cannot answer from a second IP")
        case Said.EIF_ADF_UNTOLD:
            return _("a reply from the other port came through, but {why}, "
                     "so endpoint-independent and address-dependent filtering cannot be told apart", why=inner("why"))
        case Said.HAIRPIN_NOT_APPLICABLE:
            return _("no NAT between this host and the server: hairpinning does not apply")
        case Said.HAIRPIN_NOT_TESTED:
            return _("hairpinning was not tested")
        case Said.HAIRPIN_CAME_BACK:
            return _("a packet sent to this host's own public address {address} came back in (from {source})",
                     address=p("address"), source=p("source"))
        case Said.HAIRPIN_MAYBE_LOST:
            return _("no hairpinned packet arrived, but loss could explain it")
        case Said.HAIRPIN_NEVER:
            return _("packets sent to this host's own public address {address} never came back in", address=p("address"))
        case Said.OPEN_INTERNET:
            return _("no NAT and no inbound filtering")
        case Said.UDP_FIREWALL:
            return _("no NAT, but a firewall filters inbound UDP")
        case Said.NO_NAT_FILTERING_UNKNOWN:
            return _("no NAT; filtering: {reason}", reason=inner("reason"))
        case Said.DEPENDS_ON_DESTINATION:
            return _("the mapping depends on the destination")
        case Said.CONE:
            return _("endpoint-independent mapping with {filtering} filtering", filtering=p("filtering"))
        case Said.FILTERING_UNDETERMINED:
            return _("filtering undetermined: {reason}", reason=inner("reason"))
        case Said.MAPPING_UNDETERMINED:
            return _("mapping undetermined: {reason}", reason=inner("reason"))
        case Said.UDP_BLOCKED:
            return _("none of {sends} UDP requests was answered, while the same server answered over TCP",
                     sends=p("sends"))
        case Said.SERVER_DOWN:
            return _("none of {sends} UDP requests was answered and the server did not answer over TCP either: "
                     "the server may be down or unreachable", sends=p("sends"))
        case code if code == AS_SAID:
            return str(p("text"))
    raise ValueError(f"no words for the NAT behaviour reason {why.code!r}")


def word_verdict(decision: Decision[T]) -> Verdict[T]:
    """The verdict with its reason in the user's language."""
    return Verdict(decision.value, decision.confidence, reason_text(decision.why), decision.evidence)


def unreachable_alternate_reason(primary: Observation) -> str | None:
    """Why the server's OTHER-ADDRESS cannot be used from here, in words (``None``: it can)."""
    why = unreachable_alternate(primary)
    return None if why is None else reason_text(why)
