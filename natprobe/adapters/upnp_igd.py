"""UPnP IGD (v1 and v2) through async-upnp-client: find the gateway's IGD, read and change
its port mappings.

SSDP goes to the default gateway only (unicast M-SEARCH to gateway:1900, UDA 1.1 section
1.3.3) and a description whose LOCATION names another host is ignored: natprobe talks to
the router it would ask for a forward, never to whatever else on the LAN claims to be one.
SOAP faults and HTTP failures become :class:`~natprobe.errors.PortMappingError` carrying the
UPnP error code (718 ConflictInMappingEntry, 725 OnlyPermanentLeasesSupported, ...).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_address
from typing import Any, Final
from urllib.parse import urlsplit

from async_upnp_client.aiohttp import AiohttpRequester
from async_upnp_client.client import UpnpDevice, UpnpService
from async_upnp_client.client_factory import UpnpFactory
from async_upnp_client.exceptions import (
    UpnpActionResponseError,
    UpnpConnectionError,
    UpnpConnectionTimeoutError,
    UpnpError,
)
from async_upnp_client.search import SsdpSearchListener
from async_upnp_client.utils import CaseInsensitiveDict

from natprobe.errors import PortMappingError

__all__ = ("IgdClient", "UpnpMapping", "discover_igd", "CONNECTION_SERVICES")

logger = logging.getLogger(__name__)

SSDP_PORT: Final = 1900
IGD_SEARCH_TARGET: Final = "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
CONNECTION_SERVICES: Final = (
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
)
"""In order of preference: IGD:2's service first (it has AddAnyPortMapping)."""
MAX_LISTED: Final = 128
"""Bound on GetGenericPortMappingEntry calls: a router with more is listed partially."""


@dataclass(frozen=True, slots=True)
class UpnpMapping:
    """One entry of the router's port-mapping table (GetGenericPortMappingEntry)."""

    protocol: str
    """"UDP" or "TCP"."""
    external_port: int
    internal_client: str
    internal_port: int
    description: str
    lease_s: int
    """0: permanent."""
    enabled: bool
    remote_host: str
    """"" for any remote host."""


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return 0
    try:
        return int(value)
    except ValueError:
        return 0


class IgdClient:
    """The IGD's WAN connection service, with the few actions natprobe uses."""

    def __init__(self, device: UpnpDevice, service: UpnpService, location: str, timeout: float) -> None:
        self.device = device
        self.service = service
        self.location = location
        self.timeout = timeout

    @property
    def igd_version(self) -> int:
        return 2 if self.device.device_type.endswith(":2") else 1

    @property
    def service_type(self) -> str:
        return self.service.service_type

    @property
    def friendly_name(self) -> str:
        return self.device.friendly_name

    async def _call(self, action: str, **arguments: Any) -> Mapping[str, Any]:
        if not self.service.has_action(action):
            raise PortMappingError(f"the router's {self.service_type} has no {action} action")
        try:
            return await self.service.action(action).async_call(request_timeout=self.timeout, **arguments)
        except UpnpActionResponseError as exc:
            raise PortMappingError(
                f"the router refused {action}: UPnP error {exc.error_code} ({exc.error_desc})", exc.error_code
            ) from exc
        except (UpnpError, OSError, TimeoutError, ValueError) as exc:
            raise PortMappingError(f"{action} failed: {self._why(exc)}") from exc

    def _why(self, exc: BaseException) -> str:
        """One readable reason: async-upnp-client's own text can be "[Errno TimeoutError()] None"."""
        if isinstance(exc, (TimeoutError, UpnpConnectionTimeoutError)):
            return f"the router did not answer within {self.timeout:g} s"
        if isinstance(exc, UpnpConnectionError):
            return "the router's UPnP service could not be reached"
        if isinstance(exc, OSError) and exc.strerror:
            return exc.strerror
        return str(exc).strip() or type(exc).__name__

    async def external_address(self) -> str:
        """What GetExternalIPAddress says ("" when the router has none, IGD:2 2.3.13)."""
        return _text((await self._call("GetExternalIPAddress")).get("NewExternalIPAddress"))

    async def connection_status(self) -> str | None:
        try:
            return _text((await self._call("GetStatusInfo")).get("NewConnectionStatus")) or None
        except PortMappingError:
            return None

    async def list_mappings(self) -> tuple[UpnpMapping, ...]:
        """Every entry, by index until the router says there is none (error 713)."""
        found: list[UpnpMapping] = []
        for index in range(MAX_LISTED):
            try:
                entry = await self._call("GetGenericPortMappingEntry", NewPortMappingIndex=index)
            except PortMappingError as exc:
                if exc.code not in (713, 714, 402, None):
                    logger.debug("listing stopped at %d: %s", index, exc)
                break
            found.append(_mapping(entry, _text(entry.get("NewProtocol")).upper(), _int(entry.get("NewExternalPort"))))
        return tuple(found)

    async def get_mapping(self, protocol: str, external_port: int) -> UpnpMapping | None:
        """GetSpecificPortMappingEntry; None when there is no such entry (error 714)."""
        try:
            entry = await self._call("GetSpecificPortMappingEntry", NewRemoteHost="",
                                     NewExternalPort=external_port, NewProtocol=protocol)
        except PortMappingError as exc:
            if exc.code == 714:
                return None
            raise
        return _mapping(entry, protocol, external_port)

    async def add_mapping(self, protocol: str, external_port: int, internal_client: str,
                          internal_port: int, lease_s: int, description: str) -> None:
        await self._call(
            "AddPortMapping", NewRemoteHost="", NewExternalPort=external_port, NewProtocol=protocol,
            NewInternalPort=internal_port, NewInternalClient=internal_client, NewEnabled=True,
            NewPortMappingDescription=description, NewLeaseDuration=lease_s,
        )

    async def delete_mapping(self, protocol: str, external_port: int) -> None:
        await self._call("DeletePortMapping", NewRemoteHost="", NewExternalPort=external_port,
                         NewProtocol=protocol)


