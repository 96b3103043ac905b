"""What natprobe calls each kind of address, in every length it needs: the one home of the
address-scope words (the evidence of a verdict, the path picture, the shared report, the
"no echo server" help). The scopes themselves are :class:`~natprobe.addressing.AddressScope`.
"""

from __future__ import annotations

from typing import Final

from natprobe.addressing import AddressScope, IPAddress, classify, is_globally_routable, unmap
from natprobe.i18n import N_, _

__all__ = ("describe_address", "scope_meaning", "scope_name", "shared_label", "short_scope_word")

_S = AddressScope

_NAMES: Final = {
    _S.PUBLIC: N_("public"),
    _S.PRIVATE: N_("private, RFC 1918"),
    _S.SHARED: N_("carrier-grade NAT shared space, RFC 6598"),
    _S.LOOPBACK: N_("loopback"),
    _S.LINK_LOCAL: N_("link-local"),
    _S.UNIQUE_LOCAL: N_("IPv6 unique-local, RFC 4193"),
    _S.DOCUMENTATION: N_("documentation range, used as public Internet in natprobe's lab"),
    _S.MULTICAST: N_("multicast"),
    _S.UNSPECIFIED: N_("unspecified"),
    _S.RESERVED: N_("reserved, not globally routable"),
}

# What an address of this scope on this host's own interface means for reachability.
_MEANINGS: Final = {
    _S.PRIVATE: N_("a private address (RFC 1918): a NAT router sits between this host and the Internet"),
    _S.SHARED: N_(
        "a carrier-grade NAT address (100.64.0.0/10, RFC 6598): your provider shares one public address "
        "among many customers, and a port forward on your own router cannot make you reachable"
    ),
    _S.UNIQUE_LOCAL: N_("a unique-local IPv6 address: not reachable from the Internet"),
    _S.LINK_LOCAL: N_("a link-local address: not reachable from the Internet"),
}


def scope_name(scope: AddressScope) -> str:
    """The scope's name with its RFC (``private, RFC 1918``)."""
    return _(_NAMES[scope])


def describe_address(ip: IPAddress) -> str:
    """``192.168.1.2 (private, RFC 1918)``."""
    return _("{address} ({scope})", address=ip, scope=scope_name(classify(ip)))


def scope_meaning(scope: AddressScope) -> str:
    """What an address of ``scope`` on this host means for being reached (a phrase)."""
    return _(_MEANINGS[scope]) if scope in _MEANINGS else scope.value


def short_scope_word(ip: IPAddress) -> str:
    """One or two words for a picture: public, carrier-grade NAT space, LAN, not public."""
    scope = classify(unmap(ip))
    if is_globally_routable(scope):
        return _("public")
    if scope is AddressScope.SHARED:
        return _("carrier-grade NAT space")
    if scope in (AddressScope.PRIVATE, AddressScope.UNIQUE_LOCAL, AddressScope.LINK_LOCAL):
        return _("LAN")
    return _("not public")


def shared_label(ip: IPAddress | None, *, kept: bool) -> str:
    """The label of an address in a report to be shared (``kept``: shown, else masked)."""
    if ip is None:
        return _("unknown")
    if classify(unmap(ip)) is AddressScope.SHARED:
        return _("CGNAT, masked")
    if kept:
        return _("LAN, kept")
    return _("public, masked")
