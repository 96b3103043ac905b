"""The one way tests run the echo server: in this process on loopback, or as ``python -m natprobe_server``.

* :func:`loopback_server`: the STUN/echo sockets on 127.0.0.1 (+ 127.0.0.2 as the RFC 5780
  alternate address); the fixtures ``dual_server`` and ``single_server`` (tests/conftest.py)
  are this.
* :func:`loopback_api`: the HTTP API on a loopback address and a port the OS picks.
* :func:`echo_server_process`: the server as a process; :meth:`EchoProcess.ready` reads its
  readiness line within a bound.
* :class:`UdpClient`: a UDP socket driven by the running loop, to talk to either.

Linux answers on every address of 127.0.0.0/8, so 127.0.0.1 and 127.0.0.2 stand in for a
server's two public addresses; nothing here leaves loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import select
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from natprobe.addressing import TransportAddress
from natprobe_server import EchoServer, EchoServerConfig

LO1 = ipaddress.IPv4Address("127.0.0.1")
LO2 = ipaddress.IPv4Address("127.0.0.2")
REPO = str(Path(__file__).resolve().parent.parent)
ECHO_SERVER = ("-m", "natprobe_server")
NATPROBE_SERVE = ("-m", "natprobe_cli", "serve")
READY_TIMEOUT = 10.0
"""Seconds a started server may take to print its readiness line."""
STOP_TIMEOUT = 10.0
REPLY_TIMEOUT = 2.0


@asynccontextmanager
async def loopback_server(*, alternate: bool = True, **settings: Any) -> AsyncIterator[EchoServer]:
    """An :class:`EchoServer` on 127.0.0.1 (and 127.0.0.2), base port picked at random."""
    config = EchoServerConfig(primary=LO1, alternate=LO2 if alternate else None, port=0, **settings)
    async with EchoServer(config) as server:
        yield server


@dataclass(frozen=True)
class LoopbackApi:
    app: Any
    """The aiohttp application (its state keys hold the guards and the counters)."""
    port: int
    url: str


@asynccontextmanager
async def loopback_api(config: Any, host: str = "127.0.0.1", **options: Any) -> AsyncIterator[LoopbackApi]:
    """The HTTP API with ``config`` (an ``HttpApiConfig``) on ``host``, port picked by the OS;
    ``options`` go to :func:`natprobe_server.api.app.start_http_api` (``clock``, ``jamulus``...)."""
    from natprobe_server.api.app import start_http_api  # aiohttp only for the tests that serve HTTP

    runner, port = await start_http_api(config, host, 0, **options)
    try:
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        yield LoopbackApi(runner.app, port, url)
    finally:
        await runner.cleanup()


@dataclass
class EchoProcess:
    process: subprocess.Popen[str]
    _line: str | None = field(default=None, init=False)

    def ready(self, timeout: float = READY_TIMEOUT) -> str:
        """The readiness line (``listening port=N ...``), waiting at most ``timeout`` for it."""
        if self._line is None:
            stdout = self.process.stdout
            assert stdout is not None
            readable, _, _ = select.select([stdout], [], [], timeout)
            line = stdout.readline() if readable else ""
            assert line.startswith("listening "), f"no readiness line within {timeout} s: {line!r}"
            self._line = line.strip()
        return self._line

    def endpoint_port(self, name: str) -> int:
        """The port of ``name=ip:port`` in the readiness line (``http``, ``jamulus``, ``echo_udp``), or
        the base port for ``port``."""
        line = self.ready()
        match = re.search(rf"(?:^| ){name}=(?:\S*?:)?(\d+)(?:,|\s|$)", line)
        assert match, f"no {name} in {line!r}"
        return int(match.group(1))

    def finish(self, timeout: float = STOP_TIMEOUT, *, terminate: bool = False) -> tuple[int, str, str]:
        """Status, stdout and stderr of a process that exits by itself (bad options, bind
        failure), or with ``terminate`` of one stopped by SIGTERM now."""
        if terminate and self.process.poll() is None:
            self.process.terminate()
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then the exit status (killed if it does not stop in time)."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout)


@contextmanager
def echo_server_process(*args: str, entry: tuple[str, ...] = ECHO_SERVER, **popen: Any) -> Iterator[EchoProcess]:
    """``python -m natprobe_server ARGS`` (or ``natprobe serve`` with :data:`NATPROBE_SERVE`),
    stopped and reaped on exit whatever happened."""
    process = subprocess.Popen(
        [sys.executable, *entry, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
    )
    running = EchoProcess(process)
    try:
        yield running
    finally:
        running.stop()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


class UdpClient:
    """A non-blocking UDP socket driven by the running loop (no threads, no sleeps)."""

    def __init__(self, ip: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((ip, port))
        self.sock.setblocking(False)

    @property
    def address(self) -> TransportAddress:
        name = self.sock.getsockname()
        return TransportAddress.parse(name[0], name[1])

    async def send(self, data: bytes, destination: TransportAddress) -> None:
        await asyncio.get_running_loop().sock_sendto(self.sock, data, destination.as_tuple())

    async def receive(self, timeout: float = REPLY_TIMEOUT) -> tuple[bytes, TransportAddress]:
        async with asyncio.timeout(timeout):
            data, source = await asyncio.get_running_loop().sock_recvfrom(self.sock, 65536)
        return data, TransportAddress.parse(source[0], source[1])

    def drain(self) -> list[bytes]:
        """Whatever is already queued, without waiting."""
        queued: list[bytes] = []
        for _ in range(100_000):
            try:
                queued.append(self.sock.recv(65536))
            except BlockingIOError:
                break
        return queued

    def close(self) -> None:
        self.sock.close()


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True
