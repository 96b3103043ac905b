"""Client of the echo server's HTTP API (``natprobe serve --http-port``).

Requests and answers are the records of :mod:`natprobe.contract`, encoded and decoded by the
same code the server uses; nothing crosses the HTTP boundary as an untyped dict.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from natprobe.addressing import IPAddress
from natprobe.adapters.http11 import HttpConnection, HttpError, HttpTimeout
from natprobe.contract.terms import HOLE_PUNCH_FULL_BUDGET, JAMULUS_PROBE_BODY_BYTES, ProbeMode, udp_service_body_bytes
from natprobe.errors import DecodeError, ServerError
from natprobe.adapters.resolve import normalise_server_url
from natprobe.i18n import _

if TYPE_CHECKING:
    from natprobe.contract import HolePunchResponse, ProbeRequest, ProbeResponse, WhoAmI
    from natprobe.contract import dns as dns_contract

# The records and their decoders (msgspec) load with the first answer, not with this module:
# ``natprobe check`` opens its connection to the server before it needs them.

__all__ = ("EchoApiClient",)

T = TypeVar("T")


class EchoApiClient:
    """``async with EchoApiClient("http://host:8080") as api: await api.whoami()``."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 5.0,
        connect_timeout: float | None = None,
        family: int | None = None,
        local_ip: IPAddress | None = None,
        address: IPAddress | None = None,
    ) -> None:
        """``timeout`` bounds a whole request (a probe may take several seconds on the server);
        ``connect_timeout`` bounds the TCP connect alone, so a server that is down behind a
        dropping firewall is reported in seconds rather than after the long request bound.
        ``family`` (4 or 6) talks to the server over that family only (a name with A and AAAA
        records is used per family); ``local_ip`` is the source address of the connection,
        which is the address the server sees and probes back. ``address`` is the server's
        address when the caller has resolved its name already (one DNS round trip less)."""
        base_url = normalise_server_url(base_url)
        if not base_url.startswith(("http://", "https://")):
            base_url = "http://" + base_url
        self.base_url = base_url
        self._token = token
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._connection: HttpConnection | None = None
        if local_ip is not None and family is not None and local_ip.version != family:
            raise ValueError(f"local address {local_ip} is not IPv{family}")
        if local_ip is not None:
            family = local_ip.version
        self._family = {None: socket.AF_UNSPEC, 4: socket.AF_INET, 6: socket.AF_INET6}[family]
        self._local_ip = local_ip
        self._address = address
        self._prefix = ""

    async def __aenter__(self) -> EchoApiClient:
        parts = urlsplit(self.base_url)
        if parts.hostname is None:
            raise ServerError(_("not an echo server URL: {url}", url=self.base_url))
        tls = parts.scheme == "https"
        try:
            port = parts.port or (443 if tls else 80)
        except ValueError as exc:
            raise ServerError(_("not an echo server URL: {url}: {error}", url=self.base_url, error=exc)) from exc
        self._prefix = parts.path.rstrip("/")
        self._connection = HttpConnection(
            parts.hostname, port, tls=tls, family=self._family, connect_timeout=self._connect_timeout,
            local_ip=None if self._local_ip is None else str(self._local_ip),
            address=None if self._address is None else str(self._address),
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def _call(
        self,
        method: str,
        path: str,
        decoder: Callable[[bytes], T],
        payload: bytes | None = None,
        *,
        pad_to: int = 0,
    ) -> T:
        if self._connection is None:
            raise RuntimeError("use EchoApiClient as an async context manager")
        url = self.base_url + path
        if payload is not None and len(payload) < pad_to:
            # The server never sends more bytes than the request carried (reflection safety),
            # so a probe of several datagrams pays for them with JSON whitespace.
            payload += b" " * (pad_to - len(payload))
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            async with asyncio.timeout(self._timeout):
                status, body = await self._connection.request(method, self._prefix + path, headers, payload)
        except HttpTimeout as exc:
            raise ServerError(_(
                "cannot reach echo server {server}: no connection within {seconds:g} s "
                "(wrong address, server down, or a firewall drops the traffic)",
                server=self.base_url, seconds=self._connect_timeout,
            )) from exc
        except TimeoutError as exc:
            await self._connection.close()  # a half-read answer must not be taken for the next one
            raise ServerError(_("echo server {server} did not answer in time", server=self.base_url)) from exc
        except HttpError as exc:
            raise ServerError(_("cannot reach echo server {server}: {error}", server=self.base_url, error=exc)) from exc
        if status == 401:
            # The server's text names an HTTP header; a natprobe user needs natprobe's ways instead.
            raise ServerError(_(
                "the echo server needs a token: give it with --token TOKEN, in $NATPROBE_TOKEN, or once with "
                "natprobe config set token - (it reads the token from stdin); its operator has it"
            ) if not self._token else _(
                "the echo server does not accept this token: ask its operator for the current one and set it with "
                "natprobe config set token - (or --token, $NATPROBE_TOKEN)"
            ), status)
        if status >= 400:
            from natprobe.contract import ErrorBody, decode

            code: str | None = None
            try:
                detail = decode(body, ErrorBody).error
                message, code = detail.message, str(detail.code)
            except DecodeError:
                message = f"HTTP {status}"
            raise ServerError(_("echo server refused the request: {message}", message=message), status, code)
        try:
            return decoder(body)
        except DecodeError as exc:
            raise ServerError(_("{url} sent a malformed answer (HTTP {status}): {error}", url=url, status=status, error=exc),
                              status) from exc

    async def whoami(self) -> WhoAmI:
        """``GET /v1/whoami``: this host's address as the server sees it."""
        def decode_whoami(body: bytes) -> WhoAmI:
            # Its decoder loads with the answer: the request goes out first (a check's first packet).
            from natprobe.contract import decode_whoami

            return decode_whoami(body)

        return await self._call("GET", "/v1/whoami", decode_whoami)

    async def probe(self, request: ProbeRequest) -> ProbeResponse[Any]:
        """``POST /v1/probe``; ``result`` is the mode's record (:data:`natprobe.contract.RESULT_TYPES`)."""
        from natprobe.contract import decode_probe_response, encode, udp_nonce_body_bytes

        pad_to = udp_nonce_body_bytes(request)
        if request.mode is ProbeMode.JAMULUS:
            pad_to = JAMULUS_PROBE_BODY_BYTES
        pad_to = max(pad_to, udp_service_body_bytes(request.mode))  # the server sends no more than it got
        return await self._call("POST", "/v1/probe", decode_probe_response, encode(request), pad_to=pad_to)

    async def exposure_raw(self, body: bytes) -> bytes:
        """``POST /v1/exposure`` with an encoded request; the raw answer (decoded by the caller
        with :func:`natprobe.contract.exposure_route.decode_response`)."""
        return await self._call("POST", "/v1/exposure", bytes, body)

    async def dns(self, name: str) -> dns_contract.DnsResponse:
        """``POST /v1/dns``: the echo server's resolver's A and AAAA answers for ``name``."""
        from natprobe.contract import dns as dns_contract

        payload = dns_contract.encode(dns_contract.DnsRequest(name))
        return await self._call("POST", dns_contract.PATH, dns_contract.decode_response, payload)

    async def jamulus_hole_punch(self, name: str) -> HolePunchResponse:
        """``POST /v1/jamulus/hole-punch`` for this host's registration ``name``."""
        from natprobe.contract import HolePunchRequest, decode_hole_punch_response, encode

        payload = encode(HolePunchRequest(name))
        return await self._call(
            "POST", "/v1/jamulus/hole-punch", decode_hole_punch_response, payload, pad_to=HOLE_PUNCH_FULL_BUDGET
        )
