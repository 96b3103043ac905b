"""The wheel carries all three packages and installs small: build it, install it without extras
in a fresh venv (the client), use it from elsewhere; the server extra is what the HTTP API needs."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

import natprobe

ROOT = Path(__file__).resolve().parent.parent


def test_the_version_is_written_once() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "natprobe/version.py"
    assert re.fullmatch(r"\d+\.\d+\.\d+", natprobe.__version__)


def test_dependencies_match_use() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {re.split(r"[<>=\[ ]", d)[0] for d in project["dependencies"]}
    assert runtime == {"aiohttp", "dnspython", "msgspec", "netifaces-plus", "async-upnp-client"}
    server = {re.split(r"[<>=\[ ]", d)[0] for d in project["optional-dependencies"]["server"]}
    assert server == {"asyncssh", "cryptography", "prometheus-client"}
    assert any(d.startswith("aioice") for d in project["optional-dependencies"]["test"])
    # Nothing outside the echo server's HTTP API and the tests imports them.
    for package, allowed in (
        ("cryptography", {"natprobe_server/probes/probe_back.py"}),
        ("asyncssh", {"natprobe_server/probes/exposure_scan.py"}),
        ("prometheus_client", {"natprobe_server/api/metrics.py"}),
        ("aioice", set()),
        ("async_upnp_client", {"natprobe/adapters/upnp_igd.py"}),  # UPnP IGD stays behind one adapter
    ):
        users = {
            str(path.relative_to(ROOT))
            for top in ("natprobe", "natprobe_cli", "natprobe_server")
            for path in (ROOT / top).rglob("*.py")
            if re.search(rf"^\s*(from|import) {package}\b", path.read_text(), re.MULTILINE)
        }
        assert users == allowed, (package, users)


@pytest.mark.slow
def test_client_wheel_installs_and_runs_outside_the_repository(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    wheels = list(dist.glob("natprobe-*.whl"))
    assert len(wheels) == 1 and f"natprobe-{natprobe.__version__}-" in wheels[0].name
    # Everything the wheel installs lives under a name that starts with natprobe: no generic
    # top-level `cli` or `echo_server` to clash with other software in site-packages.
    with zipfile.ZipFile(wheels[0]) as wheel:
        tops = {name.split("/")[0] for name in wheel.namelist()}
        # The web checker's files ship with the echo server (served from the package).
        assert {f"natprobe_server/web/static/{n}" for n in ("index.html", "app.js", "style.css", "icon.svg")} <= set(
            wheel.namelist())
    assert {top for top in tops if not top.startswith("natprobe")} == set(), tops
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheels[0])],
                   check=True, capture_output=True, timeout=300)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    probe = (
        "import importlib.util, natprobe, natprobe_cli, natprobe_server, natprobe.stun, natprobe.lab, natprobe.jamulus;"
        "import pathlib; assert 'site-packages' in natprobe.__file__, natprobe.__file__;"
        "assert (pathlib.Path(natprobe.__file__).parent / 'py.typed').exists();"
        "assert importlib.util.find_spec('cryptography') is None, 'the client install pulled in the server extra';"
        "assert importlib.util.find_spec('asyncssh') is None, 'the client install pulled in the server extra';"
        "assert importlib.util.find_spec('prometheus_client') is None, 'the client install pulled in the server extra';"
        "assert importlib.util.find_spec('aioice') is None, 'aioice is a test dependency';"
        "print(natprobe.__version__)"
    )
    done = subprocess.run([str(python), "-c", probe], cwd=outside, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == natprobe.__version__
    natprobe_bin = str(env_dir / "bin" / "natprobe")
    helped = subprocess.run([natprobe_bin, "--help"], cwd=outside, capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0, helped.stderr
    for command in ("check", "nat", "serve", "jamulus", "exposure", "schema"):
        assert command in helped.stdout
    nat_help = subprocess.run([natprobe_bin, "nat", "--help"], cwd=outside, capture_output=True, text=True, timeout=60)
    assert nat_help.returncode == 0 and "--server" in nat_help.stdout, nat_help.stderr
    schema = subprocess.run([natprobe_bin, "schema", "nat"], cwd=outside, capture_output=True, text=True, timeout=60)
    assert schema.returncode == 0 and '"natprobe/nat"' in schema.stdout, schema.stderr
    # The HTTP API needs the server extra: one clear line, no traceback, before anything binds.
    serve = subprocess.run([natprobe_bin, "serve", "--primary", "127.0.0.1", "--port", "0", "--http-port", "0"],
                           cwd=outside, capture_output=True, text=True, timeout=60)
    assert serve.returncode == 2 and "pip install '.[server]' in the natprobe clone" in serve.stderr and "PyPI" in serve.stderr, serve.stderr
    assert "Traceback" not in serve.stderr
    # The build compiled the French catalog with Babel and shipped it in the wheel.
    french = subprocess.run([natprobe_bin, "--lang", "fr", "check", "--server", "http://127.0.0.1:9"],
                            cwd=outside, capture_output=True, text=True, timeout=60)
    assert french.returncode == 2 and "indiquez au moins un port" in french.stderr, french.stderr
