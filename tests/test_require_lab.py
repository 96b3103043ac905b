"""``NATPROBE_REQUIRE_LAB=1`` turns every skip of a ``lab`` or ``interop`` test into a failure,
wherever the test lives and whatever skipped it (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SAMPLE = '''
import pytest

@pytest.mark.interop
def test_interop_skipped_in_body():
    pytest.skip("coturn is not installed")

@pytest.mark.lab
@pytest.mark.skipif(True, reason="no namespaces here")
def test_lab_skipped_by_marker():
    pass

def test_plain_skip_stays_a_skip():
    pytest.skip("no IPv6 loopback")
'''


def _run(tmp_path: Path, require: bool) -> str:
    sample = tmp_path / "test_sample.py"
    sample.write_text(SAMPLE)
    env = {k: v for k, v in os.environ.items() if k != "NATPROBE_REQUIRE_LAB"}
    if require:
        env["NATPROBE_REQUIRE_LAB"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q", "-W", "ignore::pytest.PytestUnknownMarkWarning", "-rfEs", str(sample)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    return done.stdout


def test_skips_of_lab_and_interop_tests_fail_when_the_lab_is_required(tmp_path: Path) -> None:
    out = _run(tmp_path, require=True)
    # A skip during setup (skipif, a fixture) fails as an error, one in the body as a failure.
    assert "1 failed, 1 skipped" in out and "1 error" in out, out
    assert "this interop test was skipped: coturn is not installed" in out
    assert "this lab test was skipped: no namespaces here" in out


def test_without_the_requirement_they_skip(tmp_path: Path) -> None:
    assert "3 skipped" in _run(tmp_path, require=False)
