"""The mappings natprobe left on routers (``check --map --keep``), in a small state file.

``$XDG_STATE_HOME/natprobe/kept-mappings.json`` (else ``~/.local/state/natprobe/``, the watch
history's folder). ``natprobe router --unmap PORT`` reads it for what only the run that made a
mapping knows -- PCP's mapping nonce, without which a PCP server refuses the deletion (RFC
6887 section 15) -- and ``natprobe router`` lists what it holds.

The file is private (mode 0600, its folder 0700: a nonce deletes the mapping), replaced whole
through a temporary file and a rename (a reader never sees half a file), and changed under an
advisory lock (two natprobe runs at once do not lose each other's record). Records past their
lease are dropped whenever the file is read. Nothing here raises: a file that cannot be read
or written is a warning in :attr:`KeptMappings.problems` (a corrupt one is set aside as
``kept-mappings.json.broken``), and the mapping itself still ends with its lease.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Final

from natprobe.i18n import _
from natprobe.verdicts.router_verdicts import KeptMapping, MappingProtocol

__all__ = ("FILE_NAME", "KeptMappings", "default_kept_path")

logger = logging.getLogger(__name__)

FILE_NAME: Final = "kept-mappings.json"
FORMAT_VERSION: Final = 1
MAX_RECORDS: Final = 1000
"""More than any user keeps; a file beyond it is not natprobe's."""


def default_kept_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/natprobe/kept-mappings.json``, else under ``~/.local/state/natprobe``."""
    from natprobe.adapters.history_store import default_state_dir

    return default_state_dir(environ) / FILE_NAME


def _encode(records: Sequence[KeptMapping]) -> str:
    return json.dumps({"version": FORMAT_VERSION, "mappings": [
        {"protocol": r.protocol, "internal_port": r.internal_port, "external_port": r.external_port,
         "gateway": str(r.gateway), "via": r.via.value, "expires_at": r.expires_at, "nonce": r.nonce.hex()}
        for r in records]}, indent=1) + "\n"


def _decode(text: str) -> tuple[KeptMapping, ...]:
    """The records of the file's text; ``ValueError`` saying what is wrong (any malformed part)."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise ValueError("not a version 1 kept-mappings file")
    entries = data.get("mappings")
    if not isinstance(entries, list) or len(entries) > MAX_RECORDS:
        raise ValueError("no list of mappings")
    return tuple(_record(entry) for entry in entries)


def _record(entry: Any) -> KeptMapping:
    try:
        protocol, via = entry["protocol"], MappingProtocol(entry["via"])
        internal, external, expires = entry["internal_port"], entry["external_port"], entry["expires_at"]
        nonce = bytes.fromhex(entry["nonce"])
        gateway = ip_address(entry["gateway"])
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"a bad mapping entry ({exc})") from None
    if protocol not in ("udp", "tcp") or not all(isinstance(p, int) and 1 <= p <= 65535 for p in (internal, external)):
        raise ValueError("a bad protocol or port")
    if not isinstance(expires, (int, float)) or len(nonce) not in (0, 12):
        raise ValueError("a bad expiry or nonce")
    return KeptMapping(protocol, internal, external, gateway, via, float(expires), nonce)


class KeptMappings:
    """The state file of kept mappings; ``problems`` collects what could not be read or written."""

    def __init__(self, path: Path | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path if path is not None else default_kept_path()
        self._clock = clock
        self.problems: list[str] = []

    def load(self) -> tuple[KeptMapping, ...]:
        """The records whose lease has not ended (none when there is no file, or it is unreadable)."""
        records, _state = self._read()
        return records

    def add(self, record: KeptMapping) -> None:
        """Record a mapping just kept (one of the same protocol, port and gateway is replaced)."""
        def change(records: tuple[KeptMapping, ...]) -> tuple[KeptMapping, ...]:
            same = (record.protocol, record.internal_port, record.gateway)
            return (*(r for r in records if (r.protocol, r.internal_port, r.gateway) != same), record)

        self._update(change)

    def discard(self, gone: Sequence[KeptMapping]) -> None:
        """Forget mappings that were removed from their router."""
        self._update(lambda records: tuple(r for r in records if r not in gone))

    # ------------------------------------------------------------------ the file

    def _note(self, problem: str) -> None:
        logger.info("%s", problem)  # the caller shows ``problems`` (natprobe's commands print them once)
        self.problems.append(problem)

    def _read(self) -> tuple[tuple[KeptMapping, ...], str]:
        """(unexpired records, the file's state: ``ok``, ``corrupt`` or ``unreadable``)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return (), "ok"
        except OSError as exc:
            self._note(_("warning: natprobe cannot read its record of kept mappings {path}: {error}",
                         path=self.path, error=exc.strerror or exc))
            return (), "unreadable"
        try:
            records = _decode(text)
        except ValueError as exc:  # UnicodeDecodeError and json's errors included
            self._note(_("warning: {path} is not a record of kept mappings natprobe can read ({error}): it is "
                         "ignored (the mappings it named still end with their lease), and set aside as .broken when "
                         "natprobe next records one", path=self.path, error=exc))
            return (), "corrupt"
        now = self._clock()
        return tuple(r for r in records if r.expires_at > now), "ok"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            import fcntl  # POSIX; elsewhere the rename alone keeps the file whole
        except ImportError:
            yield
            return
        descriptor = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # closing releases the lock

    def _update(self, change: Callable[[tuple[KeptMapping, ...]], tuple[KeptMapping, ...]]) -> None:
        try:
            with self._locked():
                records, state = self._read()
                if state == "unreadable":
                    return  # said already; writing would lose what it holds
                if state == "corrupt":
                    os.replace(self.path, self.path.with_name(self.path.name + ".broken"))
                self._write(change(records))
        except OSError as exc:
            self._note(_("warning: natprobe cannot write its record of kept mappings {path}: {error}",
                         path=self.path, error=exc.strerror or exc))

    def _write(self, records: Sequence[KeptMapping]) -> None:
        # mkstemp creates the file 0600: the nonce is never readable by others, not even briefly.
        descriptor, temporary = tempfile.mkstemp(prefix=".kept-mappings-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(_encode(records))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
