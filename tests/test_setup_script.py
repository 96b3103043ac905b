"""``scripts/setup.sh`` never touches a service it did not install in the same run (issue #18, item 7).

The real script runs from a scratch copy of the repository, with every command that could
change this machine replaced by a stub on ``PATH`` that only logs its arguments: ``apt-get``,
``dpkg-query`` (it answers from the scenario's list of installed packages), ``systemctl``,
``service``, ``update-rc.d``, ``debconf-set-selections``, ``id`` (root) and the Python used
for the virtual environment. ``/etc`` is a scratch directory too. Nothing is installed,
stopped or edited on this machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "setup.sh"
ALL_PACKAGES = re.search(r"APT_PACKAGES=\((.*?)\n\)", SCRIPT.read_text(), re.S)  # to the line holding only ")"
assert ALL_PACKAGES is not None
PACKAGES = [p for line in ALL_PACKAGES.group(1).splitlines() for p in line.split("#")[0].split()]

STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> "$STUB_LOG"
"""
READS_STDIN = STUB + "cat > /dev/null\n"
"""debconf-set-selections reads its input, as the real one does (else the script's ``echo |``
could die of SIGPIPE under ``pipefail``, depending on who runs first)."""
DPKG_QUERY = """#!/bin/sh
echo "dpkg-query $*" >> "$STUB_LOG"
for package in $STUB_INSTALLED; do
  [ "$package" = "$3" ] && { echo "install ok installed"; exit 0; }
done
exit 1
"""
PYTHON = """#!/bin/sh
echo "python $*" >> "$STUB_LOG"
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  mkdir -p "$3/bin" && cp "$0" "$3/bin/python"
fi
exit 0
"""
CHANGES = re.compile(r"^(systemctl|service|update-rc\.d|debconf-set-selections|apt-get) ")


def _run(tmp_path: Path, installed: list[str]) -> tuple[list[str], Path]:
    repo, stubs, etc = tmp_path / "repo", tmp_path / "bin", tmp_path / "etc"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, repo / "scripts" / "setup.sh")
    stubs.mkdir()
    for name in ("apt-get", "systemctl", "service", "update-rc.d"):
        (stubs / name).write_text(STUB)
    (stubs / "debconf-set-selections").write_text(READS_STDIN)
    (stubs / "dpkg-query").write_text(DPKG_QUERY)
    (stubs / "id").write_text("#!/bin/sh\necho 0\n")
    (stubs / "python").write_text(PYTHON)
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    (etc / "default").mkdir(parents=True)
    (etc / "default" / "miniupnpd").write_text("START_DAEMON=1\n")
    log = tmp_path / "log"
    log.touch()
    env = {**os.environ, "PATH": f"{stubs}:/usr/bin:/bin", "STUB_LOG": str(log), "STUB_INSTALLED": " ".join(installed),
           "NATPROBE_SETUP_ETC": str(etc), "PYTHON": str(stubs / "python")}
    done = subprocess.run(["bash", str(repo / "scripts" / "setup.sh")], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "TEST machine" in done.stderr
    return log.read_text().splitlines(), etc


def _changes(log: list[str]) -> list[str]:
    return [line for line in log if CHANGES.match(line)]


def test_a_machine_with_everything_installed_is_left_alone(tmp_path: Path) -> None:
    # The self-hoster's server: nginx, coturn, miniupnpd... installed and running already.
    log, etc = _run(tmp_path, PACKAGES)
    assert _changes(log) == [], log
    assert (etc / "default" / "miniupnpd").read_text() == "START_DAEMON=1\n"
    assert any(line.startswith("python -m pip install") for line in log)


@pytest.mark.parametrize("package, service", [("coturn", "coturn"), ("nginx-light", "nginx"),
                                              ("openssh-server", "ssh"), ("redis-server", "redis-server")])
def test_only_the_service_installed_in_this_run_is_stopped(tmp_path: Path, package: str, service: str) -> None:
    log, etc = _run(tmp_path, [p for p in PACKAGES if p != package])
    changes = _changes(log)
    assert f"apt-get install -y -qq --no-install-recommends {package}" in changes, changes
    touched = [line for line in changes if not line.startswith("apt-get")]
    assert touched and all(re.search(rf"\b{re.escape(service)}\b", line) for line in touched), touched
    assert not any("miniupnpd" in line for line in changes)
    assert (etc / "default" / "miniupnpd").read_text() == "START_DAEMON=1\n"


def test_miniupnpd_installed_in_this_run_is_kept_from_starting(tmp_path: Path) -> None:
    log, etc = _run(tmp_path, [p for p in PACKAGES if p != "miniupnpd-nftables"])
    changes = _changes(log)
    assert changes.index("systemctl --root=/ mask miniupnpd.service") < changes.index(
        "apt-get install -y -qq --no-install-recommends miniupnpd-nftables")
    assert "debconf-set-selections " in changes
    assert (etc / "default" / "miniupnpd").read_text() == "START_DAEMON=0\n"
    touched = [line for line in changes if not line.startswith(("apt-get", "debconf"))]
    assert all("miniupnpd" in line for line in touched), touched


def test_chrony_installed_in_this_run_never_runs_as_a_service(tmp_path: Path) -> None:
    # Its service would set this machine's clock from public servers; the lab runs its own chronyd.
    log, _etc = _run(tmp_path, [p for p in PACKAGES if p != "chrony"])
    changes = _changes(log)
    install = changes.index("apt-get install -y -qq --no-install-recommends chrony")
    assert changes.index("systemctl --root=/ mask chrony.service") < install
    assert "update-rc.d chrony disable" in changes[install:] and "service chrony stop" in changes[install:]
    touched = [line for line in changes if not line.startswith("apt-get")]
    assert all("chrony" in line for line in touched), touched
