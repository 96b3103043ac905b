"""``POST /v1/explain``: natprobe's verdicts and findings for what a client measured (the web page).

A browser cannot import natprobe, so the echo server's web page sends what it measured through
the same API as the CLI (``/v1/probe`` answers, ``/v1/dns``'s answer, the WebRTC candidates)
and gets back the verdicts, the findings and the ``--share`` Markdown in English or French,
made by the same functions as the CLI's. The route only computes: it sends nothing anywhere,
so a client that lies only misleads itself. Lists are bounded, unknown fields refused, and
:func:`decode_explain_request` raises only :class:`~natprobe.errors.DecodeError`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from natprobe.contract.base import IpText, Port, Record, decode
from natprobe.contract.dns import DnsResponse
from natprobe.contract.exposure_route import ExposureResponse
from natprobe.contract.exposure_route import decode_response as decode_exposure_response
from natprobe.contract.probe_route import ProbeResponse, decode_probe_response
from natprobe.contract.terms import TransportProtocol
from natprobe.errors import DecodeError

__all__ = (
    "MAX_BODY_BYTES",
    "MAX_PORTS",
    "PATH",
    "BrowserCandidate",
    "DnsText",
    "ExplainRequest",
    "ExplainResponse",
    "FindingText",
    "MappingObservation",
    "MappingText",
    "PortText",
    "UntestedPort",
    "decode_explain_request",
    "REQUEST_EXAMPLE",
    "decode_explain_response",
    "exposure_response",
    "openapi_path",
    "probe_responses",
    "schema_components",
)

PATH = "/v1/explain"
MAX_BODY_BYTES = 16384
"""The route's body cap: up to MAX_PORTS probe answers (a few hundred bytes each) and a DNS answer."""
MAX_PORTS = 16
"""At most this many probe answers plus untested ports in one request."""

Language = Literal["en", "fr"]
StunTest = Literal["primary", "alternate-ip", "alternate-both"]


class BrowserCandidate(Record, frozen=True, forbid_unknown_fields=True):
    """A server-reflexive ICE candidate: the mapped address one STUN test saw."""

    test: StunTest
    ip: IpText
    port: Port


class MappingObservation(Record, frozen=True, forbid_unknown_fields=True):
    """What the page's ``RTCPeerConnection`` gathered against the server's three STUN tests."""

    webrtc: Annotated[bool, msgspec.Meta(description="The browser offers RTCPeerConnection.")]
    candidates: Annotated[tuple[BrowserCandidate, ...], msgspec.Meta(max_length=3)] = ()
    failed: Annotated[tuple[StunTest, ...], msgspec.Meta(max_length=3,
                                                         description="Tests whose STUN server raised icecandidateerror.")] = ()


class UntestedPort(Record, frozen=True, forbid_unknown_fields=True):
    """A port the page did not probe (a UDP port no service of natprobe's speaks on)."""

    protocol: TransportProtocol
    port: Port


class ExplainRequest(Record, frozen=True, forbid_unknown_fields=True):
    lang: Language = "en"
    probes: Annotated[tuple[dict[str, Any], ...], msgspec.Meta(max_length=MAX_PORTS,
                                                                description="POST /v1/probe answers, unchanged.")] = ()
    untested: Annotated[tuple[UntestedPort, ...], msgspec.Meta(max_length=MAX_PORTS)] = ()
    jamulus: Annotated[bool, msgspec.Meta(description="The Jamulus preset: explain public and private mode.")] = False
    mapping: MappingObservation | None = None
    dns: Annotated[DnsResponse | None, msgspec.Meta(description="The POST /v1/dns answer for the name typed.")] = None
    public: Annotated[tuple[IpText, ...], msgspec.Meta(max_length=2,
                                                       description="The visitor's address per family (GET /v1/whoami).")] = ()
    exposure: Annotated[dict[str, Any] | None,
                        msgspec.Meta(description="A POST /v1/exposure answer, unchanged: graded as natprobe exposure does.")] = None


class PortText(Record, frozen=True):
    """One port's verdict: ``status`` is the CLI's (``natprobe check --json``)."""

    protocol: TransportProtocol
    port: Port
    family: Literal["ipv4", "ipv6"]
    status: str
    reachable: bool | None
    reason: str
    advice: tuple[str, ...]
    proof: str | None


class FindingText(Record, frozen=True):
    code: str
    severity: Literal["ok", "info", "warning", "problem"]
    title: str
    detail: str
    advice: tuple[str, ...]


class MappingText(Record, frozen=True):
    mapping: Annotated[str, msgspec.Meta(description="natprobe nat's mapping value, or 'unknown' (no candidate).")]
    reason: str


class DnsText(Record, frozen=True):
    family: Literal["ipv4", "ipv6"]
    verdict: str
    ok: bool
    reason: str
    advice: tuple[str, ...]


class ExplainResponse(Record, frozen=True):
    lang: Language
    ports: tuple[PortText, ...]
    mapping: MappingText | None
    dns: tuple[DnsText, ...]
    findings: tuple[FindingText, ...]
    share: Annotated[str, msgspec.Meta(description="The Markdown of --share: public addresses masked.")]
    path: Annotated[str, msgspec.Meta(description="The drawn path, as the CLI draws it.")]


