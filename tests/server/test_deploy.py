"""The echo server on both address families: ``--primary``/``--alternate`` once per family."""

from __future__ import annotations

import argparse
import ipaddress
import re
import socket
from pathlib import Path

import pytest

from natprobe_server.config.stun import add_arguments, configs_from_args, pair_by_family
from natprobe_server.config.file import mark_defaults
from natprobe.adapters.echo_client import EchoApiClient
from natprobe.stun import binding_request, decode, encode

from tests.echo_server import echo_server_process, has_ipv6_loopback

V4, V4B = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("127.0.0.2")
V6, V6B = ipaddress.ip_address("::1"), ipaddress.ip_address("2001:db8::11")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_one_config_per_family_ipv4_first_sharing_the_other_options() -> None:
    configs = configs_from_args(parse("--primary", "::1", "--primary", "127.0.0.1", "--alternate", "127.0.0.2",
                                      "--alternate", "2001:db8::11", "--port", "4000"))
    assert [(c.primary, c.alternate, c.port) for c in configs] == [(V4, V4B, 4000), (V6, V6B, 4000)]


@pytest.mark.parametrize(
    ("primaries", "alternates", "message"),
    [
        ([V4, V4B], [], "--primary given twice for IPv4"),
        ([V4], [V6B], "no IPv6 --primary"),
        ([V4, V6], [V4B, V4B], "--alternate given twice"),
        ([], [], "at least one --primary"),
    ],
)
def test_inconsistent_address_lists_are_refused(primaries: list, alternates: list, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=message):
        pair_by_family(primaries, alternates)


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback")
async def test_serves_stun_and_the_http_api_on_each_family() -> None:
    with echo_server_process("--primary", "127.0.0.1", "--primary", "::1", "--port", "0", "--http-port", "0",
                             "--no-jamulus") as process:
        line = process.ready()
        assert line.count("listening port=") == 2 and "stun_udp=[::1]:" in line, line
        match = re.search(r" http=127\.0\.0\.1:(\d+),\[::1\]:(\d+)", line)
        assert match and match.group(1) == match.group(2), line
        port = int(match.group(1))
        seen = {}
        for family, host in ((4, "127.0.0.1"), (6, "[::1]")):
            async with EchoApiClient(f"http://{host}:{port}", family=family) as api:
                whoami = await api.whoami()
            seen[family] = (whoami.public_ip, ipaddress.ip_address(whoami.probe_source_ip))
        # Each family's API sees that family's address and probes back from its own address.
        assert seen == {4: (V4, V4), 6: (V6, V6)}
        stun = re.search(r"stun_udp=\[::1\]:(\d+)", line)
        assert stun, line
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.settimeout(2.0)
            request = binding_request()
            sock.sendto(encode(request), ("::1", int(stun.group(1))))
            answer = decode(sock.recv(2048))
        assert answer.transaction_id == request.transaction_id  # STUN answers over IPv6 too


def test_the_config_file_takes_one_address_per_family_as_a_list(tmp_path: Path) -> None:
    from natprobe_server.config.options import add_arguments as add_serve_arguments
    from natprobe_server.config.options import resolve_args

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)  # --config included
    mark_defaults(parser)
    path = tmp_path / "serve.toml"
    path.write_text('primary = ["127.0.0.1", "::1"]\nalternate = ["127.0.0.2", "2001:db8::11"]\n'
                    'primary_public = "203.0.113.20"\n')
    from_file = configs_from_args(resolve_args(parser.parse_args(["--config", str(path)]), "natprobe serve"))
    flags = ["--primary", "127.0.0.1", "--primary", "::1", "--alternate", "127.0.0.2", "--alternate", "2001:db8::11",
             "--primary-public", "203.0.113.20"]
    from_flags = configs_from_args(resolve_args(parser.parse_args(flags), "natprobe serve"))
    assert from_file == from_flags
    assert [(c.primary, c.alternate, c.primary_public) for c in from_file] == [
        (V4, V4B, ipaddress.ip_address("203.0.113.20")), (V6, V6B, None)  # the public address is IPv4's
    ]
