"""``POST /v1/dns``: the echo server resolves a name's A and AAAA records with its own resolver.

The outside view of a name, for ``natprobe check --host NAME`` and ``natprobe dns NAME``: what
a visitor's resolver would find. The server only resolves; it sends no traffic to the
addresses it finds. Records are the contract's frozen :class:`~natprobe.contract.base.Record`
Structs (msgspec validates and encodes them and generates their JSON Schema);
:func:`decode_request` and :func:`decode_response` raise only :class:`~natprobe.errors.DecodeError`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from natprobe.contract.base import Record
from natprobe.contract.terms import MAX_NAME_LENGTH
from natprobe.errors import DecodeError

__all__ = (
    "PATH",
    "MAX_NAME_LENGTH",
    "LOOKUP_STATUSES",
    "DnsRequest",
    "DnsAnswer",
    "DnsResponse",
    "decode_request",
    "decode_response",
    "encode",
    "schema_components",
    "openapi_path",
)

PATH = "/v1/dns"
LOOKUP_STATUSES = ("answered", "nxdomain", "servfail", "timeout", "error")
"""How the server's resolver answered (natprobe.verdicts.dns_verdicts.LookupStatus)."""

Status = Literal["answered", "nxdomain", "servfail", "timeout", "error"]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_LENGTH + 1,
                                   description="A host name; the server validates it as RFC 1123 host name.")]


class DnsRequest(Record, frozen=True, forbid_unknown_fields=True):
    """What to resolve."""

    name: Name


class DnsAnswer(Record, frozen=True, forbid_unknown_fields=True):
    """One record type's answer from the server's resolver."""

    status: Status
    addresses: tuple[str, ...] = ()
    """Empty with ``answered``: the name exists without this record type (NODATA)."""
    detail: str = ""


class DnsResponse(Record, frozen=True, forbid_unknown_fields=True):
    """The server's view of the name."""

    name: str
    a: DnsAnswer
    aaaa: DnsAnswer
    elapsed_ms: Annotated[float, msgspec.Meta(ge=0)]


def encode(record: DnsRequest | DnsResponse) -> bytes:
    return msgspec.json.encode(record)


def _decode(data: bytes, kind: type[Any], what: str) -> Any:
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as exc:
        raise DecodeError(f"{what}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise DecodeError(f"{what} is not valid JSON: {exc}") from None


def decode_request(data: bytes) -> DnsRequest:
    request: DnsRequest = _decode(data, DnsRequest, "the DNS request")
    return request


def decode_response(data: bytes | dict[str, Any]) -> DnsResponse:
    """From the body's bytes, or from the JSON object already parsed."""
    if isinstance(data, dict):
        try:
            response: DnsResponse = msgspec.convert(data, DnsResponse)
        except msgspec.ValidationError as exc:
            raise DecodeError(f"the echo server's DNS answer: {exc}") from None
    else:
        response = _decode(data, DnsResponse, "the echo server's DNS answer")
    for answer in (response.a, response.aaaa):
        if len(answer.addresses) > 64:
            raise DecodeError("the echo server's DNS answer lists too many addresses")
    return response


def schema_components() -> dict[str, Any]:
    """The records as JSON Schema components (OpenAPI 3.1's dialect)."""
    _, components = msgspec.json.schema_components(
        (DnsRequest, DnsResponse), ref_template="#/components/schemas/{name}"
    )
    # Through JSON once: defaults such as () become the JSON arrays a schema validator expects.
    plain: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(components))
    return plain


_EXAMPLE = {
    "name": "cloud.example.org",
    "a": {"status": "answered", "addresses": ["203.0.113.7"], "detail": ""},
    "aaaa": {"status": "answered", "addresses": [], "detail": ""},
    "elapsed_ms": 12.5,
}


def openapi_path() -> dict[str, Any]:
    """The path item of ``POST /v1/dns`` for the OpenAPI document."""
    json_type = "application/json"
    return {
        "post": {
            "operationId": "dnsLookup",
            "summary": "Resolve a name's A and AAAA records with the server's resolver (the outside view)",
            "description": (
                "The server only resolves the name (a bounded lookup, a few seconds at most): it sends no "
                "traffic to the addresses it finds. Rate limited like probes."
            ),
            "security": [{}, {"bearerAuth": []}],
            "requestBody": {
                "required": True,
                "content": {json_type: {
                    "schema": {"$ref": "#/components/schemas/DnsRequest"},
                    "examples": {"default": {"value": {"name": "cloud.example.org"}}},
                }},
            },
            "responses": {
                "200": {
                    "description": "What the server's resolver answered for each record type.",
                    "content": {json_type: {
                        "schema": {"$ref": "#/components/schemas/DnsResponse"},
                        "examples": {"default": {"value": _EXAMPLE}},
                    }},
                },
                "400": {"description": "Not a valid host name, or a malformed request.",
                        "content": {json_type: {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}},
                "429": {"description": "Too many requests from your address.",
                        "content": {json_type: {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}},
                "500": {"$ref": "#/components/responses/Internal"},
            },
        }
    }
