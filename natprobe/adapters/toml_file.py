"""Read a TOML settings file: the echo server's ``--config`` file and the CLI's settings file.

One reader, so both say the same sentences about an unreadable or malformed file; what the
keys mean stays with each caller (:mod:`natprobe_server.config.file`, the CLI settings).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from natprobe.i18n import _

__all__ = ("read_toml",)


def read_toml(
    path: Path, error: Callable[[str], Exception], *, missing: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The file's table; ``error(sentence)`` is raised when it cannot be read or is not TOML.

    With ``missing``, a file that does not exist reads as that table (an optional file).
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        if missing is not None and isinstance(exc, FileNotFoundError):
            return missing
        raise error(_("{path}: cannot read the configuration file: {error}", path=path,
                      error=exc.strerror or exc)) from None
    import tomllib  # only for a file that exists: no settings file, no TOML parser to load

    try:
        return tomllib.loads(data.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise error(_("{path}: not a valid TOML file: {error}", path=path, error=exc)) from None
    except UnicodeDecodeError:
        raise error(_("{path}: not a valid TOML file: it is not UTF-8 text", path=path)) from None
