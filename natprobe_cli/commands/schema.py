"""``natprobe schema [NAME]``: the JSON Schema (2020-12) of each ``--json`` report."""

from __future__ import annotations

import argparse
import json
import sys

from natprobe_cli.exit_codes import ExitCode
from natprobe.i18n import _

__all__ = ("register",)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "schema",
        help="list the JSON reports' schemas, or print one (JSON Schema 2020-12)",
        description=(
            "Every --json output carries \"schema\" (natprobe/NAME) and \"schema_version\". Without NAME, "
            "list the schemas (name, id, version, title); with NAME, print that JSON Schema."
        ),
        epilog="example: natprobe schema check > check.schema.json",
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="a schema name (e.g. nat, check) or id (natprobe/nat)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from natprobe.reports.catalog import SCHEMAS

    if args.name is None:
        width = max(len(name) for name in SCHEMAS)
        id_width = max(len(listed.schema_id) for listed in SCHEMAS.values())
        for listed in SCHEMAS.values():
            print(f"{listed.name:<{width}}  {listed.schema_id:<{id_width}}  v{listed.version}  {listed.title}")
        return ExitCode.OK
    entry = SCHEMAS.get(args.name.removeprefix("natprobe/"))
    if entry is None:
        print(_("natprobe schema: unknown schema {name!r}; known: {known}", name=args.name, known=", ".join(SCHEMAS)),
              file=sys.stderr)
        return ExitCode.USAGE
    print(json.dumps(entry.schema, indent=2))
    return ExitCode.OK
