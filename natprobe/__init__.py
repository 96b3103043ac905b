"""natprobe: can the Internet reach my service? NAT and reachability diagnostics."""

from __future__ import annotations

import logging

from natprobe.errors import (
    DecodeError,
    ErrorResponse,
    IntegrityError,
    LabError,
    NatprobeError,
    NetworkError,
    ServerError,
    TransactionError,
    TransactionTimeout,
)

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = (
    "__version__",
    "DecodeError",
    "ErrorResponse",
    "IntegrityError",
    "LabError",
    "NatprobeError",
    "NetworkError",
    "ServerError",
    "TransactionError",
    "TransactionTimeout",
)
