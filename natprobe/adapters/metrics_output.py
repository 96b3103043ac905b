"""Where ``natprobe watch`` puts its Prometheus metrics: a node_exporter textfile, a ``/metrics`` listener.

The textfile collector reads every ``*.prom`` file of its directory at each scrape, so the
file is written whole to a temporary name and renamed over the old one (a scrape never sees
half a file). The listener is a tiny aiohttp server answering ``GET /metrics`` with the last
run's text, for people who scrape natprobe directly.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from aiohttp import web

__all__ = ("MetricsListener", "write_textfile")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def write_textfile(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text`` (``OSError`` if the folder is not writable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".natprobe-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o644)  # node_exporter runs as another user
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


class MetricsListener:
    """``GET /metrics`` on ``host:port`` with whatever :attr:`text` holds (set after each run)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.text = "# natprobe watch: no run has finished yet\n"
        self._runner: web.AppRunner | None = None

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.text.encode(), headers={"Content-Type": CONTENT_TYPE})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        addresses = self._runner.addresses
        if addresses:
            self.port = int(addresses[0][1])  # the port the OS chose for port 0

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
