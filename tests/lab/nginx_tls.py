"""A real nginx serving a name-based TLS virtual host inside a lab namespace.

``natprobe check --tcp 8443:https --host NAME`` must be proven against a real web server,
not a Python stand-in: nginx picks the certificate by SNI and the virtual host by ``Host``,
exactly what a self-hoster's Moodle or Seafile box does. Everything lives in one directory
(a pytest ``tmp_path``): two self-signed certificates made with the ``openssl`` CLI, the
configuration, the pid file, the logs and nginx's temp paths, so nothing touches /etc or
/var. nginx runs in the foreground as one process (``daemon off; master_process off;``)
started with :meth:`Host.spawn`, so the lab kills it by PID at teardown.

Two servers answer on the port:

* ``server_name NAME`` with a certificate for NAME: ``200`` and ``NAME``'s first label;
* the default server with a certificate for :data:`DEFAULT_NAME`: ``421`` ("misdirected"),
  so a probe that sent no SNI/Host (or the wrong one) can be told apart.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from natprobe.errors import LabError
from natprobe.lab import Host
from natprobe.lab.services import make_nginx_dirs, nginx_preamble

NGINX = "/usr/sbin/nginx"
DEFAULT_NAME = "default.invalid"
"""The default server's certificate name (RFC 6761 ``.invalid``: never a real host)."""
READY_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class NginxTls:
    """A running nginx and what it serves."""

    process: subprocess.Popen[Any]
    ip: IPv4Address
    port: int
    name: str
    directory: Path
    cert: Path
    """The named host's certificate (PEM)."""
    default_cert: Path

    @property
    def body(self) -> str:
        """What the named host answers (``200``)."""
        return self.name.split(".", 1)[0] + "\n"


def nginx_missing() -> str | None:
    """Why a TLS nginx cannot run here (``None``: it can)."""
    if not Path(NGINX).is_file():
        return f"{NGINX} is not installed (Debian nginx-light; scripts/setup.sh installs it)"
    if shutil.which("openssl") is None:
        return "the openssl CLI is not installed"
    done = subprocess.run([NGINX, "-V"], capture_output=True, text=True, timeout=10, check=False)
    if "--with-http_ssl_module" not in done.stderr + done.stdout:
        return "this nginx was built without the ssl module"
    return None


def self_signed(directory: Path, name: str, stem: str) -> tuple[Path, Path]:
    """A self-signed EC certificate for ``name`` (subject CN and SAN): ``(cert, key)``."""
    cert, key = directory / f"{stem}.crt", directory / f"{stem}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return cert, key


def config_text(directory: Path, ip: IPv4Address, port: int, name: str,
                cert: tuple[Path, Path], default_cert: tuple[Path, Path], body: str,
                http_port: int | None = None) -> str:
    """A complete nginx.conf: everything nginx writes goes below ``directory``."""
    if not re.fullmatch(r"[A-Za-z0-9.-]+", name):
        raise ValueError(f"not a plain host name: {name!r}")
    d = directory
    plain = "" if http_port is None else (
        f"    server {{\n        listen {ip}:{http_port};\n        location / {{ return 200 \"{body.strip()}\\n\"; }}\n    }}\n"
    )
    return f"""\
{nginx_preamble(d)}{plain}    server {{
        listen {ip}:{port} ssl default_server;
        server_name _;
        ssl_certificate {default_cert[0]};
        ssl_certificate_key {default_cert[1]};
        return 421 "no such site\\n";
    }}
    server {{
        listen {ip}:{port} ssl;
        server_name {name};
        ssl_certificate {cert[0]};
        ssl_certificate_key {cert[1]};
        location / {{ return 200 "{body.strip()}\\n"; }}
    }}
}}
"""


def _accepts(host: Host, ip: IPv4Address, port: int) -> bool:
    with host.entered():
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(1.0)
        sock.connect((str(ip), port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def start_nginx_tls(host: Host, ip: IPv4Address, port: int, name: str, directory: Path,
                    *, http_port: int | None = None) -> NginxTls:
    """Run nginx in ``host`` serving ``name`` over TLS on ``ip:port`` (and plain HTTP on
    ``http_port``, every name alike); wait until it accepts."""
    reason = nginx_missing()
    if reason is not None:
        raise LabError(reason)
    directory.mkdir(parents=True, exist_ok=True)
    make_nginx_dirs(directory)
    cert = self_signed(directory, name, "site")
    default_cert = self_signed(directory, DEFAULT_NAME, "default")
    body = name.split(".", 1)[0] + "\n"
    conf = directory / "nginx.conf"
    conf.write_text(config_text(directory, ip, port, name, cert, default_cert, body, http_port))
    # -e: the log used before the configuration is read; -p: relative paths stay in directory.
    argv = [NGINX, "-p", str(directory), "-e", str(directory / "error.log"), "-c", str(conf)]
    test = host.exec([*argv, "-t"], check=False, timeout=10)
    if test.returncode != 0:
        raise LabError(f"nginx rejected its configuration: {test.stderr.strip()}")
    proc = host.spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + READY_TIMEOUT_S
    for _ in range(1000):
        if _accepts(host, ip, port):
            return NginxTls(proc, ip, port, name, directory, cert[0], default_cert[0])
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            # Waiting on the process doubles as the pause between connection attempts:
            # if nginx exits instead of listening, we learn it at once.
            proc.wait(min(0.05, left))
        except subprocess.TimeoutExpired:
            continue
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        log = (directory / "error.log").read_text(errors="replace") if (directory / "error.log").exists() else ""
        raise LabError(f"nginx exited with status {proc.returncode}: {stderr.strip()} {log.strip()[-500:]}")
    raise LabError(f"nginx did not accept connections on {ip}:{port} within {READY_TIMEOUT_S:g} s")
