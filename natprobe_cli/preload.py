"""Load, in a thread, the modules a command needs only after its measurement (the renderer).

The measurement mostly waits on the network (round trips of tens of ms); importing the text
renderer in those gaps instead of before the first packet starts the measurement earlier and
finishes the command sooner. Python's per-module import locks make a concurrent import safe:
the main thread that imports the same module later waits for it, or finds it done.
"""

from __future__ import annotations

import importlib
import logging
import threading

__all__ = ("preload",)

logger = logging.getLogger(__name__)


def preload(*modules: str) -> threading.Thread:
    """Start importing ``modules`` in a daemon thread; ``join()`` it (or just import them) later."""

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as exc:  # the main thread's own import will raise it where it matters
                logger.debug("preloading %s failed: %s", name, exc)

    thread = threading.Thread(target=load, name="natprobe-preload", daemon=True)
    thread.start()
    return thread
