"""The OpenAPI 3.1 document of the echo server's HTTP API (served at ``GET /v1/openapi.json``).

The schemas (``components/schemas``) are generated from the records of
:mod:`natprobe.contract`, the same types the handlers decode requests with and the client
decodes answers with (:mod:`natprobe.contract.components`: msgspec's JSON Schema 2020-12,
OpenAPI 3.1's dialect, plus ``if``/``then`` rules for the valid protocol/mode/field
combinations). The routes, their descriptions and examples are written here by hand;
``tests/server/api/test_http_api.py`` keeps them honest: every route is documented and
every documented route exists, the request schema accepts exactly what the handler accepts,
every example validates against its schema, and every example is sent to the real handlers.
"""

from __future__ import annotations

import copy
from typing import Any

from natprobe.version import __version__
from natprobe.contract import dns as dns_contract
from natprobe.contract import explain as explain_contract
from natprobe.contract import API_SERVER_NAME, DEFAULT_MAX_BODY_BYTES, HOLE_PUNCH_FULL_BUDGET
from natprobe.contract.components import schema_components
from natprobe.jamulus import JAMULUS_KEEPALIVE_S
from natprobe.contract.exposure_route import openapi_fragment as exposure_openapi_fragment

__all__ = ("openapi_document",)

_JSON = "application/json"
_KEEPALIVE = JAMULUS_KEEPALIVE_S
_MAX_BODY = DEFAULT_MAX_BODY_BYTES


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_response(description: str, examples: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {_JSON: {"schema": _ref("ErrorBody"), "examples": examples}},
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
            "source": {"ip": "198.51.100.10", "port": 40312},
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
                                "schema": _ref("WhoAmI"),
                                "examples": {
                                    "default": {
                                        "value": {
                                            "ip": "203.0.113.7",
                                            "port": 51234,
                                            "server": API_SERVER_NAME,
                                            "version": __version__,
                                            "probe_source_ip": "198.51.100.10",
                                            "udp_probe_port": 0,
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
                                "unknown field 'ip'; allowed fields are protocol, port, mode, nonce, host, "
                                "count, timeout, relay. There is no way to name a target address: the server only "
                                "ever probes the address this request came from (or a 'relay' its name's owner "
                                "allows in DNS)",
                                {"protocol": "udp", "port": 22124, "mode": "nonce", "nonce": _NONCE, "ip": "10.0.0.1"},
                            ),
                            "bad_combination": _error(
                                "bad_request",
                                "mode 'jamulus' does not work over tcp; tcp modes are: connect, http, https, nonce, ssh",
                                {"protocol": "tcp", "port": 22124, "mode": "jamulus"},
                            ),
                            "bad_port": _error(
                                "bad_request",
                                "port must be an integer from 1 to 65535 (expected `int` >= 1)",
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
                        "The operator does not allow probes to this port, or the relay rule does not allow "
                        "probing the named relay for you (the message names the TXT record to add).",
                        {"denied": _error("port_not_allowed", "this server does not probe port 25")},
                    ),
                    "413": _error_response(
                        f"The body is larger than the server accepts ({_MAX_BODY} bytes by default).",
                        {"too_large": _error("bad_request", f"the request body is larger than {_MAX_BODY} bytes")},
                    ),
                    "429": _error_response(
                        "Too many probes from your address, too many in flight on the server, or too many "
                        "relay probes of one target.",
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
                    f"keeps it alive with CLM_EMPTY_MESSAGE every {_KEEPALIVE:g} s (or every N >= 5 s when the "
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
                                    "summary": f"Punch toward my registration np-3f9a1c0e5b7d2468 (padded to {HOLE_PUNCH_FULL_BUDGET} bytes)",
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
                                            "keepalive_interval_s": _KEEPALIVE,
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
                                            "keepalive_interval_s": _KEEPALIVE,
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
                                "unknown field 'ip'; the only field is 'name'. There is no way to name a target: "
                                "the server only punches toward a registration that came from the address of this request",
                                {"name": "np-3f9a1c0e5b7d2468", "ip": "10.0.0.1"},
                            ),
                            "bad_name": _error(
                                "bad_request",
                                "name must be 1 to 20 characters A-Z a-z 0-9 . _ ~ -",
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
                        f"The body is larger than the server accepts ({_MAX_BODY} bytes by default).",
                        {"too_large": _error("bad_request", f"the request body is larger than {_MAX_BODY} bytes")},
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
        "schemas": schema_components(),
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

# POST /v1/dns: its records and path item live with its types in natprobe.contract.dns.
_DOCUMENT["paths"][dns_contract.PATH] = dns_contract.openapi_path()
_DOCUMENT["components"]["schemas"].update(dns_contract.schema_components())
# POST /v1/explain (the web page's verdicts and findings): likewise in natprobe.contract.explain.
_DOCUMENT["paths"][explain_contract.PATH] = explain_contract.openapi_path()
_DOCUMENT["components"]["schemas"].update(explain_contract.schema_components())


# POST /v1/exposure: generated from its contract module (natprobe.contract.exposure_route).
_EXPOSURE_PATH, _EXPOSURE_SCHEMAS = exposure_openapi_fragment()
_DOCUMENT["paths"]["/v1/exposure"] = _EXPOSURE_PATH
_DOCUMENT["components"]["schemas"].update(_EXPOSURE_SCHEMAS)


def openapi_document() -> dict[str, Any]:
    """A fresh copy of the document (callers may change theirs)."""
    return copy.deepcopy(_DOCUMENT)
