"""Start real servers inside lab namespaces: natprobe's echo server, coturn, Jamulus.

Shared by the tests, the benchmarks and ``natprobe demo``. Every process is started with
:meth:`Host.spawn`, so the lab kills it (by PID) at teardown; every wait for readiness is
bounded and raises :class:`~natprobe.errors.LabError` with the process's output on failure.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from natprobe.errors import LabError
from natprobe.lab.netns import Host
from natprobe.stun.message import binding_request, decode, encode

READY_TIMEOUT_S = 10.0


NGINX_TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
"""nginx's temporary-file directories, each pointed below the lab's own directory."""


def make_nginx_dirs(directory: Path) -> None:
    """Create ``directory`` and the temporary-file directories :func:`nginx_preamble` names."""
    for kind in NGINX_TEMP_DIRS:
        (directory / "tmp" / kind).mkdir(parents=True, exist_ok=True)


def nginx_preamble(directory: Path, *, modules: tuple[str, ...] = ()) -> str:
    """The head of a lab nginx.conf, ending inside ``http {``: one foreground process run by
    root in a namespace, everything it writes (pid, logs, temporary files) below ``directory``
    (see :func:`make_nginx_dirs`). The caller adds its servers and closes the block."""
    loads = "".join(f"load_module {module};\n" for module in modules)
    temps = "\n".join(f"    {kind}_temp_path {directory / 'tmp' / kind};" for kind in NGINX_TEMP_DIRS)
    return f"""\
{loads}daemon off;
master_process off;
worker_processes 1;
pid {directory / 'nginx.pid'};
error_log {directory / 'error.log'} info;
events {{ worker_connections 64; }}
http {{
    access_log {directory / 'access.log'};
{temps}
"""


def _read_until(proc: subprocess.Popen[Any], marker: str, timeout: float) -> str:
    """Read ``proc``'s stdout line by line until a line starts with ``marker``; return it."""
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    try:
        while time.monotonic() < deadline and len(seen) < 1000:
            if not selector.select(max(0.0, deadline - time.monotonic())):
                continue
            line = proc.stdout.readline()
            if not line:
                break
            text = line.decode(errors="replace").rstrip() if isinstance(line, bytes) else line.rstrip()
            seen.append(text)
            if text.startswith(marker):
                return text
    finally:
        selector.close()
    stderr = ""
    if proc.poll() is not None and proc.stderr is not None:
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    raise LabError(
        f"{proc.args!r} did not print {marker!r} within {timeout:g} s "
        f"(exit {proc.poll()}); output: {' | '.join(seen[-5:])} {stderr.strip()}"
    )


def udp_bound(host: Host, port: int) -> bool:
    """Does a socket in ``host`` listen on UDP ``port`` (any address)?"""
    listing = host.exec(["ss", "-H", "-u", "-l", "-n"], check=False).stdout
    return any(line.split()[3].endswith(f":{port}") for line in listing.splitlines() if len(line.split()) > 3)


def wait_udp_bound(host: Host, proc: subprocess.Popen[Any], port: int, log: Path, program: str,
                   timeout: float = READY_TIMEOUT_S) -> None:
    """Wait (bounded) until ``proc``, started in ``host`` with its output in ``log``, listens on
    UDP ``port``; :class:`~natprobe.errors.LabError` with the log's tail if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"{program} exited with {proc.returncode}: {log.read_text(errors='replace')[-800:]}")
        if udp_bound(host, port):
            return
        time.sleep(0.05)  # polling a starting process, bounded by the deadline
    raise LabError(f"{program} did not bind UDP {port} within {timeout:g} s")


def _stun_answers(host: Host, ip: IPv4Address, port: int, timeout: float) -> bool:
    """Does a STUN server answer at ip:port, as seen from inside ``host``?"""
    request = encode(binding_request())
    deadline = time.monotonic() + timeout
    with host.entered():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.settimeout(0.1)
        while time.monotonic() < deadline:
            sock.sendto(request, (str(ip), port))
            try:
                data, _ = sock.recvfrom(2048)
                decode(data)
                return True
            except (TimeoutError, OSError):
                continue
            except Exception:  # noqa: BLE001 - any reply at all means it is up
                return True
    finally:
        sock.close()
    return False


@dataclass(frozen=True, slots=True)
class EchoServerProcess:
    process: subprocess.Popen[Any]
    primary: IPv4Address
    alternate: IPv4Address | None
    port: int
    http_port: int | None
    ready_line: str

    @property
    def stun(self) -> str:
        return f"{self.primary}:{self.port}"

    @property
    def http_url(self) -> str:
        if self.http_port is None:
            raise LabError("this echo server was started without --http-port")
        return f"http://{self.primary}:{self.http_port}"


def start_echo_server(
    host: Host,
    primary: IPv4Address,
    alternate: IPv4Address | None = None,
    *,
    port: int = 3478,
    http_port: int | None = None,
    extra: tuple[str, ...] = (),
) -> EchoServerProcess:
    """Run ``python -m natprobe_server`` in ``host`` and wait for its readiness line."""
    argv = [sys.executable, "-m", "natprobe_server", "--primary", str(primary), "--port", str(port)]
    if alternate is not None:
        argv += ["--alternate", str(alternate)]
    if http_port is not None:
        argv += ["--http-port", str(http_port)]
    argv += list(extra)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = host.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    line = _read_until(proc, "listening", READY_TIMEOUT_S)
    return EchoServerProcess(proc, primary, alternate, port, http_port, line)


def start_coturn(host: Host, primary: IPv4Address, alternate: IPv4Address | None = None, *, port: int = 3478) -> subprocess.Popen[Any]:
    """coturn as a STUN-only server; with two addresses it is RFC 5780-capable (alternate port = port + 1)."""
    binary = shutil.which("turnserver")
    if binary is None:
        raise LabError("coturn's turnserver is not installed (scripts/setup.sh installs it)")
    pidfile = f"/tmp/natprobe-coturn-{host.name}-{port}.pid"
    argv = [binary, "-n", "--stun-only", "--no-auth", "--no-cli", "--no-tls", "--no-dtls",
            "-L", str(primary), "--listening-port", str(port), "--log-file", "stdout", "--simple-log",
            "--pidfile", pidfile]
    if alternate is not None:
        argv[argv.index("-L") + 2:argv.index("-L") + 2] = ["-L", str(alternate)]
    proc = host.spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not _stun_answers(host, primary, port, READY_TIMEOUT_S):
        raise LabError(f"coturn did not answer STUN on {primary}:{port} within {READY_TIMEOUT_S:g} s")
    # coturn insists on writing a pidfile; the lab tracks the process itself, so drop the file.
    with contextlib.suppress(OSError):
        os.unlink(pidfile)
    return proc
