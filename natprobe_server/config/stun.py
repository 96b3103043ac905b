"""The echo server's configuration: one frozen record, plus the command-line arguments that build it.

Port layout (RFC 5780 section 6: the same pair of ports on both addresses)::

    primary:N     primary:N+1      STUN over UDP (and TCP)
    alternate:N   alternate:N+1    STUN over UDP (and TCP), only with --alternate
    primary:M                      plain UDP echo, M = N+2 unless --echo-port says otherwise

``N`` defaults to 3478 (RFC 8489 section 18.6). The echo port defaults to N+2 so a deployment
opens one contiguous range (3478-3480) in its firewall. ``port=0`` asks the server to pick a
free base port itself (N and N+1 must be adjacent, so the OS cannot pick it for us); tests and
the lab use that.

The argparse helpers live here so ``python -m natprobe_server`` and ``natprobe serve`` accept
exactly the same options.
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

from natprobe.i18n import _
from natprobe.stun import DEFAULT_PORT

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

DEFAULT_RATE_PER_SOURCE = 100.0
DEFAULT_BURST_PER_SOURCE = 200.0
DEFAULT_MAX_TCP_CONNECTIONS = 256
DEFAULT_MAX_TCP_PER_SOURCE = 8
DEFAULT_TCP_MESSAGE_TIMEOUT = 5.0

__all__ = (
    "DEFAULT_PORT",
    "EchoServerConfig",
    "add_arguments",
    "config_from_args",
    "configs_from_args",
    "pair_by_family",
)


@dataclass(frozen=True, slots=True)
class EchoServerConfig:
    """Everything :class:`~natprobe_server.stun.server.EchoServer` needs to know before it binds.

    Rate limiting is a token bucket per source IP: ``rate_per_source`` datagrams (or TCP
    messages) per second, bursts up to ``burst_per_source``; at most ``rate_table_size`` source
    IPs are remembered (least recently seen evicted first), so memory stays bounded whatever a
    spoofing attacker sends. The default (100/s, burst 200) is far above what an RFC 5780 client
    needs (RFC 5780 section 5: at most 10 new transactions per second) and leaves room for many
    clients behind one carrier-grade NAT.
    """

    primary: IPAddress
    alternate: IPAddress | None = None
    port: int = DEFAULT_PORT
    """Base port N: STUN on N and N+1. 0 = pick a free pair at start-up."""
    echo_port: int | None = None
    """UDP echo port; ``None`` = N+2, 0 = an ephemeral port. Ignored when ``echo`` is off."""
    echo: bool = True
    tcp: bool = True
    """Serve STUN over TCP (RFC 8489 section 6.2.2 framing) on the same ports as UDP."""
    rate_per_source: float = DEFAULT_RATE_PER_SOURCE
    burst_per_source: float = DEFAULT_BURST_PER_SOURCE
    rate_table_size: int = 65536
    max_tcp_connections: int = DEFAULT_MAX_TCP_CONNECTIONS
    """STUN/TCP connections at once; when full, the one idle the longest makes room."""
    max_tcp_per_source: int = DEFAULT_MAX_TCP_PER_SOURCE
    """STUN/TCP connections at once from one source (IPv4 address or IPv6 /64)."""
    tcp_idle_timeout: float = 30.0
    tcp_message_timeout: float = DEFAULT_TCP_MESSAGE_TIMEOUT
    """Seconds a STUN/TCP message may take from its first byte to its last (slow senders are cut)."""
    padding_mtu: int = 1500
    """RFC 5780 section 6.1: PADDING in a response SHOULD be the outgoing MTU (but never more
    than the request allows, see :mod:`natprobe_server.stun.service`)."""
    software: str | None = None
    """SOFTWARE attribute for responses; off by default (it only makes replies bigger)."""
    max_batch: int = 64
    """Datagrams read from one socket per readiness callback before yielding to the loop."""
    udp_poll_interval: float = 0.001
    """While UDP traffic flows, drain the sockets every this many seconds instead of waking
    per datagram (0 = always wait on epoll); the reply latency it adds is at most this."""
    receive_buffer: int | None = None
    """SO_RCVBUF for the UDP sockets in bytes (the kernel queue is the only queue); None = OS default."""
    primary_public: IPAddress | None = None
    """Behind a 1:1 NAT (most clouds): the public address mapped onto ``primary``. Sockets
    bind ``primary``; every address told to a client names this one instead."""
    alternate_public: IPAddress | None = None
    """The public address mapped onto ``alternate``."""

    def __post_init__(self) -> None:
        if self.alternate is not None:
            if self.alternate.version != self.primary.version:
                raise ValueError(_("--primary and --alternate must be the same IP version"))
            if self.alternate == self.primary:
                raise ValueError(_("the alternate address must differ from the primary"))
        if self.primary.is_unspecified or (self.alternate is not None and self.alternate.is_unspecified):
            # RESPONSE-ORIGIN and OTHER-ADDRESS must name a real address, and replies must
            # leave from a known one, so wildcard binds are refused.
            raise ValueError(_("listen addresses must be specific, not 0.0.0.0 or ::"))
        self._check_public()
        if self.port != 0 and not 1 <= self.port <= 0xFFFE:
            raise ValueError(_("--port must be 1-65534 (N+1 is used too) or 0, got {port}", port=self.port))
        if self.echo_port is not None and not 0 <= self.echo_port <= 0xFFFF:
            raise ValueError(_("--echo-port out of range: {port}", port=self.echo_port))
        if self.echo and self.port != 0 and self.effective_echo_port in (self.port, self.port + 1):
            raise ValueError(_("the echo port must differ from the STUN ports N and N+1"))
        if self.rate_per_source <= 0 or self.burst_per_source < 1:
            raise ValueError(_("--rate must be > 0 and --burst at least 1"))
        if min(self.rate_table_size, self.max_tcp_connections, self.max_tcp_per_source, self.max_batch) < 1:
            raise ValueError(_("--max-tcp-connections and --max-tcp-per-source must be at least 1 (and the rate table and the read batch too)"))
        if self.tcp_idle_timeout <= 0 or self.tcp_message_timeout <= 0:
            raise ValueError(_("--tcp-message-timeout (and the TCP idle timeout) must be > 0"))
        if not 0 <= self.udp_poll_interval <= 0.1:
            raise ValueError(_("--udp-poll-interval must be 0-0.1 s"))
        if not 0 <= self.padding_mtu <= 0xFFFF:
            raise ValueError(_("the padding MTU must be 0-65535"))

    def _check_public(self) -> None:
        if self.alternate_public is not None and self.alternate is None:
            raise ValueError(_("--alternate-public needs --alternate (the private address it is mapped onto)"))
        for public, private in ((self.primary_public, self.primary), (self.alternate_public, self.alternate)):
            if public is None or private is None:
                continue
            if public.version != private.version:
                raise ValueError(_("the public address {public} and {private} must be the same IP version", public=public,
                                   private=private))
            if public.is_unspecified or public.is_multicast:
                raise ValueError(_("a public address must be a specific unicast address, not {public}", public=public))
        if self.alternate is not None and self.public_of(self.primary) == self.public_of(self.alternate):
            raise ValueError(_("the primary and alternate public addresses must differ"))

    def public_of(self, ip: IPAddress) -> IPAddress:
        """The address clients know ``ip`` (the primary or the alternate) by."""
        if ip == self.primary and self.primary_public is not None:
            return self.primary_public
        if ip == self.alternate and self.alternate_public is not None:
            return self.alternate_public
        return ip

    @property
    def effective_echo_port(self) -> int | None:
        """The echo port to bind (0 = ephemeral), or ``None`` when echo is off.

        With ``port=0`` and no explicit echo port this is 0 here; the server picks N+2 together
        with N and reports the real port.
        """
        if not self.echo:
            return None
        if self.echo_port is not None:
            return self.echo_port
        return self.port + 2 if self.port else 0


# --- command line ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Default:
    """An option's default, wrapped so that a ``--config`` file can tell "not given on the
    command line" (the file's value wins) from "given" (the command line wins), even when the
    value given equals the default. See :func:`natprobe_server.config.file.mark_defaults`."""

    value: object

    def __str__(self) -> str:  # keeps "(default %(default)s)" in --help readable
        return str(self.value)


class AppendAddress(argparse.Action):
    """``action="append"`` that also starts a fresh list over a :class:`Default` (argparse's own
    append would try to copy and extend the wrapper). ``takes_list``: a config file may give a
    list for this key."""

    takes_list = True

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
        option_string: str | None = None,
    ) -> None:
        items = getattr(namespace, self.dest, None)
        items = [] if items is None or isinstance(items, Default) else list(items)
        items.append(values)
        setattr(namespace, self.dest, items)


def unwrap(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with every :class:`Default` replaced by its value (a copy)."""
    return argparse.Namespace(
        **{key: value.value if isinstance(value, Default) else value for key, value in vars(args).items()}
    )


