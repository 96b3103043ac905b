"""natprobe's version, written once (the wheel's metadata reads it from here, see pyproject.toml).

A leaf module: anything may import it without loading the rest of natprobe."""

__version__ = "0.1.0"
