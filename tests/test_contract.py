"""The echo server's HTTP contract (natprobe.contract): records, decoders, generated schemas.

The end-to-end checks (real handlers, real client) are in tests/server/; here the pure
parts: what the decoders accept and refuse, that one error type leaves them, that every
example of the OpenAPI document fits the schemas generated from the records, and that the
STUN-only server does not load the record library.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from natprobe import contract
from natprobe.contract import (
    ConnectResult,
    Endpoint,
    HolePunchResponse,
    HttpsResult,
    ProbeMode,
    ProbeRequest,
    ProbeResponse,
    TransportProtocol,
    UdpNonceResult,
    decode_hole_punch_request,
    decode_hole_punch_response,
    decode_probe_request,
    decode_probe_response,
    decode_whoami,
    encode,
)
from natprobe.contract import dns as dns_route
from natprobe.contract import explain as explain_route
from natprobe.contract import exposure_route
from natprobe.errors import DecodeError

from natprobe_server.api.openapi import openapi_document

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = openapi_document()
NONCE = "0123456789abcdef0123456789abcdef"


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": DOCUMENT["components"]})


def _media(item: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in item:
        item = DOCUMENT["components"]["responses"][item["$ref"].rsplit("/", 1)[1]]
    content: dict[str, Any] = item.get("content", {}).get("application/json", {})
    return content


_DECODERS = {
    "WhoAmI": decode_whoami,
    "ProbeRequest": decode_probe_request,
    "ProbeResponse": decode_probe_response,
    "HolePunchRequest": decode_hole_punch_request,
    "HolePunchResponse": decode_hole_punch_response,
    "ErrorBody": lambda body: contract.decode(body, contract.ErrorBody),
    "ExposureRequest": exposure_route.decode_request,
    "ExposureResponse": exposure_route.decode_response,
    "DnsRequest": dns_route.decode_request,
    "DnsResponse": dns_route.decode_response,
    "ExplainRequest": explain_route.decode_explain_request,
    "ExplainResponse": explain_route.decode_explain_response,
}


def test_every_example_validates_against_the_generated_schema_and_decodes() -> None:
    """Request and response examples of every route: valid under the schema generated from
    the records (JSON Schema 2020-12), and read back whole by the contract's decoder."""
    checked: set[str] = set()
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            media = [_media(operation["requestBody"])] if "requestBody" in operation else []
            media += [_media(response) for response in operation["responses"].values()]
            for content in media:
                ref = content.get("schema", {}).get("$ref")
                for name, example in content.get("examples", {}).items():
                    assert ref is not None, (path, method, name)
                    schema_name = ref.rsplit("/", 1)[1]
                    _validator(schema_name).validate(example["value"])
                    decoded = _DECODERS[schema_name](json.dumps(example["value"]).encode())
                    if not schema_name.endswith("Request"):  # requests leave out their defaults
                        assert json.loads(msgspec.json.encode(decoded)) == example["value"], (path, name)
                    checked.add(f"{method} {path} {name}")
    assert len(checked) >= 25, sorted(checked)


def test_the_document_names_only_generated_schemas() -> None:
    text = json.dumps(DOCUMENT)
    names = {part.split('"')[0] for part in text.split("#/components/schemas/")[1:]}
    assert names <= set(DOCUMENT["components"]["schemas"]), names - set(DOCUMENT["components"]["schemas"])
    assert {"ProbeRequest", "ProbeResponse", "WhoAmI", "HolePunchRequest", "HolePunchResponse", "ErrorBody"} <= names


def test_every_protocol_mode_pair_has_one_result_record() -> None:
    pairs = {(p, m) for p, modes in contract.MODES.items() for m in modes}
    assert set(contract.RESULT_TYPES) == pairs
    rules = DOCUMENT["components"]["schemas"]["ProbeResponse"]["allOf"]
    assert len(rules) == len(set(contract.RESULT_TYPES.values()))


# --- requests ------------------------------------------------------------------------------------


