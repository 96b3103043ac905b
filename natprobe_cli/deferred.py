"""Options that load with their command: ``natprobe check`` never imports the echo server.

``build_parser`` registers every subcommand (``natprobe --help`` lists them all), but some
commands take their options from a heavy module (``natprobe serve`` from the echo server).
:func:`defer_arguments` adds those options the first time that subcommand's parser parses,
which argparse does only for the subcommand on the command line (``--help`` included).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

__all__ = ("add_deferred_arguments", "defer_arguments")

_PENDING = "_natprobe_deferred_arguments"
"""The parser attribute that holds the options still to add."""


def defer_arguments(parser: argparse.ArgumentParser, add: Callable[[argparse.ArgumentParser], None]) -> None:
    """Call ``add(parser)`` just before ``parser`` first parses, not now."""
    parse_known_args = parser.parse_known_args

    def parse_with_arguments(args: Sequence[str] | None = None,
                             namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        add_deferred_arguments(parser)
        return parse_known_args(args, namespace)

    setattr(parser, _PENDING, (add, parse_known_args))
    parser.parse_known_args = parse_with_arguments  # type: ignore[method-assign,assignment]


def add_deferred_arguments(parser: argparse.ArgumentParser) -> None:
    """Add now the options :func:`defer_arguments` would add at the first parse (once)."""
    pending = getattr(parser, _PENDING, None)
    if pending is None:
        return
    add, parse_known_args = pending
    delattr(parser, _PENDING)
    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]
    add(parser)
