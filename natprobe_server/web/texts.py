"""Every sentence of the web page, marked for the gettext catalog (``natprobe.po``).

The page is rendered on the server in the visitor's language: ``PAGE`` fills the HTML
template's ``{{key}}`` slots, ``SCRIPT`` travels to the script as JSON data. Keys are stable;
the English text is the message id, as everywhere in natprobe (:mod:`natprobe.i18n`).
"""

from __future__ import annotations

from typing import Final

from natprobe.i18n import N_

__all__ = ("PAGE", "SCRIPT")

PAGE: Final = {
    "title": N_("Can the Internet reach my server?"),
    "intro": N_("Open this page on the network you want to test. This server connects back to the address you "
                "come from, and to nothing else, on the ports you name, speaking each service's protocol."),
    "language": N_("Language"),
    "public_heading": N_("Your public address"),
    "checking": N_("checking..."),
    "form_heading": N_("Check ports"),
    "tcp_label": N_("TCP ports (e.g. 80,443 or 8443:https)"),
    "udp_label": N_("UDP ports (e.g. 22124)"),
    "host_label": N_("Name of your server (optional: HTTP Host, TLS name, DNS records)"),
    "jamulus_label": N_("Speak Jamulus on the UDP ports"),
    "check_button": N_("Check"),
    "jamulus_button": N_("Is my Jamulus server reachable?"),
    "exposure_heading": N_("What else is exposed?"),
    "exposure_intro": N_("Scan the usual ports of your public address (SSH, web, databases, remote desktop...) "
                         "and grade what answers, as 'natprobe exposure' does."),
    "exposure_button": N_("Scan my address"),
    "results_heading": N_("Results"),
    "mapping_heading": N_("NAT mapping (measured with WebRTC)"),
    "dns_heading": N_("DNS records"),
    "findings_heading": N_("What it means"),
    "path_heading": N_("The path"),
    "share_heading": N_("Copy for a forum post"),
    "share_intro": N_("The same summary as 'natprobe check --share': public addresses masked, names removed."),
    "copy_button": N_("Copy for a forum post"),
    "noscript": N_("This checker needs JavaScript: it runs the checks from your browser."),
    "footer": N_("natprobe echo server: the checks run from this server to your own address only."),
}

SCRIPT: Final = {
    "family_ipv4": N_("IPv4"),
    "family_ipv6": N_("IPv6"),
    "family_works": N_("{family} works: this server sees you as {address}"),
    "family_fails": N_("{family} does not work from here ({error})"),
    "family_unreachable": N_("{family} does not work from here: this network could not reach the server over {family}"),
    "pending": N_("checking..."),
    "status_reachable": N_("reachable"),
    "status_unreachable": N_("not reachable"),
    "status_untested": N_("not tested"),
    "proof": N_("Proof: {proof}"),
    "jamulus_answer": N_("A Jamulus server answered: version {version}, {os}, {clients} client(s), {rtt} ms"),
    "tls_cert": N_("Certificate for {name}, valid until {expiry} ({trust})"),
    "tls_trusted": N_("trusted"),
    "tls_untrusted": N_("not trusted: {error}"),
    "http_answer": N_("HTTP {status} {server}"),
    "ssh_answer": N_("SSH banner: {banner}"),
    "error": N_("The server refused: {error}"),
    "bad_ports": N_("Not a port list: {text}"),
    "no_ports": N_("Name at least one port."),
    "too_many_ports": N_("At most {count} ports at once."),
    "copied": N_("Copied."),
    "copy_failed": N_("Select the text and copy it."),
    "exposure_running": N_("Scanning (up to 15 s)..."),
    "exposure_none": N_("Nothing answered on the scanned ports."),
    "exposure_row": N_("{protocol} {port}: {state} {service}"),
    "webrtc_running": N_("gathering WebRTC candidates..."),
}
