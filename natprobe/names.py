"""The parts of a name check (:func:`natprobe.check_name`): does the name point here?

Per address family one resolver's answer (:class:`FamilyLookup` with a :class:`LookupStatus`)
from the local and the outside view, and the verdict (:class:`FamilyDnsVerdict`, a
:class:`DnsVerdict`).
"""

from __future__ import annotations

from natprobe.observations import FamilyLookup, LookupStatus
from natprobe.verdicts.dns_verdicts import DnsVerdict, FamilyDnsVerdict

__all__ = ("DnsVerdict", "FamilyDnsVerdict", "FamilyLookup", "LookupStatus")
