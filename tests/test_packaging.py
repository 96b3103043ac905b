"""The wheel carries all three packages: build it, install it in a fresh venv, use it from elsewhere."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_repository(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    wheels = list(dist.glob("natprobe-*.whl"))
    assert len(wheels) == 1
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheels[0])],
                   check=True, capture_output=True, timeout=300)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    probe = (
        "import natprobe, cli, echo_server, natprobe.stun, natprobe.lab, natprobe.jamulus;"
        "import pathlib; assert 'site-packages' in natprobe.__file__, natprobe.__file__;"
        "assert (pathlib.Path(natprobe.__file__).parent / 'py.typed').exists();"
        "print(natprobe.__version__)"
    )
    done = subprocess.run([str(python), "-c", probe], cwd=outside, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    helped = subprocess.run([str(env_dir / "bin" / "natprobe"), "--help"], cwd=outside,
                            capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0, helped.stderr
    for command in ("check", "nat", "serve", "jamulus"):
        assert command in helped.stdout
    # The build compiled the French catalog with Babel and shipped it in the wheel.
    french = subprocess.run([str(env_dir / "bin" / "natprobe"), "--lang", "fr", "check", "--server", "http://127.0.0.1:9"],
                            cwd=outside, capture_output=True, text=True, timeout=60)
    assert french.returncode == 2 and "indiquez au moins un port" in french.stderr, french.stderr
