"""The real Jamulus server (Debian's ``/usr/bin/Jamulus``) as a test peer on 127.0.0.1.

:func:`start_jamulus` starts one on a free port and waits (bounded) until it answers a
ping; :func:`stop` ends it by its PID. Shared by the client tests and the echo server's
probe-back tests: one way to run the third-party server.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from natprobe.jamulus import PingMs, decode, encode, is_protocol_frame
from natprobe.lab.netns import stop_process

JAMULUS = Path("/usr/bin/Jamulus")


@dataclass
class RunningJamulus:
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def udp_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def answers_ping(process: subprocess.Popen[bytes], port: int, deadline_s: float = 10.0) -> bool:
    """Ping with the codec over a plain blocking socket until the server echoes (bounded)."""
    deadline = time.monotonic() + deadline_s
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.1)
        token = 0
        while time.monotonic() < deadline and process.poll() is None:
            token += 1
            sock.sendto(encode(PingMs(token)), ("127.0.0.1", port))
            try:
                data, source = sock.recvfrom(2048)
            except TimeoutError:
                continue
            if source == ("127.0.0.1", port) and is_protocol_frame(data) and decode(data) == PingMs(token):
                return True
    return False


def stop(process: subprocess.Popen[bytes]) -> None:
    stop_process(process, 5.0)  # SIGTERM to this PID only; a registered server unregisters on it


def start_jamulus(
    workdir: Path,
    name: str,
    extra: list[str],
    avoid: frozenset[int] = frozenset(),
    ports: tuple[int, int] = (22100, 22999),
) -> RunningJamulus:
    """A Jamulus server on a random free port of ``ports`` (skips the test without Jamulus)."""
    if not JAMULUS.exists():
        pytest.skip("/usr/bin/Jamulus is not installed (apt-get install jamulus)")
    for _ in range(8):
        port = random.randint(*ports)
        if port in avoid or not udp_port_free(port):
            continue
        log = workdir / f"{name}-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(JAMULUS), "-s", "-n", "-p", str(port), "--serverbindip", "127.0.0.1", *extra],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "HOME": str(workdir)},
            )
        if answers_ping(process, port):
            return RunningJamulus(port, process, log)
        stop(process)  # most likely the port was taken between our check and its bind: try another
    pytest.fail(f"could not start Jamulus {name}; see logs in {workdir}")
