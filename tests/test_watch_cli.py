"""``natprobe watch`` and ``natprobe history`` on loopback: settings, units, deliveries, metrics, renderings.

The measurements themselves run on the lab's real NATs (tests/lab/test_watch_lab.py); here a
run's measurement is a fixed set of items handed to :func:`run_once` (its ``measure`` seam),
so delivery, retry, metrics and the history's renderings are tested fast and exactly. Every
delivery goes to loopback: a real Apprise ``json://`` post to a receiver this test starts, and
a real ``--exec`` command.
"""

from __future__ import annotations

import asyncio
import http.server
import io
import json
import shutil
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from natprobe_cli.main import main
from natprobe_cli.render_history import render_history, render_svg
from natprobe_cli.terminal import Style
from natprobe.adapters.history_store import MAX_DELIVERY_ATTEMPTS, HistoryStore
from natprobe.adapters.metrics_output import MetricsListener
from natprobe.adapters.notify import make_targets
from natprobe.errors import HistoryError
from natprobe_cli.user_config import load_user_config, save_setting
from natprobe.measure.watch import WatchSet, run_once, watch_loop
from natprobe.verdicts.watch_changes import Health, ItemKind, ItemState
from tests.json_reports import assert_valid_report

SERVER = "http://127.0.0.1:9"  # never contacted: the measurement is handed in


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


class _Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(min(int(self.headers.get("Content-Length") or 0), 1 << 20))
        self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port(value: str) -> ItemState:
    health = Health.OK if value == "reachable" else Health.PROBLEM
    return ItemState("port/udp/22124/ipv4", ItemKind.PORT, "udp/22124", "ipv4", value, health, "check",
                     reason="the probe never arrived" if health is Health.PROBLEM else "",
                     advice=("Forward UDP 22124 to 192.168.1.10.",) if health is Health.PROBLEM else ())


def _measured(*values: str) -> Any:
    """A measurement seam returning one port per call, in order."""
    queue = list(values)

    async def measure(_watch: WatchSet) -> tuple[dict[str, Any], list[ItemState], set[str], list[str]]:
        value = queue.pop(0)
        return {"check": {"value": value}}, [_port(value)], {"check"}, []

    return measure



def _watch_set() -> WatchSet:
    from natprobe.contract.terms import TransportProtocol
    from natprobe.verdicts.port_spec import PortSpec

    return WatchSet(server=SERVER, ports=(PortSpec(TransportProtocol.UDP, 22124, "jamulus"),))


def test_a_failed_delivery_is_recorded_retried_and_never_fatal(tmp_path: Path,
                                                               receiver: http.server.ThreadingHTTPServer) -> None:
    dead = f"json://127.0.0.1:{_free_port()}/hook"  # nothing listens there
    live = f"json://127.0.0.1:{receiver.server_address[1]}/hook"
    log = tmp_path / "exec.log"
    hook = f"{sys.executable} -c \"import os,sys; open({str(log)!r},'a').write(os.environ['NATPROBE_LEVEL']+'|'+sys.stdin.read()+'\\n')\""
    measure = _measured("reachable", "not-forwarded-or-filtered", "not-forwarded-or-filtered", "reachable")

    async def scenario() -> list[Any]:
        outcomes = []
        with HistoryStore.in_dir(tmp_path / "state") as store:
            first = make_targets([dead], hook)
            outcomes.append(await run_once(_watch_set(), store, first, measure=measure, host_label="box"))
            outcomes.append(await run_once(_watch_set(), store, first, measure=measure, host_label="box"))
            # The owner fixes the URL: the next run retries what failed, to the same target digest only.
            outcomes.append(await run_once(_watch_set(), store, make_targets([live], hook), measure=measure,
                                           host_label="box"))
            outcomes.append(await run_once(_watch_set(), store, make_targets([live], hook), measure=measure,
                                           host_label="box"))
            outcomes.append(store.report())
        return outcomes

    first, second, third, fourth, report = asyncio.run(scenario())
    assert first.events == () and first.deliveries == ()
    document = assert_valid_report(second.to_dict())  # what natprobe watch --json prints
    assert [c["event"] for c in document["changes"]] == ["problem"] and document["message"] is not None
    assert [d["delivered"] for d in document["deliveries"]] == [False, True]
    assert [e.kind.value for e in second.events] == ["problem"]
    failed = [d for d in second.deliveries if d[1] is not None]
    assert len(failed) == 1 and failed[0][0].startswith("json://")  # the dead URL failed; the run went on
    assert [d[1] for d in second.deliveries if d[0].startswith("exec")] == [None]
    assert third.events == ()  # still down: no new message, but the old failure is retried
    assert [d[1] for d in third.deliveries] == ["this target is no longer in the watch's configuration"]
    assert [e.kind.value for e in fourth.events] == ["recovered"]
    titles = [m["title"] for m in receiver.received]  # type: ignore[attr-defined]
    assert titles == ["natprobe: UDP 22124 (IPv4) recovered"]
    assert log.read_text().count("failure|") == 1 and log.read_text().count("success|") == 1
    assert "Forward UDP 22124 to 192.168.1.10." in log.read_text()
    delivered = [d.delivered for d in report.deliveries]
    assert delivered.count(False) == 1 and delivered.count(True) == 3
    # Its target left the configuration: tried no more.
    assert next(d for d in report.deliveries if not d.delivered).attempts == MAX_DELIVERY_ATTEMPTS


