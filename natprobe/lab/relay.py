"""A relay lab: a home host behind carrier-grade NAT reached through a VPS, added to a running lab.

::

    [client] ─ [router] ─ [carrier] ─┬─ [internet] ─ [server]   echo server 198.51.100.10/.11, DNS .53
     home, CGNAT                      └─ [peer] = the VPS 192.0.2.2
     wg0 10.9.0.2  ═══ WireGuard (userspace wireguard-go) ═══  wg0 10.9.0.1

The lab's ``peer`` namespace plays the VPS (a public address, :data:`VPS_IP`). On it:

* OpenSSH (``sshd -D``, ``GatewayPorts clientspecified``) for the home host's ``ssh -R``;
* nginx: an ``http`` server proxying by name with ``X-Forwarded-For``, and a ``stream``
  server with ``proxy_protocol on;`` (both into ``ssh -R`` ports on the VPS's loopback);
* WireGuard (Debian's ``wireguard-go`` and ``wireguard-tools``: this kernel has no WireGuard
  module, but /dev/net/tun works) to the home host, with nftables DNAT of public ports into
  the tunnel, with or without MASQUERADE; the home host with or without the policy route
  that sends replies from its tunnel address back into the tunnel.

Everything runs as processes spawned with :meth:`Host.spawn` (killed by PID when the lab
closes), with its files in one directory the caller owns (a pytest ``tmp_path``). Kept apart
from the WireGuard labs of other features: this module is the relay's own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from natprobe.errors import LabError
from natprobe.lab.netns import Host, stop_process, write_sysctls
from natprobe.lab.network import Lab
from natprobe.lab.services import make_nginx_dirs, nginx_preamble

__all__ = (
    "HOME_TUNNEL_IP",
    "POLICY_TABLE",
    "RelayLab",
    "THIRD_PARTY_IP",
    "VPS_IP",
    "VPS_TUNNEL_IP",
    "relay_lab_missing",
)

VPS_IP = IPv4Address("192.0.2.2")
"""The VPS's public address (the lab's ``peer``)."""
THIRD_PARTY_IP = IPv4Address("192.0.2.77")
"""An unrelated address on the VPS's network that nobody owns in the lab (a stale record)."""
VPS_TUNNEL_IP = IPv4Address("10.9.0.1")
HOME_TUNNEL_IP = IPv4Address("10.9.0.2")
WG_PORT = 51820
POLICY_TABLE = 51820
SSHD = "/usr/sbin/sshd"
NGINX = "/usr/sbin/nginx"
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
_READY_TIMEOUT_S = 10.0
_WG_ENV = {"WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD": "1"}


def relay_lab_missing() -> str | None:
    """Why the relay lab cannot be built here (``None``: it can)."""
    for path in (SSHD, NGINX, STREAM_MODULE, "/dev/net/tun"):
        if not Path(path).exists():
            return f"{path} is missing (scripts/setup.sh installs openssh-server, nginx, libnginx-mod-stream)"
    for tool in ("ssh", "ssh-keygen", "wireguard-go", "wg"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/setup.sh installs it)"
    return None


def _wait(what: str, ready: Any, proc: subprocess.Popen[Any] | None = None, timeout: float = _READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # bounded
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise LabError(f"{what} exited with status {proc.returncode}: {err.strip()[-400:]}")
        if ready():
            return
        time.sleep(0.05)
    raise LabError(f"{what} was not ready within {timeout:g} s")


def _tcp_open(host: Host, ip: IPv4Address, port: int) -> bool:
    with host.entered():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.3)
            return sock.connect_ex((str(ip), port)) == 0


@dataclass(frozen=True, slots=True)
class Tunnel:
    """A running ``ssh -R`` from home to the VPS."""

    process: subprocess.Popen[Any]
    remote: tuple[str, ...]
    """The ``-R`` specifications."""


