"""Thin asyncio adapters: sockets, timers and retries around the sans-I/O protocol code."""
