"""The OpenAPI 3.1 document of the echo server's HTTP API (served at ``GET /v1/openapi.json``).

Written out by hand, as a Python dict, because it *is* the contract clients are built
against; ``tests/echo_server/test_http_api.py`` keeps it honest: every route is documented
and every documented route exists, the request schema accepts exactly what the handler
accepts, and every example is sent to the real handlers and the answers are validated
against the response schemas. Schemas use JSON Schema 2020-12 (OpenAPI 3.1's dialect), with
``if``/``then`` so the valid protocol/mode/field combinations are machine-checkable.
"""

from __future__ import annotations

import copy
from typing import Any

from natprobe import __version__
from natprobe.contract.exposure_route import openapi_fragment as exposure_openapi_fragment

__all__ = ("openapi_document",)

_JSON = "application/json"

_HOST_PATTERN = (
    r"^(?=.{1,253}\.?$)(?:(?!-)[A-Za-z0-9-]{1,63}(?<!-)\.)*"
    r"(?!-)(?=[A-Za-z0-9-]*[A-Za-z-])[A-Za-z0-9-]{1,63}(?<!-)\.?$"
)
"""A DNS name: LDH labels of 1-63 characters, at most 253 in all, last label not all digits
(so IP literals are refused: the Host header and SNI name a site, not an address)."""


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema_type: str, **extra: Any) -> dict[str, Any]:
    return {"type": [schema_type, "null"], **extra}


def _error_response(description: str, examples: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {_JSON: {"schema": _ref("Error"), "examples": examples}},
    }
    if headers:
        response["headers"] = headers
    return response


def _error(code: str, message: str, request: dict[str, Any] | None = None, **extensions: Any) -> dict[str, Any]:
    example: dict[str, Any] = {"value": {"error": {"code": code, "message": message}}}
    if request is not None:
        example["x-request"] = request  # the body that produces this answer (the tests send it)
    example.update(extensions)
    return example


_ENDPOINT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["ip", "port"],
    "properties": {
        "ip": {"type": "string", "description": "IPv4 or IPv6 address"},
        "port": {"type": "integer", "minimum": 0, "maximum": 65535},
    },
}

