"""natprobe.adapters.interfaces: real kernel answers on this host and inside a namespace we build."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

import netifaces
import pytest

from natprobe.addressing import AddressScope, classify
from natprobe.errors import NetworkError
from natprobe.adapters.interfaces import Gateway, read_local_context, source_address_toward

REPO = Path(__file__).resolve().parent.parent


# ---- this machine (no root needed) ---------------------------------------------------


def test_source_address_toward_loopback() -> None:
    assert source_address_toward(IPv4Address("127.0.0.1")) == IPv4Address("127.0.0.1")
    assert source_address_toward(IPv4Address("127.0.0.1"), port=443) == IPv4Address("127.0.0.1")


def test_source_address_toward_ipv6_loopback() -> None:
    if not any(
        a.address == IPv6Address("::1")
        for i in read_local_context().interfaces
        for a in i.addresses
    ):
        pytest.skip("no ::1 on this host (IPv6 disabled)")
    assert source_address_toward(IPv6Address("::1")) == IPv6Address("::1")


def test_source_address_toward_ipv4_mapped_answers_in_ipv4() -> None:
    got = source_address_toward(IPv6Address("::ffff:127.0.0.1"))
    assert got == IPv4Address("127.0.0.1")


def test_source_address_toward_maps_oserror() -> None:
    # Connecting a UDP socket to the limited broadcast address without SO_BROADCAST is
    # refused by the route lookup itself (EACCES): an OSError, and no packet leaves.
    with pytest.raises(NetworkError) as info:
        source_address_toward(IPv4Address("255.255.255.255"))
    assert isinstance(info.value.__cause__, OSError)


def test_source_address_toward_rejects_bad_port() -> None:
    with pytest.raises(ValueError):
        source_address_toward(IPv4Address("127.0.0.1"), port=70000)


def test_local_context_structure() -> None:
    ctx = read_local_context()
    names = [i.name for i in ctx.interfaces]
    assert "lo" in names
    lo = ctx.interfaces[names.index("lo")]
    assert any(
        a.address == IPv4Address("127.0.0.1")
        and a.prefix_length == 8
        and a.scope is AddressScope.LOOPBACK
        for a in lo.addresses
    )
    for interface in ctx.interfaces:
        for a in interface.addresses:
            assert a.scope is classify(a.address)
            assert a.prefix_length is None or 0 <= a.prefix_length <= a.address.max_prefixlen
            assert not (isinstance(a.address, IPv6Address) and a.address.scope_id)
    for gateway, family in ((ctx.gateway_v4, IPv4Address), (ctx.gateway_v6, IPv6Address)):
        if gateway is not None:
            assert isinstance(gateway.address, family)
            assert gateway.interface is None or gateway.interface in names
    for primary in (ctx.primary_address_v4, ctx.primary_address_v6):
        if primary is not None:
            assert ctx.interface_of(primary) is not None, f"{primary} on no interface"
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.gateway_v4 = None  # type: ignore[misc]


def test_local_context_primary_follows_the_destination() -> None:
    ctx = read_local_context(toward_v4=IPv4Address("127.0.0.5"))
    assert ctx.primary_address_v4 == IPv4Address("127.0.0.1")
    assert ctx.interface_of(IPv4Address("127.0.0.1")) is not None
    assert ctx.interface_of(IPv6Address("::ffff:127.0.0.1")) is not None
    assert ctx.interface_of(IPv4Address("127.0.0.77")) is None  # routed, not configured


# ---- netifaces' odd shapes ------------------------------------------------------------


def _fake_netifaces(
    monkeypatch: pytest.MonkeyPatch,
    interfaces: dict[str, Any],
    gateways: Any,
) -> None:
    def ifaddresses(name: str) -> Any:
        value = interfaces[name]
        if isinstance(value, Exception):
            raise value
        return value

    monkeypatch.setattr(netifaces, "interfaces", lambda: list(interfaces))
    monkeypatch.setattr(netifaces, "ifaddresses", ifaddresses)
    monkeypatch.setattr(netifaces, "gateways", lambda: gateways)


AF4, AF6 = 2, 10  # Linux values, the ones netifaces reports here


def test_odd_netifaces_shapes_are_parsed_defensively(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_netifaces(
        monkeypatch,
        {
            "eth0": {
                17: [{"addr": "02:00:00:00:00:01"}],
                AF4: [
                    {"addr": "192.168.1.20", "netmask": "255.255.255.0"},
                    {"addr": "100.64.3.4"},  # no netmask at all
                    {"addr": "10.0.0.1", "netmask": "255.0.255.0"},  # not contiguous
                    {"addr": "not-an-ip", "netmask": "255.255.255.0"},
                    {"netmask": "255.255.255.0"},  # no addr
                    "garbage",
                ],
                AF6: [
                    {"addr": "fe80::1%eth0", "netmask": "ffff:ffff:ffff:ffff::/64"},
                    {"addr": "2001:db8::5", "netmask": "ffff:ffff:ffff:fff0::"},
                    {"addr": "fd00::9", "netmask": "ffff::ffff::"},  # junk mask
                    {"addr": "10.0.0.9", "netmask": "/64"},  # wrong family for the key
                ],
            },
            "gone0": ValueError("You must specify a valid interface name."),
            "odd0": ["not", "a", "dict"],
        },
        {
            "default": {},
            AF4: [("192.168.1.1", "eth0", True)],
            AF6: [("fe80::1%eth0", "eth0", False)],
        },
    )
    ctx = read_local_context(toward_v4=IPv4Address("127.0.0.1"), toward_v6=IPv6Address("::1"))
    assert [i.name for i in ctx.interfaces] == ["eth0", "odd0"]
    got = {(str(a.address), a.prefix_length, a.scope) for a in ctx.interfaces[0].addresses}
    assert got == {
        ("192.168.1.20", 24, AddressScope.PRIVATE),
        ("100.64.3.4", None, AddressScope.SHARED),
        ("10.0.0.1", None, AddressScope.PRIVATE),
        ("fe80::1", 64, AddressScope.LINK_LOCAL),
        ("2001:db8::5", 60, AddressScope.DOCUMENTATION),
        ("fd00::9", None, AddressScope.UNIQUE_LOCAL),
    }
    assert ctx.interfaces[1].addresses == ()
    # The "default" dict was empty: the flagged list entry is used; the v6 one is not default.
    assert ctx.gateway_v4 == Gateway(IPv4Address("192.168.1.1"), "eth0")
    assert ctx.gateway_v6 is None


@pytest.mark.parametrize(
    "gateways",
    [
        {},
        {"default": None},
        {"default": {AF4: ()}},
        {"default": {AF4: ("bogus", "eth0")}},
        {"default": {AF4: ("fd00::1", "eth0")}},  # wrong family
        {AF4: [("192.168.1.1",)]},  # truncated tuple, no default flag
        {AF4: "192.168.1.1"},
        "not a mapping",
    ],
)
def test_malformed_gateways_yield_none(monkeypatch: pytest.MonkeyPatch, gateways: Any) -> None:
    _fake_netifaces(monkeypatch, {}, gateways)
    ctx = read_local_context(toward_v4=IPv4Address("127.0.0.1"), toward_v6=IPv6Address("::1"))
    assert ctx.gateway_v4 is None
    assert ctx.gateway_v6 is None


def test_default_gateway_with_zone_and_no_interface(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_netifaces(
        monkeypatch,
        {},
        {"default": {AF4: ("192.168.1.1", ""), AF6: ("fe80::1%wlan0", "wlan0")}},
    )
    ctx = read_local_context(toward_v4=IPv4Address("127.0.0.1"), toward_v6=IPv6Address("::1"))
    assert ctx.gateway_v4 == Gateway(IPv4Address("192.168.1.1"), None)
    assert ctx.gateway_v6 == Gateway(IPv6Address("fe80::1"), "wlan0")


def test_failing_interface_listing_is_a_network_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> list[str]:
        raise OSError("netlink says no")

    monkeypatch.setattr(netifaces, "interfaces", boom)
    with pytest.raises(NetworkError):
        read_local_context()


# ---- inside a network namespace we create (root only) --------------------------------

PROBE = """
import json, sys
from ipaddress import IPv4Address, IPv6Address
from natprobe.errors import NetworkError
from natprobe.adapters.interfaces import read_local_context, source_address_toward

