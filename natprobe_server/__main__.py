"""``python -m natprobe_server``: see :mod:`natprobe_server.command`."""

import sys

from natprobe_server.command import main

if __name__ == "__main__":
    sys.exit(main())
