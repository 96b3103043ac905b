"""``natprobe watch``: scheduled checks, a history, and a message when reachability changes."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from natprobe_cli.exit_codes import ExitCode
from natprobe.i18n import _

if TYPE_CHECKING:
    from natprobe.measure.watch import RunOutcome, WatchSet

__all__ = ("register",)

DEFAULT_EVERY = "15m"
DEFAULT_REPEAT = "6h"


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "watch",
        help=_("run the checks on a schedule, keep a history, send a message when something changes"),
        description=_(
            "Run a set of checks (ports, the DNS name, the exposure scan, the NAT type, the router's external "
            "address) once or on a schedule, store every result in a SQLite history, and send one message "
            "(Apprise URLs, or a command) when something changes or recovers. The set comes from the [watch] "
            "table of the config file; the options below override it."
        ),
        epilog=_("examples:") + " natprobe watch --once --udp 22124 --host music.example.org --notify 'ntfys://my-topic'\n"
               "          natprobe watch --every 15m --exposure --expect 443,22124/udp --textfile "
               "/var/lib/node_exporter/natprobe.prom\n"
               "          natprobe watch --systemd-timer user > ~/.config/systemd/user/natprobe-watch.timer",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = parser.add_argument_group(_("what to watch"))
    what.add_argument("--server", metavar="URL", help=_("echo server HTTP API (default: [watch] server, "
                                                        "$NATPROBE_SERVER, then 'server' in the config file)"))
    what.add_argument("--token", metavar="TOKEN", help=_("the echo server's shared token, if it requires one"))
    what.add_argument("--udp", action="append", default=None, metavar="PORT[,PORT][:SERVICE]",
                      help=_("UDP port(s) to check"))
    what.add_argument("--tcp", action="append", default=None, metavar="PORT[,PORT][:SERVICE]",
                      help=_("TCP port(s) to check"))
    what.add_argument("--host", metavar="NAME", help=_("the DNS name to watch (also HTTP Host and TLS SNI)"))
    what.add_argument("--exposure", action="store_true", default=None,
                      help=_("also run the exposure scan (one per run)"))
    what.add_argument("--expect", action="append", default=None, metavar="PORT[/udp][,...]",
                      help=_("the ports meant to be open, for the exposure scan (implies --exposure)"))
    what.add_argument("--nat", action="store_true", default=None, help=_("also watch the NAT type"))
    what.add_argument("--no-router", action="store_true", default=None,
                      help=_("do not ask the router for its external address"))
    what.add_argument("--resolver", action="append", default=None, metavar="IP",
                      help=_("name server for this host's view of the name (default: resolv.conf)"))
    only = what.add_mutually_exclusive_group()
    only.add_argument("--ipv4", action="store_true", help=_("IPv4 only"))
    only.add_argument("--ipv6", action="store_true", help=_("IPv6 only"))
    when = parser.add_argument_group(_("when and where"))
    mode = when.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help=_("run the set one time and exit"))
    mode.add_argument("--every", metavar="DURATION",
                      help=_("run every DURATION (e.g. 15m, 1h), with jitter; default {every}", every=DEFAULT_EVERY))
    when.add_argument("--systemd-timer", choices=("user", "system"), metavar="user|system",
                      help=_("print a hardened systemd service and timer that run 'natprobe watch --once' "
                             "(every --every)"))
    when.add_argument("--repeat", metavar="DURATION",
                      help=_("repeat a message at most every DURATION while a problem lasts (default {repeat})",
                             repeat=DEFAULT_REPEAT))
    when.add_argument("--notify", action="append", default=None, metavar="URL",
                      help=_("an Apprise URL to send messages to (repeatable): mailto://, ntfys://, matrixs://, "
                             "tgram://, gotify://, json://..."))
    when.add_argument("--exec", metavar="COMMAND",
                      help=_("run COMMAND for each message (no shell; NATPROBE_TITLE, NATPROBE_BODY, NATPROBE_LEVEL "
                             "in its environment, the body on its standard input)"))
    when.add_argument("--state-dir", metavar="DIR",
                      help=_("the history's folder (default: $XDG_STATE_HOME/natprobe)"))
    when.add_argument("--textfile", metavar="PATH",
                      help=_("write Prometheus metrics to PATH (node_exporter's textfile collector)"))
    when.add_argument("--metrics-listen", metavar="HOST:PORT",
                      help=_("serve Prometheus metrics on http://HOST:PORT/metrics while watching"))
    when.add_argument("--retention-days", type=float, metavar="DAYS", help=_("keep runs this long (default 90)"))
    when.add_argument("--max-history-mb", type=float, metavar="MB",
                      help=_("keep the stored reports under this size (default 50)"))
    when.add_argument("--max-runs", type=int, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true",
                        help=_("print each run as one JSON line (natprobe schema watch)"))
    parser.set_defaults(handler=run)


@dataclass(frozen=True, slots=True)
class Settings:
    watch: "WatchSet"
    every_s: float | None
    repeat_s: float
    notify: tuple[str, ...]
    exec_command: str | None
    state_dir: Path
    textfile: Path | None
    metrics_listen: tuple[str, int] | None
    max_age_s: float
    max_bytes: int


def _listen(text: str) -> tuple[str, int]:
    host, _colon, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(_("--metrics-listen: expected HOST:PORT, e.g. 127.0.0.1:9839, not {value!r}", value=text))
    return host.strip("[]"), int(port)


def settings_from(args: argparse.Namespace, table: Mapping[str, Any], environ: Mapping[str, str]) -> Settings:
    """The command line over the ``[watch]`` table over the defaults; ``ValueError`` with one clear line."""
    from natprobe_cli.commands.check import parse_port_list
    from natprobe_cli.commands.exposure import parse_expect
    from natprobe.adapters.history_store import DEFAULT_MAX_AGE_S, DEFAULT_MAX_BYTES, default_state_dir
    from natprobe_cli.user_config import resolve_server, resolve_token
    from natprobe.addressing import IpFamily
    from natprobe.contract.terms import TransportProtocol
    from natprobe.measure.watch import WatchSet
    from natprobe.verdicts.watch_changes import parse_duration

    def pick(name: str, key: str | None = None) -> Any:
        value = getattr(args, name, None)
        return value if value is not None else table.get(key or name)

    setting = resolve_server(pick("server"), environ)
    if setting is None:
        raise ValueError(_("no echo server: give --server URL, or server in [watch] or in the config file"))
    token = resolve_token(pick("token"), environ)
    specs = [s for text in (pick("udp") or []) for s in parse_port_list(text, TransportProtocol.UDP)]
    specs += [s for text in (pick("tcp") or []) for s in parse_port_list(text, TransportProtocol.TCP)]
    expect_texts = pick("expect")
    expect = None if expect_texts is None else tuple(r for t in expect_texts for r in parse_expect(t))
    exposure = bool(pick("exposure")) or expect is not None
    families_text = [f.lower() for f in (table.get("families") or ["ipv4", "ipv6"])]
    if args.ipv4:
        families_text = ["ipv4"]
    elif args.ipv6:
        families_text = ["ipv6"]
    try:
        families = tuple(IpFamily(f) for f in families_text)
    except ValueError:
        raise ValueError(_("[watch] families: expected ipv4 and/or ipv6, not {value!r}", value=families_text)) from None
    router = not args.no_router and table.get("router", True) is not False
    resolvers = pick("resolver")
    watch = WatchSet(server=setting.value, ports=tuple(specs), name=pick("host"), token=token, exposure=exposure,
                     expect=expect, nat=bool(pick("nat")), router=router, families=families,
                     nameservers=tuple(resolvers) if resolvers else None)
    every = pick("every")
    repeat = pick("repeat")
    state_dir = pick("state_dir")
    textfile = pick("textfile")
    listen = pick("metrics_listen")
    days = pick("retention_days")
    megabytes = pick("max_history_mb")
    return Settings(
        watch=watch,
        every_s=None if args.once else parse_duration(str(every if every is not None else DEFAULT_EVERY)),
        repeat_s=parse_duration(str(repeat if repeat is not None else DEFAULT_REPEAT)),
        notify=tuple(pick("notify") or ()),
        exec_command=pick("exec"),
        state_dir=Path(state_dir).expanduser() if state_dir else default_state_dir(environ),
        textfile=Path(textfile).expanduser() if textfile else None,
        metrics_listen=_listen(listen) if listen else None,
        max_age_s=float(days) * 86400 if days is not None else DEFAULT_MAX_AGE_S,
        max_bytes=int(float(megabytes) * 1024 * 1024) if megabytes is not None else DEFAULT_MAX_BYTES,
    )


def _print_outcome(outcome: "RunOutcome", as_json: bool) -> None:
    import json

    from natprobe.findings.watch_findings import item_label

    if as_json:
        print(json.dumps(outcome.to_dict()), flush=True)
        return
    print(_("natprobe watch: run {run}: {count} item(s), {events} change(s)", run=outcome.run_id,
            count=len(outcome.items), events=len(outcome.events)), flush=True)
    for item in outcome.items:
        print(f"  {item_label(item)}: {item.value}")
    for change in outcome.changes:
        print("  * " + change.text)
        for cause in change.causes:
            print("      " + _("likely cause: {cause}", cause=cause))
    for line in outcome.errors:
        print("  ! " + line)
    for target, failure in outcome.deliveries:
        print("  " + (_("message sent to {target}", target=target) if failure is None else
                      _("message to {target} not delivered (will retry): {error}", target=target, error=failure)))
    sys.stdout.flush()


async def _watch(settings: Settings, max_runs: int | None, as_json: bool) -> int:
    from natprobe.adapters.history_store import HistoryStore, Retention
    from natprobe.adapters.metrics_output import MetricsListener
    from natprobe.adapters.notify import make_targets
    from natprobe.measure.watch import run_once, watch_loop

    targets = make_targets(settings.notify, settings.exec_command)
    listener = None
    if settings.metrics_listen is not None:
        listener = MetricsListener(*settings.metrics_listen)
        await listener.start()
    last: list[RunOutcome] = []
    try:
        with HistoryStore.in_dir(settings.state_dir, retention=Retention(settings.max_age_s, settings.max_bytes)) as store:
            async def one() -> "RunOutcome":
                return await run_once(settings.watch, store, targets, repeat_s=settings.repeat_s,
                                      textfile=settings.textfile, listener=listener)

            def show(outcome: "RunOutcome") -> None:
                last[:] = [outcome]
                _print_outcome(outcome, as_json)

            if settings.every_s is None:
                show(await one())
            else:
                await watch_loop(one, settings.every_s, max_runs=max_runs, on_outcome=show)
    finally:
        if listener is not None:
            await listener.stop()
    if not last:
        return ExitCode.OK
    outcome = last[0]
    if not outcome.items:
        return ExitCode.COULD_NOT_TEST
    return ExitCode.NOT_REACHABLE if any(i.health.value == "problem" for i in outcome.items) else ExitCode.OK


def _unit_options(args: argparse.Namespace, textfile: Path | None) -> list[str]:
    """The options given on this command line that the unit repeats (none of them secret)."""
    options: list[str] = []
    for flag, value in (("--server", args.server), ("--host", args.host), ("--repeat", args.repeat)):
        if value:
            options += [flag, value]
    for flag, values in (("--udp", args.udp), ("--tcp", args.tcp), ("--expect", args.expect),
                         ("--resolver", args.resolver)):
        for value in values or ():
            options += [flag, value]
    for flag, on in (("--exposure", args.exposure), ("--nat", args.nat), ("--no-router", args.no_router),
                     ("--ipv4", args.ipv4), ("--ipv6", args.ipv6)):
        if on:
            options.append(flag)
    if textfile is not None:
        options += ["--textfile", str(textfile)]
    return options


def run(args: argparse.Namespace) -> int:
    from natprobe_cli.user_config import UserConfigError, load_user_config, config_path
    from natprobe.errors import HistoryError

    try:
        table = load_user_config(config_path()).watch or {}
        settings = settings_from(args, table, os.environ)
    except (UserConfigError, ValueError) as exc:
        print(_("natprobe watch: {error}", error=exc), file=sys.stderr)
        return ExitCode.USAGE
    if args.systemd_timer:
        from natprobe_cli.systemd_timer import hidden_from_units, watch_units

        if args.token or args.notify or args.exec:
            print(_("natprobe watch: the token, --notify and --exec stay out of the unit (any user can read it): "
                    "put them in the [watch] table of the config file"), file=sys.stderr)
        state_dir = Path(args.state_dir).expanduser().absolute() if args.state_dir else None
        textfile = settings.textfile.absolute() if settings.textfile is not None else None
        print(watch_units(args.systemd_timer, settings.every_s or 900.0, _unit_options(args, textfile),
                          state_dir=state_dir, textfile=textfile), end="")
        hidden = hidden_from_units(args.systemd_timer)
        if hidden:
            print(_("natprobe watch: this service could not start: its sandbox (PrivateTmp=yes, and ProtectHome=yes "
                    "for a system service) hides {paths}. Install natprobe for the service elsewhere, e.g. "
                    "python3 -m venv /opt/natprobe && /opt/natprobe/bin/pip install '/path/to/natprobe-clone', "
                    "then print the units with /opt/natprobe/bin/natprobe watch --systemd-timer",
                    paths=", ".join(str(p) for p in hidden)), file=sys.stderr)
        return ExitCode.OK
    if args.max_runs is not None and args.max_runs < 1:
        print(_("natprobe watch: {error}", error="--max-runs must be >= 1"), file=sys.stderr)
        return ExitCode.USAGE
    try:
        return asyncio.run(_watch(settings, args.max_runs, args.json))
    except HistoryError as exc:
        print(_("natprobe watch: {error}", error=exc), file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    except ValueError as exc:
        print(_("natprobe watch: {error}", error=exc), file=sys.stderr)
        return ExitCode.USAGE
    except OSError as exc:
        print(_("natprobe watch: {error}", error=exc), file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
