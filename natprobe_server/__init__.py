"""natprobe's self-hosted echo server: STUN (RFC 8489 + RFC 5780) over UDP and TCP, and a UDP echo.

Deploy it on a public host (ideally with two IP addresses) and point ``natprobe nat`` at it.
It is a public reflector, so it only ever answers the requester's own address, keeps replies
bounded by requests and rate-limits every source (see :mod:`natprobe_server.stun.service`).

Run it with ``python -m natprobe_server --primary IP [--alternate IP] [--port N]`` or
``natprobe serve ...``; embed it with :class:`EchoServer`.
"""

from natprobe_server.config.stun import EchoServerConfig
from natprobe_server.deploy import serve_until_signalled
from natprobe_server.stun.server import EchoServer, ServerStats

__all__ = ("EchoServer", "EchoServerConfig", "ServerStats", "serve_until_signalled")
