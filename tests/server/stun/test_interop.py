"""Real third-party STUN clients against the echo server on 127.0.0.1 + 127.0.0.2.

* pystun3 (the classic RFC 3489 ``stun`` module): needs MAPPED/SOURCE/CHANGED-ADDRESS and a
  working change-IP+port. It retries forever on an unexpected reply, so it runs in a
  subprocess with a hard timeout.
* coturn's ``turnutils_stunclient``: RFC 5389 request, then (seeing OTHER-ADDRESS) a
  change-IP+port request with RESPONSE-PORT and one with PADDING. It blocks forever without a
  reply, so it also runs with a timeout.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import shutil
import socket
import sys

import pytest

from natprobe_server import EchoServer

pytestmark = pytest.mark.interop

CLIENT_TIMEOUT = 20.0


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def run(*argv: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(CLIENT_TIMEOUT):
            stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace")


@pytest.mark.skipif(importlib.util.find_spec("stun") is None, reason="pystun3 is not installed (pip install pystun3)")
async def test_pystun3_sees_open_internet(dual_server: EchoServer) -> None:
    source_port = free_udp_port()
    code = (
        "import stun, sys\n"
        f"print(repr(stun.get_ip_info(source_ip='127.0.0.1', source_port={source_port}, "
        f"stun_host='127.0.0.1', stun_port={dual_server.port})))\n"
    )
    returncode, stdout, stderr = await run(sys.executable, "-c", code)
    assert returncode == 0, stderr
    assert stdout.strip() == repr(("Open Internet", "127.0.0.1", source_port))
    stats = dual_server.stats()
    assert stats.answered == 2  # test I and the change-IP+port test, both via the full path
    assert stats.errors == 0


TURNUTILS = shutil.which("turnutils_stunclient")
ADDRESS = r"(?:: )?(\d+\.\d+\.\d+\.\d+):(\d+)"


def parse_stunclient(output: str) -> list[dict[str, tuple[str, int]]]:
    """Split turnutils_stunclient's output into responses: {"reflexive": .., "origin": .., "other": ..}."""
    blocks = re.split(r"RFC 5780 response \d+", output)
    responses: list[dict[str, tuple[str, int]]] = []
    for block in blocks if len(blocks) > 1 else [output]:
        found: dict[str, tuple[str, int]] = {}
        for key, label in (("reflexive", "UDP reflexive addr"), ("origin", "Response origin"), ("other", "Other addr")):
            match = re.search(label + r":\s*" + ADDRESS, block)
            if match:
                found[key] = (match.group(1), int(match.group(2)))
        if found:
            responses.append(found)
    return responses


@pytest.mark.skipif(TURNUTILS is None, reason="coturn's turnutils_stunclient is not installed (apt install coturn)")
async def test_turnutils_stunclient_rfc5780_run(dual_server: EchoServer) -> None:
    assert TURNUTILS is not None
    n = dual_server.port
    returncode, stdout, stderr = await run(TURNUTILS, "-p", str(n), "127.0.0.1")
    assert returncode == 0, stdout + stderr
    assert "error" not in stdout.lower(), stdout
    responses = parse_stunclient(stdout)
    assert len(responses) == 3, stdout
    first, second, third = responses
    assert first["origin"] == ("127.0.0.1", n)
    assert all(r["other"] == ("127.0.0.2", n + 1) for r in responses)
    # tests 2 and 3 ask for change-IP and change-port: answered from the alternate pair
    assert second["origin"] == third["origin"] == ("127.0.0.2", n + 1)
    assert all(r["reflexive"][0] == "127.0.0.1" for r in responses)
    # test 2 used RESPONSE-PORT = port + 1 (and got its reply there); test 3 is sent from that port
    assert second["reflexive"] == first["reflexive"]
    assert third["reflexive"][1] == first["reflexive"][1] + 1


@pytest.mark.skipif(TURNUTILS is None, reason="coturn's turnutils_stunclient is not installed (apt install coturn)")
async def test_turnutils_stunclient_against_a_single_address_server(single_server: EchoServer) -> None:
    assert TURNUTILS is not None
    returncode, stdout, stderr = await run(TURNUTILS, "-p", str(single_server.port), "127.0.0.1")
    assert returncode == 0, stdout + stderr
    assert "RFC 5780 response" not in stdout  # no OTHER-ADDRESS: it does not try the 5780 tests
    (response,) = parse_stunclient(stdout)
    assert response["reflexive"][0] == "127.0.0.1" and response["reflexive"][1] > 0
