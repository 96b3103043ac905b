"""`natprobe nat` against a STUN server that does not play by the rules (issue #9).

A stranger's server can answer anything: error responses with or without ERROR-CODE,
answers without a mapped address, malformed attributes, other addresses of the wrong family
or with port 0, replies from an unexpected source, foreign transaction ids, floods. Whatever
it does, discovery ends in a report (``inconclusive`` with the reason where nothing can be
decided) or in one :class:`~natprobe.errors.NatprobeError`, never in another exception.

The hostile server is a blocking loopback socket in a thread, driven by a script of
behaviours Hypothesis draws. Every address it hands out is loopback (or unusable by
construction: port 0, the other family), so the client never sends anywhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import struct
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from natprobe_cli.main import main
from natprobe.addressing import TransportAddress
from natprobe.errors import DecodeError, NatprobeError
from natprobe.measure.discovery import DiscoveryOptions, discover_nat
from natprobe.stun import Attribute, AttributeType, ErrorCodeValue, Message, MessageClass, Method, decode, encode
from natprobe.stun.transaction import RetransmissionPolicy
from natprobe.verdicts.behavior import MappingBehavior

QUICK = RetransmissionPolicy(rto=0.03, max_sends=3, last_wait=0.06)

# --- what the server may do with one request ---------------------------------------------------

ADDRESSES = st.sampled_from(
    [
        "127.0.0.1:0",
        "127.0.0.1:1",
        "127.0.0.53:3479",
        "127.0.0.1:9",
        "0.0.0.0:0",
        "[::1]:3479",
        "[::1]:0",
    ]
)


@dataclass(frozen=True)
class Reply:
    kind: str
    """silence | success | error | error-no-code | bad-attribute | foreign-id | garbage | request-echo"""
    mapped: str | None = None
    other: str | None = None
    code: int = 420
    copies: int = 1
    from_elsewhere: bool = False


REPLIES = st.builds(
    Reply,
    kind=st.sampled_from(
        ["silence", "success", "error", "error-no-code", "bad-attribute", "foreign-id", "garbage", "request-echo"]
    ),
    mapped=st.none() | ADDRESSES,
    other=st.none() | ADDRESSES,
    code=st.integers(300, 699),
    copies=st.integers(1, 20),
    from_elsewhere=st.booleans(),
)


def _address(text: str) -> TransportAddress:
    host, _, port = text.rpartition(":")
    return TransportAddress(ipaddress.ip_address(host.strip("[]")), int(port))


def _bad_xor_mapped(request: Message) -> bytes:
    """A success response whose XOR-MAPPED-ADDRESS is 3 bytes long (malformed)."""
    attribute = struct.pack("!HH", AttributeType.XOR_MAPPED_ADDRESS, 3) + b"\x00\x01\x02\x00"
    header = struct.pack("!HHI", 0x0101, len(attribute), 0x2112A442)
    return header + request.transaction_id + attribute


def _respond(reply: Reply, request: Message) -> bytes | None:
    kind = reply.kind
    if kind == "silence":
        return None
    if kind == "garbage":
        return b"\x01\x01\x00\x08" + bytes(16) + b"\xff" * 7
    if kind == "bad-attribute":
        return _bad_xor_mapped(request)
    if kind == "request-echo":
        return encode(request)
    transaction_id = bytes(12) if kind == "foreign-id" else request.transaction_id
    attributes: list[Attribute] = []
    if kind == "error":
        attributes.append(Attribute(AttributeType.ERROR_CODE, ErrorCodeValue(reply.code, "no")))
    if reply.mapped is not None:
        attributes.append(Attribute(AttributeType.XOR_MAPPED_ADDRESS, _address(reply.mapped)))
    if reply.other is not None:
        attributes.append(Attribute(AttributeType.OTHER_ADDRESS, _address(reply.other)))
    message_class = MessageClass.SUCCESS_RESPONSE if kind in ("success", "foreign-id") else MessageClass.ERROR_RESPONSE
    return encode(Message(message_class, Method.BINDING, transaction_id, tuple(attributes)))


class HostileServer:
    """Answers the n-th request it receives as ``script[n]`` says (the last entry repeats)."""

    def __init__(self, script: Sequence[Reply]) -> None:
        self.script = list(script)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.elsewhere = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.elsewhere.bind(("127.0.0.1", 0))
        self.address = self.sock.getsockname()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.requests = 0

    def _run(self) -> None:
        for _ in range(100_000):  # bounded; stopped long before
            if self._stop.is_set():
                return
            try:
                data, peer = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                request = decode(data)
            except DecodeError:
                continue
            reply = self.script[min(self.requests, len(self.script) - 1)]
            self.requests += 1
            payload = _respond(reply, request)
            if payload is None:
                continue
            out = self.elsewhere if reply.from_elsewhere else self.sock
            for _ in range(reply.copies):
                with contextlib.suppress(OSError):
                    out.sendto(payload, peer)

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        self._thread.start()
        try:
            yield f"{self.address[0]}:{self.address[1]}"
        finally:
            self._stop.set()
            self._thread.join(timeout=2)
            self.sock.close()
            self.elsewhere.close()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=st.lists(REPLIES, min_size=1, max_size=6))
def test_any_server_behaviour_ends_in_a_report_or_one_natprobe_error(script: list[Reply]) -> None:
    options = DiscoveryOptions(bind_ip=ipaddress.IPv4Address("127.0.0.1"), tcp_fallback=False, first_contact=QUICK)
    with HostileServer(script).running() as server:
        try:
            report = asyncio.run(discover_nat(server, options=options))
        except NatprobeError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
    json.dumps(report.to_dict())  # the report renders whatever the server said
    first = report.observations[0]
    if not first.answered or first.error_code is not None or first.mapped is None:
        assert report.mapping.value is MappingBehavior.INCONCLUSIVE and report.mapping.reason
        assert len(report.observations) == 1  # nothing was built on an unusable first answer


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply("error", code=420), "error 420"),
        (Reply("error-no-code"), "an error without an error code"),
        (Reply("success"), "did not say which address"),
        (Reply("bad-attribute"), "did not answer"),
    ],
)
def test_nat_command_says_why_when_the_first_answer_is_unusable(
    reply: Reply, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with HostileServer([reply]).running() as server:
        code = main(["nat", "--server", server, "--bind", "127.0.0.1", "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == 3, err  # could not test, with the report saying why
    report = json.loads(out)
    assert report["mapping"]["value"] == "inconclusive"
    assert reason in out


def test_unexpected_source_and_floods_do_not_mislead() -> None:
    """Every reply comes twenty times from another port: recorded as such, never a crash."""
    script = [Reply("success", mapped="127.0.0.1:40000", other="127.0.0.53:3479", copies=20, from_elsewhere=True)]
    options = DiscoveryOptions(bind_ip=ipaddress.IPv4Address("127.0.0.1"), tcp_fallback=False, first_contact=QUICK)
    with HostileServer(script).running() as server:
        report = asyncio.run(discover_nat(server, options=options))
    first = report.observations[0]
    assert first.answered and first.response_source is not None
    assert first.response_source.port != int(server.rpartition(":")[2])
    assert first.sends == 1
