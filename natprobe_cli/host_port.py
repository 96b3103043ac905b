"""A ``HOST[:PORT]`` the user typed that natprobe cannot split, in the user's language.

:func:`natprobe.addressing.split_host_port` is the one parser (every command and setting);
it says what is wrong as a :class:`~natprobe.addressing.HostPortProblem`; this says it."""

from __future__ import annotations

from natprobe.addressing import HostPortError, HostPortProblem
from natprobe.i18n import _

__all__ = ("host_port_message",)


def host_port_message(exc: HostPortError) -> str:
    text, host, port_text = exc.text, exc.host, exc.port_text
    match exc.problem:
        case HostPortProblem.EMPTY:
            return _("empty server address")
        case HostPortProblem.UNBALANCED_BRACKET:
            return _("unbalanced '[' in {text!r}", text=text)
        case HostPortProblem.TEXT_AFTER_BRACKET:
            return _("unexpected text after ']' in {text!r}", text=text)
        case HostPortProblem.NOT_IPV6_IN_BRACKETS:
            return _("{text!r}: {host!r} between brackets is not an IPv6 address", host=host, text=text)
        case HostPortProblem.NOT_HOST_PORT:
            return _("{text!r} is neither HOST:PORT nor an IPv6 address (write [IPv6]:PORT to give a port)", text=text)
        case HostPortProblem.NO_HOST:
            return _("{text!r}: the host is missing", text=text)
        case HostPortProblem.BAD_HOST:
            return _("{text!r}: {host!r} is not a host name or address", host=host, text=text)
        case HostPortProblem.BAD_PORT:
            return _("invalid port {port_text!r} in {text!r}: not a number from 1 to 65535",
                     port_text=port_text, text=text)
    return str(exc)
