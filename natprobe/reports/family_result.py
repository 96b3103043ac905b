"""Per address family: tested or not, from and at which address, and why not (one record for
every report that runs once per family: ``natprobe check`` and ``natprobe exposure``)."""

from __future__ import annotations

from dataclasses import dataclass

from natprobe.addressing import IPAddress, IpFamily

__all__ = ("FamilyResult",)


@dataclass(frozen=True, slots=True)
class FamilyResult:
    """Whether a family was tested, from which address, and why not when it was not."""

    family: IpFamily
    tested: bool
    local_ip: IPAddress | None
    """The address the request was sent from (over IPv6: the stable global address)."""
    public_ip: IPAddress | None
    """The address the echo server saw over this family."""
    temporary_address: bool
    """``local_ip`` is a temporary privacy address (there was no stable one)."""
    note: str
