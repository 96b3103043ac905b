"""Named exit codes shared by every subcommand."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit status of ``natprobe``."""

    OK = 0
    """Everything asked for was measured, and (for checks) everything is reachable."""
    NOT_REACHABLE = 1
    """The test ran and found something unreachable or unanswered."""
    USAGE = 2
    """Bad command-line arguments (argparse's own convention)."""
    COULD_NOT_TEST = 3
    """The test itself could not run: server unreachable, bind failure, no permission."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C."""
