"""Architecture rules from DESIGN.md, enforced: pure modules do no I/O; natprobe imports no application."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = [
    "natprobe/stun",
    "natprobe/behavior",
    "natprobe/jamulus",
    "natprobe/addressing.py",
    "natprobe/topology.py",
    "natprobe/reachability.py",
    "natprobe/report.py",
    "natprobe/explain.py",
    "natprobe/jamulus_explain.py",
    "natprobe/errors.py",
]
IO_MODULES = {"asyncio", "socket", "aiohttp", "selectors", "subprocess", "netifaces", "ssl"}


def _files(entry: str) -> list[Path]:
    path = ROOT / entry
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", [p for entry in PURE for p in _files(entry)], ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_modules_import_no_io(path: Path) -> None:
    offending = {name for name in _imports(path) if name.split(".")[0] in IO_MODULES}
    offending |= {name for name in _imports(path) if name.startswith("natprobe.transport") or name in (
        "natprobe.discovery", "natprobe.check", "natprobe.netinfo", "natprobe.hops", "natprobe.lifetime", "natprobe.lab")}
    assert not offending, f"{path} is pure but imports {sorted(offending)}"


@pytest.mark.parametrize("path", sorted((ROOT / "natprobe").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_library_never_imports_the_applications(path: Path) -> None:
    applications = {name for name in _imports(path) if name.split(".")[0] in ("cli", "echo_server")}
    assert not applications, f"{path} imports {sorted(applications)}"
