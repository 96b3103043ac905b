"""natprobe as an ordinary user (a user this module creates, removed at the end) on a real NAT.

Every command runs without root: no traceback, no wrong verdict, and each conclusion that
needed a privilege names itself and the command that would allow it. The user runs the
system's Python of the same version as the test's (the test interpreter lives under /root,
which an ordinary user cannot enter) with this checkout and its virtualenv's packages on
``PYTHONPATH``; its settings directory is its own. The lab: a home router forwarding UDP
22124 (free: natprobe listens as the user), UDP 51820 (a real WireGuard, as root), TCP 443
(a real nginx TLS virtual host, as root) and TCP 80 (nothing holds it), plus UDP 22125 not
forwarded. Traffic stays inside the namespaces made here.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import stat
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import natprobe
from natprobe.lab import Lab, LabConfig, PortForward
from natprobe.lab.dns_server import LabDns
from natprobe.lab.netns import namespace_environment
from natprobe.lab.services import start_echo_server
from natprobe.lab.wireguard import start_wireguard, wireguard_missing
from tests.json_reports import assert_valid_report
from tests.lab.nginx_tls import nginx_missing, start_nginx_tls

pytestmark = [pytest.mark.lab, pytest.mark.interop]

OPEN, CLOSED, WIREGUARD, HTTPS, HTTP = 22124, 22125, 51820, 443, 80
SITE = "moodle.example.test"
SYSTEM_PYTHON = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
CLI_TIMEOUT_S = 60.0


@dataclass
class UserLab:
    lab: Lab
    url: str
    user: str
    uid: int
    gid: int
    home: Path


@pytest.fixture(scope="module")
def user_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UserLab]:
    for reason in (wireguard_missing(), nginx_missing(),
                   None if Path(SYSTEM_PYTHON).is_file() else f"{SYSTEM_PYTHON} is missing"):
        if reason:
            pytest.skip(reason)
    name = "npuser" + secrets.token_hex(3)
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True, timeout=30)
    home = Path(tempfile.mkdtemp(prefix="natprobe-user-"))
    opened = _let_others_traverse(_code_paths())
    try:
        entry = pwd.getpwnam(name)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        forwards = (PortForward("udp", OPEN), PortForward("udp", WIREGUARD), PortForward("tcp", HTTPS),
                    PortForward("tcp", HTTP))
        with Lab(LabConfig(forwards=forwards)) as lab, LabDns(lab) as dns:
            dns.serve({SITE: [lab.public_ip]})
            dns.use(lab.client)
            dns.use(lab.server)  # before the echo server starts: its outside view resolves through it
            echo = start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=8080)
            start_wireguard(lab.client, WIREGUARD)
            start_nginx_tls(lab.client, lab.client.ip, HTTPS, SITE, tmp_path_factory.mktemp("nginx"))
            yield UserLab(lab, echo.http_url, name, entry.pw_uid, entry.pw_gid, home)
    finally:
        for directory, mode in opened:
            os.chmod(directory, mode)
        shutil.rmtree(home, ignore_errors=True)
        subprocess.run(["userdel", name], check=False, capture_output=True, timeout=30)


def _code_paths() -> tuple[Path, Path]:
    """The checkout and the virtual environment's packages the user's Python imports."""
    return Path(natprobe.__file__).resolve().parent.parent, Path(sysconfig.get_paths()["purelib"]).resolve()


def _let_others_traverse(paths: tuple[Path, ...]) -> list[tuple[Path, int]]:
    """Give "others" what the created user needs to import the code it runs, where it is
    missing (a checkout under /root or in a private temporary directory): search permission on
    every directory above ``paths``, and read permission on ``paths`` themselves (Python lists
    the directories it imports from). Returns what to restore."""
    changed: dict[Path, int] = {}
    for path in paths:
        for directory, bits in ((path, stat.S_IXOTH | stat.S_IROTH), *((d, stat.S_IXOTH) for d in path.parents)):
            mode = stat.S_IMODE(directory.stat().st_mode)
            if mode & bits != bits:
                changed.setdefault(directory, mode)  # the first mode seen is the original
                os.chmod(directory, mode | bits)
    return list(changed.items())


def _as_user(u: UserLab, *args: str) -> subprocess.CompletedProcess[str]:
    checkout, packages = _code_paths()
    env = {**namespace_environment(), "HOME": str(u.home), "XDG_CONFIG_HOME": str(u.home),
           "PYTHONPATH": f"{checkout}:{packages}", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    argv = ["setpriv", f"--reuid={u.uid}", f"--regid={u.gid}", "--clear-groups",
            SYSTEM_PYTHON, "-m", "natprobe_cli", *args]
    done = u.lab.client.exec(argv, check=False, timeout=CLI_TIMEOUT_S, env=env, cwd=str(u.home))
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.stdout, done.stderr
    return assert_valid_report(json.loads(done.stdout))


def test_the_user_is_really_unprivileged(user_lab: UserLab) -> None:
    done = _as_user(user_lab, "doctor", "--json")
    assert done.returncode == 0
    data = _json(done)
    assert data["privileged"] is False
    facilities = {f["facility"]: f for f in data["facilities"]}
    watch = facilities["arrival-watch"]
    assert watch["available"] is False and watch["missing"] == "permission"
    assert "sudo natprobe" in watch["remedy"] and "setcap cap_net_raw+ep" in watch["remedy"]
    assert "--copies" in watch["remedy"]  # the system Python must not get the capability
    assert facilities["hop-trace"]["available"] is True  # IP_RECVERR needs no privilege
    low = facilities["bind-below-1024"]
    assert low["available"] is False and low["missing"] == "permission"
    assert "setcap cap_net_bind_service+ep" in low["remedy"]


def test_check_as_a_user_names_every_limit_and_draws_no_wrong_conclusion(user_lab: UserLab) -> None:
    done = _as_user(user_lab, "check", "--udp", f"{OPEN},{CLOSED},{WIREGUARD}", "--tcp", f"{HTTPS},{HTTP}",
                    "--host", SITE, "--server", user_lab.url, "--json", "--no-router")
    assert done.returncode == 1, done.stderr
    data = _json(done)
    ports = {(p["protocol"], p["port"]): p for p in data["ports"]}
    assert ports[("udp", OPEN)]["status"] == "reachable"  # natprobe listens above 1024 as anyone
    closed = ports[("udp", CLOSED)]
    assert closed["status"] == "not-forwarded-or-filtered" and closed["reachable"] is False
    assert "this host's own" in closed["reason"] and "needs a privilege" in closed["reason"]
    wireguard = ports[("udp", WIREGUARD)]
    assert wireguard["status"] == "not-tested" and wireguard["reachable"] is None
    assert "could not watch for it" in wireguard["reason"]
    assert any(a.startswith("Run the check with the packet watch allowed: sudo natprobe") for a in wireguard["advice"])
    # Port 443 below 1024: natprobe may not bind it, but nginx holds it: the TLS probe decides.
    https = ports[("tcp", HTTPS)]
    assert https["status"] == "reachable" and https["details"]["tls"]["subject_cn"] == SITE, https
    # Port 80 below 1024, held by nothing: nothing to speak to, and natprobe may not listen.
    http = ports[("tcp", HTTP)]
    assert http["status"] == "not-tested" and "ports below 1024" in http["reason"]
    assert "sudo natprobe check --tcp 80" in http["reason"] and "cap_net_bind_service" in http["reason"]
    assert [(e["facility"], e["missing"]) for e in data["limits"]] == [("arrival-watch", "permission"),
                                                                      ("bind-below-1024", "permission")]


def test_check_as_a_user_in_text_says_what_is_limited(user_lab: UserLab) -> None:
    done = _as_user(user_lab, "check", "--udp", str(CLOSED), "--server", user_lab.url, "--no-router",
                    "--lang", "fr")
    assert done.returncode == 1, done.stderr
    assert "limite : natprobe n'a pas pu guetter" in " ".join(done.stdout.split()), done.stdout


@pytest.mark.parametrize("command", [
    ("nat", "--server", "{server}:3478", "--json"),
    ("exposure", "--server", "{url}", "--json"),
    ("dns", SITE, "--server", "{url}", "--json"),
    ("router", "--json"),
    ("schema", "check"),
    ("config", "show"),
    ("jamulus", "ping", "{server}:22124", "--timeout", "1", "--json"),
])
def test_the_other_commands_run_as_a_user(user_lab: UserLab, command: tuple[str, ...]) -> None:
    args = [a.format(server=user_lab.lab.server.primary_ip, url=user_lab.url) for a in command]
    done = _as_user(user_lab, *args)
    assert done.returncode in (0, 1), (done.returncode, done.stdout[-500:], done.stderr[-500:])
    if "--json" in args:
        data = _json(done)
        # Nothing these measurements lean on needs a privilege: a user's report has no limit to name.
        assert data.get("limits", []) == [], data["limits"]
