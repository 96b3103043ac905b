"""``natprobe serve --config FILE.toml``: the same options as the command line, in a TOML file.

Every long option is a key, spelled like the option without its dashes, ``-`` becoming ``_``
(``--primary-public`` → ``primary_public``, ``--no-tcp`` → ``no_tcp = true``)::

    primary = "10.0.0.5"
    primary_public = "203.0.113.20"
    alternate = "10.0.0.6"
    alternate_public = "203.0.113.21"
    http_port = 8080
    http_token_file = "/etc/natprobe/token"

The keys are read from the argparse parser itself, so the file cannot fall behind the
command line. A value given on the command line overrides the file (the defaults are wrapped
in :class:`~natprobe_server.config.stun.Default` to know which were given). A file that is not TOML, an
unknown key, a value of the wrong type or an invalid value is one :class:`ConfigFileError`
naming the file, the key and the value: never a traceback.

The token itself is not a key: it comes from ``http_token_file``, ``$NATPROBE_TOKEN`` or a
systemd credential (see :func:`natprobe_server.config.http.resolve_token`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from natprobe.adapters.toml_file import read_toml
from natprobe.i18n import _

from natprobe_server.config.stun import Default, at_least_one, count_argument, port_argument, positive_float

__all__ = ("NOT_IN_FILE", "ConfigFileError", "apply_file", "file_keys", "load_config_file", "mark_defaults")

NOT_IN_FILE = frozenset({"help", "config", "systemd_unit"})
"""Options that make no sense inside the file they would name."""

_INTEGER_TYPES = (int, port_argument, count_argument)
_NUMBER_TYPES = (float, positive_float, at_least_one)


class ConfigFileError(ValueError):
    """The configuration file cannot be used; the message is one line for the operator."""


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions if a.option_strings and a.dest not in NOT_IN_FILE}


def file_keys(parser: argparse.ArgumentParser) -> tuple[str, ...]:
    """Every key a configuration file may use, in the order of ``--help``."""
    return tuple(_options(parser))


def mark_defaults(parser: argparse.ArgumentParser) -> None:
    """Wrap every option's default in :class:`Default`, so :func:`apply_file` can tell
    which options the command line gave."""
    for action in _options(parser).values():
        if action.default is not argparse.SUPPRESS and not isinstance(action.default, Default):
            action.default = Default(action.default)


def _shown(value: object) -> str:
    text = repr(value) if not isinstance(value, str) else '"' + value.replace('"', '\\"') + '"'
    return text if len(text) <= 60 else text[:57] + "..."


def _convert(action: argparse.Action, value: object) -> object:
    """The file's ``value`` as the option's parsed value; ``ValueError`` says what was expected."""
    if getattr(action, "takes_list", False):
        # primary = ["203.0.113.10", "2001:db8::10"] (one address per family) or one string:
        # a list either way, as the repeated option gives.
        return [_convert_one(action, item) for item in (value if isinstance(value, list) else [value])]
    return _convert_one(action, value)


def _convert_one(action: argparse.Action, value: object) -> object:
    if isinstance(action, (argparse._StoreTrueAction, argparse.BooleanOptionalAction)):
        if not isinstance(value, bool):
            raise ValueError(_("expected true or false"))
        return value
    if action.type in _INTEGER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(_("expected an integer"))
        value = str(value)
    elif action.type in _NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(_("expected a number"))
        if action.type is float:
            return float(value)
        value = str(value)
    elif not isinstance(value, str):
        raise ValueError(_("expected a string"))
    text: str = value
    converted: object = text
    if callable(action.type):
        try:
            converted = action.type(text)
        except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
            raise ValueError(str(exc)) from None
    if action.choices is not None and converted not in action.choices:
        raise ValueError(_("expected one of {choices}", choices=", ".join(str(c) for c in action.choices)))
    return converted


def load_config_file(path: Path, parser: argparse.ArgumentParser) -> dict[str, object]:
    """The file's options as ``{dest: parsed value}``; :class:`ConfigFileError` on any problem."""
    data = read_toml(path, ConfigFileError)
    options = _options(parser)
    values: dict[str, object] = {}
    for key, value in data.items():
        action = options.get(key.replace("-", "_"))
        if action is None:
            raise ConfigFileError(_("{path}: unknown key {key!r} (keys are the long options of 'natprobe serve' "
                                    "with _ for -, e.g. primary_public, http_port)", path=path, key=key))
        try:
            values[action.dest] = _convert(action, value)
        except ValueError as exc:
            raise ConfigFileError(_("{path}: key {key!r} = {value}: {error}", path=path, key=key, value=_shown(value),
                                    error=exc)) from None
    return values


def apply_file(args: argparse.Namespace, values: dict[str, object]) -> argparse.Namespace:
    """``args`` with the file's ``values`` where the command line gave nothing, every other
    :class:`Default` unwrapped (a copy)."""
    merged = {}
    for key, value in vars(args).items():
        if isinstance(value, Default):
            value = values.get(key, value.value)
        merged[key] = value
    return argparse.Namespace(**merged)
