"""The web checker's page and ``POST /v1/explain`` on loopback (the browser tests are in tests/lab/).

The page: strict headers, no inline script, nothing from elsewhere, no cookie, the language
chosen as documented, under 100 KB. The route: the CLI's verdicts and findings, in English and
French, for what a client measured; malformed input is a 400, never a crash.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator

from natprobe.addressing import IpFamily, TransportAddress
from natprobe.contract import decode_probe_response
from natprobe.contract.explain import MAX_PORTS, REQUEST_EXAMPLE, decode_explain_response
from natprobe.findings.browser_findings import silent_udp_port
from natprobe.i18n import _, use_language
from natprobe.verdicts.browser_mapping import StunTargets
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.findings.port_words import assess_port
from natprobe.observations import PortObservation
from natprobe.verdicts.reachability import Context
from natprobe_server.api.openapi import openapi_document
from natprobe_server.config.http import HttpApiConfig
from natprobe_server.config.web import WebPage, add_arguments, web_page_from_args
from natprobe_server.web.page import install_web, pick_language
from natprobe_server.web.texts import PAGE
from tests.echo_server import loopback_api

LOCALHOST = ipaddress.ip_address("127.0.0.1")
STUN = StunTargets(
    TransportAddress(ipaddress.ip_address("198.51.100.10"), 3478),
    TransportAddress(ipaddress.ip_address("198.51.100.11"), 3478),
    TransportAddress(ipaddress.ip_address("198.51.100.11"), 3479),
)
DOCUMENT = openapi_document()


@pytest.fixture(autouse=True)
def _english_afterwards() -> Any:
    yield
    use_language("en")


@asynccontextmanager
async def serving(page: WebPage | None = WebPage(stun=STUN)) -> AsyncIterator[str]:
    extend = None if page is None else (lambda app: install_web(app, page))
    async with loopback_api(HttpApiConfig(probe_source_ip=LOCALHOST), extend=extend) as running:
        yield running.url


async def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers or {}) as response:
        return response.status, dict(response.headers), await response.read()


async def _explain(url: str, body: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.post(f"{url}/v1/explain", json=body) as response:
        return response.status, await response.json()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _schema(name: str) -> Draft202012Validator:
    schemas = DOCUMENT["components"]["schemas"]
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}})


async def test_the_page_has_strict_headers_no_inline_script_no_cookie_and_nothing_from_elsewhere() -> None:
    async with serving() as url:
        status, headers, body = await _get(f"{url}/?udp=22124")
        statics = {name: await _get(f"{url}/static/{name}") for name in ("app.js", "style.css", "icon.svg")}
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
    assert "Set-Cookie" not in headers and all("Set-Cookie" not in h for _s, h, _b in statics.values())
    parser = _Tags()
    parser.feed(body.decode())
    scripts = [attrs for tag, attrs in parser.tags if tag == "script"]
    assert scripts and all(a.get("src", "").startswith("/static/") or a.get("type") == "application/json" for a in scripts)
    links = [value for _tag, attrs in parser.tags for key, value in attrs.items() if key in ("src", "href") and value]
    assert links and all(link.startswith("/") and not link.startswith("//") for link in links)
    for name, (code, _h, data) in statics.items():
        assert code == 200, name
        assert not re.search(rb"(?:https?:)?//[A-Za-z0-9]", re.sub(rb"xmlns=\"[^\"]*\"", b"", data)), name
    # Every control has a label.
    ids = {a.get("id") for tag, a in parser.tags if tag in ("input", "textarea")}
    labelled = {a.get("for") for tag, a in parser.tags if tag == "label"}
    assert ids and ids <= labelled


async def test_the_page_weighs_under_100_kb() -> None:
    async with serving() as url:
        sizes = [len((await _get(f"{url}{path}"))[2]) for path in ("/", "/static/app.js", "/static/style.css",
                                                                    "/static/icon.svg")]
    assert 0 < sum(sizes) < 100_000


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        ({}, "", "en"),
        ({}, "fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        ({}, "de-DE,de;q=0.9,fr;q=0.5,en;q=0.4", "fr"),
        ({}, "en-GB,fr;q=0.9", "en"),
        ({"lang": "en"}, "fr", "en"),
        ({"lang": "fr"}, "", "fr"),
        ({"lang": "xx"}, "fr", "fr"),
        ({}, "fr;q=oops, en", "en"),
    ],
)
def test_language_from_the_query_then_accept_language(query: dict[str, str], accept: str, expected: str) -> None:
    assert pick_language(query, accept) == expected


async def test_the_page_is_in_french_from_accept_language_and_the_switch_wins() -> None:
    async with serving() as url:
        _s, french_headers, french = await _get(url + "/", {"Accept-Language": "fr-FR,fr;q=0.9"})
        _s, _h, english = await _get(url + "/?lang=en", {"Accept-Language": "fr-FR"})
    use_language("fr")
    title_fr = _(PAGE["title"])
    use_language("en")
    assert title_fr != PAGE["title"]
    assert '<html lang="fr">' in french.decode() and title_fr in french.decode()
    assert french_headers["Content-Language"] == "fr"
    assert '<html lang="en">' in english.decode() and PAGE["title"].replace("?", "?") in english.decode()


async def test_explain_gives_the_cli_verdicts_and_findings_in_both_languages() -> None:
    async with serving() as url:
        status, english = await _explain(url, REQUEST_EXAMPLE)
        status_fr, french = await _explain(url, {**REQUEST_EXAMPLE, "lang": "fr"})
    assert status == 200 and status_fr == 200
    for body in (english, french):
        _schema("ExplainResponse").validate(body)
        decode_explain_response(json.dumps(body).encode())
    documented = DOCUMENT["paths"]["/v1/explain"]["post"]["responses"]["200"]["content"]["application/json"]
    assert [p["status"] for p in english["ports"]] == [
        p["status"] for p in documented["examples"]["default"]["value"]["ports"]]
    answer = decode_probe_response(json.dumps(REQUEST_EXAMPLE["probes"][0]).encode())
    target = answer.target.address
    expected = assess_port(PortObservation(answer.protocol, target.port, answer.mode, listening=False,
                                           server_result=answer.result),
                           Context(None, target.ip, NatLayers.UNKNOWN, IpFamily.IPV4))
    assert english["ports"][0]["reason"] == expected.reason and english["ports"][0]["status"] == "reachable"
    use_language("fr")
    silent_fr = silent_udp_port(51820, IpFamily.IPV4, url)
    use_language("en")
    assert french["ports"][1]["reason"] == silent_fr.reason != english["ports"][1]["reason"]
    assert [f["code"] for f in english["findings"]] == [f["code"] for f in french["findings"]] == [
        "jamulus-port-private-works"]
    assert "203.0.113.7" not in english["share"] and "203.x.x.x" in english["share"]


@pytest.mark.parametrize(
    ("candidates", "failed", "mapping", "code"),
    [
        ([("primary", 5000)], [], "endpoint-independent", "browser-mapping-endpoint-independent"),
        ([("primary", 5000), ("alternate-ip", 5001), ("alternate-both", 5002)], [], "address-and-port-dependent",
         "browser-mapping-address-and-port-dependent"),
        ([("primary", 5000), ("alternate-ip", 5001)], [], "address-dependent", "browser-mapping-address-dependent"),
        ([("primary", 5000)], ["alternate-ip", "alternate-both"], "inconclusive", "browser-mapping-inconclusive"),
        ([], ["primary", "alternate-ip", "alternate-both"], "unknown", "browser-mapping-unknown"),
    ],
)
async def test_explain_judges_the_mapping_from_webrtc_candidates(
    candidates: list[tuple[str, int]], failed: list[str], mapping: str, code: str
) -> None:
    body = {"jamulus": True, "mapping": {"webrtc": True, "failed": failed,
                                         "candidates": [{"test": t, "ip": "203.0.113.7", "port": p} for t, p in candidates]},
            "probes": [{**REQUEST_EXAMPLE["probes"][0],
                        "result": {"answered": False, "rtt_ms": None, "clients": None, "version": None, "os": None}}]}
    async with serving() as url:
        status, answer = await _explain(url, body)
    assert status == 200, answer
    assert answer["mapping"]["mapping"] == mapping
    codes = [f["code"] for f in answer["findings"]]
    assert code in codes and "jamulus-port-needs-port-forward" in codes
    public = {"endpoint-independent": "jamulus-public-mapping-endpoint-independent",
              "address-and-port-dependent": "jamulus-public-symmetric-nat",
              "address-dependent": "jamulus-public-symmetric-nat"}.get(mapping, "jamulus-public-not-measured")
    assert public in codes


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"target": "192.0.2.1"}, "unknown field 'target'"),
        ({"lang": "de"}, "lang must be 'en' or 'fr'"),
        ({"untested": [{"protocol": "udp", "port": p} for p in range(1, MAX_PORTS + 2)]}, "untested must be"),
        ({"probes": [{"protocol": "udp"}]}, "required"),
        ({"mapping": {"webrtc": True, "candidates": [{"test": "primary", "ip": "not-an-ip", "port": 1}]}}, "IP address"),
    ],
)
async def test_explain_refuses_malformed_requests_with_a_sentence(body: dict[str, Any], fragment: str) -> None:
    async with serving() as url:
        status, answer = await _explain(url, body)
    assert status == 400 and answer["error"]["code"] == "bad_request"
    assert fragment in answer["error"]["message"]


async def test_no_web_serves_the_api_only() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert web_page_from_args(parser.parse_args(["--no-web"]), [(LOCALHOST, None)], 3478) is None
    page = web_page_from_args(parser.parse_args([]), [(ipaddress.ip_address("198.51.100.10"),
                                                       ipaddress.ip_address("198.51.100.11"))], 3478)
    assert page is not None and page.stun == STUN and page.families == {}
    async with serving(None) as url:
        status, _headers, body = await _get(url + "/")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"


def test_per_family_names_become_the_page_s_origins() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--web-ipv4-name", "v4.example.org"])
    page = web_page_from_args(args, [(ipaddress.ip_address("198.51.100.10"), None),
                                     (ipaddress.ip_address("2001:db8::10"), None)], 3478)
    assert page is not None and dict(page.families) == {"ipv4": "v4.example.org", "ipv6": "2001:db8::10"}
    assert page.stun is None  # no alternate address: no RFC 5780 mapping test