def test_a_receiver_that_was_down_gets_the_message_on_the_next_run(tmp_path: Path) -> None:
    port = _free_port()
    url = f"json://127.0.0.1:{port}/hook"
    measure = _measured("not-forwarded-or-filtered", "not-forwarded-or-filtered")

    async def scenario() -> tuple[Any, Any, list[Any]]:
        with HistoryStore.in_dir(tmp_path / "state") as store:
            targets = make_targets([url], None)
            down = await run_once(_watch_set(), store, targets, measure=measure, host_label="box")
            server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Receiver)
            server.received = []  # type: ignore[attr-defined]
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            thread.start()
            try:
                up = await run_once(_watch_set(), store, targets, measure=measure, host_label="box")
            finally:
                server.shutdown()
                server.server_close()
                thread.join(5)
            return down, up, list(server.received)  # type: ignore[attr-defined]

    down, up, received = asyncio.run(scenario())
    assert [e.kind.value for e in down.events] == ["problem"] and down.deliveries[0][1] is not None
    assert up.events == () and [d[1] for d in up.deliveries] == [None]  # the retry, not a new message
    assert [m["title"] for m in received] == ["natprobe: UDP 22124 (IPv4) is not-forwarded-or-filtered"]


def test_apprise_urls_are_checked_and_masked() -> None:
    with pytest.raises(ValueError, match="not an Apprise URL"):
        make_targets(["nosuchscheme://x"], None)
    (target,) = make_targets(["json://user:secret@127.0.0.1:9/hook"], None)
    assert "secret" not in target.shown and target.shown.startswith("json://")


def test_textfile_and_metrics_listener_carry_each_item(tmp_path: Path) -> None:
    textfile = tmp_path / "collector" / "natprobe.prom"

    async def scenario() -> tuple[str, str]:
        listener = MetricsListener("127.0.0.1", 0)
        await listener.start()
        try:
            with HistoryStore.in_dir(tmp_path / "state") as store:
                measure = _measured("reachable", "not-forwarded-or-filtered")
                clock = iter([10.0, 11.0, 20.0, 21.0]).__next__
                runs = await watch_loop(lambda: run_once(_watch_set(), store, (), measure=measure, textfile=textfile,
                                                         listener=listener, clock=clock),
                                        60.0, max_runs=2, sleep=lambda _s: asyncio.sleep(0))
                assert runs == 2
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{listener.port}/metrics") as response:
                    assert response.status == 200 and response.content_type == "text/plain"
                    return await response.text(), textfile.read_text()
        finally:
            await listener.stop()

    served, written = asyncio.run(scenario())
    assert served == written
    line = ('natprobe_watch_item_status{key="port/udp/22124/ipv4",kind="port",subject="udp/22124",family="ipv4",'
            'value="not-forwarded-or-filtered"} 0')
    assert line in written
    assert 'natprobe_watch_item_last_change_timestamp_seconds{key="port/udp/22124/ipv4"} 21.000' in written
    assert "natprobe_watch_problems 1" in written and "natprobe_watch_last_run_timestamp_seconds 21.000" in written


def test_history_command_json_timeline_svg_and_since(tmp_path: Path) -> None:
    state = tmp_path / "state"

    async def fill() -> None:
        with HistoryStore.in_dir(state) as store:
            measure = _measured("reachable", "not-forwarded-or-filtered", "reachable")
            for now in (1_000_000.0, 2_000_000.0, 3_000_000.0):
                await run_once(_watch_set(), store, (), measure=measure, clock=lambda now=now: now)

    asyncio.run(fill())
    code, out, _err = _cli("history", "--state-dir", str(state), "--json")
    assert code == 0
    data = assert_valid_report(json.loads(out))
    assert [c["event"] for c in data["changes"]] == ["problem", "recovered"]
    assert data["changes"][0]["at"] == "1970-01-24T03:33:20Z"
    code, out, _err = _cli("history", "--state-dir", str(state), "--since", "1970-01-24T03:33:00")
    assert code == 0 and "2 run(s)" in out and "\x1b[" not in out
    with HistoryStore.in_dir(state) as store:
        report = store.report()
    coloured = render_history(report, Style(unicode=True, colour=True))
    assert "\x1b[31m✗\x1b[0m" in coloured and "\x1b[32m●\x1b[0m" in coloured
    plain = render_history(report, Style(unicode=False, colour=False))
    assert "UDP 22124 (IPv4)  +x+" in plain
    assert "likely cause: the probe never arrived" in plain
    svg = tmp_path / "history.svg"
    code, _out, _err = _cli("history", "--state-dir", str(state), "--svg", str(svg))
    assert code == 0
    root = ElementTree.fromstring(svg.read_text())
    assert root.tag.endswith("svg") and len(root.findall(".//{http://www.w3.org/2000/svg}rect")) >= 4
    assert render_svg(report).count("#d0342c") == 1  # one red cell
    code, _out, err = _cli("history", "--state-dir", str(state), "--since", "yesterday-ish")
    assert code == 2 and "--since" in err


