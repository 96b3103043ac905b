"""The echo server and token a client command uses, with one way to report a broken file."""

from __future__ import annotations

import sys

from natprobe_cli.exit_codes import ExitCode
from natprobe_cli.user_config import Setting, UserConfigError, resolve_client
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
