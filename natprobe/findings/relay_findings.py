"""What a relay check found, and what to do when a port forward cannot work, in plain language.

Two families of findings:

* :func:`explain_relay`: per port through the relay NAME points at, its verdict (codes
  ``relay-<status>``) and what the service sees as the client's address (codes
  ``relay-client-<value>``), with the consequences (logs, fail2ban, rate limits, Jamulus'
  per-client limits) and the fixes (PROXY protocol, ``X-Forwarded-For`` with nginx
  ``real_ip``, WireGuard without MASQUERADE and with policy routing).
* :func:`forwarding_remedies`: when the verdicts say a port forward at home cannot work
  (carrier-grade NAT, double NAT, a NAT this user does not control), the remedies in order,
  each with the ``natprobe check`` command that verifies it (codes ``remedy-…``).
"""

from __future__ import annotations

from collections.abc import Sequence

from natprobe.contract.terms import TransportProtocol
from natprobe.findings.facility_words import limit_sentence
from natprobe.i18n import N_, _
from natprobe.reports.finding import Finding, Severity
from natprobe.reports.relay_report import RelayReport
from natprobe.verdicts.reachability import PortStatus, PortVerdict
from natprobe.verdicts.port_spec import PortSpec
from natprobe.verdicts.relay_verdicts import ClientAddress, RelayPortVerdict, RelayStatus, RelayVia

__all__ = ("explain_relay", "forwarding_remedies", "needs_remedies")

_CONSEQUENCES = N_(
    "logs, fail2ban and rate limits then see one address for everybody: they ban everyone or nobody, and Jamulus' "
    "per-client limits treat all visitors as one"
)


def _port(verdict: RelayPortVerdict) -> str:
    return f"{verdict.protocol.value.upper()} {verdict.port}"


def _status_finding(name: str, v: RelayPortVerdict) -> Finding:
    port, relay = _port(v), v.relay_ip
    via = (_("sent by the echo server") if v.via is RelayVia.ECHO_SERVER
           else _("sent from this host through the relay's public address (out through the home NAT, back in "
                  "through the relay): an outside-in test of the relay and the tunnel"))
    status = v.status
    if status is RelayStatus.REACHABLE_VIA_RELAY:
        return Finding(Severity.OK, _("{port}: reachable via the relay {relay}", port=port, relay=relay),
                       _("A one-time token sent to {name} ({relay}) port {number} reached natprobe on this host "
                         "({via}).", name=name, relay=relay, number=v.port, via=via),
                       code="relay-reachable-via-relay")
    if status is RelayStatus.RELAY_UNVERIFIED:
        advice = (_("Add this record to the zone of {name}, then run the check again: {record}",
                    name=name, record=v.record),) if v.record else ()
        return Finding(
            Severity.WARNING, _("{port}: the relay {relay} is not verified", port=port, relay=relay),
            _("{name} points at {relay}, which is not this network's public address. Your echo server probes an "
              "address other than yours only when the name's owner allows it in DNS, so nothing was sent there.",
              name=name, relay=relay),
            advice + (_("Or run natprobe check without an echo server: it then tests the relay from this host."),),
            code="relay-relay-unverified")
    if status is RelayStatus.RELAY_REPLY_PATH_BROKEN:
        reply = v.observation.reply
        if reply is not None and reply.leaves_by is not None:
            detail = _("The probe arrived through {arrived} at {local}, but this host routes its reply out of "
                       "{leaves}: it leaves through the ISP with the wrong source address, and the client drops "
                       "it.", arrived=reply.arrived_on, local=reply.arrived_at, leaves=reply.leaves_by)
        else:
            detail = _("The probe reached this host's interface but the connection never completed: the reply "
                       "leaves by another path (through the ISP, not the tunnel).")
        return Finding(
            Severity.PROBLEM, _("{port}: arrives through the relay, but the reply leaves another way", port=port),
            detail,
            (_("Route replies back into the tunnel: 'ip rule add from TUNNEL_ADDRESS table 51820' and "
               "'ip route add default dev wg0 table 51820' (TUNNEL_ADDRESS is this host's address on the tunnel)."),
             _("A UDP service must answer from the address the datagram came to: bind it to the tunnel address "
               "(or one that replies with IP_PKTINFO), else the policy rule never matches."),
             _("Or MASQUERADE on the relay (simpler, but every client then looks like the relay)."),),
            code="relay-relay-reply-path-broken")
    if status is RelayStatus.RELAY_TUNNEL_DOWN:
        answered = v.observation.relay_status
        detail = (_("The relay {relay} answered HTTP {status}: its upstream, the tunnel to this host, is down.",
                    relay=relay, status=answered) if answered is not None
                  else _("The relay {relay} took the probe but nothing reached this host: the tunnel is down or the "
                         "relay forwards into nothing.", relay=relay))
        if v.observation.seen_on_interface is None and v.protocol is TransportProtocol.TCP and v.observation.listening:
            detail += " " + _("natprobe could not watch this host's interfaces (that needs root): as root it also "
                              "tells a dead tunnel from replies that leave the wrong way.")
        return Finding(
            Severity.PROBLEM, _("{port}: the relay {relay} is up, the tunnel behind it is not", port=port, relay=relay),
            detail,
            (_("Restart the tunnel from this host (the 'ssh -R' session, e.g. its autossh or systemd unit; or "
               "'wg-quick up wg0'), then run the check again."),
             _("On the relay, check that the forward points at the tunnel (nginx upstream, the DNAT rule)."),),
            code="relay-relay-tunnel-down")
    if status is RelayStatus.STALE:
        return Finding(
            Severity.PROBLEM, _("{port}: {name} leads nowhere", port=port, name=name),
            _("Nothing answered at {relay} and nothing arrived here: the record is out of date or the relay is "
              "gone.", relay=relay),
            (_("Update the record of {name} to this network's public address, or to your relay's.", name=name),),
            code="relay-stale")
    missing = v.observation.watch_missing
    if missing is not None and v.observation.error is None:
        return Finding(
            Severity.INFO, _("{port}: inconclusive through the relay {relay}", port=port, relay=relay),
            _("Nothing completed a connection here and nothing answered at {relay}: either the tunnel behind the "
              "relay is down, or the probe arrived and this host's reply left another way. Only watching this "
              "host's interfaces tells them apart.", relay=relay) + " " + limit_sentence(missing),
            code="relay-not-tested")
    return Finding(Severity.INFO, _("{port}: the relay {relay} was not tested", port=port, relay=relay),
                   v.observation.error or "", code="relay-not-tested")


