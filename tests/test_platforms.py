"""natprobe on macOS and Windows, proven without either: imports under a simulated platform,
the Windows ctypes structures against their documented layout, the ICMP parsing of the macOS
hop trace, and what ``natprobe doctor`` says.

What this does not prove (the README says so too): that the calls into macOS and Windows work;
nothing here runs those systems.
"""

from __future__ import annotations

import ctypes
import json
import struct
import subprocess
import sys
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from natprobe.adapters.capabilities import probe_capabilities
from natprobe.adapters.icmp_hops import (
    ICMP_ECHO_REPLY,
    ICMP_ECHO_REPLY32,
    IP_OPTION_INFORMATION,
    IP_OPTION_INFORMATION32,
    IcmpAnswer,
    answer_outcome,
    echo_request,
    parse_icmp_datagram,
    status_outcome,
)
from natprobe.errors import DecodeError
from natprobe.recverr import HopOutcome
from natprobe.observations import Facility, Missing
from tests.json_reports import assert_valid_report

ROOT = Path(__file__).resolve().parent.parent

SIMULATE = r'''
import sys, importlib, importlib.abc, pkgutil, socket
import asyncio, subprocess, selectors, ssl, json, argparse, logging, ctypes, urllib.request  # the real stdlib
# Third-party libraries ship per-platform code of their own (dnspython reads the registry on
# Windows): they are loaded as they are here; what is checked is natprobe's own code.
import aiohttp, msgspec, netifaces, dns.asyncresolver, dns.resolver, dns.query, dns.message
import async_upnp_client.aiohttp, async_upnp_client.client, async_upnp_client.client_factory
import async_upnp_client.search, async_upnp_client.utils
platform = sys.argv[1]
BLOCKED = {"fcntl", "termios", "pwd", "grp", "resource"} if platform == "win32" else set()
for name in BLOCKED:
    sys.modules.pop(name, None)
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} does not exist on {platform}")
        return None
sys.meta_path.insert(0, Block())
sys.platform = platform
for attr in ("AF_PACKET", "AF_NETLINK", "SO_BINDTODEVICE"):
    if hasattr(socket, attr):
        delattr(socket, attr)
import natprobe, natprobe_cli, natprobe_cli.main
natprobe_cli.main.build_parser()
failed = []
for package in (natprobe, natprobe_cli):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if info.name.startswith(("natprobe.lab", "natprobe_cli.__main__")):
            continue  # the lab is Linux-only by nature (network namespaces), __main__ runs the CLI
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            failed.append(f"{info.name}: {exc!r}")
from natprobe.adapters.capabilities import probe_capabilities
caps = probe_capabilities()
print(json.dumps({"failed": failed, "platform": caps.platform,
                  "facilities": {e.facility.value: [e.available, e.missing] for e in caps.entries}}))
'''


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_natprobe_and_the_cli_import_on_another_platform_without_linux_only_modules(platform: str) -> None:
    done = subprocess.run([sys.executable, "-c", SIMULATE, platform], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failed"] == [] and result["platform"] == platform
    facilities = result["facilities"]
    # No packet capture and no IPv6 address flags off Linux: said, not guessed.
    assert facilities["arrival-watch"] == [False, "unsupported"]
    assert facilities["ipv6-temporary"] == [False, "unsupported"]
    assert facilities["port-unreachable"][0] is True


def test_the_windows_structures_have_their_documented_sizes_and_offsets() -> None:
    # ipexport.h; sizes per Microsoft's documentation: ICMP_ECHO_REPLY is 28 bytes on x86 and
    # 40 on x64; ICMP_ECHO_REPLY32 keeps the x86 layout in a 64-bit process.
    assert ctypes.sizeof(ICMP_ECHO_REPLY32) == 28 and ctypes.sizeof(IP_OPTION_INFORMATION32) == 8
    assert [ICMP_ECHO_REPLY32.Address.offset, ICMP_ECHO_REPLY32.Status.offset, ICMP_ECHO_REPLY32.RoundTripTime.offset,
            ICMP_ECHO_REPLY32.DataSize.offset, ICMP_ECHO_REPLY32.Reserved.offset, ICMP_ECHO_REPLY32.Data.offset,
            ICMP_ECHO_REPLY32.Options.offset] == [0, 4, 8, 12, 14, 16, 20]
    pointer = ctypes.sizeof(ctypes.c_void_p)
    if pointer == 8:
        assert ctypes.sizeof(IP_OPTION_INFORMATION) == 16 and IP_OPTION_INFORMATION.OptionsData.offset == 8
        assert ctypes.sizeof(ICMP_ECHO_REPLY) == 40
        assert (ICMP_ECHO_REPLY.Data.offset, ICMP_ECHO_REPLY.Options.offset) == (16, 24)
    else:
        assert ctypes.sizeof(IP_OPTION_INFORMATION) == 8 and ctypes.sizeof(ICMP_ECHO_REPLY) == 28
    assert [IP_OPTION_INFORMATION.Ttl.offset, IP_OPTION_INFORMATION.Tos.offset, IP_OPTION_INFORMATION.Flags.offset,
            IP_OPTION_INFORMATION.OptionsSize.offset] == [0, 1, 2, 3]
    # A reply as Windows fills it: Address in network byte order in memory.
    raw = bytes(IPv4Address("192.0.2.1").packed) + struct.pack("<IIHH", 11013, 7, 0, 0) + bytes(pointer)
    raw += bytes(ctypes.sizeof(ICMP_ECHO_REPLY) - len(raw))
    echo = ICMP_ECHO_REPLY.from_buffer_copy(raw)
    assert IPv4Address(echo.Address.to_bytes(4, "little")) == IPv4Address("192.0.2.1")
    assert status_outcome(echo.Status) is HopOutcome.TIME_EXCEEDED


@pytest.mark.parametrize(("status", "outcome"), [
    (0, HopOutcome.REPLY), (11013, HopOutcome.TIME_EXCEEDED), (11005, HopOutcome.PORT_UNREACHABLE),
    (11003, HopOutcome.UNREACHABLE), (11010, HopOutcome.NO_ANSWER), (99999, HopOutcome.NO_ANSWER),
])
def test_windows_status_codes(status: int, outcome: HopOutcome) -> None:
    assert status_outcome(status) is outcome


def _ipv4(payload: bytes, protocol: int = 1) -> bytes:
    return bytes([0x45, 0, 0, 20 + len(payload), 0, 0, 0, 0, 64, protocol, 0, 0]) + bytes(8) + payload


def test_the_icmp_datagram_parsing_of_the_macos_trace() -> None:
    request = echo_request(0x1234, 3)
    assert request[0] == 8 and int.from_bytes(request[6:8], "big") == 3
    words = struct.unpack(f"!{len(request) // 2}H", request)
    assert (sum(words) + (sum(words) >> 16)) & 0xFFFF == 0xFFFF  # the checksum checks out
    exceeded = bytes([11, 0, 0, 0, 0, 0, 0, 0]) + _ipv4(request[:8])
    assert parse_icmp_datagram(_ipv4(exceeded)) == IcmpAnswer(11, 0, 3)  # BSD: with the IP header
    assert parse_icmp_datagram(exceeded) == IcmpAnswer(11, 0, 3)
    assert answer_outcome(parse_icmp_datagram(exceeded)) is HopOutcome.TIME_EXCEEDED
    reply = bytes([0, 0, 0, 0, 0x12, 0x34, 0, 5])
    assert answer_outcome(parse_icmp_datagram(reply)) is HopOutcome.REPLY
    unreachable = bytes([3, 3, 0, 0, 0, 0, 0, 0]) + _ipv4(bytes(8), 17)
    assert parse_icmp_datagram(unreachable) == IcmpAnswer(3, 3, None)
    for bad in (b"", b"\x0b\x00", _ipv4(b"")[:10], bytes([0x4F]) + bytes(10)):
        with pytest.raises(DecodeError):
            parse_icmp_datagram(bad)


def test_doctor_lists_every_facility_and_its_json_follows_the_schema() -> None:
    done = subprocess.run([sys.executable, "-m", "natprobe_cli", "doctor", "--json"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    data = assert_valid_report(json.loads(done.stdout))
    assert [f["facility"] for f in data["facilities"]] == [f.value for f in Facility]
    caps = probe_capabilities()
    for entry in data["facilities"]:
        assert entry["available"] is caps.has(Facility(entry["facility"]))
        assert (entry["text"] is None) is entry["available"]


def test_capabilities_off_linux_say_why() -> None:
    caps = probe_capabilities("plan9")
    assert not caps.has(Facility.ARRIVAL_WATCH) and caps[Facility.ARRIVAL_WATCH].missing is Missing.UNSUPPORTED
    assert not caps.has(Facility.HOP_TRACE) and caps[Facility.HOP_TRACE].detail == "plan9"
