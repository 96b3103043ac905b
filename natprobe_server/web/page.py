"""The page's routes: ``GET /``, ``GET /jamulus`` and ``GET /static/NAME`` (see :mod:`natprobe_server.web`)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from aiohttp import web

from natprobe.addressing import IpFamily
from natprobe.contract.explain import MAX_PORTS
from natprobe.contract.terms import HOST_MODES
from natprobe.i18n import LANGUAGES, _, template
from natprobe.jamulus.messages import DEFAULT_PORT as JAMULUS_PORT
from natprobe.verdicts.port_spec import SERVICE_BY_NAME, WELL_KNOWN_SERVICE

from natprobe_server.api.guards import peer_address
from natprobe_server.api.routes.explain import STUN_TARGETS_KEY, language
from natprobe_server.config.web import WebPage
from natprobe_server.web.texts import PAGE, SCRIPT

__all__ = ("CSP", "install_web", "pick_language")

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'{extra}; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The page's Content-Security-Policy: its own origin only (``{extra}``: the other family's origins)."""
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_STATIC = {"app.js": "text/javascript", "style.css": "text/css", "icon.svg": "image/svg+xml"}
_SLOT = re.compile(r"\{\{(\w+)\}\}")
_LANGUAGE_NAMES = {"en": "English", "fr": "Français"}  # each in its own language: not translated


def pick_language(query: Mapping[str, str], accept_language: str) -> str:
    """``lang`` from the query if it is one natprobe speaks, else the best of ``Accept-Language``."""
    forced = query.get("lang", "")
    if forced in LANGUAGES:
        return forced
    best, best_q = "en", 0.0
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _sep, params = part.strip().partition(";")
        q = 1.0
        if "q=" in params:
            match = re.fullmatch(r"\s*q=([01](?:\.[0-9]{0,3})?)\s*", params)
            if match is None:
                continue  # a malformed weight: the entry is ignored (RFC 9110 section 12.4.2)
            q = float(match.group(1))
        primary = tag.strip().lower().split("-")[0]
        # Earlier entries win ties, as the header's order says.
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q - position * 1e-6
    return best


@lru_cache(maxsize=8)
def _static(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def _origin(host: str, request: web.Request) -> str:
    port = request.url.port
    bracketed = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{request.scheme}://{bracketed}" + (f":{port}" if port else "")


def _csp_source(host: str, request: web.Request) -> str:
    """The CSP source for another family's origin. CSP's host-source has no form for an IPv6
    literal, so one is allowed as any host on this scheme and port (a name, given with
    --web-ipv6-name, is listed exactly)."""
    if ":" in host.strip("[]"):
        port = request.url.port
        return f"{request.scheme}://*" + (f":{port}" if port else "")
    return _origin(host, request)


def _language_links(request: web.Request, current: str) -> str:
    links = []
    for lang in LANGUAGES:
        query = dict(request.query)
        query["lang"] = lang
        href = html.escape(str(request.rel_url.with_query(query)))
        mark = ' aria-current="true"' if lang == current else ""
        links.append(f'<a href="{href}" hreflang="{lang}" lang="{lang}"{mark}>{_LANGUAGE_NAMES[lang]}</a>')
    return " ".join(links)


def _render(request: web.Request, page: WebPage, preset: str | None) -> web.Response:
    lang = pick_language(request.query, request.headers.get("Accept-Language", ""))
    families = {family: _origin(host, request) for family, host in page.families.items()}
    with language(lang):
        texts = {key: _(text) for key, text in PAGE.items()}
        config: dict[str, Any] = {
            "lang": lang,
            "strings": {key: template(text) for key, text in SCRIPT.items()},
            "families": families or {IpFamily.of(peer_address(request).ip).value: ""},
            "stun": None if page.stun is None else {
                "primary": f"stun:{page.stun.primary}",
                "alternate-ip": f"stun:{page.stun.alternate_ip}",
                "alternate-both": f"stun:{page.stun.alternate_both}",
            },
            "services": {name: [p.value, m.value] for name, (p, m) in SERVICE_BY_NAME.items()},
            "well_known": {f"{p.value}/{port}": m.value for (p, port), m in WELL_KNOWN_SERVICE.items()},
            "host_modes": sorted(m.value for m in HOST_MODES),
            "jamulus_port": JAMULUS_PORT,
            "max_ports": MAX_PORTS,
            "preset": preset,
        }
    # "</" cannot end the data block early: every "<" in the JSON is escaped.
    texts["config"] = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    texts["lang"] = lang
    texts["language_links"] = _language_links(request, lang)
    raw = {"config", "language_links"}
    body = _SLOT.sub(lambda m: texts[m.group(1)] if m.group(1) in raw else html.escape(texts[m.group(1)]),
                     _static("index.html").decode("utf-8"))
    extra = "".join(f" {_csp_source(host, request)}" for host in page.families.values())
    headers = {**_HEADERS, "Content-Security-Policy": CSP.format(extra=extra), "Content-Language": lang, "Vary": "Accept-Language"}
    return web.Response(text=body, content_type="text/html", charset="utf-8", headers=headers)


def _page_handler(page: WebPage, preset: str | None) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        return _render(request, page, preset)

    return handler


async def _static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _STATIC:
        raise web.HTTPNotFound()
    return web.Response(body=_static(name), content_type=_STATIC[name],
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "max-age=300"})


def install_web(app: web.Application, page: WebPage) -> None:
    """Add the page to the API ``app`` (before it starts)."""
    if page.stun is not None:
        app[STUN_TARGETS_KEY] = page.stun
    app.router.add_get("/", _page_handler(page, None), allow_head=False)
    app.router.add_get("/jamulus", _page_handler(page, "jamulus"), allow_head=False)
    app.router.add_get("/static/{name}", _static_file, allow_head=False)