def _client_finding(v: RelayPortVerdict) -> Finding | None:
    if v.status is not RelayStatus.REACHABLE_VIA_RELAY:
        return None
    port = _port(v)
    evidence = v.evidence
    client = v.client_address
    if client is ClientAddress.KEPT:
        return Finding(Severity.OK, _("{port}: the service sees the real client address", port=port),
                       _("Evidence: {evidence}.", evidence=evidence), code="relay-client-kept")
    if client is ClientAddress.LOOPBACK:
        return Finding(
            Severity.WARNING, _("{port}: every visitor appears as 127.0.0.1", port=port),
            _("Evidence: {evidence}. A reverse SSH tunnel delivers every connection from this host itself: "
              "{consequences}.", evidence=evidence, consequences=_(_CONSEQUENCES)),
            (_("Put nginx on the relay in front of the tunnel and have it pass the client: for HTTP "
               "'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;' and here 'set_real_ip_from "
               "127.0.0.1; real_ip_header X-Forwarded-For;'; for other TCP a stream server with "
               "'proxy_protocol on;' and a service that reads the PROXY header."),),
            code="relay-client-loopback")
    if client is ClientAddress.RELAY:
        return Finding(
            Severity.WARNING, _("{port}: every visitor appears as the relay", port=port),
            _("Evidence: {evidence}. The relay rewrites the source (MASQUERADE or a proxy): {consequences}.",
              evidence=evidence, consequences=_(_CONSEQUENCES)),
            (_("On a WireGuard relay, DNAT without MASQUERADE and route the replies back into the tunnel with a "
               "policy rule (see the README, 'Behind CGNAT')."),
             _("Behind a proxy: PROXY protocol ('proxy_protocol on;') or X-Forwarded-For with nginx real_ip."),),
            code="relay-client-relay")
    if v.protocol is TransportProtocol.UDP and not v.observation.listening:
        return Finding(Severity.INFO, _("{port}: which client address the service sees is unknown", port=port),
                       _("A service holds the port, so natprobe could not see the datagram itself; stop it and run "
                         "the check again to see what it would see."), code="relay-client-unknown")
    return None