def test_a_request_encodes_without_its_defaults_and_decodes_back() -> None:
    request = ProbeRequest(TransportProtocol.UDP, 22124, ProbeMode.NONCE, nonce=NONCE, count=2)
    body = encode(request)
    assert json.loads(body) == {"protocol": "udp", "port": 22124, "mode": "nonce", "nonce": NONCE, "count": 2}
    assert decode_probe_request(body) == request
    assert ProbeRequest.build(TransportProtocol.UDP, 22124, ProbeMode.NONCE, nonce=NONCE, count=2) == request
    assert request.payload == contract.NONCE_PREFIX + NONCE.encode() and request.datagrams == 2
    assert contract.udp_nonce_body_bytes(request) == 2 * len(request.payload)
    plain = decode_probe_request(b'{"protocol": "tcp", "port": 80, "mode": "http"}')
    assert (plain.payload, plain.virtual_host, plain.datagrams, plain.timeout) == (None, None, contract.DEFAULT_COUNT, 2.0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"protocol": TransportProtocol.TCP, "port": 1, "mode": ProbeMode.JAMULUS}, "does not work over tcp"),
        ({"protocol": TransportProtocol.UDP, "port": 1, "mode": ProbeMode.NONCE}, "needs a 'nonce'"),
        ({"protocol": TransportProtocol.TCP, "port": 1, "mode": ProbeMode.SSH, "host": "a.test"}, "'host' is only"),
        ({"protocol": TransportProtocol.TCP, "port": 1, "mode": ProbeMode.CONNECT, "count": 1}, "'count' is only"),
    ],
)
def test_a_client_cannot_build_a_request_the_server_refuses(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProbeRequest(**fields)


def test_a_repeated_key_counts_once_the_last_one_wins() -> None:
    """RFC 8259 section 4 leaves repeated names to the parser; msgspec keeps the last. No field
    names a target, so there is nothing to smuggle past a proxy that reads the first."""
    body = b'{"protocol": "tcp", "protocol": "udp", "port": 1, "mode": "jamulus"}'
    assert decode_probe_request(body).protocol is TransportProtocol.UDP


def test_patterns_refuse_a_trailing_newline() -> None:
    """Python's ``$`` matches before a final newline; the patterns must not let one through
    into a Host header or a registration name."""
    for body in (
        {"protocol": "udp", "port": 1, "mode": "nonce", "nonce": NONCE + "\n"},
        {"protocol": "tcp", "port": 1, "mode": "http", "host": "cloud.example.org\n"},
    ):
        with pytest.raises(DecodeError, match="must be"):
            decode_probe_request(json.dumps(body).encode())
        assert not _validator("ProbeRequest").is_valid(body)
    with pytest.raises(DecodeError, match="name must be"):
        decode_hole_punch_request(b'{"name": "np-1\\n"}')


# --- answers -------------------------------------------------------------------------------------


def _answer(result: Any, protocol: str = "tcp", mode: str = "connect") -> bytes:
    return json.dumps({
        "target": {"ip": "203.0.113.7", "port": 80}, "protocol": protocol, "mode": mode,
        "source": {"ip": "198.51.100.10", "port": 5000}, "result": result, "elapsed_ms": 3.0,
    }).encode()


def test_a_probe_answer_decodes_to_the_record_of_its_mode() -> None:
    connect = decode_probe_response(_answer({"connected": False, "error": "refused", "connect_ms": None}))
    assert connect.result == ConnectResult(False, contract.ProbeError.REFUSED, None)
    assert connect.target.address.port == 80 and str(connect.source.address.ip) == "198.51.100.10"
    https = decode_probe_response(_answer(
        {"connected": True, "error": None, "status": 200, "server_header": None, "location": None, "tls": None},
        mode="https",
    ))
    assert isinstance(https.result, HttpsResult) and https.result.tls is None
    nonce = decode_probe_response(_answer({"sent": 3, "later": "ignored"}, "udp", "nonce"))
    assert nonce.result == UdpNonceResult(3)  # a newer server's extra fields do not break this client


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_answer({"sent": 3}), "connected"),  # a tcp/connect answer with a UDP nonce result
        (_answer({"connected": True}, "udp", "http"), "does not work over udp"),
        (_answer({"connected": "yes", "error": None, "connect_ms": 1.0}), "expected `bool`"),
        (_answer({"connected": True, "error": None, "connect_ms": -1.0}), ">= 0"),
        (json.dumps({"protocol": "tcp", "mode": "connect"}).encode(), "required"),
        (b'{"target": {"ip": "not an address", "port": 1}, "protocol": "tcp", "mode": "connect"}', "not an IP address"),
        (b"<html>", "not valid JSON"),
    ],
)
def test_a_malformed_answer_is_one_decode_error(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_probe_response(body)


def test_a_hole_punch_answer_must_agree_with_itself() -> None:
    example = DOCUMENT["paths"]["/v1/jamulus/hole-punch"]["post"]["responses"]["200"]["content"]["application/json"]
    value = example["examples"]["cone_nat"]["value"]
    answer = decode_hole_punch_response(json.dumps(value).encode())
    assert isinstance(answer, HolePunchResponse) and answer.hole_punch.source == Endpoint("203.0.113.7", 22124)
    value["hole_punch"]["received"] = False  # a source, yet "not received"
    with pytest.raises(DecodeError, match="received"):
        decode_hole_punch_response(json.dumps(value).encode())


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 70000) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["protocol", "mode", "result", "target", "ip", "port", "sent", "name", "error", "x"]),
        inner, max_size=6),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_JSONISH.map(lambda v: json.dumps(v).encode()), st.binary(max_size=64)))
def test_decoders_raise_only_decode_error(body: bytes) -> None:
    for decoder in _DECODERS.values():
        try:
            decoder(body)
        except DecodeError:
            pass


# --- the STUN-only server ------------------------------------------------------------------------


def test_the_stun_only_server_does_not_load_the_record_library() -> None:
    """Without --http-port the echo server needs the contract's byte budgets, not msgspec
    (benchmarks/README.md: 1.5 MiB of its ~24 MiB)."""
    code = "import sys, natprobe_server.deploy; print(sorted(m for m in ('msgspec', 'aiohttp') if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert output.stdout.strip() == "[]"


def test_probe_response_is_generic_over_its_result() -> None:
    response = ProbeResponse(
        Endpoint("127.0.0.1", 1), TransportProtocol.UDP, ProbeMode.NONCE, Endpoint("127.0.0.1", 2), UdpNonceResult(1), 0.5
    )
    assert decode_probe_response(encode(response)) == response
    with pytest.raises(ValueError, match="cannot have a ConnectResult"):
        ProbeResponse(response.target, TransportProtocol.UDP, ProbeMode.NONCE, response.source,
                      ConnectResult(True, None, 1.0), 0.5)
