"""NAT behaviour discovery on a real kernel NAT, against natprobe's server and against coturn."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter

import pytest

from natprobe.verdicts.behavior import ClassicNatType, FilteringBehavior, MappingBehavior
from natprobe.measure.discovery import DiscoveryOptions, discover_nat
from natprobe.lab import Behavior, Lab, LabConfig
from natprobe.lab.services import start_coturn, start_echo_server
from natprobe.reports.nat_report import NatReport
from tests.json_reports import assert_valid_report

pytestmark = pytest.mark.lab

EXPECTED = {
    Behavior.NO_NAT: (MappingBehavior.NO_NAT, FilteringBehavior.ENDPOINT_INDEPENDENT, ClassicNatType.OPEN_INTERNET),
    Behavior.FULL_CONE: (MappingBehavior.ENDPOINT_INDEPENDENT, FilteringBehavior.ENDPOINT_INDEPENDENT, ClassicNatType.FULL_CONE),
    Behavior.RESTRICTED_CONE: (MappingBehavior.ENDPOINT_INDEPENDENT, FilteringBehavior.ADDRESS_DEPENDENT, ClassicNatType.RESTRICTED_CONE),
    Behavior.PORT_RESTRICTED_CONE: (
        MappingBehavior.ENDPOINT_INDEPENDENT, FilteringBehavior.ADDRESS_AND_PORT_DEPENDENT, ClassicNatType.PORT_RESTRICTED_CONE),
    Behavior.SYMMETRIC: (
        MappingBehavior.ADDRESS_AND_PORT_DEPENDENT, FilteringBehavior.ADDRESS_AND_PORT_DEPENDENT, ClassicNatType.SYMMETRIC),
    Behavior.UDP_BLOCKED: (MappingBehavior.INCONCLUSIVE, FilteringBehavior.INCONCLUSIVE, ClassicNatType.UDP_BLOCKED),
}


def _start_server(lab: Lab, which: str) -> None:
    if which == "coturn":
        start_coturn(lab.server, lab.server.primary_ip, lab.server.alternate_ip)
    else:
        start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip)


def _discover(lab: Lab, options: DiscoveryOptions = DiscoveryOptions()) -> NatReport:
    with lab.client.entered():
        return asyncio.run(discover_nat(f"{lab.server.primary_ip}:3478", options=options))


@pytest.mark.parametrize("server", ["natprobe", "coturn"])
@pytest.mark.parametrize("behavior", list(EXPECTED), ids=[b.value for b in EXPECTED])
def test_every_behaviour_is_classified_right(behavior: Behavior, server: str) -> None:
    with Lab(LabConfig(behavior=behavior)) as lab:
        _start_server(lab, server)
        report = _discover(lab)
    mapping, filtering, nat_type = EXPECTED[behavior]
    assert (report.mapping.value, report.filtering.value, report.nat_type.value) == (mapping, filtering, nat_type), (
        report.mapping.reason, report.filtering.reason, report.nat_type.reason)
    if behavior is Behavior.UDP_BLOCKED:
        assert report.mapped is None
        return
    assert report.mapped is not None
    expected_public = lab.client.ip if behavior is Behavior.NO_NAT else lab.public_ip
    assert report.mapped.ip == expected_public
    assert report.local is not None and report.local.ip == lab.client.ip
    assert report.server_alternate is not None and report.server_alternate.ip == lab.server.alternate_ip
    if behavior is not Behavior.NO_NAT:
        assert report.hairpinning.value is False
        assert report.port_preservation is (behavior is not Behavior.SYMMETRIC)
        assert report.mapping_varies_by_destination is (behavior is Behavior.SYMMETRIC)
    # Evidence names the tests and where answers came from.
    assert report.mapping.evidence and all("mapping" in line for line in report.mapping.evidence)


@pytest.mark.parametrize("behavior", [Behavior.FULL_CONE, Behavior.PORT_RESTRICTED_CONE])
def test_hairpinning_is_detected(behavior: Behavior) -> None:
    with Lab(LabConfig(behavior=behavior, hairpin=True)) as lab:
        start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip)
        report = _discover(lab)
    assert report.hairpinning.value is True
    assert report.nat_type.value.value == behavior.value


def test_single_address_server_gives_inconclusive_never_a_wrong_verdict() -> None:
    with Lab(LabConfig(behavior=Behavior.FULL_CONE)) as lab:
        start_echo_server(lab.server, lab.server.primary_ip)  # one IP: RFC 5780 section 6 single-address mode
        report = _discover(lab)
    assert report.mapping.value is MappingBehavior.INCONCLUSIVE
    assert "alternate" in report.mapping.reason
    assert report.filtering.value is FilteringBehavior.INCONCLUSIVE
    assert report.nat_type.value is ClassicNatType.INCONCLUSIVE


def test_server_down_is_inconclusive() -> None:
    # How quickly: benchmarks/bounded_waits.py (a silent server on loopback).
    with Lab(LabConfig(behavior=Behavior.PORT_RESTRICTED_CONE)) as lab:
        report = _discover(lab)
    assert report.nat_type.value is ClassicNatType.INCONCLUSIVE
    assert "server" in report.nat_type.reason


@pytest.mark.slow
@pytest.mark.parametrize("behavior", [Behavior.PORT_RESTRICTED_CONE, Behavior.SYMMETRIC])
def test_verdicts_stay_right_at_ten_percent_loss(behavior: Behavior) -> None:
    runs = 15
    with Lab(LabConfig(behavior=behavior, loss_percent=10)) as lab:
        start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip)
        outcomes = Counter(_discover(lab).nat_type.value.value for _ in range(runs))
    # Never a wrong verdict; loss may leave a run honestly inconclusive, which the target
    # allows (right in at least 99 of 100 runs, measured by benchmarks.discovery --target-runs):
    # one in 15 here, so a shared machine's rare miss is not taken for a regression.
    assert set(outcomes) <= {behavior.value, "inconclusive"}, outcomes
    assert outcomes[behavior.value] >= runs - 1, outcomes


def test_fifty_ms_rtt_full_report() -> None:
    # The time a full report takes at 50 ms RTT (the "under a second" target) is measured by
    # benchmarks/discovery.py (its delay25 condition), not asserted here.
    with Lab(LabConfig(behavior=Behavior.PORT_RESTRICTED_CONE, delay_ms=25)) as lab:
        start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip)
        report = _discover(lab)
    assert report.nat_type.value is ClassicNatType.PORT_RESTRICTED_CONE
    assert report.rtt_s is not None and 0.045 < report.rtt_s < 0.09


@pytest.mark.slow
def test_mapping_lifetime_is_bracketed_in_about_the_lifetime() -> None:
    with Lab(LabConfig(behavior=Behavior.PORT_RESTRICTED_CONE, udp_timeout_s=10)) as lab:
        start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip)
        report = _discover(lab, DiscoveryOptions(lifetime_max_s=30))
    lifetime = report.lifetime
    assert lifetime is not None
    assert lifetime.at_least_s is not None and lifetime.at_most_s is not None
    # The kernel drops the entry 10.0-10.1 s after the last packet; a check takes up to 1 s.
    assert 8 <= lifetime.at_least_s <= 10 <= lifetime.at_most_s <= 14, lifetime
    # "About the lifetime, not the sum of the trials" is checked with an injected clock in
    # tests/test_lifetime.py.


def test_cli_nat_json_in_the_lab() -> None:
    with Lab(LabConfig(behavior=Behavior.SYMMETRIC)) as lab:
        start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip)
        done = lab.client.exec([sys.executable, "-m", "natprobe_cli", "nat", "--server", f"{lab.server.primary_ip}:3478", "--json"],
                               check=False, timeout=30)
    assert done.returncode == 0, done.stderr
    data = assert_valid_report(json.loads(done.stdout))
    assert data["schema"] == "natprobe/nat" and data["schema_version"] == 5
    assert data["mapping"]["value"] == "address-and-port-dependent"
    assert data["filtering"]["value"] == "address-and-port-dependent"
    assert data["nat_type"]["value"] == "symmetric"
    assert data["mapped"]["ip"] == str(lab.public_ip)
    assert data["local"]["ip"] == str(lab.client.ip)
    assert data["hairpinning"]["value"] is False
    assert {"confidence", "evidence", "reason"} <= set(data["filtering"])


def test_cli_nat_reports_unreachable_server_with_exit_3() -> None:
    with Lab(LabConfig(behavior=Behavior.PORT_RESTRICTED_CONE)) as lab:
        done = lab.client.exec([sys.executable, "-m", "natprobe_cli", "nat", "--server", f"{lab.server.primary_ip}:3478"],
                               check=False, timeout=30)
    assert done.returncode == 3, (done.stdout, done.stderr)
