"""Debian's chromium, headless, driven by Playwright from inside a lab namespace (and what the
web checker's lab tests share: a real Jamulus server, the CLI's JSON, the page's hygiene).

Playwright's driver and the browser it launches are started from a thread switched into the
namespace (:meth:`Host.entered`), so every packet the page sends leaves from that host: a
browser on the LAN behind the lab's kernel NAT. Playwright's own browser download cannot work
here and is never used: ``executable_path`` points at Debian's binary (facts/reach.md: the
``/usr/bin/chromium`` wrapper adds flags, so the real binary is launched). One browser per lab,
a fresh context (no shared cache or storage) per page.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from natprobe.lab import Host, Lab
from natprobe.lab.ipv6_net import Ipv6Lab

CHROMIUM = Path("/usr/lib/chromium/chromium")
JAMULUS = shutil.which("Jamulus")
JAMULUS_PORT = 22124
HTTP_PORT = 8080
CLI_TIMEOUT_S = 40.0
# The lab's addresses are documentation prefixes, and Chromium ranks 2001:db8::/32 as a
# "local" address space while 198.51.100.0/24 is public: a page served over plain HTTP from the
# lab's IPv4 address may then not fetch from its IPv6 address (Private/Local Network Access).
# Two global addresses of a real server are both public, so the lab turns that check off.
LAB_ONLY_FLAGS = ("--disable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,"
                  "LocalNetworkAccessChecks",)
PAGE_TIMEOUT_MS = 20_000
"""Bound of every wait on the page (a check of a few ports ends within seconds)."""


def browser_missing() -> str | None:
    """Why the browser cannot run here (``None``: it can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing (Debian chromium; scripts/setup.sh installs it)"
    return None


@dataclass
class OpenPage:
    """A page and what it did: console messages and every URL it requested."""

    page: Any
    context: Any
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def origins(self) -> set[str]:
        return {f"{u.scheme}://{u.netloc}" for u in map(urlsplit, self.requests)}

    def wait_done(self, selector: str = "body[data-done]") -> None:
        self.page.wait_for_selector(selector, state="attached", timeout=PAGE_TIMEOUT_MS)

    def port(self, protocol: str, port: int) -> Any:
        return self.page.locator(f'#ports > li[data-protocol="{protocol}"][data-port="{port}"]')

    def finding_codes(self, scope: str = "#findings") -> list[str]:
        return [str(c) for c in self.page.eval_on_selector_all(
            f"{scope} [data-finding-code]", "nodes => nodes.map(n => n.dataset.findingCode)")]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.context.close()


class LabBrowser:
    """One headless chromium living in ``host``'s namespace."""

    def __init__(self, host: Host) -> None:
        from playwright.sync_api import sync_playwright

        with host.entered():
            self._playwright = sync_playwright().start()
            try:
                self.browser = self._playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=["--no-sandbox", *LAB_ONLY_FLAGS], timeout=PAGE_TIMEOUT_MS)
            except BaseException:
                self._playwright.stop()
                raise

    def open(self, url: str, *, locale: str = "en-US", width: int = 1000, height: int = 900) -> OpenPage:
        context = self.browser.new_context(locale=locale, viewport={"width": width, "height": height})
        page = context.new_page()
        opened = OpenPage(page, context)
        page.on("console", lambda m: opened.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: opened.console_errors.append(str(e)))
        page.on("request", lambda r: opened.requests.append(r.url))
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        page.goto(url)
        return opened

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self._playwright.stop()


def start_jamulus(lab: Lab, tmp: Path, *, ipv6: bool) -> subprocess.Popen[Any]:
    """A real Jamulus server (no directory: private mode) on UDP 22124 of the client."""
    assert JAMULUS is not None
    argv = [JAMULUS, "-s", "-n", "-p", str(JAMULUS_PORT), "-o", "Home;Town;82"]
    if ipv6:
        argv.append("-6")
    proc = lab.client.spawn(argv, stdout=(tmp / "jamulus.log").open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:  # bounded: until the port is bound
        listening = lab.client.exec(["ss", "-Hunl", f"sport = :{JAMULUS_PORT}"], check=False, timeout=5)
        if listening.stdout.strip():
            return proc
        try:
            proc.wait(0.1)
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"Jamulus exited with {proc.returncode}: {(tmp / 'jamulus.log').read_text()[-500:]}")
    raise AssertionError("Jamulus did not bind UDP 22124 within 10 s")


def natprobe_json(lab: Lab, *args: str) -> dict[str, Any]:
    done = lab.client.exec([sys.executable, "-m", "natprobe_cli", *args, "--json"], check=False, timeout=CLI_TIMEOUT_S)
    assert done.stdout, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def server_origins(lab: Lab, v6: Ipv6Lab | None) -> set[str]:
    origins = {f"http://{lab.server.primary_ip}:{HTTP_PORT}"}
    if v6 is not None:
        origins.add(f"http://[{v6.plan.primary_ip}]:{HTTP_PORT}")
    return origins


def assert_clean(opened: OpenPage, lab: Lab, v6: Ipv6Lab | None) -> None:
    assert opened.console_errors == [], opened.console_errors
    assert opened.origins() <= server_origins(lab, v6), opened.requests