_TCP_ERROR = {
    "type": ["string", "null"],
    "description": (
        "Why the probe did not get what it came for; null on success. Known values: "
        "`refused` (RST: reachable, nothing listening, or a rejecting firewall), "
        "`timeout` (no answer: usually no port forward or a dropping firewall), "
        "`unreachable` (ICMP unreachable), `reset`, `closed` (connected, then closed without "
        "an answer), `protocol` (the answer is not the expected protocol), `tls` (the TLS "
        "handshake failed). Other OS errors appear as their lower-case errno name (`eacces`)."
    ),
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "additionalProperties": False,
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "type": "string",
                        "enum": [
                            "bad_request",
                            "unauthorized",
                            "rate_limited",
                            "not_found",
                            "port_not_allowed",
                            "internal",
                        ],
                    },
                    "message": {"type": "string", "description": "A sentence for a person."},
                },
            }
        },
    },
    "Whoami": {
        "type": "object",
        "additionalProperties": False,
        "required": ["ip", "port", "server", "version", "probe_source_ip", "udp_probe_port", "auth_required"],
        "properties": {
            "ip": {"type": "string", "description": "The requester's source IP as this server sees it."},
            "port": {
                "type": "integer",
                "minimum": 1,
                "maximum": 65535,
                "description": "The TCP source port of this request.",
            },
            "server": {"const": "natprobe-echo"},
            "version": {"type": "string", "description": "natprobe version of the server."},
            "probe_source_ip": {"type": "string", "description": "The IP address probe-backs leave from."},
            "udp_probe_port": {
                "type": "integer",
                "minimum": 1,
                "maximum": 65535,
                "description": "The UDP source port nonce probe-backs leave from (fixed while the server runs).",
            },
            "auth_required": {"type": "boolean", "description": "Whether POST /v1/probe needs a bearer token."},
        },
    },
    "ProbeRequest": {
        "type": "object",
        "additionalProperties": False,
        "description": (
            "What to probe. There is no target address: the server only ever probes the IP "
            "address the request came from (the TCP peer of this HTTP connection), on `port`. "
            "Unknown fields are refused with 400."
        ),
        "required": ["protocol", "port", "mode"],
        "properties": {
            "protocol": {"type": "string", "enum": ["udp", "tcp"]},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "mode": {
                "type": "string",
                "enum": ["nonce", "jamulus", "http", "https", "ssh", "connect"],
                "description": (
                    "udp: `nonce` (datagrams `natprobe-nonce:<nonce>`), `jamulus` (connection-less "
                    "ping). tcp: `nonce` (connect, write `natprobe-nonce:<nonce>`, close), `connect`, "
                    "`http` (GET /), `https` (TLS, certificate report, GET /), `ssh` (read the banner)."
                ),
            },
            "nonce": {
                "type": "string",
                "pattern": "^[0-9a-fA-F]{16,64}$",
                "description": "Required for mode `nonce`, refused otherwise.",
            },
            "host": {
                "type": "string",
                "pattern": _HOST_PATTERN,
                "description": "DNS name for the Host header and TLS SNI (modes `http`, `https` only; default: your IP).",
            },
            "count": {
                "type": "integer",
                "minimum": 1,
                "maximum": 5,
                "default": 3,
                "description": (
                    "UDP `nonce` only: datagrams to send, 150 ms apart. The server never sends more UDP "
                    "bytes than the request body holds, so it sends min(count, floor(body bytes / "
                    "(15 + nonce length))) datagrams; pad the JSON body with trailing spaces to get all "
                    "of them. `result.sent` says how many went out."
                ),
            },
            "timeout": {
                "type": "number",
                "minimum": 0.5,
                "maximum": 5.0,
                "default": 2.0,
                "description": (
                    "Seconds allowed for each network step: the TCP connect, then the rest of the "
                    "exchange (TLS handshake, request, reply); for `jamulus` the whole ping. "
                    "`https` may use a second connection (see HttpsResult), so a probe can take up to "
                    "4 x timeout; UDP `nonce` does not wait for anything."
                ),
            },
        },
        "allOf": [
            {
                "if": {"properties": {"protocol": {"const": "udp"}}, "required": ["protocol"]},
                "then": {"properties": {"mode": {"enum": ["nonce", "jamulus"]}}},
            },
            {
                "if": {"properties": {"protocol": {"const": "tcp"}}, "required": ["protocol"]},
                "then": {"properties": {"mode": {"enum": ["nonce", "connect", "http", "https", "ssh"]}}},
            },
            {
                "if": {"properties": {"mode": {"const": "nonce"}}, "required": ["mode"]},
                "then": {"required": ["nonce"]},
                "else": {"not": {"required": ["nonce"]}},
            },
            {
                "if": {"properties": {"mode": {"enum": ["http", "https"]}}, "required": ["mode"]},
                "else": {"not": {"required": ["host"]}},
            },
            {
                "if": {
                    "properties": {"protocol": {"const": "udp"}, "mode": {"const": "nonce"}},
                    "required": ["protocol", "mode"],
                },
                "else": {"not": {"required": ["count"]}},
            },
        ],
    },
    "Endpoint": _ENDPOINT,
    "UdpNonceResult": {
        "type": "object",
        "additionalProperties": False,
        "required": ["sent"],
        "properties": {"sent": {"type": "integer", "minimum": 0, "maximum": 5, "description": "Datagrams sent."}},
    },
    "ConnectResult": {
        "type": "object",
        "additionalProperties": False,
        "required": ["connected", "error", "connect_ms"],
        "properties": {
            "connected": {"type": "boolean"},
            "error": _TCP_ERROR,
            "connect_ms": _nullable("number", minimum=0),
        },
    },
    "JamulusResult": {
        "type": "object",
        "additionalProperties": False,
        "required": ["answered", "rtt_ms", "clients", "version", "os"],
        "properties": {
            "answered": {"type": "boolean", "description": "A Jamulus server echoed the ping."},
            "rtt_ms": _nullable("number", minimum=0),
            "clients": _nullable("integer", minimum=0, description="Connected clients."),
            "version": _nullable("string", description="e.g. 3.9.1"),
            "os": _nullable("string", description="e.g. Linux"),
        },
    },
    "HttpResult": {
        "type": "object",
        "additionalProperties": False,
        "required": ["connected", "error", "status", "server_header", "location"],
        "properties": {
            "connected": {"type": "boolean"},
            "error": _TCP_ERROR,
            "status": _nullable("integer", minimum=100, maximum=999),
            "server_header": _nullable("string"),
            "location": _nullable("string"),
        },
    },
    "TlsInfo": {
        "type": "object",
        "additionalProperties": False,
        "required": ["version", "subject_cn", "san", "issuer_cn", "not_after", "verified", "verify_error"],
        "properties": {
            "version": _nullable("string", description="e.g. TLSv1.3"),
            "subject_cn": _nullable("string"),
            "san": {"type": "array", "items": {"type": "string"}, "description": "DNS names and IP addresses."},
            "issuer_cn": _nullable("string"),
            "not_after": _nullable("string", description="Expiry, ISO 8601 UTC (2026-05-01T12:00:00Z)."),
            "verified": {
                "type": "boolean",
                "description": "The chain verifies against the server's trust store for `host` (or your IP).",
            },
            "verify_error": _nullable("string", description="Why it does not verify (or why TLS failed)."),
        },
    },
    "HttpsResult": {
        "type": "object",
        "additionalProperties": False,
        "description": (
            "HttpResult plus `tls` (null when TCP did not connect). The handshake is tried with "
            "verification first; if only verification fails, a second connection reads the "
            "certificate without trusting it and sends the GET."
        ),
        "required": ["connected", "error", "status", "server_header", "location", "tls"],
        "properties": {
            "connected": {"type": "boolean"},
            "error": _TCP_ERROR,
            "status": _nullable("integer", minimum=100, maximum=999),
            "server_header": _nullable("string"),
            "location": _nullable("string"),
            "tls": {"oneOf": [{"type": "null"}, _ref("TlsInfo")]},
        },
    },
    "SshResult": {
        "type": "object",
        "additionalProperties": False,
        "required": ["connected", "error", "banner"],
        "properties": {
            "connected": {"type": "boolean"},
            "error": _TCP_ERROR,
            "banner": _nullable("string", description="The identification line, e.g. SSH-2.0-OpenSSH_9.2p1"),
        },
    },
    "ProbeResponse": {
        "type": "object",
        "additionalProperties": False,
        "required": ["target", "protocol", "mode", "source", "result", "elapsed_ms"],
        "properties": {
            "target": {**_ref("Endpoint"), "description": "Always your own IP, and the port you asked for."},
            "protocol": {"type": "string", "enum": ["udp", "tcp"]},
            "mode": {"type": "string", "enum": ["nonce", "jamulus", "http", "https", "ssh", "connect"]},
            "source": {**_ref("Endpoint"), "description": "Where the probe left from."},
            "result": {"type": "object"},
            "elapsed_ms": {"type": "number", "minimum": 0},
        },
        "allOf": [
            {
                "if": {"properties": {"protocol": {"const": "udp"}, "mode": {"const": "nonce"}}},
                "then": {"properties": {"result": _ref("UdpNonceResult")}},
            },
            {
                "if": {"properties": {"mode": {"const": "jamulus"}}},
                "then": {"properties": {"result": _ref("JamulusResult")}},
            },
            {
                "if": {"properties": {"protocol": {"const": "tcp"}, "mode": {"enum": ["nonce", "connect"]}}},
                "then": {"properties": {"result": _ref("ConnectResult")}},
            },
            {
                "if": {"properties": {"mode": {"const": "http"}}},
                "then": {"properties": {"result": _ref("HttpResult")}},
            },
            {
                "if": {"properties": {"mode": {"const": "https"}}},
                "then": {"properties": {"result": _ref("HttpsResult")}},
            },
            {
                "if": {"properties": {"mode": {"const": "ssh"}}},
                "then": {"properties": {"result": _ref("SshResult")}},
            },
        ],
    },
    "HolePunchRequest": {
        "type": "object",
        "additionalProperties": False,
        "description": (
            "Which registration to punch for. There is no target: the server only punches toward a "
            "registration with this name whose UDP source IP is the IP this request came from. The "
            "server never sends more UDP bytes than the request body holds: pad the JSON with "
            "trailing spaces to 110 bytes to pay for every retry (41 bytes pay for one try of each "
            "step; fewer bytes are refused with 400)."
        ),
        "required": ["name"],
        "properties": {
            "name": {
                "type": "string",
                "pattern": "^[A-Za-z0-9._~-]{1,20}$",
                "description": "The name the Jamulus registration used (natprobe uses a per-test nonce).",
            }
        },
    },
    "PingStep": {
        "type": "object",
        "additionalProperties": False,
        "required": ["source", "sent", "answered", "rtt_ms"],
        "properties": {
            "source": {**_ref("Endpoint"), "description": "The server socket the CLM_PING_MS left from."},
            "sent": {"type": "integer", "minimum": 0, "maximum": 3},
            "answered": {"type": "boolean", "description": "The ping came back from the published address."},
            "rtt_ms": _nullable("number", minimum=0),
        },
    },
    "HolePunchResponse": {
        "type": "object",
        "additionalProperties": False,
        "description": (
            "Each step of the hole punch, as a Jamulus directory does it for a client that asks for "
            "the server list. a) `unsolicited`: a stranger socket pings the published address before "
            "any punch (only a port forward or a full-cone NAT lets it in). b) `hole_punch.requests_sent`: "
            "CLM_SEND_EMPTY_MESSAGE(peer) sent to the registration. c) `hole_punch.source`: where the "
            "server's CLM_EMPTY_MESSAGE to the peer came from; a port other than the published one "
            "means the NAT maps every destination to a different port (symmetric NAT). d) "
            "`punched_ping`: the peer pings the published address, as a Jamulus client pings a listed server."
        ),
        "required": [
            "name",
            "published",
            "registered_s_ago",
            "keepalive_interval_s",
            "unsolicited",
            "hole_punch",
            "punched_ping",
            "udp_bytes_sent",
            "elapsed_ms",
        ],
        "properties": {
            "name": {"type": "string"},
            "published": {
                **_ref("Endpoint"),
                "description": "The registration's UDP source address: what a directory lists for the server.",
            },
            "registered_s_ago": {"type": "number", "minimum": 0},
            "keepalive_interval_s": {
                "type": "number",
                "minimum": 0,
                "description": "CLM_EMPTY_MESSAGE keep-alive interval toward the registration (59 s, as Jamulus).",
            },
            "unsolicited": _ref("PingStep"),
            "hole_punch": {
                "type": "object",
                "additionalProperties": False,
                "required": ["peer", "requests_sent", "received", "source", "after_ms"],
                "properties": {
                    "peer": {**_ref("Endpoint"), "description": "The fresh peer the server was asked to punch toward."},
                    "requests_sent": {"type": "integer", "minimum": 0, "maximum": 3},
                    "received": {"type": "boolean"},
                    "source": {"oneOf": [{"type": "null"}, _ref("Endpoint")]},
                    "after_ms": _nullable("number", minimum=0),
                },
            },
            "punched_ping": _ref("PingStep"),
            "udp_bytes_sent": {"type": "integer", "minimum": 0},
            "elapsed_ms": {"type": "number", "minimum": 0},
        },
    },
}

