"""The echo server, token and address families a client command uses, with one way to report a
broken file."""

from __future__ import annotations

import sys

from natprobe_cli.exit_codes import ExitCode
from natprobe_cli.user_config import Setting, UserConfigError, resolve_client
from natprobe.addressing import IpFamily
from natprobe.i18n import _


def client_settings(prog: str, server: str | None, token: str | None) -> tuple[Setting | None, str | None] | ExitCode:
    """(the server, the token), the command line winning over a broken configuration file (a
    warning then); the usage exit code after one line when a setting cannot be used."""
    try:
        settings = resolve_client(server, token)
    except UserConfigError as exc:
        print(_("{prog}: {error}", prog=prog, error=exc), file=sys.stderr)
        return ExitCode.USAGE
    for warning in settings.warnings:
        print(_("{prog}: warning: {warning}", prog=prog, warning=warning), file=sys.stderr)
    return settings.server, settings.token


def required_server(prog: str, server: str | None, token: str | None) -> tuple[str, str | None] | ExitCode:
    """(the server's URL, the token) for a command that cannot run without an echo server: as
    :func:`client_settings`, and when none is known, why one is needed and "could not test"."""
    resolved = client_settings(prog, server, token)
    if isinstance(resolved, ExitCode):
        return resolved
    setting, token = resolved
    if setting is None:
        from natprobe_cli.no_server import no_server_message

        print(no_server_message(prog), file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    return setting.value, token


def chosen_families(ipv4_only: bool, ipv6_only: bool) -> tuple[IpFamily, ...]:
    """The families ``--ipv4``/``--ipv6`` (mutually exclusive) ask for; neither: both."""
    return (IpFamily.IPV4,) if ipv4_only else (IpFamily.IPV6,) if ipv6_only else (IpFamily.IPV4, IpFamily.IPV6)