_RULES = {
    "lang": "lang must be 'en' or 'fr'",
    "probes": f"probes must be a list of at most {MAX_PORTS} POST /v1/probe answers",
    "untested": f"untested must be a list of at most {MAX_PORTS} {{protocol, port}} objects",
}


def decode_explain_request(body: bytes) -> ExplainRequest:
    request = decode(body, ExplainRequest, rules=_RULES)
    if len(request.probes) + len(request.untested) > MAX_PORTS:
        raise DecodeError(f"at most {MAX_PORTS} ports in one request")
    return request


def probe_responses(request: ExplainRequest) -> tuple[ProbeResponse[Any], ...]:
    """The probe answers, each validated as ``POST /v1/probe`` answers are (DecodeError if one is not)."""
    return tuple(decode_probe_response(msgspec.json.encode(item)) for item in request.probes)


def exposure_response(request: ExplainRequest) -> ExposureResponse | None:
    """The exposure answer, validated as ``POST /v1/exposure`` answers are (DecodeError if it is not)."""
    if request.exposure is None:
        return None
    return decode_exposure_response(msgspec.json.encode(request.exposure))


def decode_explain_response(body: bytes) -> ExplainResponse:
    return decode(body, ExplainResponse)


def schema_components() -> dict[str, Any]:
    """The records as JSON Schema components (OpenAPI 3.1's dialect)."""
    _, components = msgspec.json.schema_components(
        (ExplainRequest, ExplainResponse), ref_template="#/components/schemas/{name}"
    )
    plain: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(components))
    return plain


_PROBE_EXAMPLE = {
    "target": {"ip": "203.0.113.7", "port": 22124}, "protocol": "udp", "mode": "jamulus",
    "source": {"ip": "198.51.100.11", "port": 40000},
    "result": {"answered": True, "rtt_ms": 31.5, "clients": 2, "version": "3.9.1", "os": "Linux"},
    "elapsed_ms": 35.1,
}
REQUEST_EXAMPLE: dict[str, Any] = {
    "lang": "en", "probes": [_PROBE_EXAMPLE], "untested": [{"protocol": "udp", "port": 51820}],
}
"""Executed against the handler by the tests (its answer must have the example's shape)."""
_RESPONSE_EXAMPLE = {
    "lang": "en",
    "ports": [
        {"protocol": "udp", "port": 22124, "family": "ipv4", "status": "reachable", "reachable": True,
         "reason": "a Jamulus server 3.9.1 answered the echo server on UDP port 22124", "advice": [],
         "proof": "the echo server spoke jamulus to the public address and a Jamulus server 3.9.1 answered"},
        {"protocol": "udp", "port": 51820, "family": "ipv4", "status": "not-tested", "reachable": None,
         "reason": "from outside, a silent UDP port cannot be told from a filtered one: most UDP services answer "
                   "nothing to a stranger, and a web page cannot listen on UDP port 51820 to receive a probe",
         "advice": ["Prove it from the machine that should receive UDP port 51820, with the port free: pip install "
                    "natprobe && natprobe check --udp 51820 --server http://vps.example.org:8080"],
         "proof": None},
    ],
    "mapping": None,
    "dns": [],
    "findings": [{"code": "jamulus-port-private-works", "severity": "ok", "title": "Jamulus: private mode will work",
                  "detail": "UDP 22124 is reachable from outside, so clients can connect to this server by address "
                            "without it registering with a directory; registered (public) servers are reachable too.",
                  "advice": []}],
    "share": "### natprobe check: 1 of 2 port(s) reachable\n\n...",
    "path": "┌─ This host                                                        ✓ UDP 22124 arrived\n...",
}


def openapi_path() -> dict[str, Any]:
    """The path item of ``POST /v1/explain`` for the OpenAPI document."""
    json_type = "application/json"
    error = {json_type: {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    return {
        "post": {
            "operationId": "explain",
            "summary": "natprobe's verdicts, findings and --share text for measurements a client made (the web page)",
            "description": (
                "Computes only: the server sends nothing anywhere. `probes` are POST /v1/probe answers as "
                "received, `dns` a POST /v1/dns answer, `exposure` a POST /v1/exposure answer, `mapping` the "
                "server-reflexive candidates a browser gathered against the server's STUN addresses. "
                f"The body may be up to 16 KiB and name at most {MAX_PORTS} ports."
            ),
            "security": [{}, {"bearerAuth": []}],
            "requestBody": {
                "required": True,
                "content": {json_type: {
                    "schema": {"$ref": "#/components/schemas/ExplainRequest"},
                    "examples": {"default": {"value": REQUEST_EXAMPLE}},
                }},
            },
            "responses": {
                "200": {
                    "description": "The verdicts and findings, in the language asked for.",
                    "content": {json_type: {
                        "schema": {"$ref": "#/components/schemas/ExplainResponse"},
                        "examples": {"default": {"value": _RESPONSE_EXAMPLE}},
                    }},
                },
                "400": {"description": "A malformed request or probe answer.", "content": error},
                "401": {"description": "The server needs a token.", "content": error},
                "413": {"description": "The body is larger than 16 KiB.", "content": error},
                "500": {"$ref": "#/components/responses/Internal"},
            },
        }
    }
