"""Lab configuration and address plan: pure checks that run without root."""

from __future__ import annotations

import itertools
from ipaddress import IPv4Address, IPv4Network

import pytest

from natprobe.lab import AddressPlan, Behavior, LabConfig, PortForward
from natprobe.lab import nftables
from natprobe.lab.netns import _NAME_RE

DOC_NETS = tuple(IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
RFC1918 = tuple(IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
CGN = IPv4Network("100.64.0.0/10")


def _in(ip: IPv4Address, nets: tuple[IPv4Network, ...]) -> bool:
    return any(ip in n for n in nets)


@pytest.mark.parametrize(
    ("behavior", "cgnat"),
    [(b, c) for b, c in itertools.product(Behavior, (False, True)) if not (c and b is Behavior.NO_NAT)],
)
def test_address_plan_uses_only_reserved_ranges(behavior: Behavior, cgnat: bool) -> None:
    plan = AddressPlan.for_config(LabConfig(behavior=behavior, cgnat=cgnat))
    for ip in (plan.primary_ip, plan.alternate_ip, plan.directory_ip, plan.peer_ip, plan.public_ip):
        assert _in(ip, DOC_NETS), ip
    if behavior is Behavior.NO_NAT:
        assert plan.public_ip == plan.client_ip and _in(plan.client_ip, DOC_NETS)
    else:
        assert _in(plan.client_ip, RFC1918) and plan.public_ip != plan.client_ip
    if cgnat:
        assert plan.router_wan_ip in CGN and plan.public_ip == plan.carrier_outside_ip
    else:
        assert plan.carrier_inside_ip is None and plan.router_wan_ip in plan.uplink
    assert plan.client_ip in plan.lan and plan.lan_spare_ip in plan.lan
    addresses = [
        plan.client_ip, plan.router_lan_ip, plan.lan_spare_ip, plan.router_wan_ip,
        plan.home_wan_gateway, plan.server_core_ip, plan.primary_ip, plan.alternate_ip,
        plan.directory_ip, plan.peer_core_ip, plan.peer_ip,
    ]
    assert len(set(addresses)) == len(addresses)
    # Two server addresses, for RFC 5780 CHANGE-REQUEST tests.
    assert plan.primary_ip != plan.alternate_ip


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cgnat": True, "behavior": Behavior.NO_NAT},
        {"udp_timeout_s": 0},
        {"loss_percent": -1.0},
        {"loss_percent": 100.5},
        {"reorder_percent": float("nan")},
        {"duplicate_percent": 101.0},
        {"delay_ms": -5.0},
        {"behavior": "full-cone-ish"},
        {"forwards": [PortForward("udp", 1)]},
    ],
)
def test_lab_config_rejects_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        LabConfig(**kwargs)  # type: ignore[arg-type]


def test_wire_only_when_an_impairment_needs_it() -> None:
    assert not LabConfig(loss_percent=30).needs_wire  # loss is in-kernel
    assert LabConfig(delay_ms=1).needs_wire
    assert LabConfig(reorder_percent=1).needs_wire
    assert LabConfig(duplicate_percent=1).needs_wire


@pytest.mark.parametrize(
    "kwargs",
    [
        {"protocol": "sctp", "port": 1},
        {"protocol": "udp", "port": 0},
        {"protocol": "tcp", "port": 65536},
        {"protocol": "udp", "port": 1, "to_port": 0},
        {"protocol": "udp", "port": 1, "to_ip": "192.168.77.10"},
    ],
)
def test_port_forward_rejects_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PortForward(**kwargs)  # type: ignore[arg-type]


def _spec(behavior: Behavior, hairpin: bool = False) -> nftables.RouterSpec:
    return nftables.RouterSpec(
        lan_if="lan0", wan_if="wan0", lan_net=IPv4Network("192.168.77.0/24"),
        wan_ip=IPv4Address("203.0.113.2"), default_target=IPv4Address("192.168.77.10"),
        behavior=behavior, hairpin=hairpin,
    )


def test_forward_rules_default_to_the_client_and_hairpin_drops_the_interface_match() -> None:
    fwds = (PortForward("udp", 22124), PortForward("tcp", 443, IPv4Address("192.168.77.5"), 8443))
    plain = nftables.forward_rules(_spec(Behavior.PORT_RESTRICTED_CONE), fwds)
    assert plain == [
        'iifname "wan0" ip daddr 203.0.113.2 udp dport 22124 dnat ip to 192.168.77.10:22124',
        'iifname "wan0" ip daddr 203.0.113.2 tcp dport 443 dnat ip to 192.168.77.5:8443',
    ]
    hairpin = nftables.forward_rules(_spec(Behavior.PORT_RESTRICTED_CONE, hairpin=True), fwds)
    assert all(r.startswith("ip daddr 203.0.113.2 ") for r in hairpin)


def test_loss_rule_resolution_and_zero() -> None:
    assert "< 1250 drop" in nftables.loss_ruleset("wan0", 12.5)
    assert "drop" not in nftables.loss_ruleset("wan0", 0)
    assert "add rule" not in nftables.replace_loss(0.0)
    assert nftables.replace_loss(100).count("< 10000 drop") == 2


def test_namespace_names_carry_the_creator_pid() -> None:
    m = _NAME_RE.match("np-4242-a1b2-router")
    assert m is not None and m["pid"] == "4242"
    assert _NAME_RE.match("npw-4242-a1b2-x") is None
    assert _NAME_RE.match("np-abc-a1b2-router") is None


def test_double_nat_puts_the_home_routers_wan_in_private_space_behind_a_second_nat() -> None:
    plan = AddressPlan.for_config(LabConfig(double_nat=True))
    assert str(plan.router_wan_ip) == "192.168.1.2" and str(plan.carrier_inside_ip) == "192.168.1.1"
    assert plan.public_ip == plan.carrier_outside_ip == IPv4Address("203.0.113.2")
    for bad in (dict(double_nat=True, cgnat=True), dict(double_nat=True, behavior=Behavior.NO_NAT)):
        with pytest.raises(ValueError, match="double_nat"):
            LabConfig(**bad)  # type: ignore[arg-type]
