"""The architecture of DESIGN.md, enforced on packages (not on a hand-kept list of modules).

Every first-level unit of ``natprobe`` (a subpackage, or a module directly under it) belongs
to exactly one layer. Data flows down and imports point down:

    measure (orchestration)  ->  adapters (I/O), lab (I/O)  ->  pure units

and the pure units themselves are ordered foundation < codecs < contract < observations <
verdicts < reports < findings. Pure units import no asyncio, socket or aiohttp; ``natprobe`` never
imports ``natprobe_cli`` or ``natprobe_server``; no two units import each other, even indirectly.
A new unit without a layer fails here, so the layout stays the one the README draws.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "natprobe"

# unit -> (layer, rank). A unit may import units of a lower rank, and of its own rank only
# when both are in the same layer family that allows it (see _allowed).
LAYERS: dict[str, tuple[str, int]] = {
    "errors": ("pure", 0),
    "lazy_exports": ("pure", 0),
    "version": ("pure", 0),
    "i18n": ("pure", 0),
    "addressing": ("pure", 0),
    "stun": ("pure", 1),
    "jamulus": ("pure", 1),
    "portmap": ("pure", 1),
    "recverr": ("pure", 1),
    "proxy_header": ("pure", 1),
    "udp_services": ("pure", 1),
    "contract": ("pure", 2),
    "observations": ("pure", 3),
    "verdicts": ("pure", 4),
    "reports": ("pure", 5),
    "findings": ("pure", 6),
    "adapters": ("io", 7),
    "lab": ("io", 7),
    "measure": ("orchestration", 8),
    "__init__": ("api", 9),
    "__main__": ("api", 9),
    # The namespaced public modules: the parts of each report, re-exported from their homes.
    "nat": ("api", 9),
    "reach": ("api", 9),
    "router": ("api", 9),
    "exposed": ("api", 9),
    "names": ("api", 9),
    "jamulus_check": ("api", 9),
    "doctor": ("api", 9),
    "relays": ("api", 9),
}
IO_MODULES = {"asyncio", "socket", "aiohttp", "selectors", "subprocess", "netifaces", "ssl", "select"}
APPLICATIONS = {"natprobe_cli", "natprobe_server"}


def _unit(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            # ``from natprobe import reports`` names a unit too.
            if node.module == "natprobe":
                yield from (f"natprobe.{alias.name}" for alias in node.names)


def _imported_unit(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "natprobe" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYERS else None


MODULES = sorted(PACKAGE.rglob("*.py"))
IDS = [str(p.relative_to(ROOT)) for p in MODULES]


def test_every_unit_has_a_layer() -> None:
    units = {_unit(p) for p in MODULES}
    assert units <= set(LAYERS), f"units without a layer: {sorted(units - set(LAYERS))}"


@pytest.mark.parametrize("path", MODULES, ids=IDS)
def test_imports_point_down(path: Path) -> None:
    unit = _unit(path)
    layer, rank = LAYERS[unit]
    bad: list[str] = []
    for name in _imports(path):
        top = name.split(".")[0]
        if top in APPLICATIONS:
            bad.append(f"{name} (natprobe never imports an application)")
        if layer == "pure" and top in IO_MODULES:
            bad.append(f"{name} (a pure unit does no I/O)")
        other = _imported_unit(name)
        if other is None or other == unit or layer == "api":
            continue
        other_layer, other_rank = LAYERS[other]
        if other_rank >= rank:
            bad.append(f"{name} ({unit} is {layer} rank {rank}; {other} is {other_layer} rank {other_rank})")
    assert not bad, f"{path.relative_to(ROOT)} imports upward or sideways: {bad}"


def _unit_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {unit: set() for unit in LAYERS}
    for path in MODULES:
        unit = _unit(path)
        for name in _imports(path):
            other = _imported_unit(name)
            if other is not None and other != unit:
                graph[unit].add(other)
    return graph


def test_no_cycles_between_units() -> None:
    graph = _unit_graph()
    graph.pop("__init__", None)  # the public API re-exports everything, lazily
    state: dict[str, int] = {}

    def visit(unit: str, trail: list[str]) -> None:
        state[unit] = 1
        for other in sorted(graph.get(unit, ())):
            if state.get(other) == 1:
                pytest.fail("import cycle between units: " + " -> ".join([*trail, unit, other]))
            if other in graph and state.get(other) is None:
                visit(other, [*trail, unit])
        state[unit] = 2

    for unit in sorted(graph):
        if state.get(unit) is None:
            visit(unit, [])


def test_no_module_name_repeats_across_units() -> None:
    """One name, one home: ``lifetime`` or ``explain`` in two layers confuses a reader."""
    seen: dict[str, list[str]] = {}
    for path in MODULES:
        if path.stem.startswith("__"):
            continue
        seen.setdefault(path.stem, []).append(str(path.relative_to(ROOT)))
    repeated = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not repeated, repeated


@pytest.mark.parametrize("application", sorted(APPLICATIONS))
def test_applications_do_not_import_each_other(application: str) -> None:
    others = APPLICATIONS - {application}
    for path in sorted((ROOT / application).rglob("*.py")):
        names = {name.split(".")[0] for name in _imports(path)}
        # ``natprobe serve`` is the one door from the CLI into the server, by design.
        if application == "natprobe_cli" and path.name == "serve.py":
            continue
        assert not names & others, f"{path.relative_to(ROOT)} imports {sorted(names & others)}"
