"""``--share``: the Markdown summary lives in :mod:`natprobe.findings.share`, where the echo
server's web page reaches it too ("copy for a forum post"); re-exported for the commands."""

from natprobe.findings.share import Scrubber, mask_address, share_check, share_jamulus, share_nat

__all__ = ("Scrubber", "mask_address", "share_check", "share_jamulus", "share_nat")
