"""Every option of the echo server, one place: argparse, the ``--config`` TOML file, and the
settings they make.

``python -m natprobe_server`` and ``natprobe serve`` both call :func:`add_arguments`, so they
accept exactly the same options; :func:`resolve_args` merges the ``--config`` file (the command
line wins); :func:`settings_from_args` turns the options into the frozen records the server
runs with (:class:`ServeSettings`).
"""

from __future__ import annotations

import argparse
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from natprobe.addressing import IPAddress
from natprobe.i18n import _

from natprobe_server.config.file import apply_file, load_config_file, mark_defaults
from natprobe_server.config.http import HttpApiConfig
from natprobe_server.config.http import add_arguments as add_http_arguments
from natprobe_server.config.http import config_from_args as http_config_from_args
from natprobe_server.config.jamulus import JamulusDirectoryConfig
from natprobe_server.config.jamulus import add_arguments as add_jamulus_arguments
from natprobe_server.config.jamulus import config_from_args as jamulus_config_from_args
from natprobe_server.config.stun import EchoServerConfig, configs_from_args
from natprobe_server.config.stun import add_arguments as add_stun_arguments
from natprobe_server.config.systemd_unit import DEFAULT_CONFIG_PATH
from natprobe_server.config.web import WebPage, web_page_from_args
from natprobe_server.config.web import add_arguments as add_web_arguments

__all__ = ("ServeSettings", "add_arguments", "public_addresses", "public_pairs", "resolve_args", "settings_from_args")


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """What a running server is made of, read from the options."""

    config: EchoServerConfig
    """The first family's STUN/echo server (the HTTP API and the Jamulus directory use its addresses)."""
    other_families: tuple[EchoServerConfig, ...]
    http: HttpApiConfig
    http_port: int | None
    jamulus: JamulusDirectoryConfig | None
    jamulus_required: bool
    """The directory was asked for explicitly: failing to bind it is an error, not a warning."""
    web_page: WebPage | None = None
    """The web checker at ``/`` (None: ``--no-web``)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every option of the echo server: STUN/echo (``natprobe_server.config.stun``), the HTTP API, the
    Jamulus directory emulation, ``--config`` and ``--systemd-unit``."""
    add_stun_arguments(parser)
    add_http_arguments(parser)
    add_jamulus_arguments(parser)
    add_web_arguments(parser)
    parser.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help=_("logging level (INFO logs one line per probe-back)"),
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=_("read options from this TOML file (keys: the long options with _ for -); the command line wins"),
    )
    parser.add_argument(
        "--systemd-unit",
        action="store_true",
        help=_("print a hardened systemd unit that runs this server with --config (default {path}) and exit",
               path=DEFAULT_CONFIG_PATH),
    )
    mark_defaults(parser)


def resolve_args(args: argparse.Namespace, prog: str) -> argparse.Namespace:
    """The options with the ``--config`` file merged in (command line first); ``ValueError`` on a bad file."""
    values: dict[str, object] = {}
    config_path = getattr(args, "config", None)
    if config_path is not None:
        parser = argparse.ArgumentParser(prog=prog)
        add_arguments(parser)
        values = load_config_file(config_path, parser)
    return apply_file(args, values)


def settings_from_args(args: argparse.Namespace) -> ServeSettings:
    """The settings of resolved options (:func:`resolve_args`); ``ValueError`` when they contradict."""
    config, *other_families = configs_from_args(args)
    probe_ip = config.alternate or config.primary
    public = config.public_of(probe_ip)
    http = http_config_from_args(args, probe_ip, public if public != probe_ip else None)
    jamulus, jamulus_required = jamulus_config_from_args(args, config.primary, public_pairs(config))
    web_page = web_page_from_args(args, [public_addresses(c) for c in (config, *other_families)], config.port)
    return ServeSettings(config, tuple(other_families), http, args.http_port, jamulus, jamulus_required, web_page)


def public_addresses(config: EchoServerConfig) -> tuple[IPAddress, IPAddress | None]:
    """The primary and alternate addresses clients reach (behind a 1:1 NAT: the public ones)."""
    alternate = None if config.alternate is None else config.public_of(config.alternate)
    return config.public_of(config.primary), alternate


def public_pairs(config: EchoServerConfig) -> tuple[tuple[ipaddress.IPv4Address, ipaddress.IPv4Address], ...]:
    """(private, public) pairs of the IPv4 addresses that sit behind a 1:1 NAT."""
    pairs = []
    for ip in (config.primary, config.alternate):
        public = None if ip is None else config.public_of(ip)
        if isinstance(ip, ipaddress.IPv4Address) and isinstance(public, ipaddress.IPv4Address) and public != ip:
            pairs.append((ip, public))
    return tuple(pairs)