def _ip(text: str) -> IPAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("not an IP address: {value!r}", value=text)) from None


def port_argument(text: str) -> int:
    """argparse ``type=`` for a port, 0-65535 (0: let the OS pick)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("not a port number: {value!r}", value=text)) from None
    if not 0 <= value <= 0xFFFF:
        raise argparse.ArgumentTypeError(_("port out of range: {value}", value=value))
    return value


def positive_float(text: str | float) -> float:
    """argparse ``type=`` for a rate or a duration: a number > 0. Checked at the option, so the
    command line and the configuration file both name the option (or key) and the value."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("not a number: {value!r}", value=text)) from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(_("must be a number > 0, not {value}", value=text))
    return value


def at_least_one(text: str | float) -> float:
    """argparse ``type=`` for a burst: a number >= 1."""
    value = positive_float(text)
    if value < 1:
        raise argparse.ArgumentTypeError(_("must be at least 1, not {value}", value=text))
    return value


def count_argument(text: str) -> int:
    """argparse ``type=`` for a limit on connections or bytes: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("not an integer: {value!r}", value=text)) from None
    if value < 1:
        raise argparse.ArgumentTypeError(_("must be at least 1, not {value}", value=value))
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the echo server's options to ``parser`` (shared by ``python -m natprobe_server`` and ``natprobe serve``)."""
    # Not required=True: the address may come from --config instead (checked in config_from_args).
    parser.add_argument(
        "--primary",
        action=AppendAddress,
        type=_ip,
        metavar="IP",
        help=_("primary address to serve on (required); once per family (an IPv4 and an IPv6 address) to serve both"),
    )
    parser.add_argument(
        "--alternate",
        action=AppendAddress,
        type=_ip,
        metavar="IP",
        help=_("second address of the same family as a --primary: enables CHANGE-REQUEST change-IP and "
               "OTHER-ADDRESS (full RFC 5780); once per family"),
    )
    parser.add_argument(
        "--primary-public",
        type=_ip,
        metavar="IP",
        help=_("behind a 1:1 NAT (a cloud VPS): the public address mapped onto --primary, told to clients"),
    )
    parser.add_argument(
        "--alternate-public",
        type=_ip,
        metavar="IP",
        help=_("behind a 1:1 NAT: the public address mapped onto --alternate"),
    )
    parser.add_argument(
        "--port",
        type=port_argument,
        default=DEFAULT_PORT,
        metavar="N",
        help=_("STUN base port; N and N+1 are served (default {port}; 0 = pick free ports)", port=DEFAULT_PORT),
    )
    parser.add_argument("--echo-port", type=port_argument, metavar="M", help=_("UDP echo port on the primary (default N+2)"))
    parser.add_argument("--no-echo", action="store_true", help=_("do not run the UDP echo"))
    parser.add_argument("--no-tcp", action="store_true", help=_("do not serve STUN over TCP"))
    parser.add_argument(
        "--rate",
        type=positive_float,
        default=DEFAULT_RATE_PER_SOURCE,
        metavar="R",
        help=_("requests per second allowed per source IP (default %(default)s)"),
    )
    parser.add_argument(
        "--burst",
        type=at_least_one,
        default=DEFAULT_BURST_PER_SOURCE,
        metavar="B",
        help=_("burst allowed per source IP (default %(default)s)"),
    )
    parser.add_argument(
        "--max-tcp-connections",
        type=count_argument,
        default=DEFAULT_MAX_TCP_CONNECTIONS,
        metavar="C",
        help=_("concurrent TCP connections (default %(default)s)"),
    )
    parser.add_argument(
        "--max-tcp-per-source",
        type=count_argument,
        default=DEFAULT_MAX_TCP_PER_SOURCE,
        metavar="C",
        help=_("concurrent TCP connections from one IP (IPv6: one /64) (default %(default)s)"),
    )
    parser.add_argument(
        "--tcp-message-timeout",
        type=positive_float,
        default=DEFAULT_TCP_MESSAGE_TIMEOUT,
        metavar="S",
        help=_("seconds a STUN/TCP message may take to arrive whole (default %(default)s)"),
    )
    parser.add_argument(
        "--udp-poll-interval",
        type=float,
        default=0.001,
        metavar="S",
        help=_("under load, read the UDP sockets every S seconds rather than per datagram (default %(default)s; 0 = off)"),
    )
    parser.add_argument("--software", metavar="TEXT", help=_("send a SOFTWARE attribute (off by default)"))


