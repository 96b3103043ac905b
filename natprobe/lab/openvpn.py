"""A real OpenVPN server in a lab namespace (Debian's ``openvpn``), with or without tls-auth.

Without tls-auth/tls-crypt a server answers a stranger's ``P_CONTROL_HARD_RESET_CLIENT_V2``
with its own hard reset: the echo server's ``mode: openvpn`` probe gets an answer. With
tls-auth it drops every packet without the shared HMAC key: silent, like WireGuard. The
certificates (a throw-away EC CA and server certificate, valid two days) are made with the
``openssl`` CLI in ``directory``; the process runs in the foreground, started with
:meth:`Host.spawn`, so the lab kills it by PID at teardown.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from natprobe.errors import LabError
from natprobe.lab.netns import Host
from natprobe.lab.services import wait_udp_bound

__all__ = ("openvpn_missing", "start_openvpn")

READY_TIMEOUT_S = 10.0
OPENVPN = "/usr/sbin/openvpn"


def openvpn_missing() -> str | None:
    if not Path(OPENVPN).is_file():
        return "openvpn is not installed (scripts/setup.sh installs it)"
    if shutil.which("openssl") is None:
        return "openssl is not installed"
    return None


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _certificates(directory: Path) -> None:
    if (directory / "server.crt").exists():
        return
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=natprobe-lab-ca",
             cwd=directory)
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=natprobe-lab-server", cwd=directory)
    (directory / "ext").write_text("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\n"
                                   "extendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.crt", "-days", "2", "-extfile", "ext", cwd=directory)


def start_openvpn(host: Host, port: int, directory: Path, *, tls_auth: bool = False,
                  subnet: str = "10.98.0.1") -> subprocess.Popen[Any]:
    """Run an OpenVPN server in ``host`` on UDP ``port`` (all addresses), until it is bound."""
    reason = openvpn_missing()
    if reason:
        raise LabError(reason)
    directory.mkdir(parents=True, exist_ok=True)
    _certificates(directory)
    argv = [OPENVPN, "--mode", "server", "--tls-server", "--dev", "tun", "--topology", "subnet",
            "--ifconfig", subnet, "255.255.255.0", "--ca", "ca.crt", "--cert", "server.crt", "--key", "server.key",
            "--dh", "none", "--proto", "udp", "--port", str(port), "--verb", "3", "--cd", str(directory)]
    if tls_auth:
        if not (directory / "ta.key").exists():
            subprocess.run([OPENVPN, "--genkey", "secret", str(directory / "ta.key")], check=True,
                           capture_output=True, timeout=30)
        argv += ["--tls-auth", "ta.key", "0"]
    log = directory / f"openvpn-{port}.log"
    with log.open("wb") as handle:  # a file, not a pipe nobody reads: a chatty server never blocks
        proc = host.spawn(argv, stdout=handle, stderr=subprocess.STDOUT)
    wait_udp_bound(host, proc, port, log, "openvpn", READY_TIMEOUT_S)
    return proc
