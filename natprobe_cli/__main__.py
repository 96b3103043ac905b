from natprobe_cli.main import run

run()
