"""The web checker's weight, and its time to the first port result at 50 ms RTT (a Jamulus check).

::

    python -m benchmarks.web_page [--runs N] [--delay-ms D] [--json FILE]

One lab (:class:`natprobe.lab.Lab`): a port-restricted cone NAT forwarding UDP 22124 to a real
Jamulus server on the client, ``D`` ms each way on the router's WAN link (the lab's user-space
wire; 25 ms each way = 50 ms RTT), natprobe's echo server in the Internet namespace. Debian's
chromium runs headless in the client namespace (``tests/lab/web_browser.py``) and opens
``/jamulus`` ``N`` times, each in a fresh browser context (no cache).

* **weight**: the bytes of the page and every file it loads (``/jamulus``, the script, the style
  sheet, the icon), as fetched from the server; goal < 100 KB;
* **first result**: milliseconds from the start of navigation until the first port shows a
  verdict (``data-status`` no longer ``pending``), read in the page with ``performance.now()``;
  goal < 2 s. It includes the page load, the ``whoami`` round trip, the probe (the server's
  Jamulus ping to the forwarded port) and ``/v1/explain``.

Exit status 0 when both goals are met, 1 when one is missed, 2 when the lab, chromium or
Jamulus is missing. Only addresses inside the lab's namespaces are contacted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from natprobe.lab import Behavior, Lab, LabConfig, PortForward, require_lab
from natprobe.lab.services import start_echo_server

WEIGHT_GOAL_BYTES = 100_000
FIRST_RESULT_GOAL_MS = 2000.0
FILES = ("/jamulus", "/static/app.js", "/static/style.css", "/static/icon.svg")
_FIRST_RESULT = """() => {
  const done = document.querySelector('#ports > li[data-status]:not([data-status="pending"])');
  return done ? performance.now() : null;
}"""


def _weight(lab: Lab, base: str) -> dict[str, int]:
    sizes = {}
    with lab.client.entered():
        for path in FILES:
            with urllib.request.urlopen(base + path, timeout=10) as response:  # noqa: S310 (the lab's own server)
                sizes[path] = len(response.read())
    return sizes


def measure(runs: int, delay_ms: float) -> dict[str, Any]:
    from tests.lab.web_browser import HTTP_PORT, JAMULUS_PORT, LabBrowser, start_jamulus

    config = LabConfig(behavior=Behavior.PORT_RESTRICTED_CONE, delay_ms=delay_ms,
                       forwards=(PortForward("udp", JAMULUS_PORT),))
    with Lab(config) as lab, tempfile.TemporaryDirectory(prefix="natprobe-web-bench-") as tmp:
        start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=HTTP_PORT)
        start_jamulus(lab, Path(tmp), ipv6=False)
        base = f"http://{lab.server.primary_ip}:{HTTP_PORT}"
        sizes = _weight(lab, base)
        browser = LabBrowser(lab.client)
        firsts: list[float] = []
        statuses: list[str] = []
        try:
            for _ in range(runs):
                opened = browser.open(f"{base}/jamulus")
                try:
                    handle = opened.page.wait_for_function(_FIRST_RESULT, polling=10)
                    firsts.append(float(handle.json_value()))
                    statuses.append(str(opened.port("udp", JAMULUS_PORT).get_attribute("data-status")))
                    opened.wait_done()
                finally:
                    opened.close()
        finally:
            browser.close()
    return {
        "delay_ms_each_way": delay_ms,
        "rtt_ms": 2 * delay_ms,
        "weight_bytes": sizes,
        "weight_total_bytes": sum(sizes.values()),
        "first_result_ms": firsts,
        "first_result_median_ms": statistics.median(firsts),
        "first_result_max_ms": max(firsts),
        "statuses": statuses,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.web_page", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="page loads (default 5)")
    parser.add_argument("--delay-ms", type=float, default=25.0, help="one-way delay on the WAN link (default 25)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 100:
        parser.error("--runs must be 1-100")
    reason = require_lab()
    from tests.lab.web_browser import JAMULUS, browser_missing

    reason = reason or browser_missing() or (None if JAMULUS else "Jamulus is not installed")
    if reason is not None:
        print(f"web_page: cannot run: {reason}", file=sys.stderr)
        return 2
    result = measure(args.runs, args.delay_ms)
    weight_ok = result["weight_total_bytes"] < WEIGHT_GOAL_BYTES
    time_ok = result["first_result_max_ms"] < FIRST_RESULT_GOAL_MS
    print(f"page weight: {result['weight_total_bytes']} bytes "
          f"({', '.join(f'{k} {v}' for k, v in result['weight_bytes'].items())}); goal < {WEIGHT_GOAL_BYTES}: "
          f"{'met' if weight_ok else 'MISSED'}")
    print(f"first port result at {result['rtt_ms']:g} ms RTT over {args.runs} loads: median "
          f"{result['first_result_median_ms']:.0f} ms, max {result['first_result_max_ms']:.0f} ms "
          f"(statuses: {', '.join(sorted(set(result['statuses'])))}); goal < {FIRST_RESULT_GOAL_MS:.0f} ms: "
          f"{'met' if time_ok else 'MISSED'}")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if weight_ok and time_ok else 1


if __name__ == "__main__":
    sys.exit(main())
