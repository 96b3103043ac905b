"""``natprobe demo``: the whole story on a real kernel NAT built on this machine, no Internet needed.

With root it builds network namespaces (natprobe.lab): a home router with a port-restricted
NAT, an "Internet" with natprobe's echo server on two public addresses, and behind the NAT a
UDP service on 22124 (a real Jamulus server when it is installed). It then runs the real
``natprobe`` commands and prints their real output: ``check`` before and after the port
forward, ``nat``, and ``check`` behind carrier-grade NAT. Without root it says what it cannot
show and runs what it can on loopback.
"""

from __future__ import annotations

import argparse
import queue
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from natprobe_cli.exit_codes import ExitCode
from natprobe_cli.terminal import help_text
from natprobe.i18n import _, current_language
from natprobe.errors import LabError

if TYPE_CHECKING:
    from natprobe.lab import Host, Lab

JAMULUS_PORT = 22124
HTTP_PORT = 8080
COMMAND_TIMEOUT_S = 60.0
START_TIMEOUT_S = 15.0
"""How long the loopback demo waits for its echo server's readiness line."""


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "demo",
        help=_("run natprobe against a real kernel NAT built on this machine (root; no Internet needed)"),
        description=help_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=run)


def _say(text: str) -> None:
    """Print a narration paragraph; a leading newline becomes a blank line before it."""
    blank = text.startswith("\n")
    print(("\n" if blank else "") + "\n".join(textwrap.wrap(text.strip(), 92)), flush=True)


def _run_natprobe(host: Host | None, args: Sequence[str], where: str) -> subprocess.CompletedProcess[str]:
    """Run the real CLI (in ``host``'s namespace when given) and print the command and its output."""
    print(f"\n[{where}]$ natprobe {' '.join(args)}", flush=True)
    argv = [sys.executable, "-m", "natprobe_cli", "--lang", current_language(), *args]
    if host is not None:
        done = host.exec(argv, check=False, timeout=COMMAND_TIMEOUT_S)
    else:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False)
    output = (done.stderr + done.stdout).rstrip()
    print(textwrap.indent(output, "  "), flush=True)
    print("  " + _("(exit status {code})", code=done.returncode), flush=True)
    return done


def _start_udp_service(lab: Lab) -> str:
    """A real Jamulus server on the client host, if installed; otherwise the port stays free for natprobe."""
    jamulus = shutil.which("Jamulus")
    if jamulus is None:
        return _("no Jamulus binary here, so natprobe itself listens on 22124")
    lab.client.spawn(
        [jamulus, "-s", "-n", "-p", str(JAMULUS_PORT), "--serverbindip", str(lab.client.ip)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return _("a real Jamulus server listens on {address}:{port}", address=lab.client.ip, port=JAMULUS_PORT)


def _lab_demo() -> int:
    from natprobe.lab import Behavior, Lab, LabConfig, PortForward
    from natprobe.lab.services import start_echo_server

    _say(_("Building a lab: a LAN host behind a home router (port-restricted cone NAT, like most home "
           "routers), and an 'Internet' namespace where natprobe's echo server runs on two public "
           "addresses. Everything lives in network namespaces on this machine."))
    with Lab(LabConfig(behavior=Behavior.PORT_RESTRICTED_CONE)) as lab:
        echo = start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=HTTP_PORT)
        service = _start_udp_service(lab)
        _say("\n" + _("LAN host {host}, router public address {public}, echo server {url} (STUN on {stun}); {service}.",
                      host=lab.client.ip, public=lab.public_ip, url=echo.http_url, stun=echo.stun, service=service))
        check = ["check", "--udp", str(JAMULUS_PORT), "--server", echo.http_url]

        _say("\n" + _("1. Is UDP 22124 reachable from the Internet? No port forward exists yet."))
        _run_natprobe(lab.client, check, "LAN host")
        _say("→ " + _("The echo server's probe never arrived: the router drops unsolicited packets because "
                      "nothing forwards the port. natprobe names this host's LAN address for the router rule."))

        lab.add_forward(PortForward("udp", JAMULUS_PORT))
        _say("\n" + _("2. Now the router forwards UDP {port} to {host}. Same command:", port=JAMULUS_PORT,
                      host=lab.client.ip))
        _run_natprobe(lab.client, check, "LAN host")
        _say("→ " + _("Proven from outside: the probe crossed the router and reached the service."))

        _say("\n" + _("3. What NAT is this? (RFC 5780 behaviour discovery against the echo server)"))
        _run_natprobe(lab.client, ["nat", "--server", echo.stun], "LAN host")
        _say("→ " + _("Mapping and filtering in RFC 4787 terms, the classic name, hairpinning, with evidence."))

    _say("\n" + _("4. The same check behind carrier-grade NAT (the ISP's NAT in 100.64.0.0/10 in front of "
                  "the home router), with a forward on the home router:"))
    with Lab(LabConfig(behavior=Behavior.PORT_RESTRICTED_CONE, cgnat=True,
                       forwards=(PortForward("udp", JAMULUS_PORT),))) as lab:
        echo = start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=HTTP_PORT)
        _run_natprobe(lab.client, ["check", "--udp", str(JAMULUS_PORT), "--server", echo.http_url], "LAN host")
        _say("→ " + _("The home forward cannot help: the public address belongs to the ISP's NAT. natprobe "
                      "says so and what to do instead (public IPv4 from the ISP, IPv6, or a tunnel to a VPS)."))
    _say("\n" + _("The lab is gone (namespaces removed). Run `natprobe check --help` to use natprobe on your "
                  "own network with your own echo server (`natprobe serve` on a public host)."))
    return ExitCode.OK


