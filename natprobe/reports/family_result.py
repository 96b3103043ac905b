"""Per address family: tested or not, from and at which address, and why not (one record for
every report that runs once per family: ``natprobe check`` and ``natprobe exposure``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from natprobe.addressing import IPAddress, IpFamily
from natprobe.reports.json_schema import STRING_OR_NULL, JsonSchema, enum_of

__all__ = ("FAMILY_RESULT_PROPERTIES", "FamilyResult")


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

    def to_dict(self) -> dict[str, Any]:
        """The keys every report's ``families`` entry has (a report adds its own after them)."""
        return {
            "family": self.family.value,
            "tested": self.tested,
            "local_ip": None if self.local_ip is None else str(self.local_ip),
            "public_ip": None if self.public_ip is None else str(self.public_ip),
            "temporary_address": self.temporary_address,
            "note": self.note,
        }


FAMILY_RESULT_PROPERTIES: dict[str, JsonSchema] = {
    "family": enum_of(IpFamily),
    "tested": {"type": "boolean"},
    "local_ip": STRING_OR_NULL,
    "public_ip": STRING_OR_NULL,
    "temporary_address": {"type": "boolean"},
    "note": {"type": "string"},
}
"""The schema of :meth:`FamilyResult.to_dict`'s keys (a report adds its own after them)."""
