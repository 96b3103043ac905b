"""Session-wide guard: tests never read the user's settings and never contact public servers.

natprobe falls back to a built-in list of public STUN servers and to the user's configuration
file (``natprobe config``). Before any test runs, this replaces both for the whole session,
including every subprocess the tests start (they inherit the environment):

* ``$NATPROBE_STUN_SERVERS`` names only a loopback address (a port nothing listens on);
* ``$XDG_CONFIG_HOME`` points at an empty directory of this session, so no real
  ``config.toml`` is read or written;
* ``$NATPROBE_SERVER`` and ``$NATPROBE_TOKEN`` are removed.

``tests/test_network_safety.py`` asserts that this is in force.
"""

from __future__ import annotations

import os
import tempfile

SAFE_STUN_SERVERS = "127.0.0.1:9"
"""UDP discard port on loopback: nothing answers, nothing leaves the host."""

os.environ["NATPROBE_STUN_SERVERS"] = SAFE_STUN_SERVERS
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="natprobe-test-config-")
for _name in ("NATPROBE_SERVER", "NATPROBE_TOKEN"):
    os.environ.pop(_name, None)
