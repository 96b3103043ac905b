"""``natprobe config``: show and set the user's settings (echo server, token, STUN servers).

``natprobe config set server http://vps.example.org:8080`` writes
``$XDG_CONFIG_HOME/natprobe/config.toml``; from then on ``natprobe check --udp 22124`` and
``natprobe explain jamulus`` work as typed. ``$NATPROBE_SERVER`` / ``$NATPROBE_TOKEN`` and the
command line's ``--server`` / ``--token`` still win over the file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from natprobe_cli.exit_codes import ExitCode
from natprobe_cli.terminal import help_text
from natprobe.i18n import _

__all__ = ("register",)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "config",
        help=_("show or set the echo server, token and STUN servers natprobe uses by default"),
        description=help_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser("show", help=_("print the settings in effect and where each comes from"))
    show.set_defaults(handler=run_show)
    setter = actions.add_parser(
        "set",
        help=_("set one key: server URL, token TOKEN (- reads it from stdin), stun_servers HOST[:PORT][,...]"),
    )
    setter.add_argument("key", choices=("server", "token", "stun_servers"))
    setter.add_argument("value", help=_("the value; for the token, - reads it from stdin (a command line shows in ps)"))
    setter.set_defaults(handler=run_set)
    unset = actions.add_parser("unset", help=_("remove one key from the file"))
    unset.add_argument("key", choices=("server", "token", "stun_servers"))
    unset.set_defaults(handler=run_unset)
    parser.set_defaults(handler=run_show)


def run_set(args: argparse.Namespace) -> int:
    from natprobe_cli.user_config import UserConfigError, check_server_url
    from natprobe.addressing import HostPortError, split_host_port
    from natprobe_cli.host_port import host_port_message

    value: str | list[str] = args.value.strip()
    if args.key == "token" and args.value == "-":
        value = sys.stdin.readline().strip()
    try:
        if args.key == "server":
            value = check_server_url(args.value, "server")
        elif args.key == "stun_servers":
            value = [name.strip() for name in args.value.split(",") if name.strip()]
            if not value:
                raise UserConfigError(_("stun_servers: name at least one HOST[:PORT]"))
            for name in value:
                try:
                    split_host_port(name, 3478)
                except HostPortError as exc:
                    raise UserConfigError(_("stun_servers: {error}", error=host_port_message(exc))) from None
        elif not value:
            raise UserConfigError(_("token: the token cannot be empty"))
    except UserConfigError as exc:
        print(_("natprobe config: {error}", error=exc), file=sys.stderr)
        return ExitCode.USAGE
    return _save(args.key, value, lambda path: _("{key} set in {path}", key=args.key, path=path))


def run_unset(args: argparse.Namespace) -> int:
    from natprobe_cli.user_config import UserConfigError, config_path, load_user_config

    path = config_path()
    try:
        if getattr(load_user_config(path), args.key) is None:
            print(_("{key} is not set in {path}: nothing to remove", key=args.key, path=path))
            return ExitCode.OK
    except UserConfigError:
        pass  # a broken file: unset repairs it (_save keeps the old one aside)
    return _save(args.key, None, lambda path: _("{key} removed from {path}", key=args.key, path=path))


def _save(key: str, value: str | list[str] | None, done: Callable[[Path], str]) -> int:
    """Write one key (None removes it) and print ``done(path)``; a refused value is a usage
    error, an unwritable file exit 3 (could not do it). A broken file is replaced, and kept
    aside whole, so that ``config set`` and ``unset`` repair what blocked them."""
    from natprobe_cli.user_config import UserConfigError, broken_copy, config_path, load_user_config, save_setting

    try:
        load_user_config()
        broken: UserConfigError | None = None
    except UserConfigError as exc:
        broken = exc
    try:
        path = save_setting(key, value)
    except UserConfigError as exc:
        print(_("natprobe config: {error}", error=exc), file=sys.stderr)
        return ExitCode.USAGE
    except OSError as exc:
        print(_("natprobe config: cannot write the configuration file: {error}", error=exc.strerror or exc),
              file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    if broken is not None:
        print(_("natprobe config: the file was not usable ({error}); it is kept as {copy} and replaced",
                error=broken, copy=broken_copy(config_path())), file=sys.stderr)
    print(done(path))
    return ExitCode.OK


def run_show(args: argparse.Namespace) -> int:
    from natprobe_cli.user_config import (
        ENV_TOKEN,
        UserConfigError,
        config_path,
        load_user_config,
        resolve_server,
        resolve_stun_servers,
        resolve_token,
    )
    from natprobe.measure.stun_servers import PUBLIC_STUN_SERVERS

    path = config_path()
    try:
        config = load_user_config(path)
        server = resolve_server(None, config=config)
        token = resolve_token(None, config=config)
        stun, stun_origin = resolve_stun_servers(PUBLIC_STUN_SERVERS, config=config)
    except UserConfigError as exc:
        print(_("natprobe config: {error}", error=exc), file=sys.stderr)
        return ExitCode.USAGE
    print("config file   " + (str(path) if path.exists() else _("{path} (does not exist yet)", path=path)))
    print("server        " + (_("{value}  (from {origin})", value=server.value, origin=server.origin) if server else _("none")))
    if token is None:
        token_text = _("none")
    else:
        # Never print the token itself: a terminal is often shared or recorded.
        token_origin = f"${ENV_TOKEN}" if config.token != token else str(path)
        token_text = _("set ({length} characters, from {origin})", length=len(token), origin=token_origin)
    print(f"token         {token_text}")
    print("stun_servers  " + _("{value}  (from {origin})", value=", ".join(stun), origin=stun_origin))
    return ExitCode.OK
