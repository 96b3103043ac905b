"""The echo server's HTTP contract: typed request/response records shared by server and client (pure)."""