_RETRY_AFTER = {
    "description": "Seconds to wait before the next probe.",
    "schema": {"type": "integer", "minimum": 1},
}

_NONCE = "3f9a1c0e5b7d2468ace0f13579bdf024"

_REQUEST_EXAMPLES: dict[str, Any] = {
    "udp_nonce": {
        "summary": "Is UDP 22124 forwarded to me? Watch for 3 datagrams natprobe-nonce:<nonce>",
        "value": {"protocol": "udp", "port": 22124, "mode": "nonce", "nonce": _NONCE, "count": 3},
    },
    "udp_jamulus": {
        "summary": "Does a Jamulus server answer on my UDP 22124?",
        "value": {"protocol": "udp", "port": 22124, "mode": "jamulus", "timeout": 2.0},
    },
    "tcp_connect": {
        "summary": "Does anything accept TCP on my port 8080?",
        "value": {"protocol": "tcp", "port": 8080, "mode": "connect", "timeout": 2.0},
    },
    "tcp_nonce": {
        "summary": "Connect and write the nonce (the client's own listener checks it arrives)",
        "value": {"protocol": "tcp", "port": 8443, "mode": "nonce", "nonce": _NONCE},
    },
    "http": {
        "summary": "GET / on my port 80 with Host: cloud.example.org",
        "value": {"protocol": "tcp", "port": 80, "mode": "http", "host": "cloud.example.org"},
    },
    "https": {
        "summary": "TLS on my port 443 with SNI cloud.example.org: certificate report, then GET /",
        "value": {"protocol": "tcp", "port": 443, "mode": "https", "host": "cloud.example.org", "timeout": 3.0},
    },
    "ssh": {
        "summary": "Read the SSH banner on my port 22",
        "value": {"protocol": "tcp", "port": 22, "mode": "ssh"},
    },
}

