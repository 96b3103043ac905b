"""The user's own settings: which echo server and token to use, which STUN servers to try.

Where a setting comes from, first found wins:

1. the command line (``--server``, ``--token``);
2. the environment: ``$NATPROBE_SERVER``, ``$NATPROBE_TOKEN``, ``$NATPROBE_STUN_SERVERS``
   (comma-separated ``host[:port]``);
3. the user's configuration file, ``$XDG_CONFIG_HOME/natprobe/config.toml`` (else
   ``~/.config/natprobe/config.toml``; XDG Base Directory Specification), keys ``server``,
   ``token`` and ``stun_servers`` (a list of ``host[:port]``), written by
   ``natprobe config set``, and the ``[watch]`` table that ``natprobe watch`` reads
   (:data:`WATCH_KEYS`; ``config set`` keeps it as it is).

A file that is not TOML, an unknown key or a value of the wrong type is a
:class:`UserConfigError` naming the file and the key, never a traceback. An echo-server URL
is checked when it is read (:func:`check_server_url`), so a typo is one clear line before
anything is sent.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from natprobe.adapters.toml_file import read_toml
from natprobe.contract.terms import TOKEN_ENVIRONMENT, token_from_environment
from natprobe.adapters.resolve import normalise_server_url
from natprobe.i18n import _

__all__ = (
    "ClientSettings",
    "ENV_SERVER",
    "ENV_STUN_SERVERS",
    "ENV_TOKEN",
    "KEYS",
    "Setting",
    "UserConfig",
    "UserConfigError",
    "WATCH_KEYS",
    "broken_copy",
    "check_server_url",
    "config_path",
    "load_user_config",
    "resolve_client",
    "resolve_server",
    "resolve_stun_servers",
    "resolve_token",
    "save_setting",
)

ENV_SERVER = "NATPROBE_SERVER"
ENV_TOKEN = TOKEN_ENVIRONMENT
ENV_STUN_SERVERS = "NATPROBE_STUN_SERVERS"
KEYS = ("server", "token", "stun_servers")
TABLES = ("watch",)
WATCH_KEYS: dict[str, tuple[type, ...]] = {
    # what to watch (check's own flags)
    "server": (str,), "token": (str,), "udp": (list,), "tcp": (list,), "host": (str,),
    "exposure": (bool,), "expect": (list,), "nat": (bool,), "router": (bool,), "families": (list,),
    # when, where to tell, where to keep it
    "every": (str, int, float), "repeat": (str, int, float), "notify": (list,), "exec": (str,),
    "state_dir": (str,), "textfile": (str,), "metrics_listen": (str,),
    "retention_days": (int, float), "max_history_mb": (int, float),
}
"""The ``[watch]`` table's keys and their TOML types (lists hold strings)."""


class UserConfigError(ValueError):
    """A setting cannot be used; the message is one line naming where it came from."""


@dataclass(frozen=True, slots=True)
class UserConfig:
    """The configuration file's contents (every key optional)."""

    server: str | None = None
    token: str | None = None
    stun_servers: tuple[str, ...] | None = None
    watch: Mapping[str, object] | None = None
    """The ``[watch]`` table, keys checked against :data:`WATCH_KEYS`."""


@dataclass(frozen=True, slots=True)
class Setting:
    """A resolved value and where it came from (for messages: "from $NATPROBE_SERVER")."""

    value: str
    origin: str


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/natprobe/config.toml``, else ``~/.config/natprobe/config.toml``."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME", "")
    # The XDG specification: a relative path in the variable is invalid and must be ignored.
    root = Path(base) if base and os.path.isabs(base) else Path(environ.get("HOME") or Path.home()) / ".config"
    return root / "natprobe" / "config.toml"


