"""The echo server's HTTP API contract: one pure definition for the server, the client and
the OpenAPI document (``echo_server.openapi``).

* :mod:`~natprobe.contract.terms`: :class:`TransportProtocol`, :class:`ProbeMode`,
  :class:`ErrorCode`, :class:`ProbeError`, limits, the nonce format, byte budgets (no msgspec).
* :mod:`~natprobe.contract.base`: the record base (frozen ``msgspec.Struct``), :class:`Endpoint`,
  the error body and the one decoder (:func:`decode`, raising only
  :class:`~natprobe.errors.DecodeError`).
* :mod:`~natprobe.contract.probe_route`: ``GET /v1/whoami`` and ``POST /v1/probe``.
* :mod:`~natprobe.contract.hole_punch`: ``POST /v1/jamulus/hole-punch``.
* :mod:`~natprobe.contract.dns`: ``POST /v1/dns`` (the name check's outside view).
* :mod:`~natprobe.contract.components`: the records as JSON Schema, for the OpenAPI document.

A route added later puts its records in its own module here. The names below load on first
use (PEP 562), so ``import natprobe.contract.terms`` stays free of msgspec.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from natprobe.contract.terms import (
        API_SERVER_NAME,
        COUNT_MODE,
        COUNT_RANGE,
        DEFAULT_COUNT,
        DEFAULT_MAX_BODY_BYTES,
        DEFAULT_TIMEOUT,
        ErrorCode,
        HOLE_PUNCH_FULL_BUDGET,
        HOLE_PUNCH_MIN_BUDGET,
        HOLE_PUNCH_PEER_PINGS,
        HOLE_PUNCH_REQUESTS,
        HOLE_PUNCH_STRANGER_PINGS,
        HOST_MODES,
        HOST_PATTERN,
        JAMULUS_PROBE_BODY_BYTES,
        JAMULUS_PROBE_RESEND_BYTES,
        JAMULUS_PROBE_ROUNDS,
        JAMULUS_PROBE_ROUND_BYTES,
        MODES,
        NONCE_MODES,
        NONCE_PATTERN,
        NONCE_PREFIX,
        PING_BYTES,
        PORT_RANGE,
        ProbeError,
        ProbeMode,
        REGISTRATION_NAME_PATTERN,
        SEND_EMPTY_BYTES,
        TIMEOUT_RANGE,
        ServerName,
        TransportProtocol,
        nonce_payload,
    )
    from natprobe.contract.base import (
        Endpoint,
        ErrorBody,
        ErrorDetail,
        Record,
        decode,
        encode,
        to_json_object,
    )
    from natprobe.contract.probe_route import (
        ConnectResult,
        HttpResult,
        HttpsResult,
        JamulusResult,
        PROBE_REQUEST_RULES,
        ProbeRequest,
        ProbeResponse,
        ProbeResult,
        RESULT_TYPES,
        SshResult,
        TlsInfo,
        UdpNonceResult,
        WhoAmI,
        decode_probe_request,
        decode_probe_response,
        decode_whoami,
        probe_request_rules,
        probe_response_rules,
        udp_nonce_body_bytes,
    )
    from natprobe.contract.hole_punch import (
        HolePunchRequest,
        HolePunchResponse,
        HolePunchStep,
        PingStep,
        decode_hole_punch_request,
        decode_hole_punch_response,
    )

_LAZY_EXPORTS = {
    "API_SERVER_NAME": "natprobe.contract.terms",
    "COUNT_MODE": "natprobe.contract.terms",
    "COUNT_RANGE": "natprobe.contract.terms",
    "ConnectResult": "natprobe.contract.probe_route",
    "DEFAULT_COUNT": "natprobe.contract.terms",
    "DEFAULT_MAX_BODY_BYTES": "natprobe.contract.terms",
    "DEFAULT_TIMEOUT": "natprobe.contract.terms",
    "Endpoint": "natprobe.contract.base",
    "ErrorBody": "natprobe.contract.base",
    "ErrorCode": "natprobe.contract.terms",
    "ErrorDetail": "natprobe.contract.base",
    "HOLE_PUNCH_FULL_BUDGET": "natprobe.contract.terms",
    "HOLE_PUNCH_MIN_BUDGET": "natprobe.contract.terms",
    "HOLE_PUNCH_PEER_PINGS": "natprobe.contract.terms",
    "HOLE_PUNCH_REQUESTS": "natprobe.contract.terms",
    "HOLE_PUNCH_STRANGER_PINGS": "natprobe.contract.terms",
    "HOST_MODES": "natprobe.contract.terms",
    "HOST_PATTERN": "natprobe.contract.terms",
    "HolePunchRequest": "natprobe.contract.hole_punch",
    "HolePunchResponse": "natprobe.contract.hole_punch",
    "HolePunchStep": "natprobe.contract.hole_punch",
    "HttpResult": "natprobe.contract.probe_route",
    "HttpsResult": "natprobe.contract.probe_route",
    "JAMULUS_PROBE_BODY_BYTES": "natprobe.contract.terms",
    "JAMULUS_PROBE_RESEND_BYTES": "natprobe.contract.terms",
    "JAMULUS_PROBE_ROUNDS": "natprobe.contract.terms",
    "JAMULUS_PROBE_ROUND_BYTES": "natprobe.contract.terms",
    "JamulusResult": "natprobe.contract.probe_route",
    "MODES": "natprobe.contract.terms",
    "NONCE_MODES": "natprobe.contract.terms",
    "NONCE_PATTERN": "natprobe.contract.terms",
    "NONCE_PREFIX": "natprobe.contract.terms",
    "PING_BYTES": "natprobe.contract.terms",
    "PORT_RANGE": "natprobe.contract.terms",
    "PROBE_REQUEST_RULES": "natprobe.contract.probe_route",
    "PingStep": "natprobe.contract.hole_punch",
    "ProbeError": "natprobe.contract.terms",
    "ProbeMode": "natprobe.contract.terms",
    "ProbeRequest": "natprobe.contract.probe_route",
    "ProbeResponse": "natprobe.contract.probe_route",
    "ProbeResult": "natprobe.contract.probe_route",
    "REGISTRATION_NAME_PATTERN": "natprobe.contract.terms",
    "RESULT_TYPES": "natprobe.contract.probe_route",
    "Record": "natprobe.contract.base",
    "SEND_EMPTY_BYTES": "natprobe.contract.terms",
    "TIMEOUT_RANGE": "natprobe.contract.terms",
    "ServerName": "natprobe.contract.terms",
    "SshResult": "natprobe.contract.probe_route",
    "TlsInfo": "natprobe.contract.probe_route",
    "TransportProtocol": "natprobe.contract.terms",
    "UdpNonceResult": "natprobe.contract.probe_route",
    "WhoAmI": "natprobe.contract.probe_route",
    "decode": "natprobe.contract.base",
    "decode_hole_punch_request": "natprobe.contract.hole_punch",
    "decode_hole_punch_response": "natprobe.contract.hole_punch",
    "decode_probe_request": "natprobe.contract.probe_route",
    "decode_probe_response": "natprobe.contract.probe_route",
    "decode_whoami": "natprobe.contract.probe_route",
    "encode": "natprobe.contract.base",
    "nonce_payload": "natprobe.contract.terms",
    "probe_request_rules": "natprobe.contract.probe_route",
    "probe_response_rules": "natprobe.contract.probe_route",
    "to_json_object": "natprobe.contract.base",
    "udp_nonce_body_bytes": "natprobe.contract.probe_route",
}


def __getattr__(name: str) -> Any:
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'natprobe.contract' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = (
    "API_SERVER_NAME",
    "COUNT_MODE",
    "COUNT_RANGE",
    "ConnectResult",
    "DEFAULT_COUNT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TIMEOUT",
    "Endpoint",
    "ErrorBody",
    "ErrorCode",
    "ErrorDetail",
    "HOLE_PUNCH_FULL_BUDGET",
    "HOLE_PUNCH_MIN_BUDGET",
    "HOLE_PUNCH_PEER_PINGS",
    "HOLE_PUNCH_REQUESTS",
    "HOLE_PUNCH_STRANGER_PINGS",
    "HOST_MODES",
    "HOST_PATTERN",
    "HolePunchRequest",
    "HolePunchResponse",
    "HolePunchStep",
    "HttpResult",
    "HttpsResult",
    "JAMULUS_PROBE_BODY_BYTES",
    "JAMULUS_PROBE_RESEND_BYTES",
    "JAMULUS_PROBE_ROUNDS",
    "JAMULUS_PROBE_ROUND_BYTES",
    "JamulusResult",
    "MODES",
    "NONCE_MODES",
    "NONCE_PATTERN",
    "NONCE_PREFIX",
    "PING_BYTES",
    "PORT_RANGE",
    "PROBE_REQUEST_RULES",
    "PingStep",
    "ProbeError",
    "ProbeMode",
    "ProbeRequest",
    "ProbeResponse",
    "ProbeResult",
    "REGISTRATION_NAME_PATTERN",
    "RESULT_TYPES",
    "Record",
    "SEND_EMPTY_BYTES",
    "TIMEOUT_RANGE",
    "ServerName",
    "SshResult",
    "TlsInfo",
    "TransportProtocol",
    "UdpNonceResult",
    "WhoAmI",
    "decode",
    "decode_hole_punch_request",
    "decode_hole_punch_response",
    "decode_probe_request",
    "decode_probe_response",
    "decode_whoami",
    "encode",
    "nonce_payload",
    "probe_request_rules",
    "probe_response_rules",
    "to_json_object",
    "udp_nonce_body_bytes",
)