def explain_relay(report: RelayReport) -> tuple[Finding, ...]:
    """The findings of a relay check, one or two per port, in port order."""
    findings: list[Finding] = []
    for verdict in report.ports:
        findings.append(_status_finding(report.name, verdict))
        client = _client_finding(verdict)
        if client is not None:
            findings.append(client)
        if verdict.proxy_protocol is not None and verdict.status is RelayStatus.REACHABLE_VIA_RELAY:
            findings.append(Finding(
                Severity.INFO, _("{port}: PROXY protocol header: {value}", port=_port(verdict),
                                 value=verdict.proxy_protocol.value),
                _("A service on this port must expect the header (nginx 'listen … proxy_protocol;'), or it "
                  "will read it as garbage.") if verdict.proxy_protocol.value != "none"
                else _("The connection started with the data itself: no PROXY header was sent."),
                code="relay-proxy-protocol"))
        if verdict.forwarded_for:
            findings.append(Finding(Severity.INFO, _("{port}: X-Forwarded-For: {value}", port=_port(verdict),
                                                     value=verdict.forwarded_for),
                                    _("nginx here sees the client with 'real_ip_header X-Forwarded-For;' and "
                                      "'set_real_ip_from' naming the relay."), code="relay-forwarded-for"))
    return tuple(findings)


CANNOT_FORWARD = frozenset({PortStatus.CGNAT})


def needs_remedies(verdicts: Sequence[PortVerdict], layers: str) -> bool:
    """A port forward at home cannot make these ports reachable (CGNAT, double NAT, …)."""
    unreachable = [v for v in verdicts if v.reachable is False]
    return bool(unreachable) and (layers in ("cgnat", "double-nat")
                                  or any(v.status in CANNOT_FORWARD for v in unreachable))


def forwarding_remedies(ports: Sequence[PortSpec], *, name: str | None, server: str | None,
                        has_ipv6: bool | None) -> tuple[Finding, ...]:
    """The remedies in order when a forward cannot work, each with its check command."""
    host = name or "NAME.example.org"
    tcp = [p.port for p in ports if p.protocol is TransportProtocol.TCP]
    udp = [p.port for p in ports if p.protocol is TransportProtocol.UDP]
    flags = " ".join(([f"--tcp {','.join(map(str, tcp))}"] if tcp else [])
                     + ([f"--udp {','.join(map(str, udp))}"] if udp else []))
    server_flag = f" --server {server}" if server else ""
    check = f"natprobe check {flags} --host {host}{server_flag}"
    check_ipv6 = f"natprobe check {flags} --ipv6{server_flag}"
    check_plain = f"natprobe check {flags}{server_flag}"
    first_tcp = tcp[0] if tcp else 443
    findings = [
        Finding(Severity.INFO, _("1. IPv6, if your ISP and your visitors have it"),
                (_("This host has a global IPv6 address: open the ports in the router's IPv6 firewall and publish "
                   "an AAAA record. There is no NAT over IPv6.") if has_ipv6
                 else _("This host has no global IPv6 address now; ask whether your ISP offers IPv6.")),
                (_("Verify with: {command}", command=check_ipv6),),
                code="remedy-ipv6"),
        Finding(Severity.INFO, _("2. A reverse SSH tunnel to a VPS, with nginx in front"),
                (_("Point {name} at the VPS. On the VPS set 'GatewayPorts clientspecified' in sshd_config; from "
                  "this host run 'ssh -N -R 127.0.0.1:{port}:127.0.0.1:{port} user@VPS' (autossh or a systemd unit "
                  "keeps it up), and on the VPS let nginx proxy {name} to 127.0.0.1:{port} (HTTP with "
                  "X-Forwarded-For, or stream with 'proxy_protocol on;'). TCP only: ssh does not carry UDP.",
                  name=host, port=first_tcp) if tcp
                 else _("ssh carries TCP only: it cannot carry UDP {ports} (see the WireGuard relay below).",
                        ports=", ".join(map(str, udp)))),
                (_("Verify with: {command}", command=check),),
                code="remedy-ssh-tunnel"),
        Finding(Severity.INFO, _("3. A WireGuard relay on a VPS: DNAT, no MASQUERADE, policy routing at home"),
                _("On the VPS, DNAT the public ports into the tunnel to this host (carries TCP and UDP, e.g. "
                  "Jamulus), without MASQUERADE so the services see the real clients. At home, send the replies "
                  "back through the tunnel: 'ip rule add from TUNNEL_ADDRESS table 51820', 'ip route add default "
                  "dev wg0 table 51820', and bind UDP services to the tunnel address."),
                (_("Verify with: {command}", command=check),),
                code="remedy-wireguard-relay"),
        Finding(Severity.INFO, _("4. Ask your ISP for a public IPv4 address"),
                _("Often sold as a static IP or a 'disable CGNAT' option; then a port forward on the router works."),
                (_("Verify with: {command}", command=check_plain),),
                code="remedy-ask-isp"),
    ]
    return tuple(findings)