def _mapping(entry: Mapping[str, Any], protocol: str, external_port: int) -> UpnpMapping:
    return UpnpMapping(
        protocol=protocol,
        external_port=external_port,
        internal_client=_text(entry.get("NewInternalClient")),
        internal_port=_int(entry.get("NewInternalPort")),
        description=_text(entry.get("NewPortMappingDescription")),
        lease_s=_int(entry.get("NewLeaseDuration")),
        enabled=bool(entry.get("NewEnabled", True)),
        remote_host=_text(entry.get("NewRemoteHost")),
    )


async def _search(gateway: IPv4Address, timeout: float) -> str | None:
    """The LOCATION of the gateway's IGD, from a unicast M-SEARCH; None on silence."""
    loop = asyncio.get_running_loop()
    found: asyncio.Future[str] = loop.create_future()

    def on_response(headers: CaseInsensitiveDict) -> None:
        location = headers.get_lower("location") or ""
        try:
            host = ip_address(urlsplit(location).hostname or "")
        except ValueError:
            return
        if host == gateway and not found.done():
            found.set_result(location)

    listener = SsdpSearchListener(
        callback=on_response, loop=loop, source=("0.0.0.0", 0), target=(str(gateway), SSDP_PORT),
        timeout=1, search_target=IGD_SEARCH_TARGET,
    )
    try:
        await listener.async_start()
    except OSError as exc:
        logger.debug("SSDP socket: %s", exc)
        return None
    try:
        # Two sends in the window: one lost M-SEARCH must not hide the router.
        for wait in (timeout / 3, timeout * 2 / 3):
            listener.async_search()
            try:
                async with asyncio.timeout(wait):
                    return await asyncio.shield(found)
            except TimeoutError:
                continue
        return None
    finally:
        listener.async_stop()


async def discover_igd(gateway: IPv4Address, *, timeout: float = 2.0) -> IgdClient | None:
    """The gateway's IGD with its WAN connection service, or None when it offers none.

    Raises :class:`PortMappingError` when the gateway answered SSDP but its description
    could not be read or names no WAN connection service.
    """
    try:
        location = await _search(gateway, timeout)
    except OSError as exc:  # e.g. no route for the search: nothing answered
        logger.debug("SSDP search toward %s: %s", gateway, exc)
        return None
    if location is None:
        return None
    factory = UpnpFactory(AiohttpRequester(timeout=max(1, round(timeout))), non_strict=True)
    try:
        async with asyncio.timeout(timeout + 1.0):
            device = await factory.async_create_device(location)
    except (UpnpError, OSError, TimeoutError, ValueError) as exc:
        raise PortMappingError(f"the router's UPnP description at {location} could not be read: {exc}") from exc
    for service_type in CONNECTION_SERVICES:
        service = device.find_service(service_type)
        if service is not None:
            return IgdClient(device, service, location, timeout)
    raise PortMappingError(f"the router's UPnP device at {location} has no WAN connection service")
