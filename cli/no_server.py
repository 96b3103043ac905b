"""When no echo server is known: say why one is needed, how to get one, and what can be
known without it (this host's addresses and gateway, private or CGNAT addressing, and the
NAT's behaviour if a public STUN server answers)."""

from __future__ import annotations

import asyncio
import textwrap

from natprobe.adapters.user_config import ENV_SERVER, config_path
from natprobe.addressing import AddressScope, IPAddress, is_globally_routable
from natprobe.addressing import classify as address_scope

_WIDTH = 88

_SCOPE_MEANING = {
    AddressScope.PRIVATE: "a private address (RFC 1918): a NAT router sits between this host and the Internet",
    AddressScope.SHARED: (
        "a carrier-grade NAT address (100.64.0.0/10, RFC 6598): your provider shares one public address "
        "among many customers, and a port forward on your own router cannot make you reachable"
    ),
    AddressScope.UNIQUE_LOCAL: "a unique-local IPv6 address: not reachable from the Internet",
    AddressScope.LINK_LOCAL: "a link-local address: not reachable from the Internet",
}


def no_server_message(command: str) -> str:
    """Why proving a port needs a helper outside, how to run one, how to point natprobe at it."""
    path = config_path()
    paragraphs = [
        f"{command}: no echo server is configured, so nothing could be proven from outside.",
        "Why: whether your port can be reached from the Internet can only be seen from the Internet. "
        "A program on this network cannot tell a working port forward from a broken one; a helper "
        "outside your network must try to reach you. natprobe's helper is its echo server.",
        "Run one on any public host (a small VPS is enough):",
        "    natprobe serve --primary PUBLIC_IP --http-port 8080",
        "  or install it as a service: natprobe serve --systemd-unit (see the README, "
        "\"Run your own echo server\").",
        "Then point natprobe at it, once:",
        "    natprobe config set server http://YOUR_VPS:8080",
        f"  (written to {path}), or for one shell: export {ENV_SERVER}=http://YOUR_VPS:8080,",
        "  or for one command: --server http://YOUR_VPS:8080",
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
        return f"{ip}: a public address, no NAT on this host's own interface"
    return f"{ip}: {_SCOPE_MEANING.get(scope, scope.value)}"


def inside_report(*, nat: bool = True) -> str:
    """What this host can learn about its network on its own (and from a public STUN server)."""
    from natprobe.adapters.interfaces import read_local_context

    context = read_local_context()
    lines = ["What can be known from inside this network:"]
    primaries = [ip for ip in (context.primary_address_v4, context.primary_address_v6) if ip is not None]
    if not primaries:
        lines.append("  This host has no route to the Internet (no default route).")
    for ip in primaries:
        interface = context.interface_of(ip)
        where = f" on {interface.name}" if interface is not None else ""
        lines.extend(textwrap.wrap(f"This host's address{where}: {_describe_address(ip)}", _WIDTH,
                                   initial_indent="  ", subsequent_indent="    "))
    for gateway in (context.gateway_v4, context.gateway_v6):
        if gateway is not None:
            via = f" via {gateway.interface}" if gateway.interface else ""
            lines.append(f"  Default gateway: {gateway.address}{via}")
    if nat:
        lines.extend(_nat_lines())
    return "\n".join(lines)


def _nat_lines() -> list[str]:
    from natprobe.adapters.user_config import UserConfigError, resolve_stun_servers
    from natprobe.measure.discovery import DiscoveryOptions, discover_nat
    from natprobe.measure.stun_servers import PUBLIC_STUN_SERVERS, pick_stun_server

    try:
        names, origin = resolve_stun_servers(PUBLIC_STUN_SERVERS)
    except UserConfigError as exc:
        return [f"  NAT behaviour: not measured ({exc})"]

    async def measure() -> list[str]:
        address, tried = await pick_stun_server(names)
        if address is None:
            problems = "; ".join(f"{c.name}: {c.problem}" for c in tried)
            return textwrap.wrap(f"NAT behaviour: unknown, no STUN server from {origin} could be used ({problems})",
                                 _WIDTH, initial_indent="  ", subsequent_indent="    ")
        report = await discover_nat(address, options=DiscoveryOptions(hairpin=False))
        return [
            f"  NAT behaviour (measured with the STUN server {address}):",
            f"    public address as seen from outside: {report.mapped or 'unknown'}",
            f"    mapping: {report.mapping.value.value}; filtering: {report.filtering.value.value}; "
            f"classic type: {report.nat_type.value.value}",
            "    (this says how the NAT treats connections this host opens; it cannot prove that a "
            "forwarded port works)",
        ]

    return asyncio.run(measure())
