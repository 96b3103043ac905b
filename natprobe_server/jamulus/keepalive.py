"""The directory's keep-alive timer: ``CLM_EMPTY_MESSAGE`` to every registration when due (every
59 s, or every N s, N >= 5, when its city is ``keepalive=N``), and the verification pings.

The table (:class:`natprobe.jamulus.directory_table.DirectoryTable`) says what is due and when
next, and pays each send from the registration's byte budget; this loop only sends and sleeps
until the next deadline or until ``wake`` is set (a new registration may be due sooner).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from natprobe.addressing import TransportAddress
from natprobe.jamulus import EmptyMessage, Message
from natprobe.jamulus.directory_table import DirectoryTable

from natprobe_server.jamulus.protocol import DirectoryStats

__all__ = ("MIN_SLEEP_S", "keep_alive")

MIN_SLEEP_S = 0.05
"""The timer never spins faster than this, whatever the table says."""


async def keep_alive(
    table: DirectoryTable,
    send: Callable[[Message, TransportAddress], None],
    wake: asyncio.Event,
    clock: Callable[[], float],
    stats: DirectoryStats,
) -> None:
    """Run until cancelled."""
    while True:
        now = clock()
        for target, message in table.due(now):
            send(message, target)
            if isinstance(message, EmptyMessage):
                stats.keepalives_sent += 1
            else:
                stats.verify_pings += 1
        deadline = table.next_deadline()
        wake.clear()
        timeout = None if deadline is None else max(MIN_SLEEP_S, deadline - clock())
        try:
            async with asyncio.timeout(timeout):
                await wake.wait()
        except TimeoutError:
            pass
