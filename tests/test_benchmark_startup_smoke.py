"""The start-up benchmark runs (one launch per command) and writes its JSON; timing is its own verdict.

(``benchmarks.check`` builds a lab with the user-space wire, IPv6 and dnsmasq and runs the CLI
dozens of times: too costly for the suite; its parts are the lab tests' own.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.startup import SCENARIOS, main


def test_one_launch_of_each_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "startup.json"
    status = main(["--runs", "1", "--json", str(out)])
    assert status in (0, 1)  # 1: the goal missed on this (shared) machine; the launches still happened
    data = json.loads(out.read_text())
    assert [r["name"] for r in data["results"]] == [name for name, _first, _args in SCENARIOS]
    for result in data["results"]:
        assert len(result["runs_s"]) == 1 and 0 < result["runs_s"][0] < 10
        assert result["imports_ms"] > 0 and result["top_imports"]
    table = capsys.readouterr().out
    assert all(name in table for name, _first, _args in SCENARIOS)


def test_runs_out_of_range_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--runs", "0"])
    assert exc.value.code == 2