_RESPONSE_EXAMPLES: dict[str, Any] = {
    "udp_nonce": {
        "value": {
            "target": {"ip": "203.0.113.7", "port": 22124},
            "protocol": "udp",
            "mode": "nonce",
            "source": {"ip": "198.51.100.10", "port": 3481},
            "result": {"sent": 3},
            "elapsed_ms": 301.2,
        }
    },
    "udp_jamulus": {
        "value": {
            "target": {"ip": "203.0.113.7", "port": 22124},
            "protocol": "udp",
            "mode": "jamulus",
            "source": {"ip": "198.51.100.10", "port": 40112},
            "result": {"answered": True, "rtt_ms": 23.4, "clients": 2, "version": "3.9.1", "os": "Linux"},
            "elapsed_ms": 325.8,
        }
    },
    "tcp_connect_timeout": {
        "summary": "Nothing answered: typically no port forward",
        "value": {
            "target": {"ip": "203.0.113.7", "port": 8080},
            "protocol": "tcp",
            "mode": "connect",
            "source": {"ip": "198.51.100.10", "port": 51766},
            "result": {"connected": False, "error": "timeout", "connect_ms": None},
            "elapsed_ms": 2001.7,
        }
    },
    "http": {
        "value": {
            "target": {"ip": "203.0.113.7", "port": 80},
            "protocol": "tcp",
            "mode": "http",
            "source": {"ip": "198.51.100.10", "port": 51770},
            "result": {
                "connected": True,
                "error": None,
                "status": 301,
                "server_header": "nginx",
                "location": "https://cloud.example.org/",
            },
            "elapsed_ms": 48.1,
        }
    },
    "https": {
        "value": {
            "target": {"ip": "203.0.113.7", "port": 443},
            "protocol": "tcp",
            "mode": "https",
            "source": {"ip": "198.51.100.10", "port": 51772},
            "result": {
                "connected": True,
                "error": None,
                "status": 200,
                "server_header": "nginx",
                "location": None,
                "tls": {
                    "version": "TLSv1.3",
                    "subject_cn": "cloud.example.org",
                    "san": ["cloud.example.org"],
                    "issuer_cn": "cloud.example.org",
                    "not_after": "2026-05-01T12:00:00Z",
                    "verified": False,
                    "verify_error": "self-signed certificate",
                },
            },
            "elapsed_ms": 95.3,
        }
    },
    "ssh": {
        "value": {
            "target": {"ip": "203.0.113.7", "port": 22},
            "protocol": "tcp",
            "mode": "ssh",
            "source": {"ip": "198.51.100.10", "port": 51774},
            "result": {"connected": True, "error": None, "banner": "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"},
            "elapsed_ms": 61.0,
        }
    },
}