class RelayLab:
    """The VPS side and the home side of a relay; see the module docstring. ``lab`` must have been
    built with ``cgnat=True`` so the home host truly cannot be reached by a port forward."""

    def __init__(self, lab: Lab, directory: Path) -> None:
        self.lab = lab
        self.vps = lab.peer
        self.home = lab.client
        self.directory = directory
        self.ssh_key = directory / "id_ed25519"
        self.tunnel: Tunnel | None = None
        self._sshd: subprocess.Popen[Any] | None = None
        self._nginx: subprocess.Popen[Any] | None = None
        self._wg: dict[str, subprocess.Popen[Any]] = {}
        self._made_run_sshd = False
        # wireguard-go's control socket is /var/run/wireguard/NAME.sock, shared by every
        # namespace: a name unique to this lab keeps parallel labs (and other features' labs) apart.
        tag = lab.run_id.replace("-", "")[-10:]
        self.wg_vps = f"rv{tag}"
        self.wg_home = f"rh{tag}"

    # ------------------------------------------------------------------ OpenSSH

    def start_sshd(self) -> None:
        """sshd on the VPS (key login for root, ``GatewayPorts clientspecified``)."""
        d = self.directory
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True, timeout=20)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.ssh_key)], check=True, timeout=20)
        (d / "authorized_keys").write_text((d / "id_ed25519.pub").read_text())
        os.chmod(d / "authorized_keys", 0o600)
        config = d / "sshd_config"
        config.write_text(
            f"ListenAddress {VPS_IP}\nPort 22\nHostKey {d / 'host_key'}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "UsePAM no\nStrictModes no\nUseDNS no\nGatewayPorts clientspecified\nAllowTcpForwarding yes\n"
            "PidFile none\nLogLevel ERROR\nClientAliveInterval 2\nClientAliveCountMax 2\n"
        )
        if not Path("/run/sshd").is_dir():  # sshd's privilege separation directory (the package makes it at boot)
            Path("/run/sshd").mkdir(mode=0o755)
            self._made_run_sshd = True
        self._sshd = self.vps.spawn([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
        _wait("sshd", lambda: _tcp_open(self.vps, VPS_IP, 22), self._sshd)

    def start_tunnel(self, *remote: str) -> Tunnel:
        """``ssh -N -R SPEC…`` from home to the VPS (through the CGNAT), ready once every
        remote port listens on the VPS."""
        self.stop_tunnel()
        argv = ["ssh", "-N", "-i", str(self.ssh_key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "ExitOnForwardFailure=yes", "-o", "LogLevel=ERROR",
                "-o", "ServerAliveInterval=2", "-o", "ConnectTimeout=5"]
        for spec in remote:
            argv += ["-R", spec]
        proc = self.home.spawn([*argv, f"root@{VPS_IP}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        listens = []
        for spec in remote:
            parts = spec.split(":")
            bind = parts[0] if len(parts) == 4 else "127.0.0.1"
            listens.append((IPv4Address(VPS_IP if bind in ("0.0.0.0", "*") else bind), int(parts[-3])))
        _wait("ssh -R", lambda: all(_tcp_open(self.vps, ip, port) for ip, port in listens), proc)
        self.tunnel = Tunnel(proc, tuple(remote))
        return self.tunnel

    def stop_tunnel(self) -> None:
        if self.tunnel is None:
            return
        stop_process(self.tunnel.process, 3.0)
        self.tunnel = None

    # ------------------------------------------------------------------ nginx

    def start_nginx(self, *, http_port: int, http_name: str, http_upstream: int,
                    stream_port: int, stream_upstream: int) -> None:
        """nginx on the VPS: ``http_name`` on ``http_port`` proxied to 127.0.0.1:``http_upstream``
        with ``X-Forwarded-For``; a stream server on ``stream_port`` to 127.0.0.1:``stream_upstream``
        with ``proxy_protocol on;``."""
        d = self.directory / "nginx"
        make_nginx_dirs(d)
        conf = d / "nginx.conf"
        conf.write_text(f"""\
{nginx_preamble(d, modules=(STREAM_MODULE,))}    server {{
        listen {VPS_IP}:{http_port} default_server;
        server_name _;
        return 421;
    }}
    server {{
        listen {VPS_IP}:{http_port};
        server_name {http_name};
        location / {{
            proxy_pass http://127.0.0.1:{http_upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 2s;
        }}
    }}
}}
stream {{
    server {{
        listen {VPS_IP}:{stream_port};
        proxy_pass 127.0.0.1:{stream_upstream};
        proxy_protocol on;
        proxy_connect_timeout 2s;
    }}
}}
""")
        self._nginx = self.vps.spawn([NGINX, "-c", str(conf), "-e", str(d / "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait("nginx", lambda: _tcp_open(self.vps, VPS_IP, http_port) and _tcp_open(self.vps, VPS_IP, stream_port),
              self._nginx)

    # ------------------------------------------------------------------ WireGuard

    def _wg_up(self, host: Host, ifname: str, address: IPv4Address, key: Path, peer_key: str, peer_args: list[str],
               listen: list[str]) -> None:
        proc = host.spawn(["wireguard-go", "-f", ifname], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env=dict(os.environ, **_WG_ENV))
        self._wg[host.name] = proc
        _wait(f"wireguard-go in {host.role}",
              lambda: host.exec(["ip", "link", "show", ifname], check=False).returncode == 0, proc)
        host.exec(["wg", "set", ifname, *listen, "private-key", str(key), "peer", peer_key, *peer_args])
        host.exec(["ip", "addr", "add", f"{address}/24", "dev", ifname])
        host.exec(["ip", "link", "set", ifname, "up"])

    def start_wireguard(self, *, dnat_tcp: tuple[int, ...], dnat_udp: tuple[int, ...]) -> None:
        """The tunnel, DNAT of ``dnat_tcp``/``dnat_udp`` on the VPS's public address into it (no
        MASQUERADE and no policy route yet: see :meth:`set_masquerade`, :meth:`set_policy_routing`)."""
        d = self.directory / "wg"
        d.mkdir(exist_ok=True)
        keys = {}
        for side in ("vps", "home"):
            private = subprocess.run(["wg", "genkey"], capture_output=True, text=True, check=True, timeout=10).stdout
            (d / side).write_text(private)
            os.chmod(d / side, 0o600)
            keys[side] = subprocess.run(["wg", "pubkey"], input=private, capture_output=True, text=True, check=True,
                                        timeout=10).stdout.strip()
        write_sysctls(self.vps.name, {"net/ipv4/ip_forward": "1"})
        self._wg_up(self.vps, self.wg_vps, VPS_TUNNEL_IP, d / "vps", keys["home"], ["allowed-ips", f"{HOME_TUNNEL_IP}/32"],
                    ["listen-port", str(WG_PORT)])
        # allowed-ips 0.0.0.0/0 at home: without MASQUERADE the replies go to any client address.
        self._wg_up(self.home, self.wg_home, HOME_TUNNEL_IP, d / "home", keys["vps"],
                    ["endpoint", f"{VPS_IP}:{WG_PORT}", "allowed-ips", "0.0.0.0/0", "persistent-keepalive", "1"], [])
        tcp = ", ".join(map(str, dnat_tcp))
        udp = ", ".join(map(str, dnat_udp))
        self.vps.exec(["nft", "-f", "-"], input=(
            "table ip relay {\n"
            "  chain pre { type nat hook prerouting priority dstnat; policy accept;\n"
            f"    iifname \"eth0\" ip daddr {VPS_IP} tcp dport {{ {tcp} }} dnat to {HOME_TUNNEL_IP}\n"
            f"    iifname \"eth0\" ip daddr {VPS_IP} udp dport {{ {udp} }} dnat to {HOME_TUNNEL_IP}\n"
            "  }\n"
            "  chain post { type nat hook postrouting priority srcnat; policy accept; }\n"
            "}\n"
        ))
        # The handshake: one ping through the tunnel, bounded.
        _wait("the WireGuard handshake", lambda: self.home.exec(
            ["ping", "-c", "1", "-W", "1", str(VPS_TUNNEL_IP)], check=False).returncode == 0, timeout=15)

    def set_masquerade(self, on: bool) -> None:
        """MASQUERADE into the tunnel on the VPS (home then sees the VPS's tunnel address)."""
        self.vps.exec(["nft", "flush", "chain", "ip", "relay", "post"])
        if on:
            self.vps.exec(["nft", "add", "rule", "ip", "relay", "post", "oifname", self.wg_vps, "masquerade"])
        self.vps.exec(["conntrack", "-F"], check=False)

    def set_policy_routing(self, on: bool) -> None:
        """At home: replies from the tunnel address go back into the tunnel (or not)."""
        self.home.exec(["ip", "rule", "del", "from", str(HOME_TUNNEL_IP), "table", str(POLICY_TABLE)], check=False)
        self.home.exec(["ip", "route", "flush", "table", str(POLICY_TABLE)], check=False)
        if on:
            self.home.exec(["ip", "rule", "add", "from", str(HOME_TUNNEL_IP), "table", str(POLICY_TABLE)])
            self.home.exec(["ip", "route", "add", "default", "dev", self.wg_home, "table", str(POLICY_TABLE)])
        self.home.exec(["conntrack", "-F"], check=False)

    def stop_home_wireguard(self) -> None:
        """The tunnel stopped at home (wireguard-go killed by PID: its interface goes with it)."""
        proc = self._wg.pop(self.home.name, None)
        if proc is None:
            return
        stop_process(proc, 3.0)
        _wait("the tunnel at home to go",
              lambda: self.home.exec(["ip", "link", "show", self.wg_home], check=False).returncode != 0)

    # ------------------------------------------------------------------ teardown

    def close(self) -> None:
        """Stop what this object started (the lab kills anything left by PID when it closes)."""
        self.stop_tunnel()
        for proc in [self._nginx, self._sshd, *self._wg.values()]:
            if proc is not None:
                stop_process(proc, 3.0)
        self._wg.clear()
        if self._made_run_sshd:
            with contextlib.suppress(OSError):
                Path("/run/sshd").rmdir()
            self._made_run_sshd = False
