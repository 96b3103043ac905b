"""Entry point of the ``natprobe`` command: ``main(argv) -> int``."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from natprobe_cli.argparse_words import install as install_argparse_words
from natprobe_cli.exit_codes import ExitCode
from natprobe.version import __version__
from natprobe.i18n import LANGUAGES, _, language_from_environment, use_language

# Subcommand modules, in the order ``natprobe --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "check", "dns", "nat", "router", "explain", "serve", "config", "jamulus", "exposure", "watch", "history", "demo",
    "schema", "doctor",
)


def command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first word that is not an option), if any."""
    word = next((arg for arg in argv if not arg.startswith("-")), None)
    return word if word in COMMAND_MODULES else None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command tree; with ``command``, only that subcommand (its modules load, no
    other command's do: ``natprobe check`` starts without the echo server or the STUN codec)."""
    parser = argparse.ArgumentParser(
        prog="natprobe",
        description=_(
            "Can the Internet reach my service? NAT behaviour discovery (STUN, RFC 5780), "
            "port-forward verification from outside, and a self-hosted echo server."
        ),
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help=_("more logging (-vv for debug)"))
    parser.add_argument("--version", action="version", version=f"natprobe {__version__}",
                        help=_("show program's version number and exit"))
    parser.add_argument("--lang", choices=LANGUAGES, help=_("language of the text output (default: from LANG/LC_MESSAGES)"))
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES if command is None else (command,):
        importlib.import_module(f"natprobe_cli.commands.{name}").register(subparsers)
    return parser


def _choose_language(argv: Sequence[str]) -> str | None:
    """The language to speak: ``--lang`` (anywhere on the line), else the locale; English for
    ``--json`` (JSON values never change with the language). None: ``--lang`` is invalid."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--lang")
    early.add_argument("--json", action="store_true")
    known, _rest = early.parse_known_args(argv)
    if known.lang is not None and known.lang not in LANGUAGES:
        return None
    if known.json:
        return "en"
    return str(known.lang) if known.lang is not None else language_from_environment(os.environ)


def _verbose_first(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``-v``/``-vv``/``--verbose`` moved before the command, so they work after it
    too (``natprobe check --udp 22124 -v``), as ``--lang`` does; nothing after ``--`` moves."""
    moved: list[str] = []
    rest: list[str] = []
    for index, arg in enumerate(argv):
        if arg == "--":
            rest += argv[index:]
            break
        if arg == "--verbose" or (len(arg) > 1 and arg[0] == "-" and set(arg[1:]) == {"v"}):
            moved.append(arg)
        else:
            rest.append(arg)
    return moved + rest


def _without_lang(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--lang X``, so it may come after the command too (``natprobe check --lang fr``)."""
    out: list[str] = []
    skip = False
    for index, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg == "--":
            return out + list(argv[index:])
        elif arg == "--lang":
            skip = True
        elif not arg.startswith("--lang="):
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``natprobe`` with ``argv`` (without the program name); return the exit status."""
    from natprobe_cli.terminal import plain_letters_where_needed

    plain_letters_where_needed(sys.stdout, sys.stderr)
    arguments = list(sys.argv[1:] if argv is None else argv)
    language = _choose_language(arguments)
    if language is None:
        print(f"natprobe: --lang must be one of: {', '.join(LANGUAGES)}", file=sys.stderr)
        return int(ExitCode.USAGE)
    try:
        use_language(language)
    except OSError:
        use_language("en")
        print(f"natprobe: no compiled {language} catalog in this installation (build it with Babel); "
              "speaking English", file=sys.stderr)
    install_argparse_words()
    arguments = _without_lang(arguments)
    command = command_in(arguments)
    if command is None and arguments and arguments[0] == "--version":
        print(f"natprobe {__version__}")  # what argparse would print, without building every command
        return int(ExitCode.OK)
    parser = build_parser(command)
    try:
        args = parser.parse_args(_verbose_first(arguments))
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return int(exc.code) if isinstance(exc.code, int) else int(ExitCode.USAGE)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return int(ExitCode.USAGE)
    if os.environ.get("NATPROBE_FACILITIES_OFF", "").strip():
        # Loaded only when set (startup): a typo must not run with the facility on unnoticed.
        from natprobe.adapters.capabilities import facilities_off_from_environment

        try:
            facilities_off_from_environment()
        except ValueError as exc:
            print(_("natprobe: {error}", error=exc), file=sys.stderr)
            return int(ExitCode.USAGE)
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        print(_("interrupted"), file=sys.stderr)
        return int(ExitCode.INTERRUPTED)


def run() -> None:
    """Console-script entry point."""
    try:
        status = main(sys.argv[1:])
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (``natprobe nat | head``): not an error of ours. Point stdout at
        # /dev/null so the interpreter's final flush does not fail a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = 128 + 13  # what a shell reports for SIGPIPE
    sys.exit(status)
