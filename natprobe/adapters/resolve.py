"""Host names to addresses, one way for every command: literals as they are, names via
``getaddrinfo``, IPv4 preferred (NAT questions, Jamulus directories and most echo servers are
IPv4 questions)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from natprobe.errors import NetworkError
from natprobe.addressing import IPAddress
from natprobe.i18n import _


async def resolve_host(host: str, *, ipv4_only: bool = False) -> IPAddress:
    """Resolve ``host``; :class:`~natprobe.errors.NetworkError` when it does not resolve."""
    try:
        address: IPAddress = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET if ipv4_only else socket.AF_UNSPEC
        try:
            infos = await loop.getaddrinfo(host, None, family=family, type=socket.SOCK_DGRAM)
        except OSError as exc:
            raise NetworkError(_("cannot resolve {host!r}: {error}", host=host, error=exc.strerror or exc)) from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not addresses:
            raise NetworkError(_("cannot resolve {host!r}: no address", host=host))
        address = next((a for a in addresses if a.version == 4), addresses[0])
    if ipv4_only and address.version != 4:
        raise ValueError(f"{host} is not an IPv4 address")
    return address


def url_host(url: str) -> str:
    """The host part of ``http://host:port/...`` (a scheme-less ``host:port`` is accepted too)."""
    host = urlsplit(url if "://" in url else "http://" + url).hostname
    if not host:
        raise ValueError(f"cannot read a host name from {url!r}")
    return host


def normalise_server_url(url: str) -> str:
    """``HTTP://Host:8080/v1/`` → ``http://Host:8080``: the scheme in lower case (URL schemes are
    case-insensitive, RFC 3986 section 3.1) and without the trailing ``/`` or ``/v1`` the client
    adds itself; a longer path (a reverse proxy's prefix) is kept."""
    text = url.strip()
    scheme, separator, rest = text.partition("://")
    if separator:
        text = scheme.lower() + separator + rest
    text = text.rstrip("/")
    if text.endswith("/v1"):
        text = text[: -len("/v1")]
    return text.rstrip("/")


async def resolve_per_family(host: str) -> dict[int, IPAddress]:
    """The first address of ``host`` per IP version (4 and/or 6): a literal is its own family
    only; a name gives its A and AAAA answers. :class:`~natprobe.errors.NetworkError` when it
    does not resolve at all."""
    try:
        literal: IPAddress = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        pass
    else:
        return {literal.version: literal}
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, family=socket.AF_UNSPEC, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise NetworkError(_("cannot resolve {host!r}: {error}", host=host, error=exc.strerror or exc)) from exc
    found: dict[int, IPAddress] = {}
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        found.setdefault(address.version, address)
    if not found:
        raise NetworkError(_("cannot resolve {host!r}: no address", host=host))
    return found
