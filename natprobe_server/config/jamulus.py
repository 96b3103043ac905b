"""The Jamulus directory emulation's settings: one frozen record and its command-line options.

``--jamulus-port`` / ``--no-jamulus`` / ``--jamulus-verify-grace`` /
``--jamulus-max-table-bytes``, shared by ``python -m natprobe_server`` and ``natprobe serve``;
the directory itself is :mod:`natprobe_server.jamulus.directory`.
"""

from __future__ import annotations

import argparse
import ipaddress
from dataclasses import dataclass

from natprobe.i18n import _
from natprobe.jamulus import JAMULUS_KEEPALIVE_S
from natprobe.jamulus.messages import DIRECTORY_PORT
from natprobe.jamulus.directory_table import TableLimits

from natprobe_server.config.stun import count_argument, port_argument, positive_float

__all__ = (
    "DEFAULT_DIRECTORY_PORT",
    "DEFAULT_MAX_TABLE_BYTES",
    "DEFAULT_VERIFY_GRACE_S",
    "JamulusDirectoryConfig",
    "add_arguments",
    "config_from_args",
)

DEFAULT_DIRECTORY_PORT = DIRECTORY_PORT
"""Jamulus' second any-genre directory port (natprobe.jamulus.messages); any port works."""
DEFAULT_VERIFY_GRACE_S = 10.0
DEFAULT_MAX_TABLE_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class JamulusDirectoryConfig:
    """Where the directory listens and how much it keeps."""

    ip: ipaddress.IPv4Address
    port: int = DEFAULT_DIRECTORY_PORT
    """0 = a port the OS picks (tests)."""
    max_registrations: int = 1024
    max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES
    """The table's entries, counted as a fixed overhead plus name and city each."""
    max_per_ip: int = 8
    """Registrations per source IPv4 address (or IPv6 /64)."""
    registration_ttl_s: float = 1200.0
    """Entries are forgotten this long after their last registration. A Jamulus server
    re-registers every 15 min, so 20 min keeps a real one listed without a gap."""
    keepalive_s: float = JAMULUS_KEEPALIVE_S
    min_keepalive_s: float = 5.0
    verify_grace_s: float = DEFAULT_VERIFY_GRACE_S
    """A registration whose source has not echoed a verification ping by then is dropped
    (a spoofed one never can)."""
    rate_per_source: float = 2.0
    """Datagrams per second per source IP (Jamulus registers at most twice a second)."""
    burst_per_source: float = 10.0
    rate_table_size: int = 10_000
    public_ips: tuple[tuple[ipaddress.IPv4Address, ipaddress.IPv4Address], ...] = ()
    """Behind a 1:1 NAT: (private, public) pairs of the server's addresses. A hole punch names
    the peer by its public address, the only one a Jamulus server out there can send to."""

    def public(self, ip: ipaddress.IPv4Address) -> ipaddress.IPv4Address:
        """The address the outside knows this server's ``ip`` by."""
        return dict(self.public_ips).get(ip, ip)

    def __post_init__(self) -> None:
        if not isinstance(self.ip, ipaddress.IPv4Address):
            raise ValueError(_("the Jamulus directory is IPv4 only (CLM_SEND_EMPTY_MESSAGE carries an IPv4 address)"))
        if self.ip.is_unspecified or self.ip.is_multicast:
            raise ValueError(_("the Jamulus directory needs a specific unicast address"))
        if not 0 <= self.port <= 0xFFFF:
            raise ValueError(_("--jamulus-port out of range: {port}", port=self.port))
        if self.rate_table_size < 1 or self.rate_per_source <= 0 or self.burst_per_source < 1:
            raise ValueError(_("the Jamulus directory's rate limits must be positive (table size and burst at least 1)"))
        self.table_limits  # validates the table's share of the settings

    @property
    def table_limits(self) -> TableLimits:
        return TableLimits(
            max_registrations=self.max_registrations,
            max_bytes=self.max_table_bytes,
            max_per_source=self.max_per_ip,
            registration_ttl_s=self.registration_ttl_s,
            keepalive_s=self.keepalive_s,
            min_keepalive_s=self.min_keepalive_s,
            verify_grace_s=self.verify_grace_s,
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--jamulus-port`` / ``--no-jamulus`` (shared by ``python -m natprobe_server`` and ``natprobe serve``)."""
    parser.add_argument(
        "--jamulus-port",
        type=port_argument,
        metavar="P",
        help=_(
            "play a Jamulus directory on UDP P of the primary address, for 'natprobe explain jamulus' "
            "(default: {port} when --http-port is given, else off; 0 = any free port)", port=DEFAULT_DIRECTORY_PORT
        ),
    )
    parser.add_argument("--no-jamulus", action="store_true", help=_("do not play a Jamulus directory"))
    parser.add_argument(
        "--jamulus-verify-grace",
        type=positive_float,
        default=DEFAULT_VERIFY_GRACE_S,
        metavar="S",
        help=_("drop a registration whose address does not echo the directory's ping within S seconds "
               "(default %(default)s)"),
    )
    parser.add_argument(
        "--jamulus-max-table-bytes",
        type=count_argument,
        default=DEFAULT_MAX_TABLE_BYTES,
        metavar="N",
        help=_("memory the registration table may use, in bytes (default %(default)s)"),
    )


def config_from_args(
    args: argparse.Namespace,
    primary: ipaddress.IPv4Address | ipaddress.IPv6Address,
    public_ips: tuple[tuple[ipaddress.IPv4Address, ipaddress.IPv4Address], ...] = (),
) -> tuple[JamulusDirectoryConfig | None, bool]:
    """The directory config (``None``: off) and whether it was asked for explicitly.

    Implicit (``--http-port`` without ``--jamulus-port``): a busy port or an IPv6 primary only
    turns the directory off, with a warning. Explicit: those are errors.
    """
    explicit = args.jamulus_port is not None
    if args.no_jamulus:
        if explicit:
            raise ValueError(_("--jamulus-port and --no-jamulus contradict each other"))
        return None, False
    if not explicit and getattr(args, "http_port", None) is None:
        return None, False
    if not isinstance(primary, ipaddress.IPv4Address):
        if explicit:
            raise ValueError(_("the Jamulus directory needs an IPv4 --primary address (Jamulus directories are IPv4 only)"))
        return None, False
    port = args.jamulus_port if explicit else DEFAULT_DIRECTORY_PORT
    return JamulusDirectoryConfig(
        ip=primary,
        port=port,
        verify_grace_s=float(getattr(args, "jamulus_verify_grace", DEFAULT_VERIFY_GRACE_S)),
        max_table_bytes=int(getattr(args, "jamulus_max_table_bytes", DEFAULT_MAX_TABLE_BYTES)),
        public_ips=public_ips,
    ), explicit
