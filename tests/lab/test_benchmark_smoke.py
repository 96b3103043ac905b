"""The discovery benchmark: its output parsers (pure), and a --quick run on the real lab."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.discovery import (
    CellStats,
    Run,
    expected_type,
    parse_natdiscovery,
    parse_natprobe,
    parse_pystun3,
    render,
    summarize,
    targets,
)
from natprobe.verdicts.behavior import ClassicNatType
from natprobe.lab import Behavior

REPO = Path(__file__).resolve().parents[2]

# Real turnutils_natdiscovery (coturn 4.6.1) output from the lab, address lines trimmed.
ND_RESTRICTED = """
-= Mapping Behavior Discovery =-
RFC 5780 response 1
No ALG: Mapped == XOR-Mapped
RFC 5780 response 2
NAT with Endpoint Independent Mapping!
-= Filtering Behavior Discovery =-
RFC 5780 response 3
STUN receive timeout..
RFC 5780 response 4
NAT with Address Dependent Filtering!

-= Hairpinning Behavior Discovery =-
RFC 5780 response 1
STUN receive timeout..
STUN receive timeout..
"""
ND_NO_NAT = """
-= Mapping Behavior Discovery =-
RFC 5780 response 2
No NAT! (Endpoint Independent Mapping)
RFC 5780 response 3
NAT with Endpoint Independent Mapping!
-= Filtering Behavior Discovery =-
RFC 5780 response 4
No NAT! (Endpoint Independent Mapping)
RFC 5780 response 5
NAT with Endpoint Independent Filtering!
-= Hairpinning Behavior Discovery =-
RFC 5780 response 1
Received a request (maybe a successful hairpinning)
"""
ND_SYMMETRIC = """
-= Mapping Behavior Discovery =-
RFC 5780 response 2
RFC 5780 response 3
RFC 5780 response 4
NAT with Address and Port Dependent Mapping!
-= Filtering Behavior Discovery =-
RFC 5780 response 5
STUN receive timeout..
STUN receive timeout..
NAT with Address and Port Dependent Filtering!
"""
ND_SILENT = """
-= Mapping Behavior Discovery =-
STUN receive timeout..
-= Filtering Behavior Discovery =-
STUN receive timeout..

