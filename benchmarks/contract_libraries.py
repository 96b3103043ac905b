"""What the HTTP contract's record library costs: msgspec (used) against pydantic v2 (measured only).

``python -m benchmarks.contract_libraries [--runs N]``

Each run is a fresh interpreter that first imports the echo server as it starts without
``--http-port`` (``natprobe_server.deploy``: the STUN-only server), reads its VmRSS, then imports
the library and defines the API's records, and reads VmRSS and the time again. For msgspec the
records are natprobe's own (:mod:`natprobe.contract`); for pydantic a faithful port of the same
records (constraints, patterns, the cross-field rules) written below. A last step decodes a
probe request 20,000 times. pydantic is not a natprobe dependency: install it in a scratch
virtual environment to compare (``pip install pydantic``); without it only msgspec is measured.
Nothing here touches the network.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap

__all__ = ("main",)

_PROBE = textwrap.dedent(
    """
    import json, resource, sys, time

    def rss_kib():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    import natprobe_server.deploy  # the STUN-only server's imports
    base = rss_kib()
    started = time.perf_counter()
    {define}
    defined = time.perf_counter() - started
    after = rss_kib()
    body = b'{{"protocol": "udp", "port": 22124, "mode": "nonce", "nonce": "0123456789abcdef0123456789abcdef", "count": 3}}'
    started = time.perf_counter()
    for _ in range(20000):
        request = parse(body)
    decode_us = (time.perf_counter() - started) / 20000 * 1e6
    print(json.dumps({{"base_kib": base, "after_kib": after, "import_ms": defined * 1000, "decode_us": decode_us}}))
    """
)

_MSGSPEC = textwrap.dedent(
    """
    from natprobe.contract.probe_route import decode_probe_request as parse
    import natprobe.contract.hole_punch
    """
)

_PYDANTIC = textwrap.dedent(
    '''
    import enum, re
    from typing import Annotated, Literal, Optional
    from pydantic import BaseModel, ConfigDict, Field, model_validator

    class TransportProtocol(enum.StrEnum):
        UDP = "udp"; TCP = "tcp"
    class ProbeMode(enum.StrEnum):
        NONCE = "nonce"; JAMULUS = "jamulus"; HTTP = "http"; HTTPS = "https"; SSH = "ssh"; CONNECT = "connect"
    MODES = {TransportProtocol.UDP: {ProbeMode.NONCE, ProbeMode.JAMULUS},
             TransportProtocol.TCP: {ProbeMode.NONCE, ProbeMode.CONNECT, ProbeMode.HTTP, ProbeMode.HTTPS, ProbeMode.SSH}}
    HOST = r"^(?=.{1,253}\\.?$)(?:(?!-)[A-Za-z0-9-]{1,63}(?<!-)\\.)*(?!-)(?=[A-Za-z0-9-]*[A-Za-z-])[A-Za-z0-9-]{1,63}(?<!-)\\.?$"
    class Record(BaseModel):
        model_config = ConfigDict(frozen=True, strict=True)
    class ProbeRequest(Record):
        # pydantic's own (Rust) regex engine has no look-around, which the host pattern needs
        model_config = ConfigDict(frozen=True, strict=True, extra="forbid", regex_engine="python-re")
        protocol: TransportProtocol
        port: Annotated[int, Field(ge=1, le=65535)]
        mode: ProbeMode
        nonce: Optional[Annotated[str, Field(pattern=r"^[0-9a-fA-F]{16,64}$")]] = None
        host: Optional[Annotated[str, Field(pattern=HOST)]] = None
        count: Optional[Annotated[int, Field(ge=1, le=5)]] = None
        timeout: Annotated[float, Field(ge=0.5, le=5.0)] = 2.0
        @model_validator(mode="after")
        def rules(self):
            if self.mode not in MODES[self.protocol]:
                raise ValueError("mode does not work over this protocol")
            if (self.mode is ProbeMode.NONCE) != (self.nonce is not None):
                raise ValueError("nonce goes with mode nonce")
            return self
    class Endpoint(Record):
        ip: str
        port: Annotated[int, Field(ge=0, le=65535)]
    class UdpNonceResult(Record):
        sent: Annotated[int, Field(ge=0, le=5)]
    class ConnectResult(Record):
        connected: bool; error: Optional[str]; connect_ms: Optional[Annotated[float, Field(ge=0)]]
    class JamulusResult(Record):
        answered: bool; rtt_ms: Optional[float]; clients: Optional[int]; version: Optional[str]; os: Optional[str]
    class TlsInfo(Record):
        version: Optional[str]; subject_cn: Optional[str]; san: tuple[str, ...]; issuer_cn: Optional[str]
        not_after: Optional[str]; verified: bool; verify_error: Optional[str]
    class HttpResult(Record):
        connected: bool; error: Optional[str]; status: Optional[Annotated[int, Field(ge=100, le=999)]]
        server_header: Optional[str]; location: Optional[str]
    class HttpsResult(HttpResult):
        tls: Optional[TlsInfo]
    class SshResult(Record):
        connected: bool; error: Optional[str]; banner: Optional[str]
    class ProbeResponse(Record):
        target: Endpoint; protocol: TransportProtocol; mode: ProbeMode; source: Endpoint
        result: UdpNonceResult | ConnectResult | JamulusResult | HttpsResult | HttpResult | SshResult
        elapsed_ms: float
    class WhoAmI(Record):
        ip: str; port: int; server: Literal["natprobe-echo"]; version: str; probe_source_ip: str
        udp_probe_port: int; auth_required: bool
    class PingStep(Record):
        source: Endpoint; sent: int; answered: bool; rtt_ms: Optional[float]
    class HolePunchStep(Record):
        peer: Endpoint; requests_sent: int; received: bool; source: Optional[Endpoint]; after_ms: Optional[float]
    class HolePunchResponse(Record):
        name: str; published: Endpoint; registered_s_ago: float; keepalive_interval_s: float
        unsolicited: PingStep; hole_punch: HolePunchStep; punched_ping: PingStep; udp_bytes_sent: int; elapsed_ms: float
    class HolePunchRequest(Record):
        model_config = ConfigDict(frozen=True, strict=True, extra="forbid")
        name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._~-]{1,20}$")]
    parse = ProbeRequest.model_validate_json
    '''
)


def _run(define: str) -> dict[str, float]:
    code = _PROBE.format(define=textwrap.indent(define, "    ").strip().replace("\n    ", "\n"))
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60)
    result: dict[str, float] = json.loads(output.stdout)
    return result


def _has_pydantic() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import pydantic"], capture_output=True, timeout=30)
    return probe.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per library (default 5)")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 50:
        parser.error("--runs must be 1-50")
    libraries = {"msgspec": _MSGSPEC}
    if _has_pydantic():
        libraries["pydantic"] = _PYDANTIC
    else:
        print("pydantic is not installed here: measuring msgspec only", file=sys.stderr)
    print("| library | STUN-only server RSS MiB | + records MiB | import + define ms | decode µs |")
    print("|---|---|---|---|---|")
    for name, define in libraries.items():
        runs = [_run(define) for _ in range(args.runs)]
        base = statistics.median(r["base_kib"] for r in runs) / 1024
        added = statistics.median(r["after_kib"] - r["base_kib"] for r in runs) / 1024
        import_ms = statistics.median(r["import_ms"] for r in runs)
        decode_us = statistics.median(r["decode_us"] for r in runs)
        print(f"| {name} | {base:.1f} | {added:.1f} | {import_ms:.0f} | {decode_us:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
