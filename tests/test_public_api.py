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
