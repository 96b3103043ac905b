"""Suite-wide guards.

**Network and settings safety**: tests never read the user's settings and never contact
public servers. natprobe falls back to a built-in list of public STUN servers and to the
user's configuration file (``natprobe config``). Before any test runs, this replaces both for
the whole session, including every subprocess the tests start (they inherit the environment):

* ``$NATPROBE_STUN_SERVERS`` names only a loopback address (a port nothing listens on);
* ``$XDG_CONFIG_HOME`` points at an empty directory of this session, so no real
  ``config.toml`` is read or written, and ``$XDG_STATE_HOME`` likewise, so no real watch
  history is;
* ``$NATPROBE_SERVER`` and ``$NATPROBE_TOKEN`` are removed;
* ``$NATPROBE_GATEWAY`` is loopback, so ``natprobe check`` and ``natprobe router`` run
  outside a lab namespace never send a PCP, NAT-PMP or UPnP request to this machine's real
  router (the lab's ``Host.exec``/``spawn`` drop it: inside a namespace the default gateway is
  the lab's own router).

``tests/test_network_safety.py`` asserts that this is in force.

**The echo server on loopback**: ``dual_server`` (127.0.0.1 + 127.0.0.2, a full RFC 5780
server) and ``single_server`` (127.0.0.1 only), from :mod:`tests.echo_server`, the one place
tests start the server.

**Lab and interop prerequisites**, keyed on markers rather than on directories: ``lab`` tests
need root, ``ip netns`` and nftables; ``interop`` tests need real third-party programs
(coturn, Jamulus, pystun3...). Without them a test skips with the reason. With
``NATPROBE_REQUIRE_LAB=1`` (CI sets it) any skip of a ``lab`` or ``interop`` test, wherever
it lives and whatever skipped it (a ``skipif``, a fixture, ``pytest.skip`` in the body),
becomes a failure: a machine that lost its prerequisites cannot pass by skipping.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Generator

import pytest

from natprobe.lab import cleanup_stale_namespaces, require_lab
from natprobe_server import EchoServer
from tests.echo_server import loopback_server

SAFE_STUN_SERVERS = "127.0.0.1:9"
"""UDP discard port on loopback: nothing answers, nothing leaves the host."""
SAFE_GATEWAY = "127.0.0.1"
"""Nothing answers PCP, NAT-PMP or SSDP on loopback: the router probe finds no router, fast."""

os.environ["NATPROBE_STUN_SERVERS"] = SAFE_STUN_SERVERS
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="natprobe-test-config-")
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="natprobe-test-state-")
os.environ["NATPROBE_GATEWAY"] = SAFE_GATEWAY
for _name in ("NATPROBE_SERVER", "NATPROBE_TOKEN"):
    os.environ.pop(_name, None)

REQUIRED_MARKERS = ("lab", "interop")


def _required() -> bool:
    return os.environ.get("NATPROBE_REQUIRE_LAB") == "1"


@pytest.fixture(autouse=True)
def _lab_prerequisites(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("lab") is None:
        return
    reason = require_lab()
    if reason is not None:
        pytest.skip(f"NAT lab unavailable: {reason}")


@pytest.fixture(scope="session", autouse=True)
def _remove_stale_namespaces() -> None:
    # Namespaces of an earlier run that was killed (its PID is gone) are removed first.
    if require_lab() is None:
        cleanup_stale_namespaces()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not (report.skipped and _required()):
        return
    marker = next((m for m in REQUIRED_MARKERS if item.get_closest_marker(m) is not None), None)
    if marker is None or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = (longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)).removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = f"NATPROBE_REQUIRE_LAB=1 but this {marker} test was skipped: {reason}"


@pytest.fixture
async def dual_server() -> AsyncIterator[EchoServer]:
    async with loopback_server() as server:
        yield server


@pytest.fixture
async def single_server() -> AsyncIterator[EchoServer]:
    async with loopback_server(alternate=False) as server:
        yield server
