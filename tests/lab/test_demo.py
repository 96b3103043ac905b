"""The README's main command: ``natprobe demo`` tells the whole story on a lab NAT."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def test_demo_shows_forward_nat_and_cgnat() -> None:
    done = subprocess.run([sys.executable, "-m", "natprobe_cli", "demo"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    # Before the forward: not reachable, naming this host's LAN address for the router rule.
    assert "UDP 22124: NOT REACHABLE (not-forwarded-or-filtered)" in out
    assert "forward UDP port 22124 to 192.168.77.10" in out
    # After the forward: proven from outside.
    assert "UDP 22124: REACHABLE (reachable)" in out
    # Behaviour discovery of the lab router.
    assert "NAT type           port-restricted-cone" in out
    # Behind carrier-grade NAT a home forward cannot help.
    assert "UDP 22124: NOT REACHABLE (behind-cgnat)" in out
    assert "The lab is gone" in out
