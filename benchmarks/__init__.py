"""Benchmarks of natprobe against the existing tools, run on the real kernel NAT lab.

Each benchmark is a module run with ``python -m benchmarks.<name>``; see
``benchmarks/README.md`` for how to run them and how to read their tables.
"""
