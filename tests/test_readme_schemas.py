"""The README's schema facts come from ``natprobe schema`` and cannot drift (issue #18, item 18).

The list under "natprobe schema" must be that command's output, verbatim; every
``"schema": "natprobe/NAME", "schema_version": N`` (or "version N") the README quotes must be
the catalog's current version.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from natprobe.reports.catalog import SCHEMAS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_readme_lists_what_natprobe_schema_prints() -> None:
    printed = subprocess.run([sys.executable, "-m", "natprobe_cli", "schema"], capture_output=True, text=True,
                             check=True, timeout=60).stdout
    blocks = re.findall(r"```text\n(.*?)```", README, re.S)
    assert printed in blocks, "README.md's schema list differs from `natprobe schema`; paste its output:\n" + printed
    for name in SCHEMAS:
        assert f"\n{name} " in "\n" + printed  # every schema is listed, check-map, router and dns included


def test_every_schema_version_the_readme_quotes_is_current() -> None:
    quoted = re.findall(r'"schema": "natprobe/([\w-]+)", "schema_version": (\d+)', README)
    quoted += re.findall(r'"schema": "natprobe/([\w-]+)"`, version (\d+)', README)
    assert quoted, "the README quotes no schema version: this test would check nothing"
    for name, version in quoted:
        assert name in SCHEMAS, name
        assert int(version) == SCHEMAS[name].version, (name, version, SCHEMAS[name].version)
