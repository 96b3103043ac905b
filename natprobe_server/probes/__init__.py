"""Probe-back to the requester (one per kind of probe) and the exposure scan."""
