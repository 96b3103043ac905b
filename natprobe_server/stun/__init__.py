"""STUN (RFC 8489 + RFC 5780) service: the sans-I/O service, its fast path and the UDP/TCP transports."""