def pair_by_family(
    primaries: Sequence[IPAddress], alternates: Sequence[IPAddress] = ()
) -> tuple[tuple[IPAddress, IPAddress | None], ...]:
    """``--primary``/``--alternate`` lists → one (primary, alternate) pair per family, in the
    order the primaries were given. At most one primary and one alternate per family, and an
    alternate needs a primary of its family (``ValueError`` otherwise)."""
    by_family: dict[int, IPAddress] = {}
    for ip in primaries:
        if ip.version in by_family:
            raise ValueError(_("--primary given twice for IPv{version} ({first} and {second}); give one IPv4 and "
                               "one IPv6 address at most", version=ip.version, first=by_family[ip.version], second=ip))
        by_family[ip.version] = ip
    alternate_by_family: dict[int, IPAddress] = {}
    for ip in alternates:
        if ip.version in alternate_by_family:
            raise ValueError(_("--alternate given twice for IPv{version}", version=ip.version))
        if ip.version not in by_family:
            raise ValueError(_("--alternate {address} is IPv{version} but no IPv{version} --primary was given", address=ip,
                               version=ip.version))
        alternate_by_family[ip.version] = ip
    if not by_family:
        raise ValueError(_("give at least one --primary address"))
    return tuple((ip, alternate_by_family.get(ip.version)) for ip in by_family.values())


