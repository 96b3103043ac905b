"""One module per ``natprobe`` subcommand; each exposes ``register(subparsers)``.

A command's ``register`` adds its parser and sets ``handler`` (a callable taking the parsed
``argparse.Namespace`` and returning an ``ExitCode``) with ``parser.set_defaults``;
``natprobe_cli.main.COMMAND_MODULES`` lists them in the order ``natprobe --help`` shows.
"""
