"""When no echo server is known: say why one is needed, how to get one, and what can be
known without it (this host's addresses and gateway, private or CGNAT addressing, and the
NAT's behaviour if a public STUN server answers)."""

from __future__ import annotations

import asyncio
import textwrap

from natprobe_cli.user_config import ENV_SERVER, config_path
from natprobe.addressing import IPAddress, is_globally_routable
from natprobe.addressing import classify as address_scope
from natprobe.i18n import _
from natprobe.findings.scope_words import scope_meaning

_WIDTH = 88



def no_server_message(command: str) -> str:
    """Why proving a port needs a helper outside, how to run one, how to point natprobe at it."""
    path = config_path()
    paragraphs = [
        _("{command}: no echo server is configured, so nothing could be proven from outside.", command=command),
        _("Why: whether your port can be reached from the Internet can only be seen from the Internet. "
          "A program on this network cannot tell a working port forward from a broken one; a helper "
          "outside your network must try to reach you. natprobe's helper is its echo server."),
        _("Run one on any public host (a small VPS is enough):"),
        "    natprobe serve --primary PUBLIC_IP --http-port 8080",
        "  " + _("or install it as a service: natprobe serve --systemd-unit (see the README, "
                 "\"Run your own echo server\")."),
        _("Then point natprobe at it, once:"),
        "    natprobe config set server http://YOUR_VPS:8080",
        "  " + _("(written to {path}), or for one shell: export {variable}=http://YOUR_VPS:8080,", path=path,
                 variable=ENV_SERVER),
        "  " + _("or for one command: --server http://YOUR_VPS:8080"),
    ]
    lines: list[str] = []
    for paragraph in paragraphs:
        if paragraph.startswith("    "):
            lines.append(paragraph)
        else:
            indent = "  " if paragraph.startswith("  ") else ""
            lines.extend(textwrap.wrap(paragraph.strip(), _WIDTH, initial_indent=indent, subsequent_indent=indent))
    return "\n".join(lines)


def _describe_address(ip: IPAddress) -> str:
    scope = address_scope(ip)
    if is_globally_routable(scope):
        return _("{address}: a public address, no NAT on this host's own interface", address=ip)
    meaning = scope_meaning(scope)
    return _("{address}: {meaning}", address=ip, meaning=meaning)


def inside_report(*, nat: bool = True) -> str:
    """What this host can learn about its network on its own (and from a public STUN server)."""
    from natprobe.adapters.interfaces import read_local_context

    context = read_local_context()
    lines = [_("What can be known from inside this network:")]
    primaries = [ip for ip in (context.primary_address_v4, context.primary_address_v6) if ip is not None]
    if not primaries:
        lines.append("  " + _("This host has no route to the Internet (no default route)."))
    for ip in primaries:
        interface = context.interface_of(ip)
        if interface is not None:
            text = _("This host's address on {interface}: {address}", interface=interface.name,
                     address=_describe_address(ip))
        else:
            text = _("This host's address: {address}", address=_describe_address(ip))
        lines.extend(textwrap.wrap(text, _WIDTH, initial_indent="  ", subsequent_indent="    "))
    for gateway in (context.gateway_v4, context.gateway_v6):
        if gateway is not None:
            if gateway.interface:
                lines.append("  " + _("Default gateway: {address} via {interface}", address=gateway.address,
                                      interface=gateway.interface))
            else:
                lines.append("  " + _("Default gateway: {address}", address=gateway.address))
    if nat:
        lines.extend(_nat_lines())
    return "\n".join(lines)


def _nat_lines() -> list[str]:
    from natprobe_cli.user_config import UserConfigError, resolve_stun_servers
    from natprobe.measure.discovery import DiscoveryOptions, discover_nat
    from natprobe.measure.stun_servers import PUBLIC_STUN_SERVERS, pick_stun_server

    try:
        names, origin = resolve_stun_servers(PUBLIC_STUN_SERVERS)
    except UserConfigError as exc:
        return ["  " + _("NAT behaviour: not measured ({error})", error=exc)]

    async def measure() -> list[str]:
        address, tried = await pick_stun_server(names)
        if address is None:
            problems = "; ".join(f"{c.name}: {c.problem}" for c in tried)
            return textwrap.wrap(
                _("NAT behaviour: unknown, no STUN server from {origin} could be used ({problems})", origin=origin,
                  problems=problems),
                _WIDTH, initial_indent="  ", subsequent_indent="    ",
            )
        report = await discover_nat(address, options=DiscoveryOptions(hairpin=False))
        return [
            "  " + _("NAT behaviour (measured with the STUN server {address}):", address=address),
            "    " + _("public address as seen from outside: {address}", address=report.mapped or _("unknown")),
            "    " + _("mapping: {mapping}; filtering: {filtering}; classic type: {nat_type}",
                       mapping=report.mapping.value.value, filtering=report.filtering.value.value,
                       nat_type=report.nat_type.value.value),
            "    " + _("(this says how the NAT treats connections this host opens; it cannot prove that a "
                       "forwarded port works)"),
        ]

    return asyncio.run(measure())