def _as_list(value: object) -> list[IPAddress]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]  # type: ignore[list-item]


def configs_from_args(args: argparse.Namespace) -> tuple[EchoServerConfig, ...]:
    """One config per address family, from parsed :func:`add_arguments` options (or a
    ``--config`` file, whose ``primary``/``alternate`` may be a string or a list), IPv4 first
    (the Jamulus directory and the readiness line follow the first; ``ValueError`` if
    inconsistent). The families share every option but the addresses: the same ports are
    served on each. ``--primary-public``/``--alternate-public`` (a 1:1 NAT) apply to the
    family of their address."""
    args = unwrap(args)
    primaries = _as_list(args.primary)
    if not primaries:
        raise ValueError(_("the primary address is required: --primary IP (or 'primary' in the --config file)"))
    pairs = sorted(pair_by_family(primaries, _as_list(args.alternate)), key=lambda pair: pair[0].version)

    def public(ip: IPAddress | None, index: int) -> IPAddress | None:
        # A public address belongs to the family of its own version (the first if none matches,
        # so EchoServerConfig refuses the mismatch with its own message).
        if ip is None:
            return None
        match = next((i for i, (primary, _) in enumerate(pairs) if primary.version == ip.version), 0)
        return ip if match == index else None

    return tuple(
        _config(args, primary, alternate, public(args.primary_public, i), public(args.alternate_public, i))
        for i, (primary, alternate) in enumerate(pairs)
    )


def config_from_args(args: argparse.Namespace) -> EchoServerConfig:
    """The first family's config (see :func:`configs_from_args` for all of them)."""
    return configs_from_args(args)[0]


def _config(
    args: argparse.Namespace,
    primary: IPAddress,
    alternate: IPAddress | None,
    primary_public: IPAddress | None,
    alternate_public: IPAddress | None,
) -> EchoServerConfig:
    return EchoServerConfig(
        primary=primary,
        alternate=alternate,
        primary_public=primary_public,
        alternate_public=alternate_public,
        port=args.port,
        echo_port=args.echo_port,
        echo=not args.no_echo,
        tcp=not args.no_tcp,
        rate_per_source=args.rate,
        burst_per_source=args.burst,
        max_tcp_connections=args.max_tcp_connections,
        max_tcp_per_source=args.max_tcp_per_source,
        tcp_message_timeout=args.tcp_message_timeout,
        udp_poll_interval=args.udp_poll_interval,
        software=args.software,
    )
