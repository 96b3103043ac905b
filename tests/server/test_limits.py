"""Token bucket per source with a bounded LRU table."""

from __future__ import annotations

import ipaddress

import pytest

from natprobe_server.limits import RateLimiter, source_key


def test_burst_then_refill_at_rate() -> None:
    limiter = RateLimiter(rate=10, burst=5, max_sources=100)
    assert [limiter.allow("a", 0.0) for _ in range(7)] == [True] * 5 + [False] * 2
    assert limiter.dropped == 2
    assert limiter.allow("a", 0.1)  # 0.1 s * 10/s = one token back
    assert not limiter.allow("a", 0.1)
    assert [limiter.allow("a", 10.0) for _ in range(6)] == [True] * 5 + [False]  # capped at the burst


def test_sources_are_independent() -> None:
    limiter = RateLimiter(rate=1, burst=2, max_sources=100)
    assert limiter.allow("a", 0) and limiter.allow("a", 0)
    assert not limiter.allow("a", 0)
    assert limiter.allow("b", 0)


def test_memory_is_bounded_and_the_oldest_source_goes_first() -> None:
    limiter = RateLimiter(rate=1, burst=2, max_sources=3)
    for key in ("a", "b", "c"):
        assert limiter.allow(key, 0)
    assert limiter.allow("d", 0)  # evicts a, the oldest
    assert "a" not in limiter and len(limiter) == 3
    assert limiter.allow("a", 0)  # back with a fresh bucket (evicting b)
    assert "b" not in limiter


def test_a_source_being_limited_is_never_the_one_evicted() -> None:
    limiter = RateLimiter(rate=1, burst=2, max_sources=3)
    assert limiter.allow("flooder", 0) and limiter.allow("flooder", 0)
    for index in range(10_000):  # spoofed sources churn through the table ...
        assert not limiter.allow("flooder", 0)  # ... while the flooder keeps sending
        limiter.allow(f"spoofed-{index}", 0)
        assert len(limiter) <= 3
    assert "flooder" in limiter
    assert limiter.dropped == 10_000


@pytest.mark.parametrize(("rate", "burst", "size"), [(0, 1, 1), (1, 0.5, 1), (1, 1, 0)])
def test_invalid_parameters(rate: float, burst: float, size: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, burst, size)


def test_every_limiter_keys_ipv6_on_the_64() -> None:
    assert source_key("192.0.2.7") == "192.0.2.7"
    assert source_key(ipaddress.ip_address("192.0.2.7")) == "192.0.2.7"
    assert source_key("2001:db8:1:2:aaaa::1") == source_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert source_key(ipaddress.ip_address("2001:db8:1:2::1")) == "2001:db8:1:2::/64"
    assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")
    assert source_key("fe80::1%eth0") == "fe80::/64"
    assert source_key("::ffff:192.0.2.9") == "192.0.2.9"  # a dual-stack socket's IPv4 peer
    limiter = RateLimiter(rate=1, burst=2, max_sources=8)
    rotating = [f"2001:db8:1:2::{index:x}" for index in range(4)]
    assert [limiter.allow(source_key(ip), 0.0) for ip in rotating] == [True, True, False, False]
