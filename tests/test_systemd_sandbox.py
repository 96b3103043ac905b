"""One sandbox for every unit natprobe prints (natprobe.systemd_sandbox): the echo server's service and the watch's."""

from __future__ import annotations

from pathlib import Path

import pytest

from natprobe.systemd_sandbox import hidden_paths, sandbox_directives
from natprobe_cli.systemd_timer import hidden_from_units, watch_units
from natprobe_server.config.systemd_unit import systemd_unit


def _block(unit: str, block: tuple[str, ...]) -> bool:
    lines = unit.splitlines()
    return any(tuple(lines[i:i + len(block)]) == block for i in range(len(lines)))


def test_both_units_carry_the_one_sandbox() -> None:
    server = systemd_unit(Path("/etc/natprobe/serve.toml"), command=["/opt/natprobe/bin/natprobe", "serve"])
    assert _block(server, sandbox_directives(address_families=("AF_INET", "AF_INET6", "AF_UNIX"), system=True))
    for kind in ("user", "system"):
        watch = watch_units(kind, 900.0, ["--udp", "22124"], command=["/opt/natprobe/bin/natprobe"])
        service = watch.split("natprobe-watch.timer")[0]
        block = sandbox_directives(address_families=("AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"),
                                   system=kind == "system")
        assert _block(service, block), kind
        # Each directive once: nothing of the sandbox is written a second time beside the block.
        assert all(service.splitlines().count(line) == 1 for line in block), kind
    system_only = {"ProtectHome=yes", "CapabilityBoundingSet="}
    assert system_only <= set(sandbox_directives(address_families=("AF_INET",), system=True))
    assert not system_only & set(sandbox_directives(address_families=("AF_INET",), system=False))
    with pytest.raises(ValueError):
        sandbox_directives(address_families=(), system=True)


def test_what_the_sandbox_hides() -> None:
    paths = [Path("/tmp/venv/bin/natprobe"), Path("/home/ann/.venv/bin/natprobe"), Path("/opt/natprobe/bin/natprobe"),
             Path("/var/tmp/x"), Path("/run/user/1000/y"), Path("/homework/z")]
    assert hidden_paths(paths, system=True) == [paths[0], paths[1], paths[3], paths[4]]
    assert hidden_paths(paths, system=False) == [paths[0], paths[3]]  # a user's service keeps its home


def test_the_watch_service_names_a_program_its_sandbox_hides() -> None:
    in_home = ["/home/ann/.venv/bin/natprobe"]
    assert Path(in_home[0]) in hidden_from_units("system", in_home)
    assert Path(in_home[0]) not in hidden_from_units("user", in_home)
    assert Path("/tmp/v/bin/natprobe") in hidden_from_units("user", ["/tmp/v/bin/natprobe"])


def test_a_watch_service_from_a_virtualenv_under_tmp_is_printed_with_a_warning(tmp_path: Path) -> None:
    """A real virtualenv under /tmp (hidden by PrivateTmp=yes) runs the real command."""
    import os
    import subprocess

    from tests.virtualenv_script import natprobe_in_virtualenv

    script = natprobe_in_virtualenv(tmp_path / "venv")
    environment = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "LANGUAGE": "en"}
    done = subprocess.run([script, "watch", "--systemd-timer", "user", "--server", "http://127.0.0.1:9", "--udp", "22124"],
                          capture_output=True, text=True, timeout=60, check=False, env=environment)
    assert done.returncode == 0, done.stderr
    assert f"ExecStart={script} watch --once" in done.stdout  # the units are still printed
    assert "could not start" in done.stderr and str(script) in done.stderr and "/opt/natprobe" in done.stderr
