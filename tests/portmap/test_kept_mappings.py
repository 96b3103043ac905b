"""The record of kept mappings (``check --map --keep``) that ``natprobe router --unmap`` reads.

A real file in a temporary folder; the clock is injected (no sleeps).
"""

from __future__ import annotations

import json
import stat
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from natprobe.adapters.kept_mappings import FILE_NAME, KeptMappings, default_kept_path
from natprobe.verdicts.router_verdicts import KeptMapping, MappingProtocol

GATEWAY = IPv4Address("192.168.77.1")
NONCE = bytes(range(12))
NOW = 1_800_000_000.0


def _pcp(port: int, expires_at: float = NOW + 600, nonce: bytes = NONCE) -> KeptMapping:
    return KeptMapping("tcp", port, port, GATEWAY, MappingProtocol.PCP, expires_at, nonce)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> KeptMappings:
    return KeptMappings(tmp_path / "state" / "natprobe" / FILE_NAME, clock=clock)


def test_the_default_file_is_in_the_state_folder(tmp_path: Path) -> None:
    assert default_kept_path({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "natprobe" / "kept-mappings.json"
    assert default_kept_path({"HOME": "/home/u"}) == Path("/home/u/.local/state/natprobe/kept-mappings.json")


def test_a_record_survives_a_new_reader_with_its_nonce_and_the_file_is_private(store: KeptMappings,
                                                                             clock: Clock) -> None:
    assert store.load() == ()  # no file yet: nothing, and no warning
    store.add(_pcp(40123))
    store.add(KeptMapping("udp", 22124, 22124, GATEWAY, MappingProtocol.UPNP, NOW + 60))
    again = KeptMappings(store.path, clock=clock)
    assert again.load() == (_pcp(40123), KeptMapping("udp", 22124, 22124, GATEWAY, MappingProtocol.UPNP, NOW + 60))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in store.path.parent.iterdir()) == [FILE_NAME, FILE_NAME + ".lock"]  # no temporary left
    assert store.problems == [] and again.problems == []


def test_the_same_mapping_kept_again_replaces_its_record(store: KeptMappings) -> None:
    store.add(_pcp(40123, nonce=b"\x01" * 12))
    store.add(_pcp(40123, nonce=b"\x02" * 12))
    assert [r.nonce for r in store.load()] == [b"\x02" * 12]


def test_records_past_their_lease_are_pruned(store: KeptMappings, clock: Clock) -> None:
    store.add(_pcp(40123, expires_at=NOW + 60))
    store.add(_pcp(40124, expires_at=NOW + 600))
    clock.now = NOW + 61
    assert [r.internal_port for r in store.load()] == [40124]
    store.add(_pcp(40125))  # a write keeps only what is still alive
    assert [e["internal_port"] for e in json.loads(store.path.read_text())["mappings"]] == [40124, 40125]


def test_discard_forgets_removed_mappings(store: KeptMappings) -> None:
    store.add(_pcp(40123))
    store.add(_pcp(40124))
    store.discard([_pcp(40123)])
    assert [r.internal_port for r in store.load()] == [40124]


@pytest.mark.parametrize("text", ["{not json", '{"version": 1, "mappings": [{"protocol": "tcp"}]}',
                                  '{"version": 9, "mappings": []}', "[]",
                                  '{"version": 1, "mappings": [{"protocol": "sctp", "internal_port": 1, '
                                  '"external_port": 1, "gateway": "192.0.2.1", "via": "pcp", "expires_at": 1, '
                                  '"nonce": ""}]}'])
def test_a_corrupt_file_is_a_warning_then_set_aside(store: KeptMappings, text: str) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(text)
    assert store.load() == ()
    assert len(store.problems) == 1 and "is not a record of kept mappings" in store.problems[0], store.problems
    store.add(_pcp(40123))
    assert store.load() == (_pcp(40123),)
    assert (store.path.parent / (FILE_NAME + ".broken")).read_text() == text


def test_a_folder_that_cannot_be_made_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file where the folder would go")  # refused even to root
    store = KeptMappings(tmp_path / "state" / "natprobe" / FILE_NAME)
    store.add(_pcp(40123))
    assert len(store.problems) == 1 and "cannot write its record of kept mappings" in store.problems[0]
    assert store.load() == ()


def test_an_unreadable_file_is_a_warning_and_left_alone(store: KeptMappings) -> None:
    store.path.mkdir(parents=True)  # cannot be read, even as root
    assert store.load() == ()
    store.add(_pcp(40123))
    assert len(store.problems) == 2 and all("cannot read" in p for p in store.problems), store.problems
    assert store.path.is_dir()


def test_the_report_shows_no_nonce() -> None:
    shown = _pcp(40123).to_dict()
    assert shown == {"protocol": "tcp", "internal_port": 40123, "external_port": 40123, "gateway": "192.168.77.1",
                     "via": "pcp", "expires_at": "2027-01-15T08:10:00+00:00"}
