"""``natprobe doctor``: what this machine can measure, and why not where it cannot."""

from __future__ import annotations

import argparse
import json
import sys

from natprobe_cli.exit_codes import ExitCode
from natprobe.i18n import _

__all__ = ("register",)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "doctor",
        help=_("list what this machine can measure (hop trace, arrival watch, ...) and why not"),
        description=_("Probe once which platform facilities natprobe can use here (nothing is sent), and for "
                      "each missing one say which conclusions it limits and the command that would allow it."),
    )
    parser.add_argument("--json", action="store_true", help=_("print the report as JSON (natprobe/doctor)"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from natprobe.adapters.capabilities import probe_capabilities
    from natprobe.findings.facility_words import word_limits
    from natprobe.reports.doctor_report import DoctorReport

    capabilities = probe_capabilities()
    report = DoctorReport(capabilities, sys.executable, word_limits(capabilities.missing))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return ExitCode.OK
    caps = report.capabilities
    print(_("natprobe doctor: platform {platform}, {who}", platform=caps.platform,
            who=_("privileged") if caps.privileged else _("unprivileged user")))
    for entry in caps.entries:
        if entry.available:
            print(_("  [yes] {facility}: {method}", facility=entry.facility.value, method=entry.method))
        else:
            print(_("  [no]  {facility}: {text}", facility=entry.facility.value,
                    text=report.to_dict()["facilities"][caps.entries.index(entry)]["text"]))
    return ExitCode.OK