def _first_line(process: subprocess.Popen[str], timeout_s: float) -> str | None:
    """The child's first stdout line, or ``None`` if none came within ``timeout_s``.

    A pipe read has no timeout of its own, so a reader thread does the read and this waits on
    it with a bound; when the child is then killed the pipe closes and the thread ends.
    """
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue(maxsize=1)
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout_s)
    except queue.Empty:
        return None


def _loopback_demo(reason: str) -> int:
    _say(_("Without the NAT lab ({reason}) this demo cannot show a real NAT, port forwards or CGNAT; "
           "run it as root for that. What runs here: natprobe's echo server on loopback (127.0.0.1 and "
           "127.0.0.2 as its two addresses) and the natprobe commands against it.", reason=reason))
    server = subprocess.Popen(
        [sys.executable, "-m", "natprobe_server", "--primary", "127.0.0.1", "--alternate", "127.0.0.2",
         "--port", "34780", "--http-port", "38080"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = _first_line(server, START_TIMEOUT_S)
        if line is None or not line.startswith("listening"):
            server.kill()  # ended before its stderr is read to the end, so that read is bounded too
            _out, errors = server.communicate(timeout=5)
            line = line or _("no readiness line within {seconds:g} s", seconds=START_TIMEOUT_S)
            output = f"{line.strip()} {errors.strip()}".rstrip()
            print(_("natprobe demo: the echo server did not start: {output}", output=output), file=sys.stderr)
            return ExitCode.COULD_NOT_TEST
        _run_natprobe(None, ["nat", "--server", "127.0.0.1:34780", "--bind", "127.0.0.1"], "this host")
        _say("→ " + _("On loopback there is no NAT: open Internet, as expected."))
        # --no-router: the demo promises loopback only, so it asks no router of this machine's network.
        _run_natprobe(None, ["check", "--udp", str(JAMULUS_PORT), "--server", "http://127.0.0.1:38080",
                             "--no-trace", "--no-router"], "this host")
        _say("→ " + _("The probe-back reached a port natprobe listened on: the whole path works."))
    finally:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
    return ExitCode.OK


def run(args: argparse.Namespace) -> int:
    from natprobe.lab import require_lab

    reason = require_lab()
    if reason is not None:
        return _loopback_demo(reason)
    try:
        return _lab_demo()
    except LabError as exc:
        print(_("natprobe demo: the lab failed: {error}", error=exc), file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
