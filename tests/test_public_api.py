"""The public API is curated: ``__all__`` is a tuple that lists exactly what ``natprobe`` exports."""

from __future__ import annotations

import natprobe


def test_all_is_a_sorted_tuple_of_existing_names() -> None:
    assert isinstance(natprobe.__all__, tuple)
    for name in natprobe.__all__:
        assert hasattr(natprobe, name), name
    assert list(natprobe.__all__[1:]) == sorted(natprobe.__all__[1:])  # classes, then functions


def test_every_public_attribute_is_in_all() -> None:
    public = {
        name
        for name, value in vars(natprobe).items()
        if not name.startswith("_") and not isinstance(value, type(natprobe))  # submodules are not exports
    }
    public.discard("annotations")
    assert public == set(natprobe.__all__) - {"__version__"}


def test_exported_errors_share_one_root() -> None:
    for name in natprobe.__all__:
        value = getattr(natprobe, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, natprobe.NatprobeError), name
