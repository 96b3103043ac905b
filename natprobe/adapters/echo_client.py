"""Client of the echo server's HTTP API (``natprobe serve --http-port``)."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from natprobe.errors import ServerError
from natprobe.addressing import IPAddress

NONCE_PREFIX = b"natprobe-nonce:"
"""What a UDP/TCP nonce probe carries before the hex token."""
JAMULUS_BODY_FOR_THREE_ROUNDS = 78
"""Request bytes that pay for three Jamulus ping rounds (23 bytes each) under the server's budget."""
HOLE_PUNCH_BODY_BYTES = 110
"""Request bytes that pay for every retry of a Jamulus hole punch (2 + 3 pings of 13 bytes,
3 CLM_SEND_EMPTY_MESSAGE of 15): the server never sends more UDP bytes than the body holds."""


@dataclass(frozen=True, slots=True)
class WhoAmI:
    """What the echo server sees of this host."""

    public_ip: IPAddress
    public_port: int
    probe_source_ip: IPAddress
    udp_probe_port: int | None
    auth_required: bool
    version: str | None


class EchoApiClient:
    """``async with EchoApiClient("http://host:8080") as api: await api.whoami()``."""

    def __init__(
        self, base_url: str, *, token: str | None = None, timeout: float = 5.0, connect_timeout: float | None = None
    ) -> None:
        """``timeout`` bounds a whole request (a probe may take several seconds on the server);
        ``connect_timeout`` bounds the TCP connect alone, so a server that is down behind a
        dropping firewall is reported in seconds rather than after the long request bound."""
        if not base_url.startswith(("http://", "https://")):
            base_url = "http://" + base_url
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._connect_timeout = connect_timeout
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=connect_timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> EchoApiClient:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        self._session = aiohttp.ClientSession(timeout=self._timeout, headers=headers)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, pad_to: int = 0
    ) -> dict[str, Any]:
        assert self._session is not None, "use EchoApiClient as an async context manager"
        url = self.base_url + path
        payload = None if body is None else json.dumps(body).encode()
        if payload is not None and len(payload) < pad_to:
            # The server never sends more bytes than the request carried (reflection safety),
            # so a probe of several datagrams pays for them with JSON whitespace.
            payload += b" " * (pad_to - len(payload))
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        try:
            async with self._session.request(method, url, data=payload, headers=headers) as response:
                try:
                    data = await response.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError) as exc:
                    raise ServerError(f"{url} did not answer with JSON (HTTP {response.status})", response.status) from exc
                if response.status >= 400:
                    error = data.get("error", {}) if isinstance(data, dict) else {}
                    message = error.get("message") or f"HTTP {response.status}"
                    raise ServerError(f"echo server refused the request: {message}", response.status)
                if not isinstance(data, dict):
                    raise ServerError(f"{url} answered with unexpected JSON", response.status)
                return data
        except TimeoutError as exc:
            # No sock_read bound is set, so a ServerTimeoutError can only be the connect bound.
            if isinstance(exc, aiohttp.ServerTimeoutError) and self._connect_timeout is not None:
                raise ServerError(
                    f"cannot reach echo server {self.base_url}: no connection within {self._connect_timeout:g} s "
                    "(wrong address, server down, or a firewall drops the traffic)"
                ) from exc
            raise ServerError(f"echo server {self.base_url} did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise ServerError(f"cannot reach echo server {self.base_url}: {exc}") from exc

    async def whoami(self) -> WhoAmI:
        data = await self._call("GET", "/v1/whoami")
        try:
            return WhoAmI(
                public_ip=ipaddress.ip_address(data["ip"]),
                public_port=int(data["port"]),
                probe_source_ip=ipaddress.ip_address(data["probe_source_ip"]),
                udp_probe_port=data.get("udp_probe_port"),
                auth_required=bool(data.get("auth_required", False)),
                version=data.get("version"),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ServerError(f"echo server sent a malformed whoami answer: {exc}") from exc

    async def probe(self, **request: Any) -> dict[str, Any]:
        """``POST /v1/probe``; returns the whole answer (``result`` holds the mode's outcome)."""
        body = {k: v for k, v in request.items() if v is not None}
        pad_to = 0
        if body.get("mode") == "nonce" and body.get("protocol") == "udp":
            pad_to = int(body.get("count", 3)) * (len(NONCE_PREFIX) + len(str(body.get("nonce", ""))))
        elif body.get("mode") == "jamulus":
            pad_to = JAMULUS_BODY_FOR_THREE_ROUNDS
        return await self._call("POST", "/v1/probe", body, pad_to=pad_to)

    async def exposure_raw(self, body: bytes) -> bytes:
        """``POST /v1/exposure`` with an encoded request; the raw answer (decoded by the caller
        with :func:`natprobe.contract.exposure_route.decode_response`)."""
        assert self._session is not None, "use EchoApiClient as an async context manager"
        url = self.base_url + "/v1/exposure"
        try:
            async with self._session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                data = await response.read()
                if response.status >= 400:
                    try:
                        message = json.loads(data)["error"]["message"]
                    except (ValueError, KeyError, TypeError):
                        message = f"HTTP {response.status}"
                    raise ServerError(f"echo server refused the request: {message}", response.status)
                return data
        except TimeoutError as exc:
            raise ServerError(f"echo server {self.base_url} did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise ServerError(f"cannot reach echo server {self.base_url}: {exc}") from exc

    async def jamulus_hole_punch(self, name: str) -> dict[str, Any]:
        """``POST /v1/jamulus/hole-punch`` for this host's registration ``name`` (the whole answer)."""
        return await self._call("POST", "/v1/jamulus/hole-punch", {"name": name}, pad_to=HOLE_PUNCH_BODY_BYTES)
