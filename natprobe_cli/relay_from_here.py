"""``natprobe check --host NAME`` without an echo server: the relay check from this host.

The token leaves through the home NAT to NAME's public address (the relay) and must come back
in through the relay and the tunnel to natprobe's listener here: a genuine outside-in test of
the relay, labelled as such (``via: this-host``). It cannot prove a port forward on the home
router (for that, the probe must start outside), and it sends only to NAME's own addresses,
which the user named.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence

from natprobe_cli.exit_codes import ExitCode
from natprobe_cli.render_check import render_relay_section
from natprobe_cli.terminal import style_for
from natprobe.addressing import IpFamily, classify, is_globally_routable
from natprobe.i18n import _
from natprobe.verdicts.port_spec import PortSpec

__all__ = ("relay_from_here",)


def relay_from_here(args: argparse.Namespace, specs: Sequence[PortSpec]) -> int:
    from natprobe.adapters.dns_resolver import lookup_family
    from natprobe.measure.relay_check import RelayCheckOptions, check_relay

    lookup = asyncio.run(lookup_family(args.host, IpFamily.IPV4))
    relays = tuple(a for a in lookup.addresses if is_globally_routable(classify(a)))
    if not relays:
        print(_("natprobe check: {name} has no public IPv4 address to test through (no echo server: "
                "only the relay check from this host can run)", name=args.host), file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    if not (args.json or args.share):
        print(_("No echo server: testing {name} from this host through its public address {relays} ...",
                name=args.host, relays=", ".join(map(str, relays))), file=sys.stderr)
    report = asyncio.run(check_relay(args.host, relays, specs, RelayCheckOptions(timeout=args.timeout)))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(render_relay_section(report, style_for(sys.stdout, os.environ)))
    return ExitCode.OK if report.all_reachable else ExitCode.NOT_REACHABLE
