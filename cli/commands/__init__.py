"""One module per ``natprobe`` subcommand; each exposes ``register(subparsers)``.

A command's ``register`` adds its parser and sets ``handler`` (a callable taking the parsed
``argparse.Namespace`` and returning an ``ExitCode``) with ``parser.set_defaults``.
"""

from __future__ import annotations

import argparse
from typing import Protocol


class CommandModule(Protocol):
    def register(self, subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None: ...