_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
    "info": {
        "title": "natprobe echo server: probe-back API",
        "version": __version__,
        "license": {"name": "MIT", "identifier": "MIT"},
        "description": (
            "Run by `natprobe serve --http-port N` on a public host. `natprobe check --udp 22124 "
            "--server http://HOST:N` asks it to reach back to the public address the request came "
            "from and reports whether the port is reachable from the Internet. `natprobe explain "
            "jamulus --server http://HOST:N` registers with the server's Jamulus directory emulation "
            "and asks it for a hole punch, to show why Jamulus public mode needs no port forward.\n\n"
            "Safety: the server only ever probes the requester's own IP; UDP probe-backs are never "
            "bigger than the request body; every source IP is rate limited (token bucket, by default "
            "a burst of 10 then 1 per second) and the number of probes in flight is capped. All "
            "errors are `{\"error\": {\"code\", \"message\"}}`."
        ),
    },
    "paths": {
        "/v1/whoami": {
            "get": {
                "operationId": "whoami",
                "summary": "Your address as this server sees it, and where probe-backs come from",
                "responses": {
                    "200": {
                        "description": "Your address and the server's probe source.",
                        "content": {
                            _JSON: {
                                "schema": _ref("Whoami"),
                                "examples": {
                                    "default": {
                                        "value": {
                                            "ip": "203.0.113.7",
                                            "port": 51234,
                                            "server": "natprobe-echo",
                                            "version": __version__,
                                            "probe_source_ip": "198.51.100.10",
                                            "udp_probe_port": 3481,
                                            "auth_required": False,
                                        }
                                    }
                                },
                            }
                        },
                    },
                    "500": {"$ref": "#/components/responses/Internal"},
                },
            }
        },
        "/v1/probe": {
            "post": {
                "operationId": "probe",
                "summary": "Probe back to your own address on a port you name",
                "security": [{}, {"bearerAuth": []}],
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": _ref("ProbeRequest"), "examples": _REQUEST_EXAMPLES}},
                },
                "responses": {
                    "200": {
                        "description": (
                            "The probe ran. A closed or silent port is a result here "
                            "(`connected: false`, `answered: false`), not an error."
                        ),
                        "content": {_JSON: {"schema": _ref("ProbeResponse"), "examples": _RESPONSE_EXAMPLES}},
                    },
                    "400": _error_response(
                        "The request is not valid (nothing was sent).",
                        {
                            "unknown_field": _error(
                                "bad_request",
                                "unknown field(s) 'ip'; allowed fields are protocol, port, mode, nonce, host, "
                                "count, timeout. There is no way to name a target address: the server only "
                                "ever probes the address this request came from",
                                {"protocol": "udp", "port": 22124, "mode": "nonce", "nonce": _NONCE, "ip": "10.0.0.1"},
                            ),
                            "bad_combination": _error(
                                "bad_request",
                                "mode 'jamulus' does not work over tcp; tcp modes are: connect, http, https, nonce, ssh",
                                {"protocol": "tcp", "port": 22124, "mode": "jamulus"},
                            ),
                            "bad_port": _error(
                                "bad_request",
                                "port must be an integer from 1 to 65535, got 0",
                                {"protocol": "tcp", "port": 0, "mode": "connect"},
                            ),
                        },
                    ),
                    "401": _error_response(
                        "The server requires a token and none, or a wrong one, was sent.",
                        {
                            "missing_token": _error(
                                "unauthorized", "this server needs a token: send 'Authorization: Bearer <token>'"
                            )
                        },
                        {"WWW-Authenticate": {"schema": {"type": "string"}}},
                    ),
                    "403": _error_response(
                        "The operator does not allow probes to this port.",
                        {"denied": _error("port_not_allowed", "this server does not probe port 25")},
                    ),
                    "413": _error_response(
                        "The body is larger than the server accepts (4096 bytes by default).",
                        {"too_large": _error("bad_request", "the request body is larger than 4096 bytes")},
                    ),
                    "429": _error_response(
                        "Too many probes from your address, or too many in flight on the server.",
                        {
                            "rate_limited": _error(
                                "rate_limited", "too many probes from 203.0.113.7: 10 at once, then 1 per second"
                            )
                        },
                        {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
                    ),
                    "500": {"$ref": "#/components/responses/Internal"},
                },
            }
        },
        "/v1/jamulus/hole-punch": {
            "post": {
                "operationId": "jamulusHolePunch",
                "summary": "Play a Jamulus directory's hole punch toward your own registration",
                "description": (
                    "Register first: send CLM_REGISTER_SERVER_EX (Jamulus' own message) from your Jamulus "
                    "port to the server's directory emulation (UDP 22224 on the API's address by default), "
                    "with a per-test name. The server remembers the registration by its UDP source address, "
                    "keeps it alive with CLM_EMPTY_MESSAGE every 59 s (or every N >= 5 s when the "
                    "registration's city is `keepalive=N`), and on this request performs the hole punch "
                    "and reports what each side saw."
                ),
                "security": [{}, {"bearerAuth": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        _JSON: {
                            "schema": _ref("HolePunchRequest"),
                            "examples": {
                                "default": {
                                    "summary": "Punch toward my registration np-3f9a1c0e5b7d2468 (padded to 110 bytes)",
                                    "value": {"name": "np-3f9a1c0e5b7d2468"},
                                }
                            },
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": (
                            "The hole punch ran. Silence at any step is a result (`answered: false`, "
                            "`received: false`), not an error."
                        ),
                        "content": {
                            _JSON: {
                                "schema": _ref("HolePunchResponse"),
                                "examples": {
                                    "cone_nat": {
                                        "summary": "Port-restricted cone NAT: stranger dropped, punched peer admitted",
                                        "value": {
                                            "name": "np-3f9a1c0e5b7d2468",
                                            "published": {"ip": "203.0.113.7", "port": 22124},
                                            "registered_s_ago": 0.4,
                                            "keepalive_interval_s": 59.0,
                                            "unsolicited": {
                                                "source": {"ip": "198.51.100.11", "port": 40113},
                                                "sent": 2,
                                                "answered": False,
                                                "rtt_ms": None,
                                            },
                                            "hole_punch": {
                                                "peer": {"ip": "198.51.100.11", "port": 40114},
                                                "requests_sent": 1,
                                                "received": True,
                                                "source": {"ip": "203.0.113.7", "port": 22124},
                                                "after_ms": 24.8,
                                            },
                                            "punched_ping": {
                                                "source": {"ip": "198.51.100.11", "port": 40114},
                                                "sent": 1,
                                                "answered": True,
                                                "rtt_ms": 23.9,
                                            },
                                            "udp_bytes_sent": 54,
                                            "elapsed_ms": 851.0,
                                        },
                                    },
                                    "symmetric_nat": {
                                        "summary": "Symmetric NAT: the punch leaves from another port, the ping is dropped",
                                        "value": {
                                            "name": "np-3f9a1c0e5b7d2468",
                                            "published": {"ip": "203.0.113.7", "port": 61012},
                                            "registered_s_ago": 0.4,
                                            "keepalive_interval_s": 59.0,
                                            "unsolicited": {
                                                "source": {"ip": "198.51.100.11", "port": 40113},
                                                "sent": 2,
                                                "answered": False,
                                                "rtt_ms": None,
                                            },
                                            "hole_punch": {
                                                "peer": {"ip": "198.51.100.11", "port": 40114},
                                                "requests_sent": 1,
                                                "received": True,
                                                "source": {"ip": "203.0.113.7", "port": 5077},
                                                "after_ms": 25.1,
                                            },
                                            "punched_ping": {
                                                "source": {"ip": "198.51.100.11", "port": 40114},
                                                "sent": 3,
                                                "answered": False,
                                                "rtt_ms": None,
                                            },
                                            "udp_bytes_sent": 80,
                                            "elapsed_ms": 2030.4,
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "400": _error_response(
                        "The request is not valid, or its body is too small to pay for the UDP it needs (nothing was sent).",
                        {
                            "unknown_field": _error(
                                "bad_request",
                                "unknown field(s) 'ip'; the only field is 'name'. There is no way to name a target: "
                                "the server only punches toward a registration that came from the address of this request",
                                {"name": "np-3f9a1c0e5b7d2468", "ip": "10.0.0.1"},
                            ),
                            "bad_name": _error(
                                "bad_request",
                                "name must be 1 to 20 characters A-Z a-z 0-9 . _ ~ -, got 'a name that is far too long'",
                                {"name": "a name that is far too long"},
                            ),
                        },
                    ),
                    "401": _error_response(
                        "The server requires a token and none, or a wrong one, was sent.",
                        {
                            "missing_token": _error(
                                "unauthorized", "this server needs a token: send 'Authorization: Bearer <token>'"
                            )
                        },
                        {"WWW-Authenticate": {"schema": {"type": "string"}}},
                    ),
                    "404": _error_response(
                        "No registration by that name came from your address, or the server plays no directory.",
                        {
                            "not_registered": _error(
                                "not_found",
                                "no Jamulus registration named 'np-3f9a1c0e5b7d2468' came from your address "
                                "203.0.113.7; register with the directory at udp 198.51.100.10:22224 from this "
                                "address first (registrations from other addresses are never punched for you)",
                            ),
                            "no_directory": _error(
                                "not_found",
                                "this echo server does not play a Jamulus directory (its operator can turn it on "
                                "with --jamulus-port)",
                            ),
                        },
                    ),
                    "413": _error_response(
                        "The body is larger than the server accepts (4096 bytes by default).",
                        {"too_large": _error("bad_request", "the request body is larger than 4096 bytes")},
                    ),
                    "429": _error_response(
                        "Too many probes from your address, or too many in flight (shared with /v1/probe).",
                        {
                            "rate_limited": _error(
                                "rate_limited", "too many probes from 203.0.113.7: 10 at once, then 1 per second"
                            )
                        },
                        {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
                    ),
                    "500": {"$ref": "#/components/responses/Internal"},
                },
            }
        },
        "/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "The OpenAPI 3.1 document.",
                        "content": {_JSON: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    },
    "components": {
        "schemas": _SCHEMAS,
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "Only when the server was started with a token (whoami says `auth_required`).",
            }
        },
        "headers": {"RetryAfter": _RETRY_AFTER},
        "responses": {
            "Internal": _error_response(
                "The server failed (for example it cannot bind its probe source address).",
                {"internal": _error("internal", "the server could not send the probe: cannot bind ...")},
            )
        },
    },
}


# POST /v1/exposure: generated from its contract module (natprobe.contract.exposure_route).
_EXPOSURE_PATH, _EXPOSURE_SCHEMAS = exposure_openapi_fragment()
_DOCUMENT["paths"]["/v1/exposure"] = _EXPOSURE_PATH
_DOCUMENT["components"]["schemas"].update(_EXPOSURE_SCHEMAS)


def openapi_document() -> dict[str, Any]:
    """A fresh copy of the document (callers may change theirs)."""
    return copy.deepcopy(_DOCUMENT)
