"""A minimal real QUIC server for the UDP services lab: aioquic's own ``serve``, nothing else.

Run as ``python -m tests.lab.quic_server HOST PORT CERT KEY`` inside a lab namespace (the
fixture makes a throw-away self-signed certificate first and starts it with ``Host.spawn``,
so the lab ends it by PID). The answer natprobe's QUIC probe proves the service with, the
Version Negotiation packet (RFC 9000 section 17.2.1), is written by aioquic itself: this
script only configures the server and prints ``ready`` once it listens.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from natprobe.lab import Host

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 10.0


def quic_missing() -> str | None:
    try:
        import aioquic  # noqa: F401
    except ImportError:
        return "aioquic is not installed (pip install -e '.[test]')"
    return None


def start_quic_server(host: Host, port: int, directory: Path) -> subprocess.Popen[Any]:
    """Run this script in the lab ``host`` on UDP ``port`` of every address, with a self-signed certificate made now in ``directory``; return once it listens."""
    from natprobe.lab.services import wait_udp_bound

    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "quic.crt", directory / "quic.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=quic.lab.test"],
                   check=True, capture_output=True, timeout=30)
    log = directory / "quic.log"
    with log.open("wb") as handle:  # a file, not a pipe nobody reads
        proc = host.spawn([sys.executable, "-m", "tests.lab.quic_server", "0.0.0.0", str(port), str(cert), str(key)],
                          cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)
    wait_udp_bound(host, proc, port, log, "the aioquic server", READY_TIMEOUT_S)
    return proc


async def _serve(host: str, port: int, cert: str, key: str) -> None:
    from aioquic.asyncio import serve
    from aioquic.quic.configuration import QuicConfiguration

    configuration = QuicConfiguration(is_client=False, alpn_protocols=["h3"])
    configuration.load_cert_chain(cert, key)
    server = await serve(host, port, configuration=configuration)
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()  # until the lab ends the process
    finally:
        server.close()


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("usage: python -m tests.lab.quic_server HOST PORT CERT KEY", file=sys.stderr)
        return 2
    host, port, cert, key = argv
    asyncio.run(_serve(host, int(port), cert, key))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