def test_history_of_a_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "history.sqlite3").write_bytes(b"not sqlite" * 500)
    code, out, err = _cli("history", "--state-dir", str(tmp_path))
    assert code == 3 and out == "" and "left the file as it is" in err


def test_watch_usage_errors_are_one_clear_line(tmp_path: Path) -> None:
    code, _out, err = _cli("watch", "--once", "--udp", "22124")
    assert code == 2 and "no echo server" in err
    code, _out, err = _cli("watch", "--once", "--server", SERVER)
    assert code == 2 and "nothing to watch" in err
    code, _out, err = _cli("watch", "--once", "--server", SERVER, "--udp", "22124", "--repeat", "soon")
    assert code == 2 and "duration" in err


def test_watch_table_is_read_checked_and_kept_by_config_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "natprobe" / "config.toml"
    config.parent.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config.write_text('token = "t0k"\n\n[watch]\nudp = ["22124:jamulus"]\nevery = "5m"\nexposure = true\n')
    assert load_user_config(config).watch == {"udp": ["22124:jamulus"], "every": "5m", "exposure": True}
    save_setting("server", "http://198.51.100.10:8080", config)
    reread = load_user_config(config)
    assert reread.server == "http://198.51.100.10:8080" and reread.token == "t0k"
    assert reread.watch == {"udp": ["22124:jamulus"], "every": "5m", "exposure": True}
    config.write_text('[watch]\nudp = "22124"\n')
    code, _out, err = _cli("watch", "--once")
    assert code == 2 and "[watch] udp" in err and "list of strings" in err
    config.write_text('[watch]\nfrequency = "5m"\n')
    code, _out, err = _cli("watch", "--once")
    assert code == 2 and "unknown key 'frequency' in [watch]" in err


@pytest.mark.parametrize("kind", ["user", "system"])
def test_systemd_timer_units_are_hardened_and_valid(tmp_path: Path, kind: str) -> None:
    code, out, err = _cli("watch", "--systemd-timer", kind, "--every", "30m", "--server", SERVER, "--udp", "22124",
                          "--notify", "json://secret@127.0.0.1:9/x")
    assert code == 0
    assert "secret" not in out and "--notify" in err  # secrets stay in the config file
    service_text, timer_text = out.split("# ", 2)[1:]
    assert "ExecStart=" in service_text and "watch --once --server http://127.0.0.1:9 --udp 22124" in service_text
    assert "NoNewPrivileges=yes" in service_text and "ProtectSystem=strict" in service_text
    assert ("DynamicUser=yes" in service_text) == (kind == "system")
    assert "OnUnitActiveSec=1800s" in timer_text and "RandomizedDelaySec=180s" in timer_text
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    service = tmp_path / "natprobe-watch.service"
    timer = tmp_path / "natprobe-watch.timer"
    service.write_text(service_text.split("\n", 1)[1])
    timer.write_text(timer_text.split("\n", 1)[1].split("# then:")[0])
    done = subprocess.run([analyze, "verify", "--man=no", str(service), str(timer)], capture_output=True, text=True,
                          timeout=60)
    problems = [line for line in done.stderr.splitlines() if "natprobe-watch" in line]
    assert not problems, done.stderr


def test_the_loop_is_bounded_and_jittered() -> None:
    import random

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def run() -> Any:
        return None

    count = asyncio.run(watch_loop(run, 900.0, max_runs=20, rng=random.Random(7), sleep=sleep))
    assert count == 20 and len(slept) == 19
    assert all(810.0 <= s <= 990.0 for s in slept) and len(set(slept)) == 19
    with pytest.raises(ValueError):
        asyncio.run(watch_loop(run, 0, max_runs=1))


def test_an_unusable_state_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file where the folder should be")
    with pytest.raises(HistoryError, match="cannot create the history folder"):
        HistoryStore.in_dir(tmp_path / "file" / "natprobe")
    code, _out, err = _cli("watch", "--once", "--server", SERVER, "--udp", "22124",
                           "--state-dir", str(tmp_path / "file" / "natprobe"))
    assert code == 3 and "cannot create the history folder" in err
