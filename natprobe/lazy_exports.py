"""Exports loaded on first use (PEP 562), shared by the packages that re-export lazily.

``import natprobe.stun`` in the echo server must not pull in aiohttp and the whole client
side, and the STUN-only server must not load msgspec: the package ``__init__`` modules name
their exports in a table and import a module only when one of its names is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, MutableMapping
from typing import Any

__all__ = ("load_lazy_export",)


def load_lazy_export(package: str, table: Mapping[str, str], namespace: MutableMapping[str, Any], name: str) -> Any:
    """The value of ``name`` from the module ``table`` names for it, cached in ``namespace``."""
    module = table.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    namespace[name] = value
    return value
