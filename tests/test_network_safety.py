"""The test environment replaces the built-in public STUN servers and the user's configuration
(tests/conftest.py), so no test can reach a public server through a default."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path

from natprobe_cli.user_config import config_path, load_user_config, resolve_server, resolve_stun_servers
from natprobe.addressing import split_host_port
from natprobe.measure.stun_servers import PUBLIC_STUN_SERVERS

REPO = Path(__file__).resolve().parent.parent


def test_only_loopback_stun_servers_are_configured_for_tests() -> None:
    names, origin = resolve_stun_servers(PUBLIC_STUN_SERVERS)
    assert origin == "$NATPROBE_STUN_SERVERS"
    assert names and not set(names) & set(PUBLIC_STUN_SERVERS)
    for name in names:
        host, _ = split_host_port(name, 3478)
        assert ipaddress.ip_address(host).is_loopback, name


def test_the_users_configuration_is_never_read() -> None:
    assert "natprobe-test-config-" in os.environ["XDG_CONFIG_HOME"]
    assert "NATPROBE_SERVER" not in os.environ and "NATPROBE_TOKEN" not in os.environ
    assert load_user_config(config_path()).stun_servers is None
    assert resolve_server(None) is None


def test_subprocesses_inherit_the_safe_list() -> None:
    result = subprocess.run([sys.executable, "-m", "natprobe_cli", "config", "show"], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "127.0.0.1:9  (from $NATPROBE_STUN_SERVERS)" in result.stdout
    assert "stun.stunprotocol.org" not in result.stdout


def test_the_router_probe_never_leaves_loopback_outside_the_lab() -> None:
    from natprobe.lab.netns import namespace_environment
    from natprobe.measure.portmapping import gateway_from_environment

    gateway = gateway_from_environment()
    assert gateway is not None and gateway.is_loopback
    # Inside a lab namespace the lab's router is the default gateway: the override is dropped.
    assert "NATPROBE_GATEWAY" not in namespace_environment()
