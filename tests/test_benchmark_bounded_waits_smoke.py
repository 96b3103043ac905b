"""The bounded-waits benchmark runs (one run per scenario) and writes its JSON; timing is its own verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.bounded_waits import SCENARIOS, main


def test_one_run_of_every_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "waits.json"
    status = main(["--runs", "1", "--json", str(out)])
    assert status in (0, 1)  # 1: a bound missed on this (shared) machine; the scenarios still ran
    data = json.loads(out.read_text())
    assert [r["name"] for r in data["results"]] == [s.name for s, _ in SCENARIOS]
    assert all(len(r["runs_s"]) == 1 and r["runs_s"][0] >= 0 for r in data["results"])
    table = capsys.readouterr().out
    assert all(s.name in table for s, _ in SCENARIOS)


def test_runs_out_of_range_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--runs", "0"])
    assert exc.value.code == 2
