"""Lab tests need root, ``ip netns`` and nftables: skip with the reason when they are missing.

Set ``NATPROBE_REQUIRE_LAB=1`` (CI does) to turn that skip into a failure, so a machine
that lost its lab prerequisites cannot pass by skipping every real-NAT test.
"""

from __future__ import annotations

import os

import pytest

from natprobe.lab import cleanup_stale_namespaces, require_lab


@pytest.fixture(autouse=True)
def _lab_prerequisites(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("lab") is None:
        return
    reason = require_lab()
    if reason is None:
        return
    if os.environ.get("NATPROBE_REQUIRE_LAB") == "1":
        pytest.fail(f"NATPROBE_REQUIRE_LAB=1 but the NAT lab is unavailable: {reason}")
    pytest.skip(f"NAT lab unavailable: {reason}")


@pytest.fixture(scope="session", autouse=True)
def _remove_stale_namespaces() -> None:
    # Namespaces of an earlier run that was killed (its PID is gone) are removed first.
    if require_lab() is None:
        cleanup_stale_namespaces()
