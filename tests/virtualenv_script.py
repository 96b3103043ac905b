"""A ``natprobe`` script in a real virtualenv of its own, running this checkout (as an install would).

What a systemd unit's sandbox hides depends on where the program lies: the tests put one where
the sandbox cannot see it (under /tmp) and run the real command from there.
"""

from __future__ import annotations

import subprocess
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def natprobe_in_virtualenv(env: Path) -> Path:
    """Create a virtualenv at ``env`` that sees this checkout and its dependencies; its ``bin/natprobe``."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env)
    python = env / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    Path(site, "natprobe-test.pth").write_text(f"{ROOT}\n{sysconfig.get_paths()['purelib']}\n")
    script = env / "bin" / "natprobe"
    script.write_text(f"#!{python}\nimport sys\nfrom natprobe_cli.main import run\nsys.exit(run())\n")
    script.chmod(0o755)
    return script
