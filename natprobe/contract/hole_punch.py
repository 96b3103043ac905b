"""``POST /v1/jamulus/hole-punch``: the Jamulus directory emulation's hole punch.

Its byte budgets (:data:`~natprobe.contract.terms.HOLE_PUNCH_FULL_BUDGET`) follow from the
sizes of the Jamulus messages the server sends, so the client pads its request to exactly
what pays for them.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from natprobe.contract.base import Endpoint, Milliseconds, Record, decode
from natprobe.contract.terms import (
    HOLE_PUNCH_FULL_BUDGET,
    HOLE_PUNCH_MIN_BUDGET,
    HOLE_PUNCH_PEER_PINGS,
    HOLE_PUNCH_REQUESTS,
    HOLE_PUNCH_STRANGER_PINGS,
    REGISTRATION_NAME_PATTERN,
)
from natprobe.jamulus import JAMULUS_KEEPALIVE_S, MAX_LEN_SERVER_NAME

__all__ = (
    "HolePunchRequest",
    "HolePunchResponse",
    "HolePunchStep",
    "PingStep",
    "decode_hole_punch_request",
    "decode_hole_punch_response",
)

HOLE_PUNCH_REQUEST_RULES: Final = {
    "name": f"name must be 1 to {MAX_LEN_SERVER_NAME} characters A-Z a-z 0-9 . _ ~ -",
}


class HolePunchRequest(Record, frozen=True, forbid_unknown_fields=True):
    """Which registration to punch for. There is no target: the server only punches toward a
    registration with this name whose UDP source IP is the IP this request came from. The
    server never sends more UDP bytes than the request body holds: pad the JSON with
    trailing spaces to {full} bytes to pay for every retry ({min} bytes pay for one try of each
    step; fewer bytes are refused with 400)."""

    name: Annotated[
        str,
        msgspec.Meta(
            pattern=REGISTRATION_NAME_PATTERN,
            description="The name the Jamulus registration used (natprobe uses a per-test nonce).",
        ),
    ]


HolePunchRequest.__doc__ = (HolePunchRequest.__doc__ or "").format(full=HOLE_PUNCH_FULL_BUDGET, min=HOLE_PUNCH_MIN_BUDGET)


def decode_hole_punch_request(body: bytes) -> HolePunchRequest:
    """A validated hole-punch request; :class:`~natprobe.errors.DecodeError` if it is wrong."""
    return decode(
        body,
        HolePunchRequest,
        rules=HOLE_PUNCH_REQUEST_RULES,
        unknown=(
            "; the only field is 'name'. There is no way to name a target: the server only punches "
            "toward a registration that came from the address of this request"
        ),
    )


class PingStep(Record, frozen=True):
    """``CLM_PING_MS`` from ``source`` to the published address, and whether it came back."""

    source: Annotated[Endpoint, msgspec.Meta(description="The server socket the CLM_PING_MS left from.")]
    sent: Annotated[int, msgspec.Meta(ge=0, le=max(HOLE_PUNCH_STRANGER_PINGS, HOLE_PUNCH_PEER_PINGS))]
    answered: Annotated[bool, msgspec.Meta(description="The ping came back from the published address.")]
    rtt_ms: Milliseconds | None


class HolePunchStep(Record, frozen=True):
    """Steps b and c: the punch requests and the punch itself."""

    peer: Annotated[Endpoint, msgspec.Meta(description="The fresh peer the server was asked to punch toward.")]
    requests_sent: Annotated[int, msgspec.Meta(ge=0, le=HOLE_PUNCH_REQUESTS)]
    received: bool
    source: Endpoint | None
    """Where the server's ``CLM_EMPTY_MESSAGE`` to the peer came from (None: it never came)."""
    after_ms: Milliseconds | None

    def __post_init__(self) -> None:
        if self.received != (self.source is not None):
            raise ValueError("'received' must be true exactly when 'source' is given")


class HolePunchResponse(Record, frozen=True):
    """Each step of the hole punch, as a Jamulus directory does it for a client that asks for
    the server list. a) ``unsolicited``: a stranger socket pings the published address before
    any punch (only a port forward or a full-cone NAT lets it in). b) ``hole_punch.requests_sent``:
    CLM_SEND_EMPTY_MESSAGE(peer) sent to the registration. c) ``hole_punch.source``: where the
    server's CLM_EMPTY_MESSAGE to the peer came from; a port other than the published one
    means the NAT maps every destination to a different port (symmetric NAT). d)
    ``punched_ping``: the peer pings the published address, as a Jamulus client pings a listed server."""

    name: str
    published: Annotated[
        Endpoint, msgspec.Meta(description="The registration's UDP source address: what a directory lists for the server.")
    ]
    registered_s_ago: Annotated[float, msgspec.Meta(ge=0)]
    keepalive_interval_s: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description=(
                f"CLM_EMPTY_MESSAGE keep-alive interval toward the registration ({JAMULUS_KEEPALIVE_S:g} s, as Jamulus)."
            ),
        ),
    ]
    unsolicited: PingStep
    hole_punch: HolePunchStep
    punched_ping: PingStep
    udp_bytes_sent: Annotated[int, msgspec.Meta(ge=0)]
    elapsed_ms: Milliseconds


def decode_hole_punch_response(body: bytes) -> HolePunchResponse:
    """An answer of ``POST /v1/jamulus/hole-punch``."""
    return decode(body, HolePunchResponse)
