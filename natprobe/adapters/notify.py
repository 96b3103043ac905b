"""Delivering ``natprobe watch`` messages: Apprise URLs and a plain ``--exec`` command.

Apprise (https://github.com/caronc/apprise) turns one URL per target into e-mail, ntfy,
Matrix, Telegram, Gotify, a JSON or form webhook and many more; natprobe hands it a title,
a body and a type (failure / success / info). The ``--exec`` hook runs a command without a
shell, with the message in its environment (``NATPROBE_TITLE``, ``NATPROBE_BODY``,
``NATPROBE_LEVEL``) and the body on its standard input, bounded in time.

A delivery answers ``None`` (delivered) or one line saying why not; it never raises: the
watch records a failure and retries it on a later run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ("EXEC_TARGET", "EXEC_TIMEOUT_S", "Target", "deliver", "make_targets")

logger = logging.getLogger(__name__)

EXEC_TARGET = "exec"
EXEC_TIMEOUT_S = 30.0
APPRISE_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Target:
    """One place messages go."""

    address: str
    """The Apprise URL, or the ``--exec`` command line."""
    shown: str
    """How the history shows it: the URL with its secrets masked, or ``exec: COMMAND``."""
    is_exec: bool = False


def _masked(url: str) -> str:
    try:
        import apprise

        instance = apprise.Apprise.instantiate(url)
        if instance is not None:
            return str(instance.url(privacy=True))  # type: ignore[no-untyped-call]
    except Exception:  # a URL Apprise cannot read is shown by its scheme only
        pass
    return url.split("://", 1)[0] + "://…"


def make_targets(urls: Sequence[str], exec_command: str | None) -> list[Target]:
    """The targets; ``ValueError`` naming the URL Apprise does not understand, or when Apprise is
    missing (``pip install '.[watch]'`` in the clone)."""
    targets: list[Target] = []
    if urls:
        try:
            import apprise
        except ImportError:
            raise ValueError("--notify needs Apprise: pip install '.[watch]' in the natprobe clone "
                             "(or pip install apprise)") from None
        for url in urls:
            if apprise.Apprise.instantiate(url) is None:
                raise ValueError(f"--notify {_masked(url)}: not an Apprise URL this Apprise understands")
            targets.append(Target(url, _masked(url)))
    if exec_command:
        argv = shlex.split(exec_command)
        if not argv:
            raise ValueError("--exec: empty command")
        targets.append(Target(exec_command, f"{EXEC_TARGET}: {argv[0]}", is_exec=True))
    return targets


def _apprise_notify(url: str, title: str, body: str, level: str) -> str | None:
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(url):
        return "Apprise does not understand this URL"
    types = {"failure": apprise.NotifyType.FAILURE, "success": apprise.NotifyType.SUCCESS}
    ok = notifier.notify(title=title, body=body, notify_type=types.get(level, apprise.NotifyType.INFO))
    return None if ok else "Apprise could not deliver the message (see the log with -v)"


async def _exec(command: str, title: str, body: str, level: str) -> str | None:
    env = dict(os.environ, NATPROBE_TITLE=title, NATPROBE_BODY=body, NATPROBE_LEVEL=level)
    try:
        process = await asyncio.create_subprocess_exec(
            *shlex.split(command), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, env=env)
    except OSError as exc:
        return f"cannot run {shlex.split(command)[0]}: {exc.strerror or exc}"
    try:
        async with asyncio.timeout(EXEC_TIMEOUT_S):
            _out, err = await process.communicate(body.encode())
    except TimeoutError:
        process.kill()
        await process.wait()
        return f"the command did not finish within {EXEC_TIMEOUT_S:g} s"
    if process.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] if err else []
        return f"the command exited with status {process.returncode}" + (f": {tail[0]}" if tail else "")
    return None


async def deliver(target: Target, title: str, body: str, level: str) -> str | None:
    """Send one message; ``None`` when delivered, else why not (never raises)."""
    try:
        if target.is_exec:
            return await _exec(target.address, title, body, level)
        async with asyncio.timeout(APPRISE_TIMEOUT_S):
            # Apprise is synchronous: its own thread, bounded by the timeout above.
            return await asyncio.to_thread(_apprise_notify, target.address, title, body, level)
    except TimeoutError:
        return f"no answer within {APPRISE_TIMEOUT_S:g} s"
    except Exception as exc:  # a notification plug-in's failure must never end the watch
        logger.debug("delivery to %s failed", target.shown, exc_info=True)
        return f"{type(exc).__name__}: {exc}"
