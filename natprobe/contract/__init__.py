"""The echo server's HTTP contract: typed request/response records shared by server and client (pure).

One module per route, e.g. :mod:`~natprobe.contract.dns` (``POST /v1/dns``)."""