def check_server_url(url: str, origin: str = "--server") -> str:
    """``url`` if it is a usable echo-server URL (``http(s)://host[:port]``), else :class:`UserConfigError`."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError as exc:
        raise UserConfigError(_("{origin}: {url!r} is not a usable server URL ({error})", origin=origin, url=url,
                                 error=exc)) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserConfigError(_(
            "{origin}: {url!r} is not a usable server URL: expected http://HOST:PORT or https://HOST:PORT",
            origin=origin, url=url,
        ))
    if port == 0:
        raise UserConfigError(_("{origin}: {url!r} is not a usable server URL (port 0)", origin=origin, url=url))
    return normalise_server_url(text)


def load_user_config(path: Path | None = None) -> UserConfig:
    """Read the configuration file (a missing file is an empty configuration)."""
    path = config_path() if path is None else path
    data = read_toml(path, UserConfigError, missing={})
    for key in data:
        if key not in KEYS and key not in TABLES:
            raise UserConfigError(_("{path}: unknown key {key!r} (known keys: {known}; tables: {tables})", path=path,
                                    key=key, known=", ".join(KEYS), tables=", ".join(TABLES)))
    watch = data.get("watch")
    if watch is not None:
        _check_watch_table(path, watch)
    server, token, stun = data.get("server"), data.get("token"), data.get("stun_servers")
    for key, value in (("server", server), ("token", token)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise UserConfigError(_("{path}: key {key!r} = {value!r}: expected a non-empty string", path=path, key=key,
                                     value=value))
    if server is not None:
        check_server_url(server, f"{path}: key 'server'")
    if stun is not None and (
        not isinstance(stun, list) or not stun or not all(isinstance(s, str) and s.strip() for s in stun)
    ):
        raise UserConfigError(_("{path}: key 'stun_servers' = {value!r}: expected a list of \"host[:port]\" strings",
                                 path=path, value=stun))
    return UserConfig(server=server, token=token, stun_servers=None if stun is None else tuple(stun), watch=watch)


def _check_watch_table(path: Path, table: object) -> None:
    if not isinstance(table, dict):
        raise UserConfigError(f"{path}: 'watch' must be a table ([watch])")
    for key, value in table.items():
        types = WATCH_KEYS.get(key)
        if types is None:
            raise UserConfigError(f"{path}: unknown key {key!r} in [watch] (known keys: {', '.join(WATCH_KEYS)})")
        # bool is an int in Python: a number key must not take true/false.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            expected = " or ".join("a list of strings" if t is list else t.__name__ for t in types)
            raise UserConfigError(f"{path}: [watch] {key} = {value!r}: expected {expected}")
        if isinstance(value, list) and not all(isinstance(v, str) and v.strip() for v in value):
            raise UserConfigError(f"{path}: [watch] {key} = {value!r}: expected a list of non-empty strings")


def _toml_value(value: str | list[str]) -> str:
    # A JSON string is a valid TOML basic string (same escapes), so json.dumps writes TOML here.
    if isinstance(value, list):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    return json.dumps(value)


def broken_copy(path: Path) -> Path:
    """Where :func:`save_setting` keeps an unusable configuration file it replaces."""
    return path.with_name(path.name + ".broken")


_TABLE_HEADER = re.compile(r"""^\s*\[\[?\s*[A-Za-z0-9_."' -]+\]\]?\s*(#.*)?$""")


def _tables_text(path: Path) -> str:
    """The file's tables (``[watch]``...) as written, from the first table header on: TOML puts
    every top-level key before the first table, so the keys above can be rewritten alone."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        return ""
    for index, line in enumerate(lines):
        if _TABLE_HEADER.match(line):
            return "\n" + "".join(lines[index:])
    return ""


def save_setting(key: str, value: str | list[str] | None, path: Path | None = None) -> Path:
    """Set (or with ``None`` remove) one key, keeping the others; returns the file written.

    The file holds only the keys above, so it is rewritten whole (tomllib reads, it cannot
    write, and three flat keys need no TOML writer dependency). It is created private
    (0600): it may hold the token.
    """
    if key not in KEYS:
        raise UserConfigError(_("unknown setting {key!r} (known: {known})", key=key, known=", ".join(KEYS)))
    path = config_path() if path is None else path
    try:
        current = load_user_config(path)
    except UserConfigError:
        # A broken file must not lock its own repair out: it is kept aside, whole, and a new
        # one holds this setting (config show then says what is in effect).
        os.replace(path, broken_copy(path))
        current = UserConfig()
    values: dict[str, str | list[str]] = {}
    if current.server is not None:
        values["server"] = current.server
    if current.token is not None:
        values["token"] = current.token
    if current.stun_servers is not None:
        values["stun_servers"] = list(current.stun_servers)
    if value is None:
        values.pop(key, None)
    else:
        values[key] = value
    text = "".join(f"{k} = {_toml_value(v)}\n" for k, v in values.items()) + _tables_text(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def resolve_server(
    given: str | None, environ: Mapping[str, str] | None = None, config: UserConfig | None = None
) -> Setting | None:
    """The echo server: ``given`` (the command line), ``$NATPROBE_SERVER``, the file, or ``None``."""
    environ = os.environ if environ is None else environ
    if given is not None:
        return Setting(check_server_url(given), "--server")
    if environ.get(ENV_SERVER, "").strip():
        return Setting(check_server_url(environ[ENV_SERVER], f"${ENV_SERVER}"), f"${ENV_SERVER}")
    config = load_user_config(config_path(environ)) if config is None else config
    if config.server is not None:
        return Setting(normalise_server_url(config.server), str(config_path(environ)))
    return None


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """The echo server and token for a client command, and what was wrong with the file."""

    server: Setting | None
    token: str | None
    warnings: tuple[str, ...] = ()


def resolve_client(
    given_server: str | None, given_token: str | None, environ: Mapping[str, str] | None = None
) -> ClientSettings:
    """:func:`resolve_server` and :func:`resolve_token` together, where the command line and the
    environment win over a broken configuration file: the file's problem becomes a warning
    when it is not needed. :class:`UserConfigError` only when a value had to come from it (no
    server anywhere else), or when a given value is itself bad."""
    environ = os.environ if environ is None else environ
    if given_server is not None:
        server: Setting | None = Setting(check_server_url(given_server), "--server")
    elif environ.get(ENV_SERVER, "").strip():
        server = Setting(check_server_url(environ[ENV_SERVER], f"${ENV_SERVER}"), f"${ENV_SERVER}")
    else:
        server = None
    if given_token is not None:
        token: str | None = given_token
    elif environ.get(ENV_TOKEN, "").strip():
        token = environ[ENV_TOKEN].strip()
    else:
        token = None
    if server is not None and token is not None:
        return ClientSettings(server, token)  # the file is not read at all
    try:
        config = load_user_config(config_path(environ))
    except UserConfigError as exc:
        if server is None:
            raise
        return ClientSettings(server, token, (_("{error} (ignored; natprobe config set or unset rewrites it)",
                                                 error=exc),))
    if server is None and config.server is not None:
        server = Setting(normalise_server_url(config.server), str(config_path(environ)))
    return ClientSettings(server, token if token is not None else config.token)


def resolve_token(
    given: str | None, environ: Mapping[str, str] | None = None, config: UserConfig | None = None
) -> str | None:
    """The echo server's token: ``given``, ``$NATPROBE_TOKEN``, the file, or ``None``."""
    environ = os.environ if environ is None else environ
    if given is not None:
        return given
    from_environment = token_from_environment(environ)
    if from_environment is not None:
        return from_environment
    config = load_user_config(config_path(environ)) if config is None else config
    return config.token


def resolve_stun_servers(
    builtin: tuple[str, ...], environ: Mapping[str, str] | None = None, config: UserConfig | None = None
) -> tuple[tuple[str, ...], str]:
    """The STUN servers to try and where the list came from: ``$NATPROBE_STUN_SERVERS``,
    the file's ``stun_servers``, else ``builtin``."""
    environ = os.environ if environ is None else environ
    listed = [s.strip() for s in environ.get(ENV_STUN_SERVERS, "").split(",") if s.strip()]
    if listed:
        return tuple(listed), f"${ENV_STUN_SERVERS}"
    config = load_user_config(config_path(environ)) if config is None else config
    if config.stun_servers is not None:
        return tuple(s.strip() for s in config.stun_servers), str(config_path(environ))
    return builtin, _("the built-in list")