def s(x):
    return None if x is None else str(x)

ctx = read_local_context()
out = {
    "gw4": s(ctx.gateway_v4 and ctx.gateway_v4.address),
    "gw4_if": ctx.gateway_v4 and ctx.gateway_v4.interface,
    "gw6": s(ctx.gateway_v6 and ctx.gateway_v6.address),
    "gw6_if": ctx.gateway_v6 and ctx.gateway_v6.interface,
    "primary4": s(ctx.primary_address_v4),
    "primary6": s(ctx.primary_address_v6),
    "addresses": sorted(
        [i.name, str(a.address), a.prefix_length, str(a.scope)]
        for i in ctx.interfaces for a in i.addresses
    ),
}
try:
    out["toward_shared"] = s(source_address_toward(IPv4Address("100.64.9.77")))
except NetworkError as exc:
    out["toward_shared"] = "NetworkError"
try:
    out["toward_far"] = s(source_address_toward(IPv4Address("198.51.100.7")))
except NetworkError as exc:
    out["toward_far"] = "NetworkError"
print(json.dumps(out))
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a network namespace")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 ('ip') is not installed")
    name = "npi-" + secrets.token_hex(4)
    try:
        _ip("netns", "add", name)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot create a network namespace here: {exc.stderr.strip()}")
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def _probe(ns: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.mark.lab
def test_gateway_and_primary_inside_a_namespace(netns: str) -> None:
    n = ("-n", netns)
    _ip(*n, "link", "set", "lo", "up")
    _ip(*n, "link", "add", "lan0", "type", "veth", "peer", "name", "lan1")
    _ip(*n, "addr", "add", "192.168.77.2/24", "dev", "lan0")
    _ip(*n, "addr", "add", "100.64.9.2/24", "dev", "lan1")
    _ip(*n, "-6", "addr", "add", "fd00:77::2/64", "dev", "lan0", "nodad")
    _ip(*n, "link", "set", "lan0", "up")
    _ip(*n, "link", "set", "lan1", "up")

    # Before any default route: no gateway, no primary address toward the outside.
    before = _probe(netns)
    assert before["gw4"] is None and before["gw6"] is None
    assert before["primary4"] is None and before["primary6"] is None
    assert before["toward_far"] == "NetworkError"
    assert before["toward_shared"] == "100.64.9.2"  # on-link: the route picks lan1

    _ip(*n, "route", "add", "default", "via", "192.168.77.1", "dev", "lan0")
    _ip(*n, "-6", "route", "add", "default", "via", "fd00:77::1", "dev", "lan0")
    after = _probe(netns)
    assert after["gw4"] == "192.168.77.1"
    assert after["gw4_if"] == "lan0"
    assert after["gw6"] == "fd00:77::1"
    assert after["gw6_if"] == "lan0"
    assert after["primary4"] == "192.168.77.2"
    assert after["primary6"] == "fd00:77::2"
    assert after["toward_far"] == "192.168.77.2"  # via the default route
    assert after["toward_shared"] == "100.64.9.2"  # a more specific route wins
    assert ["lan0", "192.168.77.2", 24, "private"] in after["addresses"]
    assert ["lan1", "100.64.9.2", 24, "shared"] in after["addresses"]
    assert ["lan0", "fd00:77::2", 64, "unique-local"] in after["addresses"]
    assert ["lo", "127.0.0.1", 8, "loopback"] in after["addresses"]
