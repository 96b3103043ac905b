"""The web page's settings: ``--web/--no-web`` (``web = false`` in the file), and the per-family names.

No aiohttp here: ``natprobe serve`` parses its options before it knows whether it serves HTTP.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from natprobe.addressing import IPAddress, TransportAddress
from natprobe.verdicts.browser_mapping import StunTargets

__all__ = ("WebPage", "add_arguments", "web_page_from_args")


@dataclass(frozen=True, slots=True)
class WebPage:
    """What the page needs to know about this server."""

    stun: StunTargets | None = None
    """The STUN endpoints of the WebRTC mapping test (RFC 5780 tests I-III); None: no test."""
    families: Mapping[str, str] = field(default_factory=dict)
    """``ipv4``/``ipv6`` -> a host (name or address) that reaches this server over that family
    only; the page asks ``whoami`` there. Empty: only the family the visitor came in on."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--web/--no-web``, ``--web-ipv4-name``, ``--web-ipv6-name``."""
    parser.add_argument("--web", action=argparse.BooleanOptionalAction, default=True,
                        help="serve the web checker at / on the HTTP port (default: on; 'web = false' in the file)")
    parser.add_argument("--web-ipv4-name", metavar="NAME",
                        help="a name with only an A record (or the IPv4 address) of this server: the page "
                             "checks IPv4 there (default: the IPv4 primary's public address)")
    parser.add_argument("--web-ipv6-name", metavar="NAME",
                        help="a name with only an AAAA record (or the IPv6 address) of this server: the page "
                             "checks IPv6 there (default: the IPv6 primary address)")


def web_page_from_args(
    args: argparse.Namespace,
    publics: Sequence[tuple[IPAddress, IPAddress | None]],
    stun_port: int,
) -> WebPage | None:
    """The page's settings (None with ``--no-web``).

    ``publics``: each served family's (primary, alternate) public addresses, first family
    first; the WebRTC test uses the first IPv4 pair with an alternate (else the first pair).
    """
    if not getattr(args, "web", True):
        return None
    families: dict[str, str] = {}
    for primary, _alternate in publics:
        families.setdefault(f"ipv{primary.version}", str(primary))
    names: Mapping[str, str | None] = {"ipv4": getattr(args, "web_ipv4_name", None),
                                       "ipv6": getattr(args, "web_ipv6_name", None)}
    for family, name in names.items():
        if name:
            families[family] = name
    if len(families) < 2:
        families = {}  # one family: the visitor's own request says it all
    stun = None
    pairs = sorted((p for p in publics if p[1] is not None), key=lambda p: p[0].version)
    if pairs:
        primary, alternate = pairs[0]
        if alternate is not None:
            stun = StunTargets(TransportAddress(primary, stun_port), TransportAddress(alternate, stun_port),
                               TransportAddress(alternate, stun_port + 1))
    return WebPage(stun=stun, families=families)
