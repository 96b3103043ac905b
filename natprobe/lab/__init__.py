"""A real Linux NAT in network namespaces, shared by the tests, benchmarks and the demo.

::

    from natprobe.lab import Lab, LabConfig, Behavior, require_lab

    if (reason := require_lab()) is None:
        with Lab(LabConfig(behavior=Behavior.SYMMETRIC)) as lab:
            with lab.client.entered():
                ...  # sockets made here live behind the NAT

Modules: :mod:`~natprobe.lab.config` (what to build, the address plan),
:mod:`~natprobe.lab.nftables` (the rulesets that give each RFC 4787 behaviour),
:mod:`~natprobe.lab.netns` (namespaces, processes, :class:`Host`),
:mod:`~natprobe.lab.network` (:class:`Lab`), :mod:`~natprobe.lab.wire` (the
user-space delay/reorder/duplicate bridge) and :mod:`~natprobe.lab.miniupnpd` (a real
miniupnpd -- UPnP IGD, NAT-PMP, PCP -- on the home router). Needs root, iproute2, nftables and
conntrack-tools; :func:`require_lab` says what is missing.
"""

from __future__ import annotations

from natprobe.lab.config import AddressPlan, Behavior, LabConfig, PortForward
from natprobe.lab.netns import Host, cleanup_stale_namespaces, require_lab
from natprobe.lab.network import Lab, RouterHost, ServerHost

__all__ = (
    "AddressPlan",
    "Behavior",
    "Host",
    "Lab",
    "LabConfig",
    "PortForward",
    "RouterHost",
    "ServerHost",
    "cleanup_stale_namespaces",
    "require_lab",
)
