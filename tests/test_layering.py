"""The architecture of DESIGN.md, enforced on the whole house (not on a hand-kept list of modules).

Every first-level unit of ``natprobe``, ``natprobe_server`` and ``natprobe_cli`` (a
subpackage, or a module directly under it) has a rank, and imports point down. In ``natprobe``
data flows

    measure (orchestration)  ->  adapters (I/O), lab (I/O)  ->  pure units

and the pure units themselves are ordered foundation < codecs < contract < observations <
verdicts < reports < findings. Pure units import no asyncio, socket or aiohttp; ``natprobe`` never
imports ``natprobe_cli`` or ``natprobe_server``; no two units import each other, even indirectly.
The applications rank their own units the same way (:data:`SERVER_RANKS`, :data:`CLI_RANKS`).

Across the house: no import cycle between modules (imports under ``TYPE_CHECKING`` and inside
functions count too), no module imports another module's private name (a name two modules
need is public in the lower one), and nothing inside ``natprobe`` imports the lazy root
``natprobe`` itself. A new unit without a rank fails here, so the layout stays the one the
README draws.
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
    "systemd_sandbox": ("pure", 0),
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
# The echo server: limits < config < the services (stun, probes, jamulus) < the HTTP API <
# the web page (one more client of the API) < deploy (wires a running server) < command (its
# command line) < the package entry points.
SERVER_RANKS: dict[str, int] = {
    "limits": 0,
    "config": 1,
    "stun": 2,
    "probes": 2,
    "jamulus": 2,
    "api": 3,
    "web": 4,
    "deploy": 5,
    "command": 6,
    "__init__": 7,
    "__main__": 7,
}
# The CLI: terminal primitives < progress, renderers, settings and the no-server advice < the
# relay check run from here (it renders) < one module per command < main (which loads the
# commands by name) < the entry points.
CLI_RANKS: dict[str, int] = {
    "exit_codes": 0,
    "host_port": 0,
    "argparse_words": 0,
    "deferred": 0,
    "preload": 0,
    "user_config": 0,
    "terminal": 0,
    "render": 1,
    "progress": 1,
    "no_server": 1,
    "render_check": 2,
    "render_dns": 1,
    "render_history": 1,
    "systemd_timer": 1,
    "settings": 2,  # above no_server: a command that needs a server says why through it
    "render_jamulus": 2,
    "render_nat": 2,
    "render_share": 2,
    "relay_from_here": 3,
    "commands": 4,
    "main": 5,
    "__init__": 6,
    "__main__": 6,
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


# --- the applications' ranks ------------------------------------------------------------------------

APPLICATION_RANKS = {"natprobe_server": SERVER_RANKS, "natprobe_cli": CLI_RANKS}


def _app_unit(application: str, path: Path) -> str:
    rel = path.relative_to(ROOT / application)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


@pytest.mark.parametrize("application", sorted(APPLICATION_RANKS))
def test_every_application_unit_has_a_rank(application: str) -> None:
    ranks = APPLICATION_RANKS[application]
    units = {_app_unit(application, p) for p in (ROOT / application).rglob("*.py")}
    assert units <= set(ranks), f"{application} units without a rank: {sorted(units - set(ranks))}"


@pytest.mark.parametrize("application", sorted(APPLICATION_RANKS))
def test_application_imports_point_down(application: str) -> None:
    ranks = APPLICATION_RANKS[application]
    bad: list[str] = []
    for path in sorted((ROOT / application).rglob("*.py")):
        unit = _app_unit(application, path)
        if unit not in ranks:
            continue  # test_every_application_unit_has_a_rank says so
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != application or len(parts) < 2 or parts[1] not in ranks or parts[1] == unit:
                continue
            if ranks[parts[1]] >= ranks[unit]:
                bad.append(f"{path.relative_to(ROOT)} imports {name} ({unit} rank {ranks[unit]}, "
                           f"{parts[1]} rank {ranks[parts[1]]})")
    assert not bad, bad


# --- the whole house: module cycles, private names, the lazy root ---------------------------------

HOUSE = ("natprobe", "natprobe_server", "natprobe_cli")
HOUSE_FILES = sorted(p for package in HOUSE for p in (ROOT / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULE_NAMES = {_module_name(p): p for p in HOUSE_FILES}


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _nearest_module(name: str) -> str | None:
    while name and name not in MODULE_NAMES:
        name = name.rpartition(".")[0]
    return name or None


def _module_edges(path: Path) -> Iterator[tuple[str, str, ast.AST]]:
    """(imported module, imported name or "", node) for every import of a house module."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _nearest_module(alias.name)
                if target is not None:
                    yield target, "", node
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(path, node)
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULE_NAMES:
                    yield f"{base}.{alias.name}", "", node  # a submodule, not a name
                else:
                    target = _nearest_module(base)
                    if target is not None:
                        yield target, alias.name, node


@pytest.mark.parametrize("package", HOUSE)
def test_no_import_cycle_between_modules(package: str) -> None:
    """Within each package, module by module (not only unit by unit). ``natprobe/__init__``
    is left out: the public API names everything, lazily, and nothing imports it."""
    graph: dict[str, set[str]] = {}
    for path in HOUSE_FILES:
        module = _module_name(path)
        if module.split(".")[0] != package or module == "natprobe":
            continue
        graph[module] = {t for t, _, _ in _module_edges(path) if t != module and t.split(".")[0] == package}
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for other in sorted(graph.get(module, ())):
            if state.get(other) == 1:
                pytest.fail("import cycle: " + " -> ".join([*trail, module, other]))
            if other in graph and state.get(other) is None:
                visit(other, [*trail, module])
        state[module] = 2

    for module in sorted(graph):
        if state.get(module) is None:
            visit(module, [])


def _private(name: str) -> bool:
    # ``_`` is gettext's conventional name (natprobe.i18n), public by convention.
    return name.startswith("_") and not name.startswith("__") and name != "_"


def test_no_module_imports_another_modules_private_name() -> None:
    bad: list[str] = []
    for path in HOUSE_FILES:
        module = _module_name(path)
        aliases: set[str] = set()  # local names bound to house modules
        for target, name, node in _module_edges(path):
            if name and _private(name) and target != module:
                bad.append(f"{module} imports {target}.{name}")
            if not name and isinstance(node, ast.ImportFrom):
                aliases.update(a.asname or a.name for a in node.names if f"{_absolute(path, node)}.{a.name}" == target)
            elif not name and isinstance(node, ast.Import):
                aliases.update(a.asname for a in node.names if a.asname)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and _private(node.attr)):
                bad.append(f"{module} uses {node.value.id}.{node.attr}")
    assert not bad, bad


def test_nothing_inside_natprobe_imports_the_lazy_root() -> None:
    """``from natprobe import X`` inside the package runs the public API's lazy loader from within:
    a cycle through the root. Modules import the module that defines the name."""
    bad: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "natprobe":
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            elif isinstance(node, ast.Import) and any(a.name == "natprobe" for a in node.names):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, bad
