"""The probe-back HTTP API's configuration and command-line options, without the app itself.

Kept apart from :mod:`natprobe_server.api.app` so that a server started without ``--http-port``
never imports aiohttp (a third of its memory).
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from natprobe_server.config.stun import at_least_one, count_argument, port_argument, positive_float
from natprobe_server.config.stun import AppendAddress
from natprobe.i18n import _
from natprobe.addressing import IPAddress
from natprobe.contract.terms import DEFAULT_MAX_BODY_BYTES, TOKEN_ENVIRONMENT, token_from_environment

__all__ = (
    "DEFAULT_BURST",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_MAX_IN_FLIGHT_PER_SOURCE",
    "DEFAULT_MAX_SOURCES",
    "DEFAULT_RATE_PER_S",
    "HttpApiConfig",
    "TOKEN_ENVIRONMENT",
    "UDP_NONCE_SPACING",
    "add_arguments",
    "config_from_args",
)

UDP_NONCE_SPACING = 0.15
"""Seconds between the datagrams of one UDP nonce probe (spread out to survive a burst of loss)."""

DEFAULT_RATE_PER_S = 1.0
DEFAULT_BURST = 10.0
DEFAULT_TARGET_RATE_PER_S = 0.2
DEFAULT_TARGET_BURST = 6.0
DEFAULT_MAX_SOURCES = 10_000
DEFAULT_MAX_IN_FLIGHT = 64
DEFAULT_MAX_IN_FLIGHT_PER_SOURCE = 4
DEFAULT_MAX_CONNECTIONS = 512
DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 16
DEFAULT_KEEPALIVE_TIMEOUT = 5.0
DEFAULT_REQUEST_TIMEOUT = 10.0

_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*", re.ASCII)
"""RFC 6750 section 2.1 ``b64token``: what may follow ``Bearer``."""


# --- configuration ------------------------------------------------------------------------------


DEFAULT_METRICS_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"),
)


@dataclass(frozen=True, slots=True)
class HttpApiConfig:
    """What the HTTP API needs before it starts.

    The defaults suit a public server: 10 probes in a burst, then 1 per second per source IP,
    10,000 source IPs remembered (least recently seen evicted), 64 probes in flight at once
    (4 per source), request bodies up to 4 KiB.
    """

    probe_source_ip: IPAddress
    """Address every probe-back leaves from (the echo server's public address). Requests
    arriving over the other IP version are refused with a clear message."""
    udp_probe_port: int = 0
    """Source port of UDP nonce probe-backs (for an operator who must name it in a firewall);
    0 = a fresh port the OS picks for each probe, so no NAT can carry a probe in on an earlier
    probe's conntrack entry after a forward is removed."""
    token: str | None = None
    """If set, ``POST /v1/probe`` requires ``Authorization: Bearer <token>``."""
    rate_per_s: float = DEFAULT_RATE_PER_S
    burst: float = DEFAULT_BURST
    max_sources: int = DEFAULT_MAX_SOURCES
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    max_in_flight_per_source: int = DEFAULT_MAX_IN_FLIGHT_PER_SOURCE
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    denied_ports: frozenset[int] = frozenset()
    """Ports the operator does not let anyone probe (403 ``port_not_allowed``)."""
    tls_ca_file: str | None = None
    """PEM bundle to verify HTTPS certificates against; ``None`` = the system trust store."""
    udp_nonce_spacing: float = UDP_NONCE_SPACING
    resolvers: tuple[str, ...] = ()
    """Name servers for ``POST /v1/dns``; empty = the system's (/etc/resolv.conf)."""
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    """HTTP connections at once (kept below the file descriptor limit at start); when
    full, the one idle the longest makes room."""
    max_connections_per_source: int = DEFAULT_MAX_CONNECTIONS_PER_SOURCE
    """HTTP connections at once from one source (IPv4 address or IPv6 /64)."""
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    """Seconds an idle keep-alive connection stays open."""
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    """Seconds a connection has to deliver a whole request (headers and body), from its
    start or from its previous answer (slowloris)."""
    exposure_interval: float | None = None
    """Seconds between two exposure scans of one address (or IPv6 /64); ``None``: the
    contract's ``MIN_SCAN_INTERVAL_S`` (180 s; not imported here, so a STUN-only server does
    not load the record library). A private server whose owner runs ``natprobe watch`` often
    may lower it."""
    probe_source_public_ip: IPAddress | None = None
    """Behind a 1:1 NAT: the public address ``probe_source_ip`` is mapped to, which is where
    clients see probe-backs come from, so ``whoami`` reports it."""
    metrics_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = DEFAULT_METRICS_NETWORKS
    """The only sources ``GET /metrics`` answers (the socket's peer); to anyone else it does not
    exist (404). Default: loopback, for a Prometheus on the same host or an SSH tunnel."""
    metrics_listen: tuple[IPAddress, int] | None = None
    """Also serve ``GET /metrics`` (and nothing else) on this address and port, to whoever
    reaches it: a private interface for a Prometheus elsewhere, as node_exporter does."""
    own_addresses: tuple[IPAddress, ...] = ()
    """The server's other own addresses (its STUN addresses and their public ones): a relay
    there may be probed without a DNS permission (:mod:`natprobe.contract.relay_rule`)."""
    target_rate_per_s: float = DEFAULT_TARGET_RATE_PER_S
    target_burst: float = DEFAULT_TARGET_BURST
    """Per-target limit of relay probes (an IPv4 address or IPv6 /64 probed for others), in
    addition to the per-source one: many sources cannot aim the server at one relay."""

    @property
    def server_addresses(self) -> tuple[IPAddress, ...]:
        """Every address of this server a relay probe may target without a DNS permission."""
        found = [self.probe_source_ip, *self.own_addresses]
        if self.probe_source_public_ip is not None:
            found.append(self.probe_source_public_ip)
        return tuple(dict.fromkeys(found))

    @property
    def advertised_source_ip(self) -> IPAddress:
        """The probe-backs' source as a client sees it."""
        return self.probe_source_public_ip or self.probe_source_ip

    def __post_init__(self) -> None:
        if self.probe_source_ip.is_unspecified or self.probe_source_ip.is_multicast:
            raise ValueError(_("the probe-backs' source address must be a specific unicast address, not 0.0.0.0, :: or "
                               "multicast"))
        if not 0 <= self.udp_probe_port <= 0xFFFF:
            raise ValueError(_("--udp-probe-port must be 0-65535, got {port}", port=self.udp_probe_port))
        if self.token is not None and not _TOKEN.fullmatch(self.token):
            raise ValueError(_("the token must be non-empty and use only A-Z a-z 0-9 . _ ~ + / - (and trailing =)"))
        if not (self.rate_per_s > 0 and math.isfinite(self.rate_per_s)) or not (
            self.burst >= 1 and math.isfinite(self.burst)
        ):
            raise ValueError(_("--probe-rate must be > 0 and --probe-burst at least 1"))
        if not (self.target_rate_per_s > 0 and math.isfinite(self.target_rate_per_s)) or not (
            self.target_burst >= 1 and math.isfinite(self.target_burst)
        ):
            raise ValueError(_("--relay-probe-rate must be > 0 and --relay-probe-burst at least 1"))
        if min(self.max_sources, self.max_in_flight, self.max_in_flight_per_source) < 1:
            raise ValueError(_("the limits on sources and on probes in flight must be at least 1"))
        if self.max_body_bytes < 256:
            raise ValueError(_("the request body limit must be at least 256 bytes (a probe request needs room)"))
        if any(not 1 <= port <= 0xFFFF for port in self.denied_ports):
            raise ValueError(_("the denied ports must be 1-65535"))
        if not 0 <= self.udp_nonce_spacing <= 1:
            raise ValueError(_("the spacing of a UDP probe's datagrams must be 0-1 s"))
        for resolver in self.resolvers:
            try:
                ipaddress.ip_address(resolver)
            except ValueError:
                raise ValueError(_("--resolver {value!r} is not an IP address", value=resolver)) from None
        if min(self.max_connections, self.max_connections_per_source) < 1:
            raise ValueError(_("--http-max-connections and --http-max-connections-per-source must be at least 1"))
        if not (0 < self.keepalive_timeout <= 3600 and 0 < self.request_timeout <= 3600):
            raise ValueError(_("--http-keepalive-timeout and --http-request-timeout must be within 0-3600 s"))
        if self.exposure_interval is not None and not 0 <= self.exposure_interval <= 86400:
            raise ValueError(_("--exposure-interval must be within 0-86400 s"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The HTTP API's options (``--http-port`` and friends) for ``natprobe serve``."""
    parser.add_argument("--http-port", type=port_argument, metavar="P", help=_("serve the probe-back HTTP API on this TCP port"))
    parser.add_argument(
        "--http-token-file",
        type=Path,
        metavar="FILE",
        help=_("require 'Authorization: Bearer <token>' for probes; the token is the file's first line "
               "(or ${variable})", variable=TOKEN_ENVIRONMENT),
    )
    parser.add_argument(
        "--udp-probe-port",
        type=port_argument,
        default=0,
        metavar="P",
        help=_("fixed source port of UDP probe-backs, to name in a firewall (default: a fresh port per probe)"),
    )
    parser.add_argument(
        "--probe-rate",
        type=positive_float,
        default=DEFAULT_RATE_PER_S,
        metavar="R",
        help=_("probes per second per source IP (default %(default)s)"),
    )
    parser.add_argument(
        "--probe-burst",
        type=at_least_one,
        default=DEFAULT_BURST,
        metavar="B",
        help=_("probes allowed in a burst per source IP (default %(default)s)"),
    )
    parser.add_argument(
        "--metrics-allow", action=AppendAddress, type=_network, metavar="CIDR",
        help=_("a network GET /metrics answers (repeatable; default: loopback only, 127.0.0.0/8 and ::1)"),
    )
    parser.add_argument(
        "--metrics-listen", type=_listen_address, metavar="IP:PORT",
        help=_("also serve GET /metrics, and nothing else, on this address to anyone who reaches it "
               "(e.g. a private interface, as node_exporter does)"),
    )
    parser.add_argument(
        "--relay-probe-rate",
        type=positive_float,
        default=DEFAULT_TARGET_RATE_PER_S,
        metavar="R",
        help=_("relay probes per second per target address, whoever asks (default %(default)s)"),
    )
    parser.add_argument(
        "--relay-probe-burst",
        type=at_least_one,
        default=DEFAULT_TARGET_BURST,
        metavar="B",
        help=_("relay probes allowed in a burst per target address (default %(default)s)"),
    )
    parser.add_argument(
        "--exposure-interval",
        type=float,
        default=None,
        metavar="S",
        help=_("seconds between two exposure scans of one address or IPv6 /64 (default 180)"),
    )
    _add_limit_arguments(parser)
    add_resolver_argument(parser)


def _add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--http-max-connections",
        type=count_argument,
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="C",
        help=_("HTTP connections at once (default %(default)s; kept below the file descriptor limit)"),
    )
    parser.add_argument(
        "--http-max-connections-per-source",
        type=count_argument,
        default=DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
        metavar="C",
        help=_("HTTP connections at once from one IP (IPv6: one /64) (default %(default)s)"),
    )
    parser.add_argument(
        "--http-keepalive-timeout",
        type=positive_float,
        default=DEFAULT_KEEPALIVE_TIMEOUT,
        metavar="S",
        help=_("seconds an idle keep-alive HTTP connection stays open (default %(default)s)"),
    )
    parser.add_argument(
        "--http-request-timeout",
        type=positive_float,
        default=DEFAULT_REQUEST_TIMEOUT,
        metavar="S",
        help=_("seconds a connection has to send a whole request (default %(default)s)"),
    )


def add_resolver_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--resolver", action=AppendAddress, type=_resolver_ip, metavar="IP",
        help=_("name server that POST /v1/dns asks (repeatable; default: the system's resolv.conf)"),
    )


def _listen_address(text: str) -> tuple[IPAddress, int]:
    host, _colon, port = text.rpartition(":")
    try:
        address = ipaddress.ip_address(host.strip("[]"))
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(_("expected IP:PORT (IPv6 as [IP]:PORT), got {value!r}", value=text)) from None
    if not 1 <= number <= 0xFFFF:
        raise argparse.ArgumentTypeError(_("port out of range in {value!r}", value=text))
    return address, number


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(_("not a network (CIDR) or address: {value!r}", value=text)) from None


def _resolver_ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(_("not an IP address: {value!r}", value=text)) from None


def _read_token(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ValueError(_("cannot read the token file {path}: {error}", path=path, error=reason)) from exc
    return lines[0].strip() if lines else ""


def resolve_token(token_file: Path | None, environ: Mapping[str, str]) -> str | None:
    """The probe token: ``--http-token-file``, else ``$NATPROBE_TOKEN``, else the systemd
    credential ``token`` (``LoadCredential=``, read from ``$CREDENTIALS_DIRECTORY``), else none.

    There is deliberately no ``--token`` option: a command line shows in ``ps`` to every user.
    """
    if token_file is not None:
        return _read_token(Path(token_file))
    from_environment = token_from_environment(environ)
    if from_environment is not None:
        return from_environment
    credentials = environ.get("CREDENTIALS_DIRECTORY")
    if credentials and (Path(credentials) / "token").is_file():
        return _read_token(Path(credentials) / "token")
    return None


def config_from_args(
    args: argparse.Namespace,
    probe_source_ip: IPAddress,
    probe_source_public_ip: IPAddress | None = None,
    environ: Mapping[str, str] | None = None,
) -> HttpApiConfig:
    """Build the config from :func:`add_arguments` options (``ValueError`` if inconsistent)."""
    token = resolve_token(args.http_token_file, os.environ if environ is None else environ)
    return HttpApiConfig(
        probe_source_ip=probe_source_ip,
        probe_source_public_ip=probe_source_public_ip,
        udp_probe_port=args.udp_probe_port,
        token=token,
        rate_per_s=args.probe_rate,
        burst=args.probe_burst,
        target_rate_per_s=args.relay_probe_rate,
        target_burst=args.relay_probe_burst,
        resolvers=tuple(str(r) for r in (getattr(args, "resolver", None) or ())),
        max_connections=args.http_max_connections,
        max_connections_per_source=args.http_max_connections_per_source,
        keepalive_timeout=args.http_keepalive_timeout,
        request_timeout=args.http_request_timeout,
        metrics_networks=tuple(getattr(args, "metrics_allow", None) or DEFAULT_METRICS_NETWORKS),
        metrics_listen=getattr(args, "metrics_listen", None),
        exposure_interval=args.exposure_interval,
    )
