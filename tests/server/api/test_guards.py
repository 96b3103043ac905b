"""The route prologue has one home: every route that reads a body goes through ``guards.accept``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROUTES = Path(__file__).resolve().parents[3] / "natprobe_server" / "api" / "routes"
PROLOGUE_STEPS = {"check_token", "read_body"}


def _called(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            function = node.func
            names.add(function.id if isinstance(function, ast.Name) else getattr(function, "attr", ""))
    return names


@pytest.mark.parametrize("path", sorted(ROUTES.glob("*.py")), ids=lambda p: p.name)
def test_routes_take_the_prologue_from_the_guards(path: Path) -> None:
    called = _called(path)
    assert not called & PROLOGUE_STEPS, f"{path.name} runs a prologue step itself: {sorted(called & PROLOGUE_STEPS)}"


def test_every_route_with_a_body_accepts_through_the_guards() -> None:
    with_body = {p.name for p in ROUTES.glob("*.py") if "accept" in _called(p)}
    assert {"probe.py", "dns.py", "exposure.py", "jamulus.py"} <= with_body
