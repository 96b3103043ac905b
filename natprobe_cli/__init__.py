"""The ``natprobe`` command line: argument parsing and rendering only.

Every subcommand lives in its own module under ``natprobe_cli.commands`` and exposes
``register(subparsers)``; the work is done by the ``natprobe`` library.
"""
