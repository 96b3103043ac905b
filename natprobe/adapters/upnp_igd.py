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
import importlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_address
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from natprobe.i18n import _
from natprobe.errors import PortMappingError

if TYPE_CHECKING:
    # async-upnp-client (and aiohttp under it) loads only once a router has answered the
    # SSDP search: a silent router costs one datagram, not a fifth of a second of imports.
    from async_upnp_client.client import UpnpDevice, UpnpService

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
        from async_upnp_client.exceptions import UpnpActionResponseError, UpnpError

        if not self.service.has_action(action):
            raise PortMappingError(_("the router's {service} has no {action} action", service=self.service_type, action=action))
        try:
            return await self.service.action(action).async_call(request_timeout=self.timeout, **arguments)
        except UpnpActionResponseError as exc:
            raise PortMappingError(
                _("the router refused {action}: UPnP error {code} ({description})", action=action,
                  code=exc.error_code, description=exc.error_desc), exc.error_code
            ) from exc
        except (UpnpError, OSError, TimeoutError, ValueError) as exc:
            raise PortMappingError(_("{action} failed: {error}", action=action, error=self._why(exc))) from exc

    def _why(self, exc: BaseException) -> str:
        """One readable reason: async-upnp-client's own text can be "[Errno TimeoutError()] None"."""
        from async_upnp_client.exceptions import UpnpConnectionError, UpnpConnectionTimeoutError

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


def m_search(gateway: IPv4Address) -> bytes:
    """A unicast M-SEARCH for the IGD (UDA 1.1 section 1.3.3: no MX, HOST names the target)."""
    return (
        "M-SEARCH * HTTP/1.1\r\n"
        f"HOST: {gateway}:{SSDP_PORT}\r\n"
        'MAN: "ssdp:discover"\r\n'
        f"ST: {IGD_SEARCH_TARGET}\r\n"
        "\r\n"
    ).encode("ascii")


def search_location(data: bytes, gateway: IPv4Address) -> str | None:
    """The LOCATION of an SSDP search response, if it is an HTTP 200 naming ``gateway``; else None."""
    head = data[:4096].decode("latin-1")
    lines = head.split("\r\n")
    if not lines[0].startswith("HTTP/1.1 200"):
        return None
    for line in lines[1:]:
        key, colon, value = line.partition(":")
        if colon and key.strip().lower() == "location":
            location = value.strip()
            try:
                host = ip_address(urlsplit(location).hostname or "")
            except ValueError:
                return None
            return location if host == gateway else None
    return None


class _SsdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, gateway: IPv4Address) -> None:
        self.gateway = gateway
        self.found: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        # Not a connected socket: a router may answer from another port than 1900.
        if addr[0] != str(self.gateway) or self.found.done():
            return
        location = search_location(data, self.gateway)
        if location is not None:
            self.found.set_result(location)


async def _search(gateway: IPv4Address, timeout: float) -> str | None:
    """The LOCATION of the gateway's IGD, from one unicast M-SEARCH; None on silence. One
    datagram, one LAN round trip: a router that answers does so at once."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(lambda: _SsdpProtocol(gateway), local_addr=("0.0.0.0", 0))
    try:
        transport.sendto(m_search(gateway), (str(gateway), SSDP_PORT))
        try:
            async with asyncio.timeout(timeout):
                return await protocol.found
        except TimeoutError:
            return None
    finally:
        transport.close()


def _load_upnp_client() -> None:
    for name in ("async_upnp_client.aiohttp", "async_upnp_client.client_factory", "async_upnp_client.exceptions"):
        importlib.import_module(name)


async def _load_upnp_client_in_background() -> None:
    """:func:`_load_upnp_client` in a daemon thread, not the loop's executor: when the probes
    are done first and this query is cut short, ``asyncio.run`` must not wait for the import
    to finish before natprobe can print its report and exit."""
    loop = asyncio.get_running_loop()
    loaded: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if loaded.done():
            return
        if error is None:
            loaded.set_result(None)
        else:
            loaded.set_exception(error)

    def load() -> None:
        error: BaseException | None = None
        try:
            _load_upnp_client()
        except Exception as exc:
            error = exc
        try:
            loop.call_soon_threadsafe(settle, error)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    threading.Thread(target=load, name="natprobe-upnp-import", daemon=True).start()
    await loaded


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
    # A router answered: now async-upnp-client is worth loading -- in a thread, so the probes
    # this query runs beside keep the event loop (the import takes a few hundred ms).
    await _load_upnp_client_in_background()
    from async_upnp_client.aiohttp import AiohttpRequester
    from async_upnp_client.client_factory import UpnpFactory
    from async_upnp_client.exceptions import UpnpError

    factory = UpnpFactory(AiohttpRequester(timeout=max(1, round(timeout))), non_strict=True)
    try:
        async with asyncio.timeout(timeout + 1.0):
            device = await factory.async_create_device(location)
    except (UpnpError, OSError, TimeoutError, ValueError) as exc:
        raise PortMappingError(_("the router's UPnP description at {location} could not be read: {error}",
                                 location=location, error=exc)) from exc
    for service_type in CONNECTION_SERVICES:
        service = device.find_service(service_type)
        if service is not None:
            return IgdClient(device, service, location, timeout)
    raise PortMappingError(_("the router's UPnP device at {location} has no WAN connection service", location=location))
