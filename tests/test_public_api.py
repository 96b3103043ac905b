"""The public API is curated: ``__all__`` is a tuple that lists exactly what ``natprobe`` exports."""

from __future__ import annotations

import dataclasses
import inspect
import ipaddress
import sys
import typing
from collections.abc import Iterator

import natprobe


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


def test_every_type_a_public_record_holds_is_exported() -> None:
    """From each exported dataclass, follow the field types: each natprobe type met is exported too."""
    todo = [getattr(natprobe, n) for n in natprobe.__all__ if dataclasses.is_dataclass(getattr(natprobe, n))]
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
                assert getattr(natprobe, found.__name__, None) is found, (
                    f"{record.__name__}.{field.name} holds {found.__module__}.{found.__name__}, not exported from natprobe"
                )
                if dataclasses.is_dataclass(found):
                    todo.append(found)
    assert {natprobe.Verdict, natprobe.Hop, natprobe.LifetimeTrial, natprobe.RetransmissionPolicy} <= seen


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
