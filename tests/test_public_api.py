"""The public API is curated: ``__all__`` is a tuple that lists exactly what ``natprobe`` exports."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import ipaddress
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import natprobe
import natprobe.nat


def test_all_is_a_sorted_tuple_of_existing_names() -> None:
    assert isinstance(natprobe.__all__, tuple)
    for name in natprobe.__all__:
        assert hasattr(natprobe, name), name
    assert list(natprobe.__all__[1:]) == sorted(natprobe.__all__[1:])  # classes, then functions


def test_every_public_attribute_is_in_all() -> None:
    public = {
        name
        for name in dir(natprobe)
        if not name.startswith("_")
        and not isinstance(getattr(natprobe, name), type(natprobe))  # submodules are not exports
        and name not in ("annotations", "importlib", "logging", "TYPE_CHECKING", "Any")
    }
    assert public == set(natprobe.__all__) - {"__version__"}


def test_importing_the_codec_does_not_load_the_client_side() -> None:
    """The echo server imports natprobe.stun; aiohttp and the check must stay unloaded."""
    import subprocess
    import sys

    code = "import sys, natprobe.stun; print(sorted(m for m in ('aiohttp', 'natprobe.measure.check', 'netifaces') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_exported_errors_share_one_root() -> None:
    for name in natprobe.__all__:
        value = getattr(natprobe, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, natprobe.NatprobeError), name


def _natprobe_types(annotation: object) -> Iterator[type]:
    """Every natprobe class an annotation names, through unions, tuples, dicts and generics."""
    origin = typing.get_origin(annotation)
    if origin is not None:
        if isinstance(origin, type) and origin.__module__.startswith("natprobe"):
            yield origin
        for argument in typing.get_args(annotation):
            yield from _natprobe_types(argument)
    elif isinstance(annotation, type) and annotation.__module__.startswith("natprobe"):
        yield annotation


API_MODULES = (
    "natprobe",
    "natprobe.addressing",
    "natprobe.doctor",
    "natprobe.exposed",
    "natprobe.jamulus_check",
    "natprobe.names",
    "natprobe.nat",
    "natprobe.reach",
    "natprobe.relays",
    "natprobe.router",
)
"""The documented places of the public API: the top level and one namespaced module per topic."""


def _api() -> dict[str, ModuleType]:
    return {name: importlib.import_module(name) for name in API_MODULES}


def _homes(found: type) -> list[str]:
    return [name for name, module in _api().items()
            if found.__name__ in module.__all__ and getattr(module, found.__name__) is found]


def test_the_top_level_holds_what_a_user_starts_from() -> None:
    """About 45 names at most: entry functions, options records, reports, findings, errors."""
    assert len(natprobe.__all__) <= 45, len(natprobe.__all__)
    for name in natprobe.__all__[1:]:
        value = getattr(natprobe, name)
        kind = (
            "error" if isinstance(value, type) and issubclass(value, Exception)
            else "function" if inspect.isfunction(value)
            else "options" if name.endswith("Options") or name in ("PortSpec", "TransportProtocol")
            else "report" if name.endswith(("Report", "Session"))
            else "finding" if name in ("Finding", "Severity")
            else None
        )
        assert kind is not None, f"{name} is a component type: it belongs in a namespaced module"


def test_no_name_is_exported_from_two_places() -> None:
    seen: dict[str, str] = {}
    for name, module in _api().items():
        assert isinstance(module.__all__, tuple), name
        for export in module.__all__:
            assert hasattr(module, export), (name, export)
            if export.startswith("_") or not isinstance(getattr(module, export), type):
                continue
            assert export not in seen, f"{export} is exported from {seen[export]} and {name}"
            seen[export] = name


def test_every_type_a_public_record_holds_has_one_documented_home() -> None:
    """From each exported dataclass, follow the field types: each natprobe type met is exported
    from exactly one of :data:`API_MODULES`, and each of those is documented in the README."""
    todo = [getattr(module, n) for module in _api().values() for n in module.__all__
            if dataclasses.is_dataclass(getattr(module, n))]
    assert {"NatReport", "CheckReport", "JamulusModesReport", "CheckOptions"} <= {t.__name__ for t in todo}
    seen: set[type] = set()
    while todo:
        record = todo.pop()
        if record in seen:
            continue
        seen.add(record)
        hints = typing.get_type_hints(record, vars(sys.modules[record.__module__]))
        for field in dataclasses.fields(record):
            for found in _natprobe_types(hints[field.name]):
                homes = _homes(found)
                assert len(homes) == 1, (
                    f"{record.__name__}.{field.name} holds {found.__module__}.{found.__name__}, exported from {homes}"
                )
                if dataclasses.is_dataclass(found):
                    todo.append(found)
    assert {natprobe.nat.Verdict, natprobe.nat.Hop, natprobe.nat.LifetimeTrial, natprobe.nat.RetransmissionPolicy} <= seen


def test_every_api_module_is_documented() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name in API_MODULES[1:]:
        assert f"`{name}`" in readme, f"README does not document {name}"
        assert f":mod:`{name}`" in (natprobe.__doc__ or ""), f"natprobe's docstring does not point at {name}"


def test_every_measurement_function_takes_one_options_record() -> None:
    for function, options in (
        (natprobe.discover_nat, natprobe.DiscoveryOptions),
        (natprobe.check_ports, natprobe.CheckOptions),
        (natprobe.measure_mapping_lifetime, natprobe.LifetimeOptions),
        (natprobe.measure_jamulus_modes, natprobe.JamulusModesOptions),
        (natprobe.scan_exposure, natprobe.ExposureOptions),
        (natprobe.check_name, natprobe.NameCheckOptions),
    ):
        parameters = inspect.signature(function).parameters
        assert parameters["options"].default == options(), function.__name__
        # The same call shape everywhere: f(target..., options) positionally or by name.
        assert parameters["options"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, function.__name__
        # Besides the target and the options: only callbacks and test seams, never a knob.
        extra = set(parameters) - {"server", "server_url", "ports", "name", "options"}
        assert extra <= {"progress", "lifetime_progress", "clock", "now"}, (function.__name__, extra)


def test_local_addresses_are_ipaddress_objects() -> None:
    for options, name in (
        (natprobe.DiscoveryOptions(), "bind_ip"),
        (natprobe.CheckOptions(), "listen_ip"),
        (natprobe.LifetimeOptions(), "bind_ip"),
        (natprobe.JamulusModesOptions(), "listen_ip"),
    ):
        assert isinstance(getattr(options, name), ipaddress.IPv4Address), (type(options).__name__, name)


def test_no_public_name_shadows_a_typing_name() -> None:
    shadowing = {name for name in natprobe.__all__ if hasattr(typing, name)}
    assert shadowing == set(), shadowing  # the transport enum is TransportProtocol, not Protocol


def test_names_moved_off_the_top_level_still_work_with_a_warning() -> None:
    import warnings

    import natprobe.jamulus_check
    import natprobe.router

    for name, home in (("explain_nat", natprobe.nat), ("explain_router", natprobe.router),
                       ("explain_jamulus", natprobe.jamulus_check)):
        assert name not in natprobe.__all__ and name not in dir(natprobe) and name in home.__all__
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert getattr(natprobe, name) is getattr(home, name)
        assert [w.category for w in caught] == [DeprecationWarning], name
        assert f"{home.__name__}.{name}" in str(caught[0].message)
    try:
        natprobe.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError:
        pass
    else:
        raise AssertionError("an unknown name must raise AttributeError")