-= Hairpinning Behavior Discovery =-
STUN receive timeout..
"""


def test_natdiscovery_output_maps_to_classic_types() -> None:
    restricted = parse_natdiscovery(ND_RESTRICTED)
    assert (restricted.mapping, restricted.filtering) == ("endpoint-independent", "address-dependent")
    assert restricted.nat_type is ClassicNatType.RESTRICTED_CONE
    assert restricted.hairpinning is False
    no_nat = parse_natdiscovery(ND_NO_NAT)
    assert no_nat.mapping == "no-nat" and no_nat.nat_type is ClassicNatType.OPEN_INTERNET
    assert no_nat.hairpinning is True
    assert parse_natdiscovery(ND_SYMMETRIC).nat_type is ClassicNatType.SYMMETRIC
    silent = parse_natdiscovery(ND_SILENT)
    assert silent.nat_type is ClassicNatType.UDP_BLOCKED and silent.hairpinning is None


def test_natdiscovery_half_an_answer_is_inconclusive_not_a_verdict() -> None:
    mapping_only = ND_SYMMETRIC.split("-= Filtering")[0].replace("NAT with Address and Port Dependent Mapping!", "")
    assert parse_natdiscovery(mapping_only).nat_type is ClassicNatType.INCONCLUSIVE
    eim_no_filtering = "-= Mapping Behavior Discovery =-\nRFC 5780 response 1\nNAT with Endpoint Independent Mapping!\n"
    assert parse_natdiscovery(eim_no_filtering).nat_type is ClassicNatType.INCONCLUSIVE


@pytest.mark.parametrize(("name", "expected"), [
    ("Full Cone", ClassicNatType.FULL_CONE),
    ("Restric NAT", ClassicNatType.RESTRICTED_CONE),
    ("Restric Port NAT", ClassicNatType.PORT_RESTRICTED_CONE),
    ("Symmetric NAT", ClassicNatType.SYMMETRIC),
    ("Open Internet", ClassicNatType.OPEN_INTERNET),
    ("Blocked", ClassicNatType.UDP_BLOCKED),
    ("Symmetric UDP Firewall", ClassicNatType.SYMMETRIC_UDP_FIREWALL),
    ("Meet an error, when do Test1 on Changed IP and Port", ClassicNatType.INCONCLUSIVE),
])
def test_pystun3_names(name: str, expected: ClassicNatType) -> None:
    outcome = parse_pystun3(f"NAT Type: {name}\nExternal IP: None\nExternal Port: None\n")
    assert outcome.nat_type is expected and outcome.detail == name


def test_natprobe_json_and_garbage() -> None:
    good = parse_natprobe(json.dumps({"nat_type": {"value": "symmetric"}, "mapping": {"value": "address-and-port-dependent"},
                                      "filtering": {"value": "address-and-port-dependent"},
                                      "hairpinning": {"value": False}, "duration_ms": 612.5}))
    assert good.nat_type is ClassicNatType.SYMMETRIC and good.protocol_s == pytest.approx(0.6125)
    assert good.hairpinning is False and good.mapping == "address-and-port-dependent"
    assert parse_natprobe("Traceback (most recent call last):").nat_type is ClassicNatType.INCONCLUSIVE
    assert parse_natprobe('{"nat_type": {"value": "nonsense"}}').nat_type is ClassicNatType.INCONCLUSIVE
    assert parse_natprobe('{"nat_type": "symmetric"}').nat_type is ClassicNatType.INCONCLUSIVE  # v1: not read


def test_expected_types() -> None:
    assert expected_type(Behavior.NO_NAT) is ClassicNatType.OPEN_INTERNET
    assert expected_type(Behavior.UDP_BLOCKED) is ClassicNatType.UDP_BLOCKED
    assert expected_type(Behavior.PORT_RESTRICTED_CONE) is ClassicNatType.PORT_RESTRICTED_CONE


def _run(tool: str, wall: float, correct: bool = True, condition: str = "delay25",
         behavior: str = "port-restricted-cone", protocol: float | None = None) -> Run:
    return Run(tool=tool, behavior=behavior, condition=condition, index=0, expected=behavior,
               verdict=behavior if correct else "inconclusive", correct=correct, wall_s=wall,
               protocol_s=protocol, mapping=None, filtering=None, hairpinning=None, exit_codes=(0,),
               timed_out=False, detail="")


def test_targets_use_medians_and_judge_ratios() -> None:
    runs = [_run("natprobe", w, protocol=0.7) for w in (1.0, 1.2, 9.0)]  # one outlier: median 1.2
    runs += [_run("natdiscovery", 12.0), _run("pystun3", 16.0)]
    runs += [_run("natprobe", 1.0, correct=i != 0, condition="loss10", protocol=0.8) for i in range(100)]
    stats = summarize(runs)
    first: CellStats = stats[0]
    assert (first.tool, first.runs, first.median_wall_s, first.correct) == ("natprobe", 3, 1.2, 3)
    by_name = {t.name: t for t in targets(stats)}
    nd = by_name["port-restricted, delay25: natprobe >= 6x faster than natdiscovery"]
    assert nd.met is True and "10.0x" in nd.measured
    py = by_name["port-restricted, delay25: natprobe >= 15x faster than pystun3"]
    assert py.met is False and "13.3x" in py.measured
    assert by_name["port-restricted, clean: natprobe >= 6x faster than natdiscovery"].met is None
    loss = by_name["natprobe right in >= 99 of 100 runs at 10 % loss (port-restricted)"]
    assert loss.met is True and loss.measured.startswith("99/100")
    one_s = by_name["natprobe full report < 1 s at 50 ms RTT (delay25), every behaviour"]
    assert one_s.met is True and "0.70 s" in one_s.measured
    table = render(stats, runs)
    assert "99/100" in table and "inconclusive x1" in table


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.interop
def test_quick_benchmark_times_all_three_tools(tmp_path: Path) -> None:
    out = tmp_path / "discovery.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.discovery", "--quick", "--behaviors", "port-restricted-cone",
         "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["complete"] is True
    runs = data["runs"]
    assert {r["tool"] for r in runs} == {"natprobe", "natdiscovery", "pystun3"}
    # One cell is enough for a smoke test (the benchmark's own run covers every behaviour).
    assert {(r["condition"], r["behavior"]) for r in runs} == {("clean", "port-restricted-cone")}
    natprobe = [r for r in runs if r["tool"] == "natprobe"]
    assert natprobe and all(r["correct"] for r in natprobe), natprobe
    # The in-process protocol time is recorded and is part of the whole run's wall time.
    assert all(r["protocol_s"] is not None and 0 < r["protocol_s"] < r["wall_s"] for r in natprobe)
    for r in runs:
        assert not r["timed_out"], r
        assert r["verdict"] != "inconclusive", r  # every tool ran and its output was understood
    assert len([r for r in runs if r["tool"] == "natdiscovery"][0]["exit_codes"]) == 2  # -m -f, then -H
    assert {c["tool"] for c in data["cells"]} == {"natprobe", "natdiscovery", "pystun3"}
    # natprobe's CLI start-up is sampled once per cell, to explain wall - in-proc.
    assert len(data["natprobe_cli_startup_s"]) == 1 and all(0 < t < 30 for t in data["natprobe_cli_startup_s"])
    assert "Targets" in done.stdout and "port-restricted-cone" in done.stdout
