"""Each lab namespace's resolv.conf: ``/etc/netns/<namespace>/resolv.conf``.

``ip netns exec`` (which :meth:`Host.exec` and :meth:`Host.spawn` use) bind-mounts that file
over ``/etc/resolv.conf`` for the process it starts. Every lab writes one for each of its
namespaces, so no lab process ever asks the machine's own resolver: by default it names
``127.0.0.53`` inside the namespace itself, where nothing listens (a lookup fails at once
and no query leaves the namespace); :class:`natprobe.lab.dns_server.LabDns` points hosts at
the lab's own DNS server instead. The directories go with the lab, and those of labs whose
creator died are removed at the next lab's start.
"""

from __future__ import annotations

import shutil
from ipaddress import IPv4Address
from pathlib import Path

from natprobe.lab.netns import NETNS_DIR, PREFIX

__all__ = ("ETC_NETNS", "NO_RESOLVER", "write_resolv_conf", "remove_resolv_conf", "remove_stale_resolv_dirs")

ETC_NETNS = Path("/etc/netns")
NO_RESOLVER = IPv4Address("127.0.0.53")
"""The namespace's own loopback, where nothing listens."""


def write_resolv_conf(namespace: str, nameserver: IPv4Address = NO_RESOLVER) -> Path:
    directory = ETC_NETNS / namespace
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "resolv.conf"
    # One try, one second: glibc's resolver must not stretch a test when the server is silent.
    path.write_text(f"nameserver {nameserver}\noptions timeout:1 attempts:1\n", encoding="ascii")
    return path


def remove_resolv_conf(namespace: str) -> None:
    shutil.rmtree(ETC_NETNS / namespace, ignore_errors=True)


def remove_stale_resolv_dirs() -> list[str]:
    """Remove ``/etc/netns/np-*`` directories whose namespace is gone (a killed run left them)."""
    if not ETC_NETNS.is_dir():
        return []
    stale = [d for d in ETC_NETNS.iterdir() if d.name.startswith(PREFIX) and not (NETNS_DIR / d.name).exists()]
    for directory in stale:
        shutil.rmtree(directory, ignore_errors=True)
    return [d.name for d in stale]
