"""``natprobe serve --systemd-unit`` refuses a unit that could not start (issue #18, item 8).

The unit hides /tmp, /var/tmp (PrivateTmp=yes), /home, /root and /run/user (ProtectHome=yes)
from the service, so a unit whose program, code, configuration or token lies there fails at
start. Here a real virtualenv under /tmp runs the real command.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from natprobe_server.config.systemd_unit import hidden_from_unit
from tests.virtualenv_script import natprobe_in_virtualenv


def test_a_virtualenv_under_tmp_is_refused_with_where_to_install(tmp_path: Path) -> None:
    script = natprobe_in_virtualenv(tmp_path / "venv")
    done = subprocess.run([script, "serve", "--systemd-unit"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert str(script) in done.stderr and "ProtectHome=yes" in done.stderr and "/opt/natprobe" in done.stderr


def test_every_path_the_unit_needs_is_checked() -> None:
    code = Path(hidden_from_unit.__code__.co_filename).resolve().parent  # this installation's code
    program = ["/opt/natprobe/bin/natprobe", "serve"]
    expected_code = [code] if any(code.is_relative_to(d) for d in ("/tmp", "/var/tmp", "/home", "/root")) else []
    assert hidden_from_unit(Path("/etc/natprobe/serve.toml"), Path("/etc/natprobe/token"), program) == expected_code
    assert hidden_from_unit(Path("/home/ann/serve.toml"), None, program)[-1] == Path("/home/ann/serve.toml")
    assert hidden_from_unit(Path("/etc/natprobe/serve.toml"), Path("/root/token"), program)[-1] == Path("/root/token")
    assert Path("/home/ann/.venv/bin/natprobe") in hidden_from_unit(
        Path("/etc/natprobe/serve.toml"), None, ["/home/ann/.venv/bin/natprobe", "serve"])
