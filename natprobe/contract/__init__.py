"""The echo server's HTTP API contract: typed records shared by the server, the client and the
OpenAPI document. One module per route: :mod:`~natprobe.contract.dns` (``POST /v1/dns``)."""
